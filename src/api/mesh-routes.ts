// API routes of the mesh: neighbours, routes, sending a sealed message, the inbox, the outbox.

import type { Peernet } from '../node.ts'
import { optionalWhole, requireString } from './routes.ts'
import type { Route } from './routes.ts'
import { BadRequestError } from '../core/errors.ts'
import { MeshDisabledError } from '../mesh/errors.ts'
import type { MeshService } from '../mesh/mesh-service.ts'

/** Longest a send may wait for its acknowledgement. */
const MAX_SEND_WAIT_MS = 120_000

export function meshRoutes (node: Peernet): Route[] {
  const mesh = (): MeshService => {
    if (node.mesh === null) throw new MeshDisabledError('the mesh is off on this node', { hint: 'start the daemon without --no-mesh (or set "mesh": true in config.json)' })
    return node.mesh
  }
  return [
    { method: 'GET', path: '/v1/mesh/neighbours', handler: () => Promise.resolve({ self: mesh().self, neighbours: mesh().neighbours() }) },
    { method: 'GET', path: '/v1/mesh/routes', handler: () => Promise.resolve({ self: mesh().self, routes: mesh().routes(), sources: mesh().sources(), custody: mesh().custody() }) },
    { method: 'GET', path: '/v1/mesh/stats', handler: () => Promise.resolve(mesh().stats()) },
    {
      method: 'GET',
      path: '/v1/mesh/inbox',
      handler: ({ query }) => {
        const limit = Number(query.get('limit') ?? 100)
        if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) throw new BadRequestError('limit must be a whole number from 1 to 10000')
        return Promise.resolve({ messages: mesh().inbox(limit) })
      }
    },
    { method: 'GET', path: '/v1/mesh/outbox', handler: () => Promise.resolve({ messages: mesh().outbox() }) },
    {
      method: 'POST',
      path: '/v1/mesh/send',
      handler: async ({ body }) => {
        const peer = requireString(body, 'peer')
        const text = requireString(body, 'text')
        const timeoutMs = optionalWhole(body, 'timeoutMs', 'a whole number of milliseconds') ?? 10_000
        if (timeoutMs > MAX_SEND_WAIT_MS) throw new BadRequestError(`timeoutMs is at most ${MAX_SEND_WAIT_MS}`)
        if (body.ack !== undefined && typeof body.ack !== 'boolean') throw new BadRequestError('field "ack" must be true or false')
        return await mesh().send(peer, text, { ack: body.ack !== false, timeoutMs })
      }
    }
  ]
}
