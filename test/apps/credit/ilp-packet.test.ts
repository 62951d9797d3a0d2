// ILPv4 packets (RFC 0027) in OER (RFC 0030): ours against the Interledger reference
// codec, the npm `ilp-packet` module, in both directions, and strict decoding.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import IlpPacket from 'ilp-packet'
import {
  accountOfIlpAddress, decodePacket, decodePrepare, decodeReply, encodeFulfill, encodePrepare, encodeReject, ilpAddressOf
} from '../../../src/apps/credit/ilp-packet.ts'
import { InvalidIlpPacketError } from '../../../src/apps/credit/errors.ts'

const segment = fc.stringMatching(/^[a-zA-Z0-9_~-]{1,12}$/)
const address = fc.tuple(fc.constantFrom('g', 'private', 'example', 'peer', 'test', 'test2', 'local'), fc.array(segment, { minLength: 1, maxLength: 4 }))
  .map(([scheme, segs]) => [scheme, ...segs].join('.'))
const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })
// Data long enough to need OER's long length form (≥ 128) now and then.
const data = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 120, maxLength: 700 }))
// Millisecond times from 1970 to 9999 (the four-digit year of the wire format); not the
// epoch itself, which the reference module takes for an invalid date (`!date.valueOf()`).
const time = fc.integer({ min: 1, max: 253_402_300_799_999 })
const prepare = fc.record({ amount: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), expiresAt: time, executionCondition: bytes(32), destination: address, data })
const fulfill = fc.record({ fulfillment: bytes(32), data })
const reject = fc.record({
  code: fc.stringMatching(/^[FTR][0-9A-Z]{2}$/),
  triggeredBy: fc.oneof(fc.constant(''), address),
  message: fc.string({ unit: 'grapheme', maxLength: 200 }),
  data
})
const buf = (b: Uint8Array): Buffer => Buffer.from(b)

test('ilp-packet: the reference module decodes our prepare, fulfill and reject', () => {
  fc.assert(fc.property(prepare, (p) => {
    const theirs = IlpPacket.deserializeIlpPrepare(buf(encodePrepare(p)))
    assert.equal(theirs.amount, p.amount.toString())
    assert.equal(theirs.expiresAt.getTime(), p.expiresAt)
    assert.deepEqual(new Uint8Array(theirs.executionCondition), p.executionCondition)
    assert.equal(theirs.destination, p.destination)
    assert.deepEqual(new Uint8Array(theirs.data), p.data)
  }), { numRuns: 300 })
  fc.assert(fc.property(fulfill, (f) => {
    const theirs = IlpPacket.deserializeIlpFulfill(buf(encodeFulfill(f)))
    assert.deepEqual(new Uint8Array(theirs.fulfillment), f.fulfillment)
    assert.deepEqual(new Uint8Array(theirs.data), f.data)
  }), { numRuns: 200 })
  fc.assert(fc.property(reject, (r) => {
    const theirs = IlpPacket.deserializeIlpReject(buf(encodeReject(r)))
    assert.deepEqual({ code: theirs.code, triggeredBy: theirs.triggeredBy, message: theirs.message }, { code: r.code, triggeredBy: r.triggeredBy, message: r.message })
    assert.deepEqual(new Uint8Array(theirs.data), r.data)
  }), { numRuns: 200 })
})

test('ilp-packet: we decode the reference module\'s packets, and encode them to the same bytes', () => {
  fc.assert(fc.property(prepare, (p) => {
    const theirs = IlpPacket.serializeIlpPrepare({ amount: p.amount.toString(), expiresAt: new Date(p.expiresAt), executionCondition: buf(p.executionCondition), destination: p.destination, data: buf(p.data) })
    assert.deepEqual(decodePacket(theirs), { type: 'prepare', ...p })
    assert.deepEqual(encodePrepare(p), new Uint8Array(theirs))
  }), { numRuns: 300 })
  fc.assert(fc.property(fulfill, (f) => {
    const theirs = IlpPacket.serializeIlpFulfill({ fulfillment: buf(f.fulfillment), data: buf(f.data) })
    assert.deepEqual(decodeReply(theirs), { type: 'fulfill', ...f })
    assert.deepEqual(encodeFulfill(f), new Uint8Array(theirs))
  }), { numRuns: 200 })
  fc.assert(fc.property(reject, (r) => {
    const theirs = IlpPacket.serializeIlpReject({ ...r, data: buf(r.data) })
    assert.deepEqual(decodeReply(theirs), { type: 'reject', ...r })
    assert.deepEqual(encodeReject(r), new Uint8Array(theirs))
  }), { numRuns: 200 })
})

