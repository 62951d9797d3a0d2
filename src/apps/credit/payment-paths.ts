// The daemon's path finding for `credit pay` (issue 6, path finding): the router of
// paths/router.ts (`route('peernet', …)`) run on what this payer can know, gathered in the
// router's order and only as far as needed, each step re-running the router on the
// bigger view:
//   0. the invoice: the payee's radius-2 view (its lines and what its friends told it,
//      their fees and tree coordinates) joined to this node's own lines and its friends'
//      coordinates. Often the route is already there: no further message.
//   1. if one of our lines and one of the payee's can carry the whole amount: probes
//      along the spanning trees (tree-embedding.ts), one tree after another, for the whole
//      amount. The router's 'peernet' lets the ILP prepares probe; the payment engine
//      source-routes its prepares, so here a probe walks first (SpeedyMurmurs §IV-C) and
//      tells the payer the hops it took, each hop's fee and what its line to the next can
//      carry, up to the amount asked (never more: a line's full capacity stays between
//      the two friends);
//   2. our friends' lines (a node answers only its friends), then max flow on the union;
//   3. probes for the random split: one equal share per tree, all trees at once.
// Each step adds what it learnt to the view and calls `route()` again, so the paths are
// always the router's, on links whose capacities the payer was told. When the payment's
// unit cannot be reached in one unit, the known exchange offers are tried
// (unit-converting-paths.ts): the router routes one unit.
//
// Fees: each intermediary's fee comes from its report or its probe hop; an account known
// only as the far end of someone's line counts as charging none (if it does charge, its
// forward falls short and the payment fails cleanly). As in router.ts, a path is chosen
// for its amount; the fees ride on top, within the payer's cap. When a line cannot carry
// a path's amount with the fees still to be paid beyond it (every hold does carry them),
// the gross amount is routed instead and each path gets its share of the payment.
//
// Tie-break: a probe hop picks, among its neighbours strictly closer to the payee with
// room, the closest, then the smallest account (hex); the view adds its links in order
// of (smaller account, larger account), so the router's greedy step (lowest edge number
// on a tie) picks the same neighbour and finds the probed path again.

import { toHex } from '../../networks/hashing.ts'
import { CapacityGraph } from './paths/capacity-graph.ts'
import { maxFlow } from './paths/max-flow.ts'
import { route } from './paths/router.ts'
import type { RouteMethod } from './paths/router.ts'
import type { Embedding } from './paths/speedy-murmurs.ts'
import { randomSplit, treeDistance } from './paths/speedy-murmurs.ts'
import { unitConvertingPaths } from './unit-converting-paths.ts'
import type { NodeReport } from './unit-converting-paths.ts'
import type { PaymentPath } from './payment-engine.ts'
import { forwardAmount, planPath } from './payment-engine.ts'

/** Per tree: the coordinate in this node's tree of that index (same root), or null. */
export type TreeCoords = Array<number[] | null>

/** An account in the payee's view, as the invoice carries it. */
export interface ViewNode {
  account: Uint8Array
  report: NodeReport
  /** Per tree: its root (hex) and coordinate, or null. */
  trees: Array<{ root: string, coord: number[] } | null>
}

/** One hop a probe took: `account` forwarded over its line to `next`, which can carry `out` (at most what was asked). */
export interface ProbeHop {
  account: Uint8Array
  next: Uint8Array
  unit: string
  out: bigint
  feePpm: number
  coord: number[]
}

export interface ProbeOutcome {
  /** The hops walked, the payer's first; complete when `reached`. */
  hops: ProbeHop[]
  reached: boolean
  /** Messages the probe cost (each hop forward, and the answer). */
  messages: number
}

export interface FindPathsInput {
  self: Uint8Array
  payee: Uint8Array
  amount: bigint
  unit: string
  /** This node's lines and policy. */
  own: NodeReport
  /** This node's trees in `unit`: roots, own coordinates, and its friends' (hex) coordinates. */
  trees: { roots: string[], self: TreeCoords, friends: Map<string, TreeCoords> }
  /** The invoice's view; the payee's `messages` to gather it. */
  invoice: { view: ViewNode[], messages: number }
  /** A friend's lines and policy (bounded wait; undefined when it does not answer). */
  ask: (friend: Uint8Array) => Promise<NodeReport | undefined>
  /** A probe along tree `tree` for `amount` (bounded wait). */
  probe: (tree: number, amount: bigint) => Promise<ProbeOutcome>
}

