// An in-memory network of payment engines for tests: each node runs a real PaymentEngine;
// each trust line is one LineState that both of its sides see, and every change an engine
// outputs is applied with the real rules (`applyChanges` from line.ts) when it is
// delivered, then reported to both engines as committed, or to its proposer as refused.
// This stands in for the line channel (line-channel.ts), which signs and transports the
// same changes: here nothing is signed and delivery is a queue.
//
// A silent node (a crash, a lost link) neither sends nor receives: proposals to or from
// it wait in the queue until it is back, as the channel's re-sends would, and it does
// not tick. The clock is virtual.

import { createHash } from 'node:crypto'
import { applyChanges, lineId, openLine, positionOf, sideOf } from '../../../src/apps/credit/line.ts'
import type { LineChange, LineState, Side } from '../../../src/apps/credit/line.ts'
import { LineRuleError } from '../../../src/apps/credit/errors.ts'
import { PaymentEngine } from '../../../src/apps/credit/payment-engine.ts'
import type { EngineOutput, Invoice, PaymentEngineOptions, PayRequest } from '../../../src/apps/credit/payment-engine.ts'
import { decodeCanonical, encodeCanonical } from '../../../src/core/encoding.ts'
import type { CanonicalValue } from '../../../src/core/encoding.ts'

export interface NetNode {
  name: string
  account: Uint8Array
  engine: PaymentEngine
  /** Outputs other than line changes (done, failed, received, forwarded, part-lost), in order. */
  events: EngineOutput[]
  silentUntil: number
  /** The engine's records as a store keeps them (canonical bytes by key), merged at each restart. */
  records: Map<string, Uint8Array>
}

interface Proposal {
  /** When it can be delivered: sent + the network's latency. */
  readyAt: number
  line: string
  proposer: NetNode
  change: LineChange
  attachment: CanonicalValue | null
}

/** A settle or release that committed, with the condition of its hold (to tell which payment moved which line). */
export interface Committed {
  line: string
  change: LineChange
  condition: Uint8Array
  amount: bigint
  payer: Uint8Array
  payee: Uint8Array
  unit: string
  at: number
}

export class PaymentNet {
  now: number
  readonly nodes = new Map<string, NetNode>()
  readonly lines = new Map<string, LineState>()
  readonly initial = new Map<string, LineState>()
  readonly committed: Committed[] = []
  /** Every change delivered: `[proposer, change, attachment, refused reason or null]`. */
  readonly delivered: Array<{ proposer: string, change: LineChange, attachment: CanonicalValue | null, refused: string | null }> = []
  /** Called after each delivered proposal (tests use it to make a node go silent at a chosen moment). */
  afterDeliver: ((proposer: NetNode, change: LineChange, refused: boolean) => void) | undefined
  private queue: Proposal[] = []
  private readonly linesOf = new Map<string, Set<string>>()
  private readonly options: Partial<PaymentEngineOptions>
  private counter = 0
  /** How long a proposal takes to reach the other side (0: at once). */
  readonly latencyMs: number

  constructor (now = 1_800_000_000_000, options: Partial<PaymentEngineOptions> = {}, latencyMs = 0) {
    this.now = now
    this.options = options
    this.latencyMs = latencyMs
  }

  /** A node named `name`; its account is derived from the name and its ids from a counter (runs repeat). */
  node (name: string, options: Partial<PaymentEngineOptions> = {}): NetNode {
    const existing = this.nodes.get(name)
    if (existing !== undefined) return existing
    const account = sha256(Buffer.from(`account:${name}`))
    const node: NetNode = { name, account, engine: this.makeEngine(account, { ...this.options, ...options }), events: [], silentUntil: -Infinity, records: new Map() }
    this.nodes.set(name, node)
    this.linesOf.set(name, new Set())
    return node
  }

  /** Replaces a node's engine by a fresh one (a restart that kept only its lines and the invoices given). */
  restart (node: NetNode, invoices: Invoice[] = [], options: Partial<PaymentEngineOptions> = {}): void {
    node.engine = this.makeEngine(node.account, { ...this.options, ...options })
    for (const invoice of invoices) node.engine.addInvoice(invoice)
  }

