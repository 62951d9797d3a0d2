// The forwarder (mesh-spec.md "Data plane"): delivery once, ttl, custody and its move on
// when a route appears, split horizon, spray-and-wait within its copy budget,
// retransmission until ack, and no loss or double delivery through partitions.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Forwarder } from '../../src/mesh/forwarder.ts'
import type { ForwarderOutput, RouteLookup } from '../../src/mesh/forwarder.ts'
import { ACK_REQUESTED, SPRAY } from '../../src/mesh/envelope.ts'
import type { MeshEnvelope } from '../../src/mesh/envelope.ts'
import { ForwarderNet } from './forwarder-net.ts'
import { isNamed } from '../networks/fixtures.ts'

const SELF = '00000000000000aa'
const FAR = '00000000000000ff'

function envelope (over: Partial<MeshEnvelope> = {}): MeshEnvelope {
  return { src: new Uint8Array(32).fill(1), dst: FAR, ttl: 8, id: '0123456789abcdef', flags: 0, copies: 1, via: [], payload: new Uint8Array(20), ...over }
}

/** A route table the test sets by hand. */
function table (): RouteLookup & { routes: Map<string, string>, up: string[] } {
  const routes = new Map<string, string>()
  const up: string[] = []
  return { routes, up, route: (dst, via) => { const link = routes.get(dst); return link === undefined ? undefined : { link, via } }, links: () => up }
}

function forwarder (routes: RouteLookup, over: Partial<ConstructorParameters<typeof Forwarder>[0]> = {}): Forwarder {
  return new Forwarder({ self: SELF, custodyBytes: 10_000, custodyTtlMs: 60_000, sprayCopies: 8, ackTimeoutMs: 1000, maxRetries: 3, duplicateWindow: 600_000, ...over }, routes, 0)
}

const sends = (out: ForwarderOutput[]): Array<{ link: string, envelope: MeshEnvelope }> =>
  out.flatMap((o) => o.kind === 'send' ? [{ link: o.link, envelope: o.envelope }] : [])

test('an envelope crosses a line of six and is delivered once, even over links that duplicate', () => {
  const net = ForwarderNet.line(6, { duplicate: 0.5, seed: 7 })
  const sent = Array.from({ length: 20 }, () => net.send(0, 5))
  net.run(1000)
  assert.deepEqual(net.nodes[5]!.delivered.map((e) => e.id).sort(), sent.map((e) => e.id).sort())
  assert.ok(net.nodes[5]!.duplicates.length > 0, 'the links did duplicate frames')
  for (const e of net.nodes[5]!.delivered) assert.equal(e.ttl, 64 - 4, 'four relays took one hop each')
})

test('ttl runs out: the relay that would need a hop more drops it, with the reason', () => {
  const net = ForwarderNet.line(5)
  net.send(0, 4, { ttl: 2 })
  net.run(10)
  assert.equal(net.nodes[4]!.delivered.length, 0)
  assert.deepEqual(net.nodes[2]!.drops.map((d) => d.reason), ['ttl exhausted'])
  net.send(0, 4, { ttl: 4 })
  net.run(20)
  assert.equal(net.nodes[4]!.delivered.length, 1, 'ttl 4 reaches four hops away')
})

test('with no route an envelope waits in custody and goes on when one appears', () => {
  const routes = table()
  const f = forwarder(routes)
  assert.deepEqual(f.receive('in', envelope(), 0), [])
  assert.equal(f.custody().length, 1)
  assert.equal(f.custody()[0]!.ttl, 7)
  assert.deepEqual(f.retry(10), [], 'still no route')
  routes.routes.set(FAR, 'out')
  const out = f.retry(20)
  assert.deepEqual(sends(out).map((s) => [s.link, s.envelope.id, s.envelope.ttl]), [['out', '0123456789abcdef', 7]])
  assert.equal(f.custody().length, 0)
})

test('split horizon: never straight back on the arrival link; back that way only after the hold', () => {
  const routes = table()
  routes.routes.set(FAR, 'in')
  const f = forwarder(routes, { bounceHoldMs: 500 })
  assert.deepEqual(sends(f.receive('in', envelope(), 0)), [])
  assert.equal(f.custody().length, 1)
  assert.equal(f.nextDeadline(), 500)
  assert.deepEqual(sends(f.tick(499)), [])
  assert.deepEqual(sends(f.tick(500)).map((s) => s.link), ['in'])
  // And a route elsewhere is taken at once.
  routes.routes.set(FAR, 'other')
  assert.deepEqual(sends(f.receive('in', envelope({ id: '1111111111111111' }), 600)).map((s) => s.link), ['other'])
})

