// Kademlia's key space: 256-bit identifiers under the XOR metric (Maymounkov and Mazières,
// "Kademlia", 2002, §2.1). libp2p's kad-dht uses sha256 of the peer id or of the record
// key as the 256-bit point; the simulator draws node ids at random, which has the same
// distribution. Ids are kept as eight 32-bit words per entry in one Uint32Array, most
// significant word first, so a million keys cost 32 MB and no objects.

import type { Random } from '../random.ts'

export const KEY_WORDS = 8

/** A table of 256-bit ids: entry i occupies words [8i, 8i + 8). */
export class KeyTable {
  readonly words: Uint32Array

  readonly size: number

  constructor (size: number, words?: Uint32Array) {
    this.size = size
    this.words = words ?? new Uint32Array(size * KEY_WORDS)
    if (this.words.length !== size * KEY_WORDS) throw new RangeError(`a KeyTable of ${size} ids needs ${size * KEY_WORDS} words`)
  }

  static random (size: number, random: Random): KeyTable {
    const table = new KeyTable(size)
    random.fill(table.words)
    return table
  }

  /** Copies 32 bytes (big-endian) into entry i. */
  setBytes (i: number, bytes: Uint8Array): void {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    for (let w = 0; w < KEY_WORDS; w++) this.words[i * KEY_WORDS + w] = view.getUint32(w * 4)
  }

  /** Entry i as a standalone 8-word key (a copy). */
  key (i: number): Uint32Array {
    return this.words.slice(i * KEY_WORDS, (i + 1) * KEY_WORDS)
  }
}

/** Entry i of a word table as 32 big-endian bytes: the byte form the real node's ids take. */
export function idBytes (words: Uint32Array, i: number): Uint8Array {
  const bytes = new Uint8Array(KEY_WORDS * 4)
  const view = new DataView(bytes.buffer)
  for (let w = 0; w < KEY_WORDS; w++) view.setUint32(w * 4, words[i * KEY_WORDS + w] ?? 0)
  return bytes
}

/**
 * The XOR distance from entry `i` of `ids` to `target`, truncated to its top 53 bits so
 * it fits a double exactly. Two ids that agree on those bits are told apart by
 * compareDistance; with 10^5 nodes such a tie has probability around 10^-6 per pair.
 */
export function distanceKey (ids: Uint32Array, i: number, target: Uint32Array): number {
  const o = i * KEY_WORDS
  const hi = ((ids[o] ?? 0) ^ (target[0] ?? 0)) >>> 0
  const lo = ((ids[o + 1] ?? 0) ^ (target[1] ?? 0)) >>> 11
  return hi * 2097152 + lo
}

/** Full 256-bit comparison of the distances of entries a and b to target: < 0 when a is closer. */
export function compareDistance (ids: Uint32Array, a: number, b: number, target: Uint32Array): number {
  const oa = a * KEY_WORDS
  const ob = b * KEY_WORDS
  for (let w = 0; w < KEY_WORDS; w++) {
    const t = target[w] ?? 0
    const da = ((ids[oa + w] ?? 0) ^ t) >>> 0
    const db = ((ids[ob + w] ?? 0) ^ t) >>> 0
    if (da !== db) return da < db ? -1 : 1
  }
  return a - b
}

/** Length of the common prefix of entry i and target, in bits (256 when equal). */
export function commonPrefixLength (ids: Uint32Array, i: number, target: Uint32Array, targetOffset = 0): number {
  const o = i * KEY_WORDS
  for (let w = 0; w < KEY_WORDS; w++) {
    const x = ((ids[o + w] ?? 0) ^ (target[targetOffset + w] ?? 0)) >>> 0
    if (x !== 0) return w * 32 + Math.clz32(x)
  }
  return 256
}

/**
 * Orders entry i against target on their first `bits` bits only: < 0, 0 or > 0. The ids
 * sharing a prefix with a target form one contiguous run of a sorted table, which is what
 * makes exact k-closest queries and bucket ranges cheap.
 */
export function comparePrefix (ids: Uint32Array, i: number, target: Uint32Array, bits: number, targetOffset = 0): number {
  const o = i * KEY_WORDS
  for (let w = 0; w * 32 < bits; w++) {
    const take = Math.min(32, bits - w * 32)
    const mask = take === 32 ? 0xffffffff : (0xffffffff << (32 - take)) >>> 0
    const a = ((ids[o + w] ?? 0) & mask) >>> 0
    const b = ((target[targetOffset + w] ?? 0) & mask) >>> 0
    if (a !== b) return a < b ? -1 : 1
  }
  return 0
}

let scratch = new Float64Array(64)

/** Sorts `nodes` in place by distance to target, nearest first (full 256-bit order). */
export function sortByDistance (ids: Uint32Array, nodes: Int32Array | number[], target: Uint32Array): void {
  const n = nodes.length
  if (scratch.length < n) scratch = new Float64Array(n * 2)
  const keys = scratch
  for (let i = 0; i < n; i++) keys[i] = distanceKey(ids, nodes[i] ?? 0, target)
  if (n > 64) {
    const index = Array.from({ length: n }, (_, i) => i)
    index.sort((a, b) => ((keys[a] ?? 0) - (keys[b] ?? 0)) || compareDistance(ids, nodes[a] ?? 0, nodes[b] ?? 0, target))
    const sorted = index.map((i) => nodes[i] ?? 0)
    for (let i = 0; i < n; i++) nodes[i] = sorted[i] ?? 0
    return
  }
  // Insertion sort: the groups sorted on the hot path are a few dozen long.
  for (let i = 1; i < n; i++) {
    const node = nodes[i] ?? 0
    const key = keys[i] ?? 0
    let j = i - 1
    while (j >= 0) {
      const kj = keys[j] ?? 0
      if (kj < key || (kj === key && compareDistance(ids, nodes[j] ?? 0, node, target) < 0)) break
      nodes[j + 1] = nodes[j] ?? 0
      keys[j + 1] = kj
      j--
    }
    nodes[j + 1] = node
    keys[j + 1] = key
  }
}
