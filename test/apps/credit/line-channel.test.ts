// The trust line's two-party update protocol (line-channel.ts; issue 6 design note, part 1):
// two channels piped in memory, by hand and under fast-check's random interleavings with
// duplicates, drops, reorders, replays, forgeries and crash-restarts.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { generateIdentity } from '../../../src/core/identity.ts'
import { encodeCanonical } from '../../../src/core/encoding.ts'
import {
  LineChannel, MAX_PROPOSAL_CHANGES, decodeLineMessage, encodeLineMessage, lineChangeValue
} from '../../../src/apps/credit/line-channel.ts'
import type { LineMessage, LineOutput, ProposeMessage } from '../../../src/apps/credit/line-channel.ts'
import {
  applyChanges, checkSignedLineState, encodeSignedLineState, lineId, signLineState, supersedes
} from '../../../src/apps/credit/line.ts'
import type { Hold, LineChange, LineState, Side, SignedLineState } from '../../../src/apps/credit/line.ts'
import { InvalidLineStateError } from '../../../src/apps/credit/errors.ts'
import { LinePipe, randomBytes, sha256 } from '../../helpers/credit-line-pipe.ts'
import type { PipeSide } from '../../helpers/credit-line-pipe.ts'

const kinds = (out: LineOutput[]): string[] => out.map((o) => o.do === 'send' ? `send ${o.message.type}` : o.do)

function secret (): { fulfillment: Uint8Array, condition: Uint8Array } {
  const fulfillment = randomBytes(32)
  return { fulfillment, condition: sha256(fulfillment) }
}

function hold (payer: Side, amount: bigint, condition: Uint8Array, expiresAt: number): Hold {
  return { id: randomBytes(16), payer, amount, condition, expiresAt }
}

/** Runs the pipe until nothing is in flight, delivering in order. */
function flush (pipe: LinePipe): void {
  for (let i = 0; pipe.inFlight.length > 0 && i < 10_000; i++) pipe.deliver(0)
}

/** A pipe whose line is open with `credit` extended each way. */
function openPipe (credit = 1_000n, options = {}): LinePipe {
  const pipe = new LinePipe(options)
  pipe.enqueue(pipe.x, { kind: 'limit', side: pipe.sideOf(pipe.x), limit: credit })
  flush(pipe)
  pipe.enqueue(pipe.y, { kind: 'limit', side: pipe.sideOf(pipe.y), limit: credit })
  flush(pipe)
  return pipe
}

function assertConverged (pipe: LinePipe): void {
  const x = pipe.x.channel
  const y = pipe.y.channel
  assert.ok(x !== null && y !== null)
  assert.equal(x.state.seq, y.state.seq)
  if (x.signed === null || y.signed === null) {
    assert.equal(x.signed, y.signed)
    return
  }
  assert.deepEqual(encodeSignedLineState(x.signed), encodeSignedLineState(y.signed))
  checkSignedLineState(x.signed)
}

// ---- the wire format --------------------------------------------------------------------

const arbBytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })
const arbSide = fc.constantFrom<Side>('a', 'b')
const arbAmount = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
const arbChange: fc.Arbitrary<LineChange> = fc.oneof(
  fc.record({ kind: fc.constant('limit' as const), side: arbSide, limit: arbAmount }),
  fc.record({ id: arbBytes(16), payer: arbSide, amount: arbAmount, condition: arbBytes(32), expiresAt: fc.nat() }).map((hold) => ({ kind: 'hold' as const, hold })),
  fc.record({ kind: fc.constant('settle' as const), id: arbBytes(16), fulfillment: arbBytes(32) }),
  fc.record({ kind: fc.constant('release' as const), id: arbBytes(16) })
)
const arbAttachment = fc.oneof(fc.constant(null), arbBytes(40), fc.record({ ilp: fc.uint8Array({ maxLength: 60 }), route: fc.array(fc.string(), { maxLength: 3 }) }))
const arbMessage: fc.Arbitrary<LineMessage> = fc.oneof(
  fc.tuple(arbBytes(32), fc.nat(), fc.array(fc.tuple(arbChange, arbAttachment), { minLength: 1, maxLength: 5 }), arbBytes(64), arbBytes(32), arbBytes(32))
    .map(([line, base, items, sig, deviceA, deviceB]): LineMessage => ({
      type: 'propose', line, base, open: base === 0 ? { unit: 'USD', deviceA, deviceB } : null, changes: items.map((i) => i[0]), attachments: items.map((i) => i[1]), sig
    })),
  fc.record({ type: fc.constant('accept' as const), line: arbBytes(32), seq: fc.nat(), sig: arbBytes(64) }),
  fc.record({ type: fc.constant('refuse' as const), line: arbBytes(32), seq: fc.nat(), proposal: arbBytes(32), index: fc.option(fc.nat({ max: 1000 })), reason: fc.string({ maxLength: 80 }) })
)