test('custody moves on in a line once the cut link heals, delivered once', () => {
  const net = ForwarderNet.line(4)
  net.cut(2, 3)
  const e = net.send(0, 3)
  net.run(100)
  assert.equal(net.nodes[3]!.delivered.length, 0)
  assert.equal(net.nodes[0]!.fwd.custody().length, 1, 'waits at the source, which has no route')
  net.heal(2, 3)
  net.run(200)
  assert.deepEqual(net.nodes[3]!.delivered.map((d) => d.id), [e.id])
  assert.equal(net.nodes[0]!.fwd.custody().length, 0)
})

test('custody is bounded in bytes (oldest dropped first, reported) and in time', () => {
  const routes = table()
  const f = forwarder(routes, { custodyBytes: 320, custodyTtlMs: 1000 })
  const ids = ['1000000000000000', '2000000000000000', '3000000000000000']
  // Each envelope is 53 + 100 bytes: two fit in 320, the third pushes the first out.
  assert.deepEqual(f.receive('in', envelope({ id: ids[0], payload: new Uint8Array(100) }), 0), [])
  assert.deepEqual(f.receive('in', envelope({ id: ids[1], payload: new Uint8Array(100) }), 10), [])
  const out = f.receive('in', envelope({ id: ids[2], payload: new Uint8Array(100) }), 20)
  assert.deepEqual(out.map((o) => o.kind === 'drop' ? [o.envelope.id, o.reason] : o.kind), [[ids[0], 'custody full']])
  assert.deepEqual(f.custody().map((c) => c.id), [ids[1], ids[2]])
  assert.equal(f.nextDeadline(), 1010)
  assert.deepEqual(f.tick(1009), [])
  assert.deepEqual(f.tick(1010).map((o) => o.kind === 'drop' ? [o.envelope.id, o.reason] : o.kind), [[ids[1], 'custody expired']])
  assert.deepEqual(f.tick(5000).map((o) => o.kind === 'drop' ? o.reason : o.kind), ['custody expired'])
  assert.equal(f.stateSize(), 0)
  // An envelope larger than the whole store is refused; our own send is reported failed.
  assert.deepEqual(f.send(envelope({ src: new Uint8Array(32).fill(9), payload: new Uint8Array(400) }), 6000, false).map((o) => o.kind === 'failed' ? o.reason : o.kind), ['larger than custody'])
})

test('a reliable send is retransmitted with backoff until acknowledged', () => {
  const routes = table()
  routes.routes.set(FAR, 'out')
  const f = forwarder(routes, { ackTimeoutMs: 1000, maxRetries: 5 })
  const e = envelope({ flags: ACK_REQUESTED, src: new Uint8Array(32).fill(2) })
  assert.equal(sends(f.send(e, 0, true)).length, 1)
  const at: number[] = []
  for (let now = 1; now <= 7000; now++) if (sends(f.tick(now)).length > 0) at.push(now)
  assert.deepEqual(at, [1000, 3000, 7000], 'timeouts 1 s, 2 s, 4 s')
  assert.deepEqual(f.acknowledge(e.id, 7100), [{ kind: 'acked', id: e.id }])
  assert.deepEqual(f.acknowledge(e.id, 7100), [], 'a second ack is nothing')
  assert.equal(f.nextDeadline(), Infinity)
  assert.throws(() => f.send(envelope({ id: 'aaaaaaaaaaaaaaaa' }), 0, true), isNamed('MeshError'))
})

test('a reliable send fails after maxRetries retransmissions', () => {
  const routes = table()
  routes.routes.set(FAR, 'out')
  const f = forwarder(routes, { ackTimeoutMs: 100, maxRetries: 3 })
  const e = envelope({ flags: ACK_REQUESTED, src: new Uint8Array(32).fill(2) })
  let sent = sends(f.send(e, 0, true)).length
  const failed: ForwarderOutput[] = []
  for (let now = 1; now <= 10_000; now++) {
    const out = f.tick(now)
    sent += sends(out).length
    failed.push(...out.filter((o) => o.kind === 'failed'))
  }
  assert.equal(sent, 4, 'the send and three retransmissions')
  assert.deepEqual(failed, [{ kind: 'failed', id: e.id, dst: FAR, reason: 'no acknowledgement after 3 retransmissions' }])
  assert.equal(f.stateSize(), 0)
})

