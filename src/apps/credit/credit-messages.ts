// What credit services say to each other on the direct app-message channel: line-channel
// messages (line-channel.ts carries their format), and the few requests a payment needs
// besides — an invoice from the payee, and a node's lines for the simple router (see
// simple-paths.ts). Canonical CBOR, one map per message, strictly decoded.

import { decodeCanonical, encodeCanonical } from '../../core/encoding.ts'
import type { CanonicalValue } from '../../core/encoding.ts'
import { InvalidLineStateError } from './errors.ts'

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
  /** Please make an invoice for `amount` of `unit` (the payer asks the payee). */
  | { t: 'invoice?', id: Uint8Array, amount: bigint, unit: string }
  /** The invoice's condition, or why there is none. */
  | { t: 'invoice', id: Uint8Array, condition: Uint8Array | null, reason: string | null }
  /** Please tell me your lines and your fee and offer policy. */
  | { t: 'lines?', id: Uint8Array }
  | { t: 'lines', id: Uint8Array, lines: LineReport[], policy: PolicyReport }

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
    case 'invoice?': return { t: 'invoice?', id: bytes(v.id, 16, 'id'), amount: big(v.amount, 'amount'), unit: str(v.unit, 'unit') }
    case 'invoice': return {
      t: 'invoice',
      id: bytes(v.id, 16, 'id'),
      condition: v.condition === null ? null : bytes(v.condition, 32, 'condition'),
      reason: v.reason === null ? null : str(v.reason, 'reason')
    }
    case 'lines?': return { t: 'lines?', id: bytes(v.id, 16, 'id') }
    case 'lines': {
      if (!Array.isArray(v.lines) || v.lines.length > 4096) return bad('lines')
      const p = v.policy as Record<string, unknown> | null
      if (typeof p !== 'object' || p === null || !Array.isArray(p.fees) || !Array.isArray(p.offers)) return bad('policy')
      return {
        t: 'lines',
        id: bytes(v.id, 16, 'id'),
        lines: (v.lines as Array<Record<string, unknown>>).map((l) => ({ peer: bytes(l.peer, 32, 'peer'), unit: str(l.unit, 'unit'), out: big(l.out, 'out'), in: big(l.in, 'in') })),
        policy: {
          fees: (p.fees as Array<Record<string, unknown>>).map((f) => ({ unit: str(f.unit, 'unit'), ppm: Number(big(f.ppm, 'ppm')) })),
          offers: (p.offers as Array<Record<string, unknown>>).map((o) => ({ from: str(o.from, 'from'), to: str(o.to, 'to'), rate: big(o.rate, 'rate') }))
        }
      }
    }
    default: return bad(`unknown type ${String(v.t)}`)
  }
}
