// The payment engine in each role, on an in-memory network of real engines whose line
// changes are applied with line.ts's rules (payment-net.ts): direct and multi-hop
// payments, fees and the cap, exchange, multi-path, and each bad input of issue 6.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import IlpPacket from 'ilp-packet'
import { parseAmount as u } from '../../../src/apps/credit/amount.ts'
import { applyChanges } from '../../../src/apps/credit/line.ts'
import { decodePrepare, decodeReply, encodePrepare, ilpAddressOf } from '../../../src/apps/credit/ilp-packet.ts'
import { forwardAmount, planPath } from '../../../src/apps/credit/payment-engine.ts'
import type { DoneOutput, EngineOutput, FailedOutput, ForwardedOutput, PathHop } from '../../../src/apps/credit/payment-engine.ts'
import { PaymentNet } from './payment-net.ts'
import type { NetNode } from './payment-net.ts'

const hop = (n: NetNode, unit = 'USD', extra: Partial<PathHop> = {}): PathHop => ({ account: n.account, unit, ...extra })

function outcome (node: NetNode, kind: 'done'): DoneOutput
function outcome (node: NetNode, kind: 'failed'): FailedOutput
function outcome (node: NetNode, kind: 'done' | 'failed'): EngineOutput {
  const ends = node.events.filter((e) => e.kind === 'done' || e.kind === 'failed')
  assert.equal(ends.length, 1, `${node.name} ended ${ends.length} payments: ${JSON.stringify(ends.map((e) => e.kind))}`)
  const end = ends[0] as EngineOutput
  assert.equal(end.kind, kind, `expected ${kind}, got ${JSON.stringify(end, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v)}`)
  return end
}

/** A line of four: A–B–C–D, each extending `limit` to its neighbours both ways. */
function chain (limit = u('100'), options = {}): { net: PaymentNet, A: NetNode, B: NetNode, C: NetNode, D: NetNode } {
  const net = new PaymentNet(undefined, options)
  const [A, B, C, D] = ['A', 'B', 'C', 'D'].map((n) => net.node(n)) as [NetNode, NetNode, NetNode, NetNode]
  net.trust(A, B, 'USD', limit, limit)
  net.trust(B, C, 'USD', limit, limit)
  net.trust(C, D, 'USD', limit, limit)
  return { net, A, B, C, D }
}

function assertUnchanged (net: PaymentNet): void {
  for (const [key, state] of net.lines) assert.equal(state.balance, net.initial.get(key)?.balance, 'a failed payment moved a balance')
}

test('payment: a direct payment settles on the one line and both ends report it', () => {
  const net = new PaymentNet()
  const A = net.node('A')
  const B = net.node('B')
  net.trust(A, B, 'USD', u('10'), u('10'))
  const inv = net.invoice(B, u('2.5'), 'USD')
  net.pay(A, { payee: B.account, amount: u('2.5'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(B)], amount: u('2.5') }] })
  const done = outcome(A, 'done')
  assert.equal(done.ok, true)
  assert.equal(done.delivered, u('2.5'))
  assert.equal(done.fee, 0n)
  assert.deepEqual(done.fulfillment, inv.fulfillment)
  assert.equal(net.position(B, A, 'USD'), u('2.5'))
  assert.equal(net.position(A, B, 'USD'), -u('2.5'))
  assert.deepEqual(B.events.map((e) => e.kind), ['received'])
  assert.equal(net.holdCount(), 0)
})

test('payment: D pays A over A–B–C–D; every line moves by the amount, the intermediaries earn nothing without fees', () => {
  const { net, A, B, C, D } = chain()
  const inv = net.invoice(A, u('7'), 'USD')
  net.pay(D, { payee: A.account, amount: u('7'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(C), hop(B), hop(A)], amount: u('7') }] })
  assert.equal(outcome(D, 'done').ok, true)
  assert.equal(net.position(A, B, 'USD'), u('7'))
  assert.equal(net.position(B, C, 'USD'), u('7'))
  assert.equal(net.position(C, D, 'USD'), u('7'))
  assert.equal(net.netChange(B, 'USD'), 0n)
  assert.equal(net.netChange(C, 'USD'), 0n)
  assert.equal(net.netChange(D, 'USD'), -u('7'))
  assert.equal(net.holdCount(), 0)
  for (const n of [B, C]) assert.deepEqual(n.events.map((e) => [e.kind, (e as ForwardedOutput).ok]), [['forwarded', true]])
})

