// Peernet's payment router (issue 6, path finding) and the one call the daemon makes:
//
//   route(view, from, to, amount, options) → { paths: [{ hops, amount, fee }], messages, method }
//
// `view` is the capacity graph the payer can see (in the daemon: its own lines, what its
// friends shared, and the neighbourhood the payee put in the invoice; in the simulator:
// the whole graph with `options.links` marking what the payer sees). `paths` is empty
// when no route carries the whole amount: payments are atomic, never partly routed.
// `messages` is what finding and paying the route costs, counted the same way for every
// router so they compare:
//   - discovery: the neighbourhood pulled (neighbourhood.ts), and every hop a probe
//     crosses, forward and back (embedding routing);
//   - payment: a prepare and a fulfill over every hop of every path (ILP, RFC 0027), only
//     when the payment goes ahead.
// The oracle baselines (`shortest`, `maxflow`) see the true graph for free: their count
// is the payment alone. Fees are reported per path (`fee`: each intermediary's ppm on
// the path's amount, rounded up) but not routed around: a path is chosen for its amount
// alone, and the payer checks the total against its cap (the simulated lines charge none).
//
// The runtime choice ('peernet'), cheapest first, each stage only if the one before
// found nothing (measured in bench/credit-sim.ts; README, "Credit path finding"):
//   0. the invoice (one message) says what the payee's own lines can take in; if they,
//      or the payer's own lines, cannot carry the amount between them, nothing can:
//      the payment fails there, for that one message;
//   1. if one line at each end can carry the whole amount (and it is at most
//      `smallAmount`, when given: Flash's mice/elephant split), one path along the
//      spanning trees, the ILP prepares doubling as probes: a few messages for the
//      many small payments;
//   2. max flow on the payee's radius-r view plus the payer's own lines, then with the
//      payer's friends' lines too, then (up to `maxRadius`) one radius wider: it finds
//      the splits no greedy router finds, on fresh capacities pulled only when needed;
//   3. the random split over the trees (prepares as probes), for payees too far away.
// The sim's `speedymurmurs` router keeps the paper's separate probe round; `peernet`
// lets the prepares probe, as an ILP connector does.

import type { CapacityGraph, RoutedPath } from './capacity-graph.ts'
import { maxFlow } from './max-flow.ts'
import type { FlowPath } from './max-flow.ts'
import { embeddingRoute, treePath } from './speedy-murmurs.ts'
import type { Embedding } from './speedy-murmurs.ts'
import { neighbourhoodView } from './neighbourhood.ts'
import { shortestPath } from './shortest-path.ts'

export const ROUTERS = ['peernet', 'speedymurmurs', 'shortest', 'maxflow'] as const
export type RouterName = typeof ROUTERS[number]

export type RouteMethod = 'neighbourhood' | 'embedding' | 'shortest' | 'maxflow'

export interface RouteOptions {
  /** Neighbourhood radius r (default 2). */
  radius?: number
  /** Widen the neighbourhood up to this radius when r falls short (default: r, no widening). */
  maxRadius?: number
  /** Ask only friends whose line carries more than amount / pullShare (default: any friend whose line carries anything). */
  pullShare?: number
  /** The spanning trees for embedding routing (speedymurmurs, and peernet's fallback). */
  embedding?: Embedding
  /** Uniform [0, 1) numbers for the random split (seeded in the simulator); without it, equal shares. */
  random?: () => number
  /** Links the payer sees (simulator); default every link of the view. */
  links?: Uint8Array
  /** Payments above this skip the one-tree-path stage of the peernet router (default: no limit). */
  smallAmount?: bigint
}

export interface IndexedRoute {
  /** Paths carrying the whole amount, or undefined. */
  paths: FlowPath[] | undefined
  messages: number
  /** How the paths were found (the last method tried when none were). */
  method: RouteMethod
}

export interface Route {
  paths: RoutedPath[]
  messages: number
  method: RouteMethod
}

/** Routes `amount` from `from` to `to` (account ids) on the view; see the header. */
export function route (router: RouterName, view: CapacityGraph, from: string, to: string, amount: bigint, options: RouteOptions = {}): Route {
  const s = view.indexOf(from)
  const t = view.indexOf(to)
  if (s === undefined || t === undefined || s === t || amount <= 0n) return { paths: [], messages: 0, method: router === 'speedymurmurs' ? 'embedding' : router === 'peernet' ? 'neighbourhood' : router }
  const r = routeIndexed(router, view, s, t, amount, options)
  return {
    paths: (r.paths ?? []).map((p) => ({ hops: view.idsOf(p.nodes), amount: p.amount, fee: view.feeOf(p.edges, p.amount) })),
    messages: r.messages,
    method: r.method
  }
}

