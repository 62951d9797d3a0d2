// The credit app's storage: its SQLite tables (schema.ts) behind named operations. Every
// write that another node will rely on is committed here before the message that
// depends on it leaves (the shell's duty; see credit-service.ts): a countersigned line
// state before the accept, an invoice's fulfillment before its condition is given out,
// a forward's record before the outgoing hold is proposed. The store runs on the node's database
// (WAL, synchronous=NORMAL): a committed transaction survives the process being killed.

import type { DatabaseSync, StatementSync } from 'node:sqlite'
import type { Side } from './line.ts'

export interface LineRow {
  id: Uint8Array
  peerAccount: Uint8Array
  peerDevice: Uint8Array
  unit: string
  side: Side
  seq: number
  /** The newest state both signed (encodeSignedLineState), null before the first. */
  signed: Uint8Array | null
  /** The line channel's persisted form, opaque here. */
  channel: Uint8Array | null
  createdAt: number
  updatedAt: number
}

export interface InvoiceRow { id: Uint8Array, condition: Uint8Array, fulfillment: Uint8Array, amount: bigint, unit: string, createdAt: number, paidAt: number | null }

export type PaymentDirection = 'sent' | 'received' | 'forwarded'
export type PaymentStatus = 'pending' | 'done' | 'failed'

export interface PaymentRow {
  id: Uint8Array
  direction: PaymentDirection
  peer: Uint8Array
  amount: bigint
  unit: string
  fee: bigint
  status: PaymentStatus
  code: string | null
  message: string | null
  /** The routes taken, as the sender printed them (JSON), or null. */
  routes: unknown
  createdAt: number
  doneAt: number | null
}

type Row = Record<string, unknown>

export class CreditStore {
  readonly db: DatabaseSync
  readonly #statements = new Map<string, StatementSync>()

  constructor (db: DatabaseSync) {
    this.db = db
  }

