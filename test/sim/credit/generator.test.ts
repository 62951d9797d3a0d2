// The generator's optional shaping (generator.ts): degree-scaled capacities, nodes that
// join with one line, one-way lines. Each is deterministic for a seed, does what it says
// on the Ripple-sized graph, and leaves the graph exactly as before while off.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { CapacityGraph } from '../../../src/apps/credit/paths/capacity-graph.ts'
import { Random } from '../../../src/sim/random.ts'
import { DEFAULT_GENERATOR_OPTIONS, generateCreditGraph } from '../../../src/sim/credit/generator.ts'

const shaped = { ...DEFAULT_GENERATOR_OPTIONS, capacityDegreeExponent: 1, singleLineFraction: 0.5, oneWayFraction: 0.3, capacitySigma: 0.5 }

function degree (g: CapacityGraph, node: number): number {
  return g.out[node]?.length ?? 0
}

/** Least-squares slope of ln(capacity) on ln(deg u · deg v), over the directions that carry something. */
function degreeSlope (g: CapacityGraph): number {
  let n = 0
  let sx = 0
  let sy = 0
  let sxx = 0
  let sxy = 0
  for (let e = 0; e < g.edgeCount; e++) {
    const c = g.cap(e)
    if (c === 0n) continue
    const x = Math.log(degree(g, g.from[e] ?? 0) * degree(g, g.to[e] ?? 0))
    const y = Math.log(Number(c))
    n++
    sx += x
    sy += y
    sxx += x * x
    sxy += x * y
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx)
}

test('the shaped generator is deterministic for a seed, and another seed gives another graph', () => {
  const a = generateCreditGraph(shaped, new Random(4))
  const b = generateCreditGraph(shaped, new Random(4))
  assert.deepEqual([a.from, a.to, a.capacity], [b.from, b.to, b.capacity])
  const c = generateCreditGraph(shaped, new Random(5))
  assert.notDeepEqual(c.capacity, a.capacity)
})

test('with every option off the graph is the one the generator made before the options existed', () => {
  // Checksums of seed 1's default graph, taken from the generator before the options were added.
  const g = generateCreditGraph(DEFAULT_GENERATOR_OPTIONS, new Random(1))
  let sum = 0n
  let weighted = 0n
  g.capacity.forEach((c, e) => { sum += c; weighted += c * BigInt(e % 97 + 1) })
  assert.equal(sum, 5_503_703_422_000n)
  assert.equal(weighted, 270_068_487_380_423n)
})

test('capacities follow the ends\' degrees with the exponent asked, and not at all without it', () => {
  const plain = generateCreditGraph({ ...DEFAULT_GENERATOR_OPTIONS, capacitySigma: 0.5 }, new Random(2))
  assert.ok(Math.abs(degreeSlope(plain)) < 0.05, `β = 0: slope ${degreeSlope(plain)}`)
  const one = generateCreditGraph({ ...DEFAULT_GENERATOR_OPTIONS, capacitySigma: 0.5, capacityDegreeExponent: 1 }, new Random(2))
  assert.ok(Math.abs(degreeSlope(one) - 1) < 0.05, `β = 1: slope ${degreeSlope(one)}`)
  const half = generateCreditGraph({ ...DEFAULT_GENERATOR_OPTIONS, capacitySigma: 0.5, capacityDegreeExponent: 0.5 }, new Random(2))
  assert.ok(Math.abs(degreeSlope(half) - 0.5) < 0.05, `β = 0.5: slope ${degreeSlope(half)}`)
  // The same topology and draws: β only rescales (the graph's links are the same).
  assert.deepEqual([one.from, one.to], [plain.from, plain.to])
})

test('the one-way fraction of lines extend credit one way only, either way; the rest both ways', () => {
  const g = generateCreditGraph(shaped, new Random(3))
  let oneWay = 0
  let forward = 0
  for (let k = 0; k < g.linkCount; k++) {
    const ab = g.cap(2 * k)
    const ba = g.cap(2 * k + 1)
    assert.ok(ab > 0n || ba > 0n, `line ${k} carries nothing either way`)
    if (ab === 0n || ba === 0n) oneWay++
    if (ba === 0n) forward++
  }
  // 8,708 lines: the standard deviation of the fraction is about 0.005.
  assert.ok(Math.abs(oneWay / g.linkCount - 0.3) < 0.02, `one-way fraction ${oneWay / g.linkCount}`)
  assert.ok(Math.abs(forward / oneWay - 0.5) < 0.05, `a → b among the one-way lines: ${forward / oneWay}`)
  const none = generateCreditGraph({ ...shaped, oneWayFraction: 0 }, new Random(3))
  assert.ok(none.capacity.every((c) => c > 0n))
})

test('nodes that join with one line: about that fraction has degree 1, the link count stays, the hubs grow', () => {
  const plain = generateCreditGraph(DEFAULT_GENERATOR_OPTIONS, new Random(6))
  const g = generateCreditGraph({ ...DEFAULT_GENERATOR_OPTIONS, singleLineFraction: 0.5 }, new Random(6))
  assert.equal(g.linkCount, DEFAULT_GENERATOR_OPTIONS.links)
  const degrees = g.out.map((o) => o.length)
  const leaves = degrees.filter((d) => d === 1).length / g.nodeCount
  // Some single-line joiners are picked by later nodes (preferential attachment), so a bit under 0.5.
  assert.ok(leaves > 0.25 && leaves <= 0.5, `degree-1 fraction ${leaves}`)
  assert.equal(plain.out.filter((o) => o.length === 1).length, 0, 'without it every node joins with several lines')
  assert.ok(Math.max(...degrees) > Math.max(...plain.out.map((o) => o.length)), 'the links the single-line joiners leave go to the others')
})

test('the generator refuses fractions out of range', () => {
  assert.throws(() => generateCreditGraph({ ...DEFAULT_GENERATOR_OPTIONS, oneWayFraction: 1.5 }, new Random(1)), RangeError)
  assert.throws(() => generateCreditGraph({ ...DEFAULT_GENERATOR_OPTIONS, singleLineFraction: 1 }, new Random(1)), RangeError)
})
