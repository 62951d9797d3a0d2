// What credit services say to each other on the direct app-message channel: line-channel
// messages (line-channel.ts carries their format), and the few requests a payment needs
// besides — an invoice from the payee (with its radius-2 view, payment-paths.ts), a
// friend's lines, the spanning-tree announcements (paths/tree-embedding.ts) and the tree
// probes. Canonical CBOR, one map per message, strictly decoded.

import { decodeCanonical, encodeCanonical } from '../../core/encoding.ts'
import type { CanonicalValue } from '../../core/encoding.ts'
import { InvalidLineStateError } from './errors.ts'
import type { TreeAnnouncement } from './paths/tree-embedding.ts'

/** A line as its holder tells a payer planning a route: what can flow each way right now. */
export interface LineReport {
  peer: Uint8Array
  unit: string
  /** What the reporter can pay the peer now. */
  out: bigint
  /** What the peer can pay the reporter now. */
  in: bigint
}

export interface PolicyReport {
  fees: Array<{ unit: string, ppm: number }>
  offers: Array<{ from: string, to: string, rate: bigint }>
}

export type CreditMessage =
  | { t: 'line', m: Uint8Array }
  /** Please make an invoice for `amount` of `unit` (the payer asks the payee); `view: false` when the payer's copy of the payee's view is fresh. */
  | { t: 'invoice?', id: Uint8Array, amount: bigint, unit: string, view?: false }
  /** The invoice's condition, or why there is none; the payee's view for the router and the messages it cost (absent from older nodes). */
  | { t: 'invoice', id: Uint8Array, condition: Uint8Array | null, reason: string | null, view?: WireViewNode[], spent?: number }
  /** Please tell me your lines and your fee and offer policy. */
  | { t: 'lines?', id: Uint8Array }
  | { t: 'lines', id: Uint8Array, lines: LineReport[], policy: PolicyReport }
  /** A spanning-tree announcement to a friend, for one unit's trees. */
  | { t: 'tree', unit: string, trees: TreeAnnouncement[] }
  /** A tree probe on its way to the payee for `amount`: the hops so far (the payer's first), each line's room told up to `reveal`. */
  | { t: 'probe', id: Uint8Array, payer: Uint8Array, payee: Uint8Array, unit: string, tree: number, root: string, target: number[], amount: bigint, reveal: bigint, hops: WireProbeHop[] }
  /** Where a probe ended, sent to the payer by the payee (reached) or by the hop that found no way on. */
  | { t: 'probe-result', id: Uint8Array, reached: boolean, hops: WireProbeHop[] }

/** An account of the payee's view: its lines, policy, and per tree its root and coordinate. */
export interface WireViewNode { account: Uint8Array, lines: LineReport[], policy: PolicyReport, trees: Array<{ root: string, coord: number[] } | null> }

export interface WireProbeHop { account: Uint8Array, next: Uint8Array, unit: string, out: bigint, feePpm: number, coord: number[] }

/** Bounds on what a peer may send: views, probe paths and coordinates stay small. */
export const MAX_VIEW = 256
const MAX_HOPS = 64
const MAX_TREES = 16

export function encodeCreditMessage (m: CreditMessage): Uint8Array {
  // Line-message bytes may come as a Buffer (a Uint8Array subclass the encoder refuses): view them plainly.
  const value = m.t === 'line' && Object.getPrototypeOf(m.m) !== Uint8Array.prototype ? { t: 'line', m: new Uint8Array(m.m.buffer, m.m.byteOffset, m.m.byteLength) } : m
  return encodeCanonical(value as unknown as CanonicalValue)
}

const bad = (what: string): never => { throw new InvalidLineStateError(`malformed credit message: ${what}`) }
const bytes = (v: unknown, n: number | null, what: string): Uint8Array => v instanceof Uint8Array && (n === null || v.byteLength === n) ? v : bad(what)
const big = (v: unknown, what: string): bigint => typeof v === 'bigint' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : bad(what)
const str = (v: unknown, what: string): string => typeof v === 'string' && v.length <= 64 ? v : bad(what)

