// The whole network's ids in sorted order: the simulator's global view, used to build
// routing tables and to answer "which k nodes are truly closest to this key" exactly.
// Ids that share their first p bits with a target are one contiguous run of the sorted
// order, and every id in that run is closer (XOR) than every id outside it, so the k
// closest lie in the longest shared-prefix run that still holds k ids.

import { comparePrefix, compareDistance, KEY_WORDS, sortByDistance } from './key-space.ts'
import type { KeyTable } from './key-space.ts'

export class SortedIds {
  /** Node indices in ascending id order. */
  readonly order: Int32Array
  readonly ids: Uint32Array

  constructor (table: KeyTable) {
    this.ids = table.words
    const order = new Int32Array(table.size)
    for (let i = 0; i < order.length; i++) order[i] = i
    const ids = this.ids
    order.sort((a, b) => {
      for (let w = 0; w < KEY_WORDS; w++) {
        const x = ids[a * KEY_WORDS + w] ?? 0
        const y = ids[b * KEY_WORDS + w] ?? 0
        if (x !== y) return x < y ? -1 : 1
      }
      return a - b
    })
    this.order = order
  }

  get size (): number {
    return this.order.length
  }

  /** The run [lo, hi) of `order` whose ids share the first `bits` bits of target, searched within [from, to). */
  prefixRange (target: Uint32Array, bits: number, from = 0, to = this.order.length, targetOffset = 0): [number, number] {
    const ids = this.ids
    const order = this.order
    let lo = from
    let hi = to
    while (lo < hi) { // first position whose prefix is >= the target's
      const mid = (lo + hi) >>> 1
      if (comparePrefix(ids, order[mid] ?? 0, target, bits, targetOffset) < 0) lo = mid + 1
      else hi = mid
    }
    const start = lo
    hi = to
    while (lo < hi) { // first position whose prefix is > the target's
      const mid = (lo + hi) >>> 1
      if (comparePrefix(ids, order[mid] ?? 0, target, bits, targetOffset) <= 0) lo = mid + 1
      else hi = mid
    }
    return [start, lo]
  }

  /** The k ids closest to target (exact, nearest first). */
  closest (target: Uint32Array, k: number): Int32Array {
    let from = 0
    let to = this.order.length
    if (to > k) {
      // Narrow the run one bit at a time while it still holds at least k ids.
      for (let bits = 1; bits <= 256; bits++) {
        const [lo, hi] = this.prefixRange(target, bits, from, to)
        if (hi - lo < k) break
        from = lo
        to = hi
      }
    }
    const run = Array.from(this.order.subarray(from, to))
    sortByDistance(this.ids, run, target)
    return Int32Array.from(run.slice(0, k))
  }

  /** Brute force over every id: the reference the tests hold `closest` and lookups to. */
  closestByScan (target: Uint32Array, k: number): Int32Array {
    const all = Array.from(this.order)
    all.sort((a, b) => compareDistance(this.ids, a, b, target))
    return Int32Array.from(all.slice(0, k))
  }
}
