// `peernet account …`: the account key that authors this node's entries, and its devices.

import type { Command } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import { table } from '../format.ts'

export const accountDevicesCommand: Command = {
  name: 'account devices',
  summary: 'Show your account and the devices that write for it.',
  usage: 'account devices [--json]',
  help: '',
  options: {},
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const r = await new ApiClient(ctx.home).get<{ account: string, devices: Array<{ device: string, thisDevice: boolean, kind: string }> }>('/v1/account')
    ctx.print(r, () => [`account: ${r.account}`, ...table(['DEVICE', 'KIND', ''], r.devices.map((d) => [d.device, d.kind, d.thisDevice ? '(this node)' : '']))])
  }
}
