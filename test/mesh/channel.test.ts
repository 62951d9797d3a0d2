// The mesh channel: a reliable ordered byte stream over a path that loses, reorders and
// duplicates. Two Channels joined by an in-memory lossy pair (segments cross the real
// codec); bytes must arrive exactly, in order, once, and both sides close.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Channel, decodeSegment, encodeSegment, MAX_SACK_BLOCKS, RST } from '../../src/mesh/channel.ts'
import type { ChannelConfig, ChannelOutput, ChannelSegment } from '../../src/mesh/channel.ts'
import { MeshError } from '../../src/mesh/errors.ts'
import { mulberry32 } from './forwarder-net.ts'
import { isNamed } from '../networks/fixtures.ts'

interface PathOptions { loss: number, duplicate: number, delayMs: number, jitterMs: number, seed: number }

/** Two channels over a lossy, reordering, duplicating path in virtual time. */
class LossyPair {
  readonly ends: [Channel, Channel]
  readonly got: [Uint8Array[], Uint8Array[]] = [[], []]
  readonly events: [ChannelOutput[], ChannelOutput[]] = [[], []]
  now = 0
  segments = 0
  readonly #inFlight: Array<{ at: number, to: 0 | 1, bytes: Uint8Array }> = []
  readonly #random: () => number
  readonly #path: PathOptions

  constructor (path: PathOptions, config: Partial<ChannelConfig> = {}) {
    this.#path = path
    this.#random = mulberry32(path.seed)
    this.ends = [new Channel({ stream: 7, ...config }, 0), new Channel({ stream: 7, ...config }, 0)]
  }

  handle (from: 0 | 1, out: ChannelOutput[]): void {
    const to = from === 0 ? 1 : 0
    for (const o of out) {
      if (o.kind === 'segment') {
        this.segments++
        const copies = this.#random() < this.#path.loss ? 0 : this.#random() < this.#path.duplicate ? 2 : 1
        for (let i = 0; i < copies; i++) {
          this.#inFlight.push({ at: this.now + this.#path.delayMs + this.#random() * this.#path.jitterMs, to, bytes: encodeSegment(o.segment) })
        }
      } else {
        if (o.kind === 'data') this.got[from].push(o.bytes)
        this.events[from].push(o)
      }
    }
  }

  /** Runs until nothing is in flight and no timer is due before `until`. */
  run (until: number, onIdle?: () => void): void {
    for (;;) {
      onIdle?.()
      let next = Math.min(this.ends[0].nextDeadline(), this.ends[1].nextDeadline())
      let arrival = -1
      for (let i = 0; i < this.#inFlight.length; i++) {
        if (this.#inFlight[i]!.at < next) { next = this.#inFlight[i]!.at; arrival = i }
      }
      if (next > until) break
      this.now = Math.max(this.now, next)
      if (arrival >= 0) {
        const f = this.#inFlight.splice(arrival, 1)[0]!
        this.handle(f.to, this.ends[f.to].receive(decodeSegment(f.bytes), this.now))
      } else {
        for (const i of [0, 1] as const) if (this.ends[i].nextDeadline() <= this.now) this.handle(i, this.ends[i].tick(this.now))
      }
    }
    this.now = Math.max(this.now, until)
  }
}

function bytesOf (seed: number, n: number): Uint8Array {
  const r = mulberry32(seed)
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256))
}

const concat = (parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts))

/** Writes `data` as fast as the send buffer allows, from inside the pair's loop. */
function writer (pair: LossyPair, side: 0 | 1, data: Uint8Array, chunk: number): () => void {
  let at = 0
  let closed = false
  return () => {
    const ch = pair.ends[side]
    while (at < data.byteLength && ch.writable() > 0) {
      const n = Math.min(chunk, ch.writable(), data.byteLength - at)
      pair.handle(side, ch.write(data.subarray(at, at + n), pair.now))
      at += n
    }
    if (at === data.byteLength && !closed) { closed = true; pair.handle(side, ch.close(pair.now)) }
  }
}

