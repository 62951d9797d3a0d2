// Kademlia DHT nodes on the simulator: they answer FIND_NODE / GET_PROVIDERS / ADD_PROVIDER
// and run iterative lookups (lookup.ts) by sending real messages through the event queue,
// so every hop costs a link's latency and every message is counted in bytes. Parameters
// are libp2p kad-dht's: k = 20; alpha is 3 as in the Kademlia paper and go-libp2p
// (js-libp2p 16 defaults to 10 over disjoint paths, which trades more messages for fewer
// round trips; the hop counts here are therefore an upper bound for js-libp2p).
// No node fails or leaves in this model, so no request needs a timeout.

import { Lookup } from './lookup.ts'
import { messageBytes } from './messages.ts'
import type { DhtMessage } from './messages.ts'
import type { ProviderStore } from './provider-store.ts'
import type { RoutingTables } from './routing-table.ts'
import type { Simulator } from '../simulator.ts'

export const KAD_K = 20
export const KAD_ALPHA = 3

export interface DhtOptions {
  k: number
  alpha: number
}

export interface LookupOutcome {
  /** The k nearest nodes that answered, nearest first. */
  closest: number[]
  /** Distinct providers found, not counting the looking node. */
  providers: number[]
  /** Requests sent. */
  queries: number
  /** Hops to the nearest node found: the depth at which it was reached. */
  hopsToClosest: number
  /** Hops to the first answer that carried a provider record (0: held locally; -1: none found). */
  hopsToFirstProvider: number
  startedAt: number
  durationMs: number
  /** The lookup ran until the k nearest answered (rather than stopping on enough providers). */
  converged: boolean
}

interface Run {
  self: number
  lookup: Lookup
  key: number
  /** Stop once this many distinct providers are known (Infinity for FIND_NODE). */
  enough: number
  providers: Set<number>
  hopsToFirstProvider: number
  startedAt: number
  finished: boolean
  done: (outcome: LookupOutcome) => void
}

export class KademliaDht {
  private nextRpc = 1
  private readonly pending = new Map<number, Run>()

  readonly sim: Simulator<DhtMessage>
  readonly ids: Uint32Array
  readonly tables: RoutingTables
  readonly store: ProviderStore
  readonly options: DhtOptions

  constructor (sim: Simulator<DhtMessage>, ids: Uint32Array, tables: RoutingTables, store: ProviderStore, options: DhtOptions = { k: KAD_K, alpha: KAD_ALPHA }) {
    this.sim = sim
    this.ids = ids
    this.tables = tables
    this.store = store
    this.options = options
    sim.onDeliver((to, from, message) => { this.receive(to, from, message) })
  }

  /** Iterative FIND_NODE: the k nodes nearest to target. */
  findNode (self: number, target: Uint32Array, done: (outcome: LookupOutcome) => void): void {
    this.start(self, target, -1, Infinity, done)
  }

  /** Iterative GET_PROVIDERS for `key` (whose point is target), stopping once `enough` providers are known. */
  getProviders (self: number, target: Uint32Array, key: number, enough: number, done: (outcome: LookupOutcome) => void): void {
    this.start(self, target, key, enough, done)
  }

  /** ADD_PROVIDER to each of `holders` (one-way messages, as in libp2p's provide()). */
  addProvider (self: number, holders: ArrayLike<number>, target: Uint32Array, key: number): void {
    for (let i = 0; i < holders.length; i++) {
      const to = holders[i] ?? 0
      if (to === self) continue
      const message: DhtMessage = { type: 'ADD_PROVIDER', target, key }
      this.sim.send(self, to, message, messageBytes(message))
    }
  }

  private start (self: number, target: Uint32Array, key: number, enough: number, done: (outcome: LookupOutcome) => void): void {
    const { k, alpha } = this.options
    const lookup = new Lookup(this.ids, target, self, this.tables.closestContacts(self, target, k), k, alpha)
    const run: Run = { self, lookup, key, enough, providers: new Set(), hopsToFirstProvider: -1, startedAt: this.sim.now, finished: false, done }
    if (key >= 0) {
      // libp2p's findProviders answers from the local store first.
      const local = this.store.providers(self, key, this.sim.now)
      for (let i = 0; i < local.length; i++) if (local[i] !== self) run.providers.add(local[i] ?? 0)
      if (run.providers.size > 0) run.hopsToFirstProvider = 0
    }
    this.advance(run)
  }

  private advance (run: Run): void {
    if (run.finished) return
    if (run.providers.size >= run.enough || run.lookup.done) {
      this.finish(run)
      return
    }
    for (const q of run.lookup.next()) {
      const rpc = this.nextRpc++
      this.pending.set(rpc, run)
      const message: DhtMessage = run.key >= 0
        ? { type: 'GET_PROVIDERS', rpc, target: run.lookup.target, key: run.key }
        : { type: 'FIND_NODE', rpc, target: run.lookup.target }
      this.sim.send(run.self, q.node, message, messageBytes(message))
    }
  }

  private finish (run: Run): void {
    run.finished = true
    const closest = run.lookup.closest()
    run.done({
      closest,
      providers: [...run.providers],
      queries: run.lookup.queries,
      hopsToClosest: closest.length > 0 ? run.lookup.depthOf(closest[0] ?? 0) : 0,
      hopsToFirstProvider: run.hopsToFirstProvider,
      startedAt: run.startedAt,
      durationMs: this.sim.now - run.startedAt,
      converged: run.lookup.done
    })
  }

  private receive (to: number, from: number, message: DhtMessage): void {
    switch (message.type) {
      case 'FIND_NODE':
      case 'GET_PROVIDERS': {
        const closer = this.tables.closestContacts(to, message.target, this.options.k)
        const providers = message.type === 'GET_PROVIDERS' ? this.store.providers(to, message.key, this.sim.now) : []
        const reply: DhtMessage = { type: 'CLOSER', rpc: message.rpc, closer, providers }
        this.sim.send(to, from, reply, messageBytes(reply))
        return
      }
      case 'ADD_PROVIDER':
        this.store.add(to, message.key, from, this.sim.now)
        return
      case 'CLOSER': {
        const run = this.pending.get(message.rpc)
        this.pending.delete(message.rpc)
        if (run === undefined || run.finished) return
        const depth = run.lookup.depthOf(from)
        run.lookup.answer(from, message.closer)
        for (let i = 0; i < message.providers.length; i++) {
          const p = message.providers[i] ?? 0
          if (p === run.self) continue
          run.providers.add(p)
          if (run.hopsToFirstProvider < 0) run.hopsToFirstProvider = depth
        }
        this.advance(run)
      }
    }
  }
}
