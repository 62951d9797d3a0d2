// The credit simulator: payments run one after another over one credit network, each
// routed by the router under test and, if its paths carry the whole amount, settled: every
// hop's line moves (capacity taken forward, given back on the reverse direction), so later
// payments see the depleted network. A payment is atomic: if any hop of any path cannot
// carry its share at settlement, every hold already placed is released and nothing moves.
// Every router runs on the same graph, from the same initial state, with the same payments
// and the same seed. Nothing here reads a clock except the wall-time report.

import type { CapacityGraph } from '../../apps/credit/paths/capacity-graph.ts'
import { ROUTERS, routeIndexed } from '../../apps/credit/paths/router.ts'
import type { RouteMethod, RouterName } from '../../apps/credit/paths/router.ts'
import { buildEmbedding, highestDegreeNodes } from '../../apps/credit/paths/speedy-murmurs.ts'
import { ballSizes } from '../../apps/credit/paths/neighbourhood.ts'
import type { FlowPath } from '../../apps/credit/paths/max-flow.ts'
import { Random } from '../random.ts'
import { summarize } from '../metrics.ts'
import type { Payment } from './generator.ts'

export interface CreditExperimentOptions {
  routers: RouterName[]
  seed: number
  /** Neighbourhood radius r. */
  radius: number
  /** The peernet router widens its neighbourhood up to this radius when r falls short. */
  maxRadius: number
  /** The peernet router asks only friends whose line carries more than amount / pullShare (0: every friend whose line carries anything). */
  pullShare: number
  /** Spanning trees (landmarks) of the embedding. */
  trees: number
  /** The peernet router tries one tree path only for payments up to this (undefined: no limit). */
  smallAmount: bigint | undefined
  /** Smallest units per unit, for reporting volumes in units. */
  unitScale: number
}

export const DEFAULT_CREDIT_OPTIONS: Readonly<CreditExperimentOptions> = Object.freeze({
  routers: [...ROUTERS],
  seed: 1,
  radius: 2,
  maxRadius: 2,
  pullShare: 0,
  trees: 3,
  smallAmount: undefined,
  unitScale: 1_000_000
})

export interface RouterResult {
  router: RouterName
  payments: number
  succeeded: number
  successRatio: number
  /** Offered and delivered volume, in units. */
  volume: { offered: number, delivered: number, ratio: number }
  /** Messages per payment (all payments, failed ones included). */
  messages: { mean: number, p50: number, p99: number, max: number }
  /** Messages per successful payment. */
  messagesPerSuccess: number
  /** Push alternative (neighbourhood.ts): announcing every moved line within r − 1 hops, per payment. */
  pushMessagesPerPayment: number
  /** Paths per successful payment. */
  paths: { mean: number, max: number }
  /** Hops per path of successful payments. */
  hops: { mean: number, max: number }
  /** Failed payments that no router could have carried then: the payer's lines together, or the payee's, could not carry the amount. */
  failedAtEndpoints: number
  /** Successful payments by how they were routed. */
  methods: Partial<Record<RouteMethod, number>>
  /** Payments whose paths did not settle (a hop short at settlement: a router bug if not 0). */
  settlementFailures: number
  /** No credit created or destroyed: every line's two directions sum as before, and each node's net position moved by exactly what it paid and received. */
  invariant: { linesConserved: boolean, positionsMatch: boolean }
  wallSeconds: number
}

