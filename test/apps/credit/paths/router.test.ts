// The router the daemon calls: account ids in, paths with fees and a message count out;
// the shortest-path baseline; and the peernet router's fallbacks on graphs built so that
// each stage is the one that must answer.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CapacityGraph } from '../../../../src/apps/credit/paths/capacity-graph.ts'
import { route } from '../../../../src/apps/credit/paths/router.ts'
import { shortestPath } from '../../../../src/apps/credit/paths/shortest-path.ts'
import { buildEmbedding, highestDegreeNodes } from '../../../../src/apps/credit/paths/speedy-murmurs.ts'
import { neighbourhoodView } from '../../../../src/apps/credit/paths/neighbourhood.ts'

function counter (): () => number {
  let n = 0
  return () => ++n
}

function line (length: number, cap: bigint): CapacityGraph {
  const g = new CapacityGraph()
  for (let i = 0; i < length; i++) g.addLink(`n${i}`, `n${i + 1}`, cap, cap)
  return g
}

test('shortest path takes the fewest hops among edges that carry the whole amount', () => {
  const g = new CapacityGraph()
  g.addLink('a', 'b', 5n, 5n)
  g.addLink('b', 'd', 5n, 5n)
  g.addLink('a', 'c', 50n, 50n)
  g.addLink('c', 'e', 50n, 50n)
  g.addLink('e', 'd', 50n, 50n)
  const i = (id: string): number => g.indexOf(id) ?? -1
  assert.deepEqual(g.idsOf(shortestPath(g, i('a'), i('d'), 5n)?.nodes ?? []), ['a', 'b', 'd'])
  assert.deepEqual(g.idsOf(shortestPath(g, i('a'), i('d'), 6n)?.nodes ?? []), ['a', 'c', 'e', 'd'])
  assert.equal(shortestPath(g, i('a'), i('d'), 51n), undefined)
})

test('route() speaks account ids and charges each intermediary its fee', () => {
  const g = new CapacityGraph()
  g.addLink('alice', 'bob', 1_000_000n, 0n, 50_000) // alice's own fee is never charged to herself
  g.addLink('bob', 'carol', 1_000_000n, 0n, 2_000) // bob forwards at 0.2 %
  g.addLink('carol', 'dave', 1_000_000n, 0n, 1) // carol at 1 ppm: 0.5 rounds up to 1
  const r = route('maxflow', g, 'alice', 'dave', 500_000n)
  assert.deepEqual(r.paths, [{ hops: ['alice', 'bob', 'carol', 'dave'], amount: 500_000n, fee: 1_000n + 1n }])
  assert.equal(r.messages, 6, 'a prepare and a fulfill per hop')
  assert.deepEqual(route('maxflow', g, 'alice', 'dave', 1_000_001n).paths, [], 'over capacity: no partial route')
  assert.deepEqual(route('shortest', g, 'alice', 'nobody', 1n).paths, [])
})

test('the neighbourhood union of radius 2 holds paths of up to four hops, not five', () => {
  const g = line(5, 10n)
  const i = (id: string): number => g.indexOf(id) ?? -1
  const middle = g.edgeBetween(i('n2'), i('n3')) >> 1
  const near = neighbourhoodView(g, i('n0'), i('n4'), 2)
  assert.equal(near.links[middle], 1, 'n3 is n4\'s friend and shares n2–n3')
  assert.equal(near.size, 5)
  const far = neighbourhoodView(g, i('n0'), i('n5'), 2)
  assert.equal(far.links[middle], 0, 'the middle link n2–n3 is nobody\'s within radius 2')
  assert.equal(far.size, 4)
  // n0 asks n1 (2 messages), n5 asks n4 (2), plus the view sent: 5.
  assert.equal(far.messages, 5)
})

