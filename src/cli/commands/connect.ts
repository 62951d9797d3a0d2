import type { Command } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import { parseMultiaddr } from '../../core/config.ts'

export const connectCommand: Command = {
  name: 'connect',
  summary: 'Dial a peer by multiaddr and keep it as a known peer.',
  usage: 'connect <multiaddr> [--json]',
  help: 'Example: peernet connect /ip4/192.0.2.7/tcp/4610/p2p/12D3KooW…',
  options: {},
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    const address = parseMultiaddr(ctx.positionals[0] ?? '')
    const r = await new ApiClient(ctx.home).post<{ peerId: string, address: string }>('/v1/connect', { address })
    ctx.print(r, () => [`connected to ${r.peerId} at ${r.address}`])
  }
}
