// The simulator's PRNG: xoshiro128** must match the reference C implementation
// (prng.di.unimi.it/xoshiro128starstar.c), be a pure function of its seed, and keep its
// derived draws in range.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Random } from '../../src/sim/random.ts'

test('xoshiro128** matches the reference implementation from state {1, 2, 3, 4}', () => {
  const r = Random.fromState(1, 2, 3, 4)
  // Printed by the reference next() compiled with gcc.
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(() => r.uint32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492])
})

test('the same seed gives the same sequence, different seeds different ones', () => {
  const draw = (seed: number): number[] => { const r = new Random(seed); return Array.from({ length: 100 }, () => r.uint32()) }
  assert.deepEqual(draw(42), draw(42))
  assert.notDeepEqual(draw(42), draw(43))
  assert.notDeepEqual(draw(0), draw(1))
  // Seed 0 is a valid seed and does not get stuck.
  assert.ok(new Set(draw(0)).size > 95)
})

test('int(n) stays in [0, n) and float() in [0, 1) for any seed (property)', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 0x100000000 }), (seed, n) => {
    const r = new Random(seed)
    for (let i = 0; i < 20; i++) {
      const x = r.int(n)
      if (!(Number.isInteger(x) && x >= 0 && x < n)) return false
      const f = r.float()
      if (!(f >= 0 && f < 1)) return false
    }
    return true
  }))
})

test('int(n) is close to uniform', () => {
  const r = new Random(7)
  const counts = new Array<number>(10).fill(0)
  for (let i = 0; i < 100_000; i++) counts[r.int(10)]!++
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `bucket count ${c} is far from 10000`)
})

test('int rejects bounds it cannot honour', () => {
  const r = new Random(1)
  assert.throws(() => r.int(0), RangeError)
  assert.throws(() => r.int(1.5), RangeError)
  assert.throws(() => r.int(2 ** 33), RangeError)
})
