// The payment engine: one node's part in multi-hop credit payments, in the Interledger
// model (RFC 0027 §"Overview"): the payee makes a secret and hands out its hash (the
// condition); the payer places a hold with that condition on its line to the first hop,
// carrying an ILP Prepare; each hop places a hold on its next line with a shorter expiry;
// the payee settles its hold by showing the secret (the ILP Fulfill), and each hop uses
// the same secret to settle the hold upstream of it. A reject or an expiry releases the
// holds instead. A payment too big for one path goes as several parts, one hold per path,
// all with the same condition; the payee settles none until the parts add up to the
// invoice, then all at once.
//
// Sans-IO (DESIGN.md, "Sans-IO"): the engine never signs, stores or sends. It reads the
// node's committed line states through an injected LineBook, takes `now` with every call,
// and returns outputs: line changes for the shell to propose on the line's channel (with
// the ILP packet as the change's attachment), and the end of each payment. The shell tells
// it of every committed update (`onCommitted`) and of every refused proposal
// (`onRefused`), and calls `tick` now and then for expiries.

import { createHash } from 'node:crypto'
import { randomFromPool } from '../../core/random.ts'
import { bytesEqual } from '../../core/encoding.ts'
import type { CanonicalValue } from '../../core/encoding.ts'
import { MAX_AMOUNT, checkUnit, formatAmount } from './amount.ts'
import { InvalidIlpPacketError, InvalidPaymentError } from './errors.ts'
import {
  ErrorCode, accountOfIlpAddress, decodePrepare, decodeReply, encodeFulfill, encodePrepare, encodeReject, ilpAddressOf
} from './ilp-packet.ts'
import type { IlpPrepare } from './ilp-packet.ts'
import { MAX_HOLDS, availableToPay, lineId, sideOf } from './line.ts'
import type { Hold, LineChange, LineState, Side } from './line.ts'

// ---- inputs -----------------------------------------------------------------------------

/** The node's committed trust lines, as the shell (store or test harness) holds them. */
export interface LineBook {
  /** The newest fully-signed state of this node's line with `peer` in `unit`, or undefined when there is none. */
  get: (peer: Uint8Array, unit: string) => LineState | undefined
  /** Every line this node holds (the expiry sweep walks them). */
  all: () => Iterable<LineState>
}

/** One hop of a path: the next account, the unit of the line into it, and what it announced for forwarding onwards. */
export interface PathHop {
  account: Uint8Array
  /** The unit of the line from the previous account (the payer, for the first hop) to this one. */
  unit: string
  /** This hop's fee for forwarding onwards, in parts per million of what it receives (intermediaries only; 0 when unknown). */
  feePpm?: number
  /**
   * This hop's exchange rate from `unit` into the next hop's unit, in millionths of the
   * next unit per unit (1_000_000n is 1:1). Needed when the next hop's unit differs.
   */
  rate?: bigint
}

/** A path from the router: the hops after the payer, the last one the payee, and the amount to deliver over it. */
export interface PaymentPath {
  hops: PathHop[]
  /** What the payee receives over this path, in the payment's unit (millionths). */
  amount: bigint
}

export interface PayRequest {
  payee: Uint8Array
  /** What the payee receives in total, in `unit`: the sum of the paths' amounts. */
  amount: bigint
  /** The payee's unit (the unit of every path's last hop). */
  unit: string
  /** The most the payer accepts to pay in fees over all paths, in `unit`. */
  maxFee: bigint
  /** The payee's invoice condition: SHA-256 of the fulfillment it keeps (32 bytes). */
  condition: Uint8Array
  paths: PaymentPath[]
  now: number
  /** 16 bytes naming the payment in the outputs; random when absent. */
  id?: Uint8Array
  /** End-to-end data for the payee (the ILP prepare's data field). */
  data?: Uint8Array
}

export interface Invoice {
  /** 16 bytes. */
  id: Uint8Array
  amount: bigint
  unit: string
  /** SHA-256 of `fulfillment`: what the payer puts on its holds. */
  condition: Uint8Array
  /** The secret (32 bytes); the shell persists it with the invoice. */
  fulfillment: Uint8Array
}

export interface PaymentEngineOptions {
  /** This node's account key (32 bytes). */
  account: Uint8Array
  lines: LineBook
  /** Source of hold ids, invoice ids and secrets; the CSPRNG (core/random.ts) when absent (tests inject a seeded one). */
  random?: (bytes: number) => Uint8Array
  /**
   * What each intermediary takes off the expiry of the hold it forwards (ms): the time it
   * keeps to settle upstream once downstream settled. Default 2,000.
   */
  hopMarginMs?: number
  /** The least time a hold this node places, or accepts as payee, must have left (ms). Default 1,000. */
  minHoldMs?: number
  /** The time the payee's own hold gets, counted from the payer's `now` (ms). Default 10,000. */
  lastHopMs?: number
  /** How long after expiry the side paid releases a hold its payer left behind (ms). Default 1,000. */
  releaseGraceMs?: number
  /**
   * The longest this node lets a hold it forwards stay pending (ms): the outgoing expiry is
   * at most now + this, so a payer cannot lock up its credit for long (ilp-connector's
   * maxHoldTime). Default 60,000.
   */
  maxHoldMs?: number
}

// ---- outputs ----------------------------------------------------------------------------

/** A change for the shell to propose on the line with `peer` in `unit` (line id `line`). */
export interface ChangeOutput {
  kind: 'change'
  line: Uint8Array
  peer: Uint8Array
  unit: string
  change: LineChange
  /** What travels with the change: `{ilp, route}` for a hold, `{ilp}` for a settle or release (the ILP fulfill or reject). */
  attachment: CanonicalValue | null
}

/** What became of one path of a payment this node sent. */
export interface PathOutcome {
  hops: Uint8Array[]
  /** The unit and amount of the hold on the payer's first line. */
  sentUnit: string
  sent: bigint
  /** What the payee was to receive over it, in the payment's unit. */
  delivered: bigint
  /** The fees of its hops, in the payment's unit, as announced. */
  fee: bigint
  ok: boolean
  /** For a path that failed: the ILP reject. */
  code?: string
  message?: string
  triggeredBy?: string
}

/**
 * A payment this node sent has ended with at least one path settled. `ok` when every path
 * settled; false when some settled and others did not (the payee settled all parts at
 * once, but a hop could not pass the settlement on before its hold expired).
 */
export interface DoneOutput {
  kind: 'done'
  payment: Uint8Array
  ok: boolean
  unit: string
  /** What the payee received, in `unit`. */
  delivered: bigint
  /** Fees paid over the settled paths, in `unit`. */
  fee: bigint
  /** delivered + fee: what the payment cost, in `unit`. */
  paid: bigint
  /** What left this node's lines, per unit of its first lines. */
  sent: Array<{ unit: string, amount: bigint }>
  paths: PathOutcome[]
  fulfillment: Uint8Array
}

/** A payment this node sent has ended with nothing settled: no balance moved. `code` is the ILP error code. */
export interface FailedOutput {
  kind: 'failed'
  payment: Uint8Array
  code: string
  message: string
  /** ILP address of the node that rejected (ours when refused before sending). */
  triggeredBy: string
  paths: PathOutcome[]
}

/** An invoice of this node was paid: its parts are being settled. */
export interface ReceivedOutput {
  kind: 'received'
  invoice: Uint8Array
  unit: string
  amount: bigint
  parts: number
}

/** A payment this node forwarded has ended: `ok` when both sides settled (this node earned `in − out` valued at its rate). */
export interface ForwardedOutput {
  kind: 'forwarded'
  condition: Uint8Array
  ok: boolean
  in: { peer: Uint8Array, unit: string, amount: bigint }
  out: { peer: Uint8Array, unit: string, amount: bigint }
  /** True when downstream settled but the upstream hold could not be settled in time: this node paid without being paid. */
  lost?: boolean
  /** Why the outcome is not plain (see `PaymentEngine.onResynced`). */
  message?: string
}