export interface FoundPaths {
  paths: PaymentPath[]
  /** How they were found (the last tried when none were). */
  method: RouteMethod | 'unit-converting'
  /** Messages spent finding them (invoice, views, pulls, probes), and the payment's prepares and fulfills when found. */
  messages: number
  /** When no paths: the most the known lines carry to the payee in one unit (max flow), for the error. */
  carries: bigint
}

/** What the payer knows, growing step by step. */
class Knowledge {
  readonly reports = new Map<string, NodeReport>()
  readonly keys = new Map<string, Uint8Array>()
  readonly coords = new Map<string, TreeCoords>()
  /** Links a probe crossed: from>to → what it can carry that way, and the sender's fee. */
  readonly probed = new Map<string, { from: string, to: string, out: bigint, unit: string, feePpm: number }>()

  key (k: Uint8Array): string {
    const h = toHex(k)
    if (!this.keys.has(h)) this.keys.set(h, k)
    return h
  }

  report (account: Uint8Array, r: NodeReport): void {
    this.reports.set(this.key(account), r)
    for (const l of r.lines) this.key(l.peer)
  }

  coord (account: string, tree: number, c: number[] | null, trees: number): void {
    if (c === null) return
    const have = this.coords.get(account) ?? Array.from<number[] | null>({ length: trees }).fill(null)
    have[tree] = c
    this.coords.set(account, have)
  }

  probe (hops: ProbeHop[], tree: number, trees: number): void {
    for (const h of hops) {
      const from = this.key(h.account)
      const to = this.key(h.next)
      this.coord(from, tree, h.coord, trees)
      const k = `${from}>${to}`
      const was = this.probed.get(k)
      if (was === undefined || was.out < h.out) this.probed.set(k, { from, to, out: h.out, unit: h.unit, feePpm: h.feePpm })
    }
  }

  feeOf (account: string, unit: string): number {
    const r = this.reports.get(account)
    if (r !== undefined) return r.policy.fees.find((f) => f.unit === unit)?.ppm ?? 0
    for (const p of this.probed.values()) if (p.from === account && p.unit === unit) return p.feePpm
    return 0
  }

  /** The capacity graph of `unit` the router runs on, links in (smaller, larger account) order. */
  graph (unit: string): CapacityGraph {
    const links = new Map<string, { a: string, b: string, ab: bigint, ba: bigint, exactAb: boolean, exactBa: boolean }>()
    const link = (x: string, y: string): { a: string, b: string, ab: bigint, ba: bigint, exactAb: boolean, exactBa: boolean } => {
      const [a, b] = x < y ? [x, y] : [y, x]
      const k = `${a} ${b}`
      let l = links.get(k)
      if (l === undefined) { l = { a, b, ab: 0n, ba: 0n, exactAb: false, exactBa: false }; links.set(k, l) }
      return l
    }
    // A report is exact (the line's holder said it); a probe's figure is a lower bound.
    for (const [x, r] of this.reports) {
      for (const line of r.lines) {
        if (line.unit !== unit) continue
        const y = toHex(line.peer)
        if (x === y) continue
        const l = link(x, y)
        const [xy, yx] = x === l.a ? ['ab', 'ba'] as const : ['ba', 'ab'] as const
        l[xy] = line.out
        l[yx] = line.in
        l[xy === 'ab' ? 'exactAb' : 'exactBa'] = true
        l[yx === 'ab' ? 'exactAb' : 'exactBa'] = true
      }
    }
    for (const p of this.probed.values()) {
      if (p.unit !== unit || p.from === p.to) continue
      const l = link(p.from, p.to)
      if (p.from === l.a) { if (!l.exactAb && p.out > l.ab) l.ab = p.out } else if (!l.exactBa && p.out > l.ba) l.ba = p.out
    }
    const graph = new CapacityGraph()
    for (const k of [...links.keys()].sort()) {
      const l = links.get(k)
      if (l === undefined) continue
      graph.addLink(l.a, l.b, l.ab, l.ba, this.feeOf(l.a, unit), this.feeOf(l.b, unit))
    }
    return graph
  }

