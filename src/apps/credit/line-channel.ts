// LineChannel: the two-party update protocol of one trust line, sans-IO. Each side holds
// one channel per line; the shell feeds it what happens (a change to queue, a message
// from the peer, a timer, a reconnect) and carries out what it returns, in order:
// persist (durably, before anything after it), send, and the events committed / refused.
//
// Protocol (issue 6, the credit design note, part 1):
//   propose {line, base, open?, changes, attachments, sig}
//     the proposer's changes on top of the state `base`, and its signature over the
//     state that results; the receiver recomputes that state with `applyChanges` on its
//     own copy (no state on the wire). `open` only on base 0, so the receiver can create
//     its copy of a new line.
//   accept {line, seq, sig}    the receiver's countersignature: the state is committed.
//   refuse {line, seq, proposal, index, reason}
//     the proposal (named by the digest of its encoding) breaks a rule; `index` names the change at
//     fault (null: the proposal as a whole). The proposer reports that change refused and
//     proposes the rest again.
//   sync {line, signed}        the newest state both sides signed, sent on (re)connect;
//     the side behind adopts a verified newer one; the side ahead answers an older one
//     with its own.
//
// Rules: one outstanding proposal per side; changes queued meanwhile go out as one batch
// (one signature each way per batch, not per payment: how one route reaches 1,000
// payments/s). Both sides proposing on the same base is a collision: side a's proposal
// wins, b drops its own, accepts a's and proposes its changes again on the new base. Side
// a then lets b's re-proposal go first (for a bounded time), so b is not starved when
// both sides keep proposing. Durability: a side persists its own proposal before sending
// it, the receiver persists the countersigned state before its accept leaves, and the
// proposer persists when the accept arrives; so after a crash each side restarts from
// what it persisted and the pair converges (sync, re-sent proposals, re-sent accepts).

import { createHash } from 'node:crypto'
import { bytesEqual, decodeCanonical, encodeCanonical } from '../../core/encoding.ts'
import type { CanonicalValue } from '../../core/encoding.ts'
import type { Identity } from '../../core/identity.ts'
import { MAX_AMOUNT, checkUnit } from './amount.ts'
import { InvalidLineStateError, LineRuleError } from './errors.ts'
import {
  applyChanges, checkSignedLineState, decodeLineState, lineId, lineStateHash, lineStateValue,
  openLine, other, proposerField, signLineState, supersedes, verifyLineSignature
} from './line.ts'
import type { Hold, LineChange, LineState, Side, SignRole, SignedLineState } from './line.ts'

/** Wire version of the line messages; a reader refuses others (a later version adds a new number, old readers keep working on 1). */
export const LINE_MESSAGE_VERSION = 2

/** At most this many changes in one proposal (a receiver refuses more as malformed). */
export const MAX_PROPOSAL_CHANGES = 1024

/** A refusal's reason is cut to this many characters. */
export const MAX_REASON_LENGTH = 300

/** What a new line's first proposal carries so the other side can create its copy. */
export interface LineOpen {
  unit: string
  deviceA: Uint8Array
  deviceB: Uint8Array
}

/** One opaque value per change (for a hold: the ILP prepare and its route; for a settle: the ILP fulfill; for a release: the ILP reject), or null. */
export type LineAttachment = CanonicalValue

export interface ProposeMessage {
  type: 'propose'
  line: Uint8Array
  /** The seq of the state the changes apply to; the result has seq `base + 1`. */
  base: number
  /** Only (and always) when `base` is 0. */
  open: LineOpen | null
  changes: LineChange[]
  /** As many as `changes`. */
  attachments: LineAttachment[]
  /** The proposer's holder device's signature over the resulting state. */
  sig: Uint8Array
}

export interface AcceptMessage {
  type: 'accept'
  line: Uint8Array
  seq: number
  /** The receiver's holder device's signature over the state `seq`. */
  sig: Uint8Array
}

export interface RefuseMessage {
  type: 'refuse'
  line: Uint8Array
  /** The seq the refused proposal would have made. */
  seq: number
  /**
   * SHA-256 of the refused proposal's encoding: which proposal this answers (one re-made
   * on the same base differs; a damaged copy of a good proposal is refused under its own
   * digest, so the proposer does not drop the good one).
   */
  proposal: Uint8Array
  /** The change at fault, or null when the proposal as a whole is refused. */
  index: number | null
  reason: string
}

export interface SyncMessage {
  type: 'sync'
  line: Uint8Array
  signed: SignedLineState
}

export type LineMessage = ProposeMessage | AcceptMessage | RefuseMessage | SyncMessage

/** A committed update as both sides report it. */
export interface LineCommit {
  /** The new state's seq. */
  seq: number
  proposer: Side
  changes: LineChange[]
  attachments: LineAttachment[]
}

/**
 * What the shell must do, in the order given. A `persist` must be durable before any
 * later output is acted on (above all before a `send`): it is the whole of what the
 * channel needs to restart (`LineChannel.restore`), so write it in one transaction.
 */
