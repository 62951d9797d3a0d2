// `peernet mesh …`: the last-mile mesh — neighbours, routes, sealed messages, the inbox.

import type { Command } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import { UsageError } from '../../core/errors.ts'
import type { MeshMessage, MeshNeighbour, MeshRoute, MeshSendResult } from '../../mesh/mesh-service.ts'
import type { CustodyView } from '../../mesh/forwarder.ts'
import { formatRtt, table } from '../format.ts'

const metric = (m: number): string => m >= 0xffff ? 'inf' : String(m)

export const meshNeighboursCommand: Command = {
  name: 'mesh neighbours',
  summary: 'List this node\'s mesh neighbours and what their links cost.',
  usage: 'mesh neighbours [--json]',
  help: `A neighbour is a node one link away: a libp2p connection or a UDP link on the LAN.
COST is the link's metric from measured loss and round-trip time (lower is better).`,
  options: {},
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const r = await new ApiClient(ctx.home).get<{ self: string, neighbours: MeshNeighbour[] }>('/v1/mesh/neighbours')
    ctx.print(r, () => r.neighbours.length === 0
      ? ['no mesh neighbours yet (they appear as links come up: libp2p connections, or UDP beacons on the LAN)']
      : table(['PEER', 'LINK', 'COST', 'RTT', 'LOSS', 'HELLO'], r.neighbours.map((n) => [n.peerId, n.kind, metric(n.cost), formatRtt(n.rttMs === null ? null : Math.round(n.rttMs)), `${Math.round((n.loss ?? 0) * 100)}%`, `${Math.round(n.helloIntervalMs / 1000)}s`])))
  }
}

export const meshRoutesCommand: Command = {
  name: 'mesh routes',
  summary: 'Show the mesh routing table: each destination, its next hop and metric.',
  usage: 'mesh routes [--json]',
  help: `Routes follow Babel (RFC 8966): each destination node, by its node id, with the
neighbour to send through, the metric, and the hop count. A star marks the selected
route; envelopes waiting for a route (custody) are listed after the table.`,
  options: {},
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const r = await new ApiClient(ctx.home).get<{ self: string, routes: MeshRoute[], custody: CustodyView[] }>('/v1/mesh/routes')
    ctx.print(r, () => [
      `this node: ${r.self}`,
      ...(r.routes.length === 0
        ? ['no routes yet']
        : table(['', 'DESTINATION', 'PEER', 'VIA', 'METRIC', 'HOPS', 'SEQNO'], r.routes.map((x) => [x.selected ? '*' : ' ', x.dst + (x.gateway ? ' (gateway)' : ''), x.peerId ?? '-', x.nextHop ?? '-', metric(x.metric), String(x.hops), String(x.seqno)]))),
      ...(r.custody.length === 0 ? [] : [`${r.custody.length} envelope(s) in custody, waiting for a route`])
    ])
  }
}

export const meshSendCommand: Command = {
  name: 'mesh send',
  summary: 'Send a message to a node through the mesh, sealed end to end.',
  usage: 'mesh send PEER TEXT [--no-ack] [--timeout 10s] [--json]',
  help: `PEER is the node's peer id (\`peernet id\` on it). Relays can neither read nor forge
the message. By default waits for the destination's acknowledgement; with no route yet
the message waits in custody and goes when one appears (this node keeps retrying after
the command returns).
  --no-ack          do not ask for an acknowledgement; return at once
  --timeout 10s     how long to wait for the acknowledgement (ms, s or m; at most 2m)`,
  options: { ack: { type: 'boolean' }, timeout: { type: 'string' } },
  read: true,
  positionals: { min: 2, max: 2 },
  run: async (ctx) => {
    const [peer, text] = ctx.positionals as [string, string]
    const timeoutMs = typeof ctx.values.timeout === 'string' ? parseWait(ctx.values.timeout) : 10_000
    const r = await new ApiClient(ctx.home).post<MeshSendResult>('/v1/mesh/send', { peer, text, ack: ctx.values.ack !== false, timeoutMs }, { timeoutMs: timeoutMs + 5_000 })
    ctx.print(r, () => [
      r.acked
        ? `delivered to ${peer} (acknowledged in ${r.rttMs ?? '?'} ms)`
        : ctx.values.ack === false
          ? `sent (${r.firstHop === 'custody' ? 'no route yet: held in custody' : 'on its way'}; no acknowledgement asked)`
          : `not acknowledged within ${timeoutMs} ms; ${r.firstHop === 'custody' ? 'no route yet: held in custody, ' : ''}this node keeps retrying`
    ])
  }
}

export const meshInboxCommand: Command = {
  name: 'mesh inbox',
  summary: 'List messages that reached this node through the mesh.',
  usage: 'mesh inbox [--limit N] [--json]',
  help: '  --limit N   the latest N messages (default 100)',
  options: { limit: { type: 'string' } },
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const limit = typeof ctx.values.limit === 'string' ? Number(ctx.values.limit) : 100
    if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive whole number')
    const r = await new ApiClient(ctx.home).get<{ messages: MeshMessage[] }>(`/v1/mesh/inbox?limit=${limit}`)
    ctx.print(r.messages, () => r.messages.length === 0
      ? ['no mesh messages yet']
      : r.messages.map((m) => `${new Date(m.receivedAt).toISOString()}  ${m.from}  (${m.hops} hop${m.hops === 1 ? '' : 's'})  ${m.text}`))
  }
}

function parseWait (text: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(text)
  if (m === null) throw new UsageError(`invalid --timeout "${text}"`, { hint: 'e.g. 500ms, 10s, 2m' })
  const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000)
  if (ms > 120_000) throw new UsageError('--timeout is at most 2m')
  return ms
}