/**
 * A part of a paid invoice whose settle the payer refused (its hold expired before the
 * settle reached it: the payer's side was silent too long). That amount was not received.
 */
export interface PartLostOutput {
  kind: 'part-lost'
  invoice: Uint8Array
  unit: string
  amount: bigint
  reason: string
}

export type EngineOutput = ChangeOutput | DoneOutput | FailedOutput | ReceivedOutput | ForwardedOutput | PartLostOutput

// ---- the plan: amounts per path ---------------------------------------------------------

/** One path's amounts, worked out backwards from what the payee is to receive. */
export interface PathPlan {
  hops: PathHop[]
  /** The hold on the payer's first line. */
  sent: bigint
  delivered: bigint
  fee: bigint
}

const PPM = 1_000_000n
const ONE_TO_ONE = 1_000_000n

/**
 * What an intermediary sends on for `amount` received (the note's floor(in × rate × (1 −
 * ppm/1e6))): exact integers, rounded down, in the intermediary's favour.
 */
export function forwardAmount (amount: bigint, rate: bigint, feePpm: number): bigint {
  return amount * rate * (PPM - BigInt(feePpm)) / (PPM * PPM)
}

/**
 * The amounts of one path: the least the payer must send on its first line so that every
 * hop, rounding down as forwardAmount does, passes at least `path.amount` to the payee.
 * Throws InvalidPaymentError when a hop changes unit without an announced rate.
 */
export function planPath (path: PaymentPath): PathPlan {
  const hops = path.hops
  let need = path.amount
  // Walk back from the payee: hop i (an intermediary) turns x into forwardAmount(x, rate_i, fee_i);
  // the least x with forwardAmount(x) ≥ need is ceil(need · 1e12 / (rate · (1e6 − ppm))).
  let num = 1n
  let den = 1n
  for (let i = hops.length - 2; i >= 0; i--) {
    const hop = hops[i] as PathHop
    const next = hops[i + 1] as PathHop
    const rate = rateOf(hop, next)
    const ppm = BigInt(hop.feePpm ?? 0)
    if (ppm < 0n || ppm >= PPM) throw new InvalidPaymentError(`a fee of ${hop.feePpm} ppm is not below 1,000,000`)
    const k = rate * (PPM - ppm)
    need = ceilDiv(need * PPM * PPM, k)
    num *= rate
    den *= ONE_TO_ONE
  }
  // The fee in the payee's unit: what was sent, valued at the announced rates without fees, less what arrives.
  const valued = ceilDiv(need * num, den)
  const fee = valued > path.amount ? valued - path.amount : 0n
  return { hops, sent: need, delivered: path.amount, fee }
}

function rateOf (hop: PathHop, next: PathHop): bigint {
  if (hop.rate !== undefined) {
    if (hop.rate <= 0n) throw new InvalidPaymentError('an exchange rate must be above zero')
    return hop.rate
  }
  if (hop.unit === next.unit) return ONE_TO_ONE
  throw new InvalidPaymentError(`the path changes from ${hop.unit} to ${next.unit} at a hop whose exchange rate is not known`, { hint: 'the router must give the rate the hop offers' })
}

function ceilDiv (a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b
}

// ---- the engine -------------------------------------------------------------------------

interface HoldRef {
  line: Uint8Array
  peer: Uint8Array
  unit: string
  hold: Hold
}

interface SentPart {
  ref: HoldRef
  plan: PathPlan
  state: 'pending' | 'fulfilled' | 'rejected'
  code?: string
  message?: string
  triggeredBy?: string
}

interface SentPayment {
  id: Uint8Array
  unit: string
  condition: Uint8Array
  parts: SentPart[]
  fulfillment?: Uint8Array
}

interface OpenInvoice extends Invoice {
  /** Parts held for it, by hold key, until settled or released. */
  parts: Map<string, HoldRef>
}

interface Forward {
  condition: Uint8Array
  up: HoldRef
  down: HoldRef
  /** Set once downstream settled or released and the upstream answer has gone out. */
  answered: boolean
}

export class PaymentEngine {
  readonly account: Uint8Array
  readonly address: string
  private readonly lines: LineBook
  private readonly random: (bytes: number) => Uint8Array
  private readonly hopMarginMs: number
  private readonly minHoldMs: number
  private readonly lastHopMs: number
  private readonly releaseGraceMs: number
  private readonly maxHoldMs: number

  private readonly fees = new Map<string, number>()
  private readonly offers = new Map<string, bigint>()
  /** Open invoices, by condition. A paid one leaves (the shell keeps the record): a later part for it is unexpected. */
  private readonly invoices = new Map<string, OpenInvoice>()
  /** Open invoices that hold parts (the ones tick watches). */
  private readonly collecting = new Set<OpenInvoice>()
  /** The open invoice each held part belongs to, by hold key. */
  private readonly partOf = new Map<string, OpenInvoice>()
  private readonly payments = new Map<string, SentPayment>() // by payment id
  private readonly sentParts = new Map<string, { payment: SentPayment, part: SentPart }>() // by hold key
  private readonly forwardsDown = new Map<string, Forward>() // by downstream hold key
  private readonly forwardsUp = new Map<string, Forward>() // by upstream hold key
  /** Holds this node proposed and that are not yet committed or refused: their amounts are spoken for. */
  private readonly inflight = new Map<string, Map<string, bigint>>() // line hex → hold hex → amount
  /** Settles and releases this node proposed, not yet committed or refused (so tick does not repeat them). */
  private readonly pendingOps = new Set<string>()
  /** Settles of invoice parts under way, by hold key (to report a part whose settle was refused). */
  private readonly settling = new Map<string, { invoice: Uint8Array, unit: string, amount: bigint }>()
  /** Forwards and payments changed since the shell last took their records (see `takeRecords`). */
  private readonly dirty = new Set<Forward | SentPayment>()

  constructor (options: PaymentEngineOptions) {
    if (options.account.byteLength !== 32) throw new InvalidPaymentError('an account key is 32 bytes')
    this.account = options.account
    this.address = ilpAddressOf(options.account)
    this.lines = options.lines
    this.random = options.random ?? randomFromPool
    this.hopMarginMs = options.hopMarginMs ?? 2_000
    this.minHoldMs = options.minHoldMs ?? 1_000
    this.lastHopMs = options.lastHopMs ?? 10_000
    this.releaseGraceMs = options.releaseGraceMs ?? 1_000
    this.maxHoldMs = options.maxHoldMs ?? 60_000
    if (this.lastHopMs <= this.minHoldMs) throw new InvalidPaymentError('lastHopMs must be above minHoldMs, or no payee would accept the hold')
  }

  // ---- policy ---------------------------------------------------------------------------

  /** The fee this node takes for forwarding into a line of `unit`, in ppm of what it receives. */
  setFee (unit: string, ppm: number): void {
    checkUnit(unit)
    if (!Number.isSafeInteger(ppm) || ppm < 0 || ppm >= 1_000_000) throw new InvalidPaymentError(`a fee of ${ppm} ppm is not a whole number from 0 to 999,999`)
    this.fees.set(unit, ppm)
  }

  /** Offers exchange from `from` into `to`: `rate` millionths of `to` for one `from` (1_080_000n: 1 from buys 1.08 to). 0n withdraws the offer. */
  setOffer (from: string, to: string, rate: bigint): void {
    checkUnit(from)
    checkUnit(to)
    if (from === to) throw new InvalidPaymentError('an exchange offer needs two different units')
    if (rate < 0n || rate > MAX_AMOUNT) throw new InvalidPaymentError('an exchange rate is a non-negative amount of millionths')
    if (rate === 0n) this.offers.delete(`${from}>${to}`)
    else this.offers.set(`${from}>${to}`, rate)
  }

