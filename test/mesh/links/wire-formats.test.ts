// The pure parts of the mesh links: the length-prefixed framing of the libp2p link, the
// UDP link's datagrams (beacons signed and checked), and the beacon back-off schedule.
// Property tests (fast-check) for the codecs: any chunking of a stream gives back the
// same frames; any beacon round-trips and any change to its bytes breaks it.

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { LengthPrefixedReader, encodeLengthPrefixed } from '../../../src/mesh/links/length-prefix.ts'
import { BEACON_BYTES, SOLICIT, decodeBeacon, encodeBeacon, encodeFrame, verifyBeacon, FRAME } from '../../../src/mesh/links/udp-datagram.ts'
import { BeaconSchedule } from '../../../src/mesh/links/beacon-schedule.ts'
import { ipv4ToInt, intToIpv4, onSubnet } from '../../../src/mesh/links/lan-interfaces.ts'
import { identityFromSeed } from '../../../src/core/identity.ts'

describe('length-prefixed frames', () => {
  test('any cut of the byte stream into chunks gives back the frames, whole and in order', () => {
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 10 }),
      (frames, cuts) => {
        const stream = Buffer.concat(frames.map(encodeLengthPrefixed))
        const reader = new LengthPrefixedReader(300)
        const out: Uint8Array[] = []
        let at = 0
        for (let i = 0; at < stream.byteLength; i++) {
          const n = cuts[i % cuts.length] as number
          // Chunks arrive as Buffers from some transports: frames must still be plain copies.
          out.push(...reader.push(stream.subarray(at, at + n)))
          at += n
        }
        assert.deepEqual(out, frames.map((f) => new Uint8Array(f)))
        assert.ok(out.every((f) => Object.getPrototypeOf(f) === Uint8Array.prototype))
        assert.equal(reader.buffered, 0)
      }
    ))
  })

  test('a frame announced over the limit is refused with a MeshLinkError before its bytes arrive', () => {
    const reader = new LengthPrefixedReader(1000)
    assert.throws(() => reader.push(encodeLengthPrefixed(new Uint8Array(1001)).subarray(0, 4)), { name: 'MeshLinkError' })
    assert.deepEqual(new LengthPrefixedReader(1000).push(encodeLengthPrefixed(new Uint8Array(1000))).map((f) => f.byteLength), [1000])
  })
})

describe('UDP link datagrams', () => {
  const identity = identityFromSeed(new Uint8Array(32).fill(7))

  test('a beacon is 110 bytes, round-trips, and verifies', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 65535 }),
      (flags, timestamp, addr, port) => {
        const bytes = encodeBeacon(identity, flags, timestamp, intToIpv4(addr), port)
        assert.equal(bytes.byteLength, BEACON_BYTES)
        const b = decodeBeacon(bytes)
        assert.ok(b !== undefined)
        assert.deepEqual({ flags: b.flags, timestamp: b.timestamp, address: b.address, port: b.port }, { flags, timestamp, address: intToIpv4(addr), port })
        assert.deepEqual(b.publicKey, identity.publicKey)
        assert.equal(verifyBeacon(b), true)
      }
    ), { numRuns: 50 })
  })

  test('changing any byte of a beacon after its kind breaks its signature', () => {
    const bytes = encodeBeacon(identity, SOLICIT, 1_764_000_000_000, '10.1.2.3', 6697)
    fc.assert(fc.property(fc.integer({ min: 1, max: BEACON_BYTES - 1 }), fc.integer({ min: 1, max: 255 }), (at, delta) => {
      const bad = Uint8Array.from(bytes)
      bad[at] = ((bad[at] as number) + delta) & 0xff
      const b = decodeBeacon(bad)
      assert.ok(b === undefined || !verifyBeacon(b), `byte ${at} changed by ${delta} still verifies`)
    }), { numRuns: 200 })
  })

  test('only a whole beacon decodes; frames carry their kind byte', () => {
    const bytes = encodeBeacon(identity, 0, 1, '10.0.0.1', 1)
    assert.equal(decodeBeacon(bytes.subarray(0, BEACON_BYTES - 1)), undefined)
    assert.equal(decodeBeacon(Uint8Array.of(...bytes, 0)), undefined)
    assert.equal(decodeBeacon(encodeFrame(bytes.subarray(1))), undefined)
    assert.deepEqual(encodeFrame(Uint8Array.of(1, 2)), Uint8Array.of(FRAME, 1, 2))
  })

  test('subnets', () => {
    const iface = { name: 'eth0', address: '192.168.7.20', netmask: '255.255.255.0', broadcast: '192.168.7.255' }
    assert.equal(onSubnet(iface, '192.168.7.1'), true)
    assert.equal(onSubnet(iface, '192.168.8.1'), false)
    assert.equal(onSubnet(iface, 'fe80::1'), false)
    assert.equal(intToIpv4(ipv4ToInt('255.1.128.0')), '255.1.128.0')
  })
})

describe('beacon schedule', () => {
  const timing = { minMs: 1_000, maxMs: 30_000 }
  const mid = (): number => 0.5 // no jitter

  test('starts at once, doubles up to the max while nothing changes, solicits only at first', () => {
    const s = new BeaconSchedule(timing, 0, mid)
    const due: number[] = []
    const soliciting: boolean[] = []
    let now = 0
    for (let i = 0; i < 8; i++) {
      assert.ok(s.nextAt <= now)
      due.push(now)
      soliciting.push(s.soliciting)
      s.sent(now)
      now = s.nextAt
    }
    assert.deepEqual(due, [0, 1_000, 3_000, 7_000, 15_000, 31_000, 61_000, 91_000])
    assert.deepEqual(soliciting, [true, true, true, false, false, false, false, false])
  })

  test('a change brings the next beacon within a quarter of the min interval, and starts over', () => {
    const s = new BeaconSchedule(timing, 0, () => 1)
    let now = 0
    for (let i = 0; i < 6; i++) { s.sent(now); now = s.nextAt }
    s.sent(now)
    assert.equal(s.intervalMs, 30_000)
    assert.equal(s.nextAt, now + 33_000)
    s.changed(now + 5_000)
    assert.equal(s.nextAt, now + 5_000 + 250)
    assert.equal(s.soliciting, true)
    s.sent(s.nextAt)
    assert.equal(s.intervalMs, 2_000)
  })

  test('jitter stays within ±10%', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (r) => {
      const s = new BeaconSchedule(timing, 0, () => r)
      s.sent(0)
      assert.ok(s.nextAt >= 900 && s.nextAt <= 1_100, String(s.nextAt))
    }))
  })
})