test('messages: canonical CBOR that decodes to the same message and re-encodes to the same bytes', () => {
  fc.assert(fc.property(arbMessage, (m) => {
    const bytes = encodeLineMessage(m)
    const back = decodeLineMessage(bytes)
    assert.deepEqual(encodeLineMessage(back), bytes)
    assert.equal(back.type, m.type)
  }), { numRuns: 300 })
  // A sync carries a whole signed state and names its line.
  const pipe = openPipe()
  const signed = pipe.x.channel?.signed
  assert.ok(signed != null)
  const sync: LineMessage = { type: 'sync', line: lineId(signed.state.a, signed.state.b, 'USD'), signed }
  assert.deepEqual(encodeLineMessage(decodeLineMessage(encodeLineMessage(sync))), encodeLineMessage(sync))
  assert.throws(() => decodeLineMessage(encodeLineMessage({ ...sync, line: randomBytes(32) })), /not of the line named/)
})

test('messages: strict decoding refuses other versions, extra or missing fields, wrong sizes, open off base 0, non-canonical bytes', () => {
  const base: Record<string, unknown> = { v: 2, type: 'accept', line: randomBytes(32), seq: 3, sig: randomBytes(64) }
  const enc = (v: Record<string, unknown>): Uint8Array => encodeCanonical(v as never)
  assert.equal(decodeLineMessage(enc(base)).type, 'accept')
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...base, v: 1 }, /version 1 \(this node reads 2\)/],
    [{ ...base, v: 3 }, /version 3/],
    [{ ...base, extra: 1 }, /fields are not exactly/],
    [{ v: 2, type: 'accept', line: randomBytes(32), seq: 3 }, /fields are not exactly/],
    [{ ...base, sig: randomBytes(63) }, /sig is not 64 bytes/],
    [{ ...base, seq: -1 }, /seq is not a non-negative integer/],
    [{ ...base, type: 'hello' }, /unknown type/]
  ]
  for (const [v, re] of bad) assert.throws(() => decodeLineMessage(enc(v)), (e: Error) => e instanceof InvalidLineStateError && re.test(e.message), re.source)
  const change = lineChangeValue({ kind: 'release', id: randomBytes(16) })
  const propose = { v: 2, type: 'propose', line: randomBytes(32), base: 0, open: { unit: 'USD', deviceA: randomBytes(32), deviceB: randomBytes(32) }, changes: [change], attachments: [null], sig: randomBytes(64) }
  assert.equal(decodeLineMessage(enc(propose)).type, 'propose')
  assert.throws(() => decodeLineMessage(enc({ ...propose, base: 1 })), /"open" goes with base 0/)
  assert.throws(() => decodeLineMessage(enc({ ...propose, open: null })), /"open" goes with base 0/)
  assert.throws(() => decodeLineMessage(enc({ ...propose, attachments: [] })), /one attachment per change/)
  assert.throws(() => decodeLineMessage(enc({ ...propose, changes: [], attachments: [] })), /changes is not a list/)
  assert.throws(() => decodeLineMessage(enc({ ...propose, changes: Array(MAX_PROPOSAL_CHANGES + 1).fill(change), attachments: Array(MAX_PROPOSAL_CHANGES + 1).fill(null) })), /changes is not a list/)
  assert.throws(() => decodeLineMessage(enc({ ...propose, changes: [{ kind: 'release', id: randomBytes(16), why: 'x' }] })), /release change: fields/)
  assert.throws(() => decodeLineMessage(enc({ ...propose, changes: [{ kind: 'limit', side: 'c', limit: 1 }] })), /side is not/)
  assert.throws(() => decodeLineMessage(enc({ ...propose, changes: [{ kind: 'limit', side: 'a', limit: -1 }] })), /out of range/)
  assert.throws(() => decodeLineMessage(enc({ ...propose, changes: [{ kind: 'settle', id: randomBytes(16), fulfillment: randomBytes(31) }] })), /fulfillment is not 32 bytes/)
  // Non-canonical: the same map with a length written in a longer form than needed.
  const good = enc(base)
  const longForm = new Uint8Array([0xb8, 0x05, ...good.subarray(1)])
  assert.throws(() => decodeLineMessage(longForm), /canonical/)
  assert.throws(() => decodeLineMessage(new Uint8Array([0xff])), InvalidLineStateError)
})

// ---- the protocol by hand ----------------------------------------------------------------

test('open, credit both ways, hold, settle: both sides commit the same signed states and report every update', () => {
  const pipe = openPipe(500n)
  const sx = pipe.sideOf(pipe.x)
  const k = secret()
  const h = hold(sx, 120n, k.condition, pipe.now + 10_000)
  pipe.enqueue(pipe.x, { kind: 'hold', hold: h }, { ilp: randomBytes(20) })
  flush(pipe)
  pipe.enqueue(pipe.y, { kind: 'settle', id: h.id, fulfillment: k.fulfillment }, { fulfill: randomBytes(8) })
  flush(pipe)
  assertConverged(pipe)
  const state = pipe.x.channel?.state as LineState
  assert.equal(state.seq, 4)
  assert.equal(state.holds.length, 0)
  assert.equal(sx === 'a' ? -state.balance : state.balance, 120n, 'x paid y 120')
  for (const p of [pipe.x, pipe.y]) {
    assert.deepEqual([...p.commits.keys()], [1, 2, 3, 4])
    assert.equal(p.commits.get(3)?.changes[0]?.kind, 'hold')
    assert.deepEqual(p.commits.get(3)?.attachments[0], pipe.x.commits.get(3)?.attachments[0])
  }
})

