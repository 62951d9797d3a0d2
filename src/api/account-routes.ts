// API routes of the account and its devices: list, link (request, link, take up), revoke.

import type { Peernet } from '../node.ts'
import { optionalWhole, requireString } from './routes.ts'
import type { Route } from './routes.ts'

export function accountRoutes (node: Peernet): Route[] {
  const devices = node.devices
  return [
    {
      method: 'GET',
      path: '/v1/account',
      handler: () => Promise.resolve({ ...devices.list(), networks: node.networks.list().filter((n) => n.status === 'member').map((n) => n.id) })
    },
    // On the new device: its link request.
    { method: 'POST', path: '/v1/account/link-request', handler: () => Promise.resolve(devices.request()) },
    // On the account's home: link the device that made the request.
    {
      method: 'POST',
      path: '/v1/account/devices',
      handler: ({ body }) => Promise.resolve(devices.link(requireString(body, 'request'), { expires: optionalWhole(body, 'expires', 'a time in ms since the epoch') }))
    },
    // On the new device: take up the link, then dial the account's home to sync.
    {
      method: 'POST',
      path: '/v1/account/link',
      handler: async ({ body }) => {
        const adopted = devices.adopt(requireString(body, 'link'))
        const dialled = await Promise.all(adopted.addrs.map(async (a) => await node.connect(a).then(() => a, () => null)))
        return { ...adopted, connected: dialled.filter((a) => a !== null) }
      }
    },
    {
      method: 'POST',
      path: '/v1/account/devices/:device/revoke',
      handler: ({ params, body }) => Promise.resolve(devices.revoke(params.device ?? '', { lostSince: optionalWhole(body, 'lostSince', 'a time in ms since the epoch') }))
    }
  ]
}