test('payment: each hop\'s prepare is a valid ILPv4 packet for the reference module, with the expiry shortened by the hop margin', () => {
  const { net, A, C, B, D } = chain()
  const inv = net.invoice(A, u('1'), 'USD')
  net.pay(D, { payee: A.account, amount: u('1'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(C), hop(B), hop(A)], amount: u('1') }] })
  const holds = net.delivered.filter((d) => d.change.kind === 'hold')
  assert.deepEqual(holds.map((d) => d.proposer), ['D', 'C', 'B'])
  const prepares = holds.map((d) => IlpPacket.deserializeIlpPrepare(Buffer.from((d.attachment as { ilp: Uint8Array }).ilp)))
  for (const p of prepares) {
    assert.equal(p.destination, ilpAddressOf(A.account))
    assert.deepEqual(new Uint8Array(p.executionCondition), inv.condition)
  }
  const expiries = prepares.map((p) => p.expiresAt.getTime())
  assert.deepEqual([expiries[0]! - expiries[1]!, expiries[1]! - expiries[2]!], [2_000, 2_000])
  assert.equal(expiries[2]! - net.now, 10_000)
  const settles = net.delivered.filter((d) => d.change.kind === 'settle')
  assert.deepEqual(settles.map((d) => d.proposer), ['A', 'B', 'C'])
  for (const s of settles) {
    const f = IlpPacket.deserializeIlpFulfill(Buffer.from((s.attachment as { ilp: Uint8Array }).ilp))
    assert.deepEqual(new Uint8Array(f.fulfillment), inv.fulfillment)
  }
})

test('payment: fees — the payer sends what covers each hop\'s ppm (rounded in the hops\' favour), within the cap; over the cap nothing is sent', () => {
  const { net, A, B, C, D } = chain()
  B.engine.setFee('USD', 1_000) // 0.1 %
  C.engine.setFee('USD', 2_500) // 0.25 %
  const amount = u('10')
  const inv = net.invoice(A, amount, 'USD')
  const path = { hops: [hop(C, 'USD', { feePpm: 2_500 }), hop(B, 'USD', { feePpm: 1_000 }), hop(A)], amount }
  const plan = planPath(path)
  // B must pass 10 on: it needs ceil(10e6 · 1e6 / 999_000) = 10_010_011; C likewise for that.
  assert.equal(forwardAmount(plan.sent, 1_000_000n, 2_500) >= 10_010_011n, true)
  assert.equal(plan.sent, 10_035_099n)
  assert.equal(plan.fee, plan.sent - amount)

  // A cap one millionth below the fee: refused before any change is proposed (R01).
  const first = net.pay(D, { payee: A.account, amount, unit: 'USD', maxFee: plan.fee - 1n, condition: inv.condition, paths: [path] })
  const failed = outcome(D, 'failed')
  assert.deepEqual(failed.payment, first)
  assert.equal(failed.code, 'R01')
  assert.match(failed.message, /over the cap/)
  assert.equal(net.delivered.length, 0)
  D.events.length = 0

  net.pay(D, { payee: A.account, amount, unit: 'USD', maxFee: plan.fee, condition: inv.condition, paths: [path] })
  const done = outcome(D, 'done')
  assert.equal(done.fee, plan.fee)
  assert.equal(done.paid, plan.sent)
  assert.equal(net.netChange(D, 'USD'), -plan.sent)
  assert.equal(net.netChange(A, 'USD'), amount)
  const cOut = forwardAmount(plan.sent, 1_000_000n, 2_500)
  assert.equal(net.netChange(C, 'USD'), plan.sent - cOut)
  assert.equal(net.netChange(B, 'USD'), cOut - forwardAmount(cOut, 1_000_000n, 1_000))
  assert.equal(net.netChange(B, 'USD') + net.netChange(C, 'USD'), plan.fee, 'the intermediaries earn exactly the fee')
})