  feeOf (unit: string): number {
    return this.fees.get(unit) ?? 0
  }

  offerOf (from: string, to: string): bigint | undefined {
    return from === to ? ONE_TO_ONE : this.offers.get(`${from}>${to}`)
  }

  // ---- receiver -------------------------------------------------------------------------

  /** A new invoice: the payer gets `{id, condition}`; the shell persists the whole invoice (with the fulfillment). */
  createInvoice (amount: bigint, unit: string): Invoice {
    checkUnit(unit)
    if (amount <= 0n || amount > MAX_AMOUNT) throw new InvalidPaymentError('an invoice is for an amount above zero')
    const fulfillment = this.random(32)
    const invoice: Invoice = { id: this.random(16), amount, unit, condition: sha256(fulfillment), fulfillment }
    this.addInvoice(invoice)
    return invoice
  }

  /** Takes back an open invoice the shell persisted (after a restart). */
  addInvoice (invoice: Invoice): void {
    if (!bytesEqual(sha256(invoice.fulfillment), invoice.condition)) throw new InvalidPaymentError('the invoice\'s condition is not the hash of its fulfillment')
    this.invoices.set(hex(invoice.condition), { ...invoice, parts: new Map() })
  }

  /** Withdraws an open invoice: parts held for it are released now (F06), later ones refused. */
  forgetInvoice (condition: Uint8Array): EngineOutput[] {
    const invoice = this.invoices.get(hex(condition))
    const out: EngineOutput[] = []
    if (invoice === undefined) return out
    this.invoices.delete(hex(condition))
    for (const ref of invoice.parts.values()) this.release(ref, { code: ErrorCode.unexpectedPayment, message: 'the payee withdrew the invoice' }, out)
    this.dropParts(invoice)
    return out
  }

  // ---- sender ---------------------------------------------------------------------------

  /**
   * Starts a payment: works out each path's amounts, refuses before sending anything when
   * the fees exceed `maxFee` (R01), a first line lacks the capacity (T04) or is missing
   * (F02), and otherwise places one hold per path with an ILP Prepare. The payment ends
   * with one `done` or `failed` output, from this call or a later one.
   */
  pay (req: PayRequest): { payment: Uint8Array, outputs: EngineOutput[] } {
    const id = req.id ?? this.random(16)
    if (id.byteLength !== 16) throw new InvalidPaymentError('a payment id is 16 bytes')
    if (req.condition.byteLength !== 32) throw new InvalidPaymentError('a payment condition is 32 bytes (SHA-256)', { hint: 'ask the payee for an invoice' })
    checkUnit(req.unit)
    if (req.amount <= 0n || req.amount > MAX_AMOUNT) throw new InvalidPaymentError('a payment is for an amount above zero')
    if (req.maxFee < 0n) throw new InvalidPaymentError('the fee cap cannot be negative')
    if (this.payments.has(hex(id))) throw new InvalidPaymentError('a payment with this id is under way')
    if (bytesEqual(req.payee, this.account)) throw new InvalidPaymentError('a payment to oneself', { hint: 'pay another account' })
    const fail = (code: string, message: string, paths: PathOutcome[] = []): { payment: Uint8Array, outputs: EngineOutput[] } =>
      ({ payment: id, outputs: [{ kind: 'failed', payment: id, code, message, triggeredBy: this.address, paths }] })

    if (req.paths.length === 0) return fail(ErrorCode.unreachable, `no path to the payee with capacity in ${req.unit}`)
    let total = 0n
    for (const path of req.paths) {
      const last = path.hops[path.hops.length - 1]
      if (last === undefined) throw new InvalidPaymentError('a path with no hops')
      if (!bytesEqual(last.account, req.payee)) throw new InvalidPaymentError('a path that does not end at the payee')
      if (last.unit !== req.unit) throw new InvalidPaymentError(`a path that reaches the payee in ${last.unit}, not ${req.unit}`)
      if (path.amount <= 0n) throw new InvalidPaymentError('a path with nothing to deliver')
      for (const hop of path.hops) {
        checkUnit(hop.unit)
        if (hop.account.byteLength !== 32) throw new InvalidPaymentError('a hop whose account is not 32 bytes')
      }
      total += path.amount
    }
    if (total !== req.amount) throw new InvalidPaymentError(`the paths deliver ${formatAmount(total)}, not the ${formatAmount(req.amount)} asked`)

    let plans: PathPlan[]
    try {
      plans = req.paths.map(planPath)
    } catch (err) {
      if (err instanceof InvalidPaymentError) return fail(ErrorCode.unreachable, err.message)
      throw err
    }
    const outcomes = plans.map((p) => outcomeOf(p, false))
    const fee = plans.reduce((s, p) => s + p.fee, 0n)
    if (fee > req.maxFee) {
      return fail(ErrorCode.insufficientSourceAmount, `the fees come to ${formatAmount(fee)} ${req.unit}, over the cap of ${formatAmount(req.maxFee)}`, outcomes)
    }
    if (plans.some((p) => p.sent > MAX_AMOUNT)) return fail(ErrorCode.amountTooLarge, 'with fees the payment is over the largest ILP amount', outcomes)

    // Capacity of each first line, counting what this node has already proposed on it.
    const byLine = new Map<string, { state: LineState, side: Side, need: bigint, peer: Uint8Array }>()
    for (const plan of plans) {
      const first = plan.hops[0] as PathHop
      const state = this.lines.get(first.account, first.unit)
      if (state === undefined) return fail(ErrorCode.unreachable, `no ${first.unit} trust line with the path's first hop`, outcomes)
      const side = sideOf(state, this.account) as Side
      const key = hex(this.lineIdOf(state))
      const entry = byLine.get(key) ?? { state, side, need: 0n, peer: first.account }
      entry.need += plan.sent
      byLine.set(key, entry)
    }
    for (const [key, { state, side, need }] of byLine) {
      const left = this.room(key, state, side)
      if (need > left) {
        return fail(ErrorCode.insufficientLiquidity, `the payment needs ${formatAmount(need)} ${state.unit} on a line with ${formatAmount(left)} ${state.unit} left`, outcomes)
      }
      if (state.holds.length + (this.inflight.get(key)?.size ?? 0) + plans.length > MAX_HOLDS) {
        return fail(ErrorCode.insufficientLiquidity, 'a first line has too many pending holds', outcomes)
      }
    }

    const payment: SentPayment = { id, unit: req.unit, condition: req.condition, parts: [] }
    const outputs: EngineOutput[] = []
    const destination = ilpAddressOf(req.payee)
    for (const plan of plans) {
      const first = plan.hops[0] as PathHop
      const state = this.lines.get(first.account, first.unit) as LineState
      const line = this.lineIdOf(state)
      // The payee's hold gets lastHopMs; each intermediary takes a margin off the one before (RFC 0027 §"Expiry").
      const expiresAt = req.now + this.lastHopMs + (plan.hops.length - 1) * this.hopMarginMs
      const hold: Hold = { id: this.random(16), payer: sideOf(state, this.account) as Side, amount: plan.sent, condition: req.condition, expiresAt }
      const ilp = encodePrepare({ amount: plan.sent, expiresAt, executionCondition: req.condition, destination, data: req.data ?? new Uint8Array(0) })
      const ref: HoldRef = { line, peer: first.account, unit: first.unit, hold }
      const part: SentPart = { ref, plan, state: 'pending' }
      payment.parts.push(part)
      this.sentParts.set(holdKey(line, hold.id), { payment, part })
      this.addInflight(line, hold)
      outputs.push({ kind: 'change', line, peer: first.account, unit: first.unit, change: { kind: 'hold', hold }, attachment: { ilp, route: encodeRoute(plan.hops.slice(1)) } })
    }
    this.payments.set(hex(id), payment)
    this.dirty.add(payment)
    return { payment: id, outputs }
  }

