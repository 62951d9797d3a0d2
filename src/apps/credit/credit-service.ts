// The credit app's running part on a node: the I/O shell around the line channels (one
// per trust line this node holds) and the payment engine. It feeds them what arrives on
// the direct app-message channel, the clock and the user's commands, and carries out
// what they return in order — above all, every `persist` is committed to SQLite before
// the next output (a `send`) is acted on, so a kill -9 never leaves the peer holding a
// signature for a state this node forgot.

import { createHash } from 'node:crypto'
import { randomFromPool } from '../../core/random.ts'
import type { AppPeer, AppService, AppServiceContext } from '../../networks/app.ts'
import { bytesEqual, decodeCanonical, encodeCanonical } from '../../core/encoding.ts'
import { toHex } from '../../networks/hashing.ts'
import { checkUnit, formatAmount } from './amount.ts'
import { InvalidAmountError, LinePendingError, PaymentFailedError, UnknownCreditAccountError } from './errors.ts'
import { availableToPay, decodeSignedLineState, encodeSignedLineState, lineId, lineStateHash, positionOf } from './line.ts'
import type { LineState } from './line.ts'
import { LineChannel, decodeLineMessage } from './line-channel.ts'
import type { LineOutput } from './line-channel.ts'
import { CreditStore } from './store.ts'
import type { LineRow } from './store.ts'
import { decodeCreditMessage, encodeCreditMessage } from './credit-messages.ts'
import type { CreditMessage, WireViewNode } from './credit-messages.ts'
import type { LineReport, PolicyReport } from './credit-messages.ts'
import type { LineView, PayResult, RouteView, TrustResult } from './views.ts'
import { PaymentEngine } from './payment-engine.ts'
import type { DoneOutput, EngineOutput, FailedOutput, PaymentPath } from './payment-engine.ts'
import { ErrorCode } from './ilp-packet.ts'
import type { NodeReport } from './unit-converting-paths.ts'
import { CreditRouting } from './credit-routing.ts'

/** How long `credit trust` waits for the other side's countersignature. */
const TRUST_WAIT_MS = 15_000
/** Bound on each send to a peer (the channel re-sends what goes unanswered). */
const SEND_TIMEOUT_MS = 10_000
/** How long a request to another account (an invoice, its lines) waits for the answer. */
const REQUEST_TIMEOUT_MS = 5_000
/** How long `credit pay` waits for the payment to settle or fail, past its holds' expiry. */
const PAY_SLACK_MS = 10_000
/** A neighbour's reported lines are reused for this long (payments in a burst ask once). */
const REPORT_TTL_MS = 1_000
/** How many payees' views a payer keeps for reuse. */
const MAX_KEPT_VIEWS = 256
/**
 * An invoice not paid within this long is withdrawn (parts still held for it are
 * released): a payer that asked for one and never paid (no path, a failed payment) must
 * not leave it open for ever. Longer than any payment's holds live.
 */
const INVOICE_TTL_MS = 120_000
/** Settled conditions remembered for telling a lost forward (see #paidOut). */
const PAID_OUT_KEPT = 10_000

interface HeldLine {
  row: LineRow
  channel: LineChannel
  peer: AppPeer
}

