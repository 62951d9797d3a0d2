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
    }
  }
})