  // ---- inputs from the line channel -----------------------------------------------------

  /**
   * An update of one of this node's lines was signed by both sides. `state` is the new
   * state; `attachments[i]` travelled with `changes[i]`.
   */
  onCommitted (state: LineState, proposer: Side, changes: readonly LineChange[], attachments: readonly (CanonicalValue | null)[], now: number): EngineOutput[] {
    const me = sideOf(state, this.account)
    if (me === undefined) return []
    const peer = me === 'a' ? state.b : state.a
    const line = this.lineIdOf(state)
    const out: EngineOutput[] = []
    changes.forEach((change, i) => {
      const attachment = attachments[i] ?? null
      switch (change.kind) {
        case 'limit': break
        case 'hold': {
          const ref: HoldRef = { line, peer, unit: state.unit, hold: change.hold }
          if (proposer === me) this.dropInflight(line, change.hold.id)
          else this.onIncomingHold(ref, attachment, now, out)
          break
        }
        case 'settle': {
          const key = holdKey(line, change.id)
          this.pendingOps.delete(key)
          if (proposer === me) this.onOwnSettle(key, out)
          else this.onSettledByPeer(key, change.fulfillment, attachment, now, out)
          break
        }
        case 'release': {
          const key = holdKey(line, change.id)
          this.pendingOps.delete(key)
          this.onReleased(key, proposer === me, attachment, now, out)
          break
        }
      }
    })
    return out
  }

  /**
   * The line's state was adopted from the peer without its changes (the channel's
   * `resynced`: this node had lost state). A hold that is gone from it was settled or
   * released while this node could not see it; which, the state does not say (the balance
   * already holds what moved). What waited on such a hold closes now instead of waiting
   * for a commit that will never come: a forward whose downstream hold went answers
   * upstream with a reject (a fulfillment, if there was one, is not here to pass on); a
   * forward whose upstream hold went is reported ended, outcome unknown; an invoice part
   * no longer counts. Payments this node sent resolve at their holds' expiry, as before.
   */
  onResynced (state: LineState, _now: number): EngineOutput[] {
    if (sideOf(state, this.account) === undefined) return []
    const line = this.lineIdOf(state)
    const prefix = `${hex(line)}:`
    const held = new Set(state.holds.map((h) => holdKey(line, h.id)))
    const gone = (key: string): boolean => key.startsWith(prefix) && !held.has(key)
    const message = 'outcome unknown: the line was resynced from the peer after this node lost state; both lines hold their signed balances'
    const out: EngineOutput[] = []
    for (const [key, fwd] of [...this.forwardsDown]) {
      if (!gone(key)) continue
      this.closeDown(key)
      this.answerUpstream(fwd, { code: ErrorCode.internalError, message: 'this node lost track of the next hop\'s answer' }, out)
    }
    for (const [key, fwd] of [...this.forwardsUp]) {
      if (!gone(key)) continue
      this.closeUp(key)
      // Nothing left to answer: the upstream hold is gone.
      fwd.answered = true
      out.push({ ...forwarded(fwd, false), message })
    }
    for (const [key, invoice] of [...this.partOf]) {
      if (!gone(key)) continue
      invoice.parts.delete(key)
      this.partOf.delete(key)
      if (invoice.parts.size === 0) this.collecting.delete(invoice)
    }
    return out
  }

  /**
   * A change of this node's will not be made (it broke a rule on one side): each change is
   * dropped, and a refused hold becomes a reject (T04 for capacity, R02 for an expiry, F00
   * otherwise). `_now` is taken like every input's, though no answer depends on it yet.
   */
  onRefused (state: LineState, changes: readonly LineChange[], reason: string, _now: number): EngineOutput[] {
    const line = this.lineIdOf(state)
    const out: EngineOutput[] = []
    for (const change of changes) {
      if (change.kind === 'limit') continue
      const id = change.kind === 'hold' ? change.hold.id : change.id
      const key = holdKey(line, id)
      if (change.kind === 'hold') {
        this.dropInflight(line, id)
        const code = refusalCode(reason)
        const sent = this.sentParts.get(key)
        if (sent !== undefined) this.resolvePart(sent.payment, sent.part, 'rejected', out, { code, message: `the first hop refused the hold: ${reason}`, triggeredBy: this.address })
        const fwd = this.forwardsDown.get(key)
        if (fwd !== undefined) {
          this.closeDown(key)
          this.answerUpstream(fwd, { code, message: `the next hop refused the hold: ${reason}` }, out)
        }
      } else {
        this.pendingOps.delete(key)
        const part = this.settling.get(key)
        if (part !== undefined) {
          this.settling.delete(key)
          out.push({ kind: 'part-lost', ...part, reason })
        }
        const fwd = this.forwardsUp.get(key)
        if (change.kind === 'settle' && fwd !== undefined) {
          // Downstream is paid and upstream would not take the fulfillment (expired): the margin was not enough.
          this.closeUp(key)
          out.push(forwarded(fwd, false, true))
        }
      }
    }
    return out
  }

  /**
   * Expiries (RFC 0027 §"Expiry"): this node releases the holds it pays that have expired,
   * releases the holds it is paid that expired more than releaseGraceMs ago (their payer
   * is silent; nobody can settle them any more), and gives up on invoices whose parts do
   * not add up with their earliest expiry near.
   */
  tick (now: number): EngineOutput[] {
    const out: EngineOutput[] = []
    for (const state of this.lines.all()) {
      const me = sideOf(state, this.account)
      if (me === undefined) continue
      let line: Uint8Array | undefined
      for (const hold of state.holds) {
        const mine = hold.payer === me
        if (mine ? now <= hold.expiresAt : now <= hold.expiresAt + this.releaseGraceMs) continue
        line ??= this.lineIdOf(state)
        const key = holdKey(line, hold.id)
        if (this.pendingOps.has(key)) continue
        const ref: HoldRef = { line, peer: me === 'a' ? state.b : state.a, unit: state.unit, hold }
        this.release(ref, { code: ErrorCode.transferTimedOut, message: 'the hold expired' }, out)
      }
    }
    // A hold past its expiry can no longer be settled (line.ts refuses a settle after it, on
    // both sides), committed or not: a payment part or a forward waiting on one has failed,
    // even when the peer is silent and the hold's own release has to wait for it.
    for (const payment of [...this.payments.values()]) {
      for (const part of payment.parts) {
        if (part.state === 'pending' && now > part.ref.hold.expiresAt) {
          this.resolvePart(payment, part, 'rejected', out, { code: ErrorCode.transferTimedOut, message: 'the hold expired without an answer', triggeredBy: this.address })
        }
      }
    }
    for (const fwd of this.forwardsDown.values()) {
      if (!fwd.answered && now > fwd.down.hold.expiresAt) this.answerUpstream(fwd, { code: ErrorCode.transferTimedOut, message: 'the next hop did not answer before its hold expired' }, out)
    }
    for (const invoice of [...this.collecting]) {
      let earliest = Infinity
      for (const p of invoice.parts.values()) earliest = Math.min(earliest, p.hold.expiresAt)
      // Give up halfway through the last window, so the rejects reach the payer before its holds expire.
      if (now < earliest - this.minHoldMs / 2) continue
      let sum = 0n
      for (const p of invoice.parts.values()) sum += p.hold.amount
      for (const ref of invoice.parts.values()) {
        this.release(ref, { code: ErrorCode.transferTimedOut, message: `only ${formatAmount(sum)} of ${formatAmount(invoice.amount)} ${invoice.unit} arrived before the parts expired` }, out)
      }
      this.dropParts(invoice)
    }
    return out
  }

