// The community-sized view of issue 6, path finding (a): every participant shares its own
// lines' capacities with the friends within a bounded radius r. Participant X then knows
// every line with an end at most r − 1 hops from X (its own lines, its friends' lines, …,
// out to r hops away). The payee attaches its view to the invoice; the payer unions it
// with its own and runs max flow there. With r = 2 the union holds every path of at most
// four hops between the two.
//
// What that costs, two ways (both counted by the simulator):
//   - pull, per payment: the payer and the payee each ask the nodes within r − 1 hops for
//     their lines (one request and one reply over each of the d hops to a node at distance
//     d: 2d messages), plus one message carrying the payee's view to the payer;
//   - push, amortised: every line a payment moved is announced to the nodes within r − 1
//     hops of either end (one message per node reached, relayed along a BFS tree).

import type { CapacityGraph } from './capacity-graph.ts'

/**
 * Hop distances from `center` up to `radius` (others −1). With `toward` set, a hop is
 * followed only where value can flow: out of the center ('out': over edges with at least
 * `least` capacity) or into it ('in': over edges whose reverse has that much); a friend
 * behind a line that cannot carry a useful part of the payment is not asked.
 */
export function hopDistances (graph: CapacityGraph, center: number, radius: number, into?: Int32Array, toward?: 'out' | 'in', least = 1n): { distance: Int32Array, reached: number[] } {
  const distance = into ?? new Int32Array(graph.nodeCount)
  distance.fill(-1)
  distance[center] = 0
  const reached = [center]
  for (let head = 0; head < reached.length; head++) {
    const u = reached[head] ?? 0
    const du = distance[u] ?? 0
    if (du >= radius) continue
    for (const e of graph.out[u] ?? []) {
      const v = graph.to[e] ?? 0
      if ((distance[v] ?? 0) >= 0) continue
      if (toward !== undefined && graph.cap(toward === 'out' ? e : e ^ 1) < least) continue
      distance[v] = du + 1
      reached.push(v)
    }
  }
  return { distance, reached }
}

export interface NeighbourhoodView {
  /** Links in the union view (1 = known). */
  links: Uint8Array
  /** Messages to gather it on demand (pull, see the header). */
  messages: number
  /** Links known. */
  size: number
}

/**
 * The payer's and the payee's radius-r views, and what pulling them costs. The payee's
 * side comes with the invoice; `sides: 'payee'` adds only the payer's own lines (known
 * without a message), `'both'` also what the payer pulls from its friends. Only friends
 * whose line can pass at least `least` the right way are asked (toward the payee from the
 * payer's side, toward the payee on the payee's side).
 */
export function neighbourhoodView (graph: CapacityGraph, payer: number, payee: number, radius: number, sides: 'payee' | 'both' = 'both', into?: NeighbourhoodView, least = 1n): NeighbourhoodView {
  const view = into ?? { links: new Uint8Array(graph.linkCount), messages: 0, size: 0 }
  const scratch = new Int32Array(graph.nodeCount)
  const add = (center: number, r: number, toward: 'out' | 'in'): void => {
    const { distance, reached } = hopDistances(graph, center, r, scratch, toward, least)
    for (const x of reached) {
      view.messages += 2 * (distance[x] ?? 0)
      for (const e of graph.out[x] ?? []) {
        if (view.links[e >> 1] === 0) { view.links[e >> 1] = 1; view.size++ }
      }
    }
  }
  if (into === undefined) {
    view.messages += 1 // the payee's view, sent after the invoice
    add(payee, radius - 1, 'in')
    add(payer, 0, 'out')
  }
  if (sides === 'both') add(payer, radius - 1, 'out')
  return view
}

/** Nodes within `radius` of each node (itself included): the push cost of announcing a change of its lines. */
export function ballSizes (graph: CapacityGraph, radius: number): Int32Array {
  const sizes = new Int32Array(graph.nodeCount)
  const scratch = new Int32Array(graph.nodeCount)
  for (let u = 0; u < graph.nodeCount; u++) sizes[u] = hopDistances(graph, u, radius, scratch).reached.length
  return sizes
}
