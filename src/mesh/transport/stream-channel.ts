// A reliable, ordered byte stream over the mesh's unreliable datagrams: the pure core of
// one connection (DESIGN.md, "Sans-IO"). The mesh delivers sealed datagrams end to end but
// may lose, duplicate or reorder them; this core turns them into what TCP gives over IP,
// so libp2p connections (Noise, yamux, every protocol above) run over the mesh unchanged.
//
// It follows TCP where TCP is right and says where it differs:
// - Opening (RFC 9293 §3.5, simplified to two messages): the opener sends SYN and
//   retransmits it; the other side answers SYN|ACK and is open at once. Any ACK from the
//   answering side opens the opener, so a lost SYN|ACK costs nothing once data flows.
// - Sequence numbers count segments, not bytes (see stream-segment.ts). FIN takes a
//   sequence number after the last data, so the remote end sees it in order.
// - Cumulative and selective acks (RFC 2018); acks delayed at most `delayedAckMs` and sent
//   at once for every second segment or out-of-order arrival (RFC 5681 §4.2).
// - Retransmission timer per RFC 6298 (SRTT/RTTVAR, exponential backoff), with RTT samples
//   from echoed timestamps (RFC 7323 §4) rather than Karn's rule: on a lossy path most
//   samples Karn allows are stretched by lost acks, and the inflated RTO stalls the stream.
//   Loss detection by RACK (RFC 8985): a segment is lost when a segment sent after it was
//   delivered and a reordering window has passed, so lost retransmissions are found the
//   same way and a mesh that reorders (several paths, custody) does not look lossy. The
//   window grows when a retransmission proves spurious (the ack echoes the original's
//   timestamp), and the window reduction of that episode is undone (RFC 4015).
// - Congestion control: slow start and AIMD congestion avoidance (RFC 5681 §3.1),
//   multiplicative decrease once per loss episode (RFC 6675 §5), cwnd = 1 after a timeout.
// - Flow control: the receiver advertises how many segments beyond the cumulative ack it
//   will buffer; data held while the reader is paused shrinks the window. Memory is bounded
//   by `sendBufferBytes` on the sending side and `receiveWindowSegments` segments on the
//   receiving side.
// - Half close (FIN each way), RST on abort or for unknown connections, linger after a
//   clean close to re-ack a retransmitted FIN (TIME-WAIT, shortened), connect, response and
//   idle timeouts.
//
// It never reads a clock: every method takes `now` (ms) and returns outputs; the shell
// calls `tick(now)` at or after `nextDeadline()`.

import { MeshStreamResetError, MeshStreamTimeoutError } from '../errors.ts'
import type { MeshError } from '../errors.ts'
import {
  FLAG_ACK, FLAG_FIN, FLAG_INIT, FLAG_RST, FLAG_SYN, MAX_SACK_BLOCKS, MAX_SEGMENT_HEADER,
  encodeSegment, occupiesSequence
} from './stream-segment.ts'
import type { SackBlock, Segment } from './stream-segment.ts'

export interface StreamChannelConfig {
  /** Largest datagram handed to the mesh, header included. */
  maxDatagramBytes: number
  /** Bytes written but not yet acknowledged that the channel holds at most. */
  sendBufferBytes: number
  /** Segments beyond the cumulative ack the receiver buffers (its largest window). */
  receiveWindowSegments: number
  /** Initial congestion window in segments (RFC 5681 §3.1 allows up to 4 for small MSS). */
  initialWindowSegments: number
  /** RFC 6298 §2.1: 1 s before any RTT sample. */
  initialRtoMs: number
  /** RFC 6298 §2.4 says 1 s; like Linux we allow less (mesh RTTs are often a few ms). */
  minRtoMs: number
  /**
   * RFC 6298 §2.5: a maximum of at least 60 s may be placed on the RTO. The backed-off RTO
   * is further held under a quarter of `responseTimeoutMs`, so a peer (or a closed window's
   * probe) gets several retransmissions before it is declared gone.
   */
  maxRtoMs: number
  delayedAckMs: number
  /** How long the opener retries SYN before giving up. */
  connectTimeoutMs: number
  /** Unacknowledged data and nothing heard from the remote end for this long: it is gone. */
  responseTimeoutMs: number
  /** Nothing heard at all for this long: the connection is closed. */
  idleTimeoutMs: number
  /** After a clean close, how long (at least) the channel stays to re-ack a retransmitted FIN. */
  lingerMs: number
}

