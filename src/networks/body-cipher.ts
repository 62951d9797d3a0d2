// Bodies of a private network are sealed with a network key (ChaCha20-Poly1305, a random
// 96-bit nonce). The entry's bodyHash covers the sealed bytes, so a node that relays or
// stores the entries can verify the chain without being able to read a word.
//
// A network has a ring of keys: a new one each time an admin rekeys (after removing a
// member or revoking a device), so whoever was cut off cannot read what comes after.
// Each sealed body names the key that sealed it by id — the first 8 bytes of
// SHA-256("peernet/network-key/1" ‖ key) — and binds that id and the network id as
// associated data:
//
//   keyId (8) ‖ nonce (12) ‖ ciphertext ‖ tag (16)      AAD = net ‖ keyId
//
// (The earlier form, nonce ‖ ciphertext ‖ tag with AAD = net, had no deployed users: it
// has no reader.)

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import type { CanonicalValue } from '../core/encoding.ts'
import { InvalidRecordError } from './errors.ts'

/** A key of a private network's ring, and where it came from: ts 0 for the first, else the peernet/rekey entry that carried it (its ts, author and seq order the ring). */
export interface RingKey {
  key: Uint8Array
  ts: number
  author: Uint8Array
  seq: number
}

export const KEY_ID = 8
const NONCE = 12
const TAG = 16
const KEY_ID_DOMAIN = Buffer.from('peernet/network-key/1')

/** The reason an entry sealed with a key not held here is refused; sync treats it as a dependency (the rekey carrying the key may not have arrived yet). */
export const UNKNOWN_KEY_REASON = 'the body is sealed with a network key this node does not hold'

/** A network key's id: the first 8 bytes of SHA-256("peernet/network-key/1" ‖ key). */
export function keyIdOf (key: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(KEY_ID_DOMAIN).update(key).digest().subarray(0, KEY_ID))
}

/** The id of the key a sealed body names. */
export function sealedKeyId (sealed: Uint8Array): Uint8Array {
  if (sealed.byteLength < KEY_ID + NONCE + TAG) throw new InvalidRecordError('sealed body too short')
  return sealed.subarray(0, KEY_ID)
}

export function sealBody (key: Uint8Array, net: Uint8Array, plain: Uint8Array): Uint8Array {
  const id = keyIdOf(key)
  const nonce = randomBytes(NONCE)
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG })
  c.setAAD(Buffer.concat([net, id]), { plaintextLength: plain.byteLength })
  const body = Buffer.concat([id, nonce, c.update(plain), c.final(), c.getAuthTag()])
  return new Uint8Array(body)
}

/** Opens a sealed body with the key it names, looked up by id; refuses one whose key is not held (UNKNOWN_KEY_REASON). */
export function openBody (keyById: (id: Uint8Array) => Uint8Array | undefined, net: Uint8Array, sealed: Uint8Array): Uint8Array {
  const id = sealedKeyId(sealed)
  const key = keyById(id)
  if (key === undefined) throw new InvalidRecordError(`${UNKNOWN_KEY_REASON} (key ${Buffer.from(id).toString('hex')})`)
  const nonce = sealed.subarray(KEY_ID, KEY_ID + NONCE)
  const tag = sealed.subarray(sealed.byteLength - TAG)
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG })
  d.setAAD(Buffer.concat([net, id]), { plaintextLength: sealed.byteLength - KEY_ID - NONCE - TAG })
  d.setAuthTag(tag)
  try {
    return new Uint8Array(Buffer.concat([d.update(sealed.subarray(KEY_ID + NONCE, sealed.byteLength - TAG)), d.final()]))
  } catch {
    throw new InvalidRecordError('sealed body does not open with the network key it names: it is damaged')
  }
}

/** A key ring as carried in invites and device links. */
export function ringValue (keys: RingKey[]): CanonicalValue {
  return keys.map((k) => ({ key: k.key, ts: k.ts, author: k.author, seq: k.seq }))
}

/** A key ring from an invite or a device link; null if it is not a well-formed, non-empty one. */
export function ringFrom (value: unknown): RingKey[] | null {
  if (!Array.isArray(value) || value.length === 0) return null
  const keys: RingKey[] = []
  for (const v of value as unknown[]) {
    const k = v as Record<string, unknown> | null
    if (typeof k !== 'object' || k === null || !(k.key instanceof Uint8Array) || k.key.byteLength !== 32 || !Number.isSafeInteger(k.ts) || (k.ts as number) < 0 ||
      !(k.author instanceof Uint8Array) || k.author.byteLength !== 32 || !Number.isSafeInteger(k.seq) || (k.seq as number) < 0) return null
    keys.push({ key: k.key, ts: k.ts as number, author: k.author, seq: k.seq as number })
  }
  return keys
}