test('durability: the receiver persists the countersigned state before its accept leaves; the proposer persists its proposal before sending it', () => {
  const pipe = new LinePipe()
  const first = pipe.enqueue(pipe.x, { kind: 'limit', side: pipe.sideOf(pipe.x), limit: 10n })
  assert.deepEqual(kinds(first), ['persist', 'send propose'])
  assert.ok(first[0]?.do === 'persist' && first[0].proposal !== null && first[0].signed === null)
  const atY = pipe.deliver(0)
  assert.deepEqual(kinds(atY), ['persist', 'send accept', 'committed'])
  assert.ok(atY[0]?.do === 'persist' && atY[0].signed?.state.seq === 1 && atY[0].commit?.seq === 1)
  const atX = pipe.deliver(0)
  assert.deepEqual(kinds(atX), ['persist', 'committed'])
  assert.ok(atX[0]?.do === 'persist' && atX[0].proposal === null && atX[0].signed?.state.seq === 1)
})

test('batching: changes queued while a proposal is out go in the next proposal as one batch, one signature each way', () => {
  const pipe = openPipe(1_000_000n)
  const sx = pipe.sideOf(pipe.x)
  const k = secret()
  for (let i = 0; i < 100; i++) pipe.enqueue(pipe.x, { kind: 'hold', hold: hold(sx, 1n, k.condition, pipe.now + 60_000) })
  // One proposal out (the first hold), 99 queued.
  assert.equal(pipe.x.channel?.inFlight, 1)
  assert.equal(pipe.x.channel?.queued, 99)
  flush(pipe)
  assertConverged(pipe)
  assert.equal(pipe.x.channel?.state.seq, 4, 'two updates carried the 100 holds')
  assert.equal(pipe.y.commits.get(4)?.changes.length, 99)
  assert.equal(pipe.x.channel?.state.holds.length, 100)
})

test('a change that breaks a rule here is refused before it is proposed; the rest of its batch goes out', () => {
  const pipe = openPipe(100n)
  const sx = pipe.sideOf(pipe.x)
  const k = secret()
  pipe.enqueue(pipe.x, { kind: 'limit', side: sx, limit: 100n }) // in flight
  const ok = hold(sx, 60n, k.condition, pipe.now + 60_000)
  const over = hold(sx, 60n, k.condition, pipe.now + 60_000)
  pipe.enqueue(pipe.x, { kind: 'hold', hold: ok })
  pipe.enqueue(pipe.x, { kind: 'hold', hold: over })
  flush(pipe)
  assertConverged(pipe)
  assert.equal(pipe.x.refusedMine.size, 1)
  assert.deepEqual(pipe.x.channel?.state.holds.map((h) => h.id), [ok.id])
})

test('refusal: the receiver refuses a change that breaks a rule on its copy (its clock is later); the proposer drops it and the rest of the batch commits', () => {
  const pipe = openPipe(1_000n)
  const sx = pipe.sideOf(pipe.x)
  const k = secret()
  pipe.enqueue(pipe.x, { kind: 'limit', side: sx, limit: 1_000n }) // in flight, so the next two batch
  const late = hold(sx, 5n, k.condition, pipe.now + 50)
  const fine = hold(sx, 7n, k.condition, pipe.now + 60_000)
  pipe.enqueue(pipe.x, { kind: 'hold', hold: late })
  pipe.enqueue(pipe.x, { kind: 'hold', hold: fine })
  pipe.deliver(0) // y accepts the limit
  pipe.deliver(0) // x commits it, proposes both holds
  pipe.now += 100 // y reads the proposal after `late` expired
  const atY = pipe.deliver(0)
  assert.deepEqual(kinds(atY), ['send refuse'])
  const refuse = atY[0]?.do === 'send' ? atY[0].message : null
  assert.ok(refuse?.type === 'refuse' && refuse.index === 0, 'the change at fault is named')
  flush(pipe)
  assertConverged(pipe)
  assert.deepEqual(pipe.x.channel?.state.holds.map((h) => h.id), [fine.id])
  assert.equal(pipe.x.refusedMine.size, 1)
  // A duplicate of the refused proposal is refused again, not judged anew.
  const proposal = pipe.history.find((w) => w.to === pipe.y && decodeLineMessage(w.bytes).type === 'propose' && (decodeLineMessage(w.bytes) as ProposeMessage).changes.length === 2)
  assert.ok(proposal !== undefined)
  const again = pipe.receive(pipe.y, proposal.bytes)
  assert.ok(again.every((o) => o.do === 'send' && o.message.type === 'sync'), 'stale now: answered with the newer state')
})

