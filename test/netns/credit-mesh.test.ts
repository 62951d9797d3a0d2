// A credit payment between two daemons that reach each other only through the mesh:
// three network namespaces in a line P — R — Q (veth links, no IP forwarding), R a
// plain daemon that relays. The trust line's updates and the payment travel on the
// app-message channel over the mesh transport.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cli, cliJson, eventually, startDaemon, tempHome } from '../helpers/processes.ts'
import { createNetnsLab, netnsGroup, netnsUnavailable } from '../helpers/netns.ts'
import type { NetnsHost } from '../helpers/netns.ts'
import type { LineView, PayResult } from '../../src/apps/credit/views.ts'

const unavailable = netnsUnavailable()
const { labs, running, homes } = netnsGroup()

interface Node { host: NetnsHost, home: string }

async function startNode (host: NetnsHost, label: string): Promise<Node> {
  const home = tempHome(`credit-mesh-${label}`)
  homes.push(home)
  running.push(await startDaemon(home, ['--listen', '/ip4/0.0.0.0/tcp/0', '--api', '127.0.0.1:0', '--no-rendezvous'], { netns: host.name }))
  return { host, home }
}

const run = async <T>(node: Node, args: string[]): Promise<T> => await cliJson<T>([...args, '--home', node.home], { netns: node.host.name })

test('a trust line and a payment between two daemons that reach each other only through the mesh', { skip: unavailable, timeout: 240_000 }, async () => {
  const lab = createNetnsLab()
  labs.push(lab)
  const [hp, hr, hq] = ['cp', 'cr', 'cq'].map((n) => lab.host(n)) as [NetnsHost, NetnsHost, NetnsHost]
  lab.link(hp, hr)
  lab.link(hr, hq)
  const p = await startNode(hp, 'p')
  await startNode(hr, 'r')
  const q = await startNode(hq, 'q')
  const { peerId: pPeer } = await run<{ peerId: string }>(p, ['id'])
  // A route from Q to P exists only through R.
  await eventually(async () => {
    const { routes } = await run<{ routes: Array<{ selected: boolean, metric: number, hops: number, dst: string }> }>(q, ['mesh', 'routes'])
    return routes.some((r) => r.selected && r.metric < 0xffff && r.hops === 2) ? true : undefined
  }, 'a two-hop mesh route', 90_000)

  const created = await run<{ id: string, invite: string }>(p, ['net', 'create', 'hamlet', '--app', 'credit'])
  const join = await cli(['net', 'join', created.invite, '--home', q.home], { netns: hq.name })
  assert.equal(join.code, 0, join.stderr)
  const accountOf = async (n: Node): Promise<string> => (await run<{ account: string }>(n, ['account', 'devices'])).account
  const [pa, qa] = [await accountOf(p), await accountOf(q)]
  await eventually(async () => {
    const m = await run<Array<{ account: string }>>(p, ['net', 'members', created.id])
    return m.some((x) => x.account === qa) ? true : undefined
  }, 'Q a member on P (synced over the mesh)', 90_000)

  // P extends credit to Q; Q pays P. Every update crosses R sealed in the mesh.
  const trust = await eventually(async () => {
    const r = await cli(['credit', 'trust', qa, '100', '--unit', 'USD', '--json', '--home', p.home], { netns: hp.name })
    return r.code === 0 ? r : undefined
  }, 'the line opened over the mesh', 60_000)
  assert.equal(trust.code, 0)
  const paid = await eventually(async () => {
    const r = await cli(['credit', 'pay', pa, '7', '--unit', 'USD', '--json', '--home', q.home], { netns: hq.name })
    return r.code === 0 ? JSON.parse(r.stdout) as PayResult : undefined
  }, 'the payment over the mesh', 60_000)
  assert.equal(paid.amount, '7')
  assert.deepEqual(paid.routes.map((x) => x.hops.map((h) => h.account)), [[pa]])
  const [lp, lq] = await eventually(async () => {
    const [x, y] = [await run<LineView[]>(p, ['credit', 'lines']), await run<LineView[]>(q, ['credit', 'lines'])]
    return x[0]?.stateHash !== undefined && x[0].stateHash === y[0]?.stateHash && x[0].holds === 0 && y[0].holds === 0 ? [x[0], y[0]] as const : undefined
  }, 'the line the same on both sides', 30_000)
  assert.equal(lp.balance, '7')
  assert.equal(lq.balance, '-7')
  // Q's connection to P, if it has one, is over the mesh transport: no IP path exists.
  const peers = await run<Array<{ peerId: string, addresses: string[] }>>(q, ['peers'])
  for (const a of peers.find((x) => x.peerId === pPeer)?.addresses ?? []) assert.match(a, /peernet-mesh/, `Q reaches P only over the mesh: ${a}`)
})