  #sql (text: string): StatementSync {
    let s = this.#statements.get(text)
    if (s === undefined) {
      s = this.db.prepare(text)
      this.#statements.set(text, s)
    }
    return s
  }

  /** Runs `fn` in one transaction (committed when it returns, rolled back when it throws). */
  transaction<T> (fn: () => T): T {
    if (this.db.isTransaction) return fn()
    this.db.exec('BEGIN IMMEDIATE')
    try {
      const out = fn()
      this.db.exec('COMMIT')
      return out
    } catch (err) {
      this.db.exec('ROLLBACK')
      throw err
    }
  }

  // ---- lines ----------------------------------------------------------------------------

  line (id: Uint8Array): LineRow | undefined {
    const r = this.#sql('SELECT * FROM credit_lines WHERE id = ?').get(id) as Row | undefined
    return r === undefined ? undefined : lineRow(r)
  }

  lines (): LineRow[] {
    return (this.#sql('SELECT * FROM credit_lines ORDER BY created_at, id').all() as Row[]).map(lineRow)
  }

  /** Creates the line's row, or keeps the one there (a line is created once, by either side). */
  addLine (l: Pick<LineRow, 'id' | 'peerAccount' | 'peerDevice' | 'unit' | 'side'>, now: number): void {
    this.#sql('INSERT INTO credit_lines (id, peer_account, peer_device, unit, side, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING')
      .run(l.id, l.peerAccount, l.peerDevice, l.unit, l.side, now, now)
  }

  /** The newest state both signed. */
  saveSigned (id: Uint8Array, seq: number, signed: Uint8Array, now: number): void {
    this.#sql('UPDATE credit_lines SET seq = ?, signed = ?, updated_at = ? WHERE id = ?').run(seq, signed, now, id)
  }

  saveChannel (id: Uint8Array, channel: Uint8Array | null, now: number): void {
    this.#sql('UPDATE credit_lines SET channel = ?, updated_at = ? WHERE id = ?').run(channel, now, id)
  }

  // ---- invoices -------------------------------------------------------------------------

  addInvoice (i: Omit<InvoiceRow, 'paidAt'>): void {
    this.#sql('INSERT INTO credit_invoices (id, condition, fulfillment, amount, unit, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(i.id, i.condition, i.fulfillment, i.amount.toString(), i.unit, i.createdAt)
  }

  invoiceByCondition (condition: Uint8Array): InvoiceRow | undefined {
    const r = this.#sql('SELECT * FROM credit_invoices WHERE condition = ?').get(condition) as Row | undefined
    return r === undefined ? undefined : invoiceRow(r)
  }

  openInvoices (): InvoiceRow[] {
    return (this.#sql('SELECT * FROM credit_invoices WHERE paid_at IS NULL').all() as Row[]).map(invoiceRow)
  }

  invoicePaid (condition: Uint8Array, now: number): void {
    this.#sql('UPDATE credit_invoices SET paid_at = ? WHERE condition = ? AND paid_at IS NULL').run(now, condition)
  }

  // ---- the engine's records (forwards and payments in flight) -----------------------------

  /** Writes what the engine's `takeRecords` gave: a record replaces the one under its key; null removes it. */
  putRecords (records: ReadonlyArray<{ key: string, value: Uint8Array | null }>): void {
    const put = this.#sql('INSERT INTO credit_engine_records (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
    const remove = this.#sql('DELETE FROM credit_engine_records WHERE key = ?')
    for (const r of records) {
      if (r.value === null) remove.run(r.key)
      else put.run(r.key, r.value)
    }
  }

  /** Every forward and payment in flight, for the engine's `restoreRecords` after a restart. */
  records (): Uint8Array[] {
    return (this.#sql('SELECT value FROM credit_engine_records').all() as Array<{ value: Uint8Array }>).map((r) => bytes(r.value))
  }

  // ---- payments -------------------------------------------------------------------------

  addPayment (p: Omit<PaymentRow, 'doneAt' | 'code' | 'message'> & { code?: string | null, message?: string | null, doneAt?: number | null }): void {
    this.#sql('INSERT INTO credit_payments (id, direction, peer, amount, unit, fee, status, code, message, routes, created_at, done_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING')
      .run(p.id, p.direction, p.peer, p.amount.toString(), p.unit, p.fee.toString(), p.status, p.code ?? null, p.message ?? null, p.routes === null || p.routes === undefined ? null : JSON.stringify(p.routes), p.createdAt, p.doneAt ?? null)
  }

  finishPayment (id: Uint8Array, outcome: { status: 'done' | 'failed', fee?: bigint, code?: string, message?: string, routes?: unknown }, now: number): void {
    this.#sql(`UPDATE credit_payments SET status = ?, fee = COALESCE(?, fee), code = ?, message = ?, routes = COALESCE(?, routes), done_at = ?
      WHERE id = ? AND status = 'pending'`)
      .run(outcome.status, outcome.fee?.toString() ?? null, outcome.code ?? null, outcome.message ?? null, outcome.routes === undefined ? null : JSON.stringify(outcome.routes), now, id)
  }

  payment (id: Uint8Array): PaymentRow | undefined {
    const r = this.#sql('SELECT * FROM credit_payments WHERE id = ?').get(id) as Row | undefined
    return r === undefined ? undefined : paymentRow(r)
  }

  history (limit: number): PaymentRow[] {
    return (this.#sql('SELECT * FROM credit_payments ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit) as Row[]).map(paymentRow)
  }

  // ---- the engine's snapshot (clean stops only) -------------------------------------------

  saveEngine (snapshot: Uint8Array, now: number): void {
    this.#sql('INSERT INTO credit_engine (id, snapshot, saved_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET snapshot = excluded.snapshot, saved_at = excluded.saved_at').run(snapshot, now)
  }

  /** The snapshot a clean stop left, removed as it is taken (a later kill must not find it stale). */
  takeEngine (): Uint8Array | undefined {
    const r = this.#sql('SELECT snapshot FROM credit_engine WHERE id = 1').get() as { snapshot: Uint8Array } | undefined
    this.#sql('DELETE FROM credit_engine').run()
    return r === undefined ? undefined : new Uint8Array(r.snapshot)
  }

  // ---- fee and offer policy -------------------------------------------------------------

  setFee (unit: string, ppm: number): void {
    this.#sql('INSERT INTO credit_fees (unit, ppm) VALUES (?, ?) ON CONFLICT (unit) DO UPDATE SET ppm = excluded.ppm').run(unit, ppm)
  }

  fees (): Array<{ unit: string, ppm: number }> {
    return this.#sql('SELECT unit, ppm FROM credit_fees ORDER BY unit').all() as Array<{ unit: string, ppm: number }>
  }

  setOffer (from: string, to: string, rate: bigint): void {
    this.#sql('INSERT INTO credit_offers (from_unit, to_unit, rate) VALUES (?, ?, ?) ON CONFLICT (from_unit, to_unit) DO UPDATE SET rate = excluded.rate').run(from, to, rate.toString())
  }

  offers (): Array<{ from: string, to: string, rate: bigint }> {
    return (this.#sql('SELECT from_unit, to_unit, rate FROM credit_offers ORDER BY from_unit, to_unit').all() as Row[])
      .map((r) => ({ from: r.from_unit as string, to: r.to_unit as string, rate: BigInt(r.rate as string) }))
  }
}

const bytes = (v: unknown): Uint8Array => new Uint8Array(v as Uint8Array)
const bytesOrNull = (v: unknown): Uint8Array | null => v === null || v === undefined ? null : bytes(v)

function lineRow (r: Row): LineRow {
  return {
    id: bytes(r.id),
    peerAccount: bytes(r.peer_account),
    peerDevice: bytes(r.peer_device),
    unit: r.unit as string,
    side: r.side as Side,
    seq: r.seq as number,
    signed: bytesOrNull(r.signed),
    channel: bytesOrNull(r.channel),
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number
  }
}

function invoiceRow (r: Row): InvoiceRow {
  return { id: bytes(r.id), condition: bytes(r.condition), fulfillment: bytes(r.fulfillment), amount: BigInt(r.amount as string), unit: r.unit as string, createdAt: r.created_at as number, paidAt: r.paid_at as number | null }
}

function paymentRow (r: Row): PaymentRow {
  return {
    id: bytes(r.id),
    direction: r.direction as PaymentDirection,
    peer: bytes(r.peer),
    amount: BigInt(r.amount as string),
    unit: r.unit as string,
    fee: BigInt(r.fee as string),
    status: r.status as PaymentStatus,
    code: r.code as string | null,
    message: r.message as string | null,
    routes: r.routes === null ? null : JSON.parse(r.routes as string) as unknown,
    createdAt: r.created_at as number,
    doneAt: r.done_at as number | null
  }
}
