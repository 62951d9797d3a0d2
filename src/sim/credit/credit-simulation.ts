// One `peernet sim credit` run: the graph (a CREDIT_LINKS trace, or generated), the
// payments (generated: no payment trace is reachable here either), every router asked
// for, and a summary that says what was a stand-in. Used by the CLI and bench/credit-sim.ts.

import type { RouterName } from '../../apps/credit/paths/router.ts'
import { Random } from '../random.ts'
import { creditLinksGraph, readCreditLinks } from './credit-links.ts'
import { DEFAULT_GENERATOR_OPTIONS, RIPPLE_LIKE, generateCreditGraph, generatePayments } from './generator.ts'
import type { GeneratorOptions } from './generator.ts'
import { DEFAULT_CREDIT_OPTIONS, runCreditExperiment } from './credit-experiment.ts'
import type { RouterResult } from './credit-experiment.ts'

export interface CreditSimulationOptions {
  /** A CREDIT_LINKS file; without it the graph is generated. */
  graphFile: string | null
  /** Decimals of the trace's amounts kept as integer units. */
  decimals: number
  payments: number
  seed: number
  routers: RouterName[]
  radius: number
  maxRadius: number
  pullShare: number
  trees: number
  /** Peernet tries one tree path only for payments up to this many units (0: no limit). */
  smallUnits: number
  generator: GeneratorOptions
}

export const DEFAULT_CREDIT_SIMULATION: Readonly<CreditSimulationOptions> = Object.freeze({
  graphFile: null,
  decimals: 6,
  payments: 10_000,
  seed: 1,
  routers: [...DEFAULT_CREDIT_OPTIONS.routers],
  radius: DEFAULT_CREDIT_OPTIONS.radius,
  maxRadius: DEFAULT_CREDIT_OPTIONS.maxRadius,
  pullShare: DEFAULT_CREDIT_OPTIONS.pullShare,
  trees: DEFAULT_CREDIT_OPTIONS.trees,
  smallUnits: 0,
  generator: { ...DEFAULT_GENERATOR_OPTIONS }
})

export interface CreditSimulationResult {
  parameters: CreditSimulationOptions
  graph: { source: string, nodes: number, links: number, meanDegree: number, maxDegree: number, totalCapacity: number, standIn: boolean, note: string }
  payments: { count: number, meanAmount: number, medianAmount: number, p99Amount: number, note: string }
  routers: RouterResult[]
  wallSeconds: number
}

