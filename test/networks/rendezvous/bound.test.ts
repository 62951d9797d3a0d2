// The bound on providers, with real nodes on Peernet's DHT: in a network with more members
// than the bound, members announce themselves only while few providers are found, so at
// most `surplus` of them end up providing and the rest skip. The bound is made small
// (2 providers, surplus 3) so that eight nodes show it; the decision is the real
// decideAnnounce, and each node's own lookup result is checked against it. With a
// surplus, the providers are ranked by XOR distance to the key: the closest keep providing.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import type { Peernet } from '../../../src/node.ts'
import { Cluster, eventually, tcpAddress } from '../../host/cluster.ts'
import { decideAnnounce } from '../../../src/networks/rendezvous/announce-policy.ts'
import { rendezvousKey } from '../../../src/networks/rendezvous/announce-policy.ts'
import { keyPoint, peerPoint, rendezvousCid } from '../../../src/networks/rendezvous/libp2p-rendezvous.ts'
import { generateIdentity, saveIdentity } from '../../../src/core/identity.ts'
import type { Identity } from '../../../src/core/identity.ts'
import { homePaths } from '../../../src/core/home.ts'
import { parseNetworkId } from '../../../src/networks/manifest.ts'

const STEP_MS = 20_000
const BOUND = { providers: 2, surplus: 3 }
const MEMBERS = 8

const cluster = new Cluster()
after(async () => { await cluster.close() })

test(`${MEMBERS} members, bound ${BOUND.providers}/${BOUND.surplus}: between 1 and ${BOUND.surplus} provide, the others skip`, async () => {
  // Each member looks up at a random moment within the real schedule's 10 s after a join.
  const options = { rendezvous: { bound: BOUND, timing: { lookupTimeoutMs: 5_000 } } }
  const hub = await cluster.start({}, undefined, options)
  const others = await Promise.all(Array.from({ length: MEMBERS - 1 }, async () => await cluster.start({}, undefined, options)))
  for (const n of others) await n.connect(tcpAddress(hub), { signal: AbortSignal.timeout(STEP_MS) })
  // A warm DHT, as a running node has: every node knows the others. (On a cold one the
  // first lookups take a second or more, and members whose lookups overlap all see the
  // same few providers: the policy may overshoot by the number of concurrent lookups,
  // until the next re-check.)
  const tableSize = (n: Peernet): number => (n.host.libp2p.services.dht as unknown as { routingTable: { size: number } }).routingTable.size
  const warm = (n: Peernet): Promise<unknown> => eventually(async () => {
    for await (const e of n.host.libp2p.services.dht.getClosestPeers(new TextEncoder().encode(n.peerId), { signal: AbortSignal.timeout(5_000) })) void e
    return tableSize(n) >= MEMBERS - 1
  }, 'the routing tables to fill', STEP_MS)
  for (const n of [hub, ...others]) await warm(n)
  const created = hub.networks.create({ name: 'crowd', app: 'chat', policy: 'invite', private: false })
  const net = parseNetworkId(created.id)
  for (const n of others) n.networks.join(created.invite ?? '')
  const members: Peernet[] = [hub, ...others]

  await eventually(() => members.every((n) => n.rendezvous.status(net).lastLookupAt !== null), 'every member to have looked up the network', STEP_MS)
  const statuses = members.map((n) => n.rendezvous.status(net))
  const providing = statuses.filter((s) => s.providing).length
  assert.ok(providing >= 1, 'somebody provides')
  assert.ok(providing <= BOUND.surplus, `${providing} members provide, over the surplus ${BOUND.surplus}`)
  assert.ok(providing < MEMBERS, 'not every member announced itself')
  for (const s of statuses) {
    // Each node did what the policy says for what it found (it was not providing before).
    assert.equal(s.providing, decideAnnounce({ othersFound: s.providersFound ?? -1, providing: false, closerOthers: 0 }, BOUND) === 'announce', JSON.stringify(s))
    assert.equal(s.lastError, null)
  }

  // Seen from outside: the DHT lists exactly the members that announced.
  const outsider = await cluster.start({ rendezvous: false })
  await outsider.connect(tcpAddress(hub), { signal: AbortSignal.timeout(STEP_MS) })
  const found = new Set<string>()
  for await (const e of outsider.host.libp2p.services.dht.findProviders(rendezvousCid(rendezvousKey(net)), { signal: AbortSignal.timeout(STEP_MS) })) {
    if (e.name === 'PROVIDER') for (const p of e.providers) found.add(p.id.toString())
  }
  const announced = members.filter((n) => n.rendezvous.status(net).providing).map((n) => n.peerId)
  assert.deepEqual([...found].sort(), announced.sort())
})

