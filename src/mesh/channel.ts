// A reliable, ordered byte stream over mesh envelopes: the core that will carry a libp2p
// connection across the mesh, where envelopes may be lost, duplicated or reordered.
// Sans-IO (DESIGN.md): the shell seals each output segment into an envelope to the peer,
// feeds each segment the peer sent to `receive`, and calls `tick` at `nextDeadline()`.
//
// It is TCP's reliability machinery, cut down to what a datagram path needs:
//   - every data segment has a sequence number (segments, not bytes: the mesh moves whole
//     envelopes), the last one may carry FIN; a fixed window of segments in flight;
//   - every segment carries the cumulative ack (next segment expected) and up to four
//     SACK blocks for segments held out of order (RFC 2018);
//   - a segment is resent when the retransmission timer expires (RFC 6298: SRTT/RTTVAR,
//     Karn's rule, exponential backoff), or at once when DupThresh = 3 segments above it
//     were SACKed (RFC 6675 §4, IsLost);
//   - bounded: the send buffer (queued + unacknowledged bytes) and the out-of-order buffer
//     (one window) have fixed sizes; segments outside the receive window are dropped.
// There is no handshake: both ends create their Channel for a stream id the shell agreed
// on (e.g. in the first envelope), and both start at sequence 0.
//
// Segment wire form, version 1:
//   version u8 ‖ flags u8 ‖ stream u32 ‖ seq u32 ‖ ack u32 ‖ sack count u8
//   ‖ (start u32 ‖ end u32) per SACK block (end exclusive) ‖ payload (the rest)

import { ChannelBufferFullError, ChannelClosedError, MalformedPacketError, MeshError, OversizedPacketError, TruncatedPacketError, UnsupportedVersionError } from './errors.ts'
import { MAX_ENVELOPE_BYTES } from './envelope.ts'

export const SEGMENT_VERSION = 1
/** The sender's last segment: nothing follows it. */
export const FIN = 0x01
/** The sender gave up on the stream: drop everything. */
export const RST = 0x02
/** Most SACK blocks a segment carries (RFC 2018 §3: three or four fit TCP options). */
export const MAX_SACK_BLOCKS = 4
const SEGMENT_HEADER = 15
const MAX_SEQ = 0xffff_ffff
/** RFC 6675 §2: DupThresh. */
const DUP_THRESH = 3
/** Clock granularity G of RFC 6298 §2: `now` is in milliseconds. */
const CLOCK_GRANULARITY_MS = 1

export interface ChannelSegment {
  stream: number
  flags: number
  /** This segment's number; in a bare ack (no payload, no FIN) it is ignored. */
  seq: number
  /** Cumulative ack: the next segment number this side expects. */
  ack: number
  /** Segment ranges [start, end) held out of order. */
  sack: Array<[number, number]>
  payload: Uint8Array
}

export interface ChannelConfig {
  stream: number
  /** Largest payload per segment, bytes; both ends use the same (default 1024). */
  mss?: number
  /** Segments in flight at most, and the receive window (default 32). */
  window?: number
  /** Queued plus unacknowledged bytes at most (default 256 KiB). */
  sendBufferBytes?: number
  /** RFC 6298 §2.1: RTO before any RTT sample (default 1000 ms). */
  initialRtoMs?: number
  /**
   * RFC 6298 §2.4 rounds the RTO up to 1 s; a mesh path of a few radio hops has RTTs of
   * tens of ms, so the floor is configurable (default 200 ms, as Linux TCP).
   */
  minRtoMs?: number
  /** RFC 6298 §2.5: an upper bound of at least 60 s (default 60 s). */
  maxRtoMs?: number
  /** Transmissions of one segment beyond the first before the channel fails (default 12). */
  maxRetransmits?: number
}

const DEFAULTS = { mss: 1024, window: 32, sendBufferBytes: 256 * 1024, initialRtoMs: 1000, minRtoMs: 200, maxRtoMs: 60_000, maxRetransmits: 12 }

