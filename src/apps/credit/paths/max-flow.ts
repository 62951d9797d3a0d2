// Max flow from a payer to a payee on a capacity view (Dinic, "Algorithm for solution of
// a problem of maximum flow in networks with power estimation", 1970): BFS levels, then a
// blocking flow of shortest augmenting paths, repeated; it stops as soon as the wanted
// amount flows, so a small payment on a large view costs one or two phases. The flow is
// then split into paths, widest first (max-bottleneck path on the flow's support, fewest
// hops on a tie), so a payment takes as few paths as the flow allows.
//
// A line's two directions are each other's residual edge (capacity-graph.ts), so the
// residual network after the flow is the lines' state after the payment.

import type { CapacityGraph } from './capacity-graph.ts'

export interface FlowOptions {
  /** Stop once this much flows (the payment's amount); default: the full max flow. */
  target?: bigint
  /** Links the view holds (1 = known); default: every link of the graph. */
  links?: Uint8Array
  /** Capacities to use instead of the graph's (a working copy with holds deducted). */
  capacity?: readonly bigint[]
}

export interface FlowPath {
  /** Node indices, payer first. */
  nodes: number[]
  /** Edge numbers, one per hop. */
  edges: number[]
  amount: bigint
}

export interface FlowResult {
  /** What flows: min(max flow, target). */
  value: bigint
  /** The flow split into paths whose amounts sum to `value`, widest first. */
  paths: FlowPath[]
}

/** Max flow from `source` to `sink` (node indices), capped at `options.target`, and its paths. */
export function maxFlow (graph: CapacityGraph, source: number, sink: number, options: FlowOptions = {}): FlowResult {
  if (source === sink) return { value: 0n, paths: [] }
  const n = graph.nodeCount
  const { links } = options
  const original = options.capacity ?? graph.capacity
  const residual = original.slice()
  const target = options.target
  const usable = (e: number): boolean => (links === undefined || links[e >> 1] === 1) && (residual[e] ?? 0n) > 0n
  const level = new Int32Array(n)
  const next = new Int32Array(n)
  const queue = new Int32Array(n)
  let value = 0n

  const bfs = (): boolean => {
    level.fill(-1)
    level[source] = 0
    let head = 0
    let tail = 0
    queue[tail++] = source
    while (head < tail) {
      const u = queue[head++] ?? 0
      for (const e of graph.out[u] ?? []) {
        const v = graph.to[e] ?? 0
        if ((level[v] ?? 0) < 0 && usable(e)) {
          level[v] = (level[u] ?? 0) + 1
          queue[tail++] = v
        }
      }
    }
    return (level[sink] ?? -1) >= 0
  }

  // One augmenting path along the level graph, pushing at most `limit`.
  const dfs = (u: number, limit: bigint): bigint => {
    if (u === sink) return limit
    const edges = graph.out[u] ?? []
    for (; (next[u] ?? 0) < edges.length; next[u] = (next[u] ?? 0) + 1) {
      const e = edges[next[u] ?? 0] ?? 0
      const v = graph.to[e] ?? 0
      if (level[v] !== (level[u] ?? 0) + 1 || !usable(e)) continue
      const r = residual[e] ?? 0n
      const pushed = dfs(v, limit < r ? limit : r)
      if (pushed > 0n) {
        residual[e] = r - pushed
        residual[e ^ 1] = (residual[e ^ 1] ?? 0n) + pushed
        return pushed
      }
    }
    return 0n
  }

  while ((target === undefined || value < target) && bfs()) {
    next.fill(0)
    for (;;) {
      const want = target === undefined ? -1n : target - value
      if (want === 0n) break
      const pushed = dfs(source, want < 0n ? (1n << 255n) : want)
      if (pushed === 0n) break
      value += pushed
    }
  }
  return { value, paths: decompose(graph, source, sink, original, residual, value) }
}

/** Splits the net flow (original − residual) into source → sink paths, widest first. */
function decompose (graph: CapacityGraph, source: number, sink: number, original: readonly bigint[], residual: readonly bigint[], value: bigint): FlowPath[] {
  if (value === 0n) return []
  // Net flow per directed edge; of a link's two edges at most one carries flow.
  const flow = new Map<number, bigint>()
  const support = new Map<number, number[]>()
  for (let e = 0; e < original.length; e++) {
    const f = (original[e] ?? 0n) - (residual[e] ?? 0n)
    if (f <= 0n) continue
    flow.set(e, f)
    const u = graph.from[e] ?? 0
    const list = support.get(u)
    if (list === undefined) support.set(u, [e])
    else list.push(e)
  }
  const paths: FlowPath[] = []
  let left = value
  while (left > 0n) {
    const path = widestPath(graph, source, sink, flow, support)
    if (path === undefined) break // cannot happen while flow is conserved; guards a bug from looping
    const amount = path.width < left ? path.width : left
    for (const e of path.edges) flow.set(e, (flow.get(e) ?? 0n) - amount)
    paths.push({ nodes: path.nodes, edges: path.edges, amount })
    left -= amount
  }
  return paths
}

/** The max-bottleneck path over edges with flow left (Dijkstra on the bottleneck), fewest hops on a tie. */
function widestPath (graph: CapacityGraph, source: number, sink: number, flow: Map<number, bigint>, support: Map<number, number[]>): { nodes: number[], edges: number[], width: bigint } | undefined {
  const width = new Map<number, bigint>([[source, 1n << 255n]])
  const hops = new Map<number, number>([[source, 0]])
  const via = new Map<number, number>()
  const done = new Set<number>()
  for (;;) {
    let u = -1
    let best = 0n
    for (const [node, w] of width) {
      if (done.has(node)) continue
      if (u < 0 || w > best || (w === best && (hops.get(node) ?? 0) < (hops.get(u) ?? 0))) { u = node; best = w }
    }
    if (u < 0 || best === 0n) return undefined
    if (u === sink) break
    done.add(u)
    for (const e of support.get(u) ?? []) {
      const f = flow.get(e) ?? 0n
      if (f <= 0n) continue
      const v = graph.to[e] ?? 0
      if (done.has(v)) continue
      const w = f < best ? f : best
      const h = (hops.get(u) ?? 0) + 1
      const old = width.get(v)
      if (old === undefined || w > old || (w === old && h < (hops.get(v) ?? 0))) {
        width.set(v, w)
        hops.set(v, h)
        via.set(v, e)
      }
    }
  }
  const edges: number[] = []
  const nodes: number[] = [sink]
  for (let v = sink; v !== source;) {
    const e = via.get(v) ?? -1
    edges.push(e)
    v = graph.from[e] ?? source
    nodes.push(v)
  }
  return { nodes: nodes.reverse(), edges: edges.reverse(), width: width.get(sink) ?? 0n }
}
