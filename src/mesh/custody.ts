// Custody: envelopes a node holds because it has no route to their destination yet
// (store-and-forward, issue 4 "Data"). Bounded in total bytes and in time: each entry
// lives `ttlMs` from when it came into custody, and when a new entry does not fit the
// oldest entries are dropped first to make room. Every drop is reported to the caller,
// who decides what it means (a relay logs it; the originator reports the send failed).
// Pure: no clock, `now` is passed in and must not go backwards.

import { AgeQueue } from './age-queue.ts'

export type CustodyDropReason = 'custody full' | 'custody expired' | 'larger than custody'

export interface CustodyDrop<T> {
  key: string
  value: T
  reason: CustodyDropReason
}

interface Held<T> {
  value: T
  bytes: number
  since: number
  /** Tells this entry's age-queue slot from a stale one of the same key. */
  token: number
}

export class CustodyStore<T> {
  // Map order is arrival order (a replaced entry keeps its place), for views; the age
  // queue gives the oldest in O(1) for expiry and eviction (with one ttl for all, arrival
  // order is expiry order).
  readonly #held = new Map<string, Held<T>>()
  readonly #order = new AgeQueue()
  readonly #isLive = (key: string, token: number): boolean => this.#held.get(key)?.token === token
  #bytes = 0
  #tokens = 0
  readonly maxBytes: number
  readonly ttlMs: number

  constructor (maxBytes: number, ttlMs: number) {
    this.maxBytes = maxBytes
    this.ttlMs = ttlMs
  }

  /**
   * Takes `value` into custody under `key` (replacing an entry of the same key, which
   * keeps its place and age). Returns what had to go to make room, oldest first; when
   * `value` alone is larger than the store, that is `value` itself.
   */
  add (key: string, value: T, bytes: number, now: number): Array<CustodyDrop<T>> {
    const dropped = this.expire(now)
    if (bytes > this.maxBytes) {
      dropped.push({ key, value, reason: 'larger than custody' })
      return dropped
    }
    const old = this.#held.get(key)
    if (old !== undefined) {
      this.#bytes += bytes - old.bytes
      old.value = value
      old.bytes = bytes
    } else {
      const token = this.#tokens++
      this.#held.set(key, { value, bytes, since: now, token })
      this.#order.push(key, token)
      this.#bytes += bytes
    }
    while (this.#bytes > this.maxBytes) {
      const oldest = this.#oldest(key)
      if (oldest === undefined) break
      const h = this.#held.get(oldest) as Held<T>
      this.#remove(oldest, h)
      dropped.push({ key: oldest, value: h.value, reason: 'custody full' })
    }
    return dropped
  }

  get (key: string): T | undefined {
    return this.#held.get(key)?.value
  }

  has (key: string): boolean {
    return this.#held.has(key)
  }

  /** Removes and returns the entry under `key`. */
  take (key: string): T | undefined {
    const h = this.#held.get(key)
    if (h === undefined) return undefined
    this.#remove(key, h)
    return h.value
  }

  /** Drops every entry whose time is up. */
  expire (now: number): Array<CustodyDrop<T>> {
    const dropped: Array<CustodyDrop<T>> = []
    for (let key = this.#order.peek(this.#isLive); key !== undefined; key = this.#order.peek(this.#isLive)) {
      const h = this.#held.get(key) as Held<T>
      if (now < h.since + this.ttlMs) break
      this.#remove(key, h)
      dropped.push({ key, value: h.value, reason: 'custody expired' })
    }
    return dropped
  }

  /** When the next entry expires; Infinity when empty. */
  nextExpiry (): number {
    const key = this.#order.peek(this.#isLive)
    return key === undefined ? Infinity : (this.#held.get(key) as Held<T>).since + this.ttlMs
  }

  /** Entries oldest first, with when each came in and when it expires. */
  * entries (): Generator<{ key: string, value: T, bytes: number, since: number, expiresAt: number }> {
    for (const [key, h] of this.#held) yield { key, value: h.value, bytes: h.bytes, since: h.since, expiresAt: h.since + this.ttlMs }
  }

  get size (): number { return this.#held.size }
  get bytes (): number { return this.#bytes }

  /** The oldest entry other than `keep` (the one just added, which the caller wants kept). */
  #oldest (keep: string): string | undefined {
    const first = this.#order.peek(this.#isLive)
    if (first !== keep) return first
    // `keep` is itself the oldest only when it replaced an old entry and grew: then
    // the next oldest goes. Rare, so a walk of the map is fine.
    for (const k of this.#held.keys()) if (k !== keep) return k
    return undefined
  }

  #remove (key: string, h: Held<T>): void {
    this.#held.delete(key)
    this.#bytes -= h.bytes
    this.#order.tidy(this.#held.size, this.#isLive)
  }
}
