// The mesh simulator's topologies and events files: sizes, connectivity, symmetry, and
// one clear error per malformed line.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Random } from '../../src/sim/random.ts'
import { components, degree, edgeIndex, linkCount, makeTopology, parseTopologyFile } from '../../src/sim/mesh/topology.ts'
import type { Topology } from '../../src/sim/mesh/topology.ts'
import { churnEvents, flapEvents, parseDuration, parseEvents, parseRatePerMinute } from '../../src/sim/mesh/events.ts'
import { EventsFileError, TopologyError } from '../../src/sim/mesh/errors.ts'

function assertWellFormed (t: Topology): void {
  for (let a = 0; a < t.nodes; a++) {
    for (let e = t.offsets[a] ?? 0; e < (t.offsets[a + 1] ?? 0); e++) {
      const b = t.targets[e] ?? -1
      assert.notEqual(a, b, 'no self-links')
      const r = t.reverse[e] ?? -1
      assert.equal(t.targets[r], a, 'the reverse edge leads back')
      assert.equal(t.latencyMs[r], t.latencyMs[e], 'both directions have the same latency')
      if (e > (t.offsets[a] ?? 0)) assert.ok((t.targets[e - 1] ?? 0) < b, 'neighbours sorted, no duplicates')
    }
  }
}

test('line, ring and grid have the expected links and are connected', () => {
  const r = new Random(1)
  const line = makeTopology('line', 10, r)
  assert.equal(linkCount(line), 9)
  const ring = makeTopology('ring', 10, r)
  assert.equal(linkCount(ring), 10)
  const grid = makeTopology('grid', 16, r)
  assert.equal(linkCount(grid), 2 * 4 * 3)
  const partial = makeTopology('grid', 14, r)
  for (const t of [line, ring, grid, partial]) {
    assertWellFormed(t)
    assert.equal(components(t).count, 1)
  }
  assert.ok(edgeIndex(grid, 0, 4) >= 0 && edgeIndex(grid, 0, 5) < 0)
})

test('rgg: connected, all nodes kept, mean degree near the target', () => {
  for (const seed of [1, 2, 3]) {
    const t = makeTopology('rgg', 3000, new Random(seed), { meanDegree: 10 })
    assert.equal(t.nodes, 3000)
    assertWellFormed(t)
    assert.equal(components(t).count, 1)
    const mean = t.targets.length / t.nodes
    assert.ok(mean > 9 && mean < 10.5, `mean degree ${mean}`)
  }
  // Sparse enough to split: the joining step must reconnect it.
  const sparse = makeTopology('rgg', 2000, new Random(7), { meanDegree: 3 })
  assert.ok(sparse.joined > 0)
  assert.equal(components(sparse).count, 1)
})

test('scale-free: connected, about the target mean degree, hubs', () => {
  const t = makeTopology('scale-free', 5000, new Random(4), { meanDegree: 6 })
  assertWellFormed(t)
  assert.equal(components(t).count, 1)
  assert.ok(Math.abs(t.targets.length / t.nodes - 6) < 0.1)
  let max = 0
  for (let i = 0; i < t.nodes; i++) max = Math.max(max, degree(t, i))
  assert.ok(max > 60, `a scale-free graph has hubs (max degree ${max})`)
})

test('same seed, same topology; different seed, different', () => {
  const a = makeTopology('rgg', 500, new Random(9))
  const b = makeTopology('rgg', 500, new Random(9))
  const c = makeTopology('rgg', 500, new Random(10))
  assert.deepEqual(a.targets, b.targets)
  assert.notDeepEqual(a.targets, c.targets)
})

test('a topology file: names, latency, comments; errors name the line', () => {
  const t = parseTopologyFile('# a triangle\nx y 5\ny z   # default latency\nz x 20\n', 'tri.txt')
  assert.deepEqual(t.names, ['x', 'y', 'z'])
  assert.equal(linkCount(t), 3)
  assert.equal(t.latencyMs[edgeIndex(t, 1, 2)], 10)
  assert.throws(() => parseTopologyFile('a b\nb\n', 'bad.txt'), (e: unknown) => e instanceof TopologyError && /bad\.txt:2/.test(e.message))
  assert.throws(() => parseTopologyFile('a b x\n', 'bad.txt'), /bad\.txt:1: latency/)
  assert.throws(() => makeTopology('torus', 10, new Random(1)), /unknown topology "torus"/)
  assert.throws(() => makeTopology('/nonexistent/topo.txt', 10, new Random(1)), /cannot read topology file/)
})

test('events file: every kind parses; a bad line is reported with its number', () => {
  const t = makeTopology('grid', 16, new Random(1))
  const events = parseEvents(`# comment
at 30s link-down 0 1
at 90s link-up 0 1
at 2m node-down 5
at 3m node-up 5
at 500ms loss 0 4 0.25
at 4m partition 0..3 8
at 5m heal
`, t, 'ev.txt')
  assert.deepEqual(events.map((e) => [e.at, e.kind]), [[500, 'loss'], [30_000, 'link-down'], [90_000, 'link-up'], [120_000, 'node-down'], [180_000, 'node-up'], [240_000, 'partition'], [300_000, 'heal']])
  const p = events.find((e) => e.kind === 'partition')
  assert.deepEqual(p?.kind === 'partition' ? p.nodes : null, [0, 1, 2, 3, 8])
  const bad = (text: string, re: RegExp): void => {
    assert.throws(() => parseEvents(text, t, 'ev.txt'), (e: unknown) => e instanceof EventsFileError && re.test(e.message), text)
  }
  bad('at 1s heal\nat 2s explode 1\n', /ev\.txt:2: unknown event "explode"/)
  bad('at soon link-down 0 1\n', /ev\.txt:1: bad time "soon"/)
  bad('\n\nat 1s link-down 0 2\n', /ev\.txt:3: no link between "0" and "2"/)
  bad('at 1s node-down 99\n', /ev\.txt:1: unknown node "99"/)
  bad('at 1s loss 0 1 2\n', /ev\.txt:1: loss must be a fraction/)
  bad('link-down 0 1\n', /ev\.txt:1: expected "at TIME EVENT/)
})

test('durations and rates parse', () => {
  assert.equal(parseDuration('10m'), 600_000)
  assert.equal(parseDuration('1.5s'), 1500)
  assert.equal(parseDuration('10'), undefined)
  assert.equal(parseRatePerMinute('1%/min'), 0.01)
  assert.equal(parseRatePerMinute('0.02'), 0.02)
  assert.equal(parseRatePerMinute('150%'), undefined)
})

test('flapping: about the asked rate, every link-down has its link-up, on real links', () => {
  const t = makeTopology('rgg', 2000, new Random(2))
  const ev = flapEvents(t, new Random(3), { ratePerMinute: 0.01, from: 0, until: 600_000, downMinMs: 5000, downMaxMs: 60_000 })
  const downs = ev.filter((e) => e.kind === 'link-down')
  const expected = 0.01 * linkCount(t) * 10
  assert.ok(downs.length > expected * 0.85 && downs.length < expected * 1.1, `${downs.length} failures, expected about ${expected}`)
  assert.equal(ev.filter((e) => e.kind === 'link-up').length, downs.length)
  for (const e of downs) if (e.kind === 'link-down') assert.ok(edgeIndex(t, e.a, e.b) >= 0)
  const churn = churnEvents(1000, new Random(4), { ratePerMinute: 0.01, from: 0, until: 60_000, downMinMs: 1000, downMaxMs: 2000 })
  assert.ok(churn.length > 0 && churn.every((e, i) => i === 0 || e.at >= (churn[i - 1]?.at ?? 0)))
})
