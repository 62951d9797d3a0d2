// Gateways, end to end: an island of mesh nodes M1 – M2 – G in a line, joined by veth
// links and nothing else (no IP routes between them), and G also on "the Internet": a
// router R, G behind its NAT (it dials out, nothing dials in), and beyond R a Peernet node
// X that has no mesh link to the island. R runs a Peernet node with the mesh off: the
// bootstrap node G and X know, whose DHT is how G finds X by its peer id alone.
//
//   M1 ─udp─ M2 ─udp─ G ─tcp─ R (NAT, DHT) ─tcp─ X
//
// M1 sends to X's peer id; the mesh has no route, so the envelope goes toward the gateway
// G carrying X's key; G, with no route either, looks X up in the DHT, dials it over TCP,
// and the mesh link that connection brings up carries the envelope (and the ack back).
// Then X dies: a message to it waits in G's custody and M1's outbox, and goes once X is
// back at a new address. Last, G's gateway off: M1 keeps what it cannot route.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { apiGet, cli, cliJson, eventually, startDaemon, tempHome } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'
import { createNetnsLab, netnsGroup, netnsUnavailable } from '../helpers/netns.ts'
import type { NetnsHost } from '../helpers/netns.ts'
import { nodeIdOf } from '../../src/mesh/node-id.ts'
import { generateIdentity } from '../../src/core/identity.ts'
import { publicKeyOfPeer } from '../../src/mesh/mesh-service.ts'
import type { MeshMessage, MeshNeighbour, MeshRoute, MeshSendResult } from '../../src/mesh/mesh-service.ts'
import type { CustodyView } from '../../src/mesh/forwarder.ts'
import type { OutboxEntry } from '../../src/mesh/outbox.ts'
import type { ConnectedPeer } from '../../src/host/host.ts'

const unavailable = netnsUnavailable()
const { labs, running, homes } = netnsGroup()

interface Node { host: NetnsHost, daemon: Daemon, peerId: string, nodeId: string }

// No mDNS anywhere: peers are found only by the mesh's UDP beacons and by the DHT.
const BASE = ['--listen', '/ip4/0.0.0.0/tcp/0', '--api', '127.0.0.1:0', '--no-rendezvous', '--no-mdns']
// X: mesh on but no UDP links, so libp2p connections are its only way into the mesh.
const X_ARGS = ['--mesh-gateway', 'off', '--no-mesh-udp']

async function startNode (host: NetnsHost, label: string, args: string[]): Promise<Node> {
  const home = tempHome(`gw-${label}`)
  homes.push(home)
  const daemon = await startDaemon(home, [...BASE, ...args], { netns: host.name })
  running.push(daemon)
  return { host, daemon, peerId: daemon.peerId, nodeId: nodeIdOf(publicKeyOfPeer(daemon.peerId)) }
}

/** `peernet ARGS… --json` on the node: what a user runs. */
async function run<T> (node: Node, args: string[]): Promise<T> {
  return await cliJson<T>([...args, '--home', node.daemon.home], { netns: node.host.name })
}

// Reads the test polls go to the API directly (the CLI's process start costs a second).
async function get<T> (node: Node, path: string): Promise<T> {
  return await apiGet<T>(node.daemon.home, path, { netns: node.host.name })
}

async function peersOf (node: Node): Promise<ConnectedPeer[]> {
  return (await get<{ peers: ConnectedPeer[] }>(node, '/v1/peers')).peers
}

async function routesOf (node: Node): Promise<{ routes: MeshRoute[], custody: CustodyView[] }> {
  return await get<{ routes: MeshRoute[], custody: CustodyView[] }>(node, '/v1/mesh/routes')
}

async function neighboursOf (node: Node): Promise<MeshNeighbour[]> {
  return (await get<{ neighbours: MeshNeighbour[] }>(node, '/v1/mesh/neighbours')).neighbours
}

async function inboxOf (node: Node): Promise<MeshMessage[]> {
  return (await get<{ messages: MeshMessage[] }>(node, '/v1/mesh/inbox')).messages
}

async function outboxOf (node: Node): Promise<OutboxEntry[]> {
  return (await get<{ messages: OutboxEntry[] }>(node, '/v1/mesh/outbox')).messages
}

const routed = (routes: MeshRoute[], to: Node): boolean => routes.some((r) => r.dst === to.nodeId && r.selected && r.metric < 0xffff)

