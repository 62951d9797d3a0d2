// Every node's Kademlia routing table (Kademlia §2.2): bucket b holds up to k contacts whose
// ids share exactly b leading bits with the node's own id. libp2p's kad-dht keeps the same
// k = 20 buckets. The simulator fills each bucket with a uniform random sample of the
// nodes that belong in it, i.e. it models a table that bootstrap and periodic refresh
// have already filled (no churn); how quickly a real table gets there is out of scope.
// Stored for all nodes at once as one compressed row array: node i's contacts are
// contacts[offsets[i] .. offsets[i + 1]).

import { distanceKey, compareDistance } from './key-space.ts'
import type { SortedIds } from './sorted-ids.ts'
import type { Random } from '../random.ts'

export class RoutingTables {
  readonly offsets: Uint32Array
  readonly contacts: Int32Array

  private readonly ids: Uint32Array

  constructor (offsets: Uint32Array, contacts: Int32Array, ids: Uint32Array) {
    this.ids = ids
    this.offsets = offsets
    this.contacts = contacts
  }

  /** Fills every node's buckets with up to `k` random members of each bucket's id range. */
  static build (sorted: SortedIds, k: number, random: Random): RoutingTables {
    const n = sorted.size
    const ids = sorted.ids
    const offsets = new Uint32Array(n + 1)
    let contacts = new Int32Array(n * k * 16)
    let used = 0
    const pick: number[] = []
    for (let node = 0; node < n; node++) {
      offsets[node] = used
      const self = ids.subarray(node * 8, node * 8 + 8)
      let from = 0
      let to = n
      for (let bits = 0; to - from > 1 && bits < 256; bits++) {
        // [from, to) shares `bits` leading bits with node; the half that also shares bit
        // `bits` continues, the other half is bucket `bits`.
        const [lo, hi] = sorted.prefixRange(self, bits + 1, from, to)
        const bucketFrom = lo === from ? hi : from
        const bucketTo = lo === from ? to : lo
        const size = bucketTo - bucketFrom
        pick.length = 0
        if (size <= k) {
          for (let i = bucketFrom; i < bucketTo; i++) pick.push(sorted.order[i] ?? 0)
        } else {
          // Floyd's sampling: k distinct positions out of `size`, uniformly.
          const chosen = new Set<number>()
          for (let j = size - k; j < size; j++) {
            const t = random.int(j + 1)
            chosen.add(chosen.has(t) ? j : t)
          }
          for (const c of chosen) pick.push(sorted.order[bucketFrom + c] ?? 0)
        }
        if (used + pick.length > contacts.length) {
          const grown = new Int32Array(contacts.length * 2)
          grown.set(contacts)
          contacts = grown
        }
        for (const p of pick) contacts[used++] = p
        from = lo
        to = hi
      }
    }
    offsets[n] = used
    return new RoutingTables(offsets, contacts.slice(0, used), ids)
  }

  /** Node's contacts (all buckets). */
  contactsOf (node: number): Int32Array {
    return this.contacts.subarray(this.offsets[node] ?? 0, this.offsets[node + 1] ?? 0)
  }

  /** The `count` contacts of `node` closest to target, nearest first (what a FIND_NODE answer holds). */
  closestContacts (node: number, target: Uint32Array, count: number): Int32Array {
    const from = this.offsets[node] ?? 0
    const to = this.offsets[node + 1] ?? 0
    const ids = this.ids
    // Insertion into a short sorted list: tables hold a few hundred contacts, answers 20.
    const best: number[] = []
    const bestKey: number[] = []
    for (let i = from; i < to; i++) {
      const c = this.contacts[i] ?? 0
      const key = distanceKey(ids, c, target)
      const len = best.length
      if (len === count) {
        const worst = bestKey[len - 1] ?? Infinity
        if (key > worst || (key === worst && compareDistance(ids, c, best[len - 1] ?? 0, target) > 0)) continue
      }
      let j = len < count ? len : len - 1
      while (j > 0) {
        const prevKey = bestKey[j - 1] ?? 0
        if (prevKey < key || (prevKey === key && compareDistance(ids, best[j - 1] ?? 0, c, target) < 0)) break
        best[j] = best[j - 1] ?? 0
        bestKey[j] = prevKey
        j--
      }
      best[j] = c
      bestKey[j] = key
    }
    return Int32Array.from(best)
  }

  /** Mean contacts per node. */
  meanSize (): number {
    return this.contacts.length / Math.max(1, this.offsets.length - 1)
  }
}