  embedding (graph: CapacityGraph, trees: number): Embedding {
    const coordinates: Embedding['coordinates'] = []
    for (let t = 0; t < trees; t++) coordinates.push(graph.ids.map((id) => this.coords.get(id)?.[t] ?? undefined))
    return { roots: [], coordinates }
  }
}

/**
 * Paths for `amount` of `unit` to the payee, in the router's order (see the header); empty
 * when none carries the whole amount (a payment is never partly routed).
 */
export async function findPaymentPaths (input: FindPathsInput): Promise<FoundPaths> {
  const { amount, unit } = input
  const trees = input.trees.roots.length
  const know = new Knowledge()
  const self = know.key(input.self)
  const payee = know.key(input.payee)
  know.report(input.self, input.own)
  for (let t = 0; t < trees; t++) know.coord(self, t, input.trees.self[t] ?? null, trees)
  for (const [friend, c] of input.trees.friends) for (let t = 0; t < trees; t++) know.coord(friend, t, c[t] ?? null, trees)
  for (const v of input.invoice.view) {
    know.report(v.account, v.report)
    v.trees.forEach((p, t) => { if (p !== null && p.root === input.trees.roots[t]) know.coord(toHex(v.account), t, p.coord, trees) })
  }
  // The invoice's request and answer, and what the payee spent on its view.
  let messages = 2 + input.invoice.messages

  const routeFor = (total: bigint): { paths: PaymentPath[], method: RouteMethod, nodes: string[][] } => {
    const graph = know.graph(unit)
    const r = route('peernet', graph, self, payee, total, { embedding: know.embedding(graph, trees) })
    return {
      paths: r.paths.map((p) => ({ hops: p.hops.slice(1).map((h, i, hops) => ({ account: know.keys.get(h) as Uint8Array, unit, ...(i + 1 < hops.length ? { feePpm: know.feeOf(h, unit) } : {}) })), amount: p.amount })),
      method: r.method,
      nodes: r.paths.map((p) => p.hops)
    }
  }
  const attempt = (): { paths: PaymentPath[], method: RouteMethod, messages: number } => {
    let r = routeFor(amount)
    // The router routes the payment's amount; the fees ride on top of it hop by hop. When a
    // line cannot carry a path's amount with the fees still to pay beyond it, route the
    // gross amount and give each path its share of what the payee is to receive.
    const fees = r.paths.reduce((sum, p) => sum + planPath(p).sent - p.amount, 0n)
    if (fees > 0n && !fitsWithFees(know.graph(unit), r)) {
      const gross = routeFor(amount + fees)
      if (gross.paths.length > 0) {
        const total = amount + fees
        let left = amount
        const shares = gross.paths.map((p, i) => {
          const share = i === gross.paths.length - 1 ? left : p.amount * amount / total
          left -= share
          return { ...p, amount: share }
        })
        const scaled = { ...gross, paths: shares.filter((p) => p.amount > 0n), nodes: gross.nodes.filter((_, i) => (shares[i]?.amount ?? 0n) > 0n) }
        r = fitsWithFees(know.graph(unit), scaled) ? scaled : { ...r, paths: [], nodes: [] }
      } else {
        r = { ...r, paths: [], nodes: [] }
      }
    }
    let payment = 0
    for (const p of r.paths) payment += 2 * p.hops.length
    return { paths: r.paths, method: r.method, messages: payment }
  }
  const done = (r: ReturnType<typeof attempt>): FoundPaths => ({ paths: r.paths, method: r.method, messages: messages + r.messages, carries: amount })

  // 0. The invoice's view and our own lines.
  let r = attempt()
  if (r.paths.length > 0) return done(r)

  // 1. One line at each end carries the whole amount: the trees, one after another.
  const graph = know.graph(unit)
  const s = graph.indexOf(self)
  const d = graph.indexOf(payee)
  // As the router's stage 0: if our own lines, or the payee's as its invoice told them,
  // cannot carry the amount between them, no path in this unit can: no probe, and no
  // pull either unless we hold lines in another unit (our friends' offers could then
  // give a unit-converting path).
  const cut = s !== undefined && d !== undefined && (graph.totalCapacity(s, 'out') < amount || (know.reports.has(payee) && graph.totalCapacity(d, 'in') < amount))
  if (!cut && trees > 0 && s !== undefined && d !== undefined && graph.maxCapacity(s, 'out') >= amount && graph.maxCapacity(d, 'in') >= amount) {
    for (let t = 0; t < trees; t++) {
      const p = await input.probe(t, amount)
      messages += p.messages
      know.probe(p.hops, t, trees)
      if (p.reached) break
    }
    r = attempt()
    if (r.paths.length > 0) return done(r)
  }

  // 2. Our friends' lines (those whose line can carry something toward them), then max flow.
  const convertible = input.own.lines.some((l) => l.unit !== unit)
  const friends = cut && !convertible ? [] : input.own.lines.filter((l) => l.unit === unit && l.out > 0n && toHex(l.peer) !== payee && !know.reports.has(toHex(l.peer)))
  const answers = await Promise.all(friends.map(async (l) => [l.peer, await input.ask(l.peer)] as const))
  messages += 2 * friends.length
  for (const [peer, report] of answers) if (report !== undefined) know.report(peer, report)
  r = attempt()
  if (r.paths.length > 0) return done(r)

  // 3. The split over the trees: an equal share per tree (the router's split without randomness), probed at once.
  if (!cut && trees > 0) {
    const shares = randomSplit(amount, trees)
    const probes = await Promise.all(shares.map(async (share, t) => share > 0n ? await input.probe(t, share) : { hops: [], reached: false, messages: 0 }))
    probes.forEach((p, t) => { messages += p.messages; know.probe(p.hops, t, trees) })
    r = attempt()
    if (r.paths.length > 0) return done(r)
  }

  // Across units: the exchange offers the known accounts make.
  const converted = unitConvertingPaths(know.reports, self, payee, amount, unit)
  if (converted.length > 0 && converted.reduce((sum, p) => sum + p.amount, 0n) >= amount) {
    let payment = 0
    for (const p of converted) payment += 2 * p.hops.length
    return { paths: converted, method: 'unit-converting', messages: messages + payment, carries: amount }
  }
  const last = know.graph(unit)
  const from = last.indexOf(self)
  const to = last.indexOf(payee)
  const carries = from === undefined || to === undefined ? 0n : maxFlow(last, from, to).value
  return { paths: [], method: r.method, messages, carries }
}

