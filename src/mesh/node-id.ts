// Mesh node ids: the routing layer names a node by the first 8 bytes of SHA-256 of its
// Ed25519 public key, written as 16 hex characters. Eight bytes is Babel's router-id
// (RFC 8966 §4.1.3) and keeps route updates small on slow links; the full public key
// travels only in data envelopes, where the destination needs it to open the seal.
// A collision between two honest nodes needs about 2^32 of them; making a key that
// collides with a chosen node is a 2^64 search.

import { createHash, randomBytes } from 'node:crypto'

/** A mesh node id: 16 lowercase hex characters. */
export type NodeId = string

export const NODE_ID_BYTES = 8

export function nodeIdOf (publicKey: Uint8Array): NodeId {
  return createHash('sha256').update(publicKey).digest().subarray(0, NODE_ID_BYTES).toString('hex')
}

export function nodeIdToBytes (id: NodeId): Uint8Array {
  return Uint8Array.from(Buffer.from(id, 'hex'))
}

export function nodeIdFromBytes (bytes: Uint8Array): NodeId {
  return nodeIdAt(bytes, 0)
}

// Decoded ids are interned: every control packet names a dozen or so nodes, and a router
// keys its tables by them. One string per id, shared by every table that holds it (a
// simulated mesh runs 10^5 routers in one heap, each holding hundreds of ids), with its
// hash computed once, so a table lookup by a decoded id compares pointers; and decoding a
// known id allocates nothing. The table is open addressing in a typed array, each slot the
// id's two 4-byte halves and its place in `internedIds` (a Map keyed by the first half
// allocated a heap number for every half past 2^30, on every lookup, and chained objects
// behind it). Bounded: past MAX_INTERNED ids the table starts afresh (only a cache: an id
// decoded before and after compares equal as a string either way), so ids a peer makes up
// cannot grow it past about 4 MB; 2^17 holds every id of a 100,000-node simulation.
const MAX_INTERNED = 1 << 17
/** Words per slot: the id's high and low 4 bytes, its index in internedIds + 1 (0: empty). */
const SLOT = 3
/**
 * Mixed into the slot an id hashes to, drawn once per process, so that a peer cannot make
 * up ids that pile into the same slots (hash flooding). It decides only where an id sits.
 */
const SEED = randomBytes(4).readInt32LE(0)

const internedIds: NodeId[] = []
/** Slot count - 1 (a power of two, at least twice the ids held). */
let internMask = 15
let internSlots = new Int32Array((internMask + 1) * SLOT)

function internHome (hi: number, lo: number): number {
  let h = Math.imul(hi ^ SEED, 0x9e3779b1) ^ lo
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b)
  return (h ^ (h >>> 13)) & internMask
}

/** Puts index `k` for (hi, lo), known not to be there yet, into the first free slot on its probe. */
function internPut (hi: number, lo: number, k: number): void {
  const s = internSlots
  let i = internHome(hi, lo)
  while (s[i * SLOT + 2] !== 0) i = (i + 1) & internMask
  s[i * SLOT] = hi
  s[i * SLOT + 1] = lo
  s[i * SLOT + 2] = k + 1
}

/** The id in the NODE_ID_BYTES bytes of `bytes` from `offset` (interned; see above). */
export function nodeIdAt (bytes: Uint8Array, offset: number): NodeId {
  const o = offset
  if (o < 0 || o + NODE_ID_BYTES > bytes.length) throw new RangeError(`no node id at byte ${offset} of ${bytes.length}`)
  const hi = ((bytes[o] as number) << 24 | (bytes[o + 1] as number) << 16 | (bytes[o + 2] as number) << 8 | (bytes[o + 3] as number)) | 0
  const lo = ((bytes[o + 4] as number) << 24 | (bytes[o + 5] as number) << 16 | (bytes[o + 6] as number) << 8 | (bytes[o + 7] as number)) | 0
  const s = internSlots
  for (let i = internHome(hi, lo); s[i * SLOT + 2] !== 0; i = (i + 1) & internMask) {
    if (s[i * SLOT] === hi && s[i * SLOT + 1] === lo) return internedIds[(s[i * SLOT + 2] as number) - 1] as NodeId
  }
  if (internedIds.length >= MAX_INTERNED) {
    internedIds.length = 0
    internMask = 15
    internSlots = new Int32Array((internMask + 1) * SLOT)
  } else if (2 * (internedIds.length + 1) > internMask + 1) {
    const old = internSlots
    internMask = 2 * internMask + 1
    internSlots = new Int32Array((internMask + 1) * SLOT)
    for (let i = 0; i < old.length; i += SLOT) {
      if (old[i + 2] !== 0) internPut(old[i] as number, old[i + 1] as number, (old[i + 2] as number) - 1)
    }
  }
  const id = Buffer.from(bytes.buffer, bytes.byteOffset + o, NODE_ID_BYTES).toString('hex')
  internPut(hi, lo, internedIds.length)
  internedIds.push(id)
  return id
}

/**
 * Writes `id` as NODE_ID_BYTES bytes into `out` at `offset`; false (nothing written past
 * the first bad character) when it is not a node id. No allocation, unlike nodeIdToBytes.
 */
export function writeNodeId (id: NodeId, out: Uint8Array, offset: number): boolean {
  if (typeof id !== 'string' || id.length !== 2 * NODE_ID_BYTES) return false
  for (let k = 0; k < NODE_ID_BYTES; k++) {
    const h = hexValue(id.charCodeAt(2 * k))
    const l = hexValue(id.charCodeAt(2 * k + 1))
    if (h < 0 || l < 0) return false
    out[offset + k] = h << 4 | l
  }
  return true
}

/** 0–15 for a lowercase hex digit's char code, else -1. */
function hexValue (c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  return -1
}

/** The same test as /^[0-9a-f]{16}$/, without the regular expression (it runs per TLV received). */
export function isNodeId (value: unknown): value is NodeId {
  if (typeof value !== 'string' || value.length !== 2 * NODE_ID_BYTES) return false
  for (let k = 0; k < value.length; k++) if (hexValue(value.charCodeAt(k)) < 0) return false
  return true
}
