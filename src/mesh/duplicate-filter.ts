// The set of envelopes a node has already delivered, so that copies arriving by another
// path (spray-and-wait copies, retransmissions whose ack was lost, a link that duplicates
// frames) are delivered once. Bounded both ways: an entry lives `windowMs` and the set
// never holds more than `capacity` entries (the oldest go first), so a flood of fresh ids
// costs memory, never unbounded memory. A duplicate older than the window is delivered
// again; the window should outlast the sender's retransmissions (ackTimeoutMs × backoff).

import { AgeQueue } from './age-queue.ts'
import { MeshError } from './errors.ts'

export class DuplicateFilter {
  readonly #seenAt = new Map<string, number>()
  // Age order (callers pass a non-decreasing `now`); a slot is live while the map still
  // holds its key with the same time.
  readonly #order = new AgeQueue()
  readonly #isLive = (key: string, at: number): boolean => this.#seenAt.get(key) === at
  readonly capacity: number
  readonly windowMs: number

  constructor (capacity: number, windowMs: number) {
    this.capacity = capacity
    this.windowMs = windowMs
    if (!(capacity >= 1)) throw new MeshError('a duplicate filter holds at least one entry')
  }

  /** Records `key` and says whether it was already there (within the window). */
  check (key: string, now: number): boolean {
    this.prune(now)
    if (this.#seenAt.has(key)) return true
    this.#seenAt.set(key, now)
    this.#order.push(key, now)
    while (this.#seenAt.size > this.capacity) this.#dropOldest()
    return false
  }

  /** Whether `key` was seen within the window, without recording it. */
  has (key: string, now: number): boolean {
    const at = this.#seenAt.get(key)
    return at !== undefined && now - at < this.windowMs
  }

  /** Forgets entries older than the window. */
  prune (now: number): void {
    for (let key = this.#order.peek(this.#isLive); key !== undefined; key = this.#order.peek(this.#isLive)) {
      if (now - (this.#seenAt.get(key) as number) < this.windowMs) return
      this.#dropOldest()
    }
  }

  get size (): number { return this.#seenAt.size }

  #dropOldest (): void {
    const key = this.#order.peek(this.#isLive)
    if (key === undefined) return
    this.#seenAt.delete(key)
    this.#order.shift()
  }
}