test('collision: both sides propose on the same base; a\'s proposal wins, b accepts it and proposes its changes again on top', () => {
  const pipe = openPipe(1_000n)
  const [pa, pb] = pipe.sideOf(pipe.x) === 'a' ? [pipe.x, pipe.y] : [pipe.y, pipe.x]
  const k = secret()
  const ha = hold('a', 10n, k.condition, pipe.now + 60_000)
  const hb = hold('b', 20n, k.condition, pipe.now + 60_000)
  pipe.enqueue(pa, { kind: 'hold', hold: ha })
  pipe.enqueue(pb, { kind: 'hold', hold: hb })
  assert.equal(pipe.inFlight.length, 2)
  // a gets b's proposal first: it ignores it (a wins).
  const toA = pipe.inFlight.findIndex((w) => w.to === pa)
  assert.deepEqual(pipe.deliver(toA), [])
  // b gets a's: drops its own, accepts a's, re-proposes on the new base.
  const atB = pipe.deliver(0)
  assert.deepEqual(kinds(atB), ['persist', 'send accept', 'send propose', 'committed'])
  flush(pipe)
  assertConverged(pipe)
  const s = pa.channel?.state as LineState
  assert.equal(s.holds.length, 2)
  assert.equal(pb.commits.get(s.seq)?.proposer, 'b')
})

test('collision, dishonest a: countersigning b\'s proposal it ignored makes a second state at that seq, and the one a proposed stands', () => {
  const pipe = openPipe(1_000n)
  const [pa, pb] = pipe.sideOf(pipe.x) === 'a' ? [pipe.x, pipe.y] : [pipe.y, pipe.x]
  const k = secret()
  const base = pa.channel?.state as LineState
  pipe.enqueue(pa, { kind: 'hold', hold: hold('a', 10n, k.condition, pipe.now + 60_000) })
  // b proposes a smaller limit for a (what a, cheating, would rather hold b to).
  pipe.enqueue(pb, { kind: 'limit', side: 'b', limit: 5n })
  const toA = pipe.inFlight.findIndex((w) => w.to === pa)
  const bProposal = decodeLineMessage((pipe.inFlight[toA] as { bytes: Uint8Array }).bytes)
  assert.equal(bProposal.type, 'propose')
  assert.deepEqual(pipe.deliver(toA), [], 'a ignores b\'s proposal (a wins)')
  // b takes a's proposal and commits it: b holds S_a(n), proposed by a.
  pipe.deliver(pipe.inFlight.findIndex((w) => w.to === pb))
  const honest = pb.channel?.signed
  assert.ok(honest != null && honest.proposer === 'a')
  // a countersigns b's ignored proposal behind b's back: a fully signed S_b(n) at the same seq.
  if (bProposal.type !== 'propose') return
  const forkState = applyChanges(base, 'b', bProposal.changes, pipe.now)
  const fork: SignedLineState = { state: forkState, sigA: signLineState(pa.identity, forkState, 'accept'), sigB: bProposal.sig, proposer: 'b' }
  checkSignedLineState(fork)
  assert.equal(fork.state.seq, honest.state.seq)
  assert.ok(!supersedes(fork, honest) && supersedes(honest, fork), 'the dispute rule: the state a proposed stands')
  // a shows b the fork: b keeps its state, says there is a fork and that its own stands.
  const out = pipe.receive(pb, encodeLineMessage({ type: 'sync', line: pb.channel?.line as Uint8Array, signed: fork }))
  assert.match((out.find((o) => o.do === 'rejected') as { reason: string }).reason, /a fork\); ours stands/)
  assert.deepEqual(encodeSignedLineState(pb.channel?.signed as SignedLineState), encodeSignedLineState(honest))
})

test('a fork the other way: a side holding the state b proposed adopts the one a proposed at the same seq', () => {
  // Reached only through a dishonest a (it sent b an accept for b's proposal while its own
  // was out): b committed S_b(n). Shown S_a(n), fully signed, b takes it.
  const pipe = openPipe(1_000n)
  const [pa, pb] = pipe.sideOf(pipe.x) === 'a' ? [pipe.x, pipe.y] : [pipe.y, pipe.x]
  const base = pb.channel?.state as LineState
  pipe.enqueue(pb, { kind: 'limit', side: 'b', limit: 5n })
  const toA = pipe.inFlight.findIndex((w) => w.to === pa)
  const bProposal = decodeLineMessage((pipe.inFlight[toA] as { bytes: Uint8Array }).bytes)
  pipe.inFlight.splice(toA, 1)
  if (bProposal.type !== 'propose') throw new Error('a proposal expected')
  const sb = applyChanges(base, 'b', bProposal.changes, pipe.now)
  pipe.receive(pb, encodeLineMessage({ type: 'accept', line: pb.channel?.line as Uint8Array, seq: sb.seq, sig: signLineState(pa.identity, sb, 'accept') }))
  assert.equal(pb.channel?.signed?.proposer, 'b')
  const sa = applyChanges(base, 'a', [{ kind: 'limit', side: 'a', limit: 7n }], pipe.now)
  const aState: SignedLineState = { state: sa, sigA: signLineState(pa.identity, sa, 'propose'), sigB: signLineState(pb.identity, sa, 'accept'), proposer: 'a' }
  const out = pipe.receive(pb, encodeLineMessage({ type: 'sync', line: pb.channel?.line, signed: aState }))
  assert.match((out.find((o) => o.do === 'rejected') as { reason: string }).reason, /theirs stands/)
  assert.ok(out.some((o) => o.do === 'resynced'))
  assert.equal(pb.channel?.signed?.proposer, 'a')
  assert.equal(pb.channel?.state.limitA, 7n)
})

