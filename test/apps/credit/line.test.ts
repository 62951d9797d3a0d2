// The trust-line state model: the rules each change must keep, and the signed form.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes as nodeRandomBytes } from 'node:crypto'
import fc from 'fast-check'
import { generateIdentity, signingBytes, verify } from '../../../src/core/identity.ts'
import { encodeCanonical } from '../../../src/core/encoding.ts'
import {
  applyChanges, availableToPay, checkSignedLineState, decodeSignedLineState, encodeSignedLineState,
  lineId, lineSigningBytes, lineStateHash, lineStateValue, openLine, positionOf, signLineState, supersedes
} from '../../../src/apps/credit/line.ts'
import type { Hold, LineChange, LineState, Side, SignedLineState } from '../../../src/apps/credit/line.ts'
import { formatAmount, parseAmount } from '../../../src/apps/credit/amount.ts'
import { InvalidLineStateError, LineRuleError } from '../../../src/apps/credit/errors.ts'

const NOW = 1_800_000_000_000
const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n))
const da = generateIdentity()
const db = generateIdentity()
const accA = randomBytes(32)
const accB = randomBytes(32)

function fresh (): LineState {
  return openLine({ account: accA, device: da.publicKey }, { account: accB, device: db.publicKey }, 'USD')
}

function sideOfAccount (s: LineState, acc: Uint8Array): Side {
  return Buffer.compare(s.a, acc) === 0 ? 'a' : 'b'
}

function secret (): { fulfillment: Uint8Array, condition: Uint8Array } {
  const fulfillment = randomBytes(32)
  return { fulfillment, condition: new Uint8Array(createHash('sha256').update(fulfillment).digest()) }
}

function hold (payer: Side, amount: bigint, condition: Uint8Array, expiresAt = NOW + 10_000): Hold {
  return { id: randomBytes(16), payer, amount, condition, expiresAt }
}

test('amounts: decimals in, millionths inside, the same decimals out', () => {
  assert.equal(parseAmount('12.5'), 12_500_000n)
  assert.equal(parseAmount('0.000001'), 1n)
  assert.equal(formatAmount(12_500_000n), '12.5')
  assert.equal(formatAmount(-3_000_000n), '-3')
  for (const bad of ['-1', '1.0000001', 'abc', '', '1e5', '99999999999999999999']) assert.throws(() => parseAmount(bad), { name: 'InvalidAmountError' }, bad)
})

test('a line is one per pair of accounts and unit, whichever side names it', () => {
  assert.deepEqual(lineId(accA, accB, 'USD'), lineId(accB, accA, 'USD'))
  assert.notDeepEqual(lineId(accA, accB, 'USD'), lineId(accA, accB, 'EUR'))
  assert.throws(() => lineId(accA, accA, 'USD'), LineRuleError)
})