test('payment: cross-unit through an exchange offer — EUR from the payer, USD to the payee, at the hop\'s rate', () => {
  const net = new PaymentNet()
  const [P, X, Q] = ['P', 'X', 'Q'].map((n) => net.node(n)) as [NetNode, NetNode, NetNode]
  net.trust(P, X, 'EUR', u('200'), u('200'))
  net.trust(X, Q, 'USD', u('200'), u('200'))
  X.engine.setOffer('EUR', 'USD', 1_080_000n) // 1 EUR buys 1.08 USD
  X.engine.setFee('USD', 500)
  const amount = u('54')
  const inv = net.invoice(Q, amount, 'USD')
  const path = { hops: [hop(X, 'EUR', { rate: 1_080_000n, feePpm: 500 }), hop(Q, 'USD')], amount }
  const plan = planPath(path)
  // 54 USD at 1.08 is 50 EUR; with 0.05 % the payer sends ceil(54e12 / (1_080_000 · 999_500)) millionths.
  assert.equal(plan.sent, (amount * 10n ** 12n + 1_080_000n * 999_500n - 1n) / (1_080_000n * 999_500n))
  assert.equal(plan.sent, 50_025_013n)
  net.pay(P, { payee: Q.account, amount, unit: 'USD', maxFee: u('0.05'), condition: inv.condition, paths: [path] })
  const done = outcome(P, 'done')
  assert.deepEqual(done.sent, [{ unit: 'EUR', amount: plan.sent }])
  assert.equal(net.netChange(P, 'EUR'), -plan.sent)
  assert.equal(net.netChange(X, 'EUR'), plan.sent)
  assert.equal(net.netChange(X, 'USD'), -forwardAmount(plan.sent, 1_080_000n, 500))
  assert.equal(net.netChange(Q, 'USD'), forwardAmount(plan.sent, 1_080_000n, 500))
  assert.ok(net.netChange(Q, 'USD') >= amount)
  assert.ok(done.fee <= u('0.05'))

  // Without the offer the hop cannot exchange: F02 from X, nothing moves.
  X.engine.setOffer('EUR', 'USD', 0n)
  P.events.length = 0
  const before = new Map(net.lines)
  const inv2 = net.invoice(Q, amount, 'USD')
  net.pay(P, { payee: Q.account, amount, unit: 'USD', maxFee: u('1'), condition: inv2.condition, paths: [path] })
  const failed = outcome(P, 'failed')
  assert.equal(failed.code, 'F02')
  assert.equal(failed.triggeredBy, ilpAddressOf(X.account))
  assert.match(failed.message, /no exchange offered from EUR to USD/)
  for (const [k, s] of net.lines) assert.equal(s.balance, before.get(k)?.balance)
})

test('payment: a payment too big for one path goes over two; the payee settles both parts at once', () => {
  const net = new PaymentNet()
  const [S, B, C, R] = ['S', 'B', 'C', 'R'].map((n) => net.node(n)) as [NetNode, NetNode, NetNode, NetNode]
  for (const mid of [B, C]) {
    net.trust(S, mid, 'USD', u('6'), u('6'))
    net.trust(mid, R, 'USD', u('6'), u('6'))
  }
  const inv = net.invoice(R, u('10'), 'USD')
  net.pay(S, { payee: R.account, amount: u('10'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(B), hop(R)], amount: u('6') }, { hops: [hop(C), hop(R)], amount: u('4') }] })
  const done = outcome(S, 'done')
  assert.equal(done.ok, true)
  assert.equal(done.paths.length, 2)
  assert.equal(net.netChange(R, 'USD'), u('10'))
  assert.equal(net.position(R, B, 'USD'), u('6'))
  assert.equal(net.position(R, C, 'USD'), u('4'))
  const received = R.events.find((e) => e.kind === 'received')
  assert.deepEqual(received && { amount: received.amount, parts: received.parts }, { amount: u('10'), parts: 2 })
  // The payee settled both in the same step, after the second part arrived: no settle before both holds were on.
  const kinds = net.delivered.map((d) => `${d.proposer}:${d.change.kind}`)
  assert.ok(kinds.indexOf('R:settle') > kinds.lastIndexOf('C:hold') && kinds.indexOf('R:settle') > kinds.lastIndexOf('B:hold'), kinds.join(' '))
})

