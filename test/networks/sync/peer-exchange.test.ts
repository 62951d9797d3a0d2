// Peer exchange with real nodes on loopback (rendezvous off, so the DHT lookups play no
// part): A and C are members connected to B; E joins through B only and gets B's `peers`
// message naming A and C with their listen addresses, then has sync sessions with them.
// X is connected to B but not a member: it gets no `peers` message and shares nothing.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import type { Peernet } from '../../../src/node.ts'
import { Cluster, eventually, tcpAddress, transportPart } from '../../host/cluster.ts'
import { parseNetworkId } from '../../../src/networks/manifest.ts'
import { toHex } from '../../../src/networks/hashing.ts'

const STEP_MS = 15_000
const cluster = new Cluster()
after(async () => { await cluster.close() })

test('E joins through B and learns A and C from B\'s peers message; non-member X learns nothing', async () => {
  const start = async (): Promise<Peernet> => await cluster.start({ rendezvous: false })
  const [a, b, c, e, x] = await Promise.all([start(), start(), start(), start(), start()])
  const created = b.networks.create({ name: 'street', app: 'chat', policy: 'invite', private: false })
  const net = parseNetworkId(created.id)
  const invite = created.invite ?? ''
  const sharing = (n: Peernet): string[] => n.sync.sharing(net)

  // X is B's peer before anything happens in the network.
  await x.connect(tcpAddress(b), { signal: AbortSignal.timeout(STEP_MS) })
  for (const m of [a, c]) {
    m.networks.join(invite)
    await m.connect(tcpAddress(b), { signal: AbortSignal.timeout(STEP_MS) })
  }
  await eventually(() => sharing(b).includes(a.peerId) && sharing(b).includes(c.peerId), 'B to share the network with A and C', STEP_MS)

  e.networks.join(invite)
  await e.connect(tcpAddress(b), { signal: AbortSignal.timeout(STEP_MS) })
  const offer = await eventually(() => e.sync.exchanges().find((r) => r.direction === 'received' && r.peer === b.peerId && r.net === toHex(net)), 'B\'s peers message to reach E', STEP_MS)
  assert.deepEqual(offer.peers.map((p) => p.id).sort(), [a.peerId, c.peerId].sort(), 'B offers exactly the other members it is connected to')
  // With their listen addresses (from identify), not the ephemeral ports they dialled B from.
  for (const m of [a, c]) {
    const addrs = offer.peers.find((p) => p.id === m.peerId)?.addrs.map(transportPart) ?? []
    assert.ok(addrs.includes(transportPart(tcpAddress(m))), `offered ${addrs.join(', ')} for ${m.peerId}`)
  }
  await eventually(() => sharing(e).includes(a.peerId) && sharing(e).includes(c.peerId), 'E to have sync sessions sharing the network with A and C', STEP_MS)
  // A synced entry reaches E from A directly, too: E has A's join.
  assert.ok(e.networks.members(net).length >= 4)

  // E had only B: it dialled the members offered (the DHT's own discovery may connect
  // one of them first, in which case E does not dial that one again).
  assert.ok(offer.dialled.length >= 1 && offer.dialled.every((id) => id === a.peerId || id === c.peerId), `E dialled ${offer.dialled.join(', ') || 'nobody'}`)
  // X: connected to B all along, never told anything about the network.
  assert.deepEqual(x.sync.exchanges(), [])
  assert.ok(!b.sync.exchanges().some((r) => r.peer === x.peerId), 'B sent X a peers message')
  assert.deepEqual(sharing(x), [])
  assert.ok(!sharing(b).includes(x.peerId))
  // Peer exchange is sent when a session starts sharing a network, not again while idle.
  const before = b.sync.exchanges().length
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  assert.equal(b.sync.exchanges().length, before)
})
