// A stand-in router for `credit pay` until the real path finder (src/apps/credit/paths/,
// issue 6 "Path finding") lands: the payer asks the accounts it can reach, level by level
// from its own lines outwards, for their lines and fee/offer policy, then takes the
// fewest-hops path with room on the residual graph, as much as fits, and again, until
// the amount is covered (at most MAX_PATHS paths). Everything it needs comes in through
// `ask`, so the real router replaces this one function (`findPaymentPaths`).
//
// Its limits, on purpose: it reveals every line of whoever is asked to whoever asks (the
// real router shares capacities among friends within a bounded radius), and it asks up
// to MAX_QUERIES accounts per payment.

import { bytesEqual } from '../../core/encoding.ts'
import { toHex } from '../../networks/hashing.ts'
import type { LineReport, PolicyReport } from './credit-messages.ts'
import type { PathHop, PaymentPath } from './payment-engine.ts'

export const MAX_PATHS = 8
export const MAX_QUERIES = 32
export const MAX_DEPTH = 6

const PPM = 1_000_000n

export interface NodeReport { lines: LineReport[], policy: PolicyReport }

export interface FindPathsInput {
  self: Uint8Array
  payee: Uint8Array
  amount: bigint
  unit: string
  /** This node's own lines and policy. */
  own: NodeReport
  /** Another account's lines and policy, or undefined when it cannot be asked (bounded wait inside). */
  ask: (account: Uint8Array) => Promise<NodeReport | undefined>
}

interface Edge { from: string, to: string, toKey: Uint8Array, unit: string, capacity: bigint }

/** Paths for `amount` of `unit` to the payee, covering as much of it as the known graph allows (possibly less). */
export async function findPaymentPaths (input: FindPathsInput): Promise<PaymentPath[]> {
  const selfHex = toHex(input.self)
  const payeeHex = toHex(input.payee)
  const reports = new Map<string, NodeReport>([[selfHex, input.own]])
  // Explore: ask each newly seen account (not the payee: the last hop's line is its payer's to report).
  let frontier = input.own.lines.filter((l) => l.out > 0n).map((l) => l.peer)
  let queries = 0
  for (let depth = 1; depth < MAX_DEPTH && frontier.length > 0; depth++) {
    if (edgesOf(reports).some((e) => e.to === payeeHex && e.unit === input.unit)) {
      // Reached; one more level only if a single known path might not carry the amount (kept simple: stop).
      break
    }
    const next: Uint8Array[] = []
    const batch = dedupe(frontier).filter((a) => !reports.has(toHex(a)) && !bytesEqual(a, input.payee)).slice(0, MAX_QUERIES - queries)
    queries += batch.length
    const answers = await Promise.all(batch.map(async (a) => [a, await input.ask(a)] as const))
    for (const [a, r] of answers) {
      if (r === undefined) continue
      reports.set(toHex(a), r)
      for (const l of r.lines) if (l.out > 0n) next.push(l.peer)
    }
    frontier = next
  }

  const edges = edgesOf(reports)
  const residual = new Map<string, bigint>(edges.map((e) => [edgeKey(e.from, e.to, e.unit), e.capacity]))
  const paths: PaymentPath[] = []
  let remaining = input.amount
  while (remaining > 0n && paths.length < MAX_PATHS) {
    const route = shortest(edges, residual, selfHex, payeeHex, input.unit, reports)
    if (route === undefined) break
    const hops = hopsOf(route, reports)
    const fits = largestFitting(route, hops, residual, remaining)
    if (fits === 0n) break
    const needs = hopAmounts(hops, fits)
    route.forEach((e, i) => { residual.set(edgeKey(e.from, e.to, e.unit), (residual.get(edgeKey(e.from, e.to, e.unit)) ?? 0n) - (needs[i] as bigint)) })
    paths.push({ hops, amount: fits })
    remaining -= fits
  }
  return paths
}

function dedupe (keys: Uint8Array[]): Uint8Array[] {
  const m = new Map<string, Uint8Array>()
  for (const k of keys) m.set(toHex(k), k)
  return [...m.values()]
}

