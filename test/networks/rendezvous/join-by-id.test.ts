// Rendezvous with real libp2p nodes on loopback: four nodes on Peernet's DHT (a star
// around B). A creates an open network; D, which never got an invite or an address for
// it, joins by the id alone — it finds A through the DHT, fetches the manifest, joins and
// syncs chat. Invite-only and private networks are refused with a clear reason, and a
// forged manifest answer (not hashing to the id) is refused with its reason.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { Connection, Stream } from '@libp2p/interface'
import type { Peernet } from '../../../src/node.ts'
import { Cluster, eventually, tcpAddress } from '../../host/cluster.ts'
import { createManifest, formatNetworkId, networkIdOf, parseNetworkId } from '../../../src/networks/manifest.ts'
import { generateIdentity } from '../../../src/core/identity.ts'
import { rendezvousKey } from '../../../src/networks/rendezvous/announce-policy.ts'
import { libp2pRendezvousNet, readAll, rendezvousCid } from '../../../src/networks/rendezvous/libp2p-rendezvous.ts'
import { MANIFEST_PROTOCOL, answerRequest, frame, parseRequest, unframe } from '../../../src/networks/rendezvous/manifest-exchange.ts'

const STEP_MS = 15_000
// Lookups within a fraction of a second of a join, so the test does not wait for the real
// schedule; the policy and the bound are the real ones.
const FAST = { timing: { joinSpreadMs: 300, startSpreadMinMs: 300, startSpreadPerNetworkMs: 0, lookupTimeoutMs: 5_000 } }

const cluster = new Cluster()
let a: Peernet
let b: Peernet
let c: Peernet
let d: Peernet

interface Message { text: string }
const read = (node: Peernet, net: Uint8Array): string[] => (node.networks.query(net, 'read', { limit: 1000 }) as Message[]).map((m) => m.text)

before(async () => {
  ;[a, b, c, d] = await Promise.all([0, 1, 2, 3].map(async () => await cluster.start({}, undefined, { rendezvous: FAST }))) as [Peernet, Peernet, Peernet, Peernet]
  for (const leaf of [a, c, d]) await leaf.connect(tcpAddress(b), { signal: AbortSignal.timeout(STEP_MS) })
  const dht = (n: Peernet): number => (n.host.libp2p.services.dht as unknown as { routingTable: { size: number } }).routingTable.size
  await eventually(() => dht(b) >= 3, 'the hub to know every leaf', STEP_MS)
})

after(async () => { await cluster.close() })

test('D joins an open network by its id alone: DHT lookup, manifest from A, then chat syncs both ways', async () => {
  const created = a.networks.create({ name: 'street', app: 'chat', policy: 'open', private: false })
  const net = parseNetworkId(created.id)
  await eventually(() => a.rendezvous.status(net).providing, 'A to announce itself as a provider', STEP_MS)
  await a.networks.command(net, 'send', { text: 'hello from a' })

  // D holds nothing of the network: no manifest, no invite, no address.
  assert.throws(() => d.networks.logs.network(net), { name: 'UnknownNetworkError' })
  const progress: string[] = []
  const joined = await d.rendezvous.joinById(created.id, { progress: (l) => progress.push(l) })
  assert.equal(joined.id, created.id)
  assert.equal(joined.manifestFrom, a.peerId)
  assert.ok(joined.providersFound >= 1)
  assert.match(progress[0] ?? '', /looking up members/)

  await eventually(() => read(d, net).includes('hello from a'), 'A\'s message to reach D', STEP_MS)
  await d.networks.command(net, 'send', { text: 'hello from d' })
  await eventually(() => read(a, net).includes('hello from d'), 'D\'s message to reach A', STEP_MS)
  assert.ok(a.networks.members(net).length === 2, 'D is a member at A')

  // The DHT holds the record under the rendezvous key, not under the id itself.
  const providersOf = async (key: Uint8Array): Promise<string[]> => {
    const out: string[] = []
    for await (const p of c.host.libp2p.services.dht.findProviders(rendezvousCid(key), { signal: AbortSignal.timeout(5_000) })) {
      if (p.name === 'PROVIDER') out.push(...p.providers.map((x) => x.id.toString()))
    }
    return out
  }
  assert.ok((await providersOf(rendezvousKey(net))).includes(a.peerId))
  assert.deepEqual(await providersOf(net), [])

  // A network held here rejoins by name or id with no lookup, as before rendezvous.
  d.networks.leave(net)
  const again = await d.rendezvous.joinById('street')
  assert.equal(again.id, created.id)
  assert.equal(again.manifestFrom, null)
  assert.equal(d.networks.summary(d.networks.logs.network(net)).status, 'member')
})

