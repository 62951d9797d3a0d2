// Reader and writer of the CREDIT_LINKS trace format of the SpeedyMurmurs and Flash
// simulators (GTNA graph property files): optional header lines (comments starting with
// '#', then the property's class name and key, e.g. `treeembedding.credit.CreditLinks`
// and `CREDIT_LINKS`), then one line per link:
//
//   u v lower balance upper
//
// Semantics, as SpeedyMurmurs' own reader and accessors define them
// (treeembedding/credit/CreditLinks.java in the SpeedyMurmurs code, stef-roos/PaymentRouting:
// `read` parses `src dst min current max`; `getMaxTransactionAmount(src, dst)` is
// `max − current` when src < dst and `current − min` the other way; a payment src → dst
// adds to `current` when src < dst): what u can still pay v is `upper − balance`, what v
// can still pay u is `balance − lower`, and a payment u → v raises the balance. Their
// files list each link once with u < v; a line with u > v is read the same way (u pays v
// up to `upper − balance`).
//
// Amounts there are decimals (Java doubles, possibly `1.0E7`); here they become bigint
// smallest units with a fixed number of decimals (default 6), the fraction beyond cut off.

import { readFileSync } from 'node:fs'
import { CapacityGraph } from '../../apps/credit/paths/capacity-graph.ts'
import { CreditLinksError } from './errors.ts'

export interface CreditLink {
  u: number
  v: number
  lower: bigint
  balance: bigint
  upper: bigint
}

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/

/** A decimal (with optional exponent) as an integer count of 10^-decimals; undefined if it is not one. */
export function parseDecimal (text: string, decimals: number): bigint | undefined {
  const m = DECIMAL.exec(text)
  if (m === null) return undefined
  const digits = (m[2] ?? '') + (m[3] ?? '')
  const exponent = Number(m[4] ?? '0') - (m[3] ?? '').length + decimals
  if (!Number.isSafeInteger(exponent) || exponent > 400) return undefined
  let value: bigint
  if (exponent >= 0) value = BigInt(digits) * 10n ** BigInt(exponent)
  else value = -exponent >= digits.length ? 0n : BigInt(digits.slice(0, digits.length + exponent))
  return m[1] === '-' ? -value : value
}

/** Parses CREDIT_LINKS text; `source` names the file in errors. */
export function parseCreditLinks (text: string, source = 'CREDIT_LINKS', decimals = 6): CreditLink[] {
  const links: CreditLink[] = []
  const seen = new Map<string, number>()
  let headerLines = 0
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim()
    const at = `${source} line ${i + 1}`
    if (line === '' || line.startsWith('#')) continue
    const parts = line.split(/\s+/)
    // GTNA's header: the property's class name and key, before any link.
    if (links.length === 0 && headerLines < 2 && !/^\d/.test(parts[0] ?? '')) { headerLines++; continue }
    if (parts.length !== 5) throw new CreditLinksError(`${at}: expected 5 fields "u v lower balance upper", got ${parts.length}: "${line.slice(0, 80)}"`)
    const [us, vs, ls, bs, hs] = parts as [string, string, string, string, string]
    if (!/^\d+$/.test(us) || !/^\d+$/.test(vs)) throw new CreditLinksError(`${at}: node ids must be non-negative integers, got "${us}" and "${vs}"`)
    const u = Number(us)
    const v = Number(vs)
    if (!Number.isSafeInteger(u) || !Number.isSafeInteger(v)) throw new CreditLinksError(`${at}: node id too large`)
    if (u === v) throw new CreditLinksError(`${at}: a link from node ${u} to itself`)
    const lower = parseDecimal(ls, decimals)
    const balance = parseDecimal(bs, decimals)
    const upper = parseDecimal(hs, decimals)
    if (lower === undefined || balance === undefined || upper === undefined) throw new CreditLinksError(`${at}: lower, balance and upper must be decimal numbers, got "${ls} ${bs} ${hs}"`)
    if (!(lower <= balance && balance <= upper)) throw new CreditLinksError(`${at}: needs lower ≤ balance ≤ upper, got ${ls} ${bs} ${hs}`)
    const key = u < v ? `${u} ${v}` : `${v} ${u}`
    const first = seen.get(key)
    if (first !== undefined) throw new CreditLinksError(`${at}: link ${u}–${v} is already given on line ${first}`)
    seen.set(key, i + 1)
    links.push({ u, v, lower, balance, upper })
  }
  if (links.length === 0) throw new CreditLinksError(`${source}: no links`)
  return links
}

/** Reads a CREDIT_LINKS file. */
export function readCreditLinks (path: string, decimals = 6): CreditLink[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new CreditLinksError(`cannot read ${path}: ${(err as Error).message}`, { cause: err })
  }
  return parseCreditLinks(text, path, decimals)
}

/** The capacity graph of the links: u → v can move `upper − balance`, v → u `balance − lower`; node ids are the decimal ids. */
export function creditLinksGraph (links: readonly CreditLink[]): CapacityGraph {
  const graph = new CapacityGraph()
  for (const l of links) graph.addLink(String(l.u), String(l.v), l.upper - l.balance, l.balance - l.lower)
  return graph
}

/** CREDIT_LINKS text of a graph built by `creditLinksGraph` or the generator (balance 0: lower = −(v → u), upper = u → v). */
export function formatCreditLinks (graph: CapacityGraph, decimals = 6): string {
  const scale = 10n ** BigInt(decimals)
  const num = (x: bigint): string => {
    const sign = x < 0n ? '-' : ''
    const a = x < 0n ? -x : x
    const frac = (a % scale).toString().padStart(decimals, '0').replace(/0+$/, '')
    return `${sign}${a / scale}${frac === '' ? '' : `.${frac}`}`
  }
  const out = ['# Graph Property Class', 'treeembedding.credit.CreditLinks', '# Key', 'CREDIT_LINKS']
  for (let k = 0; k < graph.linkCount; k++) {
    const u = graph.ids[graph.from[2 * k] ?? 0] ?? ''
    const v = graph.ids[graph.to[2 * k] ?? 0] ?? ''
    out.push(`${u} ${v} ${num(-graph.cap(2 * k + 1))} 0 ${num(graph.cap(2 * k))}`)
  }
  return out.join('\n') + '\n'
}