  /** A clean stop and start: the engine comes back from its records and its snapshot (through canonical bytes, as a store would). */
  restartFromSnapshot (node: NetNode, policy?: (engine: PaymentEngine) => void): void {
    const bytes = encodeCanonical(node.engine.snapshot())
    this.reopen(node)
    node.engine.restore(decodeCanonical(bytes))
    policy?.(node.engine)
  }

  /**
   * A kill: the engine comes back from its records and its open invoices only (as the
   * invoice table keeps them, without parts); what was in memory alone is gone.
   */
  crash (node: NetNode, policy?: (engine: PaymentEngine) => void): void {
    const snapshot = node.engine.snapshot() as Record<string, CanonicalValue>
    const invoices = (snapshot.invoices as Array<Record<string, CanonicalValue>>).map((i) => ({ ...i, parts: [] }))
    this.reopen(node)
    node.engine.restore({ v: 2, invoices, inflight: [], pendingOps: [], settling: [] })
    policy?.(node.engine)
  }

  /** Stores what changed in the node's records and gives the stored ones to a new engine. */
  private reopen (node: NetNode): void {
    for (const r of node.engine.takeRecords()) {
      if (r.value === null) node.records.delete(r.key)
      else node.records.set(r.key, encodeCanonical(r.value))
    }
    node.engine = this.makeEngine(node.account, this.options)
    for (const bytes of node.records.values()) node.engine.restoreRecord(decodeCanonical(bytes))
  }

  private makeEngine (account: Uint8Array, options: Partial<PaymentEngineOptions>): PaymentEngine {
    const name = Buffer.from(account).toString('hex')
    return new PaymentEngine({
      ...options,
      account,
      lines: {
        get: (peer, unit) => this.lines.get(hexOf(lineId(account, peer, unit))),
        all: () => [...(this.linesOf.get(this.nameOf(account)) ?? [])].map((l) => this.lines.get(l) as LineState)
      },
      random: options.random ?? ((n) => sha256(Buffer.from(`${name}:${this.counter++}`)).subarray(0, n))
    })
  }

  private nameOf (account: Uint8Array): string {
    for (const n of this.nodes.values()) if (Buffer.compare(n.account, account) === 0) return n.name
    throw new Error('unknown account')
  }

  /** Opens a line between x and y in `unit`: x extends `xLimit` of credit to y, y extends `yLimit` to x. */
  trust (x: NetNode, y: NetNode, unit: string, xLimit: bigint, yLimit: bigint): string {
    let state = openLine({ account: x.account, device: x.account }, { account: y.account, device: y.account }, unit)
    const xSide = sideOf(state, x.account) as Side
    const ySide: Side = xSide === 'a' ? 'b' : 'a'
    state = applyChanges(state, xSide, [{ kind: 'limit', side: xSide, limit: xLimit }], this.now)
    state = applyChanges(state, ySide, [{ kind: 'limit', side: ySide, limit: yLimit }], this.now)
    const key = hexOf(lineId(x.account, y.account, unit))
    this.lines.set(key, state)
    this.initial.set(key, state)
    this.linesOf.get(x.name)?.add(key)
    this.linesOf.get(y.name)?.add(key)
    return key
  }

  line (x: NetNode, y: NetNode, unit: string): LineState {
    return this.lines.get(hexOf(lineId(x.account, y.account, unit))) as LineState
  }

  /** What `node` owns on its line with `peer` (positive when the peer owes it). */
  position (node: NetNode, peer: NetNode, unit: string): bigint {
    const state = this.line(node, peer, unit)
    return positionOf(state, sideOf(state, node.account) as Side)
  }

  /** The change of `node`'s summed position in `unit` over all its lines since they opened. */
  netChange (node: NetNode, unit: string): bigint {
    let sum = 0n
    for (const key of this.linesOf.get(node.name) ?? []) {
      const now = this.lines.get(key) as LineState
      if (now.unit !== unit) continue
      const side = sideOf(now, node.account) as Side
      sum += positionOf(now, side) - positionOf(this.initial.get(key) as LineState, side)
    }
    return sum
  }

  silent (node: NetNode): boolean {
    return this.now < node.silentUntil
  }