export function runCreditSimulation (o: CreditSimulationOptions, progress: (line: string) => void = () => {}): CreditSimulationResult {
  const started = performance.now()
  const random = new Random(o.seed)
  const unitScale = o.graphFile === null ? o.generator.unitScale : 10 ** o.decimals
  const generator = { ...o.generator, unitScale }
  const graph = o.graphFile === null ? generateCreditGraph(generator, random.fork()) : creditLinksGraph(readCreditLinks(o.graphFile, o.decimals))
  const payments = generatePayments(graph.nodeCount, o.payments, generator, random.fork())
  let maxDegree = 0
  for (const out of graph.out) maxDegree = Math.max(maxDegree, out.length)
  let capacity = 0n
  for (const c of graph.capacity) capacity += c
  const rippleSized = o.graphFile === null && generator.nodes === RIPPLE_LIKE.nodes && generator.links === RIPPLE_LIKE.links
  const amounts = payments.map((p) => Number(p.amount) / unitScale).sort((a, b) => a - b)
  progress(`graph: ${graph.nodeCount} nodes, ${graph.linkCount} links; ${payments.length} payments`)
  const routers = runCreditExperiment(graph, payments, { routers: o.routers, seed: o.seed, radius: o.radius, maxRadius: Math.max(o.radius, o.maxRadius), pullShare: o.pullShare, trees: o.trees, smallAmount: o.smallUnits === 0 ? undefined : BigInt(Math.round(o.smallUnits * unitScale)), unitScale }, progress)
  const rank = (p: number): number => amounts[Math.min(amounts.length - 1, Math.max(0, Math.ceil(p * amounts.length) - 1))] ?? NaN
  return {
    parameters: o,
    graph: {
      source: o.graphFile ?? (rippleSized ? 'generated, Ripple-like' : 'generated'),
      nodes: graph.nodeCount,
      links: graph.linkCount,
      meanDegree: 2 * graph.linkCount / graph.nodeCount,
      maxDegree,
      totalCapacity: Number(capacity) / unitScale,
      standIn: o.graphFile === null,
      note: o.graphFile !== null
        ? `CREDIT_LINKS trace ${o.graphFile}`
        : `STAND-IN, not the Ripple trace: Barabási–Albert graph${rippleSized ? ' of the Ripple topology\'s size in Flash (1,870 nodes; its 17,416 edges read as 8,708 two-way lines)' : ''}, capacities log-normal per direction (median ${generator.capacityMedian}, σ ${generator.capacitySigma})${shape(generator)}`
    },
    payments: {
      count: payments.length,
      meanAmount: amounts.reduce((a, b) => a + b, 0) / Math.max(1, amounts.length),
      medianAmount: rank(0.5),
      p99Amount: rank(0.99),
      note: `generated (no payment trace here): uniform distinct payer and payee, amount Pareto α ${generator.paymentAlpha} from ${generator.paymentMin} truncated at ${generator.paymentMax} units`
    },
    routers,
    wallSeconds: Math.round((performance.now() - started) / 100) / 10
  }
}

/** The generator's optional shaping, as the note says it ('' when all off, as before they existed). */
function shape (g: GeneratorOptions): string {
  const parts: string[] = []
  if (g.capacityDegreeExponent !== 0) parts.push(`scaled by (deg u · deg v / mean degree²)^${g.capacityDegreeExponent}`)
  if (g.singleLineFraction !== 0) parts.push(`${g.singleLineFraction} of the nodes joining with one line`)
  if (g.oneWayFraction !== 0) parts.push(`${g.oneWayFraction} of the lines one-way`)
  return parts.length === 0 ? '' : `, ${parts.join(', ')}`
}

/** The human table of a run. */
export function creditTable (r: CreditSimulationResult): string[] {
  const f = (v: number, d = 1): string => Number.isFinite(v) ? v.toFixed(d) : 'n/a'
  const g = r.graph
  const lines = [
    `graph: ${g.source}: ${g.nodes} nodes, ${g.links} links, mean degree ${f(g.meanDegree, 2)}, max ${g.maxDegree}`,
    g.note,
    `payments: ${r.payments.count}, amount mean ${f(r.payments.meanAmount, 2)} / median ${f(r.payments.medianAmount, 2)} / p99 ${f(r.payments.p99Amount, 1)} units; ${r.payments.note}`,
    ''
  ]
  const header = ['router', 'success', 'volume', 'msgs mean', 'p50', 'p99', 'msgs/success', 'paths', 'hops', 'how', 'invariant', 'time']
  const rows = r.routers.map((x) => [
    x.router,
    f(x.successRatio, 3),
    f(x.volume.ratio, 3),
    f(x.messages.mean),
    f(x.messages.p50, 0),
    f(x.messages.p99, 0),
    f(x.messagesPerSuccess),
    f(x.paths.mean, 2),
    f(x.hops.mean, 2),
    Object.entries(x.methods).map(([k, v]) => `${k} ${v}`).join(', '),
    x.invariant.linesConserved && x.invariant.positionsMatch && x.settlementFailures === 0 ? 'ok' : 'BROKEN',
    `${f(x.wallSeconds)} s`
  ])
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === 0 || i === 9 ? c.padEnd(width[i] ?? 0) : c.padStart(width[i] ?? 0)).join('  ').trimEnd()
  lines.push(line(header), ...rows.map(line))
  return lines
}
