// Custody: envelopes a node holds because it has no route to their destination yet
// (store-and-forward, issue 4 "Data"). Bounded in total bytes and in time: each entry
// lives `ttlMs` from when it came into custody, and when a new entry does not fit the
// oldest entries are dropped first to make room. Every drop is reported to the caller,
// who decides what it means (a relay logs it; the originator reports the send failed).
// Pure: no clock, `now` is passed in and must not go backwards.

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
}

export class CustodyStore<T> {
  // Insertion order is arrival order and, with one ttl for all, expiry order too.
  readonly #held = new Map<string, Held<T>>()
  #bytes = 0

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
      this.#held.set(key, { value, bytes, since: now })
      this.#bytes += bytes
    }
    for (const [k, h] of this.#held) {
      if (this.#bytes <= this.maxBytes) break
      if (k === key) continue
      this.#remove(k, h)
      dropped.push({ key: k, value: h.value, reason: 'custody full' })
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
    for (const [key, h] of this.#held) {
      if (now < h.since + this.ttlMs) break
      this.#remove(key, h)
      dropped.push({ key, value: h.value, reason: 'custody expired' })
    }
    return dropped
  }

  /** When the next entry expires; Infinity when empty. */
  nextExpiry (): number {
    for (const h of this.#held.values()) return h.since + this.ttlMs
    return Infinity
  }

  /** Entries oldest first, with when each came in and when it expires. */
  * entries (): Generator<{ key: string, value: T, bytes: number, since: number, expiresAt: number }> {
    for (const [key, h] of this.#held) yield { key, value: h.value, bytes: h.bytes, since: h.since, expiresAt: h.since + this.ttlMs }
  }

  get size (): number { return this.#held.size }
  get bytes (): number { return this.#bytes }

  #remove (key: string, h: Held<T>): void {
    this.#held.delete(key)
    this.#bytes -= h.bytes
  }
}
