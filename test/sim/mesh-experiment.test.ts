// The mesh experiment drives the real Router and Forwarder on virtual topologies. The
// issue's simulator guarantees: zero loops in every run, 100 % delivery in static
// connected topologies once converged, and the same seed gives the same result.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Random } from '../../src/sim/random.ts'
import { makeTopology } from '../../src/sim/mesh/topology.ts'
import { parseEvents } from '../../src/sim/mesh/events.ts'
import { DEFAULT_MESH_OPTIONS, runMeshExperiment } from '../../src/sim/mesh/mesh-experiment.ts'
import type { MeshExperimentOptions, MeshResult } from '../../src/sim/mesh/mesh-experiment.ts'

const options = (o: Partial<MeshExperimentOptions> = {}): MeshExperimentOptions => ({ ...DEFAULT_MESH_OPTIONS, durationMs: 30_000, trafficPerSecond: 10, ...o })

function assertNoLoops (r: MeshResult): void {
  assert.equal(r.loops.loops, 0, `loops: ${JSON.stringify(r.loops.examples)}`)
  assert.ok(r.loops.walks > 0, 'next hops were followed')
  assert.equal(r.loops.ttlExpired, 0, 'no envelope ran out of ttl')
}

for (const [kind, nodes] of [['line', 30], ['grid', 49], ['rgg', 100], ['scale-free', 100]] as const) {
  test(`${kind} (${nodes} nodes), static: converges, delivers everything, no loops`, async () => {
    const t = makeTopology(kind, nodes, new Random(3))
    const r = await runMeshExperiment(t, options({ seed: 3 }))
    assert.ok(r.convergence.converged, 'initial convergence')
    assert.ok(r.delivery.sent > 150)
    assert.equal(r.delivery.reachable, r.delivery.sent, 'a static connected topology: every destination reachable')
    assert.equal(r.delivery.delivered, r.delivery.reachable, `delivered ${r.delivery.delivered} of ${r.delivery.reachable}; drops ${JSON.stringify(r.delivery.drops)}`)
    assert.ok(r.stretch.min >= 1, 'no path shorter than the shortest')
    assert.ok(r.state.total.max > 0 && r.control.bytesPerNodePerSecond.mean > 0)
    assertNoLoops(r)
  })
}

test('rgg (300 nodes): the location service delivers what the oracle does, through homes whose tables stay bounded', async () => {
  const t = makeTopology('rgg', 300, new Random(4))
  const service = await runMeshExperiment(t, options({ seed: 4, location: 'service' }))
  const oracle = await runMeshExperiment(t, options({ seed: 4, location: 'oracle' }))
  for (const r of [service, oracle]) {
    assert.ok(r.convergence.converged, 'initial convergence')
    assert.equal(r.delivery.delivered, r.delivery.reachable, `delivered ${r.delivery.delivered} of ${r.delivery.reachable}; drops ${JSON.stringify(r.delivery.drops)}`)
    assertNoLoops(r)
  }
  // Scopes leave most pairs without a direct route: senders go by homes, which rewrite via.
  assert.ok(service.location.rewrites > 0 && service.location.accepted > 0 && service.location.refused === 0, JSON.stringify(service.location))
  assert.equal(oracle.location.registrationsSent, 0)
  // Every node registered with up to two homes; a home holds at most the mesh.
  assert.ok(service.location.recordsPerHome.max <= 300 && service.location.recordsPerHome.count >= 1)
  assert.ok(service.location.bytesPerRegistration > 0 && (service.control.warmupTlvsPerNodePerSecond.location ?? 0) > 0)
  // The detour by the home costs stretch the oracle does not pay.
  assert.ok(service.stretch.mean > oracle.stretch.mean, `stretch ${service.stretch.mean} vs ${oracle.stretch.mean}`)
  // One packet per pair: every packet is a flow's first, and a binding update it brings
  // back is never used.
  assert.equal(service.flowStretch.later.count, 0)
  assert.equal(service.flowStretch.first.count, service.stretch.count)
})