test('collision under load: side b is not starved when both sides keep proposing', () => {
  const pipe = openPipe(10_000_000n, { yieldMs: 5 })
  const k = secret()
  for (let round = 0; round < 20; round++) {
    for (const p of [pipe.x, pipe.y]) {
      for (let i = 0; i < 5; i++) pipe.enqueue(p, { kind: 'hold', hold: hold(pipe.sideOf(p), 1n, k.condition, pipe.now + 600_000) })
    }
    // Deliver a few messages, then let time pass a little.
    for (let i = 0; i < 3 && pipe.inFlight.length > 0; i++) pipe.deliver(0)
    pipe.now += 2
    pipe.tick(pipe.x)
    pipe.tick(pipe.y)
  }
  assert.ok(pipe.settle())
  assertConverged(pipe)
  const s = pipe.x.channel?.state as LineState
  assert.equal(s.holds.filter((h) => h.payer === 'a').length, 100)
  assert.equal(s.holds.filter((h) => h.payer === 'b').length, 100)
})

test('forged messages are refused: a proposal, an accept and a synced state whose signature fails change nothing', () => {
  const pipe = openPipe(1_000n)
  const sx = pipe.sideOf(pipe.x)
  const before = encodeSignedLineState(pipe.y.channel?.signed as never)
  const stranger = generateIdentity()
  // A proposal signed by another key than x's holder device.
  const state = pipe.y.channel?.state as LineState
  const changes: LineChange[] = [{ kind: 'limit', side: sx, limit: 5n }]
  const forged: ProposeMessage = { type: 'propose', line: pipe.y.channel?.line as Uint8Array, base: state.seq, open: null, changes, attachments: [null], sig: signLineState(stranger, { ...state, seq: state.seq + 1, ...(sx === 'a' ? { limitA: 5n } : { limitB: 5n }) }, 'propose') }
  const out = pipe.receive(pipe.y, encodeLineMessage(forged))
  assert.deepEqual(kinds(out), ['rejected', 'send refuse'])
  assert.match((out[0] as { reason: string }).reason, /signature does not verify/)
  assert.deepEqual(encodeSignedLineState(pipe.y.channel?.signed as never), before)
  // An accept of x's outstanding proposal, not signed by y.
  pipe.enqueue(pipe.x, { kind: 'limit', side: sx, limit: 7n })
  const real = pipe.inFlight.pop()
  assert.ok(real !== undefined)
  const fakeAccept = encodeLineMessage({ type: 'accept', line: pipe.x.channel?.line as Uint8Array, seq: state.seq + 1, sig: randomBytes(64) })
  assert.deepEqual(kinds(pipe.receive(pipe.x, fakeAccept)), ['rejected'])
  assert.equal(pipe.x.channel?.state.seq, state.seq)
  // A synced newer state with one side's signature forged.
  const s = pipe.x.channel?.signed
  assert.ok(s != null)
  const next = { ...s.state, seq: s.state.seq + 5, balance: 999n }
  const forgedSync = encodeLineMessage({ type: 'sync', line: pipe.x.channel?.line, signed: { state: next, sigA: sx === 'a' ? signLineState(pipe.x.identity, next, 'propose') : randomBytes(64), sigB: sx === 'b' ? signLineState(pipe.x.identity, next, 'propose') : randomBytes(64), proposer: sx } })
  const syncOut = pipe.receive(pipe.x, forgedSync)
  assert.deepEqual(kinds(syncOut), ['rejected'])
  assert.match((syncOut[0] as { reason: string }).reason, /forged/)
  assert.equal(pipe.x.channel?.state.seq, state.seq)
  // The real proposal still commits.
  pipe.receive(real.to, real.bytes)
  flush(pipe)
  assertConverged(pipe)
  assert.equal(pipe.x.channel?.state.seq, state.seq + 1)
})

test('replayed messages are refused: an old proposal, an old accept and an old synced state change nothing; the stale side is shown the newer state', () => {
  const pipe = openPipe(1_000n)
  const sx = pipe.sideOf(pipe.x)
  const oldSync = encodeLineMessage({ type: 'sync', line: pipe.x.channel?.line as Uint8Array, signed: pipe.x.channel?.signed as never })
  const k = secret()
  pipe.enqueue(pipe.x, { kind: 'hold', hold: hold(sx, 10n, k.condition, pipe.now + 60_000) })
  flush(pipe)
  pipe.enqueue(pipe.x, { kind: 'limit', side: sx, limit: 3n })
  flush(pipe)
  const seq = pipe.y.channel?.state.seq
  const persisted = JSON.stringify(pipe.y.stored, (_, v: unknown) => typeof v === 'bigint' ? v.toString() : v)
  for (const w of [...pipe.history]) {
    const m = decodeLineMessage(w.bytes)
    const out = pipe.receive(w.to, w.bytes)
    assert.ok(!out.some((o) => o.do === 'persist' || o.do === 'committed' || o.do === 'resynced'), `replayed ${m.type} changed something`)
  }
  assert.equal(pipe.y.channel?.state.seq, seq)
  assert.equal(JSON.stringify(pipe.y.stored, (_, v: unknown) => typeof v === 'bigint' ? v.toString() : v), persisted)
  const out = pipe.receive(pipe.y, oldSync)
  assert.deepEqual(kinds(out), ['send sync'], 'an old state is answered with the newest one')
  flush(pipe)
  assertConverged(pipe)
  assert.equal(pipe.x.doubleReports.length + pipe.y.doubleReports.length, 0)
})

