// The stream channel core over a seeded, in-memory lossy datagram pipe in virtual time:
// random loss, reordering (random delay) and duplication. Checks exact, in-order, once
// delivery both ways, close and reset semantics, timeouts and flow control.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { StreamChannel } from '../../../src/mesh/transport/stream-channel.ts'
import type { ChannelOutput, StreamChannelConfig } from '../../../src/mesh/transport/stream-channel.ts'
import { decodeSegment, encodeSegment, resetFor, FLAG_ACK, FLAG_SYN, MAX_SEGMENT_HEADER } from '../../../src/mesh/transport/stream-segment.ts'
import { MalformedSegmentError, MeshStreamResetError, MeshStreamTimeoutError } from '../../../src/mesh/errors.ts'

function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomBytes (random: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256)
  return out
}

interface PipeOptions {
  seed: number
  loss: number
  duplicate: number
  /** One-way delay is baseDelayMs plus up to jitterMs at random: jitter reorders. */
  baseDelayMs: number
  jitterMs: number
  maxDatagramBytes?: number
}

interface Side {
  channel: StreamChannel
  received: Uint8Array[]
  receivedBytes: number
  opened: boolean
  ended: boolean
  closed: boolean
  error: Error | undefined
  drained: number
  toWrite: Uint8Array
  written: number
  closeWhenWritten: boolean
}

/** Two channels joined by a lossy pipe, driven in virtual time. */
class LossyPair {
  now = 0
  readonly a: Side
  readonly b: Side
  readonly random: () => number
  readonly options: PipeOptions
  datagrams = 0
  largestDatagram = 0
  private readonly inFlight: Array<{ at: number, to: Side, datagram: Uint8Array }> = []

  constructor (options: PipeOptions, config: Partial<StreamChannelConfig> = {}) {
    this.options = options
    this.random = mulberry32(options.seed)
    const side = (initiator: boolean): Side => ({
      channel: new StreamChannel(7, initiator, { maxDatagramBytes: options.maxDatagramBytes ?? 1000, ...config }, 0),
      received: [],
      receivedBytes: 0,
      opened: false,
      ended: false,
      closed: false,
      error: undefined,
      drained: 0,
      toWrite: new Uint8Array(0),
      written: 0,
      closeWhenWritten: false
    })
    this.a = side(true)
    this.b = side(false)
  }

  other (s: Side): Side { return s === this.a ? this.b : this.a }

  handle (from: Side, outputs: ChannelOutput[]): void {
    for (const o of outputs) {
      switch (o.kind) {
        case 'send': {
          this.datagrams++
          this.largestDatagram = Math.max(this.largestDatagram, o.datagram.byteLength)
          if (this.random() < this.options.loss) break
          const copies = this.random() < this.options.duplicate ? 2 : 1
          for (let i = 0; i < copies; i++) {
            this.inFlight.push({ at: this.now + this.options.baseDelayMs + this.random() * this.options.jitterMs, to: this.other(from), datagram: o.datagram })
          }
          break
        }
        case 'open': from.opened = true; this.pump(from); break
        case 'data': from.received.push(o.bytes); from.receivedBytes += o.bytes.byteLength; break
        case 'end': from.ended = true; break
        case 'drained': from.drained++; this.pump(from); break
        case 'closed': from.closed = true; from.error = o.error; break
      }
    }
  }

  /** Writes as much of the side's pending bytes as its channel accepts. */
  pump (s: Side): void {
    if (!s.opened) return
    while (s.written < s.toWrite.byteLength) {
      const n = Math.min(s.channel.writableBytes(), s.toWrite.byteLength - s.written, 4096)
      if (n === 0) return
      const chunk = s.toWrite.subarray(s.written, s.written + n)
      s.written += n
      this.handle(s, s.channel.write(chunk, this.now))
    }
    if (s.closeWhenWritten) {
      s.closeWhenWritten = false
      this.handle(s, s.channel.close(this.now))
    }
  }

