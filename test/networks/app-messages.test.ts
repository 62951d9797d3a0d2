// The direct app-message channel (/peernet/app-msg/1.0.0) between real libp2p nodes: a
// message from an account's device reaches the app's service tagged with the sender's
// account and device, both ways and in order; a peer whose account shares no network
// with the receiver is dropped; a hello that binds a node to someone else's account
// does not verify; a send to an account nobody has seen fails within its bound; a node
// that stops is reported gone to the services of its members' nodes.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Cluster, eventually, tcpAddress } from '../host/cluster.ts'
import { defineApp } from '../../src/networks/app.ts'
import type { AppPeer, AppServiceContext } from '../../src/networks/app.ts'
import type { Peernet } from '../../src/node.ts'
import { meshKeysOf } from '../../src/node.ts'
import { toHex } from '../../src/networks/hashing.ts'
import { generateIdentity } from '../../src/core/identity.ts'
import { ownAccount } from '../../src/networks/account.ts'
import { checkHello, decodeAppFrame, encodeAppFrame, makeHello } from '../../src/networks/app-messages/frames.ts'
import type { AppHello } from '../../src/networks/app-messages/frames.ts'

interface Received { from: AppPeer, text: string }

/** A test app whose service records what it receives, per node (several nodes share this process). */
const contexts = new Map<string, AppServiceContext>()
const inboxes = new Map<string, Received[]>()
const departures = new Map<string, AppPeer[]>()
const probeApp = defineApp({
  name: 'probe',
  types: {},
  migrations: [],
  queries: {},
  commands: {},
  service: (ctx) => {
    const k = toHex(ctx.self.account)
    contexts.set(k, ctx)
    const inbox: Received[] = []
    inboxes.set(k, inbox)
    const gone: AppPeer[] = []
    departures.set(k, gone)
    return { receive: (from, bytes) => { inbox.push({ from, text: Buffer.from(bytes).toString('utf8') }) }, disconnected: (peer) => { gone.push(peer) }, stop: () => {} }
  }
})

const me = (n: Peernet): AppPeer => ({ account: n.networks.account.publicKey, device: n.networks.account.signer.publicKey })
const ctxOf = (n: Peernet): AppServiceContext => contexts.get(toHex(n.networks.account.publicKey)) as AppServiceContext
const inboxOf = (n: Peernet): Received[] => inboxes.get(toHex(n.networks.account.publicKey)) as Received[]
const say = async (from: Peernet, to: Peernet, text: string, ms = 10_000): Promise<void> => {
  await ctxOf(from).send(me(to), Buffer.from(text), { signal: AbortSignal.timeout(ms) })
}

