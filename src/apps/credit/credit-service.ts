// The credit app's running part on a node: the I/O shell around the line channels (one
// per trust line this node holds) and the payment engine. It feeds them what arrives on
// the direct app-message channel, the clock and the user's commands, and carries out
// what they return in order — above all, every `persist` is committed to SQLite before
// the next output (a `send`) is acted on, so a kill -9 never leaves the peer holding a
// signature for a state this node forgot.

import { randomBytes } from 'node:crypto'
import type { AppPeer, AppService, AppServiceContext } from '../../networks/app.ts'
import { bytesEqual } from '../../core/encoding.ts'
import { toHex } from '../../networks/hashing.ts'
import { formatAmount } from './amount.ts'
import { LinePendingError, UnknownCreditAccountError } from './errors.ts'
import { availableToPay, decodeSignedLineState, encodeSignedLineState, lineId, lineStateHash, positionOf } from './line.ts'
import type { LineState } from './line.ts'
import { LineChannel, decodeLineMessage } from './line-channel.ts'
import type { LineOutput } from './line-channel.ts'
import { CreditStore } from './store.ts'
import type { LineRow } from './store.ts'
import { decodeCreditMessage, encodeCreditMessage } from './credit-messages.ts'
import type { CreditMessage } from './credit-messages.ts'
import type { LineView, TrustResult } from './views.ts'

/** How long `credit trust` waits for the other side's countersignature. */
const TRUST_WAIT_MS = 15_000
/** Bound on each send to a peer (the channel re-sends what goes unanswered). */
const SEND_TIMEOUT_MS = 10_000

interface HeldLine {
  row: LineRow
  channel: LineChannel
  peer: AppPeer
}

interface LineWaiter {
  /** True once the wait is over (resolve with the state). */
  done: (state: LineState) => boolean
  resolve: (state: LineState) => void
  reject: (err: Error) => void
}

export class CreditService implements AppService {
  readonly #ctx: AppServiceContext
  readonly store: CreditStore
  readonly #lines = new Map<string, HeldLine>()
  readonly #waiters = new Map<string, Set<LineWaiter>>()
  /** Sends to each peer device, in order. */
  readonly #sendQueues = new Map<string, Promise<void>>()
  #timer: NodeJS.Timeout | null = null
  #timerAt = Infinity
  #stopped = false

