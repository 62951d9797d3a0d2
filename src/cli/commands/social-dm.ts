// `peernet social dm ACCOUNT TEXT` and `peernet social inbox`: the social app's private
// messages, through its node-level command and query (src/apps/social/dm.ts).

import type { Command } from '../command.ts'
import { positiveIntFlag } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import type { DmView } from '../../apps/social/dm.ts'

export const socialDmCommand: Command = {
  name: 'social dm',
  summary: 'Send a private message to an account, end-to-end encrypted to its devices (works offline; members you share a network with carry it).',
  usage: 'social dm ACCOUNT TEXT [--net NET] [--json]',
  help: `  --net NET          the network to carry it (default: of those you both belong to, the one with the most members)

ACCOUNT is the recipient's account key, or its first 8 or more hex digits.`,
  options: { net: { type: 'string' } },
  read: true,
  positionals: { min: 2, max: 2 },
  run: async (ctx) => {
    const [to, text] = ctx.positionals as [string, string]
    const net = typeof ctx.values.net === 'string' ? ctx.values.net : undefined
    const r = await new ApiClient(ctx.home).post<{ id: string, net: string, to: string, ts: number }>('/v1/apps/social/dm', net === undefined ? { to, text } : { to, text, net })
    ctx.print(r, () => [`sent ${r.id.slice(0, 12)}… to ${r.to.slice(0, 12)}… through ${r.net}`])
  }
}

export const socialInboxCommand: Command = {
  name: 'social inbox',
  summary: 'Private messages received and sent, newest first.',
  usage: 'social inbox [--limit N] [--json]',
  help: '  --limit N          how many of the newest messages (default 100)',
  options: { limit: { type: 'string' } },
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const limit = positiveIntFlag(ctx, 'limit', 100, 10_000)
    const messages = await new ApiClient(ctx.home).get<DmView[]>(`/v1/apps/social/inbox?limit=${limit}`)
    ctx.print(messages, () => messages.length === 0
      ? ['no private messages yet']
      : messages.map((m) => `${new Date(m.ts).toISOString()}  ${m.direction === 'sent' ? `to   ${m.to.slice(0, 8)}` : `from ${m.from.slice(0, 8)}`}  ${m.text}`))
  }
}
