import type { Command } from '../command.ts'
import { positiveIntFlag } from '../command.ts'
import { ApiClient } from '../../api/client.ts'

export const pingCommand: Command = {
  name: 'ping',
  summary: 'Measure the round-trip time to a peer (libp2p ping).',
  usage: 'ping <peer-id|multiaddr> [--count N] [--json]',
  help: `A peer id must be connected or known (from \`peernet connect\`); a multiaddr is dialled.

  --count N          number of pings (default 3)`,
  options: { count: { type: 'string', short: 'c' } },
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    const target = ctx.positionals[0] ?? ''
    const count = positiveIntFlag(ctx, 'count', 3, 1000)
    const client = new ApiClient(ctx.home)
    const rtts: number[] = []
    let peerId = ''
    for (let i = 0; i < count; i++) {
      const r = await client.post<{ peerId: string, rttMs: number }>('/v1/ping', { target })
      peerId = r.peerId
      rtts.push(r.rttMs)
      if (!ctx.json) ctx.out(`pong from ${r.peerId}: time=${r.rttMs} ms`)
      if (i < count - 1) await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    const min = Math.min(...rtts)
    const max = Math.max(...rtts)
    const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length
    if (ctx.json) ctx.print({ peerId, rttMs: rtts, min, avg, max }, () => [])
    else ctx.out(`${count} pings: min/avg/max = ${min}/${avg.toFixed(1)}/${max} ms`)
  }
}
