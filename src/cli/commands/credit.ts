// `peernet credit …`: the credit app (trust lines and payments routed through friends),
// through the app interface's account-wide routes (/v1/apps/credit/…). Amounts, units,
// rates and accounts are checked here first, so a typo fails with one line before the
// daemon is asked anything.

import type { Command, CommandContext } from '../command.ts'
import { positiveIntFlag } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import { PeernetError, UsageError } from '../../core/errors.ts'
import { checkUnit, parseAmount } from '../../apps/credit/amount.ts'
import type { HistoryView, LineView, PayResult, TrustResult } from '../../apps/credit/views.ts'

const APP = '/v1/apps/credit'
const client = (ctx: CommandContext): ApiClient => new ApiClient(ctx.home)
const short = (hex: string): string => hex.slice(0, 10)

/** A flag or argument checked by `check`, whose error becomes a usage error naming it. */
function checked<T> (what: string, text: string, check: (t: string) => T): T {
  try { return check(text) } catch (err) {
    if (err instanceof PeernetError) throw new UsageError(`${what}: ${err.message}`, { hint: err.hint })
    throw err
  }
}

function requiredFlag (ctx: CommandContext, name: string, cmd: string): string {
  const v = ctx.values[name]
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`, { hint: `see \`peernet credit ${cmd} --help\`` })
  return v
}

function account (text: string): string {
  if (!/^[0-9a-fA-F]{8,64}$/.test(text)) throw new UsageError(`"${text}" is not an account`, { hint: 'give the account key in hex (8+ digits of one that shares a network with you are enough)' })
  return text.toLowerCase()
}

const unitFlag = (ctx: CommandContext, cmd: string, name = 'unit'): string => checked(`--${name}`, requiredFlag(ctx, name, cmd), checkUnit)

const ACCOUNT_HELP = '  ACCOUNT            the other account\'s key (hex; 8+ digits of one that shares a network with you)'

export const creditTrustCommand: Command = {
  name: 'credit trust',
  summary: 'Extend credit to an account in a unit: opens the trust line, or sets your limit on it.',
  usage: 'credit trust ACCOUNT LIMIT --unit U [--json]',
  help: `${ACCOUNT_HELP}
  LIMIT              how much the account may owe you (a decimal, e.g. 100 or 12.5)
  --unit U           the line's unit: any name of 1–16 letters, digits, _ or - (USD, hours)

The line is a bilateral account kept by both of you: every change is signed by both
devices. The other side sets the credit it extends to you with its own \`credit trust\`.`,
  options: { unit: { type: 'string' } },
  read: true,
  positionals: { min: 2, max: 2 },
  run: async (ctx) => {
    const [who, limitText] = ctx.positionals as [string, string]
    const body = { account: account(who), limit: limitText, unit: unitFlag(ctx, 'trust') }
    checked('LIMIT', limitText, parseAmount)
    const r = await client(ctx).post<TrustResult>(`${APP}/trust`, body)
    ctx.print(r, () => [`line ${short(r.line)} with ${short(r.account)}: you trust them for ${r.limit} ${r.unit} (seq ${r.seq}, signed by both)`])
  }
}

export const creditLinesCommand: Command = {
  name: 'credit lines',
  summary: 'Your trust lines: balance, both limits, pending holds.',
  usage: 'credit lines [--json]',
  help: 'Balance is what the other account owes you (negative: what you owe it).',
  options: {},
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const lines = await client(ctx).get<LineView[]>(`${APP}/lines`)
    ctx.print(lines, () => lines.length === 0
      ? ['no trust lines yet: `peernet credit trust ACCOUNT LIMIT --unit U`']
      : lines.map((l) => `${short(l.account)}  ${l.unit.padEnd(6)}  balance ${l.balance}  you trust ${l.trustGiven}  they trust ${l.trustReceived}  holds ${l.holds}  seq ${l.seq}${l.pending ? '  (update pending)' : ''}`))
  }
}