export const DEFAULT_STREAM_CHANNEL_CONFIG: StreamChannelConfig = {
  maxDatagramBytes: 1000,
  // 128 segments of up to ~1 KB each way: about 12 MB/s at a 10 ms round trip, and
  // at most ~256 KiB held per connection.
  sendBufferBytes: 128 * 1024,
  receiveWindowSegments: 128,
  initialWindowSegments: 4,
  initialRtoMs: 1000,
  minRtoMs: 200,
  maxRtoMs: 60_000,
  delayedAckMs: 20,
  connectTimeoutMs: 10_000,
  responseTimeoutMs: 30_000,
  idleTimeoutMs: 120_000,
  lingerMs: 30_000
}

export type ChannelOutput =
  | { kind: 'send', datagram: Uint8Array }
  /** The connection is open: data may flow. */
  | { kind: 'open' }
  /** Bytes received, in order, exactly once. */
  | { kind: 'data', bytes: Uint8Array }
  /** The remote end closed its writing side (FIN) and every byte before it was delivered. */
  | { kind: 'end' }
  /** The send buffer has room again after `writableBytes()` reached 0. */
  | { kind: 'drained' }
  /** The connection is over: cleanly (both FINs acknowledged) or with an error. */
  | { kind: 'closed', error?: MeshError }

export type ChannelState = 'new' | 'syn-sent' | 'open' | 'time-wait' | 'closed'

export interface ChannelStats {
  srttMs: number | null
  rtoMs: number
  cwnd: number
  ssthresh: number
  inFlight: number
  segmentsSent: number
  retransmits: number
  segmentsReceived: number
  duplicatesReceived: number
}

interface SentSegment {
  seq: number
  payload: Uint8Array
  fin: boolean
  /** Order of its latest transmission among all transmissions of this channel. */
  txOrder: number
  /** When its latest transmission went out. */
  sentAt: number
  retransmitted: boolean
  sacked: boolean
  lost: boolean
  inFlight: boolean
}

/** RFC 8985 §6.2: with this many segments SACKed and no reordering seen, no reordering window. */
const DUP_THRESH = 3
/** Bounds the reordering window's multiplier (RFC 8985 §6.2 step 4 caps the window at SRTT anyway). */
const MAX_REO_WND_MULT = 16
/** Bounds the congestion window, hence the in-flight state, whatever the acks say. */
const MAX_CWND = 4096
/** RFC 6298 §2: G, the clock granularity, in ms. */
const CLOCK_GRANULARITY_MS = 1
const MAX_SEQ = 0xffff_fffe

export class StreamChannel {
  readonly connectionId: number
  readonly initiator: boolean
  private readonly config: StreamChannelConfig
  private readonly mss: number
  private readonly maxRto: number
  private state: ChannelState = 'new'
  private lastHeard: number

  // Sending side.
  private readonly queue: Uint8Array[] = []
  private queuedBytes = 0
  private readonly outstanding: SentSegment[] = []
  private outstandingBytes = 0
  private nextSeq = 0
  private sndUna = 0
  private peerWindow = 1
  private finQueued = false
  private finSeq = -1
  private finAcked = false
  private blocked = false
  private inFlight = 0
  private txCounter = 0
  private cwnd: number
  private ssthresh = MAX_CWND
  private fastRecovery = false
  private recoveryPoint = 0
  // RACK (RFC 8985 §6.1): the latest-sent segment known delivered, and reordering state.
  private rackTxOrder = 0
  private rackRtt = 0
  private minRtt = Infinity
  private highestDelivered = -1
  private reorderSeen = false
  private reoWndMult = 1
  private reorderDeadline = Infinity
  // For undoing a window reduction that a spurious retransmission caused (RFC 4015).
  private priorCwnd = 0
  private priorSsthresh = 0
  private undone = true
  private srtt: number | null = null
  private rttvar = 0
  private rto: number
  private rtoDeadline = Infinity
  private synSentAt = 0
  private synDeadline = Infinity
  private lingerUntil = Infinity