/**
 * Whether every link of `graph` carries what the paths put on it with their fees: the
 * payer's first line the path's planned send (planPath), each later line what the hop
 * before passes on (forwardAmount, one unit), summed over the paths that share it.
 */
function fitsWithFees (graph: CapacityGraph, r: { paths: PaymentPath[], nodes: string[][] }): boolean {
  const load = new Map<number, bigint>()
  for (const [i, path] of r.paths.entries()) {
    const nodes = r.nodes[i] ?? []
    let carried = planPath(path).sent
    for (let h = 0; h + 1 < nodes.length; h++) {
      const u = graph.indexOf(nodes[h] ?? '')
      const v = graph.indexOf(nodes[h + 1] ?? '')
      const e = u === undefined || v === undefined ? -1 : graph.edgeBetween(u, v)
      if (e < 0) return false
      const total = (load.get(e) ?? 0n) + carried
      if (total > graph.cap(e)) return false
      load.set(e, total)
      // Hop h + 1 (an intermediary unless it is the payee) takes its fee off what it passes on.
      if (h + 1 < path.hops.length) carried = forwardAmount(carried, 1_000_000n, path.hops[h]?.feePpm ?? 0)
    }
  }
  return true
}

/**
 * A probe's next hop (SpeedyMurmurs §IV-C's greedy step, as every hop takes it): among
 * the friends strictly closer to the target coordinate than `here` whose line carries
 * `amount`, the closest, then the smallest account (hex) — the order in which the view
 * adds links, so the router's greedy step on the view picks the same friend.
 */
export function probeNextHop<T extends { account: string, out: bigint, coord: number[] | null | undefined }> (here: readonly number[], target: readonly number[], friends: readonly T[], amount: bigint): T | undefined {
  const own = treeDistance(here, target)
  let best: T | undefined
  let bestDistance = own
  for (const f of friends) {
    if (f.out < amount || f.coord === null || f.coord === undefined) continue
    const d = treeDistance(f.coord, target)
    if (d < bestDistance || (d === bestDistance && best !== undefined && f.account < best.account)) { best = f; bestDistance = d }
  }
  return best
}