/** Runs every router over the payments; `graph`'s capacities are restored after each. */
export function runCreditExperiment (graph: CapacityGraph, payments: readonly Payment[], o: CreditExperimentOptions, progress: (line: string) => void = () => {}): RouterResult[] {
  const initial = graph.capacity.slice()
  const embedding = buildEmbedding(graph, highestDegreeNodes(graph, o.trees), (() => { const r = new Random(o.seed); return () => r.uint32() })())
  const balls = ballSizes(graph, Math.max(0, o.radius - 1))
  const results: RouterResult[] = []
  for (const router of o.routers) {
    for (let e = 0; e < initial.length; e++) graph.capacity[e] = initial[e] ?? 0n
    const split = new Random(o.seed ^ 0x5eed)
    const options = { radius: o.radius, maxRadius: o.maxRadius, pullShare: o.pullShare === 0 ? undefined : o.pullShare, embedding, random: () => split.float(), smallAmount: o.smallAmount }
    const started = performance.now()
    const messages = new Float64Array(payments.length)
    const net = new Map<number, bigint>()
    let succeeded = 0
    let offered = 0n
    let delivered = 0n
    let pathCount = 0
    let maxPaths = 0
    let hopSum = 0
    let maxHops = 0
    let push = 0
    let settlementFailures = 0
    let failedAtEndpoints = 0
    const methods: Partial<Record<RouteMethod, number>> = {}
    const every = Math.max(1, Math.floor(payments.length / 4))
    for (let i = 0; i < payments.length; i++) {
      if (i > 0 && i % every === 0) progress(`${router}: ${i}/${payments.length} payments, ${succeeded} succeeded`)
      const p = payments[i] as Payment
      offered += p.amount
      const r = routeIndexed(router, graph, p.from, p.to, p.amount, options)
      messages[i] = r.messages
      if (r.paths === undefined) {
        if (graph.totalCapacity(p.from, 'out') < p.amount || graph.totalCapacity(p.to, 'in') < p.amount) failedAtEndpoints++
        continue
      }
      if (!settle(graph, r.paths)) { settlementFailures++; continue }
      succeeded++
      delivered += p.amount
      net.set(p.from, (net.get(p.from) ?? 0n) - p.amount)
      net.set(p.to, (net.get(p.to) ?? 0n) + p.amount)
      methods[r.method] = (methods[r.method] ?? 0) + 1
      pathCount += r.paths.length
      maxPaths = Math.max(maxPaths, r.paths.length)
      for (const path of r.paths) {
        hopSum += path.edges.length
        maxHops = Math.max(maxHops, path.edges.length)
        for (const e of path.edges) push += (balls[graph.from[e] ?? 0] ?? 1) - 1 + (balls[graph.to[e] ?? 0] ?? 1) - 1
      }
    }
    const m = summarize(messages)
    const ratio = (a: bigint, b: bigint): number => b === 0n ? NaN : Number(a * 1_000_000n / b) / 1_000_000
    results.push({
      router,
      payments: payments.length,
      succeeded,
      successRatio: payments.length === 0 ? NaN : succeeded / payments.length,
      volume: { offered: Number(offered) / o.unitScale, delivered: Number(delivered) / o.unitScale, ratio: ratio(delivered, offered) },
      messages: { mean: m.mean, p50: m.median, p99: m.p99, max: m.max },
      messagesPerSuccess: succeeded === 0 ? NaN : sum(messages) / succeeded,
      pushMessagesPerPayment: payments.length === 0 ? NaN : push / payments.length,
      paths: { mean: succeeded === 0 ? NaN : pathCount / succeeded, max: maxPaths },
      hops: { mean: pathCount === 0 ? NaN : hopSum / pathCount, max: maxHops },
      failedAtEndpoints,
      methods,
      settlementFailures,
      invariant: checkInvariant(graph, initial, net),
      wallSeconds: Math.round((performance.now() - started) / 100) / 10
    })
  }
  for (let e = 0; e < initial.length; e++) graph.capacity[e] = initial[e] ?? 0n
  return results
}

function sum (values: Float64Array): number {
  let s = 0
  for (const v of values) s += v
  return s
}

/** Places every hold in turn; if one hop cannot carry its share, releases the ones placed. */
export function settle (graph: CapacityGraph, paths: readonly FlowPath[]): boolean {
  const placed: Array<[number, bigint]> = []
  for (const path of paths) {
    for (const e of path.edges) {
      if (graph.cap(e) < path.amount) {
        for (let j = placed.length - 1; j >= 0; j--) {
          const [edge, amount] = placed[j] as [number, bigint]
          graph.move(edge ^ 1, amount)
        }
        return false
      }
      graph.move(e, path.amount)
      placed.push([e, path.amount])
    }
  }
  return true
}

/** Lines conserve credit (cap(e) + cap(e ^ 1) unchanged) and each node's net position moved by `net` (paid −, received +). */
export function checkInvariant (graph: CapacityGraph, initial: readonly bigint[], net: ReadonlyMap<number, bigint>): { linesConserved: boolean, positionsMatch: boolean } {
  let linesConserved = true
  const position = new Map<number, bigint>()
  for (let k = 0; k < graph.linkCount; k++) {
    const ab = 2 * k
    if (graph.cap(ab) + graph.cap(ab + 1) !== (initial[ab] ?? 0n) + (initial[ab + 1] ?? 0n)) linesConserved = false
    // What a paid b over this line, net: the b → a direction grew by it.
    const paid = graph.cap(ab + 1) - (initial[ab + 1] ?? 0n)
    if (paid === 0n) continue
    const a = graph.from[ab] ?? 0
    const b = graph.to[ab] ?? 0
    position.set(a, (position.get(a) ?? 0n) - paid)
    position.set(b, (position.get(b) ?? 0n) + paid)
  }
  let positionsMatch = true
  for (const node of new Set([...position.keys(), ...net.keys()])) {
    if ((position.get(node) ?? 0n) !== (net.get(node) ?? 0n)) positionsMatch = false
  }
  return { linesConserved, positionsMatch }
}