test('limits: only a side sets its own; payments stay within them', () => {
  let s = fresh()
  const sa = sideOfAccount(s, accA)
  const sb = sideOfAccount(s, accB)
  assert.throws(() => applyChanges(s, sb, [{ kind: 'limit', side: sa, limit: 5n }], NOW), /only a side/)
  s = applyChanges(s, sa, [{ kind: 'limit', side: sa, limit: 100n }], NOW)
  assert.equal(s.seq, 1)
  // A extends 100 to B: B may pay A up to 100; A may pay B nothing yet.
  assert.equal(availableToPay(s, sb), 100n)
  assert.equal(availableToPay(s, sa), 0n)
  const k = secret()
  assert.throws(() => applyChanges(s, sb, [{ kind: 'hold', hold: hold(sb, 101n, k.condition) }], NOW), /over the line's capacity/)
  const h = hold(sb, 60n, k.condition)
  s = applyChanges(s, sb, [{ kind: 'hold', hold: h }], NOW)
  assert.equal(availableToPay(s, sb), 40n)
  assert.throws(() => applyChanges(s, sb, [{ kind: 'settle', id: h.id, fulfillment: k.fulfillment }], NOW), /only the side paid/)
  assert.throws(() => applyChanges(s, sa, [{ kind: 'settle', id: h.id, fulfillment: randomBytes(32) }], NOW), /does not match/)
  assert.throws(() => applyChanges(s, sa, [{ kind: 'settle', id: h.id, fulfillment: k.fulfillment }], h.expiresAt + 1), /expired/)
  s = applyChanges(s, sa, [{ kind: 'settle', id: h.id, fulfillment: k.fulfillment }], NOW)
  assert.equal(positionOf(s, sa), 60n)
  assert.equal(positionOf(s, sb), -60n)
  // Now A may pay B back what B paid.
  assert.equal(availableToPay(s, sa), 60n)
  assert.equal(availableToPay(s, sb), 40n)
})

test('release: the payee at any time, the payer only after expiry; a hold cannot be replayed', () => {
  let s = fresh()
  const sa = sideOfAccount(s, accA)
  const sb = sideOfAccount(s, accB)
  s = applyChanges(s, sa, [{ kind: 'limit', side: sa, limit: 100n }], NOW)
  const h = hold(sb, 10n, secret().condition)
  s = applyChanges(s, sb, [{ kind: 'hold', hold: h }], NOW)
  assert.throws(() => applyChanges(s, sb, [{ kind: 'hold', hold: h }], NOW), /already on the line/)
  assert.throws(() => applyChanges(s, sb, [{ kind: 'release', id: h.id }], NOW), /only once it has expired/)
  assert.equal(applyChanges(s, sb, [{ kind: 'release', id: h.id }], h.expiresAt).holds.length, 0)
  assert.equal(applyChanges(s, sa, [{ kind: 'release', id: h.id }], NOW).holds.length, 0)
  assert.throws(() => applyChanges(s, sb, [{ kind: 'hold', hold: hold(sb, 1n, secret().condition, NOW) }], NOW), /already expired/)
})

test('a batch is all or nothing', () => {
  const s0 = fresh()
  const sa = sideOfAccount(s0, accA)
  const s1 = applyChanges(s0, sa, [{ kind: 'limit', side: sa, limit: 100n }], NOW)
  const sb = sideOfAccount(s1, accB)
  const before = structuredClone(s1)
  assert.throws(() => applyChanges(s1, sb, [{ kind: 'hold', hold: hold(sb, 50n, secret().condition) }, { kind: 'hold', hold: hold(sb, 51n, secret().condition) }], NOW), LineRuleError)
  assert.deepEqual(s1, before)
})

test('property: no change creates or destroys an IOU', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom<Side>('a', 'b'), fc.nat(4), fc.bigInt({ min: 0n, max: 200n }), fc.nat(3)), { maxLength: 60 }), (steps) => {
    let s = fresh()
    const keys = new Map<string, Uint8Array>()
    let now = NOW
    let paidByA = 0n
    for (const [side, op, amount, pick] of steps) {
      now += 1000
      let change: LineChange
      if (op === 0) change = { kind: 'limit', side, limit: amount }
      else if (op === 1) {
        const k = secret()
        const h = hold(side, amount, k.condition, now + 2500)
        keys.set(Buffer.from(h.id).toString('hex'), k.fulfillment)
        change = { kind: 'hold', hold: h }
      } else {
        const h = s.holds[pick % Math.max(1, s.holds.length)]
        if (h === undefined) continue
        change = op === 2 ? { kind: 'settle', id: h.id, fulfillment: keys.get(Buffer.from(h.id).toString('hex')) as Uint8Array } : { kind: 'release', id: h.id }
      }
      try {
        const next = applyChanges(s, side, [change], now)
        if (change.kind === 'settle') {
          const h = s.holds.find((x) => Buffer.compare(x.id, change.id) === 0) as Hold
          if (h.payer === 'a') paidByA += h.amount
          else paidByA -= h.amount
        }
        s = next
      } catch (err) {
        assert.ok(err instanceof LineRuleError, String(err))
      }
      // Balances are zero-sum and move only by settled holds.
      assert.equal(positionOf(s, 'a') + positionOf(s, 'b'), 0n)
      assert.equal(positionOf(s, 'a'), -paidByA)
    }
  }), { numRuns: 200 })
})