test('payment: one part of two fails — the payee gives the other part back before it expires; nothing moves', () => {
  const net = new PaymentNet()
  const [S, B, C, R] = ['S', 'B', 'C', 'R'].map((n) => net.node(n)) as [NetNode, NetNode, NetNode, NetNode]
  net.trust(S, B, 'USD', u('6'), u('6'))
  net.trust(B, R, 'USD', u('6'), u('6'))
  net.trust(S, C, 'USD', u('6'), u('6'))
  net.trust(C, R, 'USD', u('1'), u('1')) // C can pass on 1, not 4
  const inv = net.invoice(R, u('10'), 'USD')
  net.pay(S, { payee: R.account, amount: u('10'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(B), hop(R)], amount: u('6') }, { hops: [hop(C), hop(R)], amount: u('4') }] })
  assert.equal(S.events.length, 0, 'one part is still held by the payee')
  const start = net.now
  assert.equal(R.engine.nextDeadline(), start + 10_000 - 500, 'the payee\'s timer: when it gives up on the part it holds')
  assert.equal(S.engine.nextDeadline(), start + 12_001, 'the payer\'s timer: just after its holds expire')
  net.advance(9_400)
  assert.equal(S.events.length, 0, 'the payee waits until half its minimum window before the earliest expiry (10 s − 0.5 s)')
  net.advance(200)
  const failed = outcome(S, 'failed')
  assert.equal(failed.code, 'T04', 'the most telling reject: C had no liquidity')
  assert.deepEqual(failed.paths.map((p) => p.code).sort(), ['R00', 'T04'])
  assert.ok(net.now < Math.min(...net.delivered.filter((d) => d.change.kind === 'hold').map((d) => (d.change as { hold: { expiresAt: number } }).hold.expiresAt)), 'answered before any hold expired')
  assertUnchanged(net)
  assert.equal(net.holdCount(), 0)
  for (const n of [S, B, C, R]) assert.equal(n.engine.nextDeadline(), null, `${n.name} has nothing left to time`)
})

test('payment: bad input — an amount over the first line\'s capacity is refused before anything is sent (T04)', () => {
  const { net, A, B, C, D } = chain(u('5'))
  const inv = net.invoice(A, u('6'), 'USD')
  net.pay(D, { payee: A.account, amount: u('6'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(C), hop(B), hop(A)], amount: u('6') }] })
  const failed = outcome(D, 'failed')
  assert.equal(failed.code, 'T04')
  assert.match(failed.message, /5 USD left/)
  assert.equal(net.delivered.length, 0)
})

test('payment: bad input — over an intermediary\'s capacity: T04 relayed back, every hold released, no balance moved', () => {
  const net = new PaymentNet()
  const [A, B, C, D] = ['A', 'B', 'C', 'D'].map((n) => net.node(n)) as [NetNode, NetNode, NetNode, NetNode]
  net.trust(A, B, 'USD', u('2'), u('2'))
  net.trust(B, C, 'USD', u('50'), u('50'))
  net.trust(C, D, 'USD', u('50'), u('50'))
  const inv = net.invoice(A, u('3'), 'USD')
  net.pay(D, { payee: A.account, amount: u('3'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(C), hop(B), hop(A)], amount: u('3') }] })
  const failed = outcome(D, 'failed')
  assert.equal(failed.code, 'T04')
  assert.equal(failed.triggeredBy, ilpAddressOf(B.account))
  assert.equal(net.holdCount(), 0)
  assertUnchanged(net)
  // C relayed B's reject as it was (RFC 0027: connectors pass rejects on unchanged).
  const rejects = net.delivered.filter((d) => d.change.kind === 'release').map((d) => Buffer.from((d.attachment as { ilp: Uint8Array }).ilp).toString('hex'))
  assert.equal(rejects.length, 2)
  assert.equal(rejects[0], rejects[1])
})

