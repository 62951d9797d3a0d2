// The credit app (Ripple on Peernet, issue 6): trust lines between accounts and payments
// routed through them. It writes no entries: a line lives on its two holder devices,
// each change signed by both and sent over the direct app-message channel (the app's
// `service`). Networks give it who may open a line with whom: any account this node
// shares a network with. One credit network per community is the usual set-up
// (`peernet net create NAME --app credit`), but a line may use any shared network.

import { defineApp } from '../../networks/app.ts'
import type { AppQueryContext } from '../../networks/app.ts'
import { BadRequestError } from '../../core/errors.ts'
import { toHex } from '../../networks/hashing.ts'
import { CREDIT_MIGRATIONS } from './schema.ts'
import { CreditService } from './credit-service.ts'
import { checkUnit, formatAmount, parseAmount } from './amount.ts'
import { CreditStore } from './store.ts'
import type { HistoryView } from './views.ts'

function serviceOf (ctx: AppQueryContext): CreditService {
  const s = ctx.service
  if (!(s instanceof CreditService)) throw new BadRequestError('the credit service is not running on this node')
  return s
}

function text (params: Record<string, unknown>, field: string): string {
  const v = params[field]
  if (typeof v !== 'string' || v === '') throw new BadRequestError(`field "${field}" must be a non-empty string`)
  return v
}

/** An amount field: a decimal string (as the CLI sends it). */
function amount (params: Record<string, unknown>, field: string): bigint {
  return parseAmount(text(params, field))
}

export const creditApp = defineApp({
  name: 'credit',
  types: {},
  migrations: CREDIT_MIGRATIONS,
  queries: {},
  commands: {},
  service: (ctx) => new CreditService(ctx),
  accountQueries: {
    lines: (ctx) => serviceOf(ctx).lines().map((h) => serviceOf(ctx).lineView(h)),
    history: (ctx, params): HistoryView[] => {
      const limit = params.limit === undefined ? 50 : Number(params.limit)
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw new BadRequestError('limit must be a whole number from 1 to 1000')
      // What the service has queued for its next group commit shows too.
      if (ctx.service instanceof CreditService) ctx.service.flush()
      return new CreditStore(ctx.db).history(limit).map((p) => ({
        id: toHex(p.id),
        direction: p.direction,
        peer: toHex(p.peer),
        amount: formatAmount(p.amount),
        unit: p.unit,
        fee: formatAmount(p.fee),
        status: p.status,
        code: p.code,
        message: p.message,
        routes: p.routes,
        createdAt: p.createdAt,
        doneAt: p.doneAt
      }))
    },
    policy: (ctx) => {
      const store = new CreditStore(ctx.db)
      return { fees: store.fees(), offers: store.offers().map((o) => ({ from: o.from, to: o.to, rate: formatAmount(o.rate) })) }
    }
  },
  accountCommands: {
    trust: async (ctx, params) => {
      const svc = serviceOf(ctx)
      const peer = svc.resolveAccount(text(params, 'account'))
      return await svc.trust(peer, checkUnit(text(params, 'unit')), amount(params, 'limit'))
    },
    pay: async (ctx, params) => {
      const svc = serviceOf(ctx)
      const payee = svc.resolveAccount(text(params, 'account'))
      const maxFee = params.maxFee === undefined ? 0n : amount(params, 'maxFee')
      return await svc.pay(payee, amount(params, 'amount'), checkUnit(text(params, 'unit')), maxFee)
    },
    fee: async (ctx, params) => {
      const ppm = params.ppm
      if (typeof ppm !== 'number') throw new BadRequestError('field "ppm" must be a whole number')
      return await Promise.resolve(serviceOf(ctx).setFee(text(params, 'unit'), ppm))
    },
    offer: async (ctx, params) => {
      const from = checkUnit(text(params, 'from'))
      const to = checkUnit(text(params, 'to'))
      if (from === to) throw new BadRequestError('an offer exchanges one unit for another')
      const rate = amount(params, 'rate')
      if (rate === 0n) throw new BadRequestError('field "rate" must be more than 0')
      return await Promise.resolve(serviceOf(ctx).setOffer(from, to, rate))
    }
  }
})