test('opening: the receiver creates its copy only if the line id, its own device and the sender\'s device match', () => {
  const pipe = new LinePipe()
  pipe.enqueue(pipe.x, { kind: 'limit', side: pipe.sideOf(pipe.x), limit: 10n })
  const w = pipe.inFlight[0]
  assert.ok(w !== undefined)
  const m = decodeLineMessage(w.bytes)
  const y = pipe.y
  const otherDevice = generateIdentity()
  assert.throws(() => LineChannel.fromOpen(m, { self: { ...y.party, device: otherDevice.publicKey }, peer: pipe.x.party, signer: otherDevice }), /other holder devices/)
  assert.throws(() => LineChannel.fromOpen(m, { self: y.party, peer: { ...pipe.x.party, device: otherDevice.publicKey }, signer: y.identity }), /other holder devices/)
  assert.throws(() => LineChannel.fromOpen(m, { self: { ...y.party, account: randomBytes(32) }, peer: pipe.x.party, signer: y.identity }), /not between this account and the sender/)
  assert.throws(() => LineChannel.fromOpen({ ...(m as ProposeMessage), base: 1, open: null }, { self: y.party, peer: pipe.x.party, signer: y.identity }), /only a proposal on base 0/)
  pipe.deliver(0)
  flush(pipe)
  assertConverged(pipe)
  assert.equal(pipe.y.channel?.state.seq, 1)
  // On an open line an "open" proposal on base 0 is stale: answered with the current state.
  const out = pipe.receive(pipe.y, w.bytes)
  assert.deepEqual(kinds(out), ['send accept'], 'the very proposal that opened it: its accept again (idempotent)')
})

test('both sides open the same line at once: the opening proposals collide, a\'s wins, b\'s credit follows on top', () => {
  const pipe = new LinePipe()
  pipe.y.channel = LineChannel.open({ self: pipe.y.party, peer: pipe.x.party, unit: pipe.unit, signer: pipe.y.identity })
  pipe.enqueue(pipe.x, { kind: 'limit', side: pipe.sideOf(pipe.x), limit: 30n })
  pipe.enqueue(pipe.y, { kind: 'limit', side: pipe.sideOf(pipe.y), limit: 40n })
  assert.deepEqual(pipe.inFlight.map((w) => (decodeLineMessage(w.bytes) as ProposeMessage).open !== null), [true, true])
  flush(pipe)
  assertConverged(pipe)
  const s = pipe.x.channel?.state as LineState
  assert.equal(s.seq, 2)
  assert.deepEqual([s.limitA, s.limitB].sort(), [30n, 40n].sort())
  const bSide = pipe.sideOf(pipe.x) === 'b' ? pipe.x : pipe.y
  assert.equal(bSide.commits.get(2)?.proposer, 'b', 'b proposed again on top of a\'s opening')
})

test('re-send: an unanswered proposal is sent again after a timeout, doubling, at most maxResends times, then reported stalled until connect', () => {
  const pipe = openPipe(100n, { resendAfterMs: 1_000, maxResends: 3 })
  const sx = pipe.sideOf(pipe.x)
  pipe.enqueue(pipe.x, { kind: 'limit', side: sx, limit: 1n })
  pipe.inFlight = []
  const times: number[] = []
  for (let t = 0; t < 20_000; t += 250) {
    pipe.now += 250
    const before = pipe.inFlight.length
    pipe.tick(pipe.x)
    if (pipe.inFlight.length > before) times.push(t + 250)
  }
  assert.deepEqual(times, [1_000, 3_000, 7_000], 'after 1 s, then 2 s, then 4 s')
  assert.deepEqual(pipe.x.stalled, [pipe.x.channel?.proposed?.seq])
  assert.equal(pipe.x.channel?.nextDeadline(), null)
  pipe.inFlight = []
  pipe.connect(pipe.x)
  assert.deepEqual(pipe.inFlight.map((w) => decodeLineMessage(w.bytes).type), ['sync', 'propose'])
  flush(pipe)
  assertConverged(pipe)
  assert.equal(pipe.x.channel?.proposed, null)
  // Duplicates of the proposal and of its accept do nothing more.
  assert.equal(pipe.x.doubleReports.length + pipe.y.doubleReports.length, 0)
})

