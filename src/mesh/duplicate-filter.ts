// The set of envelopes a node has already delivered, so that copies arriving by another
// path (spray-and-wait copies, retransmissions whose ack was lost, a link that duplicates
// frames) are delivered once. Bounded both ways: an entry lives `windowMs` and the set
// never holds more than `capacity` entries (the oldest go first), so a flood of fresh ids
// costs memory, never unbounded memory. A duplicate older than the window is delivered
// again; the window should outlast the sender's retransmissions (ackTimeoutMs × backoff).

import { MeshError } from './errors.ts'

export class DuplicateFilter {
  // Insertion order is age order (callers pass a non-decreasing `now`), so the oldest
  // entry is always the first in the map.
  readonly #seenAt = new Map<string, number>()

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
    while (this.#seenAt.size > this.capacity) this.#seenAt.delete(this.#seenAt.keys().next().value as string)
    return false
  }

  /** Whether `key` was seen within the window, without recording it. */
  has (key: string, now: number): boolean {
    const at = this.#seenAt.get(key)
    return at !== undefined && now - at < this.windowMs
  }

  /** Forgets entries older than the window. */
  prune (now: number): void {
    for (const [key, at] of this.#seenAt) {
      if (now - at < this.windowMs) break
      this.#seenAt.delete(key)
    }
  }

  get size (): number { return this.#seenAt.size }
}
