// Embedding-based routing in the style of SpeedyMurmurs (Roos, Moreno-Sanchez, Kate,
// Goldberg, "Settling Payments Fast and Private: Efficient Decentralized Routing for
// Path-Based Transactions", NDSS 2018):
//   - §IV-A: L landmarks (here the L nodes of highest degree) each root a BFS spanning
//     tree of the links (links with credit both ways first, as the authors' simulator does); a node's coordinate in a tree is its parent's followed by one
//     random word (prefix embedding), so tree distance is
//     |x| + |y| − 2·(common prefix length of x and y);
//   - §IV-C: the payer splits the amount at random into L shares, one per tree; each hop
//     forwards a share to the neighbour (over any link, not only tree edges) that is
//     closest to the payee in that tree, among those strictly closer than itself whose
//     link can carry the share; no such neighbour = the share, and the payment, fail.
// The trees' on-demand repair (§IV-D) is not modelled: the simulated topology is static.

import type { CapacityGraph } from './capacity-graph.ts'
import type { FlowPath } from './max-flow.ts'

export interface Embedding {
  roots: number[]
  /** coordinates[tree][node]: the node's prefix coordinate, or undefined if the tree does not reach it. */
  coordinates: Array<Array<number[] | undefined>>
}

/** The L highest-degree nodes (ties: lower index), the landmarks of §IV-A. */
export function highestDegreeNodes (graph: CapacityGraph, count: number): number[] {
  const order = Array.from({ length: graph.nodeCount }, (_, i) => i)
  order.sort((a, b) => (graph.out[b]?.length ?? 0) - (graph.out[a]?.length ?? 0) || a - b)
  return order.slice(0, Math.min(count, order.length))
}

/**
 * BFS spanning trees from the roots and their prefix coordinates; `word()` draws each
 * random coordinate word. As in the SpeedyMurmurs authors' simulator (its spanning-tree
 * construction takes parents over links with credit both ways first, then either way,
 * then any link), each tree grows in three passes: the BFS over links that carry value
 * both ways, then from every node reached it goes on over links that carry it one way,
 * then over the rest. On a graph whose lines all carry value both ways that is one plain BFS.
 */
export function buildEmbedding (graph: CapacityGraph, roots: readonly number[], word: () => number): Embedding {
  const coordinates: Embedding['coordinates'] = []
  // 0: value both ways, 1: one way, 2: neither (the capacities when the trees are built).
  const kind = (e: number): number => (graph.cap(e) > 0n ? 0 : 1) + (graph.cap(e ^ 1) > 0n ? 0 : 1)
  for (const root of roots) {
    const coord = Array.from<number[] | undefined>({ length: graph.nodeCount })
    coord[root] = []
    const reached = [root]
    for (let pass = 0; pass < 3; pass++) {
      const queue = reached.slice()
      for (let head = 0; head < queue.length; head++) {
        const u = queue[head] ?? 0
        const cu = coord[u] ?? []
        for (const e of graph.out[u] ?? []) {
          const v = graph.to[e] ?? 0
          if (coord[v] !== undefined || kind(e) > pass) continue
          coord[v] = [...cu, word()]
          queue.push(v)
          reached.push(v)
        }
      }
    }
    coordinates.push(coord)
  }
  return { roots: [...roots], coordinates }
}

/** Tree distance between two prefix coordinates: |x| + |y| − 2·cpl(x, y). */
export function treeDistance (x: readonly number[], y: readonly number[]): number {
  let cpl = 0
  const n = Math.min(x.length, y.length)
  while (cpl < n && x[cpl] === y[cpl]) cpl++
  return x.length + y.length - 2 * cpl
}

/**
 * The greedy route of one share in one tree over working capacities: each hop the
 * neighbour closest to the payee among those strictly closer and able to carry the share
 * (lowest edge number on a tie). Returns the path, or the hops walked before it got stuck.
 */