test('crash-restart of the proposer after its proposal was accepted and the accept lost: it learns the commit from the peer\'s sync and reports it', () => {
  const pipe = openPipe(100n)
  const sx = pipe.sideOf(pipe.x)
  const k = secret()
  pipe.enqueue(pipe.x, { kind: 'hold', hold: hold(sx, 10n, k.condition, pipe.now + 60_000) }, { ilp: randomBytes(4) })
  pipe.deliver(0) // y accepts
  pipe.inFlight = [] // the accept is lost
  pipe.crash(pipe.x)
  assert.equal(pipe.x.channel?.inFlight, 1, 'the proposal was restored')
  assert.ok(pipe.settle())
  assertConverged(pipe)
  const seq = pipe.x.channel?.state.seq
  assert.equal(pipe.x.commits.get(seq)?.changes[0]?.kind, 'hold')
  assert.deepEqual(pipe.x.resynced, [])
})

test('crash-restart of the receiver after it persisted but before its accept left: the re-sent proposal gets the same accept again', () => {
  const pipe = openPipe(100n)
  pipe.enqueue(pipe.x, { kind: 'limit', side: pipe.sideOf(pipe.x), limit: 50n })
  pipe.deliver(0)
  pipe.inFlight = []
  pipe.crash(pipe.y)
  assert.ok(pipe.settle())
  assertConverged(pipe)
  assert.equal(pipe.y.doubleReports.length, 0)
})

test('restore refuses a stored proposal that does not make the state it signs', () => {
  const pipe = openPipe(100n)
  pipe.enqueue(pipe.x, { kind: 'limit', side: pipe.sideOf(pipe.x), limit: 50n })
  const stored = pipe.x.stored
  assert.ok(stored?.proposal != null)
  const m = decodeLineMessage(stored.proposal) as ProposeMessage
  const tampered = encodeLineMessage({ ...m, changes: [{ kind: 'limit', side: pipe.sideOf(pipe.x), limit: 51n }] })
  assert.throws(() => LineChannel.restore({ self: pipe.x.party, peerAccount: pipe.y.party.account, signer: pipe.x.identity, signed: stored.signed, proposal: tampered }), /does not make the state it signs/)
})

test('the signer may be a function (a key held elsewhere)', () => {
  const d = generateIdentity()
  const e = generateIdentity()
  const accD = randomBytes(32)
  const accE = randomBytes(32)
  let signed = 0
  const c = LineChannel.open({ self: { account: accD, device: d.publicKey }, peer: { account: accE, device: e.publicKey }, unit: 'h', signer: (s, role) => { signed++; return signLineState(d, s, role) } })
  const out = c.enqueue({ kind: 'limit', side: c.side, limit: 1n }, null, 1)
  assert.equal(signed, 1)
  assert.equal(out[1]?.do === 'send' && out[1].message.type, 'propose')
})

// ---- the property ----------------------------------------------------------------------

