// How many hops lookups take in an overlay of a given size: random FIND_NODE lookups
// (hops to the nearest node), and GET_PROVIDERS lookups for keys that have
// RENDEZVOUS_PROVIDERS providers stored at their k nearest nodes (hops to the first answer
// carrying a provider: what a joiner waits for before it can contact a member).

import { RENDEZVOUS_PROVIDERS, RENDEZVOUS_SURPLUS } from '../../networks/rendezvous/announce-policy.ts'
import { histogram, summarize } from '../metrics.ts'
import type { Summary } from '../metrics.ts'
import { Random } from '../random.ts'
import { buildOverlay } from './overlay.ts'
import { MapProviderStore } from './provider-store.ts'

export interface HopSurvey {
  nodes: number
  log2Nodes: number
  lookups: number
  /** Mean routing-table size (contacts per node). */
  tableSize: number
  findNodeHops: Summary
  findNodeHistogram: number[]
  /** Share of FIND_NODE lookups whose k nearest matched the brute-force k nearest exactly. */
  exactClosest: number
  providerHops: Summary
  providerHistogram: number[]
  /** Requests per lookup. */
  findNodeQueries: Summary
  providerQueries: Summary
  /** Lookup durations (ms of virtual time). */
  findNodeMs: Summary
}

export function surveyHops (nodes: number, lookups: number, seed: number, checkExact = true): HopSurvey {
  const store = new MapProviderStore()
  const overlay = buildOverlay(nodes, seed, store)
  const random = new Random(seed ^ 0x5eed)
  const k = overlay.dht.options.k
  const fnHops: number[] = []
  const fnQueries: number[] = []
  const fnMs: number[] = []
  const pHops: number[] = []
  const pQueries: number[] = []
  let exact = 0
  const keys = 50
  const targets: Uint32Array[] = []
  for (let key = 0; key < keys; key++) {
    const target = random.fill(new Uint32Array(8))
    targets.push(target)
    const holders = overlay.sorted.closest(target, k)
    for (let p = 0; p < RENDEZVOUS_PROVIDERS; p++) {
      const provider = random.int(nodes)
      for (const h of holders) store.add(h, key, provider, 0)
    }
  }
  for (let i = 0; i < lookups; i++) {
    const self = random.int(nodes)
    const target = random.fill(new Uint32Array(8))
    overlay.dht.findNode(self, target, (out) => {
      fnHops.push(out.hopsToClosest)
      fnQueries.push(out.queries)
      fnMs.push(out.durationMs)
      if (checkExact) {
        const truth = Array.from(overlay.sorted.closest(target, k + 1)).filter((n) => n !== self).slice(0, k)
        if (truth.length === out.closest.length && truth.every((n, j) => out.closest[j] === n)) exact++
      }
    })
    const key = random.int(keys)
    overlay.dht.getProviders(random.int(nodes), targets[key] ?? target, key, RENDEZVOUS_SURPLUS, (out) => {
      if (out.hopsToFirstProvider >= 0) pHops.push(out.hopsToFirstProvider)
      pQueries.push(out.queries)
    })
  }
  overlay.sim.run()
  return {
    nodes,
    log2Nodes: Math.log2(nodes),
    lookups,
    tableSize: overlay.tables.meanSize(),
    findNodeHops: summarize(fnHops),
    findNodeHistogram: histogram(fnHops),
    exactClosest: checkExact ? exact / lookups : NaN,
    providerHops: summarize(pHops),
    providerHistogram: histogram(pHops),
    findNodeQueries: summarize(fnQueries),
    providerQueries: summarize(pQueries),
    findNodeMs: summarize(fnMs)
  }
}