export type ChannelOutput =
  | { kind: 'segment', segment: ChannelSegment }
  /** Bytes from the peer, in order, each exactly once. */
  | { kind: 'data', bytes: Uint8Array }
  /** The peer closed its side: every byte it sent has been delivered. */
  | { kind: 'end' }
  /** Both sides closed and our last byte acknowledged. */
  | { kind: 'closed' }
  | { kind: 'failed', reason: string }

export type ChannelState = 'open' | 'closed' | 'failed'

interface Unacked {
  payload: Uint8Array
  fin: boolean
  sentAt: number
  transmissions: number
  sacked: boolean
  fastRetransmitted: boolean
}

export class Channel {
  readonly stream: number
  readonly #c: typeof DEFAULTS
  #state: ChannelState = 'open'
  // ---- sending
  #queue: Uint8Array[] = []
  #queued = 0
  /** Sent, not yet cumulatively acknowledged; insertion order is seq order. */
  readonly #unacked = new Map<number, Unacked>()
  #inFlightBytes = 0
  #sndUna = 0
  #sndNext = 0
  #finQueued = false
  #finSeq: number | undefined
  #finAcked = false
  #srtt: number | undefined
  #rttvar = 0
  #rto: number
  #timerAt = Infinity
  #retransmissions = 0
  // ---- receiving
  #rcvNext = 0
  readonly #outOfOrder = new Map<number, { payload: Uint8Array, fin: boolean }>()
  #ackPending = false
  #peerEnded = false