/** The address `node` listens on in the subnet of `ip` (its end of that link), with /p2p/. */
function addressOn (node: Node, ip: string): string {
  const a = node.daemon.addresses.find((x) => x.startsWith(`/ip4/${ip}/tcp/`))
  assert.ok(a !== undefined, `${node.daemon.addresses.join(', ')} has no address on ${ip}`)
  return a
}

test('a gateway carries a message from the island to a node beyond it, found by peer id alone, and the answer back; one for a node gone waits and goes when it is back; with no gateway it stays with the sender', { skip: unavailable, timeout: 120_000 }, async () => {
  const lab = createNetnsLab()
  labs.push(lab)
  const [h1, h2, hg, hr, hx] = ['m1', 'm2', 'gw', 'inet', 'x'].map((l) => lab.host(l)) as [NetnsHost, NetnsHost, NetnsHost, NetnsHost, NetnsHost]
  lab.link(h1, h2)
  const [, gIsland] = lab.link(h2, hg)
  const [, rForG] = lab.link(hg, hr)
  const [rForX, xAddr] = lab.link(hr, hx)
  lab.nat(hr, hg)

  // Mesh beacons only on the island side: the Internet side is libp2p's.
  const gArgs = (gateway: 'on' | 'off'): string[] => ['--mesh-gateway', gateway, '--mesh-interface', gIsland, '--bootstrap', addressOn(r, rForG)]

  // The Internet's bootstrap node first, then the island: G's first DHT queries happen
  // before X exists, so G learns of X only when it looks X up.
  const r = await startNode(hr, 'r', ['--no-mesh'])
  const [m1, m2, g] = await Promise.all([
    startNode(h1, 'm1', ['--mesh-gateway', 'off']),
    startNode(h2, 'm2', ['--mesh-gateway', 'off']),
    startNode(hg, 'g', gArgs('on'))
  ])
  await eventually(async () => (await routesOf(m1)).routes.some((x) => x.dst === g.nodeId && x.gateway && x.selected) ? true : undefined, 'the gateway\'s default route at M1', 30_000)
  await eventually(async () => (await peersOf(g)).some((p) => p.peerId === r.peerId) ? true : undefined, 'G connected to the bootstrap node', 20_000)

  const x = await startNode(hx, 'x', [...X_ARGS, '--bootstrap', addressOn(r, rForX)])
  await eventually(async () => (await peersOf(x)).some((p) => p.peerId === r.peerId) ? true : undefined, 'X connected to the bootstrap node', 20_000)

  // Before the send: M1 has no IP route to X, no mesh route to X, and G no connection to X.
  assert.throws(() => execFileSync('ip', ['-n', h1.name, 'route', 'get', xAddr], { stdio: 'pipe' }), 'M1 has no IP route beyond the island')
  const [m1Routes, gPeersBefore] = await Promise.all([routesOf(m1), peersOf(g)])
  assert.equal(routed(m1Routes.routes, x), false, 'no mesh route from M1 to X yet')
  assert.ok(!gPeersBefore.some((p) => p.peerId === x.peerId), 'G is not connected to X yet')

  const sent = await run<MeshSendResult>(m1, ['mesh', 'send', x.peerId, 'hello beyond the island', '--timeout', '30s'])
  assert.equal(sent.acked, true, 'X acknowledged the message')
  assert.equal(sent.firstHop, 'link', 'it left M1 at once, toward the gateway')
  const [inbox, gPeers, gNeighbours] = await Promise.all([
    run<MeshMessage[]>(x, ['mesh', 'inbox']),
    peersOf(g),
    neighboursOf(g)
  ])
  assert.deepEqual(inbox.map((m) => [m.from, m.text, m.hops]), [[m1.peerId, 'hello beyond the island', 3]], 'M1 → M2 → G → X: three links')

  // G reached X by dialling it over TCP (out through the NAT), and X is G's mesh neighbour
  // over that libp2p connection.
  const gToX = gPeers.find((p) => p.peerId === x.peerId)
  assert.ok(gToX !== undefined, 'G is connected to X')
  assert.equal(gToX.direction, 'outbound', 'G dialled X')
  assert.ok(gToX.addresses.some((a) => a.startsWith(`/ip4/${xAddr}/tcp/`)), `over TCP to X's address (${gToX.addresses.join(', ')})`)
  assert.equal(gNeighbours.find((n) => n.peerId === x.peerId)?.kind, 'libp2p')

  // And back: X answers M1 through G.
  const back = await run<MeshSendResult>(x, ['mesh', 'send', m1.peerId, 'hello back from beyond', '--timeout', '30s'])
  assert.equal(back.acked, true, 'M1 acknowledged the answer')
  assert.deepEqual((await inboxOf(m1)).map((m) => [m.from, m.text, m.hops]), [[x.peerId, 'hello back from beyond', 3]])

  // X goes away: a message to it is not acknowledged, says so, and waits (M1's outbox
  // keeps it for retries, the mesh keeps it in custody); nothing crashes.
  const xHome = x.daemon.home
  const xOldAddresses = x.daemon.addresses
  await x.daemon.kill()
  await eventually(async () => (await neighboursOf(g)).some((n) => n.peerId === x.peerId) ? undefined : true, 'G sees X gone', 20_000)
  const lost = await cli(['mesh', 'send', x.peerId, 'anyone there?', '--timeout', '2s', '--home', m1.daemon.home], { netns: h1.name })
  assert.equal(lost.code, 0, lost.stderr)
  assert.match(lost.stdout, /^not acknowledged within 2000 ms; .*this node keeps retrying$/m)
  const [outbox, gRoutes] = await Promise.all([run<OutboxEntry[]>(m1, ['mesh', 'outbox']), routesOf(g)])
  assert.deepEqual(outbox.map((e) => [e.to, e.text, e.status]), [[x.peerId, 'anyone there?', 'pending']], 'M1 keeps it, waiting for the ack')
  assert.equal(gRoutes.custody.find((e) => e.dst === x.nodeId)?.src, m1.nodeId, 'the gateway holds it in custody')
  for (const n of [m1, m2, g, r]) assert.equal(n.daemon.process.exitCode, null, `${n.host.name} still runs`)

  // X comes back on another port (a restart; a moved node is the same): G's peer store
  // holds only X's old address, so G must ask the DHT afresh. The waiting message goes.
  const x2daemon = await startDaemon(xHome, [...BASE, ...X_ARGS, '--bootstrap', addressOn(r, rForX)], { netns: hx.name })
  running.push(x2daemon)
  assert.notDeepEqual(x2daemon.addresses, xOldAddresses, 'X listens at a new address')
  const x2: Node = { ...x, daemon: x2daemon }
  const late = await eventually(async () => (await inboxOf(x2)).find((m) => m.text === 'anyone there?'), 'the waiting message delivered once X is back', 30_000)
  assert.equal(late.from, m1.peerId)
  await eventually(async () => (await outboxOf(m1)).length === 0 ? true : undefined, 'M1\'s outbox empty: X acknowledged', 15_000)

  // With G's gateway off, the island has no way out: M1 keeps a message for a node it has
  // no route to in its own custody, and says so.
  await g.daemon.stop()
  const gOff = await startDaemon(g.daemon.home, [...BASE, ...gArgs('off')], { netns: hg.name })
  running.push(gOff)
  // Until then a neighbour may still hold G's old gateway route for a moment (G's updates
  // wait out its start-up hold), and M1 would send the message that way.
  await eventually(async () => {
    const selected = (await routesOf(m1)).routes.filter((x) => x.selected)
    const route = selected.find((x) => x.dst === g.nodeId)
    return route !== undefined && !route.gateway && !selected.some((x) => x.gateway) ? true : undefined
  }, 'M1 to see G without its gateway flag, and no gateway route left', 30_000)
  const nowhere = generateIdentity().peerId
  const stuck = await cli(['mesh', 'send', nowhere, 'nobody can carry this', '--timeout', '1s', '--home', m1.daemon.home], { netns: h1.name })
  assert.equal(stuck.code, 0, stuck.stderr)
  assert.equal(stuck.stdout.trim(), 'not acknowledged within 1000 ms; no route yet: held in custody, this node keeps retrying')
  const [m1After, outboxAfter] = await Promise.all([routesOf(m1), outboxOf(m1)])
  assert.ok(m1After.custody.some((e) => e.dst === nodeIdOf(publicKeyOfPeer(nowhere)) && e.local), 'in M1\'s own custody')
  assert.deepEqual(outboxAfter.map((e) => [e.to, e.status]), [[nowhere, 'pending']])
})
