import type { Command } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import type { ConnectedPeer } from '../../host/host.ts'
import { formatRtt, table } from '../format.ts'

export const peersCommand: Command = {
  name: 'peers',
  summary: 'List the peers the node is connected to.',
  usage: 'peers [--json]',
  help: '',
  options: {},
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const { peers } = await new ApiClient(ctx.home).get<{ peers: ConnectedPeer[] }>('/v1/peers')
    ctx.print(peers, () => peers.length === 0
      ? ['no peers connected (connect with `peernet connect MULTIADDR`)']
      : table(['PEER', 'DIR', 'RTT', 'AGENT', 'ADDRESS'], peers.map((p) => [p.peerId, p.direction === 'inbound' ? 'in' : 'out', formatRtt(p.rttMs), p.agent ?? '-', p.addresses[0] ?? '-'])))
  }
}