  /**
   * When `tick` next has something to do (ms since the epoch), or null when nothing is
   * open: the shell sets its timer to this rather than polling.
   */
  nextDeadline (): number | null {
    let at = Infinity
    for (const state of this.lines.all()) {
      const me = sideOf(state, this.account)
      if (me === undefined) continue
      for (const h of state.holds) {
        const due = h.payer === me ? h.expiresAt + 1 : h.expiresAt + this.releaseGraceMs + 1
        // A release already proposed waits for the peer, not for a timer (else a silent peer makes the shell spin).
        if (due < at && !this.pendingOps.has(holdKey(this.lineIdOf(state), h.id))) at = due
      }
    }
    for (const payment of this.payments.values()) {
      for (const part of payment.parts) if (part.state === 'pending') at = Math.min(at, part.ref.hold.expiresAt + 1)
    }
    for (const fwd of this.forwardsDown.values()) if (!fwd.answered) at = Math.min(at, fwd.down.hold.expiresAt + 1)
    for (const invoice of this.collecting) {
      for (const p of invoice.parts.values()) at = Math.min(at, p.hold.expiresAt - this.minHoldMs / 2)
    }
    return at === Infinity ? null : Math.ceil(at)
  }

  /** How many payments, forwards and invoice parts are still open (0 once everything settled or expired). */
  pending (): { payments: number, forwards: number, invoiceParts: number, proposals: number } {
    const invoiceParts = this.partOf.size
    let proposals = this.pendingOps.size
    for (const m of this.inflight.values()) proposals += m.size
    return { payments: this.payments.size, forwards: this.forwardsUp.size + this.forwardsDown.size, invoiceParts, proposals }
  }

  // ---- persistence ----------------------------------------------------------------------

  /**
   * The forwards and payments that changed since the last call, each as its record under a
   * stable key (null once it has ended). The shell writes them in the same transaction as
   * the line changes of the same input, before any of them leaves, and gives the stored
   * ones to `restoreRecord` after a restart, crash or not: a node killed mid-payment still
   * relays the fulfillment or reject it owes, and still reports its payments and its
   * losses.
   */
  takeRecords (): Array<{ key: string, value: CanonicalValue | null }> {
    const out: Array<{ key: string, value: CanonicalValue | null }> = []
    for (const x of this.dirty) {
      if ('parts' in x) {
        out.push({ key: `p:${hex(x.id)}`, value: this.payments.has(hex(x.id)) ? paymentValue(x) : null })
      } else {
        const upOpen = this.forwardsUp.get(holdKey(x.up.line, x.up.hold.id)) === x
        const downOpen = this.forwardsDown.get(holdKey(x.down.line, x.down.hold.id)) === x
        out.push({ key: `f:${holdKey(x.up.line, x.up.hold.id)}`, value: upOpen || downOpen ? forwardValue(x, upOpen, downOpen) : null })
      }
    }
    this.dirty.clear()
    return out
  }

  /** Takes back one record `takeRecords` gave (into a fresh engine, before any other input). Throws InvalidPaymentError when it is not one. */
  restoreRecord (value: CanonicalValue): void {
    try {
      const r = snapRecord(value)
      if (r.kind === 'forward') this.restoreForward(r)
      else if (r.kind === 'payment') this.restorePayment(r)
      else throw new Error('record kind')
    } catch (err) {
      if (err instanceof InvalidPaymentError) throw err
      throw new InvalidPaymentError(`not a payment engine record: ${(err as Error).message}`, { hint: 'the stored record is damaged; expiries still release its holds' })
    }
  }

  /**
   * What is in flight and not in the records (open invoices and their parts, the
   * proposals not yet answered) as one canonical value, for a clean stop: the shell gives
   * it to `restore` after the restart. Without it (after a kill) the engine still settles
   * upstream by condition and releases expired holds: no value is lost, only early rejects.
   * Fee and exchange policy are not in it: the shell sets them.
   */
  snapshot (): CanonicalValue {
    return {
      v: 2,
      invoices: [...this.invoices.values()].map((i) => ({ id: i.id, amount: i.amount, unit: i.unit, condition: i.condition, fulfillment: i.fulfillment, parts: [...i.parts.values()].map(refValue) })),
      inflight: [...this.inflight].flatMap(([line, m]) => [...m].map(([id, amount]) => [line, id, amount])),
      pendingOps: [...this.pendingOps],
      settling: [...this.settling].map(([key, v]) => ({ key, invoice: v.invoice, unit: v.unit, amount: v.amount }))
    }
  }

  /** Takes back what `snapshot` gave (into a fresh engine, before any other input). Throws InvalidPaymentError when it is not one. */
  restore (value: CanonicalValue): void {
    try {
      const m = snapRecord(value)
      // Version 1 also held the forwards and payments that records now keep.
      if (m.v !== 1 && m.v !== 2) throw new Error('version')
      for (const v of snapList(m.invoices)) {
        const i = snapRecord(v)
        this.addInvoice({ id: snapBytes(i.id), amount: snapBig(i.amount), unit: snapString(i.unit), condition: snapBytes(i.condition), fulfillment: snapBytes(i.fulfillment) })
        const invoice = this.invoices.get(hex(snapBytes(i.condition))) as OpenInvoice
        for (const r of snapList(i.parts)) {
          const ref = refOf(r)
          const key = holdKey(ref.line, ref.hold.id)
          invoice.parts.set(key, ref)
          this.partOf.set(key, invoice)
          this.collecting.add(invoice)
        }
      }
      if (m.v === 1) {
        for (const v of snapList(m.payments)) this.restorePayment(snapRecord(v))
        for (const v of snapList(m.forwards)) this.restoreForward(snapRecord(v))
      }
      for (const v of snapList(m.inflight)) {
        const [line, id, amount] = snapList(v)
        let held = this.inflight.get(snapString(line))
        if (held === undefined) this.inflight.set(snapString(line), held = new Map<string, bigint>())
        held.set(snapString(id), snapBig(amount))
      }
      for (const v of snapList(m.pendingOps)) this.pendingOps.add(snapString(v))
      for (const v of snapList(m.settling)) {
        const x = snapRecord(v)
        this.settling.set(snapString(x.key), { invoice: snapBytes(x.invoice), unit: snapString(x.unit), amount: snapBig(x.amount) })
      }
    } catch (err) {
      if (err instanceof InvalidPaymentError) throw err
      throw new InvalidPaymentError(`not a payment engine snapshot: ${(err as Error).message}`, { hint: 'the stored snapshot is damaged; the engine can start empty (expiries still clean up)' })
    }
  }

  private restorePayment (p: Record<string, CanonicalValue>): void {
    const payment: SentPayment = { id: snapBytes(p.id), unit: snapString(p.unit), condition: snapBytes(p.condition), parts: [] }
    if (p.fulfillment instanceof Uint8Array) payment.fulfillment = p.fulfillment
    for (const pv of snapList(p.parts)) {
      const x = snapRecord(pv)
      const plan = snapRecord(x.plan)
      const state = x.state
      if (state !== 'pending' && state !== 'fulfilled' && state !== 'rejected') throw new Error('part state')
      const part: SentPart = {
        ref: refOf(x.ref),
        plan: { hops: snapList(plan.hops).map(hopOf), sent: snapBig(plan.sent), delivered: snapBig(plan.delivered), fee: snapBig(plan.fee) },
        state
      }
      if (typeof x.code === 'string') part.code = x.code
      if (typeof x.message === 'string') part.message = x.message
      if (typeof x.triggeredBy === 'string') part.triggeredBy = x.triggeredBy
      payment.parts.push(part)
      if (state === 'pending') this.sentParts.set(holdKey(part.ref.line, part.ref.hold.id), { payment, part })
    }
    this.payments.set(hex(payment.id), payment)
  }

