// The router (RFC 8966 Babel by NodeId) driven as a mesh of real Router instances in
// memory (router-harness.ts): convergence, loop freedom after every event, rerouting
// after cuts, gateways, scoping with landmarks, idle quietness, bad input.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Harness, makeIds, line } from './router-harness.ts'

function assertNoLoopsEver (h: Harness): void {
  h.afterEvent = () => {
    const loop = h.findLoop()
    if (loop !== null) assert.fail(`routing loop at t=${h.now}: ${loop.join(' → ')}`)
  }
}

test('a line of six converges: every node reaches every other, no loop after any event', () => {
  const ids = makeIds(6)
  const h = new Harness(ids, line(ids))
  assertNoLoopsEver(h)
  h.run(10_000)
  assert.ok(h.allReach())
  const end = h.walk(ids[0] as string, ids[5] as string)
  assert.deepEqual(end.path, ids)
})