test('payment: bad input — unknown unit and unreachable payee are clear F02 failures with nothing moved', () => {
  const { net, A, B, C, D } = chain()
  // No path at all (the router found none): F02 at once.
  const inv = net.invoice(A, u('1'), 'hours')
  net.pay(D, { payee: A.account, amount: u('1'), unit: 'hours', maxFee: 0n, condition: inv.condition, paths: [] })
  assert.equal(outcome(D, 'failed').code, 'F02')
  D.events.length = 0
  // A path whose first line does not exist in that unit.
  net.pay(D, { payee: A.account, amount: u('1'), unit: 'hours', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(C, 'hours'), hop(B, 'hours'), hop(A, 'hours')], amount: u('1') }] })
  assert.match(outcome(D, 'failed').message, /no hours trust line/)
  D.events.length = 0
  // A route that continues in a unit C has no line in: C answers F02.
  const inv2 = net.invoice(A, u('1'), 'USD')
  net.pay(D, { payee: A.account, amount: u('1'), unit: 'USD', maxFee: 0n, condition: inv2.condition, paths: [{ hops: [hop(C, 'USD', { rate: 1_000_000n }), hop(B, 'EUR', { rate: 1_000_000n }), hop(A)], amount: u('1') }] })
  const f = outcome(D, 'failed')
  assert.equal(f.code, 'F02')
  assert.equal(f.triggeredBy, ilpAddressOf(C.account))
  D.events.length = 0
  // A payee that no line reaches: the route ends at B, which is not the destination.
  const E = net.node('E')
  const inv3 = net.invoice(E, u('1'), 'USD')
  net.pay(D, { payee: E.account, amount: u('1'), unit: 'USD', maxFee: 0n, condition: inv3.condition, paths: [{ hops: [hop(C), hop(E)], amount: u('1') }] })
  assert.equal(outcome(D, 'failed').code, 'F02')
  assertUnchanged(net)
  assert.equal(net.holdCount(), 0)
})

test('payment: bad input — a hop goes silent with the payment held: after expiry every hold is released, the payer gets R00, nothing moved', () => {
  const { net, A, B, C, D } = chain()
  const inv = net.invoice(A, u('4'), 'USD')
  B.silentUntil = Infinity // B crashes before it can forward
  net.pay(D, { payee: A.account, amount: u('4'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(C), hop(B), hop(A)], amount: u('4') }] })
  assert.equal(net.holdCount(), 1, 'D→C placed; C→B waits for B')
  // C's hold to B expires at +12 s (10 s for the last hop, 2 s margin): C answers D at once, before D's hold (+14 s) expires.
  net.advance(12_200)
  const failed = outcome(D, 'failed')
  assert.equal(failed.code, 'R00')
  assert.equal(failed.triggeredBy, ilpAddressOf(C.account), 'C gave up on its hold to B once it expired and told D')
  net.advance(10_000)

  assert.equal(net.holdCount(), 0)
  // B comes back: its late proposal (the hold C proposed) is refused as expired, and nothing changes.
  B.silentUntil = 0
  net.advance(5_000)
  assert.equal(net.holdCount(), 0)
  assertUnchanged(net)
})

test('payment: bad input — a hop silent between the payee\'s hold and its settle: the settle comes too late, every hold is released, nothing moved', () => {
  const { net, A, B, C, D } = chain()
  const inv = net.invoice(A, u('4'), 'USD')
  // B goes silent for 15 s right after its hold to A is on: A's settle waits for B past A's hold's expiry.
  net.afterDeliver = (proposer, change) => { if (proposer === B && change.kind === 'hold') B.silentUntil = net.now + 15_000 }
  net.pay(D, { payee: A.account, amount: u('4'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(C), hop(B), hop(A)], amount: u('4') }] })
  net.afterDeliver = undefined
  net.advance(12_000)
  // A's hold from B expired at +10 s with A's settle still waiting for B: the hold waits for B, not for a
  // timer: no deadline in the past (the shell would spin on it).
  assert.equal(A.engine.pending().proposals, 1, 'its settle waits for B (and stands for the hold: no release on top)')
  const due = A.engine.nextDeadline()
  assert.ok(due === null || due > net.now, `A's next deadline ${due} is not in the past`)
  net.advance(18_000)
  const failed = outcome(D, 'failed')
  assert.equal(failed.code, 'R00')
  assert.deepEqual(A.events.map((e) => e.kind), ['received', 'part-lost'])
  assert.equal(net.holdCount(), 0)
  assertUnchanged(net)
})

test('payment: a hop silent for less than its margin after forwarding: the payment completes when it is back', () => {
  const { net, A, B, C, D } = chain()
  const inv = net.invoice(A, u('4'), 'USD')
  net.afterDeliver = (proposer, change) => { if (proposer === B && change.kind === 'hold') B.silentUntil = net.now + 1_500 }
  net.pay(D, { payee: A.account, amount: u('4'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(C), hop(B), hop(A)], amount: u('4') }] })
  net.afterDeliver = undefined
  assert.equal(D.events.length, 0)
  net.advance(2_000)
  assert.equal(outcome(D, 'done').ok, true)
  assert.equal(net.netChange(A, 'USD'), u('4'))
  assert.equal(net.netChange(B, 'USD'), 0n)
  assert.equal(net.holdCount(), 0)
})

