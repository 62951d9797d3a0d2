// Bodies sealed to accounts: what an app writes into a network for a few accounts only
// (a private message). A random content key seals the plaintext (ChaCha20-Poly1305, RFC
// 8439), and that key goes in a box to each key of each account — the account key and
// every device key it delegated — made with core/seal.ts's sealTo (ephemeral X25519 from
// the Ed25519 key, HKDF). Every member stores and relays the body; only those keys open it.
//
// What a relay learns: the writer (the entry's author and device are signed in clear),
// the network, the time, and the sealed size. It does not learn the recipients: the boxes
// carry no key ids (a reader tries each box with its own keys), their order is shuffled,
// their count is padded up to a multiple of BOX_PAD with boxes to throwaway keys, and the
// plaintext is padded up to a multiple of PAD_BYTES.
//
// The associated data binds the sealed body to the entry carrying it (network, author,
// type), so a member cannot copy someone's sealed body into an entry of its own. A key
// commitment (a hash of the content key) makes the body open to one plaintext only:
// ChaCha20-Poly1305 alone is not key-committing, so a writer could otherwise hand two
// recipients keys that open one ciphertext to two different texts.
//
// Wire form (canonical CBOR): {v: 1, boxes: [box (92 bytes), …], commit (16), ct}
//   box = sealTo(key, contentKey); ct = nonce (12) ‖ ciphertext ‖ tag (16)
//   plaintext before sealing = length (u32 big-endian) ‖ plain ‖ zeros to PAD_BYTES

import { createCipheriv, createDecipheriv, createHash, randomBytes, randomInt } from 'node:crypto'
import type { CanonicalValue } from '../core/encoding.ts'
import { bytesEqual, encodeCanonical } from '../core/encoding.ts'
import type { Identity } from '../core/identity.ts'
import { generateIdentity } from '../core/identity.ts'
import { openSealed, sealTo } from '../core/seal.ts'
import { InvalidRecordError } from './errors.ts'
import { toHex } from './hashing.ts'

export const ACCOUNT_SEAL_VERSION = 1
/** Most boxes a sealed body carries: recipient and writer devices together. */
export const MAX_SEAL_BOXES = 64
/** Box counts are padded up to a multiple of this. */
export const BOX_PAD = 4
/** Plaintexts are padded up to a multiple of this many bytes. */
export const PAD_BYTES = 256
/** sealTo of a 32-byte key: ephemeral key (32) ‖ nonce (12) ‖ key (32) ‖ tag (16). */
const BOX_BYTES = 92
const KEY = 32
const NONCE = 12
const TAG = 16
const COMMIT = 16
const AAD_DOMAIN = 'peernet/account-seal/v1\0'
const COMMIT_DOMAIN = 'peernet/account-seal/commit/v1\0'

export interface SealedForAccounts {
  v: 1
  boxes: Uint8Array[]
  commit: Uint8Array
  ct: Uint8Array
}

/** Where a sealed body lives: it opens only in an entry of this network, author and type. */
export interface SealPlace {
  net: Uint8Array
  author: Uint8Array
  type: string
}

function aadOf (place: SealPlace): Buffer {
  return Buffer.from(encodeCanonical([AAD_DOMAIN, place.net, place.author, place.type]))
}

function commitOf (key: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(COMMIT_DOMAIN).update(key).digest().subarray(0, COMMIT))
}

/**
 * Seals `plain` for the holders of `keys` (Ed25519 public keys: accounts and devices),
 * to be carried in an entry at `place`. Duplicate keys get one box.
 */