export function decodeCreditMessage (data: Uint8Array): CreditMessage {
  let v: Record<string, unknown>
  try { v = decodeCanonical(data) as Record<string, unknown> } catch { return bad('not canonical CBOR') }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return bad('not a map')
  switch (v.t) {
    case 'line': return { t: 'line', m: bytes(v.m, null, 'line message') }
    case 'invoice?': {
      const m: CreditMessage = { t: 'invoice?', id: bytes(v.id, 16, 'id'), amount: big(v.amount, 'amount'), unit: str(v.unit, 'unit') }
      if (v.view === false) m.view = false
      else if (v.view !== undefined) bad('view')
      return m
    }
    case 'invoice': return {
      t: 'invoice',
      id: bytes(v.id, 16, 'id'),
      condition: v.condition === null ? null : bytes(v.condition, 32, 'condition'),
      reason: v.reason === null ? null : str(v.reason, 'reason'),
      view: v.view === undefined ? [] : list(v.view, MAX_VIEW, 'view').map(viewNode),
      spent: v.spent === undefined ? 0 : nat(v.spent, 'spent')
    }
    case 'lines?': return { t: 'lines?', id: bytes(v.id, 16, 'id') }
    case 'lines': {
      if (!Array.isArray(v.lines) || v.lines.length > 4096) return bad('lines')
      const p = v.policy as Record<string, unknown> | null
      if (typeof p !== 'object' || p === null || !Array.isArray(p.fees) || !Array.isArray(p.offers)) return bad('policy')
      return {
        t: 'lines',
        id: bytes(v.id, 16, 'id'),
        lines: lineReports(v.lines),
        policy: policyReport(v.policy)
      }
    }
    case 'tree': return { t: 'tree', unit: str(v.unit, 'unit'), trees: list(v.trees, MAX_TREES, 'trees').map(announcement) }
    case 'probe': return {
      t: 'probe',
      id: bytes(v.id, 16, 'id'),
      payer: bytes(v.payer, 32, 'payer'),
      payee: bytes(v.payee, 32, 'payee'),
      unit: str(v.unit, 'unit'),
      tree: nat(v.tree, 'tree'),
      root: str(v.root, 'root'),
      target: coord(v.target),
      amount: big(v.amount, 'amount'),
      reveal: big(v.reveal, 'reveal'),
      hops: list(v.hops, MAX_HOPS, 'hops').map(probeHop)
    }
    case 'probe-result': return { t: 'probe-result', id: bytes(v.id, 16, 'id'), reached: v.reached === true, hops: list(v.hops, MAX_HOPS, 'hops').map(probeHop) }
    default: return bad(`unknown type ${String(v.t)}`)
  }
}

const list = (v: unknown, max: number, what: string): unknown[] => Array.isArray(v) && v.length <= max ? v : bad(what)
const nat = (v: unknown, what: string): number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : bad(what)
const map = (v: unknown, what: string): Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) ? v as Record<string, unknown> : bad(what)
const coord = (v: unknown): number[] => list(v, MAX_HOPS, 'coordinate').map((x) => nat(x, 'coordinate'))

function lineReports (v: unknown): LineReport[] {
  return list(v, 4096, 'lines').map((x) => { const l = map(x, 'line'); return { peer: bytes(l.peer, 32, 'peer'), unit: str(l.unit, 'unit'), out: big(l.out, 'out'), in: big(l.in, 'in') } })
}

function policyReport (v: unknown): PolicyReport {
  const p = map(v, 'policy')
  return {
    fees: list(p.fees, 256, 'fees').map((x) => { const f = map(x, 'fee'); return { unit: str(f.unit, 'unit'), ppm: Number(big(f.ppm, 'ppm')) } }),
    offers: list(p.offers, 256, 'offers').map((x) => { const o = map(x, 'offer'); return { from: str(o.from, 'from'), to: str(o.to, 'to'), rate: big(o.rate, 'rate') } })
  }
}

function viewNode (x: unknown): WireViewNode {
  const v = map(x, 'view node')
  return {
    account: bytes(v.account, 32, 'account'),
    lines: lineReports(v.lines),
    policy: policyReport(v.policy),
    trees: list(v.trees, MAX_TREES, 'trees').map((t) => { if (t === null) return null; const p = map(t, 'tree'); return { root: str(p.root, 'root'), coord: coord(p.coord) } })
  }
}

function announcement (x: unknown): TreeAnnouncement {
  const a = map(x, 'announcement')
  return {
    root: str(a.root, 'root'),
    depth: nat(a.depth, 'depth'),
    coord: a.coord === null ? null : coord(a.coord),
    parent: a.parent === true,
    index: a.index === null ? null : nat(a.index, 'index')
  }
}

function probeHop (x: unknown): WireProbeHop {
  const h = map(x, 'hop')
  return { account: bytes(h.account, 32, 'account'), next: bytes(h.next, 32, 'next'), unit: str(h.unit, 'unit'), out: big(h.out, 'out'), feePpm: nat(h.feePpm, 'feePpm'), coord: coord(h.coord) }
}
