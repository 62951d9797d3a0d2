// What the router knows about one link from hellos and IHUs: the hello history (RFC 8966
// Appendix A.1), the costs each way, and the round-trip time. The link's cost is ETX as
// in RFC 8966 Appendix A.2.2, plus an RTT term as in the Babel RTT extension draft
// (draft-ietf-babel-rtt-extension §4).

import { INFINITY } from './control-messages.ts'

export interface LinkCostParams {
  /**
   * Cost of a perfect link. The RFC's examples use 256; a smaller unit lets the u16
   * metric span more hops (65535 / 64 ≈ 1000 hops) in very large meshes.
   */
  nominalCost: number
  /** Consecutive missed hellos after which the link counts as down. */
  deadAfterMisses: number
  /** RTT draft §4.1: below rttMinMs no penalty, above rttMaxMs the full maxRttPenalty. */
  rttMinMs: number
  rttMaxMs: number
  maxRttPenalty: number
}

const HISTORY_BITS = 16

const seqnoDiff = (a: number, b: number): number => ((a - b) & 0xffff)

export class LinkQuality {
  /** Hello history, newest in bit 0 (A.1), and how many of its bits are meaningful. */
  private history = 0
  private historyLength = 0
  private lastSeqno = -1
  /** When the neighbour's next hello is overdue, or Infinity before the first. */
  helloDueAt = Infinity
  /** The neighbour's announced hello interval. */
  peerIntervalMs = 0
  /** Trailing missed hellos (the newest bits of the history that are 0). */
  misses = 0
  /** Cost the neighbour reported for receiving us (IHU rxcost), and until when it holds. */
  private txcost = INFINITY
  private ihuExpiresAt = -Infinity
  /** Smoothed RTT in ms, or NaN before the first sample. */
  rttMs = Number.NaN

  /**
   * A hello with `seqno` arrived (A.1). Returns false when it was a duplicate or came out
   * of order and changed nothing.
   */
  onHello (seqno: number, intervalMs: number, now: number): boolean {
    if (this.lastSeqno >= 0) {
      const d = seqnoDiff(seqno, this.lastSeqno)
      if (d === 0) return false
      if (d > 0x8000) {
        // Behind what we saw: a restarted neighbour (A.1 resets the history) unless it is
        // just a reordered old hello, which we ignore.
        if (0x10000 - d <= HISTORY_BITS) return false
        this.history = 0; this.historyLength = 0
      } else if (d > HISTORY_BITS) {
        this.history = 0; this.historyLength = 0
      } else {
        // Hellos between lastSeqno and seqno were lost. The timer may already have
        // counted some as missed, or counted this very hello, which was only late: undo
        // the surplus, add what it did not count.
        const excess = this.misses - (d - 1)
        if (excess > 0) {
          this.history >>>= excess
          this.historyLength = Math.max(0, this.historyLength - excess)
        } else {
          this.shift(-excess, 0)
        }
      }
    }
    this.shift(1, 1)
    this.lastSeqno = seqno
    this.misses = 0
    this.peerIntervalMs = intervalMs
    // A.1: a hello is missed when the interval passes with some slack.
    this.helloDueAt = intervalMs > 0 ? now + intervalMs * 1.5 : Infinity
    return true
  }

  /** The timer says a hello is overdue: count it missed (A.1) and expect the next. */
  onHelloMissed (now: number): void {
    this.shift(1, 0)
    this.misses++
    // Once the whole history is misses there is nothing left to count: stop the timer
    // (a hello from the neighbour starts it again).
    this.helloDueAt = this.peerIntervalMs > 0 && this.misses < HISTORY_BITS ? now + this.peerIntervalMs : Infinity
  }

  /** An IHU arrived (RFC 8966 §3.4.2): its rxcost is our txcost; it holds for 3.5 intervals. */
  onIhu (rxcost: number, intervalMs: number, now: number): void {
    this.txcost = rxcost
    this.ihuExpiresAt = now + Math.max(intervalMs, 1000) * 3.5
  }

  /**
   * An RTT sample from an echoed hello timestamp (RTT draft §3.3): now − origin − time
   * the neighbour held it. Samples that are negative or absurd (clock wrap, reordering)
   * are dropped; the rest are smoothed exponentially as babeld does.
   */
  onEcho (origin: number, heldMs: number, now: number): void {
    const sample = ((now >>> 0) - origin) >>> 0
    const rtt = sample - heldMs
    if (sample > 0x7fffffff || rtt < 0 || rtt > 600_000) return
    this.rttMs = Number.isNaN(this.rttMs) ? rtt : this.rttMs * 0.8 + rtt * 0.2
  }

  /**
   * Our rxcost for this neighbour (A.2.2): nominal / beta, beta the share of recent hellos
   * received; infinite once `deadAfterMisses` hellos in a row were missed.
   */
  rxcost (p: LinkCostParams): number {
    if (this.historyLength === 0 || this.misses >= p.deadAfterMisses) return INFINITY
    const received = popcount(this.history)
    if (received === 0) return INFINITY
    return Math.min(INFINITY - 1, Math.round(p.nominalCost * this.historyLength / received))
  }

  /** Link cost (A.2.2 ETX, then the RTT draft's additive term), INFINITY if unusable. */
  cost (p: LinkCostParams, now: number): number {
    const rx = this.rxcost(p)
    const tx = now < this.ihuExpiresAt ? this.txcost : INFINITY
    if (rx >= INFINITY || tx >= INFINITY) return INFINITY
    // cost = nominal / (alpha·beta) with alpha = min(1, nominal/txcost), beta = min(1, nominal/rxcost).
    const alpha = Math.min(1, p.nominalCost / Math.max(1, tx))
    const beta = Math.min(1, p.nominalCost / rx)
    const etx = p.nominalCost / (alpha * beta)
    return Math.min(INFINITY - 1, Math.round(etx + rttPenalty(this.rttMs, p)))
  }

  /** Share of the last hellos lost, 0..1 (for views). */
  loss (): number {
    if (this.historyLength === 0) return 1
    return 1 - popcount(this.history) / this.historyLength
  }

  /** Whether at least one hello was heard and the link is not counted down. */
  heard (): boolean { return this.historyLength > 0 }

  private shift (n: number, bit: 0 | 1): void {
    for (let i = 0; i < n; i++) {
      this.history = ((this.history << 1) | bit) & ((1 << HISTORY_BITS) - 1)
      if (this.historyLength < HISTORY_BITS) this.historyLength++
    }
  }
}

/** RTT draft §4.1: 0 up to rttMin, maxRttPenalty from rttMax, linear between. */
export function rttPenalty (rttMs: number, p: LinkCostParams): number {
  if (Number.isNaN(rttMs) || rttMs <= p.rttMinMs) return 0
  if (rttMs >= p.rttMaxMs) return p.maxRttPenalty
  return p.maxRttPenalty * (rttMs - p.rttMinMs) / (p.rttMaxMs - p.rttMinMs)
}

function popcount (x: number): number {
  let n = 0
  for (let v = x; v !== 0; v &= v - 1) n++
  return n
}