  send (s: Side, bytes: Uint8Array, close: boolean): void {
    s.toWrite = bytes
    s.written = 0
    s.closeWhenWritten = close
    this.pump(s)
  }

  connect (): void {
    this.handle(this.a, this.a.channel.connect(this.now))
  }

  /** Runs events until `until` says stop or virtual time passes `limitMs`. */
  run (until: () => boolean, limitMs: number): void {
    while (!until()) {
      let next = Math.min(this.a.channel.nextDeadline(), this.b.channel.nextDeadline())
      let index = -1
      for (let i = 0; i < this.inFlight.length; i++) {
        const at = (this.inFlight[i] as { at: number }).at
        if (at < next) { next = at; index = i }
      }
      if (next === Infinity || next > limitMs) return
      this.now = Math.max(this.now, next)
      if (index >= 0) {
        const [d] = this.inFlight.splice(index, 1)
        if (d === undefined) continue
        const segment = decodeSegment(d.datagram)
        this.handle(d.to, d.to.channel.receive(segment, this.now))
      } else {
        for (const s of [this.a, this.b]) {
          if (s.channel.nextDeadline() <= this.now) this.handle(s, s.channel.tick(this.now))
        }
      }
    }
  }
}

function concat (chunks: Uint8Array[]): Uint8Array {
  const total = chunks.reduce((n, c) => n + c.byteLength, 0)
  const out = new Uint8Array(total)
  let at = 0
  for (const c of chunks) { out.set(c, at); at += c.byteLength }
  return out
}

function transferBothWays (options: PipeOptions, bytesEach: number, config: Partial<StreamChannelConfig> = {}): LossyPair {
  const pair = new LossyPair(options, config)
  const random = mulberry32(options.seed ^ 0x5eed)
  const fromA = randomBytes(random, bytesEach)
  const fromB = randomBytes(random, bytesEach + 1234)
  pair.connect()
  pair.run(() => (pair.a.opened && pair.b.opened) || pair.a.closed, 600_000)
  assert.ok(pair.a.opened && pair.b.opened, `both sides open (${String(pair.a.error)})`)
  pair.send(pair.a, fromA, true)
  pair.send(pair.b, fromB, true)
  pair.run(() => pair.a.closed && pair.b.closed, 3_600_000)
  if (process.env.DEBUG_PAIR !== undefined) console.log(pair.now, pair.a, pair.b)
  assert.equal(pair.a.error, undefined, `a closed cleanly (${String(pair.a.error)})`)
  assert.equal(pair.b.error, undefined, `b closed cleanly (${String(pair.b.error)})`)
  assert.ok(pair.a.ended && pair.b.ended, 'both saw the end of the other side')
  assert.deepEqual(concat(pair.b.received), fromA, 'b got exactly what a sent')
  assert.deepEqual(concat(pair.a.received), fromB, 'a got exactly what b sent')
  return pair
}

test('segment codec round-trips and rejects malformed datagrams', () => {
  const s = { flags: FLAG_ACK, connectionId: 0xdeadbeef, seq: 12, ack: 34, window: 99, timestamp: 123456, echo: 7, sacks: [{ start: 40, end: 42 }, { start: 50, end: 51 }], payload: new Uint8Array([1, 2, 3]) }
  assert.deepEqual(decodeSegment(encodeSegment(s)), s)
  assert.throws(() => decodeSegment(new Uint8Array(5)), MalformedSegmentError)
  const bad = encodeSegment(s)
  bad[0] = 9
  assert.throws(() => decodeSegment(bad), MalformedSegmentError)
  const truncated = encodeSegment(s).subarray(0, 20)
  assert.throws(() => decodeSegment(truncated), MalformedSegmentError)
  assert.equal(resetFor(decodeSegment(encodeSegment({ ...s, flags: FLAG_SYN }))) !== undefined, true)
})