test('ilp-packet: the byte layout of a reject, worked by hand from RFC 0027 and RFC 0030', () => {
  // type 14, length 10, "F02", address length 3 "g.a", message length 1 "x", data length 0.
  const expected = Uint8Array.from([0x0e, 0x0a, 0x46, 0x30, 0x32, 0x03, 0x67, 0x2e, 0x61, 0x01, 0x78, 0x00])
  assert.deepEqual(encodeReject({ code: 'F02', triggeredBy: 'g.a', message: 'x', data: new Uint8Array(0) }), expected)
  // A prepare's expiry is 17 digits YYYYMMDDHHmmSSfff (asn1/InterledgerTypes.asn, Timestamp).
  const p = encodePrepare({ amount: 1n, expiresAt: Date.UTC(2026, 10, 26, 3, 4, 5, 67), executionCondition: new Uint8Array(32), destination: 'g.b', data: new Uint8Array(0) })
  assert.equal(Buffer.from(p.subarray(2 + 8, 2 + 8 + 17)).toString('ascii'), '20261126030405067')
})

test('ilp-packet: strict decoding refuses every malformed form', () => {
  const good = encodePrepare({ amount: 5n, expiresAt: Date.UTC(2030, 0, 1), executionCondition: new Uint8Array(32).fill(7), destination: 'g.x.y', data: Uint8Array.of(1, 2) })
  assert.equal(decodePrepare(good).amount, 5n)
  const bad = (b: Uint8Array, why: RegExp): void => { assert.throws(() => decodePacket(b), (err: Error) => err instanceof InvalidIlpPacketError && why.test(err.message)) }
  bad(good.subarray(0, good.length - 1), /truncated/)
  bad(Uint8Array.from([...good, 0]), /after its end/)
  bad(Uint8Array.from([99, ...good.subarray(1)]), /not an ILPv4/)
  // The same contents with a long-form length where the short form fits: not canonical OER.
  bad(Uint8Array.from([12, 0x81, good[1] as number, ...good.subarray(2)]), /shortest form/)
  const withTime = (t: string): Uint8Array => { const c = Uint8Array.from(good); c.set(Buffer.from(t, 'ascii'), 10); return c }
  bad(withTime('20301301000000000'), /valid UTC time/)
  bad(withTime('2030010100000000Z'), /timestamp/)
  const withAddress = (a: string): Uint8Array => encodeRaw(12, [new Uint8Array(8), Buffer.from('20300101000000000'), new Uint8Array(32), lp(Buffer.from(a)), lp(new Uint8Array(0))])
  bad(withAddress('nope.x'), /not an ILP address/)
  bad(withAddress('g'), /not an ILP address/)
  bad(withAddress(''), /empty destination/)
  bad(encodeRaw(14, [Buffer.from('X02'), lp(new Uint8Array(0)), lp(new Uint8Array(0)), lp(new Uint8Array(0))]), /error code/)
  bad(encodeRaw(14, [Buffer.from('F02'), lp(new Uint8Array(0)), lp(Uint8Array.of(0xff, 0xfe)), lp(new Uint8Array(0))]), /UTF-8/)
  bad(encodeRaw(13, [new Uint8Array(31), lp(new Uint8Array(0))]), /truncated|after its end/)
  assert.throws(() => encodePrepare({ amount: 1n << 64n, expiresAt: 0, executionCondition: new Uint8Array(32), destination: 'g.x', data: new Uint8Array(0) }), InvalidIlpPacketError)
  assert.throws(() => encodeFulfill({ fulfillment: new Uint8Array(32), data: new Uint8Array(32_768) }), InvalidIlpPacketError)
  assert.throws(() => decodeReply(good), /got a prepare/)
})

test('ilp-packet: a Peernet account\'s ILP address round-trips and is an address the reference module accepts', () => {
  const account = new Uint8Array(32).map((_, i) => i * 7)
  const address = ilpAddressOf(account)
  assert.deepEqual(accountOfIlpAddress(address), account)
  assert.equal(accountOfIlpAddress('g.other.address'), undefined)
  const theirs = IlpPacket.deserializeIlpPrepare(buf(encodePrepare({ amount: 1n, expiresAt: Date.UTC(2030, 0, 1), executionCondition: new Uint8Array(32), destination: address, data: new Uint8Array(0) })))
  assert.equal(theirs.destination, address)
})

function lp (b: Uint8Array): Uint8Array {
  if (b.length >= 128) throw new Error('test helper: short lengths only')
  return Uint8Array.from([b.length, ...b])
}

function encodeRaw (type: number, fields: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(fields)
  return Uint8Array.from([type, ...lp(body)])
}