test('payment: an intermediary that crashes between settling downstream and upstream for longer than its margin bears the loss alone (the ILP hop risk); no IOU is created or destroyed', () => {
  const { net, A, B, C, D } = chain()
  const inv = net.invoice(A, u('4'), 'USD')
  // A's settle of B's hold commits, then B is down for 15 s before it can settle with C.
  net.afterDeliver = (proposer, change) => { if (proposer === A && change.kind === 'settle') B.silentUntil = net.now + 15_000 }
  net.pay(D, { payee: A.account, amount: u('4'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(C), hop(B), hop(A)], amount: u('4') }] })
  net.afterDeliver = undefined
  net.advance(30_000)
  assert.equal(outcome(D, 'failed').code, 'R00')
  assert.equal(net.netChange(A, 'USD'), u('4'))
  assert.equal(net.netChange(B, 'USD'), -u('4'))
  assert.equal(net.netChange(C, 'USD'), 0n)
  assert.equal(net.netChange(D, 'USD'), 0n)
  const lost = B.events.find((e) => e.kind === 'forwarded')
  assert.ok(lost !== undefined && lost.kind === 'forwarded' && lost.lost === true && !lost.ok)
  assert.equal(net.holdCount(), 0)
})

test('payment: bad input — a hold whose expiry leaves no room for the hop margin is rejected R02', () => {
  const net = new PaymentNet()
  const [A, B, C] = ['A', 'B', 'C'].map((n) => net.node(n)) as [NetNode, NetNode, NetNode]
  // A's engine gives the last hop only 1.5 s; B needs its 2 s margin plus 1 s left for C.
  net.restart(A, [], { lastHopMs: 1_500, hopMarginMs: 500, minHoldMs: 1_000 })
  net.trust(A, B, 'USD', u('10'), u('10'))
  net.trust(B, C, 'USD', u('10'), u('10'))
  const inv = net.invoice(C, u('1'), 'USD')
  net.pay(A, { payee: C.account, amount: u('1'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(B), hop(C)], amount: u('1') }] })
  const failed = outcome(A, 'failed')
  assert.equal(failed.code, 'R02')
  assert.equal(failed.triggeredBy, ilpAddressOf(B.account))
  assert.equal(net.holdCount(), 0)
  assertUnchanged(net)
})

test('payment: an intermediary caps how long it lets a forwarded hold stay pending (maxHoldMs), whatever expiry the payer asks', () => {
  const net = new PaymentNet()
  const A = net.node('A', { lastHopMs: 300_000 })
  const B = net.node('B', { maxHoldMs: 20_000 })
  const C = net.node('C')
  net.trust(A, B, 'USD', u('10'), u('10'))
  net.trust(B, C, 'USD', u('10'), u('10'))
  C.silentUntil = Infinity
  const inv = net.invoice(C, u('1'), 'USD')
  net.pay(A, { payee: C.account, amount: u('1'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(B), hop(C)], amount: u('1') }] })
  const holds = net.delivered.filter((d) => d.change.kind === 'hold').map((d) => (d.change as { hold: { expiresAt: number } }).hold.expiresAt)
  assert.deepEqual(holds, [net.now + 302_000])
  B.engine.tick(net.now) // nothing yet
  assert.equal(B.engine.nextDeadline(), net.now + 20_001, 'B gives up after its own 20 s, not the payer\'s 300 s')
  net.advance(20_200)
  assert.equal(outcome(A, 'failed').code, 'R00')
  assert.equal(net.holdCount(), 0)
})

