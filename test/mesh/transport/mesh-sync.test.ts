// The layers above run over the mesh transport unchanged (issue 4, "Data": a member
// reachable only through the mesh syncs like any other member). Two real Peernet nodes
// in one chat network, whose only path is the mesh stand-in: a lossy in-memory datagram
// service with the delay and loss of about three radio hops. They join, sync the join
// entry, and exchange messages both ways — all through stream channels.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Cluster, eventually } from '../../host/cluster.ts'
import type { Peernet } from '../../../src/node.ts'
import { parseNetworkId } from '../../../src/networks/manifest.ts'
import { meshAddress, meshTransport } from '../../../src/mesh/transport/mesh-transport.ts'
import { LossyDatagramHub } from './lossy-datagrams.ts'

const STEP_TIMEOUT_MS = 30_000

function entryCount (node: Peernet): number {
  return (node.networks.logs.db.prepare('SELECT COUNT(*) AS n FROM entries').get() as { n: number }).n
}

test('two members whose only path is the mesh transport sync their network', async (t) => {
  // Three hops of ~2% loss each: ~6% end to end; 3 × (2–7 ms) delay, reordered.
  const hub = new LossyDatagramHub({ loss: 0.06, duplicate: 0.01, baseDelayMs: 6, jitterMs: 15, mtu: 1000, seed: 9 })
  const cluster = new Cluster()
  t.after(async () => {
    await cluster.close()
    hub.close()
  })
  const meshNode = async (): Promise<Peernet> => {
    const endpoint = hub.endpoint()
    const node = await cluster.start({ listen: ['/peernet-mesh'] }, cluster.home(), { transports: [meshTransport(endpoint)] })
    endpoint.bind(node.identity.publicKey)
    return node
  }
  const a = await meshNode()
  const b = await meshNode()

  const { id, invite } = a.networks.create({ name: 'over the mesh', app: 'chat', policy: 'invite', private: false })
  assert.ok(invite !== null)
  b.networks.join(invite)
  const net = parseNetworkId(id)
  assert.equal(entryCount(a), 0)

  await b.connect(meshAddress(a.peerId).toString(), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  await eventually(() => entryCount(a) === 1, "a to hold b's join entry", STEP_TIMEOUT_MS)

  await a.networks.command(net, 'send', { text: 'hello from a' })
  await b.networks.command(net, 'send', { text: 'hello from b' })
  await eventually(() => entryCount(a) === 3 && entryCount(b) === 3, 'both messages on both nodes', STEP_TIMEOUT_MS)

  for (const node of [a, b]) {
    const addresses = node.host.libp2p.getConnections().map((c) => c.remoteAddr.toString())
    assert.ok(addresses.length > 0 && addresses.every((addr) => addr.startsWith('/peernet-mesh/p2p/')), `every connection is a mesh connection: ${addresses.join(', ')}`)
  }
  assert.ok(hub.dropped > 0, 'the mesh stand-in lost datagrams on the way')
})