  constructor (ctx: AppServiceContext) {
    this.#ctx = ctx
    this.store = new CreditStore(ctx.db)
    for (const row of this.store.lines()) {
      try {
        this.#restore(row)
      } catch (err) {
        ctx.logger.error('could not restore a trust line', { line: toHex(row.id), err })
      }
    }
    // Tell every peer where our lines are and re-send what was outstanding (their nodes
    // may have restarted too). Those not reachable now get it when they connect.
    for (const held of this.#lines.values()) this.#run(held, held.channel.connect(this.#now()))
  }

  get #self (): AppPeer { return this.#ctx.self }
  #now (): number { return this.#ctx.clock.now() }

  #restore (row: LineRow): void {
    const signed = row.signed === null ? null : decodeSignedLineState(row.signed)
    const channel = LineChannel.restore({ self: this.#self, signer: this.#ctx.signer, peerAccount: row.peerAccount, signed, proposal: row.channel })
    this.#lines.set(toHex(row.id), { row, channel, peer: { account: row.peerAccount, device: row.peerDevice } })
  }

  // ---- the app-message channel ----------------------------------------------------------

  receive (from: AppPeer, bytes: Uint8Array): void {
    if (this.#stopped) return
    let m: CreditMessage
    try { m = decodeCreditMessage(bytes) } catch (err) {
      this.#ctx.logger.debug('malformed credit message', { from: toHex(from.account), err })
      return
    }
    try {
      this.#receive(from, m)
    } catch (err) {
      this.#ctx.logger.warn('credit message failed', { from: toHex(from.account), type: m.t, err })
    }
  }

  connected (peer: AppPeer): void {
    if (this.#stopped) return
    for (const held of this.#lines.values()) {
      if (bytesEqual(held.peer.account, peer.account) && bytesEqual(held.peer.device, peer.device)) this.#run(held, held.channel.connect(this.#now()))
    }
  }

  #receive (from: AppPeer, m: CreditMessage): void {
    if (m.t === 'line') {
      const message = decodeLineMessage(m.m)
      let held = this.#lines.get(toHex(message.line))
      if (held === undefined) {
        // A line the peer opens with us: its first proposal names it (LineChannel.fromOpen checks the id, unit and devices).
        const channel = LineChannel.fromOpen(message, { self: this.#self, signer: this.#ctx.signer, peer: from })
        const row = this.#newRow(channel, from)
        held = { row, channel, peer: from }
        this.#lines.set(toHex(channel.line), held)
      } else if (!bytesEqual(held.peer.account, from.account) || !bytesEqual(held.peer.device, from.device)) {
        this.#ctx.logger.debug('a line message from another device than the line\'s holder', { line: toHex(message.line) })
        return
      }
      this.#run(held, held.channel.receive(message, this.#now()))
      return
    }
    this.#onRequest(from, m)
  }

  /** Requests other than line updates (invoices, route planning): see the payment part. */
  #onRequest (_from: AppPeer, _m: CreditMessage): void {}

  #newRow (channel: LineChannel, peer: AppPeer): LineRow {
    const now = this.#now()
    const s = channel.state
    return { id: channel.line, peerAccount: peer.account, peerDevice: peer.device, unit: s.unit, side: channel.side, seq: 0, signed: null, channel: null, createdAt: now, updatedAt: now }
  }

  // ---- carrying out the channel's outputs ------------------------------------------------

  #run (held: HeldLine, outputs: LineOutput[]): void {
    for (const o of outputs) {
      switch (o.do) {
        case 'persist': {
          // Durable before anything after it (the accept that follows, above all).
          const now = this.#now()
          const row = held.row
          this.store.transaction(() => {
            this.store.addLine(row, now)
            if (o.signed !== null) this.store.saveSigned(row.id, o.signed.state.seq, encodeSignedLineState(o.signed), now)
            this.store.saveChannel(row.id, o.proposal, now)
          })
          if (o.signed !== null) row.seq = o.signed.state.seq
          break
        }
        case 'send':
          this.#send(held.peer, { t: 'line', m: o.bytes })
          break
        case 'committed':
          this.#wake(held, o.state)
          this.onCommitted(held, o)
          break
        case 'refused':
          this.#refused(held, o)
          break
        case 'resynced':
          this.#wake(held, o.state)
          break
        case 'rejected':
          this.#ctx.logger.debug('line message rejected', { line: toHex(held.row.id), reason: o.reason })
          break
        case 'stalled':
          this.#ctx.logger.info('line update unanswered; waiting for the peer to reconnect', { line: toHex(held.row.id), seq: o.seq })
          break
      }
    }
    this.#schedule()
  }

  /** Hook for the payment engine (a committed update of a line). */
  protected onCommitted (_held: HeldLine, _o: Extract<LineOutput, { do: 'committed' }>): void {}
  /** Hook for the payment engine (a change of ours that will not be made). */
  protected onRefused (_held: HeldLine, _o: Extract<LineOutput, { do: 'refused' }>): void {}

  #refused (held: HeldLine, o: Extract<LineOutput, { do: 'refused' }>): void {
    if (o.change.kind === 'limit') {
      for (const w of this.#waiters.get(toHex(held.row.id)) ?? []) w.reject(new LinePendingError(`the other side refused the new limit: ${o.reason}`))
    }
    this.onRefused(held, o)
  }

  #wake (held: HeldLine, state: LineState): void {
    const set = this.#waiters.get(toHex(held.row.id))
    if (set === undefined) return
    for (const w of [...set]) if (w.done(state)) w.resolve(state)
  }

  #send (to: AppPeer, m: CreditMessage): void {
    const key = toHex(to.account) + toHex(to.device)
    const bytes = encodeCreditMessage(m)
    const prev = this.#sendQueues.get(key) ?? Promise.resolve()
    const next = prev.then(async () => {
      if (this.#stopped) return
      await this.#ctx.send(to, bytes, { signal: AbortSignal.timeout(SEND_TIMEOUT_MS) })
    }).catch((err: unknown) => {
      // The channel re-sends what matters (proposals; syncs on reconnect).
      this.#ctx.logger.debug('credit message not sent', { to: toHex(to.account), err })
    })
    this.#sendQueues.set(key, next)
    void next.then(() => { if (this.#sendQueues.get(key) === next) this.#sendQueues.delete(key) })
  }

  /** Sends a credit message to a peer (for the payment part). */
  protected sendTo (to: AppPeer, m: CreditMessage): void { this.#send(to, m) }

  // ---- timers -----------------------------------------------------------------------------

  /** The next time something must happen besides the channels' deadlines (the payment engine's ticks). */
  protected nextTick (): number | null { return null }
  protected onTick (_now: number): void {}

  #schedule (): void {
    if (this.#stopped) return
    let at = this.nextTick() ?? Infinity
    for (const held of this.#lines.values()) {
      const d = held.channel.nextDeadline()
      if (d !== null && d < at) at = d
    }
    if (at === Infinity || at >= this.#timerAt) return
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#timerAt = Infinity
      const now = this.#now()
      for (const held of this.#lines.values()) {
        const d = held.channel.nextDeadline()
        if (d !== null && d <= now) this.#run(held, held.channel.tick(now))
      }
      this.onTick(now)
      this.#schedule()
    }, Math.max(0, at - this.#now()))
    this.#timer.unref()
  }

  // ---- commands and queries --------------------------------------------------------------

  /** An account from its hex key or a prefix of it: a member of a network this node is in, or the peer of a line. */
  resolveAccount (text: string): Uint8Array {
    const prefix = text.toLowerCase()
    if (!/^[0-9a-f]{8,64}$/.test(prefix)) throw new UnknownCreditAccountError(`"${text}" is not an account key`, { hint: 'give the account key in hex (8+ digits are enough)' })
    const candidates = new Map<string, Uint8Array>()
    for (const a of this.#ctx.members()) candidates.set(toHex(a), a)
    for (const h of this.#lines.values()) candidates.set(toHex(h.peer.account), h.peer.account)
    const matches = [...candidates.entries()].filter(([k]) => k.startsWith(prefix))
    if (matches.length === 1) return (matches[0] as [string, Uint8Array])[1]
    if (prefix === toHex(this.#self.account).slice(0, prefix.length)) throw new UnknownCreditAccountError('that is your own account', { hint: 'a trust line is between two accounts' })
    if (matches.length === 0) throw new UnknownCreditAccountError(`no account ${prefix.slice(0, 16)}${prefix.length > 16 ? '…' : ''} shares a network with you`, { hint: 'join a network with it first (`peernet net create NAME --app credit`, then invite it)' })
    throw new UnknownCreditAccountError(`"${text}" matches ${matches.length} accounts`, { hint: 'give more digits' })
  }

  /** The line with `peer` in `unit`, if this node holds one. */
  lineWith (peer: Uint8Array, unit: string): HeldLine | undefined {
    return this.#lines.get(toHex(lineId(this.#self.account, peer, unit)))
  }

  lines (): HeldLine[] { return [...this.#lines.values()] }

  /**
   * Sets the credit this account extends to `peer` in `unit`, opening the line if there is
   * none; resolves once the other side countersigned the new state.
   */
  async trust (peer: Uint8Array, unit: string, limit: bigint): Promise<TrustResult> {
    const now = this.#now()
    let held = this.lineWith(peer, unit)
    if (held === undefined) {
      // The device of the other account that holds its side: the one it last spoke from
      // here, else its account key (an account's home signs with that).
      const device = this.#ctx.devices(peer)[0] ?? peer
      const channel = LineChannel.open({ self: this.#self, signer: this.#ctx.signer, peer: { account: peer, device }, unit })
      held = { row: this.#newRow(channel, { account: peer, device }), channel, peer: { account: peer, device } }
      this.#lines.set(toHex(channel.line), held)
    }
    const side = held.channel.side
    const given = (s: LineState): bigint => side === 'a' ? s.limitA : s.limitB
    const h = held
    const state = await this.#waitFor(h, (s) => given(s) === limit, () => {
      if (given(h.channel.state) === limit) return h.channel.state
      this.#run(h, h.channel.enqueue({ kind: 'limit', side, limit }, null, now))
      return undefined
    }, TRUST_WAIT_MS)
    return { line: toHex(h.row.id), account: toHex(peer), unit, limit: formatAmount(given(state)), seq: state.seq }
  }

  /** Waits (bounded) for a committed state of the line that passes `done`; `start` runs once the waiter is in place. */
  async #waitFor (held: HeldLine, done: (s: LineState) => boolean, start: () => LineState | undefined, ms: number): Promise<LineState> {
    const key = toHex(held.row.id)
    return await new Promise<LineState>((resolve, reject) => {
      const set = this.#waiters.get(key) ?? new Set()
      this.#waiters.set(key, set)
      const finish = (): void => { clearTimeout(timer); set.delete(w); if (set.size === 0) this.#waiters.delete(key) }
      const w: LineWaiter = {
        done,
        resolve: (s) => { finish(); resolve(s) },
        reject: (e) => { finish(); reject(e) }
      }
      const timer = setTimeout(() => {
        w.reject(new LinePendingError(`the other side has not countersigned the update within ${ms / 1000} s`, { hint: 'it stays proposed and goes through once the other node answers; see `peernet credit lines`' }))
      }, ms)
      set.add(w)
      try {
        const already = start()
        if (already !== undefined) w.resolve(already)
      } catch (err) {
        w.reject(err as Error)
      }
    })
  }

  lineView (held: HeldLine): LineView {
    const s = held.channel.state
    const side = held.channel.side
    return {
      line: toHex(held.row.id),
      account: toHex(held.peer.account),
      device: toHex(held.peer.device),
      unit: s.unit,
      seq: s.seq,
      stateHash: toHex(lineStateHash(s)),
      balance: formatAmount(positionOf(s, side)),
      trustGiven: formatAmount(side === 'a' ? s.limitA : s.limitB),
      trustReceived: formatAmount(side === 'a' ? s.limitB : s.limitA),
      holds: s.holds.length,
      available: formatAmount(availableToPay(s, side)),
      pending: held.channel.proposed !== null || held.channel.queued > 0,
      updatedAt: held.row.updatedAt
    }
  }

  /** A fresh random id (16 bytes) for requests and payments. */
  protected newId (): Uint8Array { return new Uint8Array(randomBytes(16)) }

  stop (): void {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    for (const set of this.#waiters.values()) for (const w of [...set]) w.reject(new LinePendingError('the node is stopping'))
  }
}
