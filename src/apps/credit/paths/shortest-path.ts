// The baseline of the Flash and SpeedyMurmurs papers: one path, the fewest hops over edges
// that can each carry the whole amount (BFS; hops all cost the same). No split: a payment
// larger than every single path's bottleneck fails even when a split would carry it.

import type { CapacityGraph } from './capacity-graph.ts'

/** The fewest-hop path of edges each carrying ≥ amount, as node and edge indices, or undefined. */
export function shortestPath (graph: CapacityGraph, source: number, sink: number, amount: bigint, capacity: readonly bigint[] = graph.capacity, links?: Uint8Array): { nodes: number[], edges: number[] } | undefined {
  if (source === sink) return undefined
  const via = new Int32Array(graph.nodeCount).fill(-1)
  const seen = new Uint8Array(graph.nodeCount)
  const queue = [source]
  seen[source] = 1
  for (let head = 0; head < queue.length; head++) {
    const u = queue[head] ?? 0
    for (const e of graph.out[u] ?? []) {
      const v = graph.to[e] ?? 0
      if (seen[v] === 1 || (capacity[e] ?? 0n) < amount || (links !== undefined && links[e >> 1] !== 1)) continue
      seen[v] = 1
      via[v] = e
      if (v === sink) {
        const edges: number[] = []
        const nodes = [sink]
        for (let x = sink; x !== source;) {
          const back = via[x] ?? -1
          edges.push(back)
          x = graph.from[back] ?? source
          nodes.push(x)
        }
        return { nodes: nodes.reverse(), edges: edges.reverse() }
      }
      queue.push(v)
    }
  }
  return undefined
}