/** `route` on node indices, with the working capacities (the simulator's form). */
export function routeIndexed (router: RouterName, graph: CapacityGraph, s: number, t: number, amount: bigint, options: RouteOptions = {}): IndexedRoute {
  switch (router) {
    case 'shortest': {
      const p = shortestPath(graph, s, t, amount, graph.capacity, options.links)
      return p === undefined ? { paths: undefined, messages: 0, method: 'shortest' } : { paths: [{ ...p, amount }], messages: 2 * p.edges.length, method: 'shortest' }
    }
    case 'maxflow': {
      const f = maxFlow(graph, s, t, { target: amount, links: options.links })
      return f.value < amount ? { paths: undefined, messages: 0, method: 'maxflow' } : { paths: f.paths, messages: payment(f.paths), method: 'maxflow' }
    }
    case 'speedymurmurs':
      return byEmbedding(graph, s, t, amount, options, 0, 'separate')
    case 'peernet': {
      // 0. The invoice (one message) tells the payer what the payee's own lines can take in.
      //    If those lines together, or the payer's own together, cannot carry the amount,
      //    no route can (every path leaves by one and arrives by the other): stop there,
      //    before any probe or pull.
      let spent = 1
      if (graph.totalCapacity(s, 'out', options.links) < amount || graph.totalCapacity(t, 'in', options.links) < amount) return { paths: undefined, messages: spent, method: 'neighbourhood' }
      // 1. When both ends have a line big enough (and up to `smallAmount`): one path along
      //    the trees, the prepares doubling as probes.
      if ((options.smallAmount === undefined || amount <= options.smallAmount) && graph.maxCapacity(s, 'out') >= amount && graph.maxCapacity(t, 'in') >= amount) {
        const p = treePath(graph, options.embedding ?? noEmbedding(), s, t, amount)
        spent += 2 * p.hopsWalked
        if (p.path !== undefined) return { paths: [p.path], messages: spent, method: 'embedding' }
      }
      // 2. Max flow on the neighbourhood union.
      const n = byNeighbourhood(graph, s, t, amount, options, spent)
      if (n.paths !== undefined) return n
      // 3. The random split over the trees, prepares as probes.
      return byEmbedding(graph, s, t, amount, options, n.messages, 'prepare')
    }
  }
}

function noEmbedding (): never {
  throw new RangeError('embedding routing needs options.embedding (buildEmbedding)')
}

function payment (paths: readonly FlowPath[]): number {
  let hops = 0
  for (const p of paths) hops += p.edges.length
  return 2 * hops
}

/**
 * Max flow on the payee's view and the payer's own lines; if that falls short, on the
 * payer's friends' lines too; then, up to `maxRadius`, the same one radius wider. Each
 * step is pulled only when the one before fell short, so its messages are paid only by
 * the payments that need it.
 */
function byNeighbourhood (graph: CapacityGraph, s: number, t: number, amount: bigint, options: RouteOptions, spent: number): IndexedRoute {
  const radius = options.radius ?? 2
  let messages = spent
  let f: ReturnType<typeof maxFlow> = { value: 0n, paths: [] }
  for (let r = radius; r <= Math.max(radius, options.maxRadius ?? radius) && f.value < amount; r++) {
    // A friend behind a line that cannot carry 1/pullShare of the amount is not asked.
    const least = options.pullShare === undefined ? 1n : amount / BigInt(options.pullShare) + 1n
    let view = neighbourhoodView(graph, s, t, r, 'payee', undefined, least)
    f = flowOn(graph, s, t, amount, view.links, options.links)
    if (f.value < amount && r > 1) {
      view = neighbourhoodView(graph, s, t, r, 'both', view, least)
      f = flowOn(graph, s, t, amount, view.links, options.links)
    }
    messages += view.messages
  }
  if (f.value < amount) return { paths: undefined, messages, method: 'neighbourhood' }
  return { paths: f.paths, messages: messages + payment(f.paths), method: 'neighbourhood' }
}

function flowOn (graph: CapacityGraph, s: number, t: number, amount: bigint, view: Uint8Array, visible: Uint8Array | undefined): ReturnType<typeof maxFlow> {
  let links = view
  if (visible !== undefined) {
    links = view.slice()
    for (let k = 0; k < links.length; k++) links[k] = (links[k] ?? 0) & (visible[k] ?? 0)
  }
  return maxFlow(graph, s, t, { target: amount, links })
}

/**
 * The random split over the trees. 'separate' probes first and pays after (SpeedyMurmurs
 * §IV-C: probe messages, then a prepare and a fulfill per hop); 'prepare' lets the
 * prepares probe (each hop holds and picks the next), so a hop costs two messages
 * whether the payment goes ahead (fulfill back) or not (reject back).
 */
function byEmbedding (graph: CapacityGraph, s: number, t: number, amount: bigint, options: RouteOptions, spent: number, probe: 'separate' | 'prepare' = 'separate'): IndexedRoute {
  const r = embeddingRoute(graph, options.embedding ?? noEmbedding(), s, t, amount, options.random, graph.capacity)
  const messages = spent + r.probeMessages
  if (r.paths === undefined || probe === 'prepare') return { paths: r.paths, messages, method: 'embedding' }
  return { paths: r.paths, messages: messages + payment(r.paths), method: 'embedding' }
}
