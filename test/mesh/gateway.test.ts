// Gateways: a mesh node reaches a Peernet node beyond its island through a node that has
// the Internet. M's only link is to the gateway G, and M knows nothing of P but its peer
// id; G advertises a default route. (On loopback the DHT soon tells M of P, so which of
// the default route or a learned route carries the message is not fixed here; that a
// gateway dials a destination it has no route to is the mesh service's `bridge`.)

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Cluster } from '../host/cluster.ts'
import { eventually } from '../helpers/processes.ts'
import { nodeIdOf } from '../../src/mesh/node-id.ts'

const cluster = new Cluster()
after(async () => { await cluster.close() })

test('a node on the mesh reaches a node beyond it through a gateway', { timeout: 90_000 }, async () => {
  const [m, g, p] = await Promise.all([
    cluster.start({ meshGateway: 'off', rendezvous: false }),
    cluster.start({ meshGateway: 'on', rendezvous: false }),
    cluster.start({ meshGateway: 'off', rendezvous: false })
  ])
  const [meshM, meshG, meshP] = [m.mesh, g.mesh, p.mesh]
  assert.ok(meshM !== null && meshG !== null && meshP !== null)
  // M's only link is to G; P's only link is to G.
  await m.connect(g.host.addresses()[0] as string)
  await p.connect(g.host.addresses()[0] as string)

  // M sees G's default route (the gateway flag), and G does not route to other gateways.
  const gId = nodeIdOf(g.identity.publicKey)
  await eventually(async () => await Promise.resolve(meshM.routes().some((r) => r.gateway && r.selected && r.dst === gId) ? true : undefined), 'the gateway route at M', 30_000)
  assert.ok(!meshG.routes().some((r) => r.gateway), 'the gateway itself holds no gateway route')

  const sent = await meshM.send(p.peerId, 'hello from the island', { timeoutMs: 60_000 })
  assert.equal(sent.acked, true, 'P acknowledged')
  const inbox = meshP.inbox()
  assert.equal(inbox.length, 1)
  assert.equal(inbox[0]?.from, m.peerId)
  assert.equal(inbox[0]?.text, 'hello from the island')
})
