import type { Command } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import type { NodeStatus } from '../../node.ts'
import { formatDuration } from '../format.ts'

export const statusCommand: Command = {
  name: 'status',
  summary: 'Show the running node\'s state: addresses, connections, services.',
  usage: 'status [--json]',
  help: '',
  options: {},
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const s = await new ApiClient(ctx.home).get<NodeStatus>('/v1/status')
    const onOff = (b: boolean): string => b ? 'on' : 'off'
    ctx.print(s, () => [
      `peer id:     ${s.peerId}`,
      `version:     ${s.version}`,
      `home:        ${s.home}`,
      `uptime:      ${formatDuration(s.uptimeMs)}`,
      `peers:       ${s.peers} (${s.connections} connection${s.connections === 1 ? '' : 's'})`,
      ...s.addresses.map((a, i) => `${i === 0 ? 'addresses:  ' : '            '} ${a}`),
      `discovery:   mdns ${onOff(s.mdns)}, bootstrap peers ${s.bootstrap.length}, public dht ${onOff(s.publicDht)}`,
      `relay:       ${onOff(s.relay)}    upnp: ${onOff(s.upnp)}`,
      `protocols:   ${s.protocols.join(' ')}`
    ])
  }
}
