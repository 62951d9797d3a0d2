// Control traffic on a link is paced to a share of what the link carries, so routing
// never crowds out data on a slow link (a LoRa radio moves a few hundred bytes a
// second). A token bucket per link: packets wait in a short queue when the bucket is
// empty, and the oldest are dropped when the queue is full — a newer update supersedes
// an older one, and Babel recovers from lost control packets by design (RFC 8966 §3.1).
// Pure: the shell asks when to come back and calls `drain` then.

/** Share of a link's bitrate control traffic may use. */
export const CONTROL_SHARE = 0.1
const QUEUE_PACKETS = 32

export class ControlPacer {
  private tokens: number
  private last: number
  private readonly rate: number
  private readonly burst: number
  private readonly queue: Uint8Array[] = []
  dropped = 0

  /** `bitrate` in bytes per second; `burst` in bytes (at least one full frame). */
  constructor (bitrate: number, burst: number, now: number) {
    this.rate = Math.max(1, bitrate * CONTROL_SHARE) / 1000
    this.burst = Math.max(burst, 1)
    this.tokens = this.burst
    this.last = now
  }

  /** Queues a packet; returns the packets that may go now. */
  offer (packet: Uint8Array, now: number): Uint8Array[] {
    this.queue.push(packet)
    if (this.queue.length > QUEUE_PACKETS) {
      this.queue.shift()
      this.dropped++
    }
    return this.drain(now)
  }

  drain (now: number): Uint8Array[] {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.rate)
    this.last = now
    const out: Uint8Array[] = []
    for (;;) {
      const next = this.queue[0]
      if (next === undefined || (next.byteLength > this.tokens && this.tokens < this.burst)) break
      this.queue.shift()
      this.tokens -= next.byteLength
      out.push(next)
    }
    return out
  }

  /** When the next queued packet may go, or Infinity when the queue is empty. */
  nextDeadline (): number {
    const next = this.queue[0]
    if (next === undefined) return Infinity
    const need = Math.min(next.byteLength, this.burst) - this.tokens
    return this.last + Math.max(0, Math.ceil(need / this.rate))
  }

  get queued (): number {
    return this.queue.length
  }
}