test('property: segments round-trip, and any bytes either decode to a segment that re-encodes to them or throw MalformedSegmentError', () => {
  const u32 = fc.integer({ min: 0, max: 0xffff_ffff })
  const segment = fc.record({
    flags: fc.integer({ min: 0, max: 0x1f }),
    connectionId: u32,
    seq: u32,
    ack: u32,
    window: fc.integer({ min: 0, max: 0xffff }),
    timestamp: u32,
    echo: u32,
    sacks: fc.array(fc.tuple(fc.integer({ min: 0, max: 0xffff_fffe }), fc.integer({ min: 1, max: 1000 })).map(([start, n]) => ({ start, end: Math.min(start + n, 0xffff_ffff) })), { maxLength: 6 }),
    payload: fc.uint8Array({ maxLength: 1200 })
  })
  fc.assert(fc.property(segment, (s) => {
    assert.deepEqual(decodeSegment(encodeSegment(s)), { ...s })
  }))
  // Half the inputs look like a header (version 1, known flags, a SACK count of 0–7),
  // so many get past the first checks and the re-encoding is tested too.
  const headerLike = fc.uint8Array({ maxLength: 120 }).map((b) => {
    const out = b.slice()
    if (out.length > 0) out[0] = 1
    if (out.length > 1) out[1] = (out[1] ?? 0) & 0x1f
    if (out.length > 24) out[24] = (out[24] ?? 0) % 8
    return out
  })
  const bytesArb = fc.oneof(fc.uint8Array({ maxLength: 120 }), headerLike)
  fc.assert(fc.property(bytesArb, (bytes) => {
    let decoded
    try {
      decoded = decodeSegment(bytes)
    } catch (err) {
      assert.ok(err instanceof MalformedSegmentError)
      return
    }
    assert.deepEqual(encodeSegment(decoded), bytes)
  }))
})

test('a clean pipe: 1 MiB each way, in order, once, closed cleanly, datagrams within the limit', () => {
  const pair = transferBothWays({ seed: 1, loss: 0, duplicate: 0, baseDelayMs: 10, jitterMs: 0 }, 1 << 20)
  assert.ok(pair.largestDatagram <= 1000, `largest datagram ${pair.largestDatagram}`)
  assert.equal(pair.a.channel.stats().retransmits, 0)
})

test('10% loss, 5% duplication, heavy reordering: 1 MiB each way arrives exactly', () => {
  const pair = transferBothWays({ seed: 42, loss: 0.1, duplicate: 0.05, baseDelayMs: 20, jitterMs: 40 }, 1 << 20)
  assert.ok(pair.a.channel.stats().retransmits > 0, 'losses were repaired by retransmission')
})

test('30% loss still delivers, with a small datagram size', () => {
  // A 30% loss each way fails a round trip half the time: give the peer longer to answer.
  transferBothWays({ seed: 7, loss: 0.3, duplicate: 0.02, baseDelayMs: 5, jitterMs: 20, maxDatagramBytes: 200 }, 100_000, { responseTimeoutMs: 300_000 })
})

test('congestion control halves the window on loss and grows it back (AIMD)', () => {
  const pair = new LossyPair({ seed: 3, loss: 0, duplicate: 0, baseDelayMs: 10, jitterMs: 0 })
  pair.connect()
  pair.run(() => pair.b.opened, 10_000)
  pair.send(pair.a, new Uint8Array(2 << 20), false)
  pair.run(() => pair.b.receivedBytes > 512 * 1024, 600_000)
  const before = pair.a.channel.stats().cwnd
  assert.ok(before > 16, `slow start opened the window (${before})`)
  pair.options.loss = 0.2
  pair.run(() => pair.a.channel.stats().cwnd < before / 2, pair.now + 5_000)
  assert.ok(pair.a.channel.stats().cwnd < before / 2, 'the window shrank under loss')
  pair.options.loss = 0
  const low = pair.a.channel.stats().cwnd
  pair.run(() => pair.a.channel.stats().cwnd > low + 4, pair.now + 60_000)
  assert.ok(pair.a.channel.stats().cwnd > low + 4, 'the window grew again without loss')
})

