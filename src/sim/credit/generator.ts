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
//     a few very large; balance 0 (lower = −(v → u), upper = u → v). Optionally (both off
//     by default, and then the graph is exactly what it was before they existed):
//       - `capacityDegreeExponent` β scales both directions of a line u–v by
//         (deg u · deg v / d̄²)^β (d̄ the mean degree, degrees of the finished graph): in
//         Ripple the gateways, the hubs, hold the big lines;
//       - `oneWayFraction` f: that fraction of the lines (each line independently) extend
//         credit one way only, the other direction's capacity 0 until a payment over the
//         line gives it some; the way is a fair coin. Ripple's trust lines are mostly
//         one-directional (a user trusts a gateway, rarely the other way round).
//       - `singleLineFraction` q: that fraction of the nodes join the graph with one line
//         instead of about links/nodes (the links they leave go to the nodes joining
//         after them, so the link count stays): in Ripple most accounts hold one or two
//         trust lines, to a gateway, while the gateways hold hundreds.
//     They draw nothing from the seeded Random while off, and the topology and the
//     log-normal draws come first, so turning them on changes no other draw.
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
  /** β: both directions of a line u–v scaled by (deg u · deg v / mean degree²)^β (0: no correlation). */
  capacityDegreeExponent: number
  /** Fraction of the nodes after the seed clique that join with one line only (0: every node joins with about links/nodes). */
  singleLineFraction: number
  /** Fraction of lines that extend credit one way only (a fair coin picks the way; 0: every line both ways). */
  oneWayFraction: number
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
  capacityDegreeExponent: 0,
  singleLineFraction: 0,
  oneWayFraction: 0,
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
  if (!(o.singleLineFraction >= 0 && o.singleLineFraction < 1)) throw new RangeError(`the single-line fraction must be from 0 to below 1, got ${o.singleLineFraction}`)
  if (!(o.oneWayFraction >= 0 && o.oneWayFraction <= 1)) throw new RangeError(`the one-way fraction must be from 0 to 1, got ${o.oneWayFraction}`)
  if (!Number.isFinite(o.capacityDegreeExponent)) throw new RangeError(`the capacity degree exponent must be a finite number, got ${o.capacityDegreeExponent}`)
  const graph = new CapacityGraph()
  for (let i = 0; i < o.nodes; i++) graph.node(String(i))
  const pairs = new Set<number>()
  // Each link's two ends, once per end: picking uniformly from it picks by degree.
  const ends: number[] = []
  // Each line's two log-normal draws (a → b, b → a), drawn as the line is made; the
  // capacities are set once the degrees are final.
  const draws: number[] = []
  const logNormal = (): number => {
    const z = Math.sqrt(-2 * Math.log(1 - random.float())) * Math.cos(2 * Math.PI * random.float())
    return o.capacityMedian * Math.exp(o.capacitySigma * z)
  }
  const link = (a: number, b: number): boolean => {
    const key = a < b ? a * o.nodes + b : b * o.nodes + a
    if (a === b || pairs.has(key)) return false
    pairs.add(key)
    graph.addLink(String(a), String(b), 1n, 1n)
    draws.push(logNormal(), logNormal())
    ends.push(a, b)
    return true
  }
  const mean = o.links / o.nodes
  const seedSize = Math.max(2, Math.min(o.nodes, Math.ceil(mean) + 1))
  for (let a = 0; a < seedSize; a++) for (let b = a + 1; b < seedSize && graph.linkCount < o.links; b++) link(a, b)
  for (let v = seedSize; v < o.nodes; v++) {
    // m alternates between floor and ceil of the mean so the links track links/nodes.
    // A node joining with one line leaves its share of links to the next ones to join.
    const want = Math.round((v + 1) * mean) - graph.linkCount
    const m = o.singleLineFraction > 0 && random.float() < o.singleLineFraction ? 1 : Math.max(1, Math.min(v, want))
    let made = 0
    for (let tries = 0; made < m && tries < 50 * m; tries++) {
      const u = ends[random.int(ends.length)] ?? 0
      if (link(v, u)) made++
    }
  }
  for (let tries = 0; graph.linkCount < o.links && tries < 100 * o.links; tries++) {
    link(ends[random.int(ends.length)] ?? 0, ends[random.int(ends.length)] ?? 0)
  }
  const meanDegree = 2 * graph.linkCount / graph.nodeCount
  for (let e = 0; e < graph.edgeCount; e++) {
    // (deg u · deg v / d̄²)^0 is exactly 1: with β = 0 the capacities are the plain draws.
    const factor = o.capacityDegreeExponent === 0 ? 1 : ((graph.out[graph.from[e] ?? 0]?.length ?? 1) * (graph.out[graph.to[e] ?? 0]?.length ?? 1) / (meanDegree * meanDegree)) ** o.capacityDegreeExponent
    graph.capacity[e] = BigInt(Math.max(1, Math.round((draws[e] ?? 0) * factor * o.unitScale)))
  }
  if (o.oneWayFraction > 0) {
    for (let k = 0; k < graph.linkCount; k++) {
      if (random.float() >= o.oneWayFraction) continue
      graph.capacity[2 * k + (random.float() < 0.5 ? 0 : 1)] = 0n
    }
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