test('an invite-only network\'s manifest is fetched, but joining by id is refused with a hint; a private one is not even given out', async () => {
  const inviteOnly = a.networks.create({ name: 'club', app: 'chat', policy: 'invite', private: false })
  const secret = a.networks.create({ name: 'family', app: 'chat', policy: 'invite', private: true })
  for (const n of [inviteOnly, secret]) await eventually(() => a.rendezvous.status(parseNetworkId(n.id)).providing, 'A to provide', STEP_MS)

  await assert.rejects(d.rendezvous.joinById(inviteOnly.id), (err: Error & { hint?: string }) => {
    assert.equal(err.name, 'NotPermittedError')
    assert.match(err.message, /"club".*invite-only/)
    assert.match(err.hint ?? '', /invite/)
    return true
  })
  await assert.rejects(d.rendezvous.joinById(secret.id), (err: Error) => {
    assert.equal(err.name, 'RendezvousError')
    assert.match(err.message, /private network/)
    return true
  })
  for (const n of [inviteOnly, secret]) assert.throws(() => d.networks.logs.network(parseNetworkId(n.id)), { name: 'UnknownNetworkError' })
})

test('a forged manifest answer (a valid manifest, but of another network) is refused with the reason', async () => {
  // Network X exists only as an id: nobody holds it. C claims it in the DHT and answers
  // requests for it with the manifest of another network.
  const x = createManifest(generateIdentity(), { name: 'x', app: 'chat', policy: 'open', private: false, params: {}, created: 1 })
  const other = createManifest(generateIdentity(), { name: 'decoy', app: 'chat', policy: 'open', private: false, params: {}, created: 2 })
  const xId = networkIdOf(x.manifest)
  await c.host.libp2p.unhandle(MANIFEST_PROTOCOL)
  await c.host.libp2p.handle(MANIFEST_PROTOCOL, (stream: Stream, _conn: Connection) => {
    void (async () => {
      const req = parseRequest(unframe(await readAll(stream, AbortSignal.timeout(20_000))))
      stream.send(frame(answerRequest(req, () => other)))
      await stream.close()
    })()
  })
  for await (const event of c.host.libp2p.services.dht.provide(rendezvousCid(rendezvousKey(xId)), { signal: AbortSignal.timeout(STEP_MS) })) void event
  await eventually(async () => (await d.rendezvous.findMembers(xId)).some((p) => p.id === c.peerId), 'C to be found as a provider of X', STEP_MS)

  // The exchange itself refuses the answer, naming what it was…
  const cInfo = { id: c.peerId, addrs: [tcpAddress(c)] }
  await assert.rejects(libp2pRendezvousNet(d.host.libp2p).fetchManifest(cInfo, xId, AbortSignal.timeout(STEP_MS)), (err: Error) => {
    assert.equal(err.name, 'InvalidRecordError')
    assert.match(err.message, new RegExp(`for ${formatNetworkId(networkIdOf(other.manifest))}, not ${formatNetworkId(xId)} \\(forged`))
    return true
  })
  // …and joining by id fails with every provider's reason, holding nothing afterwards.
  await assert.rejects(d.rendezvous.joinById(formatNetworkId(xId)), (err: Error) => {
    assert.equal(err.name, 'RendezvousError')
    assert.match(err.message, /could not get the manifest.*forged/)
    return true
  })
  assert.throws(() => d.networks.logs.network(xId), { name: 'UnknownNetworkError' })
})

test('with rendezvous off, joining an unknown id says so', async () => {
  const off = await cluster.start({ rendezvous: false })
  const n = a.networks.create({ name: 'elsewhere', app: 'chat', policy: 'open', private: false })
  await assert.rejects(off.rendezvous.joinById(n.id), (err: Error & { hint?: string }) => {
    assert.equal(err.name, 'RendezvousError')
    assert.match(err.message, /rendezvous is off/)
    return true
  })
  assert.equal(off.rendezvous.status(parseNetworkId(n.id)).enabled, false)
})