export const creditPayCommand: Command = {
  name: 'credit pay',
  summary: 'Pay an account through your trust lines (routed through friends, split over paths if need be).',
  usage: 'credit pay ACCOUNT AMOUNT --unit U [--max-fee F] [--json]',
  help: `${ACCOUNT_HELP}
  AMOUNT             what the account receives, in --unit
  --unit U           the unit the account receives
  --max-fee F        the most you pay in fees to intermediaries, in your line's unit (default 0)

Prints the route(s) taken and the fee paid. A payment that fails changes no balance.`,
  options: { unit: { type: 'string' }, 'max-fee': { type: 'string' } },
  read: true,
  positionals: { min: 2, max: 2 },
  run: async (ctx) => {
    const [who, amountText] = ctx.positionals as [string, string]
    const amount = checked('AMOUNT', amountText, parseAmount)
    if (amount === 0n) throw new UsageError('AMOUNT must be more than 0', { hint: 'pay at least 0.000001' })
    const maxFee = typeof ctx.values['max-fee'] === 'string' ? ctx.values['max-fee'] : '0'
    checked('--max-fee', maxFee, parseAmount)
    const body = { account: account(who), amount: amountText, unit: unitFlag(ctx, 'pay'), maxFee }
    const r = await client(ctx).post<PayResult>(`${APP}/pay`, body)
    ctx.print(r, () => [
      `paid ${r.amount} ${r.unit} to ${short(r.account)}; fee ${r.fee}`,
      ...r.routes.map((route) => `  ${route.amount} via ${route.hops.map((h) => `${short(h.account)} (${h.unit})`).join(' → ')}`),
      ...(r.routing === undefined ? [] : [`  found by ${ROUTING_METHODS[r.routing.method] ?? r.routing.method}, ${r.routing.messages} messages`])
    ])
  }
}

/** How `credit pay` names the router's methods (payment-paths.ts). */
const ROUTING_METHODS: Record<string, string> = {
  neighbourhood: 'max flow on the neighbourhood',
  embedding: 'the spanning trees',
  'unit-converting': 'exchange offers'
}

export const creditHistoryCommand: Command = {
  name: 'credit history',
  summary: 'Payments you made, received and relayed, newest first.',
  usage: 'credit history [--limit N] [--json]',
  help: '  --limit N          how many (default 50, at most 1000)',
  options: { limit: { type: 'string' } },
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const list = await client(ctx).get<HistoryView[]>(`${APP}/history?limit=${positiveIntFlag(ctx, 'limit', 50, 1000)}`)
    ctx.print(list, () => list.length === 0
      ? ['no payments yet']
      : list.map((p) => `${new Date(p.createdAt).toISOString()}  ${p.direction.padEnd(9)}  ${p.amount} ${p.unit}  ${p.direction === 'received' ? 'from' : 'to'} ${short(p.peer)}  fee ${p.fee}  ${p.status}${p.message === null ? '' : `: ${p.message}`}`))
  }
}

export const creditOfferCommand: Command = {
  name: 'credit offer',
  summary: 'Offer exchange when relaying payments: one --from unit in becomes --rate --to units out.',
  usage: 'credit offer --from U1 --to U2 --rate R [--json]',
  help: `  --from U1          the unit coming in
  --to U2            the unit going out
  --rate R           how many U2 for one U1 (a decimal, e.g. 0.9; 6 digits after the point at most)`,
  options: { from: { type: 'string' }, to: { type: 'string' }, rate: { type: 'string' } },
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const from = unitFlag(ctx, 'offer', 'from')
    const to = unitFlag(ctx, 'offer', 'to')
    if (from === to) throw new UsageError('--from and --to are the same unit', { hint: 'an offer exchanges one unit for another' })
    const rate = requiredFlag(ctx, 'rate', 'offer')
    if (checked('--rate', rate, parseAmount) === 0n) throw new UsageError('--rate must be more than 0')
    const r = await client(ctx).post<{ from: string, to: string, rate: string }>(`${APP}/offer`, { from, to, rate })
    ctx.print(r, () => [`offering 1 ${r.from} → ${r.rate} ${r.to}`])
  }
}

export const creditFeeCommand: Command = {
  name: 'credit fee',
  summary: 'Set the fee you charge for relaying payments in a unit, in parts per million.',
  usage: 'credit fee --unit U --ppm N [--json]',
  help: `  --unit U           the unit of the outgoing line
  --ppm N            the fee in parts per million of the amount relayed (0 to 1000000; 1000 = 0.1 %)`,
  options: { unit: { type: 'string' }, ppm: { type: 'string' } },
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const unit = unitFlag(ctx, 'fee')
    const text = requiredFlag(ctx, 'ppm', 'fee')
    const ppm = Number(text)
    if (!/^\d{1,7}$/.test(text) || ppm > 1_000_000) throw new UsageError(`--ppm must be a whole number from 0 to 1000000, got "${text}"`)
    const r = await client(ctx).post<{ unit: string, ppm: number }>(`${APP}/fee`, { unit, ppm })
    ctx.print(r, () => [`relaying in ${r.unit} costs ${r.ppm} ppm`])
  }
}

export const CREDIT_COMMANDS: Command[] = [creditTrustCommand, creditLinesCommand, creditPayCommand, creditHistoryCommand, creditOfferCommand, creditFeeCommand]