function edgesOf (reports: Map<string, NodeReport>): Edge[] {
  const out: Edge[] = []
  for (const [from, r] of reports) for (const l of r.lines) out.push({ from, to: toHex(l.peer), toKey: l.peer, unit: l.unit, capacity: l.out })
  return out
}

const edgeKey = (from: string, to: string, unit: string): string => `${from}>${to}:${unit}`

function rateAt (reports: Map<string, NodeReport>, at: string, from: string, to: string): bigint | undefined {
  if (from === to) return PPM
  return reports.get(at)?.policy.offers.find((o) => o.from === from && o.to === to)?.rate
}

/** Fewest hops from `self` to `payee` arriving in `unit`, over edges with room, changing unit only where an offer exists. */
function shortest (edges: Edge[], residual: Map<string, bigint>, self: string, payee: string, unit: string, reports: Map<string, NodeReport>): Edge[] | undefined {
  // States are (node, unit it was reached in): a node may be passed in two units.
  const start = `${self}|`
  const prev = new Map<string, { state: string, edge: Edge }>()
  const seen = new Set<string>([start])
  let level = [start]
  while (level.length > 0) {
    const next: string[] = []
    for (const state of level) {
      const [node, inUnit] = state.split('|') as [string, string]
      for (const e of edges) {
        if (e.from !== node || (residual.get(edgeKey(e.from, e.to, e.unit)) ?? 0n) <= 0n) continue
        if (node !== self && rateAt(reports, node, inUnit, e.unit) === undefined) continue
        if (e.to === self) continue
        const s = `${e.to}|${e.unit}`
        if (seen.has(s)) continue
        seen.add(s)
        prev.set(s, { state, edge: e })
        if (e.to === payee) {
          if (e.unit !== unit) continue
          const route: Edge[] = []
          let cur = s
          while (cur !== start) {
            const p = prev.get(cur) as { state: string, edge: Edge }
            route.unshift(p.edge)
            cur = p.state
          }
          return route
        }
        next.push(s)
      }
    }
    level = next
  }
  return undefined
}

function hopsOf (route: Edge[], reports: Map<string, NodeReport>): PathHop[] {
  return route.map((e, i) => {
    const hop: PathHop = { account: e.toKey, unit: e.unit }
    const out = route[i + 1]
    if (out !== undefined) {
      const policy = reports.get(e.to)?.policy
      hop.feePpm = policy?.fees.find((f) => f.unit === out.unit)?.ppm ?? 0
      if (out.unit !== e.unit) hop.rate = rateAt(reports, e.to, e.unit, out.unit)
    }
    return hop
  })
}

/** What each line of the path carries for `delivered` to arrive (the engine's planPath rounding: up, in the intermediaries' favour). */
function hopAmounts (hops: PathHop[], delivered: bigint): bigint[] {
  const needs = new Array<bigint>(hops.length)
  let need = delivered
  needs[hops.length - 1] = need
  for (let i = hops.length - 2; i >= 0; i--) {
    const hop = hops[i] as PathHop
    const rate = hop.rate ?? PPM
    const k = rate * (PPM - BigInt(hop.feePpm ?? 0))
    need = (need * PPM * PPM + k - 1n) / k
    needs[i] = need
  }
  return needs
}

/** The most (up to `cap`) the path can deliver within every line's room: a binary search over the exact amounts. */
function largestFitting (route: Edge[], hops: PathHop[], residual: Map<string, bigint>, cap: bigint): bigint {
  const fits = (d: bigint): boolean => hopAmounts(hops, d).every((n, i) => {
    const e = route[i] as Edge
    return n <= (residual.get(edgeKey(e.from, e.to, e.unit)) ?? 0n)
  })
  if (fits(cap)) return cap
  let lo = 0n
  let hi = cap
  while (lo < hi) {
    const mid = (lo + hi + 1n) / 2n
    if (fits(mid)) lo = mid
    else hi = mid - 1n
  }
  return lo
}
