// Content hashes and the printable ids made from them. Everything Peernet addresses by
// content (network ids, entry hashes, body hashes, invite ids) is SHA-256 over bytes.

import { createHash } from 'node:crypto'
import { base32 } from 'multiformats/bases/base32'
import { encodeCanonical } from '../core/encoding.ts'
import type { CanonicalValue } from '../core/encoding.ts'

export function sha256 (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

export function hashCanonical (value: CanonicalValue): Uint8Array {
  return sha256(encodeCanonical(value))
}

/** `prefix` + lowercase RFC 4648 base32 without padding: copy-pasteable, case-insensitive. */
export function printableId (prefix: string, hash: Uint8Array): string {
  return prefix + base32.baseEncode(hash)
}

export function parsePrintableId (prefix: string, text: string): Uint8Array | undefined {
  const t = text.trim().toLowerCase()
  if (!t.startsWith(prefix)) return undefined
  try {
    const bytes = base32.baseDecode(t.slice(prefix.length))
    return bytes.byteLength === 32 ? bytes : undefined
  } catch {
    return undefined
  }
}

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}