  private restoreForward (f: Record<string, CanonicalValue>): void {
    const fwd: Forward = { condition: snapBytes(f.condition), up: refOf(f.up), down: refOf(f.down), answered: f.answered === true }
    if (f.upOpen === true) this.forwardsUp.set(holdKey(fwd.up.line, fwd.up.hold.id), fwd)
    if (f.downOpen === true) this.forwardsDown.set(holdKey(fwd.down.line, fwd.down.hold.id), fwd)
  }

  // ---- handlers -------------------------------------------------------------------------

  /** RFC 0027 §"Connector" / §"Receiver": a hold placed on us with an ILP Prepare. */
  private onIncomingHold (ref: HoldRef, attachment: CanonicalValue | null, now: number, out: EngineOutput[]): void {
    let prepare: IlpPrepare
    let route: Array<{ account: Uint8Array, unit: string }>
    try {
      const a = record(attachment)
      if (!(a.ilp instanceof Uint8Array)) throw new InvalidIlpPacketError('the hold carries no ILP prepare')
      prepare = decodePrepare(a.ilp)
      route = decodeRoute(a.route ?? [])
    } catch (err) {
      this.release(ref, { code: ErrorCode.invalidPacket, message: (err as Error).message }, out)
      return
    }
    // The packet must describe the hold it came with: same amount, condition and expiry.
    const h = ref.hold
    if (prepare.amount !== h.amount || !bytesEqual(prepare.executionCondition, h.condition) || prepare.expiresAt !== h.expiresAt) {
      this.release(ref, { code: ErrorCode.invalidPacket, message: 'the ILP prepare does not match the hold (amount, condition or expiry)' }, out)
      return
    }
    const destination = accountOfIlpAddress(prepare.destination)
    if (destination !== undefined && bytesEqual(destination, this.account)) this.receive(ref, now, out)
    else this.forward(ref, prepare, route, now, out)
  }

  /** RFC 0027 §"Receiver": collect the parts of an invoice; settle all once they add up. */
  private receive (ref: HoldRef, now: number, out: EngineOutput[]): void {
    const invoice = this.invoices.get(hex(ref.hold.condition))
    if (invoice === undefined) return this.release(ref, { code: ErrorCode.unexpectedPayment, message: 'no open invoice with this condition (unknown, withdrawn or already paid)' }, out)
    if (invoice.unit !== ref.unit) return this.release(ref, { code: ErrorCode.unexpectedPayment, message: `the invoice is in ${invoice.unit}, not ${ref.unit}` }, out)
    if (ref.hold.expiresAt < now + this.minHoldMs) return this.release(ref, { code: ErrorCode.insufficientTimeout, message: `the hold expires in ${ref.hold.expiresAt - now} ms, less than the ${this.minHoldMs} ms the payee needs` }, out)
    const key = holdKey(ref.line, ref.hold.id)
    invoice.parts.set(key, ref)
    this.partOf.set(key, invoice)
    this.collecting.add(invoice)
    let sum = 0n
    for (const p of invoice.parts.values()) sum += p.hold.amount
    if (sum < invoice.amount) return
    this.invoices.delete(hex(invoice.condition))
    const ilp = encodeFulfill({ fulfillment: invoice.fulfillment, data: new Uint8Array(0) })
    for (const [key, p] of invoice.parts) {
      this.pendingOps.add(key)
      this.settling.set(key, { invoice: invoice.id, unit: invoice.unit, amount: p.hold.amount })
      out.push({ kind: 'change', line: p.line, peer: p.peer, unit: p.unit, change: { kind: 'settle', id: p.hold.id, fulfillment: invoice.fulfillment }, attachment: { ilp } })
    }
    out.push({ kind: 'received', invoice: invoice.id, unit: invoice.unit, amount: sum, parts: invoice.parts.size })
    this.dropParts(invoice)
  }

  /** RFC 0027 §"Connector": pass the prepare on to the next hop of its source route. */
  private forward (up: HoldRef, prepare: IlpPrepare, route: Array<{ account: Uint8Array, unit: string }>, now: number, out: EngineOutput[]): void {
    const reject = (code: string, message: string): void => this.release(up, { code, message }, out)
    const next = route[0]
    if (next === undefined) return reject(ErrorCode.unreachable, 'the payment is not for this account and its route ends here')
    if (bytesEqual(next.account, this.account)) return reject(ErrorCode.badRequest, 'the route leads back to this account')
    const state = this.lines.get(next.account, next.unit)
    if (state === undefined) return reject(ErrorCode.unreachable, `no ${next.unit} trust line to the next hop`)
    const rate = this.offerOf(up.unit, next.unit)
    if (rate === undefined) return reject(ErrorCode.unreachable, `no exchange offered from ${up.unit} to ${next.unit}`)
    const amount = forwardAmount(up.hold.amount, rate, this.feeOf(next.unit))
    if (amount === 0n) return reject(ErrorCode.badRequest, 'nothing is left to forward after the fee')
    if (amount > MAX_AMOUNT) return reject(ErrorCode.amountTooLarge, 'the exchanged amount is over the largest ILP amount')
    // RFC 0027 §"Expiry": shorter than the incoming hold by this hop's margin, and never further off than maxHoldMs.
    const expiresAt = Math.min(up.hold.expiresAt - this.hopMarginMs, now + this.maxHoldMs)
    if (expiresAt < now + this.minHoldMs) {
      return reject(ErrorCode.insufficientTimeout, `the hold expires in ${up.hold.expiresAt - now} ms; forwarding needs ${this.hopMarginMs + this.minHoldMs} ms`)
    }
    const line = this.lineIdOf(state)
    const side = sideOf(state, this.account) as Side
    const left = this.room(hex(line), state, side)
    if (amount > left) return reject(ErrorCode.insufficientLiquidity, `the next line has ${formatAmount(left)} ${next.unit} left, not ${formatAmount(amount)}`)
    if (state.holds.length + (this.inflight.get(hex(line))?.size ?? 0) >= MAX_HOLDS) return reject(ErrorCode.insufficientLiquidity, 'the next line has too many pending holds')

    const hold: Hold = { id: this.random(16), payer: side, amount, condition: up.hold.condition, expiresAt }
    const down: HoldRef = { line, peer: next.account, unit: next.unit, hold }
    const fwd: Forward = { condition: up.hold.condition, up, down, answered: false }
    this.forwardsDown.set(holdKey(line, hold.id), fwd)
    this.forwardsUp.set(holdKey(up.line, up.hold.id), fwd)
    this.dirty.add(fwd)
    this.addInflight(line, hold)
    const ilp = encodePrepare({ ...prepare, amount, expiresAt })
    out.push({ kind: 'change', line, peer: next.account, unit: next.unit, change: { kind: 'hold', hold }, attachment: { ilp, route: encodeRoute(route.slice(1)) } })
  }

  /** Our settle of a hold we were paid committed: an invoice part is received, or a forward has earned its fee. */
  private onOwnSettle (key: string, out: EngineOutput[]): void {
    this.settling.delete(key)
    const fwd = this.forwardsUp.get(key)
    if (fwd !== undefined) {
      this.closeUp(key)
      out.push(forwarded(fwd, true))
    }
  }