export function greedyRoute (graph: CapacityGraph, coord: ReadonlyArray<number[] | undefined>, source: number, sink: number, share: bigint, capacity: readonly bigint[]): { path: FlowPath | undefined, hopsWalked: number } {
  const target = coord[sink]
  let current = source
  const nodes = [source]
  const edges: number[] = []
  if (target === undefined || coord[source] === undefined) return { path: undefined, hopsWalked: 0 }
  while (current !== sink) {
    const here = treeDistance(coord[current] ?? [], target)
    let best = -1
    let bestDistance = here
    for (const e of graph.out[current] ?? []) {
      if ((capacity[e] ?? 0n) < share) continue
      const c = coord[graph.to[e] ?? 0]
      if (c === undefined) continue
      const d = treeDistance(c, target)
      if (d < bestDistance) { best = e; bestDistance = d }
    }
    if (best < 0) return { path: undefined, hopsWalked: edges.length }
    edges.push(best)
    current = graph.to[best] ?? 0
    nodes.push(current)
  }
  return { path: { nodes, edges, amount: share }, hopsWalked: edges.length }
}

/** §IV-C's random split: `parts` shares summing to `amount`, at uniform random cut points (equal shares without `random`). */
export function randomSplit (amount: bigint, parts: number, random?: () => number): bigint[] {
  if (random === undefined) {
    const n = BigInt(parts)
    return Array.from({ length: parts }, (_, i) => amount / n + (BigInt(i) < amount % n ? 1n : 0n))
  }
  const cuts = Array.from({ length: parts - 1 }, () => random()).sort((a, b) => a - b)
  const shares: bigint[] = []
  let previous = 0n
  const scale = 1n << 32n
  for (const c of cuts) {
    const at = amount * BigInt(Math.floor(c * 2 ** 32)) / scale
    shares.push(at - previous)
    previous = at
  }
  shares.push(amount - previous)
  return shares
}

export interface EmbeddingRoute {
  /** The share paths (empty shares skipped), or undefined when a share found no path. */
  paths: FlowPath[] | undefined
  /** Probe messages: every hop a share's probe crossed, forward and back. */
  probeMessages: number
}

/** Routes `amount` over the embedding's trees: a random split, one greedy share per tree, holds deducted as it goes. */
export function embeddingRoute (graph: CapacityGraph, embedding: Embedding, source: number, sink: number, amount: bigint, random: (() => number) | undefined, capacity: readonly bigint[] = graph.capacity): EmbeddingRoute {
  const shares = randomSplit(amount, embedding.coordinates.length, random)
  const working = capacity.slice()
  const paths: FlowPath[] = []
  let probeMessages = 0
  let failed = false
  // The shares are probed in parallel (§IV-C), so a failed share does not save the others' messages.
  for (let t = 0; t < shares.length; t++) {
    const share = shares[t] ?? 0n
    if (share === 0n) continue
    const { path, hopsWalked } = greedyRoute(graph, embedding.coordinates[t] ?? [], source, sink, share, working)
    probeMessages += 2 * hopsWalked
    if (path === undefined) { failed = true; continue }
    for (const e of path.edges) {
      working[e] = (working[e] ?? 0n) - share
      working[e ^ 1] = (working[e ^ 1] ?? 0n) + share
    }
    paths.push(path)
  }
  return { paths: failed ? undefined : paths, probeMessages }
}

/**
 * The whole amount on one path: the trees tried in turn, the first greedy route that
 * carries it wins. Meant for ILP-style routing where the prepare itself is the probe
 * (each hop places its hold and picks the next hop from its own lines), so a tree tried
 * costs its hops walked, forward and back, and a success needs no separate payment round.
 */
export function treePath (graph: CapacityGraph, embedding: Embedding, source: number, sink: number, amount: bigint, capacity: readonly bigint[] = graph.capacity): { path: FlowPath | undefined, hopsWalked: number } {
  let walked = 0
  for (const coord of embedding.coordinates) {
    const r = greedyRoute(graph, coord, source, sink, amount, capacity)
    walked += r.hopsWalked
    if (r.path !== undefined) return { path: r.path, hopsWalked: walked }
  }
  return { path: undefined, hopsWalked: walked }
}
