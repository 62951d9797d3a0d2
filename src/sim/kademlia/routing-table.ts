// Every node's Kademlia routing table (Kademlia §2.2): bucket b holds up to k contacts whose
// ids share exactly b leading bits with the node's own id. libp2p's kad-dht keeps the same
// k = 20 buckets. The simulator fills each bucket with a uniform random sample of the
// nodes that belong in it, i.e. it models a table that bootstrap and periodic refresh
// have already filled (no churn); how quickly a real table gets there is out of scope.
// Stored for all nodes at once as one compressed row array: node i's contacts are
// contacts[offsets[i] .. offsets[i + 1]).

import { commonPrefixLength, sortByDistance } from './key-space.ts'
import type { SortedIds } from './sorted-ids.ts'
import type { Random } from '../random.ts'

export class RoutingTables {
  readonly offsets: Uint32Array
  readonly contacts: Int32Array
  /** The bucket (shared prefix length with the owner) of each contact; contacts are stored in bucket order. */
  readonly buckets: Uint8Array
  private readonly ids: Uint32Array

  constructor (offsets: Uint32Array, contacts: Int32Array, buckets: Uint8Array, ids: Uint32Array) {
    this.ids = ids
    this.buckets = buckets
    this.offsets = offsets
    this.contacts = contacts
  }

  /** Fills every node's buckets with up to `k` random members of each bucket's id range. */
  static build (sorted: SortedIds, k: number, random: Random): RoutingTables {
    const n = sorted.size
    const ids = sorted.ids
    const offsets = new Uint32Array(n + 1)
    let contacts = new Int32Array(n * k * 16)
    let buckets = new Uint8Array(n * k * 16)
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
          const grownBuckets = new Uint8Array(buckets.length * 2)
          grownBuckets.set(buckets)
          buckets = grownBuckets
        }
        for (const p of pick) {
          buckets[used] = bits
          contacts[used++] = p
        }
        from = lo
        to = hi
      }
    }
    offsets[n] = used
    return new RoutingTables(offsets, contacts.slice(0, used), buckets.slice(0, used), ids)
  }

  /** Node's contacts (all buckets). */
  contactsOf (node: number): Int32Array {
    return this.contacts.subarray(this.offsets[node] ?? 0, this.offsets[node + 1] ?? 0)
  }

  /**
   * The `count` contacts of `node` closest to target, nearest first (what a FIND_NODE
   * answer holds). With b = cpl(node, target), Kademlia's bucket structure orders the
   * candidates without looking at most of them: bucket b's contacts share at least b + 1
   * bits with the target, those of the deeper buckets (> b) exactly b bits, and those of a
   * shallower bucket c < b exactly c bits; so we take bucket b, then the deeper buckets,
   * then buckets b - 1, b - 2, … and sort only within the group that crosses `count`.
   */
  closestContacts (node: number, target: Uint32Array, count: number): Int32Array {
    const from = this.offsets[node] ?? 0
    const to = this.offsets[node + 1] ?? 0
    const b = commonPrefixLength(this.ids, node, target)
    // Contacts are stored bucket by bucket in increasing bucket order.
    let aFrom = from
    while (aFrom < to && (this.buckets[aFrom] ?? 0) < b) aFrom++
    let aTo = aFrom
    while (aTo < to && (this.buckets[aTo] ?? 0) === b) aTo++
    const out: number[] = []
    this.takeSorted(aFrom, aTo, target, count, out)
    if (out.length < count) this.takeSorted(aTo, to, target, count, out)
    let hi = aFrom
    while (out.length < count && hi > from) {
      const bucket = this.buckets[hi - 1] ?? 0
      let lo = hi - 1
      while (lo > from && (this.buckets[lo - 1] ?? 0) === bucket) lo--
      this.takeSorted(lo, hi, target, count, out)
      hi = lo
    }
    return Int32Array.from(out)
  }

  private takeSorted (from: number, to: number, target: Uint32Array, count: number, out: number[]): void {
    if (from >= to) return
    const group = Array.from(this.contacts.subarray(from, to))
    sortByDistance(this.ids, group, target)
    for (let i = 0; i < group.length && out.length < count; i++) out.push(group[i] ?? 0)
  }

  /** Mean contacts per node. */
  meanSize (): number {
    return this.contacts.length / Math.max(1, this.offsets.length - 1)
  }
}