test('the segment codec round-trips and refuses bad bytes with a MeshError only', () => {
  const u32 = fc.integer({ min: 0, max: 0xffff_ffff })
  const seg: fc.Arbitrary<ChannelSegment> = fc.record({
    stream: u32,
    flags: fc.integer({ min: 0, max: 255 }),
    seq: u32,
    ack: u32,
    sack: fc.array(fc.tuple(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 1000 })).map(([a, n]) => [a, a + n] as [number, number]), { maxLength: MAX_SACK_BLOCKS }),
    payload: fc.uint8Array({ maxLength: 300 })
  })
  fc.assert(fc.property(seg, (s) => { assert.deepEqual(decodeSegment(encodeSegment(s)), { ...s }) }), { numRuns: 300 })
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
    if (b.byteLength > 0) b[0] = 1
    try { decodeSegment(b) } catch (err) { assert.ok(err instanceof MeshError, String(err)) }
  }), { numRuns: 2000 })
})

test('over a clean path, bytes arrive in order and both sides close', () => {
  const pair = new LossyPair({ loss: 0, duplicate: 0, delayMs: 50, jitterMs: 0, seed: 1 })
  const a = bytesOf(1, 100_000)
  const b = bytesOf(2, 30_000)
  const wa = writer(pair, 0, a, 4000)
  const wb = writer(pair, 1, b, 777)
  pair.run(60_000, () => { wa(); wb() })
  assert.deepEqual(concat(pair.got[1]), a)
  assert.deepEqual(concat(pair.got[0]), b)
  for (const i of [0, 1] as const) {
    assert.equal(pair.ends[i].state, 'closed')
    assert.deepEqual(pair.events[i].filter((e) => e.kind !== 'data').map((e) => e.kind), ['end', 'closed'])
  }
  // RFC 6298: a steady 100 ms round trip gives SRTT ≈ 100 and an RTO at the 200 ms floor.
  const s = pair.ends[0].stats()
  assert.ok(s.srttMs !== undefined && Math.abs(s.srttMs - 100) < 1, `srtt ${s.srttMs}`)
  assert.equal(s.rtoMs, 200)
  assert.equal(s.retransmissions, 0)
})

test('under loss, reordering and duplication every byte arrives exactly once, in order', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 1e9 }),
    fc.double({ min: 0, max: 0.3, noNaN: true }),
    fc.double({ min: 0, max: 0.3, noNaN: true }),
    fc.integer({ min: 0, max: 200 }),
    fc.integer({ min: 1, max: 40_000 }),
    fc.integer({ min: 0, max: 20_000 }),
    (seed, loss, duplicate, jitterMs, sizeA, sizeB) => {
      const pair = new LossyPair({ loss, duplicate, delayMs: 20, jitterMs, seed }, { mss: 500, window: 16, sendBufferBytes: 16_000 })
      const a = bytesOf(seed, sizeA)
      const b = bytesOf(seed + 1, sizeB)
      const wa = writer(pair, 0, a, 1234)
      const wb = writer(pair, 1, b, 3000)
      pair.run(3_600_000, () => { wa(); wb() })
      assert.deepEqual(concat(pair.got[1]), a, 'a → b exact')
      assert.deepEqual(concat(pair.got[0]), b, 'b → a exact')
      for (const i of [0, 1] as const) {
        assert.equal(pair.ends[i].state, 'closed', `side ${i} closed`)
        assert.equal(pair.events[i].filter((e) => e.kind === 'end').length, 1)
        const st = pair.ends[i].stats()
        assert.ok(st.inFlight <= 16 && st.outOfOrder <= 16)
      }
    }), { numRuns: 40 })
})