  // Receiving side.
  private rcvNext = 0
  private readonly outOfOrder = new Map<number, { payload: Uint8Array, fin: boolean }>()
  private lastOutOfOrder = -1
  /** Timestamp of the latest segment received, echoed in the next one sent (RFC 7323 §4.3). */
  private echo = 0
  private reading = true
  private readonly held: Uint8Array[] = []
  private endHeld = false
  private remoteEnded = false
  private unackedReceived = 0
  private delayedAckDeadline = Infinity
  private lastAdvertised = 0

  private readonly counters = { segmentsSent: 0, retransmits: 0, segmentsReceived: 0, duplicatesReceived: 0 }

  constructor (connectionId: number, initiator: boolean, config: Partial<StreamChannelConfig>, now: number) {
    this.connectionId = connectionId
    this.initiator = initiator
    this.config = { ...DEFAULT_STREAM_CHANNEL_CONFIG, ...config }
    this.mss = this.config.maxDatagramBytes - MAX_SEGMENT_HEADER
    if (this.mss < 1) throw new RangeError(`maxDatagramBytes must exceed the ${MAX_SEGMENT_HEADER}-byte segment header`)
    this.maxRto = Math.min(this.config.maxRtoMs, this.config.responseTimeoutMs / 4)
    this.cwnd = this.config.initialWindowSegments
    this.rto = Math.min(this.config.initialRtoMs, this.maxRto)
    this.lastHeard = now
  }

  get status (): ChannelState { return this.state }
  /** Whether the shell may forget this channel. */
  get finished (): boolean { return this.state === 'closed' }

  /** Opens the connection (the opener's side): sends SYN. */
  connect (now: number): ChannelOutput[] {
    if (this.state !== 'new' || !this.initiator) return []
    const out: ChannelOutput[] = []
    this.state = 'syn-sent'
    this.synSentAt = now
    this.synDeadline = now + this.rto
    this.sendControl(FLAG_SYN, now, out)
    return out
  }

  /** Bytes `write` accepts now. */
  writableBytes (): number {
    if (this.finQueued || this.state === 'closed' || this.state === 'time-wait') return 0
    return Math.max(0, this.config.sendBufferBytes - this.queuedBytes - this.outstandingBytes)
  }

  /** Queues bytes to send; at most `writableBytes()` of them (the rest is the caller's). */
  write (bytes: Uint8Array, now: number): ChannelOutput[] {
    if (bytes.byteLength > this.writableBytes()) throw new RangeError(`write of ${bytes.byteLength} bytes exceeds the ${this.writableBytes()} writable`)
    if (bytes.byteLength > 0) {
      this.queue.push(bytes.slice())
      this.queuedBytes += bytes.byteLength
    }
    if (this.writableBytes() === 0) this.blocked = true
    const out: ChannelOutput[] = []
    this.trySend(now, out)
    return out
  }

  /** Closes the writing side: FIN goes after the queued bytes. Reading goes on until the remote FIN. */
  close (now: number): ChannelOutput[] {
    if (this.finQueued || this.state === 'closed' || this.state === 'time-wait') return []
    this.finQueued = true
    const out: ChannelOutput[] = []
    this.trySend(now, out)
    this.maybeFinish(now, out)
    return out
  }

  /** Aborts: sends RST and forgets everything. */
  reset (now: number): ChannelOutput[] {
    if (this.state === 'closed') return []
    const out: ChannelOutput[] = []
    if (this.state !== 'new') this.sendControl(FLAG_RST, now, out)
    this.state = 'closed'
    this.release()
    return out
  }

  /** Pauses or resumes delivery; while paused, received bytes are held and shrink the window. */
  setReading (on: boolean, now: number): ChannelOutput[] {
    if (on === this.reading) return []
    this.reading = on
    const out: ChannelOutput[] = []
    if (!on) return out
    for (const bytes of this.held) out.push({ kind: 'data', bytes })
    this.held.length = 0
    if (this.endHeld) {
      this.endHeld = false
      out.push({ kind: 'end' })
    }
    // Window update (RFC 9293 §3.8.6.2.2): tell the sender the window opened again.
    if (this.state === 'open' && this.lastAdvertised < this.config.receiveWindowSegments / 2) this.sendAck(now, out)
    this.maybeFinish(now, out)
    return out
  }

