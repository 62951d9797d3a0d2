// Rekeying a private network: a removed member (or a revoked device) keeps the old key, so
// what is written after the rekey must be closed to it, while every remaining member, and
// anyone invited later, reads everything. Nodes are real Networks on SQLite files; entries
// are carried by hand, in whatever order a test needs (the sync shell's job in the node).

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { generateIdentity } from '../../src/core/identity.ts'
import { sealTo } from '../../src/core/seal.ts'
import type { CanonicalValue } from '../../src/core/encoding.ts'
import type { Networks } from '../../src/networks/networks.ts'
import { MAX_REKEY_BOXES } from '../../src/networks/log-store.ts'
import type { IngestResult } from '../../src/networks/log-store.ts'
import type { Entry } from '../../src/networks/entry.ts'
import { keyIdOf } from '../../src/networks/body-cipher.ts'
import { parseNetworkId } from '../../src/networks/manifest.ts'
import { isDependency } from '../../src/networks/sync/session.ts'
import type { ChatMessageView } from '../../src/apps/chat/chat.ts'
import { hex, isNamed, world, worldNode } from './fixtures.ts'
import type { World } from './fixtures.ts'

const UNKNOWN_KEY = /network key this node does not hold/

const node = (w: World): Networks => worldNode(w)

/** Every entry of `net` held by `from`, in ts order (so what an entry rests on comes first). */
function entriesOf (from: Networks, net: Uint8Array, author?: Uint8Array): Entry[] {
  return from.logs.heads(net)
    .filter((h) => author === undefined || hex(h.author) === hex(author))
    .flatMap((h) => from.logs.chainAfter(net, h.author, h.device, 0, 10_000).map((s) => s.entry))
    .sort((x, y) => x.header.ts - y.header.ts)
}

function send (from: Networks, to: Networks, net: Uint8Array, author?: Uint8Array): IngestResult {
  return to.ingestRemote(entriesOf(from, net, author))
}

/** Sends and expects every entry to be accepted or a duplicate. */
function sendAll (from: Networks, to: Networks, net: Uint8Array): void {
  assert.deepEqual(send(from, to, net).rejected.map((r) => r.reason), [])
}

function texts (n: Networks, net: Uint8Array): string[] {
  return (n.query(net, 'read', { limit: 1000 }) as ChatMessageView[]).map((m) => m.text)
}

async function say (n: Networks, net: Uint8Array, text: string): Promise<void> {
  await n.appendApp(net, 'chat/message', { text })
}

/** A private network made by `a`, joined by the others, everything exchanged. */
function privateNetwork (w: World, count: number): { net: Uint8Array, nodes: Networks[] } {
  const nodes = Array.from({ length: count }, () => node(w))
  const [a, ...rest] = nodes as [Networks, ...Networks[]]
  const created = a.create({ name: 'secret', app: 'chat', policy: 'invite', private: true })
  const net = parseNetworkId(created.id)
  for (const n of rest) {
    n.join(a.invite(net, { role: 'member', expires: null, uses: 1 }))
    sendAll(n, a, net)
  }
  for (const n of rest) sendAll(a, n, net)
  return { net, nodes }
}