  /** The peer settled a hold we paid: the payment part succeeded, or a forward must pass the fulfillment upstream. */
  private onSettledByPeer (key: string, fulfillment: Uint8Array, attachment: CanonicalValue | null, now: number, out: EngineOutput[]): void {
    const sent = this.sentParts.get(key)
    if (sent !== undefined) {
      sent.payment.fulfillment = fulfillment
      this.resolvePart(sent.payment, sent.part, 'fulfilled', out)
      return
    }
    const fwd = this.forwardsDown.get(key)
    if (fwd !== undefined) {
      this.closeDown(key)
      fwd.answered = true
      this.settleUpstream(fwd.up, fulfillment, relayedIlp(attachment, 'fulfill'), now, out)
      return
    }
    // A hold we paid that we have no record of (this node restarted mid-payment): settle
    // every hold we are paid with the same condition, so the fulfillment still goes upstream.
    const condition = sha256(fulfillment)
    for (const state of this.lines.all()) {
      const me = sideOf(state, this.account)
      if (me === undefined) continue
      for (const hold of state.holds) {
        if (hold.payer === me || !bytesEqual(hold.condition, condition)) continue
        const line = this.lineIdOf(state)
        this.settleUpstream({ line, peer: me === 'a' ? state.b : state.a, unit: state.unit, hold }, fulfillment, relayedIlp(attachment, 'fulfill'), now, out)
      }
    }
  }

  /** A hold was released, by us (`own`) or by the peer. */
  private onReleased (key: string, own: boolean, attachment: CanonicalValue | null, now: number, out: EngineOutput[]): void {
    const sent = this.sentParts.get(key)
    if (sent !== undefined) {
      const reply = own ? undefined : relayedIlp(attachment, 'reject')
      const reject = reply !== undefined ? decodeReply(reply) : undefined
      if (reject !== undefined && reject.type === 'reject') {
        this.resolvePart(sent.payment, sent.part, 'rejected', out, { code: reject.code, message: reject.message, triggeredBy: reject.triggeredBy })
      } else if (own) {
        this.resolvePart(sent.payment, sent.part, 'rejected', out, { code: ErrorCode.transferTimedOut, message: 'the hold expired without an answer', triggeredBy: this.address })
      } else {
        this.resolvePart(sent.payment, sent.part, 'rejected', out, { code: ErrorCode.applicationError, message: 'the first hop gave the hold back without an ILP reject', triggeredBy: this.address })
      }
      return
    }
    const down = this.forwardsDown.get(key)
    if (down !== undefined) {
      // Downstream rejected (relay its reject as it is, RFC 0027 §"Connector") or we released it after expiry.
      this.closeDown(key)
      const reply = own ? undefined : relayedIlp(attachment, 'reject')
      const why = reply !== undefined
        ? { ilp: reply }
        : own
          ? { code: ErrorCode.transferTimedOut, message: 'the next hop did not answer before its hold expired' }
          : { code: ErrorCode.applicationError, message: 'the next hop gave the hold back without an ILP reject' }
      this.answerUpstream(down, why, out)
      return
    }
    const up = this.forwardsUp.get(key)
    if (up !== undefined) {
      // The upstream hold is gone (we rejected it, or its payer released it after expiry).
      this.closeUp(key)
      if (!up.answered) up.answered = true
      out.push(forwarded(up, false))
      return
    }
    // A part held for an open invoice that its payer released (after expiry): it no longer counts.
    const invoice = this.partOf.get(key)
    if (invoice !== undefined) {
      invoice.parts.delete(key)
      this.partOf.delete(key)
      if (invoice.parts.size === 0) this.collecting.delete(invoice)
    }
  }

  private dropParts (invoice: OpenInvoice): void {
    for (const key of invoice.parts.keys()) this.partOf.delete(key)
    invoice.parts.clear()
    this.collecting.delete(invoice)
  }

  // ---- helpers --------------------------------------------------------------------------

  private resolvePart (payment: SentPayment, part: SentPart, state: 'fulfilled' | 'rejected', out: EngineOutput[], why?: { code: string, message: string, triggeredBy: string }): void {
    if (part.state !== 'pending') return
    part.state = state
    this.dirty.add(payment)
    if (why !== undefined) Object.assign(part, why)
    this.sentParts.delete(holdKey(part.ref.line, part.ref.hold.id))
    if (payment.parts.some((p) => p.state === 'pending')) return
    this.payments.delete(hex(payment.id))
    const paths = payment.parts.map((p) => {
      const o = outcomeOf(p.plan, p.state === 'fulfilled')
      if (p.code !== undefined) Object.assign(o, { code: p.code, message: p.message, triggeredBy: p.triggeredBy })
      return o
    })
    const settled = payment.parts.filter((p) => p.state === 'fulfilled')
    if (settled.length === 0) {
      // Report the reject that says most: one from further along than our own timeout, if any.
      const first = payment.parts.find((p) => p.code !== ErrorCode.transferTimedOut) ?? payment.parts[0]
      out.push({ kind: 'failed', payment: payment.id, code: first?.code ?? ErrorCode.internalError, message: first?.message ?? 'failed', triggeredBy: first?.triggeredBy ?? this.address, paths })
      return
    }
    const delivered = settled.reduce((s, p) => s + p.plan.delivered, 0n)
    const fee = settled.reduce((s, p) => s + p.plan.fee, 0n)
    const sentBy = new Map<string, bigint>()
    for (const p of settled) sentBy.set(p.ref.unit, (sentBy.get(p.ref.unit) ?? 0n) + p.plan.sent)
    out.push({
      kind: 'done',
      payment: payment.id,
      ok: settled.length === payment.parts.length,
      unit: payment.unit,
      delivered,
      fee,
      paid: delivered + fee,
      sent: [...sentBy].map(([unit, amount]) => ({ unit, amount })),
      paths,
      fulfillment: payment.fulfillment as Uint8Array
    })
  }

  /** Answers a forward's upstream hold with a reject (ours or relayed) by releasing it. */
  private answerUpstream (fwd: Forward, why: { code: string, message: string } | { ilp: Uint8Array }, out: EngineOutput[]): void {
    if (fwd.answered) return
    fwd.answered = true
    this.dirty.add(fwd)
    this.release(fwd.up, why, out)
  }

  private settleUpstream (up: HoldRef, fulfillment: Uint8Array, ilp: Uint8Array | undefined, now: number, out: EngineOutput[]): void {
    const key = holdKey(up.line, up.hold.id)
    if (this.pendingOps.has(key)) return
    if (now > up.hold.expiresAt) {
      // Too late: the upstream payer will not countersign. This node paid downstream and is not paid.
      const fwd = this.forwardsUp.get(key)
      if (fwd !== undefined) {
        this.closeUp(key)
        out.push(forwarded(fwd, false, true))
      }
      return
    }
    this.pendingOps.add(key)
    out.push({ kind: 'change', line: up.line, peer: up.peer, unit: up.unit, change: { kind: 'settle', id: up.hold.id, fulfillment }, attachment: { ilp: ilp ?? encodeFulfill({ fulfillment, data: new Uint8Array(0) }) } })
  }

  /** Releases a hold on one of our lines with an ILP Reject attachment (ours, or one relayed from downstream). */
  private release (ref: HoldRef, why: { code: string, message: string } | { ilp: Uint8Array }, out: EngineOutput[]): void {
    const key = holdKey(ref.line, ref.hold.id)
    if (this.pendingOps.has(key)) return
    this.pendingOps.add(key)
    const ilp = 'ilp' in why ? why.ilp : encodeReject({ code: why.code, triggeredBy: this.address, message: why.message, data: new Uint8Array(0) })
    out.push({ kind: 'change', line: ref.line, peer: ref.peer, unit: ref.unit, change: { kind: 'release', id: ref.hold.id }, attachment: { ilp } })
  }

