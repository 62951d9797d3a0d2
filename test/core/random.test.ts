// The pooled CSPRNG draws: the right length, never the same bytes twice, across refills.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomFromPool } from '../../src/core/random.ts'

test('draws are of the asked length and all different, across many pool refills', () => {
  const seen = new Set<string>()
  for (let i = 0; i < 5_000; i++) {
    const n = [16, 32, 7][i % 3] as number
    const b = randomFromPool(n)
    assert.equal(b.byteLength, n)
    assert.equal(b.constructor, Uint8Array)
    const k = Buffer.from(b).toString('hex')
    assert.ok(!seen.has(k), 'a draw repeated')
    seen.add(k)
  }
  // A draw is a copy: changing it changes no later draw.
  const a = randomFromPool(16)
  a.fill(0)
  assert.notDeepEqual(randomFromPool(16), a)
  assert.equal(randomFromPool(10_000).byteLength, 10_000)
})