export function sealForKeys (keys: Uint8Array[], plain: Uint8Array, place: SealPlace): SealedForAccounts {
  const unique = [...new Map(keys.map((k) => [toHex(k), k])).values()]
  if (unique.length === 0) throw new InvalidRecordError('nobody to seal for')
  if (unique.length > MAX_SEAL_BOXES) throw new InvalidRecordError(`a sealed body reaches at most ${MAX_SEAL_BOXES} keys; these accounts have ${unique.length}`)
  const contentKey = new Uint8Array(randomBytes(KEY))
  const boxes = unique.map((k) => sealTo(k, contentKey))
  // Boxes to throwaway keys, indistinguishable from real ones, hide how many keys it reaches.
  const padded = Math.min(MAX_SEAL_BOXES, Math.ceil(boxes.length / BOX_PAD) * BOX_PAD)
  while (boxes.length < padded) boxes.push(sealTo(generateIdentity().publicKey, new Uint8Array(randomBytes(KEY))))
  shuffle(boxes)
  const framed = new Uint8Array(Math.ceil((4 + plain.byteLength) / PAD_BYTES) * PAD_BYTES)
  new DataView(framed.buffer).setUint32(0, plain.byteLength)
  framed.set(plain, 4)
  const nonce = randomBytes(NONCE)
  const c = createCipheriv('chacha20-poly1305', contentKey, nonce, { authTagLength: TAG })
  c.setAAD(aadOf(place), { plaintextLength: framed.byteLength })
  const ct = new Uint8Array(Buffer.concat([nonce, c.update(framed), c.final(), c.getAuthTag()]))
  return { v: 1, boxes, commit: commitOf(contentKey), ct }
}

export function sealedValue (s: SealedForAccounts): CanonicalValue {
  return { v: s.v, boxes: s.boxes, commit: s.commit, ct: s.ct }
}

/** A sealed body's shape checked (as it comes from a peer); throws InvalidRecordError with what is wrong. */
export function sealedForAccountsFrom (value: unknown): SealedForAccounts {
  const v = value as Record<string, unknown> | null
  const bad = (why: string): never => { throw new InvalidRecordError(`malformed sealed body: ${why}`) }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return bad('not a map')
  if (v.v !== ACCOUNT_SEAL_VERSION) return bad(`unsupported version ${String(v.v)}`)
  const extra = Object.keys(v).filter((k) => !['v', 'boxes', 'commit', 'ct'].includes(k))
  if (extra.length > 0) return bad(`unknown field ${extra[0] ?? ''}`)
  if (!Array.isArray(v.boxes) || v.boxes.length === 0 || v.boxes.length > MAX_SEAL_BOXES) return bad(`boxes must be a list of 1–${MAX_SEAL_BOXES}`)
  if (!v.boxes.every((b) => b instanceof Uint8Array && b.byteLength === BOX_BYTES)) return bad(`each box is ${BOX_BYTES} bytes`)
  if (!(v.commit instanceof Uint8Array) || v.commit.byteLength !== COMMIT) return bad(`commit is ${COMMIT} bytes`)
  if (!(v.ct instanceof Uint8Array) || v.ct.byteLength < NONCE + PAD_BYTES + TAG || (v.ct.byteLength - NONCE - TAG) % PAD_BYTES !== 0) return bad(`ct is a nonce, a multiple of ${PAD_BYTES} bytes and a tag`)
  return { v: 1, boxes: v.boxes as Uint8Array[], commit: v.commit, ct: v.ct }
}

/**
 * Opens a sealed body with any of `openers` (this node's account and device keys):
 * the plaintext, or undefined when no box is for them — or when one is but the rest does
 * not open (a damaged or forged body reads as not this node's).
 */
export function openForKeys (openers: Identity[], sealed: SealedForAccounts, place: SealPlace): Uint8Array | undefined {
  for (const box of sealed.boxes) {
    for (const me of openers) {
      let key: Uint8Array
      try { key = openSealed(me, box) } catch { continue }
      if (key.byteLength !== KEY || !bytesEqual(commitOf(key), sealed.commit)) continue
      return decryptContent(key, sealed.ct, place)
    }
  }
  return undefined
}

function decryptContent (key: Uint8Array, ct: Uint8Array, place: SealPlace): Uint8Array | undefined {
  const d = createDecipheriv('chacha20-poly1305', key, ct.subarray(0, NONCE), { authTagLength: TAG })
  const body = ct.subarray(NONCE, ct.byteLength - TAG)
  d.setAAD(aadOf(place), { plaintextLength: body.byteLength })
  d.setAuthTag(ct.subarray(ct.byteLength - TAG))
  let framed: Uint8Array
  try {
    framed = new Uint8Array(Buffer.concat([d.update(body), d.final()]))
  } catch {
    return undefined
  }
  const length = new DataView(framed.buffer, framed.byteOffset).getUint32(0)
  if (4 + length > framed.byteLength) return undefined
  return framed.slice(4, 4 + length)
}

/** Fisher–Yates with a cryptographic source: the order of boxes says nothing of whose they are. */
function shuffle<T> (items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1)
    const t = items[i] as T
    items[i] = items[j] as T
    items[j] = t
  }
}
