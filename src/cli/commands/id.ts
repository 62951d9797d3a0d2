import type { Command } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import { loadIdentity } from '../../core/identity.ts'
import { homePaths } from '../../core/home.ts'
import { DaemonNotRunningError, IdentityError } from '../../core/errors.ts'

interface IdView { peerId: string, publicKey: string, addresses: string[], online: boolean }

export const idCommand: Command = {
  name: 'id',
  summary: 'Show the node\'s peer id, public key and addresses.',
  usage: 'id [--json]',
  help: 'Works without a running daemon too (then no addresses are shown).',
  options: {},
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    let view: IdView
    try {
      const r = await new ApiClient(ctx.home).get<Omit<IdView, 'online'>>('/v1/id')
      view = { ...r, online: true }
    } catch (err) {
      if (!(err instanceof DaemonNotRunningError)) throw err
      const identity = loadIdentity(homePaths(ctx.home).key)
      if (identity === undefined) throw new IdentityError(`no identity in ${ctx.home}`, { hint: `create one with \`peernet init --home ${ctx.home}\`` })
      view = { peerId: identity.peerId, publicKey: Buffer.from(identity.publicKey).toString('base64'), addresses: [], online: false }
    }
    ctx.print(view, () => [
      `peer id:    ${view.peerId}`,
      `public key: ${view.publicKey} (ed25519)`,
      ...(view.online ? view.addresses.map((a, i) => `${i === 0 ? 'addresses: ' : '           '} ${a}`) : ['daemon:     not running']),
      ...(view.online && view.addresses.length === 0 ? ['addresses:  none'] : [])
    ])
  }
}