test('reliable sends over a lossy line are all delivered once and acknowledged', () => {
  const net = ForwarderNet.line(4, { loss: 0.2, duplicate: 0.2, seed: 3, config: { maxRetries: 10, ackTimeoutMs: 200 } })
  const sent = Array.from({ length: 30 }, () => net.send(0, 3, { reliable: true }))
  net.run(600_000)
  assert.deepEqual(net.nodes[3]!.delivered.map((e) => e.id).sort(), sent.map((e) => e.id).sort())
  assert.deepEqual(net.nodes[0]!.acked.sort(), sent.map((e) => e.id).sort())
  assert.deepEqual(net.nodes[0]!.failed, [])
  assert.ok(net.sent > 30 * 3 * 2, 'retransmissions did happen')
})

test('spray-and-wait: copies spread while dst is cut off, never more than the budget, delivered once', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 1e9 }), fc.integer({ min: 2, max: 16 }), (seed, budget) => {
    // A 3×3 grid with node 8 (a corner) cut off.
    const net = ForwarderNet.grid(3, 3, { seed })
    net.cut(5, 8); net.cut(7, 8)
    const e = net.send(0, 8, { flags: SPRAY, copies: budget })
    for (;;) {
      assert.ok(net.copiesOf(e) <= budget, 'copies within the budget')
      if (!net.step()) break
    }
    assert.equal(net.copiesOf(e), budget, 'nothing consumed yet, nothing lost')
    const holders = net.nodes.filter((n) => n.fwd.custody().length > 0).length
    assert.ok(holders >= Math.min(budget, 2), `copies spread to ${holders} holders`)
    net.heal(7, 8)
    for (;;) {
      assert.ok(net.copiesOf(e) <= budget)
      if (!net.step()) break
    }
    assert.equal(net.nodes[8]!.delivered.length, 1)
    assert.equal(net.nodes[8]!.delivered.length + net.nodes[8]!.duplicates.length, holders, 'each holder had a route and sent its copies on')
  }), { numRuns: 60 })
})

test('a spray copy is never handed back on the link it came from', () => {
  const routes = table()
  routes.up.push('in', 'a', 'b')
  const f = forwarder(routes)
  const out = sends(f.receive('in', envelope({ flags: SPRAY, copies: 8 }), 0))
  assert.deepEqual(out.map((s) => [s.link, s.envelope.copies]), [['a', 4], ['b', 2]])
  assert.equal(f.custody()[0]!.copies, 2)
  assert.deepEqual(sends(f.retry(10)), [], 'links met already get nothing more')
  assert.deepEqual(sends(f.retry(20, ['c'])).map((s) => [s.link, s.envelope.copies]), [['c', 1]])
  assert.deepEqual(sends(f.retry(30, ['d'])), [], 'one copy left: wait for a route')
})

test('partition and heal: every reliable message delivered exactly once, none lost', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('send' as const), from: fc.nat(8), to: fc.nat(8), spray: fc.boolean() }),
    fc.record({ kind: fc.constant('cut' as const), edge: fc.nat(11) }),
    fc.record({ kind: fc.constant('heal' as const), edge: fc.nat(11) }),
    // Cut the grid in two between columns or rows 0|1 or 1|2.
    fc.record({ kind: fc.constant('split' as const), between: fc.nat(3) }),
    fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 2000 }) }),
    fc.record({ kind: fc.constant('step' as const), n: fc.integer({ min: 1, max: 5 }) })
  )
  let waited = 0
  fc.assert(fc.property(fc.integer({ min: 1, max: 1e9 }), fc.array(op, { maxLength: 40 }), (seed, ops) => {
    const net = ForwarderNet.grid(3, 3, { seed, duplicate: 0.1, config: { ackTimeoutMs: 1000, maxRetries: 12, maxAckTimeoutMs: 8000 } })
    const sent: Array<{ e: MeshEnvelope, to: number }> = []
    for (const o of ops) {
      if (o.kind === 'send' && o.from !== o.to) sent.push({ e: net.send(o.from, o.to, { reliable: true, flags: o.spray ? SPRAY : 0 }), to: o.to })
      if (o.kind === 'cut') net.cut(...net.edges[o.edge]!)
      if (o.kind === 'heal') net.heal(...net.edges[o.edge]!)
      if (o.kind === 'split') {
        for (const [a, b] of net.edges) {
          const [ca, cb] = o.between < 2 ? [a % 3, b % 3] : [Math.floor(a / 3), Math.floor(b / 3)]
          if (Math.min(ca, cb) === o.between % 2 && ca !== cb) net.cut(a, b)
        }
      }
      if (o.kind === 'wait') net.run(net.now + o.ms)
      if (o.kind === 'step') for (let i = 0; i < o.n; i++) net.step()
    }
    waited += net.nodes.filter((n) => n.fwd.custody().length > 0).length
    for (const [a, b] of net.edges) if (!net.isUp(a, b)) net.heal(a, b)
    net.run(net.now + 300_000)
    for (const { e, to } of sent) {
      const got = net.nodes[to]!.delivered.filter((d) => d.id === e.id)
      assert.equal(got.length, 1, `message ${e.id} delivered ${got.length} times`)
    }
    const failed = net.nodes.flatMap((n) => n.failed)
    assert.deepEqual(failed, [])
    for (const n of net.nodes) assert.equal(n.delivered.length, new Set(n.delivered.map((d) => d.id)).size, 'no id delivered twice')
    const acked = net.nodes.flatMap((n) => n.acked)
    assert.equal(acked.length, sent.length, 'every send acknowledged')
  }), { numRuns: 300 })
  assert.ok(waited > 40, `partitions left envelopes in custody at the heal (${waited} node-runs)`)
})