type Op =
  | { op: 'enqueue', who: number, kind: number, n: number, m: number }
  | { op: 'deliver', i: number }
  | { op: 'dup', i: number }
  | { op: 'drop', i: number }
  | { op: 'replay', i: number }
  | { op: 'forge', i: number, how: number }
  | { op: 'tick', dt: number }
  | { op: 'crash', who: number }
  | { op: 'connect', who: number }

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('enqueue' as const), who: fc.nat(1), kind: fc.nat(9), n: fc.nat(1_000), m: fc.nat(1_000) }) },
  { weight: 12, arbitrary: fc.record({ op: fc.constant('deliver' as const), i: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dup' as const), i: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('drop' as const), i: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('replay' as const), i: fc.nat(1_000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('forge' as const), i: fc.nat(1_000), how: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('tick' as const), dt: fc.nat(3_000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('crash' as const), who: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('connect' as const), who: fc.nat(1) }) }
)

/** A change for `p` to queue, chosen from what it knows of the line. */
function pickChange (pipe: LinePipe, p: PipeSide, kind: number, n: number, m: number, preimages: Map<string, Uint8Array>): LineChange | null {
  const c = p.channel
  if (c === null) return null
  const side = pipe.sideOf(p)
  const known = c.proposed ?? c.state
  if (kind <= 2 || known.seq === 0) return { kind: 'limit', side, limit: BigInt(n) * 10n }
  if (kind <= 6) {
    const fulfillment = randomBytes(32)
    const condition = sha256(fulfillment)
    preimages.set(Buffer.from(condition).toString('hex'), fulfillment)
    return { kind: 'hold', hold: hold(side, BigInt(1 + (n % 200)), condition, pipe.now + 500 + m * 5) }
  }
  const holds = known.holds
  if (holds.length === 0) return { kind: 'limit', side, limit: BigInt(n) * 10n }
  const h = holds[n % holds.length] as Hold
  const f = preimages.get(Buffer.from(h.condition).toString('hex'))
  if (kind <= 8 && h.payer !== side && f !== undefined) return { kind: 'settle', id: h.id, fulfillment: f }
  return { kind: 'release', id: h.id }
}

function flipFirstBit (b: Uint8Array): Uint8Array {
  const c = new Uint8Array(b)
  c[0] = (c[0] as number) ^ 1
  return c
}

/** A damaged or forged version of a message: its signature replaced, or a field changed under the same signature. */
function forge (m: LineMessage, how: number): LineMessage | null {
  const bad = randomBytes(64)
  switch (m.type) {
    case 'propose':
      if (how % 2 === 0) return { ...m, sig: bad }
      // A change altered under the same signature (settles and releases carry no amount: flip a bit of the id).
      return { ...m, changes: m.changes.map((c) => c.kind === 'limit' ? { ...c, limit: c.limit + 1n } : c.kind === 'hold' ? { kind: 'hold', hold: { ...c.hold, amount: c.hold.amount + 1n } } : { ...c, id: flipFirstBit(c.id) }) }
    case 'accept': return { ...m, sig: bad }
    case 'sync': {
      const state = how % 2 === 0 ? m.signed.state : { ...m.signed.state, seq: m.signed.state.seq + 1 + how, balance: m.signed.state.balance + 1n }
      return { ...m, signed: how % 3 === 0 ? { ...m.signed, state, sigA: bad } : { ...m.signed, state, sigB: bad } }
    }
    case 'refuse': return null
  }
}

test('property: under random interleavings, duplicates, drops, reorders, replays, forgeries and crash-restarts both sides end on the same signed state, every commit reported once on both sides, no queued change lost or reported twice', () => {
  fc.assert(fc.property(fc.array(arbOp, { minLength: 20, maxLength: 250, size: 'max' }), fc.boolean(), (ops, aOpens) => {
    // Either side of the line may be the one that opens it.
    const pipe = new LinePipe({ resendAfterMs: 500, maxResends: 3, yieldMs: 20, maxBatch: 2 }, 'USD', 1_800_000_000_000, aOpens)
    const preimages = new Map<string, Uint8Array>()
    const sides = [pipe.x, pipe.y]
    for (const op of ops) {
      switch (op.op) {
        case 'enqueue': {
          const p = sides[op.who] as PipeSide
          const change = pickChange(pipe, p, op.kind, op.n, op.m, preimages)
          if (change !== null) pipe.enqueue(p, change, op.kind % 2 === 0 ? null : { ilp: randomBytes(8) })
          break
        }
        case 'deliver': if (pipe.inFlight.length > 0) pipe.deliver(op.i % pipe.inFlight.length); break
        case 'dup': if (pipe.inFlight.length > 0) pipe.duplicate(op.i % pipe.inFlight.length); break
        case 'drop': if (pipe.inFlight.length > 0) pipe.drop(op.i % pipe.inFlight.length); break
        case 'replay': {
          const w = pipe.history[op.i % Math.max(1, pipe.history.length)]
          if (w !== undefined) pipe.receive(w.to, w.bytes)
          break
        }
        case 'forge': {
          const w = pipe.history[op.i % Math.max(1, pipe.history.length)]
          if (w === undefined) break
          const f = forge(decodeLineMessage(w.bytes), op.how)
          if (f === null) break
          let bytes: Uint8Array
          try { bytes = encodeLineMessage(f) } catch { break }
          const out = pipe.receive(w.to, bytes)
          assert.ok(!out.some((o) => o.do === 'persist' || o.do === 'committed' || o.do === 'resynced'), `a forged ${f.type} changed the line: ${kinds(out).join(', ')}`)
          break
        }
        case 'tick':
          pipe.now += op.dt
          pipe.tick(pipe.x)
          pipe.tick(pipe.y)
          break
        case 'crash': pipe.crash(sides[op.who] as PipeSide); break
        case 'connect': pipe.connect(sides[op.who] as PipeSide); break
      }
    }
    assert.ok(pipe.settle(), 'settles')
    if (pipe.y.channel === null) {
      assert.equal(pipe.x.channel?.state.seq, 0)
    } else {
      assertConverged(pipe)
    }
    const final = pipe.x.channel?.state.seq ?? 0
    for (const p of sides) {
      assert.deepEqual(p.doubleReports, [], `${p.name} reported a commit twice`)
      assert.deepEqual(p.resynced, [], `${p.name} lost track of a commit`)
      for (let s = 1; s <= final; s++) {
        const mine = p.commits.get(s)
        const theirs = p.peer.commits.get(s)
        assert.ok(mine !== undefined && theirs !== undefined, `commit ${s} reported on both sides`)
        assert.equal(mine.proposer, theirs.proposer)
        assert.deepEqual(encodeCanonical(mine.changes.map(lineChangeValue)), encodeCanonical(theirs.changes.map(lineChangeValue)))
        assert.deepEqual(encodeCanonical(mine.attachments), encodeCanonical(theirs.attachments))
      }
      for (const [k, n] of p.enqueued) {
        const done = (p.committedMine.get(k) ?? 0) + (p.refusedMine.get(k) ?? 0) + (p.lost.get(k) ?? 0)
        assert.equal(done, n, `${p.name}: a queued change reported ${done} times for ${n} queued`)
      }
    }
  }), { numRuns: 150, endOnFailure: process.env.LC_NO_SHRINK !== undefined })
})