test('payment: the payee refuses what it did not invoice (F06), the wrong unit (F06) and a packet that disagrees with its hold (F01)', () => {
  const net = new PaymentNet()
  const A = net.node('A')
  const B = net.node('B')
  net.trust(A, B, 'USD', u('10'), u('10'))
  net.trust(A, B, 'EUR', u('10'), u('10'))
  const stranger = new Uint8Array(32).fill(9)
  net.pay(A, { payee: B.account, amount: u('1'), unit: 'USD', maxFee: 0n, condition: stranger, paths: [{ hops: [hop(B)], amount: u('1') }] })
  assert.equal(outcome(A, 'failed').code, 'F06')
  A.events.length = 0
  const inv = net.invoice(B, u('1'), 'USD')
  net.pay(A, { payee: B.account, amount: u('1'), unit: 'EUR', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(B, 'EUR')], amount: u('1') }] })
  const f = outcome(A, 'failed')
  assert.equal(f.code, 'F06')
  assert.match(f.message, /in USD, not EUR/)

  // A hold whose packet claims more than the hold carries: decoded, compared, rejected.
  const line = net.line(A, B, 'USD')
  const side = Buffer.compare(line.a, A.account) === 0 ? 'a' : 'b'
  const hold = { id: new Uint8Array(16).fill(1), payer: side, amount: u('1'), condition: inv.condition, expiresAt: net.now + 10_000 } as const
  const ilp = encodePrepare({ amount: u('2'), expiresAt: hold.expiresAt, executionCondition: inv.condition, destination: ilpAddressOf(B.account), data: new Uint8Array(0) })
  const next = applyChanges(line, side, [{ kind: 'hold', hold }], net.now)
  net.lines.set([...net.lines].find(([, s]) => s === line)![0], next)
  const outs = B.engine.onCommitted(next, side, [{ kind: 'hold', hold }], [{ ilp, route: [] }], net.now)
  const release = outs.find((o) => o.kind === 'change')
  assert.ok(release !== undefined && release.change.kind === 'release')
  const reject = decodeReply((release.attachment as { ilp: Uint8Array }).ilp)
  assert.equal(reject.type === 'reject' && reject.code, 'F01')
  assert.equal(decodePrepare(ilp).amount, u('2'))
})

test('payment: an intermediary restarted mid-payment (its forward links lost) still passes the fulfillment upstream', () => {
  const { net, A, B, C, D } = chain()
  const inv = net.invoice(A, u('3'), 'USD')
  A.silentUntil = net.now + 500 // hold the payment at B→A until B has restarted
  net.pay(D, { payee: A.account, amount: u('3'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(C), hop(B), hop(A)], amount: u('3') }] })
  net.restart(B)
  net.advance(1_000)
  assert.equal(outcome(D, 'done').ok, true)
  assert.equal(net.netChange(B, 'USD'), 0n)
  assert.equal(net.netChange(A, 'USD'), u('3'))
  assert.equal(net.holdCount(), 0)
})

test('payment: restarts from the engine\'s snapshot — a sender still reports, an intermediary relays the payee\'s reject at once, a payee still collects its parts', () => {
  // The sender and an intermediary restart while the payee is silent; the payee then rejects.
  const { net, A, B, C, D } = chain()
  A.silentUntil = net.now + 1_000
  net.pay(D, { payee: A.account, amount: u('3'), unit: 'USD', maxFee: 0n, condition: new Uint8Array(32).fill(3), paths: [{ hops: [hop(C), hop(B), hop(A)], amount: u('3') }] })
  net.restartFromSnapshot(B)
  net.restartFromSnapshot(D)
  net.advance(1_100)
  const failed = outcome(D, 'failed')
  assert.equal(failed.code, 'F06')
  assert.equal(failed.triggeredBy, ilpAddressOf(A.account), 'the payee\'s own reject, relayed by the restarted B')
  assert.equal(net.holdCount(), 0, 'answered at once, not at expiry')

  // A payee restarts between the two parts of a payment; it settles both when the second arrives.
  const net2 = new PaymentNet(undefined, {}, 200)
  const [S, X, Y, R] = ['S', 'X', 'Y', 'R'].map((n) => net2.node(n)) as [NetNode, NetNode, NetNode, NetNode]
  net2.trust(S, X, 'USD', u('9'), u('9'))
  net2.trust(X, R, 'USD', u('9'), u('9'))
  net2.trust(S, Y, 'USD', u('9'), u('9'))
  net2.trust(Y, R, 'USD', u('9'), u('9'))
  Y.silentUntil = net2.now + 1_000
  const inv = net2.invoice(R, u('10'), 'USD')
  net2.pay(S, { payee: R.account, amount: u('10'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(X), hop(R)], amount: u('7') }, { hops: [hop(Y), hop(R)], amount: u('3') }] })
  net2.advance(600)
  assert.equal(R.engine.pending().invoiceParts, 1)
  net2.restartFromSnapshot(R)
  assert.equal(R.engine.pending().invoiceParts, 1)
  net2.advance(2_000)
  assert.equal(outcome(S, 'done').ok, true)
  assert.equal(net2.netChange(R, 'USD'), u('10'))
  assert.equal(net2.holdCount(), 0)
})

