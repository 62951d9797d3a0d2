// The credit simulator: same seed, same result; settlement is atomic; and whatever the
// router and the payments, no credit is created or destroyed (each line's two directions
// keep their sum, each node's net position moves by exactly what it paid and received).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CapacityGraph } from '../../../src/apps/credit/paths/capacity-graph.ts'
import { ROUTERS } from '../../../src/apps/credit/paths/router.ts'
import { Random } from '../../../src/sim/random.ts'
import { DEFAULT_GENERATOR_OPTIONS, generateCreditGraph, generatePayments } from '../../../src/sim/credit/generator.ts'
import { DEFAULT_CREDIT_OPTIONS, checkInvariant, runCreditExperiment, settle } from '../../../src/sim/credit/credit-experiment.ts'
import { DEFAULT_CREDIT_SIMULATION, runCreditSimulation } from '../../../src/sim/credit/credit-simulation.ts'

const small = { ...DEFAULT_GENERATOR_OPTIONS, nodes: 120, links: 400 }

test('same seed, same result; another seed, another result', () => {
  const run = (seed: number): unknown => {
    const r = runCreditSimulation({ ...DEFAULT_CREDIT_SIMULATION, seed, payments: 400, generator: small })
    return { ...r, wallSeconds: 0, routers: r.routers.map((x) => ({ ...x, wallSeconds: 0 })) }
  }
  const a = run(7)
  assert.deepEqual(run(7), a)
  assert.notDeepEqual(run(8), a)
})

test('the generator hits the asked size and is scale-free-ish: a few nodes of high degree', () => {
  const g = generateCreditGraph(DEFAULT_GENERATOR_OPTIONS, new Random(1))
  assert.equal(g.nodeCount, 1870)
  assert.equal(g.linkCount, 8708)
  const degrees = g.out.map((o) => o.length).sort((a, b) => b - a)
  assert.ok((degrees[0] ?? 0) > 10 * 9.3, `max degree ${degrees[0]} should be far above the mean`)
  assert.ok((degrees[degrees.length - 1] ?? 0) >= 1)
})

test('settlement is atomic: a path that cannot carry its share releases every hold', () => {
  const g = new CapacityGraph()
  g.addLink('a', 'b', 10n, 0n)
  g.addLink('b', 'c', 4n, 0n)
  const before = g.capacity.slice()
  const [ab, bc] = [g.edgeBetween(0, 1), g.edgeBetween(1, 2)]
  assert.equal(settle(g, [{ nodes: [0, 1], edges: [ab], amount: 6n }, { nodes: [0, 1, 2], edges: [ab, bc], amount: 4n }]), true)
  assert.deepEqual(g.capacity, [0n, 10n, 0n, 4n])
  g.capacity.splice(0, 4, ...before)
  assert.equal(settle(g, [{ nodes: [0, 1], edges: [ab], amount: 5n }, { nodes: [0, 1, 2], edges: [ab, bc], amount: 5n }]), false)
  assert.deepEqual(g.capacity, before)
})

test('no IOU is created or destroyed, for every router, over random graphs and payment sequences', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 10, max: 40 }), fc.double({ min: 1, max: 200, noNaN: true }), (seed, nodes, paymentMin) => {
    const random = new Random(seed)
    const o = { ...DEFAULT_GENERATOR_OPTIONS, nodes, links: Math.min(nodes * 3, nodes * (nodes - 1) / 2), paymentMin, capacitySigma: 1 }
    const g = generateCreditGraph(o, random)
    const payments = generatePayments(g.nodeCount, 60, o, random)
    const initial = g.capacity.slice()
    const results = runCreditExperiment(g, payments, { ...DEFAULT_CREDIT_OPTIONS, seed, smallAmount: 10n ** 12n })
    assert.deepEqual(g.capacity, initial, 'the experiment restores the graph')
    for (const r of results) {
      assert.deepEqual(r.invariant, { linesConserved: true, positionsMatch: true }, r.router)
      assert.equal(r.settlementFailures, 0, r.router)
      assert.ok(r.succeeded <= r.payments)
    }
  }), { numRuns: 25 })
})

test('the invariant check notices credit created on a line, or moved to the wrong node', () => {
  const g = new CapacityGraph()
  g.addLink('a', 'b', 10n, 10n)
  g.addLink('b', 'c', 10n, 10n)
  const initial = g.capacity.slice()
  g.move(0, 3n)
  g.move(2, 3n)
  assert.deepEqual(checkInvariant(g, initial, new Map([[0, -3n], [2, 3n]])), { linesConserved: true, positionsMatch: true })
  assert.deepEqual(checkInvariant(g, initial, new Map([[0, -3n], [1, 3n]])), { linesConserved: true, positionsMatch: false })
  g.capacity[1] = (g.capacity[1] ?? 0n) + 1n
  assert.equal(checkInvariant(g, initial, new Map([[0, -3n], [2, 3n]])).linesConserved, false)
})

test('every router runs, and the oracle max flow succeeds at least as often as any router in a one-payment world', () => {
  const g = generateCreditGraph(small, new Random(3))
  const payments = generatePayments(g.nodeCount, 200, small, new Random(4))
  for (const p of payments) {
    const one = runCreditExperiment(g, [p], { ...DEFAULT_CREDIT_OPTIONS, routers: [...ROUTERS] })
    const ok = Object.fromEntries(one.map((r) => [r.router, r.succeeded]))
    for (const r of ROUTERS) assert.ok((ok[r] ?? 0) <= (ok.maxflow ?? 0), `${r} routed a payment max flow could not`)
  }
})