  /** Starts a payment from `node` and delivers what it can at once. */
  pay (node: NetNode, req: Omit<PayRequest, 'now'>): Uint8Array {
    const { payment, outputs } = node.engine.pay({ ...req, now: this.now })
    this.take(node, outputs)
    this.settle()
    return payment
  }

  /** Takes a node's outputs: changes go into the queue, the rest into its events. */
  take (node: NetNode, outputs: EngineOutput[]): void {
    for (const o of outputs) {
      if (o.kind === 'change') this.queue.push({ readyAt: this.now + this.latencyMs, line: hexOf(o.line), proposer: node, change: o.change, attachment: o.attachment })
      else node.events.push(o)
    }
  }

  /** Delivers queued proposals whose two ends are up, until none is left that can go. */
  settle (): void {
    for (let round = 0; round < 10_000; round++) {
      const ready = this.queue.filter((p) => p.readyAt <= this.now && !this.silent(p.proposer) && !this.silent(this.peerOf(p)))
      if (ready.length === 0) return
      this.queue = this.queue.filter((p) => !ready.includes(p))
      for (const p of ready) {
        // A node may have gone silent during this round (afterDeliver): what it has not yet sent or received waits.
        if (this.silent(p.proposer) || this.silent(this.peerOf(p))) this.queue.push(p)
        else this.deliver(p)
      }
    }
    throw new Error('the network did not settle in 10,000 rounds')
  }

  private peerOf (p: Proposal): NetNode {
    const state = this.lines.get(p.line) as LineState
    const other = Buffer.compare(state.a, p.proposer.account) === 0 ? state.b : state.a
    return this.nodes.get(this.nameOf(other)) as NetNode
  }

  private deliver (p: Proposal): void {
    const state = this.lines.get(p.line) as LineState
    const side = sideOf(state, p.proposer.account) as Side
    const peer = this.peerOf(p)
    let next: LineState
    try {
      next = applyChanges(state, side, [p.change], this.now)
    } catch (err) {
      if (!(err instanceof LineRuleError)) throw err
      this.delivered.push({ proposer: p.proposer.name, change: p.change, attachment: p.attachment, refused: err.message })
      this.take(p.proposer, p.proposer.engine.onRefused(state, [p.change], err.message, this.now))
      this.afterDeliver?.(p.proposer, p.change, true)
      return
    }
    this.delivered.push({ proposer: p.proposer.name, change: p.change, attachment: p.attachment, refused: null })
    if (p.change.kind === 'settle' || p.change.kind === 'release') {
      const id = p.change.id
      const hold = state.holds.find((h) => Buffer.compare(h.id, id) === 0)
      if (hold !== undefined && p.change.kind === 'settle') {
        const payer = hold.payer === 'a' ? state.a : state.b
        const payee = hold.payer === 'a' ? state.b : state.a
        this.committed.push({ line: p.line, change: p.change, condition: hold.condition, amount: hold.amount, payer, payee, unit: state.unit, at: this.now })
      }
    }
    this.lines.set(p.line, next)
    // Both sides learn of the commit; the proposer first, as the channel's accept reaches it.
    this.take(p.proposer, p.proposer.engine.onCommitted(next, side, [p.change], [p.attachment], this.now))
    this.take(peer, peer.engine.onCommitted(next, side, [p.change], [p.attachment], this.now))
    this.afterDeliver?.(p.proposer, p.change, false)
  }

  /** Moves the clock by `ms` in steps of `step`, delivering and ticking every node that is up at each step. */
  advance (ms: number, step = 100): void {
    const end = this.now + ms
    while (this.now < end) {
      this.now = Math.min(end, this.now + step)
      this.settle()
      for (const node of this.nodes.values()) {
        if (this.silent(node)) continue
        this.take(node, node.engine.tick(this.now))
      }
      this.settle()
    }
  }

  /** Holds still on any line. */
  holdCount (): number {
    let n = 0
    for (const s of this.lines.values()) n += s.holds.length
    return n
  }

  queued (): number {
    return this.queue.length
  }

  invoice (node: NetNode, amount: bigint, unit: string): Invoice {
    return node.engine.createInvoice(amount, unit)
  }
}

export function sha256 (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

export function hexOf (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}