test('peernet: neighbourhood max flow for a split the trees cannot find, embedding when the payee is too far', () => {
  // Two disjoint two-hop paths of 6 each between a and d: 10 needs both.
  const g = new CapacityGraph()
  g.addLink('a', 'x', 6n, 6n)
  g.addLink('x', 'd', 6n, 6n)
  g.addLink('a', 'y', 6n, 6n)
  g.addLink('y', 'd', 6n, 6n)
  const embedding = buildEmbedding(g, highestDegreeNodes(g, 1), counter())
  const split = route('peernet', g, 'a', 'd', 10n, { embedding, smallAmount: 100n })
  assert.equal(split.method, 'neighbourhood')
  assert.equal(split.paths.reduce((s, p) => s + p.amount, 0n), 10n)
  const small = route('peernet', g, 'a', 'd', 5n, { embedding, smallAmount: 100n })
  assert.equal(small.method, 'embedding', 'one tree path carries a small payment')
  assert.equal(small.paths.length, 1)

  const far = line(7, 10n)
  const farEmbedding = buildEmbedding(far, highestDegreeNodes(far, 2), counter())
  const r = route('peernet', far, 'n0', 'n7', 8n, { embedding: farEmbedding })
  assert.equal(r.method, 'embedding')
  assert.equal(r.paths.reduce((s, p) => s + p.amount, 0n), 8n)
  assert.deepEqual(r.paths[0]?.hops, ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'])
})

test('peernet widens the neighbourhood only when the narrower one falls short, and asks only useful friends', () => {
  const far = line(5, 10n) // n0 … n5: five hops, beyond what radius 2 joins
  const embedding = buildEmbedding(far, highestDegreeNodes(far, 1), counter())
  // smallAmount 0: no one-tree-path stage, so the neighbourhood is what answers first.
  const narrow = route('peernet', far, 'n0', 'n5', 4n, { embedding, smallAmount: 0n })
  assert.equal(narrow.method, 'embedding', 'radius 2 cannot join n0 and n5: the split over the trees does')
  const wide = route('peernet', far, 'n0', 'n5', 4n, { embedding, smallAmount: 0n, maxRadius: 3 })
  assert.equal(wide.method, 'neighbourhood')
  assert.deepEqual(wide.paths[0]?.hops, ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'])

  // The payee z pulls radius 3 (nodes up to 2 hops): m, then b and c behind m. c's line to
  // m carries 2; for 40 with pullShare 4 (a line must carry more than 10) c is not asked,
  // which saves its request and reply over two hops: 4 messages.
  const g = new CapacityGraph()
  g.addLink('a', 'b', 100n, 100n)
  g.addLink('a', 'c', 100n, 100n)
  g.addLink('b', 'm', 100n, 100n)
  g.addLink('c', 'm', 2n, 2n)
  g.addLink('m', 'z', 100n, 100n)
  const e = buildEmbedding(g, highestDegreeNodes(g, 1), counter())
  const all = route('peernet', g, 'a', 'z', 40n, { embedding: e, smallAmount: 0n, radius: 3 })
  const useful = route('peernet', g, 'a', 'z', 40n, { embedding: e, smallAmount: 0n, radius: 3, pullShare: 4 })
  assert.equal(all.method, 'neighbourhood')
  assert.equal(useful.method, 'neighbourhood')
  assert.equal(all.messages - useful.messages, 4)
})

test('peernet stops after the invoice when the payer\'s or the payee\'s lines together cannot carry the amount', () => {
  // a has two lines out (3 + 4), d two lines in (5 + 5); b–c and b–d are wide.
  const g = new CapacityGraph()
  g.addLink('a', 'b', 3n, 100n)
  g.addLink('a', 'c', 4n, 100n)
  g.addLink('b', 'c', 100n, 100n)
  g.addLink('b', 'd', 5n, 100n)
  g.addLink('c', 'd', 5n, 100n)
  const embedding = buildEmbedding(g, highestDegreeNodes(g, 2), counter())
  // 7 fits a's lines together (split 3 + 4): the router finds it, past the invoice.
  const fits = route('peernet', g, 'a', 'd', 7n, { embedding })
  assert.equal(fits.paths.reduce((s, p) => s + p.amount, 0n), 7n)
  assert.ok(fits.messages > 1)
  // 8 is more than a's lines carry together: one message (the invoice), no probe, no pull.
  assert.deepEqual(route('peernet', g, 'a', 'd', 8n, { embedding }), { paths: [], messages: 1, method: 'neighbourhood' })
  // Into d: 10 together; from b (its lines 100 + 100 + 5 out) 11 is past d's.
  assert.equal(route('peernet', g, 'b', 'd', 10n, { embedding }).paths.reduce((s, p) => s + p.amount, 0n), 10n)
  assert.deepEqual(route('peernet', g, 'b', 'd', 11n, { embedding }), { paths: [], messages: 1, method: 'neighbourhood' })
})
