// Two LineChannels piped into each other in memory (hypercore's `pipe(a, b)`), with a
// network the test drives by hand: deliver any in-flight message (reorders), duplicate
// it, drop it, replay any message ever sent, crash a side and restart it from what it
// persisted. The harness plays the shell faithfully: it acts on outputs in order and a
// `persist` is stored before the outputs after it are acted on.

import { createHash, randomBytes as nodeRandomBytes } from 'node:crypto'
import { generateIdentity } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { encodeCanonical } from '../../src/core/encoding.ts'
import { LineChannel, decodeLineMessage, lineChangeValue } from '../../src/apps/credit/line-channel.ts'
import type { LineAttachment, LineChannelOptions, LineCommit, LineMessage, LineOutput, LineParty } from '../../src/apps/credit/line-channel.ts'
import type { LineChange, SignedLineState } from '../../src/apps/credit/line.ts'

export const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n))

export function sha256 (b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest())
}

/** A change and its attachment as one comparable string. */
export function itemKey (change: LineChange, attachment: LineAttachment): string {
  return Buffer.from(encodeCanonical([lineChangeValue(change), attachment])).toString('hex')
}

export interface Wire {
  to: PipeSide
  bytes: Uint8Array
}

export class PipeSide {
  readonly name: string
  readonly identity: Identity
  readonly party: LineParty
  peer!: PipeSide
  channel: LineChannel | null = null
  /** What the shell wrote last (the whole of what a restart gets). */
  stored: { signed: SignedLineState | null, proposal: Uint8Array | null } | null = null
  /** Every commit reported, by seq (across restarts). */
  readonly commits = new Map<number, LineCommit>()
  /** Commits reported twice for one seq (must stay empty). */
  readonly doubleReports: number[] = []
  /** Changes queued since the start, by key → how many times. */
  readonly enqueued = new Map<string, number>()
  readonly committedMine = new Map<string, number>()
  readonly refusedMine = new Map<string, number>()
  /** Changes lost in a crash (queued, never proposed, never persisted). */
  readonly lost = new Map<string, number>()
  readonly resynced: Array<{ from: number, to: number }> = []
  readonly rejected: string[] = []
  readonly stalled: number[] = []
  /** The outputs of every message received, for tests that look at one exchange. */
  lastOutputs: LineOutput[] = []
  opener = false
  options: LineChannelOptions

  constructor (name: string, options: LineChannelOptions, identity = generateIdentity(), account = randomBytes(32)) {
    this.name = name
    this.identity = identity
    this.party = { account, device: identity.publicKey }
    this.options = options
  }
}

export class LinePipe {
  readonly x: PipeSide
  readonly y: PipeSide
  readonly unit: string
  /** In flight, in send order. */
  inFlight: Wire[] = []
  /** Every message ever sent (for replays). */
  readonly history: Wire[] = []
  now: number

  /** `xIsA`: whether the opener x is side a of the line (else b); random when not given. */
  constructor (options: LineChannelOptions = {}, unit = 'USD', now = 1_800_000_000_000, xIsA?: boolean) {
    let [ax, ay] = [randomBytes(32), randomBytes(32)]
    if (xIsA !== undefined && (Buffer.compare(ax, ay) < 0) !== xIsA) [ax, ay] = [ay, ax]
    this.x = new PipeSide('x', options, generateIdentity(), ax)
    this.y = new PipeSide('y', options, generateIdentity(), ay)
    this.x.peer = this.y
    this.y.peer = this.x
    this.unit = unit
    this.now = now
    // x opens the line.
    this.x.opener = true
    this.x.channel = LineChannel.open({ self: this.x.party, peer: this.y.party, unit, signer: this.x.identity, options })
  }

  /** The side of the line (`a` or `b`) each pipe side is. */
  sideOf (p: PipeSide): 'a' | 'b' {
    return Buffer.compare(p.party.account, p.peer.party.account) < 0 ? 'a' : 'b'
  }

  enqueue (p: PipeSide, change: LineChange, attachment: LineAttachment = null): LineOutput[] {
    const c = this.#channelFor(p)
    bump(p.enqueued, itemKey(change, attachment))
    const out = c.enqueue(change, attachment, this.now)
    this.act(p, out)
    return out
  }

  /** Delivers the in-flight message at `index` (removing it); returns the receiver's outputs. */
  deliver (index = 0): LineOutput[] {
    const [w] = this.inFlight.splice(index, 1)
    if (w === undefined) return []
    return this.receive(w.to, w.bytes)
  }