  receive (segment: Segment, now: number): ChannelOutput[] {
    const out: ChannelOutput[] = []
    if (this.state === 'closed') return out
    this.lastHeard = now
    const { flags } = segment
    if (segment.timestamp !== 0) this.echo = segment.timestamp

    if ((flags & FLAG_RST) !== 0) {
      if (this.state === 'time-wait') {
        this.state = 'closed'
        return out
      }
      const refused = this.state === 'syn-sent'
      this.fail(new MeshStreamResetError(refused ? 'the mesh peer refused the stream' : 'the mesh peer reset the stream'), false, now, out)
      return out
    }

    if (this.state === 'new') {
      // The answering side: only a SYN opens it (the shell answers anything else with RST).
      if ((flags & FLAG_SYN) === 0 || this.initiator) return out
      this.state = 'open'
      this.peerWindow = segment.window
      out.push({ kind: 'open' })
      this.sendControl(FLAG_SYN | FLAG_ACK, now, out)
      return out
    }

    if ((flags & FLAG_SYN) !== 0 && (flags & FLAG_ACK) === 0) {
      // A retransmitted SYN: our SYN|ACK was lost.
      if (!this.initiator) this.sendControl(FLAG_SYN | FLAG_ACK, now, out)
      return out
    }
    if ((flags & FLAG_ACK) === 0) return out

    if (this.state === 'syn-sent') {
      this.state = 'open'
      this.synDeadline = Infinity
      if (segment.echo !== 0) this.sampleRtt(elapsed(now, segment.echo))
      this.rto = this.computeRto()
      out.push({ kind: 'open' })
    }

    this.onAck(segment, now, out)
    if (occupiesSequence(segment)) this.onData(segment, now, out)
    this.trySend(now, out)
    this.maybeFinish(now, out)
    return out
  }

  nextDeadline (): number {
    switch (this.state) {
      case 'new':
      case 'closed':
        return Infinity
      case 'time-wait':
        return this.lingerUntil
      case 'syn-sent':
        return Math.min(this.synDeadline, this.synSentAt + this.config.connectTimeoutMs)
      case 'open':
        return Math.min(this.timeoutDeadline(), this.delayedAckDeadline, this.outstanding.length > 0 ? Math.min(this.rtoDeadline, this.reorderDeadline) : Infinity)
    }
  }

  tick (now: number): ChannelOutput[] {
    const out: ChannelOutput[] = []
    switch (this.state) {
      case 'new':
      case 'closed':
        return out
      case 'time-wait':
        if (now >= this.lingerUntil) this.state = 'closed'
        return out
      case 'syn-sent':
        if (now - this.synSentAt >= this.config.connectTimeoutMs) {
          this.fail(new MeshStreamTimeoutError(`no answer from the mesh peer within ${this.config.connectTimeoutMs} ms`, { hint: 'the peer may be offline, out of range, or not running Peernet' }), false, now, out)
          return out
        }
        if (now < this.synDeadline) return out
        // RFC 6298 §5.5 applied to SYN: back off and retransmit.
        this.rto = Math.min(this.rto * 2, this.maxRto)
        this.synDeadline = now + this.rto
        this.sendControl(FLAG_SYN, now, out)
        return out
      case 'open':
        break
    }
    if (now >= this.timeoutDeadline()) {
      const waiting = this.outstanding.length > 0
      const ms = waiting ? this.config.responseTimeoutMs : this.config.idleTimeoutMs
      this.fail(new MeshStreamTimeoutError(waiting ? `the mesh peer acknowledged nothing for ${ms} ms` : `nothing heard from the mesh peer for ${ms} ms`, { hint: 'the route to the peer may be gone' }), true, now, out)
      return out
    }
    if (now >= this.delayedAckDeadline) this.sendAck(now, out)
    if (this.outstanding.length > 0 && now >= this.reorderDeadline) {
      this.detectLosses(now)
      this.trySend(now, out)
    }
    if (this.outstanding.length > 0 && now >= this.rtoDeadline) this.onRetransmissionTimeout(now, out)
    return out
  }