test('reordering without loss is not taken for loss (RACK): few spurious retransmissions, the window stays open', () => {
  const pair = new LossyPair({ seed: 21, loss: 0, duplicate: 0, baseDelayMs: 2, jitterMs: 8 })
  pair.connect()
  pair.run(() => pair.a.opened && pair.b.opened, 10_000)
  const start = pair.now
  pair.send(pair.a, new Uint8Array(4 << 20), true)
  pair.run(() => pair.b.ended, 600_000)
  const stats = pair.a.channel.stats()
  assert.ok(stats.retransmits < stats.segmentsSent / 100, `${stats.retransmits} retransmissions of ${stats.segmentsSent} segments`)
  assert.ok(stats.cwnd > 16, `cwnd ${stats.cwnd}`)
  // About 11 ms round trips: 4 MiB (4,490 segments) in well under 10 s of virtual time.
  assert.ok(pair.now - start < 10_000, `took ${pair.now - start} virtual ms`)
})

test('flow control: a paused reader holds at most its window, the sender waits, nothing is lost', () => {
  const pair = new LossyPair({ seed: 5, loss: 0.05, duplicate: 0, baseDelayMs: 10, jitterMs: 10 }, { receiveWindowSegments: 16, sendBufferBytes: 64 * 1024 })
  const data = randomBytes(mulberry32(9), 300_000)
  pair.connect()
  pair.run(() => pair.b.opened, 10_000)
  pair.handle(pair.b, pair.b.channel.setReading(false, pair.now))
  pair.send(pair.a, data, true)
  pair.run(() => false, pair.now + 30_000)
  assert.equal(pair.b.receivedBytes, 0, 'nothing delivered while paused')
  assert.ok(pair.a.written < data.byteLength, 'the writer is held back by the full send buffer')
  assert.ok(!pair.a.closed && !pair.b.closed, 'a closed window is not a dead peer')
  pair.handle(pair.b, pair.b.channel.setReading(true, pair.now))
  pair.handle(pair.b, pair.b.channel.close(pair.now))
  pair.run(() => pair.a.closed && pair.b.closed, pair.now + 600_000)
  assert.ok(pair.a.drained > 0)
  assert.deepEqual(concat(pair.b.received), data)
  assert.equal(pair.b.error, undefined)
})

test('half close: after one side closes, the other still sends until its own close', () => {
  const pair = new LossyPair({ seed: 11, loss: 0.1, duplicate: 0, baseDelayMs: 5, jitterMs: 5 })
  pair.connect()
  pair.run(() => pair.b.opened && pair.a.opened, 10_000)
  pair.handle(pair.a, pair.a.channel.close(pair.now))
  pair.run(() => pair.b.ended, pair.now + 60_000)
  assert.ok(pair.b.ended && !pair.a.closed)
  const reply = randomBytes(mulberry32(2), 50_000)
  pair.send(pair.b, reply, true)
  pair.run(() => pair.a.closed && pair.b.closed, pair.now + 600_000)
  assert.deepEqual(concat(pair.a.received), reply)
  assert.equal(pair.a.error, undefined)
  // After the linger both channels may be forgotten.
  pair.run(() => pair.a.channel.finished && pair.b.channel.finished, pair.now + 60_000)
  assert.ok(pair.a.channel.finished && pair.b.channel.finished)
})

test('reset: the other side closes with MeshStreamResetError', () => {
  const pair = new LossyPair({ seed: 12, loss: 0, duplicate: 0, baseDelayMs: 5, jitterMs: 0 })
  pair.connect()
  pair.run(() => pair.b.opened && pair.a.opened, 10_000)
  pair.handle(pair.a, pair.a.channel.reset(pair.now))
  pair.run(() => pair.b.closed, pair.now + 1_000)
  assert.ok(pair.b.error instanceof MeshStreamResetError)
  assert.ok(pair.a.channel.finished)
})

