// Generated credit networks and payment sequences, for runs without a trace, and the
// "Ripple-like" stand-in for the Ripple trace, which is not reachable from here (no npm
// or Debian package ships it). Everything is drawn from one seeded Random: same seed,
// same graph, same payments.
//
//   - Topology: Barabási–Albert preferential attachment ("Emergence of scaling in random
//     networks", Science 1999): each new node links to m distinct existing nodes chosen
//     with probability proportional to degree, m alternating so the mean degree comes out
//     at 2·links/nodes; then degree-weighted extra links up to the exact link count.
//   - Capacities: each direction of each line independently log-normal (median
//     `capacityMedian`, σ = `capacitySigma` in ln units): heavy-tailed, most lines small,
//     a few very large; balance 0 (lower = −(v → u), upper = u → v).
//   - Payments: payer and payee uniform among the nodes (distinct); amount Pareto with
//     shape `paymentAlpha` (1.16: the 80/20 rule) and scale `paymentMin`, truncated at
//     `paymentMax`: heavy-tailed, as Flash (CoNEXT 2019, §2) reports for the Ripple and
//     Bitcoin traces.
//
// The Ripple stand-in takes the size of the Ripple topology Flash evaluated on (1,870
// nodes and 17,416 edges, as the Flash authors' trace repository describes it): 17,416
// directed edges read as 8,708 bidirectional lines (mean degree 9.3); that reading is an
// assumption, stated in every output that uses it.

import { CapacityGraph } from '../../apps/credit/paths/capacity-graph.ts'
import type { Random } from '../random.ts'

export const RIPPLE_LIKE = Object.freeze({ nodes: 1_870, links: 8_708 })

export interface GeneratorOptions {
  nodes: number
  links: number
  /** Median capacity of one direction of a line, in units. */
  capacityMedian: number
  capacitySigma: number
  paymentMin: number
  paymentAlpha: number
  paymentMax: number
  /** Smallest units per unit (amounts are bigint counts of them). */
  unitScale: number
}

export const DEFAULT_GENERATOR_OPTIONS: Readonly<GeneratorOptions> = Object.freeze({
  ...RIPPLE_LIKE,
  capacityMedian: 100,
  capacitySigma: 1.5,
  paymentMin: 15,
  paymentAlpha: 1.16,
  paymentMax: 100_000,
  unitScale: 1_000_000
})

export interface Payment {
  from: number
  to: number
  amount: bigint
}

/** A scale-free graph with log-normal capacities; node ids "0" … "n−1". */
export function generateCreditGraph (o: GeneratorOptions, random: Random): CapacityGraph {
  if (o.nodes < 3) throw new RangeError(`a generated graph needs at least 3 nodes, got ${o.nodes}`)
  const maxLinks = o.nodes * (o.nodes - 1) / 2
  if (o.links < o.nodes - 1 || o.links > maxLinks) throw new RangeError(`${o.nodes} nodes take ${o.nodes - 1} to ${maxLinks} links, got ${o.links}`)
  const graph = new CapacityGraph()
  for (let i = 0; i < o.nodes; i++) graph.node(String(i))
  const pairs = new Set<number>()
  // Each link's two ends, once per end: picking uniformly from it picks by degree.
  const ends: number[] = []
  const capacity = (): bigint => {
    const z = Math.sqrt(-2 * Math.log(1 - random.float())) * Math.cos(2 * Math.PI * random.float())
    return BigInt(Math.max(1, Math.round(o.capacityMedian * Math.exp(o.capacitySigma * z) * o.unitScale)))
  }
  const link = (a: number, b: number): boolean => {
    const key = a < b ? a * o.nodes + b : b * o.nodes + a
    if (a === b || pairs.has(key)) return false
    pairs.add(key)
    graph.addLink(String(a), String(b), capacity(), capacity())
    ends.push(a, b)
    return true
  }
  const mean = o.links / o.nodes
  const seedSize = Math.max(2, Math.min(o.nodes, Math.ceil(mean) + 1))
  for (let a = 0; a < seedSize; a++) for (let b = a + 1; b < seedSize && graph.linkCount < o.links; b++) link(a, b)
  for (let v = seedSize; v < o.nodes; v++) {
    // m alternates between floor and ceil of the mean so the links track links/nodes.
    const want = Math.round((v + 1) * mean) - graph.linkCount
    const m = Math.max(1, Math.min(v, want))
    let made = 0
    for (let tries = 0; made < m && tries < 50 * m; tries++) {
      const u = ends[random.int(ends.length)] ?? 0
      if (link(v, u)) made++
    }
  }
  for (let tries = 0; graph.linkCount < o.links && tries < 100 * o.links; tries++) {
    link(ends[random.int(ends.length)] ?? 0, ends[random.int(ends.length)] ?? 0)
  }
  return graph
}

/** `count` payments between uniform distinct nodes with truncated-Pareto amounts. */
export function generatePayments (nodes: number, count: number, o: GeneratorOptions, random: Random): Payment[] {
  const payments: Payment[] = []
  const tail = 1 - (o.paymentMin / o.paymentMax) ** o.paymentAlpha
  for (let i = 0; i < count; i++) {
    const from = random.int(nodes)
    let to = random.int(nodes - 1)
    if (to >= from) to++
    // Inverse CDF of the Pareto truncated at paymentMax.
    const x = o.paymentMin / (1 - random.float() * tail) ** (1 / o.paymentAlpha)
    payments.push({ from, to, amount: BigInt(Math.max(1, Math.round(x * o.unitScale))) })
  }
  return payments
}
