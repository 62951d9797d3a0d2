// Link quality: the hello history (RFC 8966 Appendix A.1), ETX cost (A.2.2), the RTT
// term of the Babel RTT extension (RFC 9616), IHU expiry.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { LinkQuality, rttPenalty, type LinkCostParams } from '../../src/mesh/link-quality.ts'
import { INFINITY } from '../../src/mesh/control-messages.ts'

const P: LinkCostParams = { nominalCost: 96, deadAfterMisses: 2, rttMinMs: 20, rttMaxMs: 500, maxRttPenalty: 96 }

/** A link that got `pattern` (1 = received) of hellos sent every second, and IHUs with `txcost`. */
function link (pattern: number[], txcost = 96): { q: LinkQuality, now: number } {
  const q = new LinkQuality()
  let now = 0
  let seqno = 65530 // crosses the u16 wrap on the way
  for (const got of pattern) {
    if (got === 1) q.onHello(seqno, 1000, now)
    seqno = (seqno + 1) & 0xffff
    now += 1000
  }
  q.onIhu(txcost, 1000, now)
  return { q, now }
}

test('a perfect link costs the nominal cost; no hello yet or no IHU means infinity', () => {
  const { q, now } = link([1, 1, 1, 1])
  assert.equal(q.cost(P, now), 96)
  assert.equal(q.loss(), 0)
  assert.equal(new LinkQuality().cost(P, 0), INFINITY)
  const noIhu = new LinkQuality()
  noIhu.onHello(1, 1000, 0)
  assert.equal(noIhu.rxcost(P), 96)
  assert.equal(noIhu.cost(P, 0), INFINITY)
})

test('ETX (A.2.2): half the hellos lost doubles rxcost; loss both ways multiplies', () => {
  const { q, now } = link([1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
  // Gaps in the seqnos count as lost: 9 received of 17 slots, 16 in the history.
  assert.equal(q.rxcost(P), Math.round(96 * 16 / 8))
  assert.equal(q.cost(P, now), 192)
  q.onIhu(192, 1000, now)
  assert.equal(q.cost(P, now), 384)
})

test('hellos missed by the timer count; two in a row take the link down; a late hello is not double-counted', () => {
  const q = new LinkQuality()
  q.onHello(10, 1000, 0)
  q.onIhu(96, 1000, 0)
  assert.equal(q.helloDueAt, 1500)
  q.onHelloMissed(1500)
  assert.equal(q.cost(P, 1500), 192) // 1 of 2
  q.onHelloMissed(2500)
  assert.equal(q.cost(P, 2500), INFINITY)
  // Hello 11 was only late: both timer misses are taken back.
  q.onHello(11, 1000, 2600)
  assert.equal(q.loss(), 0)
  assert.equal(q.cost(P, 2600), 96)
  // Hello 13 after one timer miss: 12 really was lost, counted once.
  q.onHelloMissed(4100)
  q.onHello(13, 1000, 4200)
  assert.equal(q.loss(), 1 / 4) // 10, 11, 13 received, 12 lost
})

test('a restarted neighbour (seqno far behind) resets the history; a duplicate changes nothing', () => {
  const q = new LinkQuality()
  for (let s = 100; s < 110; s++) q.onHello(s, 1000, s * 1000)
  assert.equal(q.onHello(109, 1000, 111_000), false)
  assert.equal(q.onHello(105, 1000, 111_000), false, 'a reordered old hello')
  assert.equal(q.onHello(3, 1000, 112_000), true, 'restart')
  assert.equal(q.loss(), 0)
})

test('RTT from echoed timestamps (RFC 9616): now − origin − held, smoothed; nonsense samples dropped', () => {
  const q = new LinkQuality()
  q.onEcho(1000, 30, 1130)
  assert.equal(q.rttMs, 100)
  q.onEcho(2000, 0, 2200)
  assert.equal(q.rttMs, 100 * 0.8 + 200 * 0.2)
  const before = q.rttMs
  q.onEcho(5000, 100, 5050) // held longer than the round trip: impossible
  q.onEcho(9000, 0, 8000) // from the future
  assert.equal(q.rttMs, before)
  // Timestamps wrap at 2^32.
  const w = new LinkQuality()
  w.onEcho(0xffffff00, 0, 0x100000000 + 0x40)
  assert.equal(w.rttMs, 0x140)
})

test('RTT penalty (RFC 9616): zero below rttMin, full above rttMax, monotone between (property)', () => {
  assert.equal(rttPenalty(Number.NaN, P), 0)
  assert.equal(rttPenalty(10, P), 0)
  assert.equal(rttPenalty(10_000, P), 96)
  assert.equal(rttPenalty(260, P), 48)
  fc.assert(fc.property(fc.float({ min: 0, max: 5000, noNaN: true }), fc.float({ min: 0, max: 5000, noNaN: true }), (a, b) => {
    const [lo, hi] = a < b ? [a, b] : [b, a]
    return rttPenalty(lo, P) <= rttPenalty(hi, P) && rttPenalty(hi, P) <= P.maxRttPenalty
  }))
  const { q, now } = link([1, 1, 1])
  q.onEcho(now - 500, 0, now)
  assert.equal(q.cost(P, now), 96 + 96)
})

test('the IHU expires after 3.5 of its intervals (§3.4.2): the link is then unusable', () => {
  const { q, now } = link([1, 1])
  assert.equal(q.cost(P, now + 3400), 96)
  assert.equal(q.cost(P, now + 3600), INFINITY)
})

test('cost never drops below nominal and rises with loss (property)', () => {
  fc.assert(fc.property(fc.array(fc.constantFrom(0, 1), { minLength: 1, maxLength: 40 }), pattern => {
    const withLast = [...pattern, 1]
    const { q, now } = link(withLast)
    const c = q.cost(P, now)
    return c >= 96 && c < INFINITY && (q.loss() > 0 || c === 96)
  }))
})