export type LineOutput =
  /**
   * Write the line's newest both-signed state (null before the first commit) and this
   * side's outstanding proposal (the encoded propose message, or null: none), replacing
   * what was stored. `commit` is the update that became committed with this write, if any
   * (the shell may keep it as history); `committed` follows.
   */
  | { do: 'persist', line: Uint8Array, signed: SignedLineState | null, proposal: Uint8Array | null, commit: LineCommit | null }
  /** Send these bytes (the encoded `message`) to the peer's holder device. */
  | { do: 'send', message: LineMessage, bytes: Uint8Array }
  /** A new state is committed (signed by both sides): tell the payment engine. */
  | { do: 'committed', commit: LineCommit, state: LineState }
  /** One of this side's queued changes will not be made: it broke a rule here, or the peer refused it. */
  | { do: 'refused', change: LineChange, attachment: LineAttachment, reason: string }
  /**
   * The peer's newer state was adopted without its changes being known here (this side
   * had lost state, e.g. restored from an old backup): the engine should re-read the
   * line. States `from`+1 … `to` are not reported as commits.
   */
  | { do: 'resynced', from: number, to: number, state: LineState }
  /** A message from the peer was dropped as forged, malformed or for another line (for logs and peer scoring). */
  | { do: 'rejected', reason: string }
  /** The outstanding proposal went unanswered after every re-send; the channel waits for `connect`. */
  | { do: 'stalled', seq: number }

/** Signs a state as this side's holder device, as a proposal or an acceptance: the device's identity, or a function that signs with it (`signLineState`). */
export type LineSigner = Identity | ((state: LineState, role: SignRole) => Uint8Array)

/** One side of a line: the account and its holder device (the device's public key). */
export interface LineParty {
  account: Uint8Array
  device: Uint8Array
}

export interface LineChannelOptions {
  /** Re-send an unanswered proposal after this long (doubling each time). Default 1,000 ms. */
  resendAfterMs?: number
  /** Re-send at most this many times, then report `stalled` and wait for `connect`. Default 5. */
  maxResends?: number
  /** At most this many changes per proposal. Default 512. */
  maxBatch?: number
  /** Stop filling a proposal once its attachments and changes reach about this many bytes. Default 256 KiB. */
  maxBatchBytes?: number
  /** How long side a waits for b's re-proposal after a collision before proposing again itself. Default 100 ms. */
  yieldMs?: number
}

export interface LineChannelInit {
  self: LineParty
  signer: LineSigner
  options?: LineChannelOptions
}

interface Item {
  change: LineChange
  attachment: LineAttachment
}

/** This side's outstanding proposal. */
interface Outgoing {
  message: ProposeMessage
  bytes: Uint8Array
  /** `proposalDigest(bytes)`: what a refusal of it names. */
  digest: Uint8Array
  /** The state it makes (seq `base + 1`), signed by this side. */
  state: LineState
  items: Item[]
  /** When it was last sent (ms); a restored one is due at once. */
  sentAt: number
  /** Re-sends since the last `connect` (or the first send). */
  resends: number
  stalled: boolean
}

/** At most this many refusals are remembered per base, so a duplicate of a refused proposal is refused again rather than re-judged later. */
const MAX_REMEMBERED_REFUSALS = 64

export class LineChannel {
  readonly #side: Side
  readonly #peerSide: Side
  readonly #sign: (state: LineState, role: SignRole) => Uint8Array
  readonly #resendAfterMs: number
  readonly #maxResends: number
  readonly #maxBatch: number
  readonly #maxBatchBytes: number
  readonly #yieldMs: number
  readonly #line: Uint8Array
  /** The newest committed state (seq 0 before the first commit). */
  #state: LineState
  #signed: SignedLineState | null
  #queue: Item[] = []
  #outgoing: Outgoing | null = null
  /** Side a ignored b's proposal on the current base (a collision): b will propose again once a's commits. */
  #peerWaiting = false
  /** Side a lets b's re-proposal go first until this time (ms), or null. */
  #yieldUntil: number | null = null
  /** Refusals sent on the current base, by the refused proposal's digest (hex): a duplicate gets the same answer. */
  #refusals = new Map<string, Uint8Array>()

