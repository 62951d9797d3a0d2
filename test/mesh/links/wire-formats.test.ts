// The pure parts of the mesh links: the length-prefixed framing of the libp2p link, the
// UDP link's datagrams (beacons signed and checked), and the beacon back-off schedule.
// Property tests (fast-check) for the codecs: any chunking of a stream gives back the
// same frames; any beacon round-trips and any change to its bytes breaks it.

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { LengthPrefixedReader, encodeLengthPrefixed } from '../../../src/mesh/links/length-prefix.ts'
import { BEACON_BYTES, SOLICIT, decodeBeacon, encodeBeacon, verifyBeacon } from '../../../src/mesh/links/udp-datagram.ts'
import { FrameSeal, SEALED, SEAL_OVERHEAD, nextSession } from '../../../src/mesh/links/udp-frame-seal.ts'
import { generateIdentity } from '../../../src/core/identity.ts'
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

  test('only a whole beacon decodes; a sealed frame is never taken for one', () => {
    const bytes = encodeBeacon(identity, 0, 1, '10.0.0.1', 1)
    assert.equal(decodeBeacon(bytes.subarray(0, BEACON_BYTES - 1)), undefined)
    assert.equal(decodeBeacon(Uint8Array.of(...bytes, 0)), undefined)
    const sealed = new FrameSeal(identity, generateIdentity().publicKey, 1).seal('frame', bytes.subarray(1, BEACON_BYTES - SEAL_OVERHEAD + 1)) as Uint8Array
    assert.equal(sealed.byteLength, BEACON_BYTES)
    assert.equal(sealed[0], SEALED)
    assert.equal(decodeBeacon(sealed), undefined)
  })

  test('sealed frames: only the neighbour opens them; forged, damaged, replayed and older-session frames are refused', () => {
    const x = generateIdentity()
    const y = generateIdentity()
    const mallory = generateIdentity()
    const xToY = new FrameSeal(x, y.publicKey, 1000)
    const yFromX = new FrameSeal(y, x.publicKey, 2000)
    const first = xToY.seal('frame', Uint8Array.of(1, 2, 3)) as Uint8Array
    assert.equal(first.byteLength, 3 + SEAL_OVERHEAD)
    assert.deepEqual(yFromX.open(first), { ok: true, kind: 'frame', frame: Uint8Array.of(1, 2, 3) })
    assert.match(String((yFromX.open(first) as { reason: string }).reason), /replayed/)
    // The other direction has its own key: a frame cannot be reflected back to its sender.
    assert.equal(new FrameSeal(x, y.publicKey, 1).open(first).ok, false)
    // Mallory knows both public keys but not the agreement.
    const malloryToY = new FrameSeal(mallory, y.publicKey, 1000)
    malloryToY.seal('bye')
    const forged = malloryToY.seal('bye') as Uint8Array
    assert.match(String((yFromX.open(forged) as { reason: string }).reason), /does not open/)
    const later = xToY.seal('frame', Uint8Array.of(4)) as Uint8Array
    const damaged = Uint8Array.from(later)
    damaged[damaged.byteLength - 20] = (damaged[damaged.byteLength - 20] as number) ^ 1
    assert.equal(yFromX.open(damaged).ok, false)
    assert.equal(yFromX.open(later).ok, true, 'a damaged copy does not burn the genuine frame')
    // Out of order within the window is fine, once each.
    const f3 = xToY.seal('frame') as Uint8Array
    const f4 = xToY.seal('bye') as Uint8Array
    assert.deepEqual(yFromX.open(f4), { ok: true, kind: 'bye', frame: new Uint8Array(0) })
    assert.equal(yFromX.open(f3).ok, true)
    assert.equal(yFromX.open(f3).ok, false)
    // x restarts: a newer session is taken, and the old session's frames are refused from then on.
    const restarted = new FrameSeal(x, y.publicKey, nextSession(1000, 1000))
    const old = xToY.seal('frame') as Uint8Array
    assert.equal(yFromX.open(restarted.seal('frame') as Uint8Array).ok, true)
    assert.match(String((yFromX.open(old) as { reason: string }).reason), /older session/)
  })

  test('property: sealed frames round-trip, and a frame more than 64 behind the newest is refused', () => {
    const x = generateIdentity()
    const y = generateIdentity()
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 80 }), (frames) => {
      const tx = new FrameSeal(x, y.publicKey, 5)
      const rx = new FrameSeal(y, x.publicKey, 6)
      const sealed = frames.map((f) => tx.seal('frame', f) as Uint8Array)
      const last = sealed.length - 1
      assert.equal(rx.open(sealed[last] as Uint8Array).ok, true)
      for (let i = 0; i < last; i++) {
        const opened = rx.open(sealed[i] as Uint8Array)
        assert.equal(opened.ok, last - i < 64, `frame ${i} of ${last}`)
        if (opened.ok) assert.deepEqual(opened.frame, frames[i])
      }
    }), { numRuns: 50 })
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