test('with a surplus, the provider closest to the key keeps its record and the farthest stops republishing (cancelReprovide)', async () => {
  // A network made by C (rendezvous off) and joined by NEAR and FAR, the member ids
  // closest to and farthest from its key of four drawn; the two in between are helpers
  // that put provider records under the key by hand. NEAR and FAR are alone at first and
  // announce; then the helpers provide, and at their next re-check each of NEAR and FAR
  // sees three others, the surplus. Ranked by XOR distance to the key, NEAR is the closest
  // (0 closer < 2) and keeps its record; FAR has all three closer and drops its own record
  // from its datastore, so kad-dht no longer republishes it.
  const fast = { rendezvous: { bound: BOUND, timing: { joinSpreadMs: 200, recheckMs: 3_000, jitter: 0.1, lookupTimeoutMs: 5_000 } } }
  const c = await cluster.start({ rendezvous: false })
  const created = c.networks.create({ name: 'ranked', app: 'chat', policy: 'invite', private: false })
  const net = parseNetworkId(created.id)
  const target = keyPoint(rendezvousKey(net))
  const distance = (id: Identity): Uint8Array => peerPoint(id.peerId).map((b, i) => b ^ (target[i] ?? 0))
  const ids = Array.from({ length: 4 }, () => generateIdentity()).sort((a, b) => Buffer.compare(distance(a), distance(b)))
  const homeOf = (id: Identity): string => {
    // A node's first start keeps the identity it finds in its home.
    const home = cluster.home()
    saveIdentity(homePaths(home).key, id)
    return home
  }
  const [nearId, h1Id, h2Id, farId] = ids as [Identity, Identity, Identity, Identity]
  const near = await cluster.start({}, homeOf(nearId), fast)
  const far = await cluster.start({}, homeOf(farId), fast)
  const helpers = await Promise.all([h1Id, h2Id].map(async (id) => await cluster.start({ rendezvous: false }, homeOf(id))))
  assert.deepEqual([near, helpers[0], helpers[1], far].map((n) => n?.peerId), ids.map((id) => id.peerId))
  for (const n of [near, far, ...helpers]) await n.connect(tcpAddress(c), { signal: AbortSignal.timeout(STEP_MS) })
  await near.connect(tcpAddress(far), { signal: AbortSignal.timeout(STEP_MS) })
  for (const m of [near, far]) m.networks.join(created.invite ?? '')
  await eventually(() => near.rendezvous.status(net).providing && far.rendezvous.status(net).providing, 'NEAR and FAR to announce themselves', STEP_MS)
  const cid = rendezvousCid(rendezvousKey(net))
  const selfRecord = async (m: Peernet): Promise<boolean> => {
    for await (const e of m.host.libp2p.services.dht.findProviders(cid, { signal: AbortSignal.timeout(5_000) })) {
      // The first answer comes from the node's own provider store.
      if (e.name === 'PROVIDER' && e.from.equals(m.host.libp2p.peerId)) return e.providers.some((p) => p.id.equals(m.host.libp2p.peerId))
    }
    return false
  }
  assert.equal(await selfRecord(far), true)

  for (const h of helpers) for await (const e of h.host.libp2p.services.dht.provide(cid, { signal: AbortSignal.timeout(STEP_MS) })) void e
  const provided = Date.now()
  await eventually(() => !far.rendezvous.status(net).providing, 'FAR to stop providing at its re-check', STEP_MS)
  const f = far.rendezvous.status(net)
  assert.ok((f.providersFound ?? 0) >= BOUND.surplus, JSON.stringify(f))
  assert.equal(await selfRecord(far), false, 'FAR still holds a record of its own, which kad-dht would republish')
  // NEAR saw the same surplus at a re-check after the helpers provided, and kept its record.
  await eventually(() => (near.rendezvous.status(net).lastLookupAt ?? 0) > provided && (near.rendezvous.status(net).providersFound ?? 0) >= BOUND.surplus, 'NEAR to re-check and see the surplus', STEP_MS)
  assert.equal(near.rendezvous.status(net).providing, true, JSON.stringify(near.rendezvous.status(net)))
  assert.equal(await selfRecord(near), true)
})