test('connect to nobody times out within connectTimeoutMs with MeshStreamTimeoutError', () => {
  const pair = new LossyPair({ seed: 13, loss: 1, duplicate: 0, baseDelayMs: 5, jitterMs: 0 }, { connectTimeoutMs: 5_000 })
  pair.connect()
  pair.run(() => pair.a.closed, 60_000)
  assert.ok(pair.a.error instanceof MeshStreamTimeoutError)
  assert.ok(pair.now >= 5_000 && pair.now <= 5_000 + 4_000, `gave up at ${pair.now} ms`)
})

test('a peer that vanishes mid-transfer: the sender gives up after responseTimeoutMs', () => {
  const pair = new LossyPair({ seed: 14, loss: 0, duplicate: 0, baseDelayMs: 5, jitterMs: 0 }, { responseTimeoutMs: 3_000 })
  pair.connect()
  pair.run(() => pair.a.opened && pair.b.opened, 10_000)
  pair.send(pair.a, new Uint8Array(100_000), false)
  pair.options.loss = 1
  const cut = pair.now
  pair.run(() => pair.a.closed, cut + 60_000)
  assert.ok(pair.a.error instanceof MeshStreamTimeoutError)
  assert.ok(pair.now - cut <= 3_000 + 100, `gave up ${pair.now - cut} ms after the cut`)
})

test('an idle connection closes after idleTimeoutMs', () => {
  const pair = new LossyPair({ seed: 15, loss: 0, duplicate: 0, baseDelayMs: 5, jitterMs: 0 }, { idleTimeoutMs: 10_000 })
  pair.connect()
  pair.run(() => pair.a.closed && pair.b.closed, 60_000)
  assert.ok(pair.a.error instanceof MeshStreamTimeoutError && pair.b.error instanceof MeshStreamTimeoutError)
})

test('RTT estimate follows RFC 6298 on a clean pipe', () => {
  const pair = new LossyPair({ seed: 16, loss: 0, duplicate: 0, baseDelayMs: 50, jitterMs: 0 }, { delayedAckMs: 0 })
  pair.connect()
  pair.run(() => pair.a.opened && pair.b.opened, 10_000)
  pair.send(pair.a, new Uint8Array(200_000), true)
  pair.run(() => pair.b.ended, 600_000)
  const { srttMs, rtoMs } = pair.a.channel.stats()
  assert.ok(srttMs !== null && srttMs >= 99 && srttMs < 120, `srtt ${srttMs}`)
  assert.ok(rtoMs >= 200 && rtoMs < 1000, `rto ${rtoMs}`)
})

test('property: any data, loss, duplication and reordering give exact delivery both ways', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 2 ** 31 }),
    fc.double({ min: 0, max: 0.3, noNaN: true }),
    fc.double({ min: 0, max: 0.2, noNaN: true }),
    fc.integer({ min: 0, max: 100 }),
    fc.integer({ min: 0, max: 60_000 }),
    fc.integer({ min: MAX_SEGMENT_HEADER + 16, max: 1400 }),
    (seed, loss, duplicate, jitterMs, bytes, maxDatagramBytes) => {
      // Exactness is the property; under heavy loss a timeout would be a correct outcome
      // too, so the peer is given all the time it needs.
      transferBothWays({ seed, loss, duplicate, baseDelayMs: 1, jitterMs, maxDatagramBytes }, bytes, { connectTimeoutMs: 600_000, responseTimeoutMs: 3_600_000, idleTimeoutMs: 3_600_000 })
    }
  ), { numRuns: 100, ...(process.env.PROPERTY_SEED !== undefined ? { seed: Number(process.env.PROPERTY_SEED) } : {}) })
})