  stats (): ChannelStats {
    return {
      srttMs: this.srtt,
      rtoMs: this.rto,
      cwnd: this.cwnd,
      ssthresh: this.ssthresh,
      inFlight: this.inFlight,
      ...this.counters
    }
  }

  // ---- sending side ----

  private trySend (now: number, out: ChannelOutput[]): void {
    if (this.state !== 'open') return
    // Retransmit what is known lost first (RFC 6675 §5, NextSeg rule 1) …
    for (const s of this.outstanding) {
      if (this.inFlight >= this.cwnd) return
      if (s.lost && !s.sacked) this.transmit(s, now, out)
    }
    // … then new data within both the congestion window and the peer's window.
    while (this.inFlight < this.cwnd) {
      const finPending = this.finQueued && this.finSeq < 0
      if (this.queuedBytes === 0 && !finPending) return
      // With nothing outstanding one segment may go beyond a closed window: the probe
      // (RFC 9293 §3.8.6.1) whose ack reopens it; its retransmissions repeat the probe.
      const edge = this.sndUna + this.peerWindow
      if (this.nextSeq >= edge && this.outstanding.length > 0) return
      if (this.nextSeq >= MAX_SEQ) {
        this.fail(new MeshStreamResetError('mesh stream sequence space exhausted'), true, now, out)
        return
      }
      const payload = this.take(this.mss)
      const fin = this.finQueued && this.queuedBytes === 0
      const s: SentSegment = { seq: this.nextSeq++, payload, fin, txOrder: 0, sentAt: now, retransmitted: false, sacked: false, lost: false, inFlight: false }
      if (fin) this.finSeq = s.seq
      this.outstanding.push(s)
      this.outstandingBytes += payload.byteLength
      this.transmit(s, now, out)
    }
  }

