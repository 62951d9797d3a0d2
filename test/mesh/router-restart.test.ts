// A node that restarts: its neighbours remember the feasibility distance of its last life
// (RFC 8966 §3.2.5) for minutes. Started with the seqno its daemon kept (RouterConfig.seqno,
// one past the last saved), it is reachable again at once; started with an older seqno,
// its updates are unfeasible (§3.5.1) and it is not — the case the kept seqno is for.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Router } from '../../src/mesh/router.ts'
import { Harness, makeIds } from './router-harness.ts'

function restartAfterRouteKnown (seqnoAfter: (before: number) => number): { harness: Harness, a: string, b: string } {
  const [a, b] = makeIds(2, 7) as [string, string]
  const harness = new Harness([a, b], [[a, b]])
  harness.run(10_000)
  assert.equal(harness.router(b).nextHop(a, []), a, 'B routes to A before the restart')
  const before = harness.router(a).ownSeqno()
  harness.disconnect(a, b)
  harness.run(1_000)
  harness.routers.set(a, new Router({ self: a, seqno: seqnoAfter(before) & 0xffff, random: () => harness.random.float() }, harness.now))
  harness.connect(a, b)
  harness.run(5_000)
  return { harness, a, b }
}

test('the router starts from the seqno it is given, and reports it', () => {
  const [a] = makeIds(1, 3) as [string]
  assert.equal(new Router({ self: a, seqno: 4242 }, 0).ownSeqno(), 4242)
  assert.equal(new Router({ self: a, seqno: 0x1_0005 }, 0).ownSeqno(), 5, 'taken modulo 2^16')
})

test('a node restarted one seqno past its last life is reachable from its neighbour within seconds', () => {
  const { harness, a, b } = restartAfterRouteKnown((s) => s + 1)
  assert.equal(harness.router(b).nextHop(a, []), a)
})

test('a node restarted with an older seqno is not (why the daemon keeps its seqno)', () => {
  const { harness, a, b } = restartAfterRouteKnown((s) => s - 1000)
  assert.equal(harness.router(b).nextHop(a, []), undefined, 'its updates are unfeasible at B for now')
  assert.notEqual(harness.router(a).nextHop(b, []), undefined, 'while A routes to B')
})