  /** Hands `bytes` to `to` as its shell would: decode, find or create the line, receive. */
  receive (to: PipeSide, bytes: Uint8Array): LineOutput[] {
    let m: LineMessage
    try {
      m = decodeLineMessage(bytes)
    } catch (err) {
      to.rejected.push(`malformed: ${(err as Error).message}`)
      to.lastOutputs = []
      return []
    }
    if (to.channel === null) {
      try {
        to.channel = LineChannel.fromOpen(m, { self: to.party, peer: to.peer.party, signer: to.identity, options: to.options })
      } catch (err) {
        to.rejected.push(`no line: ${(err as Error).message}`)
        to.lastOutputs = []
        return []
      }
    }
    const out = to.channel.receive(m, this.now)
    to.lastOutputs = out
    this.act(to, out)
    return out
  }

  duplicate (index: number): void {
    const w = this.inFlight[index]
    if (w !== undefined) this.inFlight.push({ ...w })
  }

  drop (index: number): void {
    this.inFlight.splice(index, 1)
  }

  tick (p: PipeSide): void {
    if (p.channel !== null) this.act(p, p.channel.tick(this.now))
  }

  connect (p: PipeSide): void {
    if (p.channel !== null) this.act(p, p.channel.connect(this.now))
  }

  /** Kills `p` (in-memory state gone, messages to it in flight stay) and restarts it from what it stored. */
  crash (p: PipeSide): void {
    const c = p.channel
    if (c !== null) {
      // What the side had queued but not persisted in a proposal is lost with it; count it.
      const promised = new Map<string, number>()
      if (p.stored?.proposal != null) {
        const m = decodeLineMessage(p.stored.proposal)
        if (m.type === 'propose') m.changes.forEach((ch, i) => { bump(promised, itemKey(ch, m.attachments[i] ?? null)) })
      }
      for (const [k, n] of p.enqueued) {
        const open = n - (p.committedMine.get(k) ?? 0) - (p.refusedMine.get(k) ?? 0) - (p.lost.get(k) ?? 0) - (promised.get(k) ?? 0)
        if (open > 0) p.lost.set(k, (p.lost.get(k) ?? 0) + open)
      }
    }
    const s = p.stored
    if (s === null) {
      p.channel = p.opener ? LineChannel.open({ self: p.party, peer: p.peer.party, unit: this.unit, signer: p.identity, options: p.options }) : null
    } else {
      p.channel = LineChannel.restore({ self: p.party, peerAccount: p.peer.party.account, signer: p.identity, signed: s.signed, proposal: s.proposal, options: p.options })
    }
  }

  /** Plays the shell: outputs in order; persist is stored before the sends after it. */
  act (p: PipeSide, out: LineOutput[]): void {
    for (const o of out) {
      switch (o.do) {
        case 'persist':
          p.stored = { signed: o.signed, proposal: o.proposal }
          break
        case 'send': {
          const w = { to: p.peer, bytes: o.bytes }
          this.inFlight.push(w)
          this.history.push(w)
          break
        }
        case 'committed': {
          if (p.commits.has(o.commit.seq)) p.doubleReports.push(o.commit.seq)
          p.commits.set(o.commit.seq, o.commit)
          if (o.commit.proposer === this.sideOf(p)) o.commit.changes.forEach((ch, i) => { bump(p.committedMine, itemKey(ch, o.commit.attachments[i] ?? null)) })
          break
        }
        case 'refused':
          bump(p.refusedMine, itemKey(o.change, o.attachment))
          break
        case 'resynced':
          p.resynced.push({ from: o.from, to: o.to })
          break
        case 'rejected':
          p.rejected.push(o.reason)
          break
        case 'stalled':
          p.stalled.push(o.seq)
          break
      }
    }
  }

  /**
   * Heals the network and runs to quiescence: both sides reconnect, every message is
   * delivered in order, time moves to the next timer when nothing is in flight. Returns
   * false if it did not settle within `maxSteps`.
   */
  settle (maxSteps = 10_000): boolean {
    this.connect(this.x)
    this.connect(this.y)
    for (let i = 0; i < maxSteps; i++) {
      if (this.inFlight.length > 0) {
        this.deliver(0)
        continue
      }
      const deadlines = [this.x, this.y].map((p) => p.channel?.nextDeadline() ?? null).filter((d): d is number => d !== null)
      const busy = [this.x, this.y].some((p) => p.channel !== null && (p.channel.queued > 0 || p.channel.inFlight > 0))
      if (deadlines.length === 0 && !busy) return true
      if (deadlines.length === 0) {
        // Stalled proposals wait for a reconnect.
        this.connect(this.x)
        this.connect(this.y)
        continue
      }
      this.now = Math.max(this.now, Math.min(...deadlines))
      this.tick(this.x)
      this.tick(this.y)
    }
    return false
  }

  #channelFor (p: PipeSide): LineChannel {
    if (p.channel === null) throw new Error(`${p.name} has no line yet`)
    return p.channel
  }
}

function bump (m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1)
}