  private take (max: number): Uint8Array {
    const n = Math.min(max, this.queuedBytes)
    const first = this.queue[0]
    if (first !== undefined && first.byteLength === n) {
      this.queue.shift()
      this.queuedBytes -= n
      return first
    }
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.queue[0] as Uint8Array
      const part = Math.min(chunk.byteLength, n - filled)
      out.set(chunk.subarray(0, part), filled)
      filled += part
      if (part === chunk.byteLength) this.queue.shift()
      else this.queue[0] = chunk.subarray(part)
    }
    this.queuedBytes -= n
    return out
  }

  private transmit (s: SentSegment, now: number, out: ChannelOutput[]): void {
    if (s.txOrder > 0) {
      s.retransmitted = true
      this.counters.retransmits++
    }
    s.txOrder = ++this.txCounter
    s.sentAt = now
    s.lost = false
    if (!s.inFlight) {
      s.inFlight = true
      this.inFlight++
    }
    this.counters.segmentsSent++
    out.push({ kind: 'send', datagram: this.encode(FLAG_ACK | (s.fin ? FLAG_FIN : 0), s.seq, s.payload, now) })
    // RFC 6298 §5.1: start the timer when a segment goes out and it is not running.
    if (this.rtoDeadline === Infinity) this.rtoDeadline = now + this.rto
  }

  private onAck (segment: Segment, now: number, out: ChannelOutput[]): void {
    if (segment.ack > this.nextSeq) return // acks what was never sent: ignore it
    this.peerWindow = segment.window
    let newlyAcked = 0
    if (segment.ack > this.sndUna) {
      while (this.outstanding.length > 0 && (this.outstanding[0] as SentSegment).seq < segment.ack) {
        const s = this.outstanding.shift() as SentSegment
        this.outstandingBytes -= s.payload.byteLength
        if (s.inFlight) this.inFlight--
        if (!s.sacked) {
          newlyAcked++
          this.delivered(s, segment.echo, now)
        }
      }
      this.sndUna = segment.ack
      if (this.finSeq >= 0 && this.sndUna > this.finSeq) this.finAcked = true
      // The path delivers again: drop the timer backoff (RFC 6298 §5.5) now rather than at
      // the next sample. Under Karn's rule a lossy path may give no sample for a long time
      // (everything outstanding was retransmitted), and a stale backoff would stall it.
      this.rto = this.computeRto()
      // RFC 6298 §5.2/5.3: stop the timer when all is acked, restart it on new acks.
      this.rtoDeadline = this.outstanding.length > 0 ? now + this.rto : Infinity
      if (this.fastRecovery && this.sndUna >= this.recoveryPoint) this.fastRecovery = false
    }
    for (const block of segment.sacks) {
      for (const s of this.outstanding) {
        if (s.seq >= block.end) break
        if (s.seq < block.start || s.sacked) continue
        s.sacked = true
        s.lost = false
        if (s.inFlight) {
          s.inFlight = false
          this.inFlight--
        }
        newlyAcked++
        this.delivered(s, segment.echo, now)
      }
    }
    // RFC 7323 §4.1: an ack that acknowledges new data gives an RTT sample from its echo.
    if (newlyAcked > 0 && segment.echo !== 0) {
      this.sampleRtt(elapsed(now, segment.echo))
      this.rto = this.computeRto()
    }
    // RFC 5681 §3.1: slow start below ssthresh, +1/cwnd per ack above; no growth while
    // repairing a loss (RFC 6675 §5).
    if (!this.fastRecovery) {
      for (let i = 0; i < newlyAcked; i++) this.cwnd = Math.min(MAX_CWND, this.cwnd < this.ssthresh ? this.cwnd + 1 : this.cwnd + 1 / this.cwnd)
    }
    this.detectLosses(now)
    if (this.blocked && this.writableBytes() >= this.config.sendBufferBytes / 2) {
      this.blocked = false
      out.push({ kind: 'drained' })
    }
  }

  /** RFC 8985 §6.2 steps 1–3 for a segment newly acknowledged or SACKed. */
  private delivered (s: SentSegment, echo: number, now: number): void {
    if (s.retransmitted && echo !== 0 && before(echo, timestampOf(s.sentAt))) {
      // The ack answers a transmission older than the retransmission: the original got
      // through and the retransmission was spurious (RFC 4015 §2, detection by timestamps).
      this.reorderSeen = true
      this.reoWndMult = Math.min(this.reoWndMult + 1, MAX_REO_WND_MULT)
      if (!this.undone) {
        this.undone = true
        this.cwnd = Math.max(this.cwnd, this.priorCwnd)
        this.ssthresh = Math.max(this.ssthresh, this.priorSsthresh)
        this.fastRecovery = false
      }
      return
    }
    const rtt = now - s.sentAt
    if (!s.retransmitted) this.minRtt = Math.min(this.minRtt, rtt)
    if (s.txOrder > this.rackTxOrder) {
      this.rackTxOrder = s.txOrder
      this.rackRtt = rtt
    }
    // Step 3: a segment never retransmitted that arrives below one delivered before it
    // was reordered.
    if (s.seq < this.highestDelivered && !s.retransmitted) this.reorderSeen = true
    this.highestDelivered = Math.max(this.highestDelivered, s.seq)
  }

  /** RFC 8985 §6.2 step 4: the reordering window. */
  private reorderWindow (): number {
    if (!this.reorderSeen) {
      if (this.fastRecovery) return 0
      let sacked = 0
      for (const s of this.outstanding) if (s.sacked) sacked++
      if (sacked >= DUP_THRESH) return 0
    }
    const base = Number.isFinite(this.minRtt) ? this.minRtt : (this.srtt ?? 0)
    return Math.min(this.reoWndMult * base / 4, this.srtt ?? Infinity)
  }

  /**
   * RFC 8985 §6.2 step 5: a segment sent before the latest delivered one is lost once
   * RACK.rtt + reo_wnd has passed since it was sent; the earliest pending such moment is
   * the reorder timer (§6.3).
   */
  private detectLosses (now: number): void {
    this.reorderDeadline = Infinity
    if (this.rackTxOrder === 0) return
    const window = this.reorderWindow()
    let newLoss = false
    const pipe = this.inFlight
    for (const s of this.outstanding) {
      if (s.sacked || s.lost || s.txOrder >= this.rackTxOrder) continue
      const due = s.sentAt + this.rackRtt + window
      if (now < due) {
        this.reorderDeadline = Math.min(this.reorderDeadline, due)
        continue
      }
      s.lost = true
      if (s.inFlight) {
        s.inFlight = false
        this.inFlight--
      }
      if (!this.fastRecovery || s.seq >= this.recoveryPoint) newLoss = true
    }
    if (newLoss) {
      // RFC 5681 §3.2 step 2 / RFC 6675 §5: halve once per loss episode.
      this.priorCwnd = this.cwnd
      this.priorSsthresh = this.ssthresh
      this.undone = false
      this.ssthresh = Math.max(pipe / 2, 2)
      this.cwnd = this.ssthresh
      this.fastRecovery = true
      this.recoveryPoint = this.nextSeq
    }
  }

  private onRetransmissionTimeout (now: number, out: ChannelOutput[]): void {
    // RFC 5681 §3.1 (eq. 4): ssthresh = max(FlightSize/2, 2); cwnd = 1 (loss window).
    this.ssthresh = Math.max(this.inFlight / 2, 2)
    this.cwnd = 1
    this.fastRecovery = false
    this.undone = true
    this.recoveryPoint = this.nextSeq
    // RFC 6675 §5.1: after a timeout everything not SACKed is considered lost.
    for (const s of this.outstanding) {
      if (s.sacked) continue
      s.lost = true
      if (s.inFlight) {
        s.inFlight = false
        this.inFlight--
      }
    }
    // RFC 6298 §5.5–5.6: back off the timer, restart it, retransmit the earliest segment.
    this.rto = Math.min(this.rto * 2, this.maxRto)
    this.rtoDeadline = Infinity
    this.trySend(now, out)
    if (this.rtoDeadline === Infinity) this.rtoDeadline = now + this.rto
  }

  private sampleRtt (r: number): void {
    // RFC 6298 §2.2 (first sample) and §2.3 (later samples), α = 1/8, β = 1/4.
    if (this.srtt === null) {
      this.srtt = r
      this.rttvar = r / 2
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r)
      this.srtt = 0.875 * this.srtt + 0.125 * r
    }
  }

  private computeRto (): number {
    if (this.srtt === null) return Math.min(this.config.initialRtoMs, this.maxRto)
    const rto = this.srtt + Math.max(CLOCK_GRANULARITY_MS, 4 * this.rttvar)
    return Math.min(this.maxRto, Math.max(this.config.minRtoMs, rto))
  }

  // ---- receiving side ----

  private window (): number {
    return Math.max(0, this.config.receiveWindowSegments - this.held.length)
  }

  private onData (segment: Segment, now: number, out: ChannelOutput[]): void {
    this.counters.segmentsReceived++
    const seq = segment.seq
    const fin = (segment.flags & FLAG_FIN) !== 0
    if (seq < this.rcvNext || this.remoteEnded || seq >= this.rcvNext + this.window()) {
      // A duplicate, or beyond the window (a probe): ack at once so the sender learns.
      this.counters.duplicatesReceived++
      this.sendAck(now, out)
      return
    }
    if (seq !== this.rcvNext) {
      if (this.outOfOrder.has(seq)) this.counters.duplicatesReceived++
      else this.outOfOrder.set(seq, { payload: segment.payload, fin })
      this.lastOutOfOrder = seq
      this.sendAck(now, out)
      return
    }
    this.deliver(segment.payload, fin, out)
    const filledHole = this.outOfOrder.size > 0
    for (let next = this.outOfOrder.get(this.rcvNext); next !== undefined; next = this.outOfOrder.get(this.rcvNext)) {
      this.outOfOrder.delete(this.rcvNext)
      this.deliver(next.payload, next.fin, out)
    }
    this.unackedReceived++
    // RFC 5681 §4.2: ack at least every second full segment, and at once when a hole fills.
    if (filledHole || this.unackedReceived >= 2 || fin) this.sendAck(now, out)
    else if (this.delayedAckDeadline === Infinity) this.delayedAckDeadline = now + this.config.delayedAckMs
  }

  private deliver (payload: Uint8Array, fin: boolean, out: ChannelOutput[]): void {
    this.rcvNext++
    if (payload.byteLength > 0) {
      if (this.reading) out.push({ kind: 'data', bytes: payload })
      else this.held.push(payload)
    }
    if (fin) {
      this.remoteEnded = true
      this.outOfOrder.clear()
      if (this.reading) out.push({ kind: 'end' })
      else this.endHeld = true
    }
  }

  private sackBlocks (): SackBlock[] {
    if (this.outOfOrder.size === 0) return []
    const seqs = [...this.outOfOrder.keys()].sort((a, b) => a - b)
    const blocks: SackBlock[] = []
    for (const seq of seqs) {
      const last = blocks[blocks.length - 1]
      if (last !== undefined && last.end === seq) last.end = seq + 1
      else blocks.push({ start: seq, end: seq + 1 })
    }
    // RFC 2018 §4: the first block reports the most recently received segment.
    const recent = blocks.findIndex((b) => b.start <= this.lastOutOfOrder && this.lastOutOfOrder < b.end)
    if (recent > 0) blocks.unshift(...blocks.splice(recent, 1))
    return blocks.slice(0, MAX_SACK_BLOCKS)
  }

  // ---- shared ----

  private encode (flags: number, seq: number, payload: Uint8Array, now: number): Uint8Array {
    const window = this.window()
    this.lastAdvertised = window
    // Every segment carries the current ack: a pending delayed ack rides along.
    this.unackedReceived = 0
    this.delayedAckDeadline = Infinity
    return encodeSegment({
      flags: flags | (this.initiator ? FLAG_INIT : 0),
      connectionId: this.connectionId,
      seq,
      ack: this.rcvNext,
      window,
      timestamp: timestampOf(now),
      echo: this.echo,
      sacks: (flags & FLAG_ACK) !== 0 ? this.sackBlocks() : [],
      payload
    })
  }

  private sendAck (now: number, out: ChannelOutput[]): void {
    out.push({ kind: 'send', datagram: this.encode(FLAG_ACK, this.nextSeq, new Uint8Array(0), now) })
  }

  private sendControl (flags: number, now: number, out: ChannelOutput[]): void {
    out.push({ kind: 'send', datagram: this.encode(flags, this.nextSeq, new Uint8Array(0), now) })
  }

  private timeoutDeadline (): number {
    return this.lastHeard + (this.outstanding.length > 0 ? this.config.responseTimeoutMs : this.config.idleTimeoutMs)
  }

  /** Both FINs delivered and acknowledged: closed cleanly; linger to re-ack. */
  private maybeFinish (now: number, out: ChannelOutput[]): void {
    if (this.state !== 'open' || !this.finAcked || !this.remoteEnded || this.endHeld) return
    this.state = 'time-wait'
    // TIME-WAIT (RFC 9293 §3.6.1) lasts as long as the peer may still retransmit its FIN
    // because our ack of it was lost: a few of its RTOs, ours standing in for its own.
    this.lingerUntil = now + Math.max(this.config.lingerMs, 4 * this.rto)
    if (this.delayedAckDeadline !== Infinity) this.sendAck(now, out)
    this.release()
    out.push({ kind: 'closed' })
  }

  private fail (error: MeshError, sendReset: boolean, now: number, out: ChannelOutput[]): void {
    if (sendReset) this.sendControl(FLAG_RST, now, out)
    this.state = 'closed'
    this.release()
    out.push({ kind: 'closed', error })
  }

  private release (): void {
    this.queue.length = 0
    this.queuedBytes = 0
    this.outstanding.length = 0
    this.outstandingBytes = 0
    this.inFlight = 0
    this.outOfOrder.clear()
    this.held.length = 0
  }
}

/** The segment timestamp for `now`: ms mod 2^32, never 0 (0 means "no echo"). */
function timestampOf (now: number): number {
  return (Math.floor(now) >>> 0) || 1
}

/** Milliseconds from an echoed timestamp to `now`, modulo 2^32. */
function elapsed (now: number, timestamp: number): number {
  return ((timestampOf(now) - timestamp) >>> 0)
}

/** Whether timestamp `a` is before `b`, modulo 2^32 (RFC 7323 §5.2's comparison). */
function before (a: number, b: number): boolean {
  const d = (b - a) >>> 0
  return d !== 0 && d < 0x8000_0000
}