test('rgg (300 nodes), flows of 5 packets: binding updates take the later packets of a flow off the home detour, to the oracle\'s stretch', async () => {
  const t = makeTopology('rgg', 300, new Random(4))
  const service = await runMeshExperiment(t, options({ seed: 4, location: 'service', flowPackets: 5 }))
  const oracle = await runMeshExperiment(t, options({ seed: 4, location: 'oracle', flowPackets: 5 }))
  for (const r of [service, oracle]) {
    assert.equal(r.delivery.delivered, r.delivery.reachable, `delivered ${r.delivery.delivered} of ${r.delivery.reachable}; drops ${JSON.stringify(r.delivery.drops)}`)
    assertNoLoops(r)
    assert.equal(r.flowStretch.meanByIndex.length, 5)
    assert.ok(r.flowStretch.later.count > 3 * r.flowStretch.first.count, 'four later packets per flow (fewer only near the end of the traffic)')
  }
  const l = service.location
  assert.ok(l.bindingsSent > 0 && l.cached === l.bindingsSent && l.refused === 0 && l.cacheHits > 0, JSON.stringify(l))
  // (Registrations go out at start-up and then rarely: the measured window may hold none.)
  assert.ok(l.bindingBytesPerNodePerSecond > 0 && l.warmupBytesPerNodePerSecond > 0, JSON.stringify(l))
  assert.equal(oracle.location.bindingsSent, 0)
  const first = service.flowStretch.first.mean
  const later = service.flowStretch.later.mean
  assert.ok(later < first - 0.1, `later packets ${later} vs first ${first}`)
  // The binding update is back within the second (a round trip by the homes), so from
  // the second packet on a flow goes by the cached address: the oracle's stretch.
  assert.ok(later < oracle.flowStretch.later.mean + 0.03, `later packets ${later} vs the oracle's ${oracle.flowStretch.later.mean}`)
  const second = service.flowStretch.meanByIndex[1] as number
  assert.ok(second < (oracle.flowStretch.meanByIndex[1] as number) + 0.05, `2nd packets ${second} vs the oracle's ${oracle.flowStretch.meanByIndex[1]}`)
})

test('grid with every kind of event: no loops, reconvergence measured, traffic gets through', async () => {
  const t = makeTopology('grid', 49, new Random(1))
  const events = parseEvents(`
at 2s link-down 24 25
at 6s node-down 10
at 9s loss 0 1 0.3
at 12s partition 0..20
at 20s heal
at 22s node-up 10
at 24s link-up 24 25
`, t, 'test-events')
  const r = await runMeshExperiment(t, options({ seed: 5, events, durationMs: 40_000 }))
  assertNoLoops(r)
  assert.equal(r.events.total, 7)
  assert.equal(r.reconvergence.count, 7)
  assert.ok(r.reconvergence.converged >= 6, `reconverged after ${r.reconvergence.converged} of 7 events`)
  assert.ok(r.delivery.ratio > 0.9, `delivery ${r.delivery.ratio}`)
  assert.ok(r.delivery.sent > r.delivery.reachable, 'the partition made some destinations unreachable')
})

test('rgg with 5 % of links flapping per minute and churn: no loops', async () => {
  const t = makeTopology('rgg', 100, new Random(2))
  const r = await runMeshExperiment(t, options({ seed: 2, flapPerMinute: 0.05, churnPerMinute: 0.02, durationMs: 60_000 }))
  assertNoLoops(r)
  assert.ok((r.events.byKind['link-down'] ?? 0) > 5)
  assert.ok(r.reconvergence.count > 10)
  assert.ok(r.delivery.ratio > 0.9, `delivery ${r.delivery.ratio}`)
})

test('same seed, same result; another seed, another result', async () => {
  const t = (seed: number): ReturnType<typeof makeTopology> => makeTopology('rgg', 60, new Random(seed))
  const strip = (r: MeshResult): unknown => JSON.parse(JSON.stringify({ ...r, run: null, memory: null }))
  const o = options({ durationMs: 20_000, flapPerMinute: 0.05 })
  const a = await runMeshExperiment(t(8), { ...o, seed: 8 })
  const b = await runMeshExperiment(t(8), { ...o, seed: 8 })
  const c = await runMeshExperiment(t(9), { ...o, seed: 9 })
  assert.deepEqual(strip(b), strip(a))
  assert.notDeepEqual(strip(c), strip(a))
})
