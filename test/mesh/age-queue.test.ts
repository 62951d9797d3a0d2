// The age queue: oldest live key first, dead slots skipped and swept, bounded slots.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { AgeQueue } from '../../src/mesh/age-queue.ts'

test('peek gives the oldest live key in push order, whatever leaves from the middle', () => {
  fc.assert(fc.property(fc.array(fc.oneof(fc.record({ push: fc.nat(30) }), fc.record({ remove: fc.nat(30) }), fc.constant('shift' as const)), { maxLength: 300 }), (ops) => {
    const q = new AgeQueue()
    const live = new Map<string, number>() // key → token, in push order (the model)
    let token = 0
    const isLive = (k: string, t: number): boolean => live.get(k) === t
    for (const o of ops) {
      if (o === 'shift') {
        const k = q.peek(isLive)
        assert.equal(k, live.keys().next().value)
        if (k !== undefined) { live.delete(k); q.shift() }
      } else if ('push' in o) {
        const k = `k${o.push}`
        if (live.has(k)) continue
        live.set(k, token)
        q.push(k, token++)
      } else {
        live.delete(`k${o.remove}`)
        q.tidy(live.size, isLive)
      }
      assert.equal(q.peek(isLive), live.keys().next().value)
      assert.ok(q.slots <= 2 * live.size + 32 + 1, `slots ${q.slots} for ${live.size} live`)
    }
  }), { numRuns: 300 })
})
