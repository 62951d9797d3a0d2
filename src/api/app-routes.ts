// API routes of apps' operations not bound to one network (AppDefinition.nodeQueries and
// nodeCommands): a social inbox across every network, a private message whose network
// the app picks. A `net` field, if given, names a network and is resolved here.

import type { Peernet } from '../node.ts'
import type { Route } from './routes.ts'
import { BadRequestError } from '../core/errors.ts'

export function appRoutes (node: Peernet): Route[] {
  const nets = node.networks
  return [
    {
      method: 'POST',
      path: '/v1/apps/:app/:command',
      handler: async ({ params, body }) => {
        const p: Record<string, unknown> = { ...body }
        if (p.net !== undefined) {
          if (typeof p.net !== 'string') throw new BadRequestError('field "net" must be a network id')
          p.net = nets.resolve(p.net)
        }
        return await nets.nodeCommand(params.app ?? '', params.command ?? '', p)
      }
    },
    {
      method: 'GET',
      path: '/v1/apps/:app/:query',
      handler: ({ params, query }) => {
        const p: Record<string, unknown> = {}
        for (const [k, v] of query) p[k] = /^\d+$/.test(v) ? Number(v) : v
        return Promise.resolve(nets.nodeQuery(params.app ?? '', params.query ?? '', p))
      }
    }
  ]
}
