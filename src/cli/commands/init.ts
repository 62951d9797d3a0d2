import type { Command } from '../command.ts'
import { initHome } from '../../node.ts'

export const initCommand: Command = {
  name: 'init',
  summary: 'Create the node\'s home: an identity key (0600) and a default config.',
  usage: 'init [--home DIR]',
  help: 'An existing identity is kept as it is; a corrupt one is reported, never replaced.',
  options: {},
  read: true,
  positionals: { min: 0, max: 0 },
  run: (ctx) => {
    const { identity, created, paths } = initHome(ctx.home)
    ctx.print({ peerId: identity.peerId, home: paths.dir, created }, () => [
      created ? `created identity ${identity.peerId}` : `identity already exists: ${identity.peerId}`,
      `home: ${paths.dir}`,
      'start the node with: peernet daemon' + (ctx.values.home === undefined ? '' : ` --home ${paths.dir}`)
    ])
    return Promise.resolve()
  }
}
