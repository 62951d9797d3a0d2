// The iterative node lookup of Kademlia §2.3, as a pure state machine: the caller sends
// the queries it returns and feeds it the answers; it never sends anything itself. The
// lookup keeps a shortlist ordered by XOR distance to the target, keeps at most `alpha`
// queries in flight to the nearest not-yet-queried candidates among the k nearest, and is
// done when the k nearest candidates it knows have all answered. Each candidate remembers
// its depth (1 for contacts from our own table, d + 1 for a contact learnt from a node at
// depth d): the depth of a node is the number of sequential hops it took to reach it.

import { compareDistance, distanceKey } from './key-space.ts'

const FRESH = 0
const IN_FLIGHT = 1
const ANSWERED = 2

export interface LookupQuery {
  node: number
  depth: number
}

export class Lookup {
  private readonly nodes: number[] = []
  private readonly keys: number[] = []
  private readonly states: number[] = []
  private readonly depths: number[] = []
  private readonly seen = new Set<number>()
  private inFlight = 0
  /** Queries sent so far. */
  queries = 0
  /** Answers received so far. */
  answers = 0

  private readonly ids: Uint32Array
  readonly target: Uint32Array
  readonly self: number
  private readonly k: number
  private readonly alpha: number

  constructor (ids: Uint32Array, target: Uint32Array, self: number, initial: ArrayLike<number>, k: number, alpha: number) {
    this.ids = ids
    this.target = target
    this.self = self
    this.k = k
    this.alpha = alpha
    this.seen.add(self)
    this.merge(initial, 0)
  }

  /** The queries to send now (marks them in flight). */
  next (): LookupQuery[] {
    const out: LookupQuery[] = []
    const limit = Math.min(this.k, this.nodes.length)
    for (let i = 0; i < limit && this.inFlight < this.alpha; i++) {
      if (this.states[i] !== FRESH) continue
      this.states[i] = IN_FLIGHT
      this.inFlight++
      this.queries++
      out.push({ node: this.nodes[i] ?? 0, depth: this.depths[i] ?? 0 })
    }
    return out
  }

  /** Records `from`'s answer and the closer contacts it named. */
  answer (from: number, closer: ArrayLike<number>): void {
    const i = this.nodes.indexOf(from)
    if (i < 0 || this.states[i] !== IN_FLIGHT) return
    this.states[i] = ANSWERED
    this.inFlight--
    this.answers++
    this.merge(closer, this.depths[i] ?? 0)
  }

  /** Done: the k nearest known candidates have all answered (or there is nobody left to ask). */
  get done (): boolean {
    const limit = Math.min(this.k, this.nodes.length)
    for (let i = 0; i < limit; i++) if (this.states[i] !== ANSWERED) return false
    return true
  }

  /** The k nearest candidates that answered, nearest first. */
  closest (): number[] {
    const out: number[] = []
    for (let i = 0; i < this.nodes.length && out.length < this.k; i++) {
      if (this.states[i] === ANSWERED) out.push(this.nodes[i] ?? 0)
    }
    return out
  }

  /** Depth at which `node` was reached (0 if unknown). */
  depthOf (node: number): number {
    const i = this.nodes.indexOf(node)
    return i < 0 ? 0 : (this.depths[i] ?? 0)
  }

  private merge (contacts: ArrayLike<number>, parentDepth: number): void {
    for (let c = 0; c < contacts.length; c++) {
      const node = contacts[c] ?? 0
      if (this.seen.has(node)) continue
      this.seen.add(node)
      const key = distanceKey(this.ids, node, this.target)
      // Insert in distance order (the list stays short: tens of entries).
      let j = this.nodes.length
      while (j > 0) {
        const prev = this.keys[j - 1] ?? 0
        if (prev < key || (prev === key && compareDistance(this.ids, this.nodes[j - 1] ?? 0, node, this.target) < 0)) break
        j--
      }
      this.nodes.splice(j, 0, node)
      this.keys.splice(j, 0, key)
      this.states.splice(j, 0, FRESH)
      this.depths.splice(j, 0, parentDepth + 1)
    }
  }
}
