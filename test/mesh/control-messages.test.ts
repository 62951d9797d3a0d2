// The control packet codec: every packet round-trips, unknown TLVs are skipped (RFC 8966
// §4.3), and malformed input (truncated, oversized, unknown version, short TLVs) throws a
// named MeshError and nothing else.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  decodeControl, encodeControl, MAX_CONTROL_BYTES, tlvSize, PACKET_OVERHEAD,
  type ControlPacket, type ControlTlv
} from '../../src/mesh/control-messages.ts'
import {
  MeshError, MalformedPacketError, OversizedPacketError, TruncatedPacketError, UnsupportedVersionError
} from '../../src/mesh/errors.ts'
import { PeernetError } from '../../src/core/errors.ts'

const nodeId = fc.uint8Array({ minLength: 8, maxLength: 8 }).map(b => Buffer.from(b).toString('hex'))
const u8 = fc.integer({ min: 0, max: 0xff })
const u16 = fc.integer({ min: 0, max: 0xffff })
const u32 = fc.integer({ min: 0, max: 0xffffffff })
// Intervals travel in centiseconds (§4.6.5).
const interval = u16.map(c => c * 10)

const tlv: fc.Arbitrary<ControlTlv> = fc.oneof(
  fc.record({ type: fc.constant('hello' as const), sender: nodeId, flags: u8, seqno: u16, intervalMs: interval, timestamp: fc.option(u32, { nil: undefined }) })
    .map(t => { if (t.timestamp === undefined) delete t.timestamp; return t }),
  fc.record({ type: fc.constant('ihu' as const), rxcost: u16, intervalMs: interval, echo: fc.option(fc.record({ origin: u32, heldMs: u32 }), { nil: undefined }) })
    .map(t => { if (t.echo === undefined) delete t.echo; return t }),
  fc.record({ type: fc.constant('update' as const), id: nodeId, flags: u8, hops: u8, scope: u8, seqno: u16, metric: u16, intervalMs: interval }),
  fc.record({ type: fc.constant('route-request' as const), id: fc.option(nodeId, { nil: null }) }),
  fc.record({ type: fc.constant('seqno-request' as const), id: nodeId, seqno: u16, hopCount: u8 })
)
const packet: fc.Arbitrary<ControlPacket> = fc.record({ seq: u16, tlvs: fc.array(tlv, { maxLength: 60 }) })
// fast-check builds records without a prototype; the decoder builds plain objects.
const plain = <T extends object>(x: T): T => JSON.parse(JSON.stringify(x)) as T

test('every packet round-trips through encodeControl/decodeControl, at the size tlvSize says (property)', () => {
  fc.assert(fc.property(packet, p => {
    const bytes = encodeControl(p)
    assert.equal(bytes.length, PACKET_OVERHEAD + p.tlvs.reduce((n, t) => n + tlvSize(t), 0))
    assert.deepEqual(decodeControl(bytes), plain(p))
  }), { numRuns: 500 })
})

test('sizes are small: a hello with timestamp 19 bytes, an IHU with echo 14, an update 19', () => {
  const id = '0123456789abcdef'
  assert.equal(tlvSize({ type: 'hello', sender: id, flags: 0, seqno: 1, intervalMs: 1000, timestamp: 5 }), 19)
  assert.equal(tlvSize({ type: 'ihu', rxcost: 96, intervalMs: 1000, echo: { origin: 1, heldMs: 2 } }), 14)
  assert.equal(tlvSize({ type: 'update', id, flags: 0, hops: 1, scope: 6, seqno: 1, metric: 96, intervalMs: 240_000 }), 19)
})

test('unknown TLV types are skipped (§4.3), and extra bytes at the end of a known TLV are ignored', () => {
  const id = '0123456789abcdef'
  const known = encodeControl({ seq: 7, tlvs: [{ type: 'seqno-request', id, seqno: 3, hopCount: 9 }] })
  // [version, seq, seq] [type 200, len 3, x, y, z] then the known TLV with two extra bytes.
  const body = known.subarray(PACKET_OVERHEAD)
  const extended = Uint8Array.from([...body.subarray(0, 1), (body[1] as number) + 2, ...body.subarray(2), 0xaa, 0xbb])
  const bytes = Uint8Array.from([...known.subarray(0, PACKET_OVERHEAD), 200, 3, 1, 2, 3, ...extended])
  assert.deepEqual(decodeControl(bytes), { seq: 7, tlvs: [{ type: 'seqno-request', id, seqno: 3, hopCount: 9 }] })
})

test('truncated packets throw TruncatedPacketError: cut anywhere inside a TLV (property)', () => {
  fc.assert(fc.property(fc.record({ seq: u16, tlvs: fc.array(tlv, { minLength: 1, maxLength: 10 }) }), fc.nat(), (p, cutAt) => {
    const bytes = encodeControl(p)
    // Cutting at a TLV boundary leaves a valid shorter packet; anywhere else must throw.
    const boundaries = new Set<number>()
    let o = PACKET_OVERHEAD
    boundaries.add(o)
    for (const t of p.tlvs) { o += tlvSize(t); boundaries.add(o) }
    const cut = cutAt % bytes.length
    if (boundaries.has(cut)) return
    assert.throws(() => decodeControl(bytes.subarray(0, cut)), TruncatedPacketError)
  }), { numRuns: 500 })
})

test('oversized, unknown-version, empty and short-TLV packets throw named MeshErrors', () => {
  assert.throws(() => decodeControl(new Uint8Array(0)), TruncatedPacketError)
  assert.throws(() => decodeControl(Uint8Array.of(1, 0)), TruncatedPacketError)
  const big = new Uint8Array(MAX_CONTROL_BYTES + 1); big[0] = 1
  assert.throws(() => decodeControl(big), OversizedPacketError)
  assert.throws(() => decodeControl(Uint8Array.of(2, 0, 0)), UnsupportedVersionError)
  // An update TLV whose length byte says 4: too short for its fields.
  assert.throws(() => decodeControl(Uint8Array.of(1, 0, 0, 3, 4, 0, 0, 0, 0)), MalformedPacketError)
  // A route request with a length that is neither 0 nor 8.
  assert.throws(() => decodeControl(Uint8Array.of(1, 0, 0, 4, 3, 1, 2, 3)), MalformedPacketError)
  // Encoding refuses what it cannot represent instead of writing garbage.
  assert.throws(() => encodeControl({ seq: 0, tlvs: [{ type: 'route-request', id: 'nope' }] }), MalformedPacketError)
  const many: ControlTlv[] = Array.from({ length: 400 }, () => ({ type: 'seqno-request', id: '0123456789abcdef', seqno: 1, hopCount: 1 }))
  assert.throws(() => encodeControl({ seq: 0, tlvs: many }), OversizedPacketError)
  for (const E of [MalformedPacketError, TruncatedPacketError, OversizedPacketError, UnsupportedVersionError]) {
    const e = new E('x')
    assert.ok(e instanceof MeshError && e instanceof PeernetError)
    assert.equal(e.name, E.name)
  }
})

test('random bytes either decode or throw a MeshError, never anything else (property)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, v1) => {
    const b = v1 && bytes.length > 0 ? Uint8Array.from([1, ...bytes]) : bytes
    try {
      const p = decodeControl(b)
      // Whatever decodes re-encodes without error.
      encodeControl(p)
    } catch (e) {
      assert.ok(e instanceof MeshError, String(e))
    }
  }), { numRuns: 2000 })
})
