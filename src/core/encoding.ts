// Canonical encoding for everything Peernet signs or hashes: deterministic CBOR
// (RFC 8949 §4.2.1 "Core Deterministic Encoding Requirements"): shortest-form integers
// and lengths, definite lengths only, map keys sorted by their encoded bytes, no
// duplicate keys. Decoding is strict and rejects any input that would not re-encode to
// the very same bytes, so one value has exactly one encoding and a signature over the
// encoding is a signature over the value.

import { encode, decode, rfc8949EncodeOptions } from 'cborg'
import { EncodingError } from './errors.ts'

/** Values the canonical encoding carries. No floats beyond what CBOR gives, no undefined. */
export type CanonicalValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | CanonicalValue[]
  | { [key: string]: CanonicalValue }

const decodeOptions = {
  strict: true,
  rejectDuplicateMapKeys: true,
  allowUndefined: false,
  allowIndefinite: false,
  allowNaN: false,
  allowInfinity: false,
  allowBigInt: true,
  useMaps: false
} as const

export function encodeCanonical (value: CanonicalValue): Uint8Array {
  checkEncodable(value, '$')
  try {
    return encode(value, rfc8949EncodeOptions)
  } catch (err) {
    throw new EncodingError(`cannot encode value canonically: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Refuses what CBOR could encode but a strict decoder would refuse or read back as
 * something else: undefined, NaN and infinities, strings with lone surrogates (which
 * UTF-8 encoding silently replaces, so two strings would share one signature), and
 * objects other than plain objects, arrays and Uint8Array (Maps, other typed arrays).
 */
function checkEncodable (value: unknown, at: string): void {
  switch (typeof value) {
    case 'boolean':
    case 'bigint':
      return
    case 'number':
      if (!Number.isFinite(value)) throw new EncodingError(`${at}: ${value} cannot be encoded; only finite numbers can`)
      return
    case 'string':
      if (!value.isWellFormed()) throw new EncodingError(`${at}: string holds a lone surrogate, which is not valid Unicode`)
      return
    case 'object': {
      if (value === null || value instanceof Uint8Array && value.constructor === Uint8Array) return
      if (Array.isArray(value)) {
        value.forEach((v, i) => { checkEncodable(v, `${at}[${i}]`) })
        return
      }
      const proto: unknown = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        throw new EncodingError(`${at}: ${value.constructor?.name ?? 'object'} cannot be encoded; use plain objects, arrays and Uint8Array`)
      }
      for (const [k, v] of Object.entries(value)) {
        if (!k.isWellFormed()) throw new EncodingError(`${at}: map key holds a lone surrogate`)
        checkEncodable(v, `${at}.${k}`)
      }
      return
    }
    default:
      throw new EncodingError(`${at}: ${typeof value} cannot be encoded`)
  }
}

export function decodeCanonical (bytes: Uint8Array): CanonicalValue {
  let value: CanonicalValue
  try {
    value = decode(bytes, decodeOptions) as CanonicalValue
  } catch (err) {
    throw new EncodingError(`not valid CBOR: ${(err as Error).message}`, { cause: err })
  }
  const again = encodeCanonical(value)
  if (!bytesEqual(again, bytes)) {
    throw new EncodingError('CBOR is valid but not in canonical (deterministic) form')
  }
  return value
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
