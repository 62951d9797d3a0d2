// The duplicate filter: remembers what it saw for a window, never more than its capacity.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DuplicateFilter } from '../../src/mesh/duplicate-filter.ts'
import { isNamed } from '../networks/fixtures.ts'

test('a key is a duplicate within the window and new again after it', () => {
  const f = new DuplicateFilter(10, 1000)
  assert.equal(f.check('a', 0), false)
  assert.equal(f.check('a', 999), true)
  assert.equal(f.has('a', 999), true)
  assert.equal(f.check('a', 1000), false, 'the window is over: seen as new (and remembered again)')
  assert.equal(f.check('a', 1500), true)
})

test('it never holds more than its capacity: the oldest are forgotten first', () => {
  const f = new DuplicateFilter(3, 1_000_000)
  for (const k of ['a', 'b', 'c', 'd']) assert.equal(f.check(k, 0), false)
  assert.equal(f.size, 3)
  assert.equal(f.has('a', 0), false)
  assert.equal(f.check('d', 1), true)
  assert.equal(f.check('b', 1), true)
  for (let i = 0; i < 10_000; i++) f.check(`x${i}`, i)
  assert.equal(f.size, 3)
})

test('old entries are pruned on use, so an idle filter shrinks', () => {
  const f = new DuplicateFilter(100, 10)
  for (let i = 0; i < 50; i++) f.check(`k${i}`, i)
  f.prune(55)
  assert.equal(f.size, 4)
  assert.throws(() => new DuplicateFilter(0, 10), isNamed('MeshError'))
})