  /** What this node can still pay on a line: the committed room less the holds it proposed and that are not yet committed. */
  private room (lineKey: string, state: LineState, side: Side): bigint {
    let left = availableToPay(state, side)
    for (const amount of this.inflight.get(lineKey)?.values() ?? []) left -= amount
    return left > 0n ? left : 0n
  }

  private addInflight (line: Uint8Array, hold: Hold): void {
    const key = hex(line)
    let m = this.inflight.get(key)
    if (m === undefined) this.inflight.set(key, m = new Map<string, bigint>())
    m.set(hex(hold.id), hold.amount)
  }

  private dropInflight (line: Uint8Array, id: Uint8Array): void {
    const key = hex(line)
    const m = this.inflight.get(key)
    if (m === undefined) return
    m.delete(hex(id))
    if (m.size === 0) this.inflight.delete(key)
  }

  /** The downstream hold of a forward is settled or released: the forward waits only on upstream now. */
  private closeDown (key: string): void {
    const fwd = this.forwardsDown.get(key)
    if (fwd === undefined) return
    this.forwardsDown.delete(key)
    this.dirty.add(fwd)
  }

  /** The upstream hold of a forward is settled or released: the forward has ended once downstream has too. */
  private closeUp (key: string): void {
    const fwd = this.forwardsUp.get(key)
    if (fwd === undefined) return
    this.forwardsUp.delete(key)
    this.dirty.add(fwd)
  }

  private readonly lineIds = new WeakMap<LineState, Uint8Array>()
  private lineIdOf (state: LineState): Uint8Array {
    let id = this.lineIds.get(state)
    if (id === undefined) this.lineIds.set(state, id = lineId(state.a, state.b, state.unit))
    return id
  }
}

// ---- free helpers -----------------------------------------------------------------------

function outcomeOf (plan: PathPlan, ok: boolean): PathOutcome {
  return { hops: plan.hops.map((h) => h.account), sentUnit: (plan.hops[0] as PathHop).unit, sent: plan.sent, delivered: plan.delivered, fee: plan.fee, ok }
}

function forwarded (fwd: Forward, ok: boolean, lost?: boolean): ForwardedOutput {
  const o: ForwardedOutput = {
    kind: 'forwarded',
    condition: fwd.condition,
    ok,
    in: { peer: fwd.up.peer, unit: fwd.up.unit, amount: fwd.up.hold.amount },
    out: { peer: fwd.down.peer, unit: fwd.down.unit, amount: fwd.down.hold.amount }
  }
  if (lost === true) o.lost = true
  return o
}

/** Which reject a refused hold becomes: the line's rule names the cause. */
function refusalCode (reason: string): string {
  if (/capacity|pending holds/.test(reason)) return ErrorCode.insufficientLiquidity
  if (/expired/.test(reason)) return ErrorCode.insufficientTimeout
  return ErrorCode.badRequest
}

/** The ILP bytes of a settle's or release's attachment when they are a well-formed `kind`; undefined otherwise. */
function relayedIlp (attachment: CanonicalValue | null, kind: 'fulfill' | 'reject'): Uint8Array | undefined {
  if (attachment === null || typeof attachment !== 'object' || attachment instanceof Uint8Array || Array.isArray(attachment)) return undefined
  const ilp = attachment.ilp
  if (!(ilp instanceof Uint8Array)) return undefined
  try {
    return decodeReply(ilp).type === kind ? ilp : undefined
  } catch {
    return undefined
  }
}

function encodeRoute (hops: PathHop[]): CanonicalValue {
  return hops.map((h) => ({ account: h.account, unit: h.unit }))
}

function decodeRoute (value: CanonicalValue): Array<{ account: Uint8Array, unit: string }> {
  if (!Array.isArray(value) || value.length > 64) throw new InvalidIlpPacketError('the route is not a list of at most 64 hops')
  return value.map((v) => {
    const r = record(v)
    if (!(r.account instanceof Uint8Array) || r.account.byteLength !== 32) throw new InvalidIlpPacketError('a route hop without a 32-byte account')
    if (typeof r.unit !== 'string' || !/^[A-Za-z0-9_-]{1,16}$/.test(r.unit)) throw new InvalidIlpPacketError('a route hop without a unit')
    return { account: r.account, unit: r.unit }
  })
}

function record (value: CanonicalValue | null | undefined): Record<string, CanonicalValue> {
  if (value === null || value === undefined || typeof value !== 'object' || value instanceof Uint8Array || Array.isArray(value)) throw new InvalidIlpPacketError('the attachment is not a map')
  return value
}

function holdKey (line: Uint8Array, id: Uint8Array): string {
  return `${hex(line)}:${hex(id)}`
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

function sha256 (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

// ---- snapshot values --------------------------------------------------------------------

function paymentValue (p: SentPayment): CanonicalValue {
  return {
    kind: 'payment',
    id: p.id,
    unit: p.unit,
    condition: p.condition,
    fulfillment: p.fulfillment ?? null,
    parts: p.parts.map((part) => ({
      ref: refValue(part.ref),
      plan: { hops: part.plan.hops.map(hopValue), sent: part.plan.sent, delivered: part.plan.delivered, fee: part.plan.fee },
      state: part.state,
      code: part.code ?? null,
      message: part.message ?? null,
      triggeredBy: part.triggeredBy ?? null
    }))
  }
}

function forwardValue (f: Forward, upOpen: boolean, downOpen: boolean): CanonicalValue {
  return { kind: 'forward', condition: f.condition, up: refValue(f.up), down: refValue(f.down), answered: f.answered, upOpen, downOpen }
}

function refValue (r: HoldRef): CanonicalValue {
  const h = r.hold
  return { line: r.line, peer: r.peer, unit: r.unit, hold: { id: h.id, payer: h.payer, amount: h.amount, condition: h.condition, expiresAt: h.expiresAt } }
}

function refOf (v: CanonicalValue | undefined): HoldRef {
  const r = snapRecord(v)
  const h = snapRecord(r.hold)
  const payer = h.payer
  if (payer !== 'a' && payer !== 'b') throw new Error('hold payer')
  const expiresAt = h.expiresAt
  if (typeof expiresAt !== 'number') throw new Error('hold expiry')
  return { line: snapBytes(r.line), peer: snapBytes(r.peer), unit: snapString(r.unit), hold: { id: snapBytes(h.id), payer, amount: snapBig(h.amount), condition: snapBytes(h.condition), expiresAt } }
}

function hopValue (h: PathHop): CanonicalValue {
  const v: Record<string, CanonicalValue> = { account: h.account, unit: h.unit }
  if (h.feePpm !== undefined) v.feePpm = h.feePpm
  if (h.rate !== undefined) v.rate = h.rate
  return v
}

function hopOf (v: CanonicalValue): PathHop {
  const r = snapRecord(v)
  const hop: PathHop = { account: snapBytes(r.account), unit: snapString(r.unit) }
  if (typeof r.feePpm === 'number') hop.feePpm = r.feePpm
  if (r.rate !== undefined) hop.rate = snapBig(r.rate)
  return hop
}

function snapRecord (v: CanonicalValue | undefined): Record<string, CanonicalValue> {
  if (v === undefined || v === null || typeof v !== 'object' || v instanceof Uint8Array || Array.isArray(v)) throw new Error('a map expected')
  return v
}

function snapList (v: CanonicalValue | undefined): CanonicalValue[] {
  if (!Array.isArray(v)) throw new Error('a list expected')
  return v
}

function snapBytes (v: CanonicalValue | undefined): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new Error('bytes expected')
  return v
}

function snapString (v: CanonicalValue | undefined): string {
  if (typeof v !== 'string') throw new Error('a string expected')
  return v
}

function snapBig (v: CanonicalValue | undefined): bigint {
  if (typeof v === 'bigint') return v
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v)
  throw new Error('an integer expected')
}