describe('rekeying a private network', () => {
  test('a removed member cannot open what is written after the rekey; the others and a later newcomer read everything', async (t) => {
    const w = world(t)
    const { net, nodes: [a, b, c] } = privateNetwork(w, 3) as { net: Uint8Array, nodes: [Networks, Networks, Networks] }
    await say(b, net, 'from b, before')
    await say(c, net, 'from c, before')
    for (const [from, to] of [[b, a], [c, a], [a, b], [a, c]] as const) sendAll(from, to, net)
    const before = a.summary(a.logs.network(net))
    assert.equal(before.keys, 1)

    const removed = a.removeMember(net, hex(b.account.publicKey))
    assert.ok(removed.rekey !== null)
    assert.equal(removed.rekey.recipients, 2, 'sealed to a and c only')
    const after = a.summary(a.logs.network(net))
    assert.equal(after.keys, 2)
    assert.equal(after.currentKey, removed.rekey.key)
    assert.notEqual(after.currentKey, before.currentKey)

    sendAll(a, c, net)
    assert.equal(c.summary(c.logs.network(net)).currentKey, removed.rekey.key, 'c opened its box and writes with the new key')
    await say(c, net, 'from c, after')
    await say(a, net, 'from a, after')
    sendAll(c, a, net)
    assert.deepEqual(texts(a, net), ['from b, before', 'from c, before', 'from c, after', 'from a, after'])
    sendAll(a, c, net)
    assert.deepEqual(texts(c, net), texts(a, net))

    // b gets everything (a careless member or a relay passes it on): it takes the removal
    // and the rekey (whose boxes are not for it), and refuses what the new key sealed, as a
    // dependency (not a fault of the peer that sent it).
    const r = send(a, b, net)
    assert.equal(r.rejected.length, 2)
    for (const x of r.rejected) {
      assert.match(x.reason, UNKNOWN_KEY)
      assert.ok(isDependency(x.reason))
    }
    assert.deepEqual(texts(b, net), ['from b, before', 'from c, before'])
    const bs = b.summary(b.logs.network(net))
    assert.equal(bs.keys, 1, 'b got no new key')
    assert.equal(bs.currentKey, before.currentKey)
    assert.equal(b.logs.role(net, b.account.publicKey), undefined, 'b knows it was removed')

    // An invite made after the rekey carries the whole ring: the newcomer reads history too.
    const d = node(w)
    d.join(a.invite(net, { role: 'member', expires: null, uses: 1 }))
    assert.equal(d.summary(d.logs.network(net)).keys, 2)
    sendAll(d, a, net)
    sendAll(a, d, net)
    assert.deepEqual(texts(d, net), texts(a, net))
    await say(d, net, 'from d')
    sendAll(d, c, net)
    assert.deepEqual(texts(c, net).at(-1), 'from d')
  })

  test('a relay holding the network without any key can read nothing (and refuses it as a dependency)', async (t) => {
    const w = world(t)
    const { net, nodes: [a] } = privateNetwork(w, 2) as { net: Uint8Array, nodes: [Networks, Networks] }
    await say(a, net, 'private words')
    const relay = node(w)
    relay.logs.addNetwork(a.logs.network(net).manifest, [], 0)
    const r = send(a, relay, net)
    assert.equal(r.accepted.length, 0)
    assert.ok(r.rejected.length > 0)
    for (const x of r.rejected) assert.ok(isDependency(x.reason), x.reason)
    assert.equal(relay.summary(relay.logs.network(net)).currentKey, null)
    assert.throws(() => relay.logs.plainBody(relay.logs.network(net), 'chat/message', entriesOf(a, net).at(-1)?.body as Uint8Array), /does not hold/)
  })

  test('a rekey by a non-admin is refused, by its own node and by every member', (t) => {
    const w = world(t)
    const { net, nodes: [a, b] } = privateNetwork(w, 2) as { net: Uint8Array, nodes: [Networks, Networks] }
    assert.throws(() => b.rekey(net), isNamed('NotPermittedError'))
    // Written anyway, bypassing the service: b's own store refuses it.
    const body = { keys: [{ to: a.account.publicKey, box: sealTo(a.account.publicKey, new Uint8Array(randomBytes(32))) }] }
    const own = b.logs.append(b.account.signer, b.account.publicKey, net, [{ type: 'peernet/rekey', body, ts: ++w.clock.t }], w.clock.t)
    assert.match(own.rejected[0]?.reason ?? '', /not an admin/)
    assert.equal(a.logs.keyRing(net).length, 1)
    assert.throws(() => a.rekey(parseNetworkId(a.create({ name: 'open', app: 'chat', policy: 'open', private: false }).id)), isNamed('InvalidRecordError'))
  })

  test('malformed rekey bodies are refused; a box to this node sealed to another key does not open', (t) => {
    const w = world(t)
    const { net, nodes: [a, b] } = privateNetwork(w, 2) as { net: Uint8Array, nodes: [Networks, Networks] }
    const write = (body: CanonicalValue): IngestResult =>
      a.logs.append(a.account.signer, a.account.publicKey, net, [{ type: 'peernet/rekey', body, ts: ++w.clock.t }], w.clock.t)
    const box = sealTo(b.account.publicKey, new Uint8Array(randomBytes(32)))
    const bads: CanonicalValue[] = [{}, { keys: [] }, { keys: [{ to: new Uint8Array(31), box }] }, { keys: [{ to: b.account.publicKey, box: box.subarray(1) }] }, { keys: Array.from({ length: MAX_REKEY_BOXES + 1 }, () => ({ to: b.account.publicKey, box })) }]
    for (const bad of bads) {
      assert.match(write(bad).rejected[0]?.reason ?? '', /peernet\/rekey body is/)
    }
    // Addressed to b, but sealed to a stranger: b cannot open it and learns nothing (the entry itself is fine).
    const stranger = generateIdentity()
    const r = write({ keys: [{ to: b.account.publicKey, box: sealTo(stranger.publicKey, new Uint8Array(randomBytes(32))) }] })
    assert.deepEqual(r.rejected, [])
    sendAll(a, b, net)
    assert.equal(b.logs.keyRing(net).length, 1)
  })

  test('entries sealed with a key whose rekey has not arrived are refused as a dependency, and taken once it has', async (t) => {
    const w = world(t)
    const { net, nodes: [a, b, c, f] } = privateNetwork(w, 4) as { net: Uint8Array, nodes: [Networks, Networks, Networks, Networks] }
    a.removeMember(net, hex(b.account.publicKey))
    sendAll(a, c, net)
    await say(c, net, 'sealed with the new key')
    // f hears from c before it hears from a.
    const early = send(c, f, net, c.account.publicKey)
    assert.equal(early.rejected.length, 1)
    assert.match(early.rejected[0]?.reason ?? '', UNKNOWN_KEY)
    assert.ok(isDependency(early.rejected[0]?.reason ?? ''))
    sendAll(a, f, net)
    const late = send(c, f, net, c.account.publicKey)
    assert.deepEqual(late.rejected, [])
    assert.deepEqual(texts(f, net), ['sealed with the new key'])
    assert.equal(f.summary(f.logs.network(net)).currentKey, a.summary(a.logs.network(net)).currentKey)
  })

  test('concurrent rekeys by two admins: every member holds both keys and writes with the same one', async (t) => {
    const w = world(t)
    const { net, nodes: [a, c, f] } = privateNetwork(w, 3) as { net: Uint8Array, nodes: [Networks, Networks, Networks] }
    a.setRole(net, hex(c.account.publicKey), 'admin')
    sendAll(a, c, net)
    sendAll(a, f, net)
    const ra = a.rekey(net)
    const rc = c.rekey(net)
    assert.notEqual(ra.key, rc.key)
    // Each admin writes with its own new key until it hears of the other's.
    await say(a, net, 'a, own key')
    await say(c, net, 'c, own key')
    for (const [from, to] of [[a, c], [c, a], [a, f], [c, f]] as const) sendAll(from, to, net)
    const currents = [a, c, f].map((n) => n.summary(n.logs.network(net)))
    for (const s of currents) assert.equal(s.keys, 3)
    assert.equal(new Set(currents.map((s) => s.currentKey)).size, 1, 'one current key everywhere')
    assert.ok([ra.key, rc.key].includes(currents[0]?.currentKey ?? ''))
    await say(f, net, 'f, the agreed key')
    for (const n of [a, c]) sendAll(f, n, net)
    for (const n of [a, c, f]) assert.deepEqual(texts(n, net), ['a, own key', 'c, own key', 'f, the agreed key'])
    const last = entriesOf(f, net, f.account.publicKey).at(-1)?.body as Uint8Array
    assert.equal(hex(last.subarray(0, 8)), currents[0]?.currentKey)
    assert.equal(hex(keyIdOf(a.logs.currentKey(net)?.key ?? new Uint8Array())), currents[0]?.currentKey)
  })

  test('a rekey made before a removal reached its admin (sealed to the removed member too) never becomes current, even with a later ts', async (t) => {
    const w = world(t)
    const { net, nodes: [a, b, c, f] } = privateNetwork(w, 4) as { net: Uint8Array, nodes: [Networks, Networks, Networks, Networks] }
    a.setRole(net, hex(c.account.publicKey), 'admin')
    for (const n of [b, c, f]) sendAll(a, n, net)
    const removal = a.removeMember(net, hex(b.account.publicKey))
    const stale = c.rekey(net) // c has not heard of the removal: its key goes to b too, with a later ts
    assert.equal(stale.recipients, 4)
    for (const [from, to] of [[a, c], [c, a], [a, f], [c, f]] as const) sendAll(from, to, net)
    for (const n of [a, c, f]) {
      assert.equal(n.logs.keyRing(net).length, 3)
      assert.equal(n.summary(n.logs.network(net)).currentKey, removal.rekey?.key, 'the removal\'s key, not the later one b holds')
    }
    await say(f, net, 'not for b')
    sendAll(f, a, net)
    const r = send(a, b, net)
    assert.equal(b.logs.keyRing(net).length, 2, 'b opened the stale rekey\'s box')
    assert.equal(r.rejected.length, 1)
    assert.match(r.rejected[0]?.reason ?? '', UNKNOWN_KEY)
    assert.deepEqual(texts(b, net), [])
  })

  test('a member a rekey left out (it joined as the admin rekeyed) cannot write until an admin rekeys again', async (t) => {
    const w = world(t)
    const { net, nodes: [a, c] } = privateNetwork(w, 2) as { net: Uint8Array, nodes: [Networks, Networks] }
    const d = node(w)
    d.join(a.invite(net, { role: 'member', expires: null, uses: 1 }))
    a.rekey(net) // before d's join reached a
    sendAll(a, d, net)
    sendAll(a, c, net)
    await assert.rejects(say(d, net, 'readable by whoever the rekey shut out'), (err: Error) => err.name === 'NotPermittedError' && /key was changed without this node/.test(err.message))
    sendAll(d, a, net)
    a.rekey(net)
    sendAll(a, d, net)
    await say(d, net, 'with the newest key')
    sendAll(d, c, net)
    assert.deepEqual(texts(c, net), ['with the newest key'])
  })
})
