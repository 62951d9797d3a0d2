// The custody store: bounded in bytes (oldest out first, every drop reported) and in time.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CustodyStore } from '../../src/mesh/custody.ts'

test('the oldest entries go first when a new one does not fit, and each drop is reported', () => {
  const c = new CustodyStore<string>(100, 1000)
  assert.deepEqual(c.add('a', 'A', 40, 0), [])
  assert.deepEqual(c.add('b', 'B', 40, 1), [])
  assert.deepEqual(c.add('c', 'C', 50, 2), [{ key: 'a', value: 'A', reason: 'custody full' }])
  assert.equal(c.bytes, 90)
  assert.deepEqual(c.add('d', 'D', 100, 3).map((d) => d.key), ['b', 'c'])
  assert.deepEqual([...c.entries()].map((e) => e.key), ['d'])
  assert.deepEqual(c.add('e', 'E', 101, 4), [{ key: 'e', value: 'E', reason: 'larger than custody' }])
  assert.deepEqual([...c.entries()].map((e) => e.key), ['d'], 'a too-large entry pushes nothing out')
})

test('entries expire ttl after they came in; replacing one keeps its age', () => {
  const c = new CustodyStore<number>(1000, 100)
  c.add('a', 1, 10, 0)
  c.add('b', 2, 10, 50)
  c.add('a', 3, 20, 60)
  assert.equal(c.get('a'), 3)
  assert.equal(c.bytes, 30)
  assert.equal(c.nextExpiry(), 100)
  assert.deepEqual(c.expire(99), [])
  assert.deepEqual(c.expire(100), [{ key: 'a', value: 3, reason: 'custody expired' }])
  assert.equal(c.nextExpiry(), 150)
  assert.equal(c.take('b'), 2)
  assert.equal(c.take('b'), undefined)
  assert.equal(c.nextExpiry(), Infinity)
  assert.equal(c.bytes, 0)
})

test('under any sequence of adds, takes and time, bytes stay within the bound and add up', () => {
  const op = fc.oneof(
    fc.record({ add: fc.nat(20), bytes: fc.integer({ min: 1, max: 400 }) }),
    fc.record({ take: fc.nat(20) }),
    fc.record({ wait: fc.nat(300) })
  )
  fc.assert(fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
    const c = new CustodyStore<number>(1000, 500)
    const live = new Map<string, number>()
    let now = 0
    for (const o of ops) {
      if ('add' in o) {
        const key = `k${o.add}`
        const dropped = c.add(key, o.bytes, o.bytes, now)
        if (!dropped.some((d) => d.key === key && d.reason === 'larger than custody')) live.set(key, o.bytes)
        for (const d of dropped) live.delete(d.key)
      } else if ('take' in o) {
        const key = `k${o.take}`
        assert.equal(c.take(key), live.get(key))
        live.delete(key)
      } else {
        now += o.wait
        for (const d of c.expire(now)) { assert.ok(live.has(d.key)); live.delete(d.key) }
      }
      assert.ok(c.bytes <= 1000)
      const entries = [...c.entries()]
      assert.equal(c.bytes, entries.reduce((s, e) => s + e.bytes, 0))
      assert.deepEqual(new Set(entries.map((e) => e.key)), new Set(live.keys()), 'every entry that left was reported')
      for (const e of entries) assert.ok(e.expiresAt > now)
    }
  }), { numRuns: 300 })
})
