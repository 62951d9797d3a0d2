// API routes of the networks layer and its apps.

import type { Peernet } from '../node.ts'
import { optionalWhole, requireString } from './routes.ts'
import type { Route } from './routes.ts'
import { BadRequestError } from '../core/errors.ts'
import type { Role } from '../networks/invite.ts'
import { looksLikeInvite } from '../networks/invite.ts'

export function networkRoutes (node: Peernet): Route[] {
  const nets = node.networks
  const net = (params: Record<string, string>): Uint8Array => nets.resolve(params.net ?? '')
  return [
    { method: 'GET', path: '/v1/networks', handler: () => Promise.resolve({ networks: nets.list() }) },
    {
      method: 'POST',
      path: '/v1/networks',
      handler: ({ body }) => {
        const name = requireString(body, 'name')
        const app = requireString(body, 'app')
        const priv = body.private === true
        const policy = body.policy === 'open' ? 'open' : 'invite'
        return Promise.resolve(nets.create({ name, app, private: priv, policy: priv ? 'invite' : policy }))
      }
    },
    {
      method: 'POST',
      path: '/v1/networks/join',
      handler: async ({ body }) => {
        const text = requireString(body, 'invite')
        if (!looksLikeInvite(text)) {
          // By id: an open network, found through the DHT when its manifest is not held here.
          const joined = await node.rendezvous.joinById(text)
          const m = joined.record.manifest.manifest
          return { id: joined.id, name: m.name, app: m.app, connected: joined.manifestFrom === null ? [] : [joined.manifestFrom], providersFound: joined.providersFound, via: joined.manifestFrom === null ? 'held' : 'rendezvous' }
        }
        const joined = nets.join(text)
        // Dial the members the invite names; sync starts as soon as one answers. Those the
        // mesh can reach hop by hop are also reached that way, now or when a route appears.
        node.reachOverMesh(joined.addrs.flatMap((a) => /\/p2p\/([^/]+)$/.exec(a)?.[1] ?? []))
        const dialled = await Promise.all(joined.addrs.map(async (a) => await node.connect(a).then(() => a, () => null)))
        return { id: joined.id, name: joined.record.manifest.manifest.name, app: joined.record.manifest.manifest.app, connected: dialled.filter((a) => a !== null), providersFound: 0, via: 'invite' }
      }
    },
    {
      method: 'GET',
      path: '/v1/networks/:net',
      handler: ({ params }) => {
        const id = net(params)
        const record = nets.logs.network(id)
        return Promise.resolve({ ...nets.summary(record), created: record.manifest.manifest.created, params: record.manifest.manifest.params, equivocations: nets.equivocations(id), rendezvous: node.rendezvous.status(id) })
      }
    },
    {
      method: 'POST',
      path: '/v1/networks/:net/invites',
      handler: ({ params, body }) => {
        const role: Role = body.role === 'admin' ? 'admin' : 'member'
        if (body.role !== undefined && body.role !== 'admin' && body.role !== 'member') throw new BadRequestError('role must be "admin" or "member"')
        const expires = optionalWhole(body, 'expires')
        const uses = optionalWhole(body, 'uses')
        return Promise.resolve({ invite: nets.invite(net(params), { role, expires, uses }) })
      }
    },
    { method: 'POST', path: '/v1/networks/:net/remove', handler: ({ params, body }) => Promise.resolve(nets.removeMember(net(params), requireString(body, 'member'))) },
    { method: 'POST', path: '/v1/networks/:net/rekey', handler: ({ params }) => Promise.resolve(nets.rekey(net(params))) },
    {
      method: 'POST',
      path: '/v1/networks/:net/role',
      handler: ({ params, body }) => {
        if (body.role !== 'admin' && body.role !== 'member') throw new BadRequestError('role must be "admin" or "member"')
        return Promise.resolve(nets.setRole(net(params), requireString(body, 'member'), body.role))
      }
    },
    { method: 'POST', path: '/v1/networks/:net/leave', handler: ({ params }) => { nets.leave(net(params)); return Promise.resolve({ left: true }) } },
    { method: 'GET', path: '/v1/networks/:net/verify', handler: ({ params }) => Promise.resolve(nets.logs.verify(net(params))) },
    { method: 'GET', path: '/v1/networks/:net/members', handler: ({ params }) => Promise.resolve({ members: nets.members(net(params)) }) },
    {
      method: 'GET',
      path: '/v1/networks/:net/log',
      handler: ({ params, query }) => Promise.resolve({ entries: nets.log(net(params), limitOf(query)) })
    },
    {
      method: 'POST',
      path: '/v1/networks/:net/delete',
      handler: ({ params, body }) => {
        const entries = body.entries
        if (!Array.isArray(entries) || !entries.every((e) => typeof e === 'string')) throw new BadRequestError('field "entries" must be an array of entry hashes (hex)')
        return Promise.resolve(nets.deleteEntries(net(params), entries))
      }
    },
    { method: 'GET', path: '/v1/networks/:net/quota', handler: ({ params }) => Promise.resolve(nets.logs.usage(net(params))) },
    {
      method: 'POST',
      path: '/v1/networks/:net/quota',
      handler: ({ params, body }) => Promise.resolve(nets.setQuota(net(params), optionalWhole(body, 'bytes')))
    },
    {
      method: 'POST',
      path: '/v1/networks/:net/app/:command',
      handler: async ({ params, body }) => await nets.command(net(params), params.command ?? '', body)
    },
    {
      method: 'GET',
      path: '/v1/networks/:net/app/:query',
      handler: ({ params, query }) => {
        const p: Record<string, unknown> = {}
        for (const [k, v] of query) p[k] = /^\d+$/.test(v) ? Number(v) : v
        return Promise.resolve(nets.query(net(params), params.query ?? '', p))
      }
    },
    // An app's commands and queries over every network of it this node is in (a home
    // timeline, notifications, follows). Query values stay strings: the app parses them.
    {
      method: 'POST',
      path: '/v1/apps/:app/:command',
      handler: async ({ params, body }) => await nets.accountCommand(params.app ?? '', params.command ?? '', body)
    },
    {
      method: 'GET',
      path: '/v1/apps/:app/:query',
      handler: ({ params, query }) => Promise.resolve(nets.accountQuery(params.app ?? '', params.query ?? '', Object.fromEntries(query)))
    }
  ]
}



function limitOf (query: URLSearchParams): number {
  const n = Number(query.get('limit') ?? 100)
  return Number.isSafeInteger(n) && n > 0 ? Math.min(n, 10_000) : 100
}


