// Dinic's max flow against a brute-force minimum cut on small random graphs (max-flow
// min-cut theorem), and the path decomposition: it sums to the flow, every path runs
// from payer to payee over existing edges, and all paths together fit the capacities.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CapacityGraph } from '../../../../src/apps/credit/paths/capacity-graph.ts'
import { maxFlow } from '../../../../src/apps/credit/paths/max-flow.ts'

interface Spec { n: number, links: Array<[number, number, number, number]> }

const specArb = fc.integer({ min: 2, max: 7 }).chain((n) => fc.record({
  n: fc.constant(n),
  links: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1), fc.nat(20), fc.nat(20)), { maxLength: 16 })
}))

function build (spec: Spec): CapacityGraph {
  const g = new CapacityGraph()
  for (let i = 0; i < spec.n; i++) g.node(String(i))
  const seen = new Set<string>()
  for (const [a, b, ab, ba] of spec.links) {
    const key = a < b ? `${a} ${b}` : `${b} ${a}`
    if (a === b || seen.has(key)) continue
    seen.add(key)
    g.addLink(String(a), String(b), BigInt(ab), BigInt(ba))
  }
  return g
}

/** Minimum over every cut (S ∋ source, not sink) of the capacity leaving S. */
function bruteMinCut (g: CapacityGraph, s: number, t: number): bigint {
  let best: bigint | undefined
  for (let mask = 0; mask < 1 << g.nodeCount; mask++) {
    if ((mask >> s & 1) === 0 || (mask >> t & 1) === 1) continue
    let cut = 0n
    for (let e = 0; e < g.edgeCount; e++) {
      if ((mask >> (g.from[e] ?? 0) & 1) === 1 && (mask >> (g.to[e] ?? 0) & 1) === 0) cut += g.cap(e)
    }
    if (best === undefined || cut < best) best = cut
  }
  return best ?? 0n
}

function checkPaths (g: CapacityGraph, s: number, t: number, result: ReturnType<typeof maxFlow>): void {
  let total = 0n
  const used = new Map<number, bigint>()
  for (const p of result.paths) {
    assert.ok(p.amount > 0n)
    assert.equal(p.nodes[0], s)
    assert.equal(p.nodes[p.nodes.length - 1], t)
    assert.equal(p.edges.length, p.nodes.length - 1)
    assert.equal(new Set(p.nodes).size, p.nodes.length, 'a path visits a node once')
    p.edges.forEach((e, i) => {
      assert.equal(g.from[e], p.nodes[i])
      assert.equal(g.to[e], p.nodes[i + 1])
      used.set(e, (used.get(e) ?? 0n) + p.amount)
    })
    total += p.amount
  }
  assert.equal(total, result.value, 'the paths carry exactly the flow')
  for (const [e, amount] of used) assert.ok(amount <= g.cap(e), `edge ${e} carries ${amount} > ${g.cap(e)}`)
  // All the paths settle together on a copy of the graph (holds never overdraw a line).
  const copy = build({ n: 0, links: [] })
  for (let i = 0; i < g.nodeCount; i++) copy.node(g.ids[i] ?? '')
  for (let k = 0; k < g.linkCount; k++) copy.addLink(g.ids[g.from[2 * k] ?? 0] ?? '', g.ids[g.to[2 * k] ?? 0] ?? '', g.cap(2 * k), g.cap(2 * k + 1))
  for (const p of result.paths) for (const e of p.edges) copy.move(e, p.amount)
}

test('max flow equals the brute-force minimum cut, and its paths sum to it within capacities', () => {
  fc.assert(fc.property(specArb, fc.nat(6), fc.nat(6), (spec, a, b) => {
    const g = build(spec)
    const s = a % spec.n
    const t = b % spec.n
    fc.pre(s !== t)
    const r = maxFlow(g, s, t)
    assert.equal(r.value, bruteMinCut(g, s, t))
    checkPaths(g, s, t, r)
  }), { numRuns: 400 })
})

test('with a target the flow stops at min(target, max flow) and the paths cover exactly that', () => {
  fc.assert(fc.property(specArb, fc.nat(6), fc.nat(6), fc.integer({ min: 1, max: 60 }), (spec, a, b, target) => {
    const g = build(spec)
    const s = a % spec.n
    const t = b % spec.n
    fc.pre(s !== t)
    const full = bruteMinCut(g, s, t)
    const r = maxFlow(g, s, t, { target: BigInt(target) })
    assert.equal(r.value, full < BigInt(target) ? full : BigInt(target))
    checkPaths(g, s, t, r)
  }), { numRuns: 300 })
})

test('a link outside the view carries nothing', () => {
  const g = new CapacityGraph()
  g.addLink('a', 'b', 5n, 0n)
  g.addLink('b', 'c', 5n, 0n)
  g.addLink('a', 'c', 3n, 0n)
  const [a, c] = [g.indexOf('a') ?? -1, g.indexOf('c') ?? -1]
  assert.equal(maxFlow(g, a, c).value, 8n)
  const links = Uint8Array.from([1, 0, 1])
  const r = maxFlow(g, a, c, { links })
  assert.equal(r.value, 3n)
  assert.deepEqual(r.paths.map((p) => g.idsOf(p.nodes)), [['a', 'c']])
})

test('the widest path comes first, so a payment one path can carry takes one path', () => {
  const g = new CapacityGraph()
  // a–x–d carries 4, a–y–z–d carries 10: Dinic's first phase takes the short path, yet the
  // decomposition of a flow of 10 must not split what the long path carries alone.
  g.addLink('a', 'x', 4n, 0n)
  g.addLink('x', 'd', 4n, 0n)
  g.addLink('a', 'y', 10n, 0n)
  g.addLink('y', 'z', 10n, 0n)
  g.addLink('z', 'd', 10n, 0n)
  const r = maxFlow(g, g.indexOf('a') ?? -1, g.indexOf('d') ?? -1, { target: 14n })
  assert.equal(r.value, 14n)
  assert.deepEqual(r.paths.map((p) => [g.idsOf(p.nodes).join(''), p.amount]), [['ayzd', 10n], ['axd', 4n]])
})
