// The event queue orders by virtual time, and events at the same time in the order they
// were scheduled: a run must never depend on the heap's layout.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { EventQueue } from '../../src/sim/event-queue.ts'

test('ties come out in scheduling order', () => {
  const q = new EventQueue<string>()
  q.push(5, 'a')
  q.push(1, 'b')
  q.push(5, 'c')
  q.push(1, 'd')
  q.push(5, 'e')
  const out: string[] = []
  for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e.value)
  assert.deepEqual(out, ['b', 'd', 'a', 'c', 'e'])
})

test('pops are ordered by (time, insertion) for any pushes, interleaved with pops (property)', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.boolean()), { maxLength: 300 }), (ops) => {
    const q = new EventQueue<number>()
    // Reference: a list kept sorted by (time, index) the slow way.
    const reference: Array<{ time: number, index: number }> = []
    let index = 0
    for (const [time, popToo] of ops) {
      q.push(time, index)
      reference.push({ time, index })
      index++
      if (popToo) {
        reference.sort((x, y) => x.time - y.time || x.index - y.index)
        const want = reference.shift()
        const got = q.pop()
        if (want?.index !== got?.value) return false
      }
    }
    reference.sort((x, y) => x.time - y.time || x.index - y.index)
    for (const want of reference) {
      if (q.pop()?.value !== want.index) return false
    }
    return q.pop() === undefined && q.size === 0
  }))
})

test('a NaN time is refused', () => {
  assert.throws(() => { new EventQueue<number>().push(NaN, 1) }, RangeError)
})