test('buffers are bounded: writes beyond the send buffer are refused, and the window caps segments in flight', () => {
  const ch = new Channel({ stream: 1, mss: 100, window: 4, sendBufferBytes: 1000 }, 0)
  const out = ch.write(new Uint8Array(1000), 0)
  assert.equal(out.filter((o) => o.kind === 'segment').length, 4, 'one window of segments')
  assert.equal(ch.writable(), 0)
  assert.throws(() => ch.write(new Uint8Array(1), 0), isNamed('ChannelBufferFullError'))
  // The peer acks two segments: two more go out and 200 bytes of room open.
  const more = ch.receive({ stream: 1, flags: 0, seq: 0, ack: 2, sack: [], payload: new Uint8Array(0) }, 10)
  assert.deepEqual(more.flatMap((o) => o.kind === 'segment' ? [o.segment.seq] : []), [4, 5])
  assert.equal(ch.writable(), 200)
  ch.close(10)
  assert.throws(() => ch.write(new Uint8Array(1), 10), isNamed('ChannelClosedError'))
  // A receiver holds at most one window out of order; beyond it is dropped (and acked).
  const rx = new Channel({ stream: 1, mss: 100, window: 4 }, 0)
  const r = rx.receive({ stream: 1, flags: 0, seq: 9, ack: 0, sack: [], payload: new Uint8Array(10) }, 0)
  assert.equal(rx.stats().outOfOrder, 0)
  assert.deepEqual(r.map((o) => o.kind === 'segment' ? o.segment.ack : o.kind), [0])
  rx.receive({ stream: 1, flags: 0, seq: 2, ack: 0, sack: [], payload: new Uint8Array(10) }, 0)
  const r2 = rx.receive({ stream: 1, flags: 0, seq: 3, ack: 0, sack: [], payload: new Uint8Array(10) }, 0)
  assert.deepEqual(r2.flatMap((o) => o.kind === 'segment' ? o.segment.sack : []), [[2, 4]], 'SACK names what is held')
})

test('three SACKed segments above a hole resend it at once, without waiting for the timer', () => {
  const ch = new Channel({ stream: 1, mss: 10, window: 8 }, 0)
  ch.write(new Uint8Array(50), 0)
  const ack = (sack: Array<[number, number]>): ChannelSegment => ({ stream: 1, flags: 0, seq: 0, ack: 1, sack, payload: new Uint8Array(0) })
  assert.deepEqual(ch.receive(ack([[2, 4]]), 5).filter((o) => o.kind === 'segment'), [], 'two above the hole: not yet')
  const out = ch.receive(ack([[2, 5]]), 6)
  assert.deepEqual(out.flatMap((o) => o.kind === 'segment' ? [o.segment.seq] : []), [1])
  assert.equal(ch.stats().retransmissions, 1)
})

test('with every segment lost, the timer backs off exponentially and the channel fails', () => {
  const ch = new Channel({ stream: 1, initialRtoMs: 1000, maxRetransmits: 4, maxRtoMs: 60_000 }, 0)
  ch.write(new Uint8Array(10), 0)
  const at: number[] = []
  let failed: ChannelOutput | undefined
  for (let now = 0; now < 100_000 && failed === undefined; now = ch.nextDeadline()) {
    const out = ch.tick(now)
    if (out.some((o) => o.kind === 'segment')) at.push(now)
    failed = out.find((o) => o.kind === 'failed')
  }
  assert.deepEqual(at, [1000, 3000, 7000, 15_000], 'RTO 1, 2, 4, 8 s (RFC 6298 §5.5)')
  assert.deepEqual(failed, { kind: 'failed', reason: 'no acknowledgement after 4 retransmissions' })
  assert.equal(ch.state, 'failed')
  assert.equal(ch.nextDeadline(), Infinity)
})

test('abort sends RST and the peer fails; segments of another stream are ignored', () => {
  const a = new Channel({ stream: 1 }, 0)
  const b = new Channel({ stream: 1 }, 0)
  const out = a.abort(0)
  assert.equal(out.length, 1)
  const rst = (out[0] as { segment: ChannelSegment }).segment
  assert.equal(rst.flags, RST)
  assert.deepEqual(b.receive({ ...rst, stream: 2 }, 0), [])
  assert.deepEqual(b.receive(rst, 0), [{ kind: 'failed', reason: 'reset by the peer' }])
  assert.equal(b.state, 'failed')
})