interface Pending<T> { resolve: (v: T) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }

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
  readonly engine: PaymentEngine
  /** Requests out to other accounts, by id (hex). */
  readonly #requests = new Map<string, Pending<CreditMessage>>()
  /** Payments this node sends, by id (hex), until done or failed. */
  readonly #payments = new Map<string, Pending<DoneOutput | FailedOutput>>()
  /** Who asked for each open invoice (condition hex), for the history. */
  readonly #invoicedFor = new Map<string, Uint8Array>()
  /** The paths of each payment under way (the engine's outcomes name accounts only). */
  readonly #sentPaths = new Map<string, PaymentPath[]>()
  readonly #reports = new Map<string, { at: number, report: NodeReport | undefined }>()
  /** Payees' views from their invoices, by payee and unit (the oldest dropped past MAX_KEPT_VIEWS). */
  readonly #views = new Map<string, { at: number, view: WireViewNode[] }>()
  /** Engine outputs waiting to be carried out (a queue, so one output's effects never nest inside another's). */
  readonly #engineQueue: EngineOutput[] = []
  #draining = false
  /**
   * Writes not yet committed: all of them go in one transaction (a group commit), run
   * before the next message leaves (every send flushes first) or on the next turn of the
   * event loop, whichever comes first. So a write is always durable before any message
   * that depends on it, and a burst of payments costs one commit per turn, not one per
   * row (measured: the commits were most of a burst's CPU).
   */
  #writes: Array<() => void> = []
  #flushTimer: NodeJS.Immediate | null = null
  /** The turn-end setting of the timer (`#schedule`). */
  #scheduleSoon: NodeJS.Immediate | null = null
  /** Invoice ids → conditions, for the history (the engine reports a received invoice by id). */
  readonly #invoiceConditions = new Map<string, Uint8Array>()
  /** Trees, probes, invoice views and path finding (credit-routing.ts). */
  readonly #routing: CreditRouting
  /** Open invoices by id (hex): their condition and when they were made, for withdrawing stale ones. */
  readonly #openInvoices = new Map<string, { condition: Uint8Array, createdAt: number }>()
  readonly #sweep: NodeJS.Timeout
  /**
   * Conditions of holds this node paid that the peer settled (recent ones, bounded): a
   * forward reported failed whose downstream hold was settled is a loss (the engine
   * reports `lost` only when the upstream settle is refused, not when the upstream payer
   * released its expired hold first).
   */
  readonly #paidOut = new Map<string, true>()

  constructor (ctx: AppServiceContext, options: { awayAfterMs?: number } = {}) {
    this.#ctx = ctx
    this.store = new CreditStore(ctx.db)
    this.#routing = new CreditRouting({
      ...options,
      self: ctx.self.account,
      logger: ctx.logger,
      now: () => this.#now(),
      report: () => this.#report(),
      treeLinks: () => [...this.#lines.values()].filter((h) => h.channel.signed !== null && h.channel.state.limitA + h.channel.state.limitB > 0n).map((h) => ({ peer: h.peer.account, unit: h.channel.state.unit })),
      send: (to, m) => { const held = [...this.#lines.values()].find((h) => bytesEqual(h.peer.account, to)); this.#send(held?.peer ?? { account: to, device: this.#ctx.devices(to)[0] ?? to }, m) },
      ask: async (friend) => await this.#ask(friend)
    })
    const lines = this.#lines
    const lineIds = new Map<string, string>()
    const self = ctx.self.account
    this.engine = new PaymentEngine({
      account: self,
      lines: {
        get: (peer, unit) => {
          // The line id (a SHA-256 of the pair and unit) is looked up per hold: kept per peer and unit.
          const k = toHex(peer) + unit
          let id = lineIds.get(k)
          if (id === undefined) { id = toHex(lineId(self, peer, unit)); if (lineIds.size < 4096) lineIds.set(k, id) }
          const held = lines.get(id)
          return held === undefined || held.channel.signed === null ? undefined : held.channel.state
        },
        all: function * () { for (const h of lines.values()) if (h.channel.signed !== null) yield h.channel.state }
      }
    })
    for (const f of this.store.fees()) this.engine.setFee(f.unit, f.ppm)
    for (const o of this.store.offers()) this.engine.setOffer(o.from, o.to, o.rate)
    // Forwards and payments in flight come back from their records, crash or not. After a
    // clean stop the engine's snapshot also holds its open invoices with their parts; after
    // a kill there is none and the invoices come from their table (each fulfillment was
    // stored before its condition left).
    for (const value of this.store.records()) {
      try {
        this.engine.restoreRecord(decodeCanonical(value))
      } catch (err) {
        ctx.logger.warn('a payment engine record is unreadable; its holds are released at expiry', { err })
      }
    }
    const snapshot = this.store.takeEngine()
    let restored = false
    try {
      if (snapshot !== undefined) { this.engine.restore(decodeCanonical(snapshot)); restored = true }
    } catch (err) {
      ctx.logger.warn('the payment engine\'s saved state is unreadable; starting empty', { err })
    }
    for (const i of this.store.openInvoices()) {
      if (!restored) this.engine.addInvoice(i)
      this.#openInvoices.set(toHex(i.id), { condition: i.condition, createdAt: i.createdAt })
      this.#invoiceConditions.set(toHex(i.id), i.condition)
    }
    this.#sweep = setInterval(() => { this.#withdrawStaleInvoices(this.#now()) }, INVOICE_TTL_MS / 4)
    this.#sweep.unref()
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
    this.#routing.linesChanged()
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
    this.#routing.connected(peer.account)
  }

  disconnected (peer: AppPeer): void {
    if (this.#stopped) return
    this.#routing.disconnected(peer.account)
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

  /** Requests other than line updates: invoices and route planning. */
  #onRequest (from: AppPeer, m: CreditMessage): void {
    switch (m.t) {
      case 'invoice?': {
        let answer: CreditMessage
        try {
          checkUnit(m.unit)
          const invoice = this.engine.createInvoice(m.amount, m.unit)
          // The fulfillment is durable before its condition leaves: a restarted payee still settles.
          const createdAt = this.#now()
          this.#write(() => { this.store.addInvoice({ ...invoice, createdAt }) })
          this.#invoiceConditions.set(toHex(invoice.id), invoice.condition)
          this.#openInvoices.set(toHex(invoice.id), { condition: invoice.condition, createdAt })
          this.#invoicedFor.set(toHex(invoice.condition), from.account)
          answer = { t: 'invoice', id: m.id, condition: invoice.condition, reason: null }
        } catch (err) {
          answer = { t: 'invoice', id: m.id, condition: null, reason: (err as Error).message.slice(0, 64) }
        }
        // With the payee's radius-2 view for the payer's router, unless its copy is fresh.
        const unit = m.unit
        void (answer.condition === null || m.view === false ? Promise.resolve({ view: [], spent: 0 }) : this.#routing.invoiceView(unit)).then((v) => { this.#send(from, { ...answer, ...v }) })
        return
      }
      case 'lines?': {
        // Capacities are shared with friends only (issue 6 (a)): others get an empty report.
        const friend = [...this.#lines.values()].some((h) => bytesEqual(h.peer.account, from.account))
        this.#send(from, { t: 'lines', id: m.id, ...(friend ? this.#report() : { lines: [], policy: { fees: [], offers: [] } }) })
        return
      }
      case 'tree':
      case 'probe':
      case 'probe-result':
        this.#routing.receive(from.account, m)
        return
      case 'invoice':
      case 'lines': {
        const p = this.#requests.get(toHex(m.id))
        if (p === undefined) return
        this.#requests.delete(toHex(m.id))
        clearTimeout(p.timer)
        p.resolve(m)
        return
      }
      case 'line': return
    }
  }

  /** This node's lines (what can flow each way now) and its fee and offer policy. */
  #report (): NodeReport {
    const lines: LineReport[] = []
    for (const h of this.#lines.values()) {
      if (h.channel.signed === null) continue
      const s = h.channel.state
      const side = h.channel.side
      lines.push({ peer: h.peer.account, unit: s.unit, out: availableToPay(s, side), in: availableToPay(s, side === 'a' ? 'b' : 'a') })
    }
    const policy: PolicyReport = { fees: this.store.fees(), offers: this.store.offers() }
    return { lines, policy }
  }

  /** Sends a request to an account and waits (bounded) for the answer with the same id. */
  async #request (to: Uint8Array, make: (id: Uint8Array) => CreditMessage): Promise<CreditMessage> {
    const id = this.newId()
    const device = this.#ctx.devices(to)[0] ?? to
    return await new Promise<CreditMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#requests.delete(toHex(id))
        reject(new PaymentFailedError(ErrorCode.unreachable, `account ${toHex(to).slice(0, 16)}… did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`, { hint: 'its node is offline or out of reach' }))
      }, REQUEST_TIMEOUT_MS)
      this.#requests.set(toHex(id), { resolve, reject, timer })
      this.#send({ account: to, device }, make(id))
    })
  }

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
          const signed = o.signed === null ? null : encodeSignedLineState(o.signed)
          const seq = o.signed?.state.seq ?? 0
          const proposal = o.proposal
          this.#write(() => {
            this.store.addLine(row, now)
            if (signed !== null) this.store.saveSigned(row.id, seq, signed, now)
            this.store.saveChannel(row.id, proposal, now)
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
          if (o.commit.changes.some((c) => c.kind === 'limit')) this.#routing.linesChanged()
          break
        case 'refused':
          this.#refused(held, o)
          break
        case 'resynced':
          this.#wake(held, o.state)
          this.#engine(this.engine.onResynced(o.state, this.#now()))
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

  /** A committed update: the engine learns of it (holds arrive, settles and releases resolve payments). */
  private onCommitted (held: HeldLine, o: Extract<LineOutput, { do: 'committed' }>): void {
    if (o.commit.proposer !== held.channel.side) {
      for (const c of o.commit.changes) {
        if (c.kind !== 'settle') continue
        this.#paidOut.set(toHex(createHash('sha256').update(c.fulfillment).digest()), true)
        if (this.#paidOut.size > PAID_OUT_KEPT) this.#paidOut.delete(this.#paidOut.keys().next().value as string)
      }
    }
    this.#engine(this.engine.onCommitted(o.state, o.commit.proposer, o.commit.changes, o.commit.attachments, this.#now()))
  }

  /** One of our changes will not be made: the engine turns a refused hold into a reject. */
  private onRefused (held: HeldLine, o: Extract<LineOutput, { do: 'refused' }>): void {
    if (o.change.kind === 'limit') return
    this.#engine(this.engine.onRefused(held.channel.state, [o.change], o.reason, this.#now()))
  }

  /** Carries out the engine's outputs, in order, each to the end before the next. */
  #engine (outputs: EngineOutput[]): void {
    this.#engineQueue.push(...outputs)
    // The engine's records of what changed commit with the line changes of the same turn (flush).
    this.#flushSoon()
    if (this.#draining) return
    this.#draining = true
    try {
      for (let o = this.#engineQueue.shift(); o !== undefined; o = this.#engineQueue.shift()) {
        try { this.#engineOutput(o) } catch (err) { this.#ctx.logger.error('payment engine output failed', { kind: o.kind, err }) }
      }
    } finally {
      this.#draining = false
    }
  }

  #engineOutput (o: EngineOutput): void {
    const now = this.#now()
    switch (o.kind) {
      case 'change': {
        const held = this.#lines.get(toHex(o.line))
        if (held === undefined) { this.#ctx.logger.warn('the engine changed a line this node does not hold', { line: toHex(o.line) }); return }
        this.#run(held, held.channel.enqueue(o.change, o.attachment, now))
        return
      }
      case 'done':
      case 'failed': {
        const ok = o.kind === 'done'
        const routes = routesOf(o.paths, this.#sentPaths.get(toHex(o.payment)))
        this.#sentPaths.delete(toHex(o.payment))
        const outcome = ok ? { status: 'done' as const, fee: o.fee, routes } : { status: 'failed' as const, code: o.code, message: o.message, routes }
        this.#write(() => { this.store.finishPayment(o.payment, outcome, now) })
        const p = this.#payments.get(toHex(o.payment))
        if (p !== undefined) {
          this.#payments.delete(toHex(o.payment))
          clearTimeout(p.timer)
          p.resolve(o)
        }
        return
      }
      case 'received': {
        const condition = this.#invoiceConditions.get(toHex(o.invoice))
        this.#invoiceConditions.delete(toHex(o.invoice))
        this.#openInvoices.delete(toHex(o.invoice))
        const payer = condition === undefined ? undefined : this.#invoicedFor.get(toHex(condition))
        if (condition !== undefined) this.#invoicedFor.delete(toHex(condition))
        this.#write(() => {
          if (condition !== undefined) this.store.invoicePaid(condition, now)
          else this.store.db.prepare('UPDATE credit_invoices SET paid_at = ? WHERE id = ? AND paid_at IS NULL').run(now, o.invoice)
          this.store.addPayment({ id: o.invoice, direction: 'received', peer: payer ?? new Uint8Array(32), amount: o.amount, unit: o.unit, fee: 0n, status: 'done', routes: null, createdAt: now, doneAt: now })
        })
        return
      }
      case 'forwarded': {
        const fee = o.in.unit === o.out.unit ? o.in.amount - o.out.amount : 0n
        const id = this.newId()
        const lost = o.lost === true || (!o.ok && this.#paidOut.has(toHex(o.condition)))
        this.#paidOut.delete(toHex(o.condition))
        this.#write(() => this.store.addPayment({ id, direction: 'forwarded', peer: o.out.peer, amount: o.out.amount, unit: o.out.unit, fee, status: o.ok ? 'done' : 'failed', message: o.message ?? (lost ? 'paid downstream, not paid upstream (the upstream hold expired)' : null), routes: null, createdAt: now, doneAt: now }))
      }
    }
  }

  #withdrawStaleInvoices (now: number): void {
    for (const [id, i] of this.#openInvoices) {
      if (now - i.createdAt < INVOICE_TTL_MS) continue
      this.#openInvoices.delete(id)
      this.#invoiceConditions.delete(id)
      this.#invoicedFor.delete(toHex(i.condition))
      this.#engine(this.engine.forgetInvoice(i.condition))
      this.#write(() => { this.store.db.prepare('DELETE FROM credit_invoices WHERE condition = ? AND paid_at IS NULL').run(i.condition) })
    }
  }

  /** Queues a write for the next group commit. */
  #write (fn: () => void): void {
    this.#writes.push(fn)
    this.#flushSoon()
  }

  /** Sets the group commit for the end of this turn, once. */
  #flushSoon (): void {
    this.#flushTimer ??= setImmediate(() => { this.flush() })
  }

  /** Commits every queued write in one transaction. */
  flush (): void {
    if (this.#flushTimer !== null) { clearImmediate(this.#flushTimer); this.#flushTimer = null }
    // The engine's forwards and payments that changed since the last commit go in this one:
    // before any message that depends on them leaves, and one write per record however
    // often it changed in between.
    const records = this.engine.takeRecords()
    if (records.length > 0) this.#writes.push(() => { this.store.putRecords(records.map((r) => ({ key: r.key, value: r.value === null ? null : encodeCanonical(r.value) }))) })
    if (this.#writes.length === 0) return
    const writes = this.#writes
    this.#writes = []
    this.store.transaction(() => { for (const w of writes) w() })
  }

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
      // Whatever this message depends on is committed before it leaves.
      this.flush()
      await this.#ctx.send(to, bytes, { signal: AbortSignal.timeout(SEND_TIMEOUT_MS) })
    }).catch((err: unknown) => {
      // The channel re-sends what matters (proposals; syncs on reconnect).
      this.#ctx.logger.debug('credit message not sent', { to: toHex(to.account), err })
    })
    this.#sendQueues.set(key, next)
    void next.then(() => { if (this.#sendQueues.get(key) === next) this.#sendQueues.delete(key) })
  }


  // ---- timers -----------------------------------------------------------------------------

  /** When the engine's expiry sweep next has work (it says so itself: no polling). */
  private nextTick (): number | null {
    return this.engine.nextDeadline()
  }

  private onTick (now: number): void {
    this.#engine(this.engine.tick(now))
  }

  /**
   * Sets the timer once per turn, not after every message: finding the next deadline
   * walks every open hold, and a burst of payments runs hundreds of messages a turn.
   */
  #schedule (): void {
    if (this.#stopped) return
    this.#scheduleSoon ??= setImmediate(() => { this.#scheduleSoon = null; this.#scheduleNow() })
  }

  #scheduleNow (): void {
    if (this.#stopped) return
    let at = this.nextTick() ?? Infinity
    for (const held of this.#lines.values()) {
      const d = held.channel.nextDeadline()
      if (d !== null && d < at) at = d
    }
    if (at === Infinity || at >= this.#timerAt) return
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timerAt = at
    // At least a few ms after now: a deadline already past must not make a busy loop.
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#timerAt = Infinity
      const now = this.#now()
      for (const held of this.#lines.values()) {
        const d = held.channel.nextDeadline()
        if (d !== null && d <= now) this.#run(held, held.channel.tick(now))
      }
      this.onTick(now)
      this.#scheduleNow()
    }, Math.max(5, at - this.#now()))
    this.#timer.unref()
  }

  // ---- commands and queries --------------------------------------------------------------

  /** An account from its hex key or a prefix of it: a member of a network this node is in, or the peer of a line. */
  resolveAccount (text: string): Uint8Array {
    const prefix = text.toLowerCase()
    if (!/^[0-9a-f]{8,64}$/.test(prefix)) throw new UnknownCreditAccountError(`"${text}" is not an account key`, { hint: 'give the account key in hex (8+ digits are enough)' })
    // A whole key needs no list of every member (built afresh per call, which a payment
    // per call cannot afford): a line's peer, or a member of a network here (cached).
    if (prefix.length === 64 && prefix !== toHex(this.#self.account)) {
      const account = new Uint8Array(Buffer.from(prefix, 'hex'))
      for (const h of this.#lines.values()) if (bytesEqual(h.peer.account, account)) return h.peer.account
      if (this.#ctx.knows(account)) return account
    }
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

  /** This node's spanning trees in `unit` (roots, own and friends' coordinates). */
  trees (unit: string): ReturnType<CreditRouting['treesOf']> { return this.#routing.treesOf(unit) }

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
  private newId (): Uint8Array { return randomFromPool(16) }

  setFee (unit: string, ppm: number): { unit: string, ppm: number } {
    checkUnit(unit)
    if (!Number.isSafeInteger(ppm) || ppm < 0 || ppm >= 1_000_000) throw new InvalidAmountError(`a fee of ${ppm} ppm is not a whole number from 0 to 999999`)
    this.engine.setFee(unit, ppm)
    this.store.setFee(unit, ppm)
    return { unit, ppm }
  }

  setOffer (from: string, to: string, rate: bigint): { from: string, to: string, rate: string } {
    this.engine.setOffer(checkUnit(from), checkUnit(to), rate)
    this.store.setOffer(from, to, rate)
    return { from, to, rate: formatAmount(rate) }
  }

  /** Another account's lines and policy, for the router (cached briefly; undefined when it does not answer). */
  async #ask (account: Uint8Array): Promise<NodeReport | undefined> {
    const k = toHex(account)
    const cached = this.#reports.get(k)
    if (cached !== undefined && this.#now() - cached.at < REPORT_TTL_MS) return cached.report
    let report: NodeReport | undefined
    try {
      const m = await this.#request(account, (id) => ({ t: 'lines?', id }))
      if (m.t === 'lines') report = { lines: m.lines, policy: m.policy }
    } catch {
      report = undefined
    }
    this.#reports.set(k, { at: this.#now(), report })
    return report
  }

  /**
   * Pays `amount` of `unit` to `payee`: an invoice from the payee, paths from the router,
   * then the engine's holds; resolves when every part settled, throws PaymentFailedError
   * (no balance changed) otherwise.
   */
  async pay (payee: Uint8Array, amount: bigint, unit: string, maxFee: bigint): Promise<PayResult> {
    checkUnit(unit)
    if (amount <= 0n) throw new InvalidAmountError('a payment is for an amount above 0')
    // The invoice first: it carries the payee's view, where the router starts (credit-routing.ts).
    // A view younger than the reports the router trusts is used again, and not asked for.
    const viewKey = toHex(payee) + unit
    const kept = this.#views.get(viewKey)
    const fresh = kept !== undefined && this.#now() - kept.at < REPORT_TTL_MS
    const invoice = await this.#request(payee, (id) => fresh ? { t: 'invoice?', id, amount, unit, view: false } : { t: 'invoice?', id, amount, unit })
    if (invoice.t !== 'invoice' || invoice.condition === null) {
      throw new PaymentFailedError(ErrorCode.unexpectedPayment, `the payee would not make an invoice: ${invoice.t === 'invoice' ? invoice.reason ?? 'no reason' : 'a wrong answer'}`)
    }
    const view = fresh ? { view: kept.view, spent: 0 } : { view: invoice.view ?? [], spent: invoice.spent ?? 0 }
    if (!fresh) {
      if (this.#views.size >= MAX_KEPT_VIEWS) this.#views.delete(this.#views.keys().next().value as string)
      this.#views.set(viewKey, { at: this.#now(), view: view.view })
    }
    const found = await this.#routing.findPaths(payee, amount, unit, view)
    const paths = found.paths
    if (paths.length === 0 && found.carries === 0n) throw new PaymentFailedError(ErrorCode.unreachable, `no path to ${toHex(payee).slice(0, 16)}… in ${unit} with room for the payment`, { hint: 'open trust lines that lead there (`peernet credit trust`)' })
    if (paths.length === 0) throw new PaymentFailedError(ErrorCode.insufficientLiquidity, `the paths found carry at most ${formatAmount(found.carries)} of the ${formatAmount(amount)} ${unit}`, { hint: 'pay less, or ask for more credit along the way' })
    const id = this.newId()
    const now = this.#now()
    this.#write(() => { this.store.addPayment({ id, direction: 'sent', peer: payee, amount, unit, fee: 0n, status: 'pending', routes: null, createdAt: now }) })
    const hops = Math.max(...paths.map((p) => p.hops.length))
    const result = new Promise<DoneOutput | FailedOutput>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#payments.delete(toHex(id))
        reject(new PaymentFailedError(ErrorCode.transferTimedOut, 'the payment did not finish in time; its holds expire and are released'))
      }, 10_000 + hops * 2_000 + PAY_SLACK_MS)
      this.#payments.set(toHex(id), { resolve, reject, timer })
    })
    this.#sentPaths.set(toHex(id), paths)
    const started = this.engine.pay({ id, payee, amount, unit, maxFee, condition: invoice.condition, paths, now })
    this.#engine(started.outputs)
    this.#schedule()
    const end = await result
    if (end.kind === 'failed') throw new PaymentFailedError(end.code, end.message)
    return { id: toHex(id), account: toHex(payee), amount: formatAmount(end.delivered), unit, fee: formatAmount(end.fee), routes: routesOf(end.paths, paths), routing: { method: found.method, messages: found.messages } }
  }

  stop (): void {
    if (!this.#stopped) {
      try { this.flush() } catch (err) { this.#ctx.logger.error('could not commit the last credit writes', { err }) }
      try { this.store.saveEngine(encodeCanonical(this.engine.snapshot()), this.#now()) } catch (err) { this.#ctx.logger.warn('could not save the payment engine\'s state', { err }) }
    }
    this.#stopped = true
    this.#routing.stop()
    clearInterval(this.#sweep)
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#scheduleSoon !== null) clearImmediate(this.#scheduleSoon)
    this.#scheduleSoon = null
    for (const set of this.#waiters.values()) for (const w of [...set]) w.reject(new LinePendingError('the node is stopping'))
    for (const p of [...this.#requests.values(), ...this.#payments.values()]) { clearTimeout(p.timer); p.reject(new LinePendingError('the node is stopping')) }
    this.#requests.clear()
    this.#payments.clear()
  }
}

/** The engine's path outcomes as the CLI prints them, with each hop's unit from the router's paths (same order). */
function routesOf (outcomes: DoneOutput['paths'], paths: PaymentPath[] | undefined): RouteView[] {
  return outcomes.map((p, i) => ({
    amount: formatAmount(p.delivered),
    ok: p.ok,
    hops: p.hops.map((h, j) => ({ account: toHex(h), unit: paths?.[i]?.hops[j]?.unit ?? p.sentUnit }))
  }))
}