  private constructor (init: LineChannelInit, state: LineState, signed: SignedLineState | null) {
    const side = sideOfParty(state, init.self)
    this.#side = side
    this.#peerSide = other(side)
    const signer = init.signer
    this.#sign = typeof signer === 'function' ? signer : (s, role) => signLineState(signer, s, role)
    const o = init.options ?? {}
    this.#resendAfterMs = positive(o.resendAfterMs ?? 1_000, 'resendAfterMs')
    this.#maxResends = nonNegative(o.maxResends ?? 5, 'maxResends')
    this.#maxBatch = positive(o.maxBatch ?? 512, 'maxBatch')
    if (this.#maxBatch > MAX_PROPOSAL_CHANGES) throw new RangeError(`LineChannel option maxBatch is at most ${MAX_PROPOSAL_CHANGES}`)
    this.#maxBatchBytes = positive(o.maxBatchBytes ?? 256 * 1024, 'maxBatchBytes')
    this.#yieldMs = nonNegative(o.yieldMs ?? 100, 'yieldMs')
    this.#line = lineId(state.a, state.b, state.unit)
    this.#state = state
    this.#signed = signed
  }

  /**
   * A new line this side opens with `peer` (seq 0, no credit either way). Nothing is sent
   * until the first change is queued (typically this side's credit limit); that first
   * proposal carries `open`.
   */
  static open (init: LineChannelInit & { peer: LineParty, unit: string }): LineChannel {
    checkUnit(init.unit)
    return new LineChannel(init, openLine(init.self, init.peer, init.unit), null)
  }

  /**
   * This side's copy of a line the peer opens: `message` is its first proposal (base 0,
   * with `open`) and `peer` who sent it, as the transport authenticated it. Checks that
   * the line id is the one of these two accounts and that unit, and that the devices named
   * are this side's own and the sender's. Throws InvalidLineStateError if not. Then pass
   * the message to `receive` (which may still refuse its changes).
   */
  static fromOpen (message: LineMessage, init: LineChannelInit & { peer: LineParty }): LineChannel {
    if (message.type !== 'propose' || message.base !== 0 || message.open === null) throw new InvalidLineStateError('only a proposal on base 0 with "open" creates a line')
    const open = message.open
    checkUnit(open.unit)
    if (!bytesEqual(lineId(init.self.account, init.peer.account, open.unit), message.line)) throw new InvalidLineStateError('the proposal opens a line that is not between this account and the sender in its unit')
    const state = openLine(init.self, init.peer, open.unit)
    if (!bytesEqual(state.deviceA, open.deviceA) || !bytesEqual(state.deviceB, open.deviceB)) throw new InvalidLineStateError('the proposal names other holder devices than this one and the sender', { hint: 'the line is held by another device of this account' })
    return new LineChannel(init, state, null)
  }

  /**
   * The channel as this side last persisted it (`persist` outputs): the newest both-signed
   * state, and this side's outstanding proposal (re-sent on `connect` or the first
   * `tick`). Before the first commit only the proposal exists; `peerAccount` names the
   * other side then. Queued changes that were not yet proposed are not restored (they
   * were never promised to the peer).
   */
  static restore (init: LineChannelInit & { peerAccount: Uint8Array, signed: SignedLineState | null, proposal: Uint8Array | null }): LineChannel {
    let proposal: ProposeMessage | null = null
    // A proposal stored by a version-1 node was signed before roles: no peer would take it
    // now. It is dropped (never committed here); the peer's sync shows whether it was.
    if (init.proposal !== null && !isVersion1(init.proposal)) {
      const m = decodeLineMessage(init.proposal)
      if (m.type !== 'propose') throw new InvalidLineStateError('the stored proposal is not a propose message')
      proposal = m
    }
    let channel: LineChannel
    if (init.signed !== null) {
      // The store's copy is checked like a peer's: a damaged one must not be signed on top of.
      checkSignedLineState(init.signed)
      channel = new LineChannel(init, init.signed.state, init.signed)
    } else {
      if (proposal === null || proposal.open === null) throw new InvalidLineStateError('nothing to restore: no signed state and no opening proposal')
      const open = proposal.open
      const selfIsA = Buffer.compare(init.self.account, init.peerAccount) < 0
      const peer = { account: init.peerAccount, device: selfIsA ? open.deviceB : open.deviceA }
      channel = new LineChannel(init, openLine(init.self, peer, open.unit), null)
    }
    if (proposal !== null) {
      if (!bytesEqual(proposal.line, channel.#line)) throw new InvalidLineStateError('the stored proposal is for another line')
      // A stored proposal on an older base was answered before the crash (persists are atomic, so this is only defensive).
      if (proposal.base === channel.#state.seq) {
        const state = replayOwnProposal(channel.#state, channel.#side, proposal.changes)
        if (!verifyLineSignature(state, channel.#side, proposal.sig, 'propose')) throw new InvalidLineStateError('the stored proposal does not make the state it signs')
        channel.#outgoing = {
          message: proposal,
          bytes: init.proposal as Uint8Array,
          digest: proposalDigest(init.proposal as Uint8Array),
          state,
          items: proposal.changes.map((change, i) => ({ change, attachment: proposal.attachments[i] ?? null })),
          sentAt: -Infinity,
          resends: 0,
          stalled: false
        }
      }
    }
    return channel
  }

  /** The line's id (`lineId`). */
  get line (): Uint8Array { return this.#line }
  /** This side of the line. */
  get side (): Side { return this.#side }
  /** The newest committed state (seq 0, unsigned, before the first commit). */
  get state (): LineState { return this.#state }
  /** The newest state both sides signed, or null before the first commit. */
  get signed (): SignedLineState | null { return this.#signed }
  /** The state this side's outstanding proposal would make, or null when none is out. */
  get proposed (): LineState | null { return this.#outgoing?.state ?? null }
  /** Changes queued and not yet proposed. */
  get queued (): number { return this.#queue.length }
  /** Changes in this side's outstanding proposal. */
  get inFlight (): number { return this.#outgoing?.items.length ?? 0 }

  /**
   * Queues one of this side's changes with its attachment. It goes out at once if no
   * proposal of this side is outstanding, else in the next batch. Its fate is reported
   * later as `committed` or `refused` (a change that breaks a rule here is refused when
   * its batch is built).
   */
  enqueue (change: LineChange, attachment: LineAttachment, now: number): LineOutput[] {
    this.#queue.push({ change, attachment })
    const out: LineOutput[] = []
    const late: LineOutput[] = []
    if (this.#proposeNext(now, late)) out.push(this.#persist(null), this.#sendOutgoing(now))
    return out.concat(late)
  }

  /** A message from the peer's holder device (decoded with `decodeLineMessage`). */
  receive (message: LineMessage, now: number): LineOutput[] {
    if (!bytesEqual(message.line, this.#line)) return [{ do: 'rejected', reason: 'a message for another line' }]
    switch (message.type) {
      case 'propose': return this.#onPropose(message, now)
      case 'accept': return this.#onAccept(message, now)
      case 'refuse': return this.#onRefuse(message, now)
      case 'sync': return this.#onSync(message, now)
    }
  }

  /** Timers: re-sends an unanswered proposal (bounded, doubling), ends side a's wait for b. Call at `nextDeadline()`. */
  tick (now: number): LineOutput[] {
    const out: LineOutput[] = []
    const late: LineOutput[] = []
    if (this.#yieldUntil !== null && now >= this.#yieldUntil) {
      this.#yieldUntil = null
      if (this.#proposeNext(now, late)) out.push(this.#persist(null), this.#sendOutgoing(now))
    }
    const o = this.#outgoing
    if (o !== null && !o.stalled && now >= this.#resendAt(o)) {
      if (o.sentAt === -Infinity || o.resends < this.#maxResends) {
        if (o.sentAt !== -Infinity) o.resends++
        out.push(this.#sendOutgoing(now))
      } else {
        o.stalled = true
        out.push({ do: 'stalled', seq: o.state.seq })
      }
    }
    return out.concat(late)
  }

  /** When `tick` next has something to do (ms), or null. */
  nextDeadline (): number | null {
    let at: number | null = this.#yieldUntil
    const o = this.#outgoing
    if (o !== null && !o.stalled) {
      const r = this.#resendAt(o)
      if (at === null || r < at) at = r
    }
    return at
  }

  /**
   * The peer's device is (again) reachable: sends this side's newest signed state (so the
   * side behind catches up) and re-sends the outstanding proposal, with a fresh re-send budget.
   */
  connect (now: number): LineOutput[] {
    const out: LineOutput[] = []
    if (this.#signed !== null) out.push(send({ type: 'sync', line: this.#line, signed: this.#signed }))
    const o = this.#outgoing
    if (o !== null) {
      o.resends = 0
      o.stalled = false
      out.push(this.#sendOutgoing(now))
    } else {
      const late: LineOutput[] = []
      this.#yieldUntil = null
      if (this.#proposeNext(now, late)) out.push(this.#persist(null), this.#sendOutgoing(now))
      out.push(...late)
    }
    return out
  }

  // ---- receiving ------------------------------------------------------------------------

  #onPropose (m: ProposeMessage, now: number): LineOutput[] {
    const seq = this.#state.seq
    if (m.base < seq) {
      // A duplicate of the proposal that made the current state: answer it again (its accept was lost).
      const s = this.#signed
      if (s !== null && m.base + 1 === seq && bytesEqual(m.sig, this.#peerSide === 'a' ? s.sigA : s.sigB)) {
        return [send({ type: 'accept', line: this.#line, seq, sig: this.#side === 'a' ? s.sigA : s.sigB })]
      }
      // Stale (replayed, or the peer is behind): show it where the line is.
      return s === null ? [] : [send({ type: 'sync', line: this.#line, signed: s })]
    }
    if (m.base > seq) {
      // The peer is ahead: this side lost state or missed a commit. Its sync will bring it here.
      return this.#signed === null ? [{ do: 'rejected', reason: `a proposal on state ${m.base}, ahead of this side's ${seq}` }] : [send({ type: 'sync', line: this.#line, signed: this.#signed })]
    }
    // A proposal refused before is refused again, not judged anew (time may have made it
    // valid since, but its proposer has already dropped it).
    const digest = this.#refusals.size > 0 ? proposalDigest(encodeLineMessage(m)) : null
    const known = digest === null ? undefined : this.#refusals.get(hex(digest))
    if (known !== undefined) return [{ do: 'send', message: decodeLineMessage(known), bytes: known }]
    const o = this.#outgoing
    if (o !== null && this.#side === 'a') {
      // Collision, side a wins: b will drop its proposal when ours arrives, then propose again.
      this.#peerWaiting = true
      return []
    }
    // Check the proposal before anything else changes: a refused one leaves our own outstanding.
    let fault: { index: number | null, reason: string } | null = null
    let state: LineState | null = null
    if (m.base === 0 ? !sameOpen(m.open, this.#state) : m.open !== null) {
      fault = { index: null, reason: m.base === 0 ? 'the opening proposal does not match this line (unit or devices)' : '"open" on a line that is already open' }
    } else {
      try {
        state = applyChanges(this.#state, this.#peerSide, m.changes, now)
      } catch (err) {
        if (!(err instanceof LineRuleError)) throw err
        fault = firstFault(this.#state, this.#peerSide, m.changes, now) ?? { index: null, reason: err.message }
      }
      if (state !== null && !verifyLineSignature(state, this.#peerSide, m.sig, 'propose')) {
        fault = { index: null, reason: 'the proposal\'s signature does not verify (forged, or the sides disagree on the state)' }
        state = null
      }
    }
    if (fault !== null || state === null) {
      const f = fault ?? { index: null, reason: 'refused' }
      const d = digest ?? proposalDigest(encodeLineMessage(m))
      const refuse: RefuseMessage = { type: 'refuse', line: this.#line, seq: m.base + 1, proposal: d, index: f.index, reason: f.reason.slice(0, MAX_REASON_LENGTH) }
      const bytes = encodeLineMessage(refuse)
      if (this.#refusals.size >= MAX_REMEMBERED_REFUSALS) this.#refusals.delete(this.#refusals.keys().next().value as string)
      this.#refusals.set(hex(d), bytes)
      const out: LineOutput[] = [{ do: 'send', message: refuse, bytes }]
      if (f.index === null) out.unshift({ do: 'rejected', reason: f.reason })
      return out
    }
    // Valid. Side b in a collision drops its own proposal: its changes go first in the next batch.
    if (o !== null) {
      this.#queue = o.items.concat(this.#queue)
      this.#outgoing = null
    }
    const mySig = this.#sign(state, 'accept')
    const signed: SignedLineState = this.#peerSide === 'a' ? { state, sigA: m.sig, sigB: mySig, proposer: 'a' } : { state, sigA: mySig, sigB: m.sig, proposer: 'b' }
    const commit: LineCommit = { seq: state.seq, proposer: this.#peerSide, changes: m.changes, attachments: m.attachments }
    this.#committed(signed)
    const late: LineOutput[] = []
    const proposing = this.#proposeNext(now, late)
    // The countersigned state is durable before the accept leaves (the design note's rule).
    const out: LineOutput[] = [this.#persist(commit), send({ type: 'accept', line: this.#line, seq: state.seq, sig: mySig })]
    if (proposing) out.push(this.#sendOutgoing(now))
    out.push({ do: 'committed', commit, state })
    return out.concat(late)
  }

  #onAccept (m: AcceptMessage, now: number): LineOutput[] {
    const o = this.#outgoing
    // No proposal of ours at that seq: a duplicate of an accept already taken, or stale.
    if (o === null || m.seq !== o.state.seq) return []
    if (!verifyLineSignature(o.state, this.#peerSide, m.sig, 'accept')) return [{ do: 'rejected', reason: `an accept of state ${m.seq} whose signature does not verify (forged)` }]
    const signed: SignedLineState = this.#side === 'a' ? { state: o.state, sigA: o.message.sig, sigB: m.sig, proposer: 'a' } : { state: o.state, sigA: m.sig, sigB: o.message.sig, proposer: 'b' }
    return this.#ownCommitted(o, signed, now)
  }

  #onRefuse (m: RefuseMessage, now: number): LineOutput[] {
    const o = this.#outgoing
    if (o === null || m.seq !== o.state.seq || !bytesEqual(m.proposal, o.digest)) return []
    this.#outgoing = null
    const reason = `refused by the other side: ${m.reason}`
    const late: LineOutput[] = []
    if (m.index !== null && m.index < o.items.length) {
      const bad = o.items[m.index] as Item
      late.push({ do: 'refused', change: bad.change, attachment: bad.attachment, reason })
      this.#queue = o.items.filter((_, i) => i !== m.index).concat(this.#queue)
    } else {
      for (const it of o.items) late.push({ do: 'refused', change: it.change, attachment: it.attachment, reason })
    }
    const proposing = this.#proposeNext(now, late)
    const out: LineOutput[] = [this.#persist(null)]
    if (proposing) out.push(this.#sendOutgoing(now))
    return out.concat(late)
  }

  #onSync (m: SyncMessage, now: number): LineOutput[] {
    const s = m.signed.state
    const mine = this.#state
    if (!bytesEqual(s.a, mine.a) || !bytesEqual(s.b, mine.b) || !bytesEqual(s.deviceA, mine.deviceA) || !bytesEqual(s.deviceB, mine.deviceB) || s.unit !== mine.unit) {
      return [{ do: 'rejected', reason: 'a synced state of another line (accounts, devices or unit differ)' }]
    }
    if (s.seq === 0) return [{ do: 'rejected', reason: 'a synced state at seq 0 (never signed by both sides)' }]
    try {
      checkSignedLineState(m.signed)
    } catch (err) {
      if (!(err instanceof InvalidLineStateError)) throw err
      return [{ do: 'rejected', reason: `a synced state that is forged: ${err.message}` }]
    }
    const out: LineOutput[] = []
    // The same seq with another state: one side signed two states for one seq (a fork).
    // The line's dispute rule (`supersedes`) says which stands; ours unless theirs does.
    const fork = s.seq === mine.seq && !bytesEqual(lineStateHash(s), lineStateHash(mine))
    const adopt = s.seq > mine.seq || (fork && this.#signed !== null && supersedes(m.signed, this.#signed))
    if (fork) out.push({ do: 'rejected', reason: `a synced state ${s.seq} that differs from ours (both signed: a fork); ${adopt ? 'theirs' : 'ours'} stands` })
    if (!adopt && (s.seq < mine.seq || fork)) {
      // Stale (replayed, or the peer is behind), or a fork ours wins: show the peer ours.
      if (this.#signed !== null) out.push(send({ type: 'sync', line: this.#line, signed: this.#signed }))
    } else if (adopt) {
      const o = this.#outgoing
      if (o !== null && s.seq === o.state.seq && bytesEqual(lineStateHash(s), lineStateHash(o.state))) {
        // Our proposal was accepted and the accept lost.
        return this.#ownCommitted(o, m.signed, now)
      }
      if (o !== null) {
        this.#queue = o.items.concat(this.#queue)
        this.#outgoing = null
      }
      const from = mine.seq
      this.#committed(m.signed)
      const late: LineOutput[] = []
      const proposing = this.#proposeNext(now, late)
      out.push(this.#persist(null))
      if (proposing) out.push(this.#sendOutgoing(now))
      out.push({ do: 'resynced', from, to: s.seq, state: s })
      return out.concat(late)
    }
    // The peer (re)connected: our outstanding proposal may be lost on its side.
    const o = this.#outgoing
    if (o !== null) {
      o.resends = 0
      o.stalled = false
      out.push(this.#sendOutgoing(now))
    }
    return out
  }

  // ---- committing and proposing -----------------------------------------------------------

  /** Our outstanding proposal `o` is committed as `signed`. */
  #ownCommitted (o: Outgoing, signed: SignedLineState, now: number): LineOutput[] {
    this.#outgoing = null
    const waiting = this.#peerWaiting
    this.#committed(signed)
    // After a collision b proposes again as soon as it has accepted ours: let it go first.
    if (waiting && this.#side === 'a' && this.#yieldMs > 0) this.#yieldUntil = now + this.#yieldMs
    const commit: LineCommit = { seq: o.state.seq, proposer: this.#side, changes: o.message.changes, attachments: o.message.attachments }
    const late: LineOutput[] = []
    const proposing = this.#proposeNext(now, late)
    const out: LineOutput[] = [this.#persist(commit)]
    if (proposing) out.push(this.#sendOutgoing(now))
    out.push({ do: 'committed', commit, state: signed.state })
    return out.concat(late)
  }

  #committed (signed: SignedLineState): void {
    this.#state = signed.state
    this.#signed = signed
    this.#peerWaiting = false
    this.#yieldUntil = null
    this.#refusals.clear()
  }

  /**
   * Builds the next proposal from the queue if none is outstanding (and side a is not
   * waiting for b). Changes that break a rule on the current state are reported refused
   * into `late`. Returns whether a proposal was made (the caller persists, then sends it).
   */
  #proposeNext (now: number, late: LineOutput[]): boolean {
    if (this.#outgoing !== null || (this.#yieldUntil !== null && now < this.#yieldUntil)) return false
    while (this.#queue.length > 0) {
      let count = 0
      let bytes = 0
      while (count < this.#queue.length && count < this.#maxBatch) {
        const it = this.#queue[count] as Item
        bytes += CHANGE_BYTES + approxSize(it.attachment)
        if (count > 0 && bytes > this.#maxBatchBytes) break
        count++
      }
      const items = this.#queue.splice(0, count)
      let state: LineState
      let kept = items
      try {
        state = applyChanges(this.#state, this.#side, items.map((it) => it.change), now)
      } catch (err) {
        if (!(err instanceof LineRuleError)) throw err
        // Find the changes at fault one by one; the rest go out.
        kept = []
        let running = this.#state
        for (const it of items) {
          try {
            running = applyChanges(running, this.#side, [it.change], now)
            kept.push(it)
          } catch (e) {
            if (!(e instanceof LineRuleError)) throw e
            late.push({ do: 'refused', change: it.change, attachment: it.attachment, reason: e.message })
          }
        }
        if (kept.length === 0) continue
        state = applyChanges(this.#state, this.#side, kept.map((it) => it.change), now)
      }
      const base = this.#state.seq
      const message: ProposeMessage = {
        type: 'propose',
        line: this.#line,
        base,
        open: base === 0 ? { unit: state.unit, deviceA: state.deviceA, deviceB: state.deviceB } : null,
        changes: kept.map((it) => it.change),
        attachments: kept.map((it) => it.attachment),
        sig: this.#sign(state, 'propose')
      }
      const encoded = encodeLineMessage(message)
      this.#outgoing = { message, bytes: encoded, digest: proposalDigest(encoded), state, items: kept, sentAt: -Infinity, resends: 0, stalled: false }
      return true
    }
    return false
  }

  #persist (commit: LineCommit | null): LineOutput {
    return { do: 'persist', line: this.#line, signed: this.#signed, proposal: this.#outgoing?.bytes ?? null, commit }
  }

  #sendOutgoing (now: number): LineOutput {
    const o = this.#outgoing as Outgoing
    o.sentAt = now
    return { do: 'send', message: o.message, bytes: o.bytes }
  }

  #resendAt (o: Outgoing): number {
    return o.sentAt + this.#resendAfterMs * 2 ** o.resends
  }
}

// ---- encoding (canonical CBOR, strict) --------------------------------------------------

/** Rough encoded size of a change without its attachment, for the batch byte bound. */
const CHANGE_BYTES = 160

function isVersion1 (bytes: Uint8Array): boolean {
  try {
    const v = decodeCanonical(bytes)
    return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && v.v === 1
  } catch {
    return false
  }
}

/** What a refusal names a proposal by: SHA-256 of its encoding. */
export function proposalDigest (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

function send (message: LineMessage): LineOutput {
  return { do: 'send', message, bytes: encodeLineMessage(message) }
}

export function encodeLineMessage (m: LineMessage): Uint8Array {
  return encodeCanonical(lineMessageValue(m))
}

function lineMessageValue (m: LineMessage): CanonicalValue {
  switch (m.type) {
    case 'propose':
      return {
        v: LINE_MESSAGE_VERSION,
        type: 'propose',
        line: m.line,
        base: m.base,
        open: m.open === null ? null : { unit: m.open.unit, deviceA: m.open.deviceA, deviceB: m.open.deviceB },
        changes: m.changes.map(lineChangeValue),
        attachments: m.attachments,
        sig: m.sig
      }
    case 'accept':
      return { v: LINE_MESSAGE_VERSION, type: 'accept', line: m.line, seq: m.seq, sig: m.sig }
    case 'refuse':
      return { v: LINE_MESSAGE_VERSION, type: 'refuse', line: m.line, seq: m.seq, proposal: m.proposal, index: m.index, reason: m.reason }
    case 'sync':
      return { v: LINE_MESSAGE_VERSION, type: 'sync', line: m.line, signed: { state: lineStateValue(m.signed.state), sigA: m.signed.sigA, sigB: m.signed.sigB, by: m.signed.proposer } }
  }
}

export function lineChangeValue (c: LineChange): CanonicalValue {
  switch (c.kind) {
    case 'limit': return { kind: 'limit', side: c.side, limit: c.limit }
    case 'hold': return { kind: 'hold', id: c.hold.id, payer: c.hold.payer, amount: c.hold.amount, condition: c.hold.condition, expiresAt: c.hold.expiresAt }
    case 'settle': return { kind: 'settle', id: c.id, fulfillment: c.fulfillment }
    case 'release': return { kind: 'release', id: c.id }
  }
}

/**
 * Decodes a line message, strictly: canonical CBOR, version 1, exactly the fields of its
 * type with the right types and sizes. Throws InvalidLineStateError naming what is wrong.
 */
export function decodeLineMessage (bytes: Uint8Array): LineMessage {
  let value: CanonicalValue
  try {
    value = decodeCanonical(bytes)
  } catch (err) {
    throw new InvalidLineStateError(`a line message that is not canonical CBOR: ${(err as Error).message}`)
  }
  const top = record(value, 'line message')
  if (top.v !== LINE_MESSAGE_VERSION) throw new InvalidLineStateError(`line message version ${typeof top.v === 'number' ? top.v : '(none)'} (this node reads ${LINE_MESSAGE_VERSION})`, { hint: typeof top.v === 'number' && top.v < LINE_MESSAGE_VERSION ? 'the peer runs an older Peernet: both sides of a line need the same line protocol' : 'the peer runs a newer Peernet' })
  switch (top.type) {
    case 'propose': {
      const m = exact(top, ['v', 'type', 'line', 'base', 'open', 'changes', 'attachments', 'sig'], 'propose')
      const base = count(m.base, 'propose: base')
      let open: LineOpen | null = null
      if (m.open !== null) {
        const o = exact(record(m.open, 'propose: open'), ['unit', 'deviceA', 'deviceB'], 'propose: open')
        if (typeof o.unit !== 'string') throw new InvalidLineStateError('propose: open.unit is not a string')
        try { checkUnit(o.unit) } catch { throw new InvalidLineStateError('propose: open.unit is not a unit name') }
        open = { unit: o.unit, deviceA: bytes32(o.deviceA, 'propose: open.deviceA'), deviceB: bytes32(o.deviceB, 'propose: open.deviceB') }
      }
      if ((base === 0) !== (open !== null)) throw new InvalidLineStateError('propose: "open" goes with base 0 and only there')
      const changes = m.changes
      const attachments = m.attachments
      if (!Array.isArray(changes) || changes.length === 0 || changes.length > MAX_PROPOSAL_CHANGES) throw new InvalidLineStateError(`propose: changes is not a list of 1 to ${MAX_PROPOSAL_CHANGES}`)
      if (!Array.isArray(attachments) || attachments.length !== changes.length) throw new InvalidLineStateError('propose: not one attachment per change')
      return { type: 'propose', line: bytes32(m.line, 'propose: line'), base, open, changes: changes.map(decodeLineChange), attachments, sig: sig64(m.sig, 'propose: sig') }
    }
    case 'accept': {
      const m = exact(top, ['v', 'type', 'line', 'seq', 'sig'], 'accept')
      return { type: 'accept', line: bytes32(m.line, 'accept: line'), seq: count(m.seq, 'accept: seq'), sig: sig64(m.sig, 'accept: sig') }
    }
    case 'refuse': {
      const m = exact(top, ['v', 'type', 'line', 'seq', 'proposal', 'index', 'reason'], 'refuse')
      const index = m.index === null ? null : count(m.index, 'refuse: index')
      if (typeof m.reason !== 'string' || m.reason.length > MAX_REASON_LENGTH) throw new InvalidLineStateError(`refuse: reason is not a string of at most ${MAX_REASON_LENGTH}`)
      return { type: 'refuse', line: bytes32(m.line, 'refuse: line'), seq: count(m.seq, 'refuse: seq'), proposal: bytes32(m.proposal, 'refuse: proposal'), index, reason: m.reason }
    }
    case 'sync': {
      const m = exact(top, ['v', 'type', 'line', 'signed'], 'sync')
      const s = exact(record(m.signed, 'sync: signed'), ['state', 'sigA', 'sigB', 'by'], 'sync: signed')
      const state = decodeLineState(s.state)
      exact(record(s.state, 'sync: state'), ['a', 'b', 'deviceA', 'deviceB', 'unit', 'seq', 'balance', 'limitA', 'limitB', 'holds'], 'sync: state')
      const line = bytes32(m.line, 'sync: line')
      if (!bytesEqual(lineId(state.a, state.b, state.unit), line)) throw new InvalidLineStateError('sync: the state is not of the line named')
      if (s.by !== null && s.by !== 'a' && s.by !== 'b') throw new InvalidLineStateError('sync: by is not "a", "b" or null')
      return { type: 'sync', line, signed: { state, sigA: sig64(s.sigA, 'sync: sigA'), sigB: sig64(s.sigB, 'sync: sigB'), proposer: proposerField(s.by ?? undefined) } }
    }
    default:
      throw new InvalidLineStateError(`a line message of unknown type ${JSON.stringify(top.type)}`)
  }
}

/** Decodes one change, strictly (exact fields, sizes and ranges). */
export function decodeLineChange (value: CanonicalValue): LineChange {
  const m = record(value, 'change')
  switch (m.kind) {
    case 'limit': {
      const c = exact(m, ['kind', 'side', 'limit'], 'limit change')
      return { kind: 'limit', side: sideValue(c.side, 'limit change: side'), limit: amount(c.limit, 'limit change: limit') }
    }
    case 'hold': {
      const c = exact(m, ['kind', 'id', 'payer', 'amount', 'condition', 'expiresAt'], 'hold change')
      const hold: Hold = {
        id: bytesOf(c.id, 16, 'hold change: id'),
        payer: sideValue(c.payer, 'hold change: payer'),
        amount: amount(c.amount, 'hold change: amount'),
        condition: bytes32(c.condition, 'hold change: condition'),
        expiresAt: count(c.expiresAt, 'hold change: expiresAt')
      }
      return { kind: 'hold', hold }
    }
    case 'settle': {
      const c = exact(m, ['kind', 'id', 'fulfillment'], 'settle change')
      return { kind: 'settle', id: bytesOf(c.id, 16, 'settle change: id'), fulfillment: bytes32(c.fulfillment, 'settle change: fulfillment') }
    }
    case 'release': {
      const c = exact(m, ['kind', 'id'], 'release change')
      return { kind: 'release', id: bytesOf(c.id, 16, 'release change: id') }
    }
    default:
      throw new InvalidLineStateError(`a change of unknown kind ${JSON.stringify(m.kind)}`)
  }
}

// ---- helpers ----------------------------------------------------------------------------

function sideOfParty (state: LineState, self: LineParty): Side {
  if (bytesEqual(state.a, self.account) && bytesEqual(state.deviceA, self.device)) return 'a'
  if (bytesEqual(state.b, self.account) && bytesEqual(state.deviceB, self.device)) return 'b'
  throw new InvalidLineStateError('this account and device are not one side of the line', { hint: 'the line is held by another device of this account' })
}

function sameOpen (open: LineOpen | null, s: LineState): boolean {
  return open !== null && open.unit === s.unit && bytesEqual(open.deviceA, s.deviceA) && bytesEqual(open.deviceB, s.deviceB)
}

/**
 * The state this side's own stored proposal makes, recomputed at restart. The rules that
 * depend on the clock held when it was made (at some time t); the latest expiry among the
 * holds it releases as payer is a time no later than t at which they all hold again (a
 * payer's release needs t ≥ expiry; settles and new holds need t ≤ / < theirs).
 */
function replayOwnProposal (state: LineState, proposer: Side, changes: readonly LineChange[]): LineState {
  let t = 0
  for (const c of changes) {
    if (c.kind !== 'release') continue
    const h = state.holds.find((x) => bytesEqual(x.id, c.id))
    if (h !== undefined && h.payer === proposer && h.expiresAt > t) t = h.expiresAt
  }
  try {
    return applyChanges(state, proposer, changes, t)
  } catch (err) {
    if (err instanceof LineRuleError) throw new InvalidLineStateError(`the stored proposal no longer applies: ${err.message}`)
    throw err
  }
}

/** The first change of `changes` that breaks a rule when applied in order, with the reason. */
function firstFault (state: LineState, proposer: Side, changes: readonly LineChange[], now: number): { index: number, reason: string } | null {
  let running = state
  for (let i = 0; i < changes.length; i++) {
    try {
      running = applyChanges(running, proposer, [changes[i] as LineChange], now)
    } catch (err) {
      if (err instanceof LineRuleError) return { index: i, reason: err.message }
      throw err
    }
  }
  return null
}

function approxSize (v: CanonicalValue): number {
  if (v instanceof Uint8Array) return v.byteLength + 5
  if (typeof v === 'string') return v.length + 5
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + approxSize(x), 3)
  if (typeof v === 'object' && v !== null) return Object.entries(v).reduce((n, [k, x]) => n + k.length + 1 + approxSize(x), 3)
  return 9
}

function positive (n: number, what: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`LineChannel option ${what} must be positive`)
  return n
}

function nonNegative (n: number, what: string): number {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`LineChannel option ${what} must not be negative`)
  return n
}

function hex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

function record (value: CanonicalValue | undefined, what: string): Record<string, CanonicalValue> {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || Array.isArray(value)) throw new InvalidLineStateError(`${what} is not a map`)
  return value
}

function exact (m: Record<string, CanonicalValue>, keys: readonly string[], what: string): Record<string, CanonicalValue> {
  const have = Object.keys(m)
  if (have.length !== keys.length || !keys.every((k) => Object.hasOwn(m, k))) throw new InvalidLineStateError(`${what}: fields are not exactly ${keys.join(', ')}`)
  return m
}

function bytesOf (v: CanonicalValue | undefined, length: number, what: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.byteLength !== length) throw new InvalidLineStateError(`${what} is not ${length} bytes`)
  return v
}

function bytes32 (v: CanonicalValue | undefined, what: string): Uint8Array {
  return bytesOf(v, 32, what)
}

function sig64 (v: CanonicalValue | undefined, what: string): Uint8Array {
  return bytesOf(v, 64, what)
}

function count (v: CanonicalValue | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new InvalidLineStateError(`${what} is not a non-negative integer`)
  return v
}

function amount (v: CanonicalValue | undefined, what: string): bigint {
  if (typeof v !== 'bigint' && typeof v !== 'number') throw new InvalidLineStateError(`${what} is not an amount`)
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new InvalidLineStateError(`${what} is not an integer`)
  const n = BigInt(v)
  if (n < 0n || n > MAX_AMOUNT) throw new InvalidLineStateError(`${what} is out of range`)
  return n
}

function sideValue (v: CanonicalValue | undefined, what: string): Side {
  if (v !== 'a' && v !== 'b') throw new InvalidLineStateError(`${what} is not "a" or "b"`)
  return v
}
