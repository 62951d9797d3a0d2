import type { Command } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import { isAlive } from '../../core/home-lock.ts'
import { PeernetError } from '../../core/errors.ts'

const STOP_WAIT_MS = 15_000

export const stopCommand: Command = {
  name: 'stop',
  summary: 'Stop the daemon running on this home and wait until it has exited.',
  usage: 'stop',
  help: '',
  options: {},
  read: false,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const client = new ApiClient(ctx.home)
    await client.post('/v1/stop')
    const deadline = Date.now() + STOP_WAIT_MS
    while (isAlive(client.info.pid)) {
      if (Date.now() > deadline) throw new PeernetError(`the daemon (pid ${client.info.pid}) is still running after ${STOP_WAIT_MS / 1000}s`, { hint: `kill it with: kill ${client.info.pid}` })
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    ctx.out('stopped')
  }
}
