// SpeedyMurmurs (NDSS 2018) §IV: prefix coordinates of BFS spanning trees, tree distance,
// greedy next hops among neighbours with enough capacity, the random split; on hand-built
// graphs whose answers can be worked out by hand.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CapacityGraph } from '../../../../src/apps/credit/paths/capacity-graph.ts'
import { buildEmbedding, embeddingRoute, greedyRoute, highestDegreeNodes, randomSplit, treeDistance, treePath } from '../../../../src/apps/credit/paths/speedy-murmurs.ts'

// r is the root; a, b its children; c, d children of a; e child of b; a shortcut link d–e.
//        r
//      /   \
//     a     b
//    / \     \
//   c   d ——— e
function tree (cap = 10n): CapacityGraph {
  const g = new CapacityGraph()
  for (const [x, y] of [['r', 'a'], ['r', 'b'], ['a', 'c'], ['a', 'd'], ['b', 'e'], ['d', 'e']] as const) g.addLink(x, y, cap, cap)
  return g
}

function counter (): () => number {
  let n = 0
  return () => ++n
}

test('coordinates are the parent\'s plus one word, and tree distance counts hops through the common prefix', () => {
  const g = tree()
  const i = (id: string): number => g.indexOf(id) ?? -1
  const emb = buildEmbedding(g, [i('r')], counter())
  const c = emb.coordinates[0] ?? []
  assert.deepEqual(c[i('r')], [])
  assert.deepEqual(c[i('a')], [1])
  assert.deepEqual(c[i('b')], [2])
  assert.deepEqual(c[i('c')], [1, 3])
  assert.deepEqual(c[i('d')], [1, 4])
  assert.deepEqual(c[i('e')], [2, 5], 'e hangs under b (BFS reaches it from b first), not under d')
  assert.equal(treeDistance(c[i('c')] ?? [], c[i('d')] ?? []), 2)
  assert.equal(treeDistance(c[i('c')] ?? [], c[i('e')] ?? []), 4)
  assert.equal(treeDistance(c[i('r')] ?? [], c[i('e')] ?? []), 2)
  assert.equal(treeDistance(c[i('d')] ?? [], c[i('d')] ?? []), 0)
})

test('greedy routing takes the shortcut that brings it closer in the tree, and only links that can carry the share', () => {
  const g = tree()
  const i = (id: string): number => g.indexOf(id) ?? -1
  const emb = buildEmbedding(g, [i('r')], counter())
  const coord = emb.coordinates[0] ?? []
  // From d to e: tree distance 4 via r, but the link d–e leads to distance 0.
  const direct = greedyRoute(g, coord, i('d'), i('e'), 5n, g.capacity)
  assert.deepEqual(g.idsOf(direct.path?.nodes ?? []), ['d', 'e'])
  // With d–e too small, d must climb to a (distance 3 < 4) and on through r.
  const capacity = g.capacity.slice()
  const de = g.edgeBetween(i('d'), i('e'))
  capacity[de] = 4n
  const around = greedyRoute(g, coord, i('d'), i('e'), 5n, capacity)
  assert.deepEqual(g.idsOf(around.path?.nodes ?? []), ['d', 'a', 'r', 'b', 'e'])
  // With a–r too small as well, a has no closer neighbour that can carry 5: stuck after one hop.
  capacity[g.edgeBetween(i('a'), i('r'))] = 4n
  const stuck = greedyRoute(g, coord, i('d'), i('e'), 5n, capacity)
  assert.equal(stuck.path, undefined)
  assert.equal(stuck.hopsWalked, 1)
})

test('the random split sums to the amount; the equal split without randomness', () => {
  let x = 0.123
  const random = (): number => { x = (x * 9301 + 0.49297) % 1; return x }
  for (const amount of [0n, 1n, 7n, 1_000_000_007n]) {
    const shares = randomSplit(amount, 3, random)
    assert.equal(shares.length, 3)
    assert.equal(shares.reduce((a, b) => a + b, 0n), amount)
    assert.ok(shares.every((s) => s >= 0n))
  }
  assert.deepEqual(randomSplit(9n, 3), [3n, 3n, 3n])
})

test('embedding routing over several trees: shares add up, holds of one share count against the next', () => {
  const g = tree(6n)
  const i = (id: string): number => g.indexOf(id) ?? -1
  const emb = buildEmbedding(g, highestDegreeNodes(g, 2), counter())
  assert.deepEqual(emb.roots.map((r) => g.ids[r]), ['a', 'r'], 'a has degree 3; r comes first of those with 2')
  const ok = embeddingRoute(g, emb, i('c'), i('e'), 6n, undefined)
  assert.ok(ok.paths !== undefined)
  assert.deepEqual(ok.paths.map((p) => p.amount), [3n, 3n])
  // c's only line carries 6: shares of 4 and 3 each fit alone, but the first one's hold
  // leaves 2 for the second, so the payment fails whole.
  const no = embeddingRoute(g, emb, i('c'), i('e'), 7n, undefined)
  assert.equal(no.paths, undefined)
  assert.ok(no.probeMessages > 0)
  // One path for the whole amount: the first tree that carries it.
  const one = treePath(g, emb, i('c'), i('e'), 6n)
  assert.equal(one.path?.amount, 6n)
  assert.equal(treePath(g, emb, i('c'), i('e'), 7n).path, undefined)
})

test('a tree takes parents over lines with credit both ways first, then one-way lines, then the rest', () => {
  // r–b extends credit one way only; r–a and a–b both ways; c hangs on b by a line that is empty both ways.
  const g = new CapacityGraph()
  g.addLink('r', 'b', 10n, 0n)
  g.addLink('r', 'a', 10n, 10n)
  g.addLink('a', 'b', 10n, 10n)
  g.addLink('b', 'c', 0n, 0n)
  g.addLink('r', 'd', 0n, 7n)
  const i = (id: string): number => g.indexOf(id) ?? -1
  const c = buildEmbedding(g, [i('r')], counter()).coordinates[0] ?? []
  assert.equal(c[i('a')]?.length, 1)
  assert.deepEqual(c[i('b')]?.slice(0, 1), c[i('a')], 'b hangs under a (two-way), not under r (one-way)')
  assert.equal(c[i('d')]?.length, 1, 'd, reached only over a one-way line, hangs under r in the second pass')
  assert.equal(c[i('c')]?.length, 3, 'c, behind an empty line, in the third')
})
