// Paths that change unit on the way (issue 6: "intermediaries may offer exchange between
// units at a rate"). The router (paths/router.ts) routes one unit; when it finds nothing
// and the accounts the payer heard of offer exchange, this takes the fewest-hops path over
// their reported lines in which a unit changes only where that hop offers it, as much as
// fits, and again until the amount is covered (at most MAX_PATHS paths). It works only on
// what the payer already knows (its lines, the invoice's view, its friends' lines, the
// probes' hops): it asks nobody. This was the daemon's first, stand-in router.

import { toHex } from '../../networks/hashing.ts'
import type { LineReport, PolicyReport } from './credit-messages.ts'
import type { PathHop, PaymentPath } from './payment-engine.ts'

export const MAX_PATHS = 8

const PPM = 1_000_000n

/** An account's lines and fee and offer policy, as it reports them. */
export interface NodeReport { lines: LineReport[], policy: PolicyReport }

interface Edge { from: string, to: string, toKey: Uint8Array, unit: string, capacity: bigint }

/** Paths for `amount` of `unit` from `self` to `payee` over the reported lines (hex account → report), covering as much as fits (possibly nothing). */
export function unitConvertingPaths (reports: Map<string, NodeReport>, selfHex: string, payeeHex: string, amount: bigint, unit: string): PaymentPath[] {
  const edges = edgesOf(reports)
  const residual = new Map<string, bigint>(edges.map((e) => [edgeKey(e.from, e.to, e.unit), e.capacity]))
  const paths: PaymentPath[] = []
  let remaining = amount
  while (remaining > 0n && paths.length < MAX_PATHS) {
    const route = shortest(edges, residual, selfHex, payeeHex, unit, reports)
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