test('payment: planPath rounds every hop up for the payer, so no hop ever passes on less than the next one needs', () => {
  for (let amount = 1n; amount < 400n; amount += 7n) {
    for (const [rate, ppm] of [[1_000_000n, 0], [1_000_000n, 3_333], [333_333n, 10], [7_770_000n, 999_999]] as Array<[bigint, number]>) {
      const plan = planPath({ hops: [{ account: new Uint8Array(32), unit: 'X', rate, feePpm: ppm }, { account: new Uint8Array(32).fill(1), unit: 'Y' }], amount })
      assert.ok(forwardAmount(plan.sent, rate, ppm) >= amount)
      assert.ok(plan.sent === 1n || forwardAmount(plan.sent - 1n, rate, ppm) < amount, 'and it is the least such amount')
    }
  }
})

/** Replaces the line of `x` and `y` with one whose holds are gone, as a state adopted from the peer after a resync would be, and returns it. */
function dropHolds (net: PaymentNet, x: NetNode, y: NetNode): ReturnType<PaymentNet['line']> {
  const state = net.line(x, y, 'USD')
  const key = [...net.lines].find(([, s]) => s === state)?.[0] as string
  const next = { ...state, seq: state.seq + 1, holds: [] }
  net.lines.set(key, next)
  return next
}

/** D pays A over A–B–C–D and A goes quiet once B's hold to it is on: B holds the forward both ways. */
function forwardHeldAtB (): ReturnType<typeof chain> {
  const c = chain()
  const { net, A, B, C } = c
  const inv = net.invoice(A, u('4'), 'USD')
  net.afterDeliver = (proposer, change) => { if (proposer === B && change.kind === 'hold') A.silentUntil = Infinity }
  net.pay(c.D, { payee: A.account, amount: u('4'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [hop(C), hop(B), hop(A)], amount: u('4') }] })
  net.afterDeliver = undefined
  return c
}

test('payment: a resync that drops a forward\'s downstream hold answers upstream at once; the forward closes (it used to stay open)', () => {
  const { net, A, B, D } = forwardHeldAtB()
  assert.equal(B.engine.pending().forwards, 2, 'B holds the forward both ways')
  // B loses state and adopts A's newer line state, without the hold.
  net.take(B, B.engine.onResynced(dropHolds(net, A, B), net.now))
  net.settle()
  const failed = outcome(D, 'failed')
  assert.equal(failed.triggeredBy, ilpAddressOf(B.account), 'B answered upstream with its own reject, before any expiry')
  assert.equal(B.engine.pending().forwards, 0)
  const fwd = B.events.find((e): e is ForwardedOutput => e.kind === 'forwarded')
  assert.equal(fwd?.ok, false)
  assert.equal(net.holdCount(), 0)
  assertUnchanged(net)
})

test('payment: a resync that drops a forward\'s upstream hold reports the forward ended, outcome unknown; the downstream hold still expires cleanly', () => {
  const { net, A, B, C } = forwardHeldAtB()
  net.take(B, B.engine.onResynced(dropHolds(net, B, C), net.now))
  const fwd = B.events.filter((e): e is ForwardedOutput => e.kind === 'forwarded')
  assert.equal(fwd.length, 1)
  assert.equal(fwd[0]?.ok, false)
  assert.match(fwd[0]?.message ?? '', /outcome unknown/)
  assert.equal(B.engine.pending().forwards, 1, 'only the downstream side is left')
  // A stays silent: B's hold to A expires and B releases it; nothing is answered upstream twice, nothing reported twice.
  A.silentUntil = net.now + 20_000
  net.advance(30_000)
  assert.equal(B.engine.pending().forwards, 0)
  assert.equal(B.events.filter((e) => e.kind === 'forwarded').length, 1)
  assert.equal(net.holdCount(), 0)
})