  constructor (config: ChannelConfig, _now: number) {
    this.stream = config.stream
    this.#c = { ...DEFAULTS }
    for (const k of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
      const v = config[k]
      if (v !== undefined) this.#c[k] = v
    }
    if (!(this.#c.mss >= 1 && this.#c.mss + SEGMENT_HEADER + 8 * MAX_SACK_BLOCKS <= MAX_ENVELOPE_BYTES)) throw new MeshError(`channel mss ${this.#c.mss} does not fit an envelope`)
    if (!(this.#c.window >= 1)) throw new MeshError('a channel window is at least one segment')
    this.#rto = this.#c.initialRtoMs
  }

  get state (): ChannelState { return this.#state }
  /** The peer's side is finished (its FIN delivered). */
  get ended (): boolean { return this.#peerEnded }

  /** Bytes `write` accepts now. */
  writable (): number {
    if (this.#state !== 'open' || this.#finQueued) return 0
    return Math.max(0, this.#c.sendBufferBytes - this.#queued - this.#inFlightBytes)
  }

  /** Queues bytes to send; throws ChannelBufferFullError beyond `writable()`. */
  write (data: Uint8Array, now: number): ChannelOutput[] {
    if (this.#state !== 'open' || this.#finQueued) throw new ChannelClosedError(`channel ${this.stream} is ${this.#finQueued ? 'closing' : this.#state}: no more writes`)
    if (data.byteLength > this.writable()) throw new ChannelBufferFullError(`channel ${this.stream} has room for ${this.writable()} bytes, not ${data.byteLength}`, { hint: 'write at most writable() bytes, and again once acks free room' })
    if (data.byteLength > 0) {
      this.#queue.push(Uint8Array.from(data))
      this.#queued += data.byteLength
    }
    const out: ChannelOutput[] = []
    this.#flush(now, out)
    return out
  }

  /** Closes our side: FIN goes after the bytes already written. */
  close (now: number): ChannelOutput[] {
    if (this.#state !== 'open' || this.#finQueued) return []
    this.#finQueued = true
    const out: ChannelOutput[] = []
    this.#flush(now, out)
    this.#checkClosed(out)
    return out
  }

  /** Gives up at once: the peer is told with RST, everything held is dropped. */
  abort (_now: number): ChannelOutput[] {
    if (this.#state !== 'open') return []
    const rst = this.#segment(this.#sndNext, RST, new Uint8Array(0))
    this.#fail()
    return [{ kind: 'segment', segment: rst }]
  }

  receive (seg: ChannelSegment, now: number): ChannelOutput[] {
    if (seg.stream !== this.stream || this.#state === 'failed') return []
    if ((seg.flags & RST) !== 0) {
      this.#fail()
      return [{ kind: 'failed', reason: 'reset by the peer' }]
    }
    const out: ChannelOutput[] = []
    this.#onAck(seg, now, out)
    this.#onData(seg, out)
    this.#flush(now, out)
    this.#checkClosed(out)
    return out
  }

  /** RFC 6298 §5.4–5.6: the retransmission timer expired. */
  tick (now: number): ChannelOutput[] {
    if (this.#state === 'failed' || now < this.#timerAt) return []
    const out: ChannelOutput[] = []
    let first: [number, Unacked] | undefined
    for (const entry of this.#unacked) {
      if (first === undefined) first = entry
      // SACKed segments are held by the peer: resend the first hole.
      if (!entry[1].sacked) { first = entry; break }
    }
    if (first === undefined) {
      this.#timerAt = Infinity
      return out
    }
    if (first[1].transmissions > this.#c.maxRetransmits) {
      this.#fail()
      return [{ kind: 'failed', reason: `no acknowledgement after ${this.#c.maxRetransmits} retransmissions` }]
    }
    this.#retransmit(first[0], first[1], now, out)
    this.#rto = Math.min(this.#c.maxRtoMs, this.#rto * 2) // §5.5
    this.#timerAt = now + this.#rto // §5.6
    return out
  }

  nextDeadline (): number {
    return this.#state === 'failed' ? Infinity : this.#timerAt
  }

  stats (): { srttMs: number | undefined, rtoMs: number, inFlight: number, queuedBytes: number, outOfOrder: number, retransmissions: number } {
    return { srttMs: this.#srtt, rtoMs: this.#rto, inFlight: this.#unacked.size, queuedBytes: this.#queued, outOfOrder: this.#outOfOrder.size, retransmissions: this.#retransmissions }
  }

  // ---- sending

  #flush (now: number, out: ChannelOutput[]): void {
    if (this.#state === 'failed') return
    while (this.#sndNext < this.#sndUna + this.#c.window && this.#sndNext < MAX_SEQ) {
      const take = Math.min(this.#c.mss, this.#queued)
      const fin = this.#finQueued && this.#finSeq === undefined && take === this.#queued
      if (take === 0 && !fin) break
      const payload = this.#dequeue(take)
      const seq = this.#sndNext++
      if (fin) this.#finSeq = seq
      this.#unacked.set(seq, { payload, fin, sentAt: now, transmissions: 1, sacked: false, fastRetransmitted: false })
      this.#inFlightBytes += take
      out.push({ kind: 'segment', segment: this.#segment(seq, fin ? FIN : 0, payload) })
      if (this.#timerAt === Infinity) this.#timerAt = now + this.#rto // §5.1
    }
    if (this.#ackPending) out.push({ kind: 'segment', segment: this.#segment(this.#sndNext, 0, new Uint8Array(0)) })
  }

  #dequeue (n: number): Uint8Array {
    const out = new Uint8Array(n)
    let at = 0
    while (at < n) {
      const head = this.#queue[0] as Uint8Array
      const part = Math.min(head.byteLength, n - at)
      out.set(head.subarray(0, part), at)
      at += part
      if (part === head.byteLength) this.#queue.shift()
      else this.#queue[0] = head.subarray(part)
    }
    this.#queued -= n
    return out
  }

  #retransmit (seq: number, u: Unacked, now: number, out: ChannelOutput[]): void {
    u.transmissions++
    u.sentAt = now
    this.#retransmissions++
    out.push({ kind: 'segment', segment: this.#segment(seq, u.fin ? FIN : 0, u.payload) })
  }

  #onAck (seg: ChannelSegment, now: number, out: ChannelOutput[]): void {
    const ack = seg.ack
    if (ack > this.#sndNext) return // acks what was never sent: not from our peer's stream
    if (ack > this.#sndUna) {
      // RFC 6298 §3 (Karn): sample only from a segment sent once.
      const newest = this.#unacked.get(ack - 1)
      if (newest !== undefined && newest.transmissions === 1) this.#sample(now - newest.sentAt)
      for (let s = this.#sndUna; s < ack; s++) {
        const u = this.#unacked.get(s)
        if (u === undefined) continue
        this.#inFlightBytes -= u.payload.byteLength
        if (u.fin) this.#finAcked = true
        this.#unacked.delete(s)
      }
      this.#sndUna = ack
      this.#timerAt = this.#unacked.size > 0 ? now + this.#rto : Infinity // §5.2, §5.3
    }
    if (seg.sack.length === 0 || this.#unacked.size === 0) return
    for (const [s, u] of this.#unacked) {
      if (!u.sacked && seg.sack.some(([a, b]) => s >= a && s < b)) u.sacked = true
    }
    // RFC 6675 §4 IsLost: DupThresh SACKed segments above a hole mean it was lost.
    const entries = [...this.#unacked]
    let sackedAbove = 0
    for (let i = entries.length - 1; i >= 0; i--) {
      const [s, u] = entries[i] as [number, Unacked]
      if (u.sacked) sackedAbove++
      else if (sackedAbove >= DUP_THRESH && !u.fastRetransmitted) {
        u.fastRetransmitted = true
        this.#retransmit(s, u, now, out)
      }
    }
  }

  /** RFC 6298 §2.2–2.4. */
  #sample (r: number): void {
    if (this.#srtt === undefined) {
      this.#srtt = r
      this.#rttvar = r / 2
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - r)
      this.#srtt = 0.875 * this.#srtt + 0.125 * r
    }
    this.#rto = Math.min(this.#c.maxRtoMs, Math.max(this.#c.minRtoMs, this.#srtt + Math.max(CLOCK_GRANULARITY_MS, 4 * this.#rttvar)))
  }

  // ---- receiving

  #onData (seg: ChannelSegment, out: ChannelOutput[]): void {
    const fin = (seg.flags & FIN) !== 0
    if (seg.payload.byteLength === 0 && !fin) return // a bare ack
    this.#ackPending = true // every data segment is acked, duplicates too (their ack may have been lost)
    const s = seg.seq
    if (this.#peerEnded || s < this.#rcvNext || s >= this.#rcvNext + this.#c.window) return
    if (seg.payload.byteLength > this.#c.mss) return // beyond what we agreed to buffer
    if (!this.#outOfOrder.has(s)) this.#outOfOrder.set(s, { payload: seg.payload, fin })
    for (let next = this.#outOfOrder.get(this.#rcvNext); next !== undefined; next = this.#outOfOrder.get(this.#rcvNext)) {
      this.#outOfOrder.delete(this.#rcvNext)
      this.#rcvNext++
      if (next.payload.byteLength > 0) out.push({ kind: 'data', bytes: next.payload })
      if (next.fin) {
        this.#peerEnded = true
        this.#outOfOrder.clear()
        out.push({ kind: 'end' })
        break
      }
    }
  }

  #segment (seq: number, flags: number, payload: Uint8Array): ChannelSegment {
    this.#ackPending = false
    return { stream: this.stream, flags, seq, ack: this.#rcvNext, sack: this.#sackBlocks(), payload }
  }

  #sackBlocks (): Array<[number, number]> {
    if (this.#outOfOrder.size === 0) return []
    const held = [...this.#outOfOrder.keys()].sort((a, b) => a - b)
    const blocks: Array<[number, number]> = []
    for (const s of held) {
      const last = blocks[blocks.length - 1]
      if (last !== undefined && last[1] === s) last[1] = s + 1
      else if (blocks.length === MAX_SACK_BLOCKS) break
      else blocks.push([s, s + 1])
    }
    return blocks
  }

  #checkClosed (out: ChannelOutput[]): void {
    if (this.#state !== 'open' || !this.#finAcked || !this.#peerEnded) return
    // Stay able to ack the peer's retransmitted FIN (the shell keeps a closed channel
    // around for a while, as TCP's TIME-WAIT does); nothing else is sent.
    this.#state = 'closed'
    this.#timerAt = Infinity
    out.push({ kind: 'closed' })
  }

  #fail (): void {
    this.#state = 'failed'
    this.#queue = []
    this.#queued = 0
    this.#unacked.clear()
    this.#inFlightBytes = 0
    this.#outOfOrder.clear()
    this.#timerAt = Infinity
  }
}

// ---- codec --------------------------------------------------------------------------------

export function encodeSegment (s: ChannelSegment): Uint8Array {
  const bad = (what: string): never => { throw new MalformedPacketError(`cannot encode channel segment: ${what}`) }
  if (s.sack.length > MAX_SACK_BLOCKS) bad(`${s.sack.length} SACK blocks, at most ${MAX_SACK_BLOCKS}`)
  for (const n of [s.stream, s.seq, s.ack, ...s.sack.flat()]) if (!Number.isInteger(n) || n < 0 || n > MAX_SEQ) bad(`${n} is not a u32`)
  if (!Number.isInteger(s.flags) || s.flags < 0 || s.flags > 255) bad(`flags ${s.flags} is not a byte`)
  const size = SEGMENT_HEADER + 8 * s.sack.length + s.payload.byteLength
  if (size > MAX_ENVELOPE_BYTES) throw new OversizedPacketError(`channel segment of ${size} bytes is over ${MAX_ENVELOPE_BYTES}`)
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  out[0] = SEGMENT_VERSION
  out[1] = s.flags
  view.setUint32(2, s.stream)
  view.setUint32(6, s.seq)
  view.setUint32(10, s.ack)
  out[14] = s.sack.length
  let at = SEGMENT_HEADER
  for (const [a, b] of s.sack) { view.setUint32(at, a); view.setUint32(at + 4, b); at += 8 }
  out.set(s.payload, at)
  return out
}

/** Decodes one segment; throws a MeshError subclass (and nothing else) on bad bytes. */
export function decodeSegment (b: Uint8Array): ChannelSegment {
  if (b.byteLength > MAX_ENVELOPE_BYTES) throw new OversizedPacketError(`channel segment of ${b.byteLength} bytes is over ${MAX_ENVELOPE_BYTES}`)
  if (b.byteLength === 0) throw new TruncatedPacketError('empty channel segment')
  if (b[0] !== SEGMENT_VERSION) throw new UnsupportedVersionError(`channel segment version ${b[0]} is not ${SEGMENT_VERSION}`)
  if (b.byteLength < SEGMENT_HEADER) throw new TruncatedPacketError(`channel segment truncated: ${b.byteLength} bytes`)
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const count = b[14] as number
  if (count > MAX_SACK_BLOCKS) throw new MalformedPacketError(`channel segment has ${count} SACK blocks, at most ${MAX_SACK_BLOCKS}`)
  const payloadAt = SEGMENT_HEADER + 8 * count
  if (b.byteLength < payloadAt) throw new TruncatedPacketError('channel segment truncated in its SACK blocks')
  const sack: Array<[number, number]> = []
  for (let i = 0; i < count; i++) {
    const a = view.getUint32(SEGMENT_HEADER + 8 * i)
    const e = view.getUint32(SEGMENT_HEADER + 8 * i + 4)
    if (e <= a) throw new MalformedPacketError(`channel segment SACK block [${a}, ${e}) is empty`)
    sack.push([a, e])
  }
  return { stream: view.getUint32(2), flags: b[1] as number, seq: view.getUint32(6), ack: view.getUint32(10), sack, payload: b.slice(payloadAt) }
}
