// A whole simulated Kademlia overlay: random node ids, their sorted view, every node's
// filled routing table, a latency model and the simulator that carries the messages.

import { KeyTable } from './key-space.ts'
import { SortedIds } from './sorted-ids.ts'
import { RoutingTables } from './routing-table.ts'
import { KademliaDht, KAD_ALPHA, KAD_K } from './dht.ts'
import type { DhtMessage } from './messages.ts'
import type { ProviderStore } from './provider-store.ts'
import { PlaneLatency } from '../latency.ts'
import type { LatencyModel } from '../latency.ts'
import { Random } from '../random.ts'
import { Simulator } from '../simulator.ts'

export interface Overlay {
  nodes: number
  ids: KeyTable
  sorted: SortedIds
  tables: RoutingTables
  latency: LatencyModel
  sim: Simulator<DhtMessage>
  dht: KademliaDht
}

export function buildOverlay (nodes: number, seed: number, store: ProviderStore, k = KAD_K, alpha = KAD_ALPHA): Overlay {
  const random = new Random(seed)
  const ids = KeyTable.random(nodes, random.fork())
  const sorted = new SortedIds(ids)
  const tables = RoutingTables.build(sorted, k, random.fork())
  const latency = new PlaneLatency(nodes, random.fork())
  const sim = new Simulator<DhtMessage>(nodes, latency)
  const dht = new KademliaDht(sim, ids.words, tables, store, { k, alpha })
  return { nodes, ids, sorted, tables, latency, sim, dht }
}
