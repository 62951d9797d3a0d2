// The Kademlia model (Maymounkov & Mazières 2002): the exact k-closest query, the
// k-bucket tables (§2.2) and the iterative lookup (§2.3) must find the true k closest
// nodes of a static network, in O(log N) hops.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { commonPrefixLength, compareDistance, KeyTable } from '../../src/sim/kademlia/key-space.ts'
import { SortedIds } from '../../src/sim/kademlia/sorted-ids.ts'
import { buildOverlay } from '../../src/sim/kademlia/overlay.ts'
import { MapProviderStore } from '../../src/sim/kademlia/provider-store.ts'
import { surveyHops } from '../../src/sim/kademlia/hop-survey.ts'
import { Random } from '../../src/sim/random.ts'

test('SortedIds.closest equals a brute-force scan, including near and equal keys', () => {
  const random = new Random(3)
  const ids = KeyTable.random(3000, random)
  const sorted = new SortedIds(ids)
  for (let i = 0; i < 300; i++) {
    // Random targets, and targets equal to or one bit away from a node id.
    const target = i % 3 === 0 ? random.fill(new Uint32Array(8)) : ids.key(random.int(ids.size))
    if (i % 3 === 2) target[7] = (target[7] ?? 0) ^ 1
    for (const k of [1, 20, 57]) assert.deepEqual(sorted.closest(target, k), sorted.closestByScan(target, k))
  }
})

test('every routing-table contact sits in the bucket of its shared prefix, at most k per bucket, and no bucket with room misses a node', () => {
  const overlay = buildOverlay(1500, 5, new MapProviderStore())
  const { tables, ids } = overlay
  for (let node = 0; node < overlay.nodes; node += 37) {
    const contacts = tables.contactsOf(node)
    const perBucket = new Map<number, number>()
    for (let i = 0; i < contacts.length; i++) {
      const c = contacts[i] ?? 0
      const bucket = tables.buckets[(tables.offsets[node] ?? 0) + i] ?? -1
      assert.notEqual(c, node)
      assert.equal(commonPrefixLength(ids.words, c, ids.key(node)), bucket)
      perBucket.set(bucket, (perBucket.get(bucket) ?? 0) + 1)
    }
    // A bucket with fewer than k contacts must hold every node of its range.
    const population = new Map<number, number>()
    for (let other = 0; other < overlay.nodes; other++) {
      if (other === node) continue
      const b = commonPrefixLength(ids.words, other, ids.key(node))
      population.set(b, (population.get(b) ?? 0) + 1)
    }
    for (const [bucket, size] of population) assert.equal(perBucket.get(bucket), Math.min(size, 20), `bucket ${bucket} of node ${node}`)
  }
})

test('iterative FIND_NODE finds exactly the k closest nodes for many random targets', () => {
  const overlay = buildOverlay(2000, 9, new MapProviderStore())
  const random = new Random(99)
  let checked = 0
  for (let i = 0; i < 200; i++) {
    const self = random.int(overlay.nodes)
    const target = random.fill(new Uint32Array(8))
    overlay.dht.findNode(self, target, (out) => {
      const truth = Array.from(overlay.sorted.closestByScan(target, 21)).filter((n) => n !== self).slice(0, 20)
      assert.deepEqual(out.closest, truth)
      for (let j = 1; j < out.closest.length; j++) assert.ok(compareDistance(overlay.ids.words, out.closest[j - 1] ?? 0, out.closest[j] ?? 0, target) < 0)
      assert.ok(out.converged)
      checked++
    })
  }
  overlay.sim.run()
  assert.equal(checked, 200)
})

test('GET_PROVIDERS finds the providers stored at the k closest nodes', () => {
  const store = new MapProviderStore()
  const overlay = buildOverlay(1000, 4, store)
  const random = new Random(1)
  const target = random.fill(new Uint32Array(8))
  for (const holder of overlay.sorted.closest(target, 20)) for (const p of [5, 6, 7]) store.add(holder, 0, p, 0)
  let found: number[] = []
  overlay.dht.getProviders(500, target, 0, 3, (out) => { found = out.providers })
  overlay.sim.run()
  assert.deepEqual(found.sort((a, b) => a - b), [5, 6, 7])
})

test('lookups take O(log N) hops: at 4,000 nodes the median is at most log2(N / k) and the max at most log2(N)', () => {
  const small = surveyHops(250, 200, 1, false)
  const large = surveyHops(4000, 400, 1, false)
  const log2n = Math.log2(4000)
  assert.ok(large.findNodeHops.median <= Math.ceil(Math.log2(4000 / 20)), `median ${large.findNodeHops.median}`)
  assert.ok(large.findNodeHops.max <= Math.ceil(log2n), `max ${large.findNodeHops.max}`)
  assert.ok(large.providerHops.median <= Math.ceil(Math.log2(4000 / 20)))
  // Sixteen times the nodes costs at most a couple of extra hops, not sixteen times as many.
  assert.ok(large.findNodeHops.mean - small.findNodeHops.mean <= 2, `${small.findNodeHops.mean} → ${large.findNodeHops.mean}`)
  assert.ok(large.findNodeHops.mean >= small.findNodeHops.mean)
})