test('a reliable send whose route moves to another link goes again at once on the new one, using no retry', () => {
  const routes = table()
  routes.routes.set(FAR, 'old')
  const f = forwarder(routes, { ackTimeoutMs: 5000 })
  const e = envelope({ flags: ACK_REQUESTED })
  assert.deepEqual(sends(f.send(e, 0, true)).map((s) => s.link), ['old'])
  // The old link died (no error: it just went silent); the router found another way.
  routes.routes.set(FAR, 'new')
  assert.deepEqual(sends(f.retry(100)).map((s) => s.link), ['new'])
  assert.deepEqual(sends(f.retry(200)).map((s) => s.link), [], 'once per route change, not on every retry')
  assert.equal(f.pending()[0]?.retransmissions, 0)
  assert.deepEqual(f.acknowledge(e.id, 300), [{ kind: 'acked', id: e.id }])
})

test('a send stuck in our own custody uses no retransmission, and fails when its custody time is up', () => {
  const routes = table()
  const f = forwarder(routes, { ackTimeoutMs: 100, maxRetries: 1, custodyTtlMs: 10_000 })
  const e = envelope({ flags: ACK_REQUESTED, src: new Uint8Array(32).fill(2) })
  assert.deepEqual(f.send(e, 0, true), [])
  for (let now = 1; now < 5000; now++) assert.deepEqual(f.tick(now), [], `nothing at ${now}`)
  assert.equal(f.pending()[0]!.retransmissions, 0)
  // A route appears: it goes, and only now do the ack timer's retransmissions count.
  routes.routes.set(FAR, 'out')
  assert.equal(sends(f.retry(5000)).length, 1)
  const later: ForwarderOutput[] = []
  for (let now = 5001; now < 9000; now++) later.push(...f.tick(now))
  assert.deepEqual(later.map((o) => o.kind), ['send', 'failed'])
  // Unreliable and never out of custody: reported failed at expiry.
  routes.routes.clear()
  f.send(envelope({ id: 'bbbbbbbbbbbbbbbb', src: new Uint8Array(32).fill(2) }), 10_000, false)
  assert.deepEqual(f.tick(20_000), [{ kind: 'failed', id: 'bbbbbbbbbbbbbbbb', dst: FAR, reason: 'custody expired' }])
})

test('an ack clears spray copies still waiting at the sender', () => {
  const routes = table()
  routes.up.push('a')
  const f = forwarder(routes)
  const e = envelope({ flags: ACK_REQUESTED | SPRAY, src: new Uint8Array(32).fill(2) })
  assert.deepEqual(sends(f.send(e, 0, true)).map((s) => [s.link, s.envelope.copies]), [['a', 4]], 'sprayCopies 8: half to the one link met')
  assert.equal(f.custody()[0]!.copies, 4)
  assert.deepEqual(f.acknowledge(e.id, 10), [{ kind: 'acked', id: e.id }])
  assert.deepEqual(f.custody(), [])
  assert.equal(f.stateSize(), 0)
})