test('signed state: both signatures verify, round-trips, and any forgery is refused', () => {
  let s = fresh()
  const sa = sideOfAccount(s, accA)
  s = applyChanges(s, sa, [{ kind: 'limit', side: sa, limit: 12_500_000n }], NOW)
  s = applyChanges(s, sa === 'a' ? 'b' : 'a', [{ kind: 'hold', hold: hold(sa === 'a' ? 'b' : 'a', 5n, secret().condition) }], NOW)
  const devA = Buffer.compare(s.deviceA, da.publicKey) === 0 ? da : db
  const devB = devA === da ? db : da
  const signed: SignedLineState = { state: s, sigA: signLineState(devA, s, 'propose'), sigB: signLineState(devB, s, 'accept'), proposer: 'a' }
  checkSignedLineState(signed)
  const back = decodeSignedLineState(encodeSignedLineState(signed))
  assert.deepEqual(back, signed)
  checkSignedLineState(back)
  assert.throws(() => { checkSignedLineState({ ...signed, sigB: signed.sigA }) }, InvalidLineStateError)
  // The roles are part of what is signed: the same signatures with the proposer swapped, or
  // read as from before roles, do not verify.
  assert.throws(() => { checkSignedLineState({ ...signed, proposer: 'b' }) }, /side a's signature \(as its acceptance\) does not verify/)
  assert.throws(() => { checkSignedLineState({ ...signed, proposer: null }) }, /side a's signature does not verify/)
  // A state from before roles (both acceptances) still verifies and round-trips.
  const legacy: SignedLineState = { state: s, sigA: signLineState(devA, s, 'accept'), sigB: signLineState(devB, s, 'accept'), proposer: null }
  checkSignedLineState(legacy)
  assert.deepEqual(decodeSignedLineState(encodeSignedLineState(legacy)), legacy)
  assert.throws(() => { checkSignedLineState({ ...signed, state: { ...s, balance: s.balance + 1n } }) }, /does not verify/)
  const bytes = encodeSignedLineState(signed)
  const damaged = bytes.slice(0, bytes.length - 3)
  assert.throws(() => decodeSignedLineState(damaged), InvalidLineStateError)
})

test('property: the spliced encodings of a state equal the whole value\'s canonical encoding', () => {
  const domain = { purpose: 'peernet/credit/line-state', version: 1 }
  fc.assert(fc.property(
    fc.array(fc.record({ payer: fc.constantFrom<Side>('a', 'b'), amount: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), expiresAt: fc.integer({ min: 0, max: 2 ** 48 }) }), { maxLength: 40 }),
    fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
    fc.nat(),
    (holds, balance, seq) => {
      const base = fresh()
      const s: LineState = { ...base, seq, balance, holds: holds.map((h) => ({ id: randomBytes(16), condition: randomBytes(32), ...h })).sort((x, y) => Buffer.compare(x.id, y.id)) }
      const same = (x: Uint8Array, y: Uint8Array): void => { assert.equal(Buffer.compare(x, y), 0) }
      same(lineSigningBytes(s, 'accept'), signingBytes(domain, lineStateValue(s)))
      same(lineSigningBytes(s, 'propose'), signingBytes({ purpose: 'peernet/credit/line-proposal', version: 1 }, lineStateValue(s)))
      same(lineStateHash(s), createHash('sha256').update(encodeCanonical(lineStateValue(s))).digest())
      const signed: SignedLineState = { state: s, sigA: signLineState(da, s, 'accept'), sigB: signLineState(db, s, 'propose'), proposer: 'b' }
      assert.ok(verify(da.publicKey, domain, lineStateValue(s), signed.sigA))
      same(encodeSignedLineState(signed), encodeCanonical({ state: lineStateValue(s), by: 'b', sigA: signed.sigA, sigB: signed.sigB }))
      assert.deepEqual(decodeSignedLineState(encodeSignedLineState(signed)), signed)
    }
  ), { numRuns: 100 })
})

test('the dispute rule: the higher seq stands; at one seq the state a proposed stands; two proposed by one side, or from before roles, do not settle it', () => {
  const s = fresh()
  const at = (seq: number, proposer: Side | null): SignedLineState => ({ state: { ...s, seq }, sigA: new Uint8Array(64), sigB: new Uint8Array(64), proposer })
  assert.ok(supersedes(at(5, 'b'), at(4, 'a')))
  assert.ok(!supersedes(at(4, 'a'), at(5, 'b')))
  assert.ok(supersedes(at(4, 'a'), at(4, 'b')))
  assert.ok(!supersedes(at(4, 'b'), at(4, 'a')))
  assert.ok(!supersedes(at(4, 'a'), at(4, 'a')))
  assert.ok(!supersedes(at(4, 'b'), at(4, 'b')))
  assert.ok(!supersedes(at(4, null), at(4, 'b')) && !supersedes(at(4, 'a'), at(4, null)))
})