test('app messages between the devices of two members, tagged with the sender; strangers dropped', async (t) => {
  const cluster = new Cluster()
  t.after(async () => { await cluster.close() })
  const [a, b, c] = await Promise.all([1, 2, 3].map(async () => await cluster.start({}, undefined, { apps: [probeApp] })))
  assert.ok(a !== undefined && b !== undefined && c !== undefined)
  const { invite } = a.networks.create({ name: 'pair', app: 'chat', policy: 'invite', private: false })
  assert.ok(invite !== null)
  b.networks.join(invite)
  await b.connect(tcpAddress(a), { signal: AbortSignal.timeout(15_000) })
  const net = a.networks.logs.memberNetworkIds()[0] as Uint8Array
  await eventually(() => a.networks.logs.isMember(net, b.networks.account.publicKey), 'b\'s join on a', 15_000)

  await t.test('a message arrives tagged with the sender\'s account and device, in order, both ways', async () => {
    for (let i = 0; i < 50; i++) await say(b, a, `m${i}`)
    await eventually(() => inboxOf(a).length === 50, '50 messages on a', 10_000)
    assert.deepEqual(inboxOf(a).map((m) => m.text), Array.from({ length: 50 }, (_v, i) => `m${i}`))
    for (const m of inboxOf(a)) {
      assert.equal(toHex(m.from.account), toHex(b.networks.account.publicKey))
      assert.equal(toHex(m.from.device), toHex(b.networks.account.signer.publicKey))
    }
    // The account home's node key is not its account key: the hello is what tied them.
    assert.notEqual(b.peerId, toHex(b.networks.account.publicKey))
    // a remembers which node b's device spoke from, and the mesh reach dials that node, not the device key.
    const bDevice = b.networks.account.signer.publicKey
    assert.notEqual(toHex(bDevice), toHex(b.identity.publicKey), 'b\'s device key is not its node key')
    assert.equal(a.appMessages.nodesOfDevices().get(toHex(bDevice)), b.peerId)
    const keys = meshKeysOf([bDevice, a.identity.publicKey], a.appMessages.nodesOfDevices())
    assert.deepEqual([...keys.keys()].sort(), [toHex(b.identity.publicKey), toHex(a.identity.publicKey)].sort())
    await say(a, b, 'back')
    await eventually(() => inboxOf(b).some((m) => m.text === 'back' && toHex(m.from.account) === toHex(a.networks.account.publicKey)), 'the answer on b', 10_000)
  })

  await t.test('a peer whose account shares no network here is dropped', async () => {
    await c.connect(tcpAddress(a), { signal: AbortSignal.timeout(15_000) })
    const before = a.appMessages.dropped()
    // c reaches a's node (it is connected) and writes; a drops what it cannot place.
    await say(c, a, 'let me in')
    await eventually(() => a.appMessages.dropped() > before, 'a to drop c\'s message', 10_000)
    assert.ok(!inboxOf(a).some((m) => m.text === 'let me in'))
    assert.ok(a.appMessages.peers().some((p) => p.account === toHex(c.networks.account.publicKey)), 'c\'s hello verified: known who, not a member')
  })

  await t.test('a send to an account never seen fails with AppMessageError within its bound', async () => {
    const nobody = generateIdentity()
    const started = Date.now()
    await assert.rejects(ctxOf(a).send({ account: nobody.publicKey, device: nobody.publicKey }, Buffer.from('x'), { signal: AbortSignal.timeout(500) }), (err: Error) => err.name === 'AppMessageError' && /cannot reach account/.test(err.message))
    assert.ok(Date.now() - started < 5_000)
  })

  await t.test('after a restart the device is found again from the node its hello came from', async () => {
    const home = b.paths.dir
    const bAccount = toHex(b.networks.account.publicKey)
    await cluster.stop(b)
    // a's service hears that b's node is out of reach (its last stream closed).
    await eventually(() => (departures.get(toHex(a.networks.account.publicKey)) ?? []).some((p) => toHex(p.account) === bAccount), 'a told b is gone', 10_000)
    const b2 = await cluster.start({}, home, { apps: [probeApp] })
    // b2's node key is unchanged; a dials it from its peer book and the remembered binding.
    await b2.connect(tcpAddress(a), { signal: AbortSignal.timeout(15_000) })
    await say(a, b2, 'welcome back', 15_000)
    await eventually(() => inboxOf(b2).some((m) => m.text === 'welcome back'), 'the message on the restarted b', 10_000)
  })
})

test('a hello binds only the stream\'s own node, signed by the key that speaks for the account', () => {
  const account = generateIdentity()
  const node = generateIdentity()
  const thief = generateIdentity()
  const good = decodeAppFrame(encodeAppFrame(makeHello(ownAccount(account), node.publicKey)).subarray(4)) as AppHello
  checkHello(good, node.publicKey)
  // The same hello replayed by another node: it names the first node, not the stream's.
  assert.throws(() => { checkHello(good, thief.publicKey) }, /names another node/)
  // A thief claiming the account for its own node, signing with its own key.
  const forged = { ...makeHello(ownAccount(thief), thief.publicKey), account: account.publicKey }
  assert.throws(() => { checkHello(forged, thief.publicKey) }, /without its delegation|does not verify/)
  const forgedSig = { ...makeHello(ownAccount(account), node.publicKey), node: thief.publicKey }
  assert.throws(() => { checkHello(forgedSig, thief.publicKey) }, /does not verify/)
})
