// `peernet chat …`: the built-in chat app, through the app interface's command and query.

import type { Command } from '../command.ts'
import { positiveIntFlag } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import type { ChatMessageView } from '../../apps/chat/chat.ts'

export const chatSendCommand: Command = {
  name: 'chat send',
  summary: 'Send a message to a chat network (works offline; syncs when peers are reachable).',
  usage: 'chat send NET TEXT [--json]',
  help: '',
  options: {},
  read: true,
  positionals: { min: 2, max: 2 },
  run: async (ctx) => {
    const [net, text] = ctx.positionals as [string, string]
    const r = await new ApiClient(ctx.home).post<{ id: string, ts: number }>(`/v1/networks/${encodeURIComponent(net)}/app/send`, { text })
    ctx.print(r, () => [`sent ${r.id.slice(0, 12)}…`])
  }
}

export const chatReadCommand: Command = {
  name: 'chat read',
  summary: 'Read a chat network\'s messages, oldest first.',
  usage: 'chat read NET [--limit N] [--json]',
  help: '  --limit N          how many of the newest messages (default 100)',
  options: { limit: { type: 'string' } },
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    const limit = positiveIntFlag(ctx, 'limit', 100, 10_000)
    const messages = await new ApiClient(ctx.home).get<ChatMessageView[]>(`/v1/networks/${encodeURIComponent(ctx.positionals[0] ?? '')}/app/read?limit=${limit}`)
    ctx.print(messages, () => messages.length === 0 ? ['no messages yet'] : messages.map((m) => `${new Date(m.ts).toISOString()}  ${m.author.slice(0, 8)}  ${m.text}`))
  }
}
