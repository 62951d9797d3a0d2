// The Networks service: create, invite, join, leave, command and query, on two nodes
// whose entries are carried by hand (the sync shell's job in the real node).

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { generateIdentity } from '../../src/core/identity.ts'
import { Networks } from '../../src/networks/networks.ts'
import type { NetworksListener } from '../../src/networks/networks.ts'
import { decodeInvite, encodeInvite, createInvite } from '../../src/networks/invite.ts'
import { formatNetworkId, parseNetworkId } from '../../src/networks/manifest.ts'
import type { Entry } from '../../src/networks/entry.ts'
import { chatApp } from '../../src/apps/chat/chat.ts'
import type { ChatMessageView } from '../../src/apps/chat/chat.ts'
import { TempDirs, hex, isNamed } from './fixtures.ts'

interface Clocked { networks: Networks, clock: { t: number } }

function node (t: TestContext, dirs?: TempDirs): Clocked {
  const d = dirs ?? new TempDirs()
  if (dirs === undefined) t.after(() => { d.cleanup() })
  // Every reading moves the clock on by 1 ms (see the same-millisecond todo in log-store.test.ts).
  const clock = { t: 1_000_000 }
  const networks = new Networks({ store: d.store(), account: generateIdentity(), apps: [chatApp], clock: { now: () => ++clock.t }, addresses: () => ['/ip4/10.0.0.1/tcp/4001'] })
  return { networks, clock }
}

/** Carries every entry of `net` from one node to the other. */
function carry (from: Networks, to: Networks, net: Uint8Array): void {
  const entries: Entry[] = from.logs.heads(net).flatMap((h) => from.logs.chainAfter(net, h.author, h.device, 0, 10_000).map((s) => s.entry))
  // Chains one by one, the creator's first, so membership arrives before what depends on it.
  const creator = from.logs.network(net).manifest.manifest.creator
  entries.sort((x, y) => Number(hex(x.header.author) !== hex(creator)) - Number(hex(y.header.author) !== hex(creator)))
  const r = to.ingestRemote(entries)
  assert.deepEqual(r.rejected.map((x) => x.reason), [])
}

describe('Networks', () => {
  test('create an open network: the creator is its admin; the id resolves in every form', (t) => {
    const { networks } = node(t)
    const { id, invite } = networks.create({ name: 'Town square', app: 'chat', policy: 'open', private: false })
    assert.equal(invite, null)
    const net = parseNetworkId(id)
    assert.deepEqual(networks.resolve(id), net)
    assert.deepEqual(networks.resolve(id.toUpperCase()), net)
    assert.deepEqual(networks.resolve(id.slice(0, 10)), net)
    assert.deepEqual(networks.resolve('Town square'), net)
    assert.throws(() => networks.resolve('nowhere'), isNamed('UnknownNetworkError'))
    const [summary] = networks.list()
    assert.equal(summary?.role, 'admin')
    assert.equal(summary?.members, 1)
    assert.equal(summary?.status, 'member')
    assert.equal(summary?.creator, hex(networks.account.publicKey))
    assert.deepEqual(networks.members(net).map((m) => m.you), [true])
  })

  test('create refuses an app this node lacks', (t) => {
    const { networks } = node(t)
    assert.throws(() => networks.create({ name: 'x', app: 'social', policy: 'open', private: false }), isNamed('InvalidRecordError'))
  })

  test('invite, join, chat both ways, and leave', async (t) => {
    const dirs = new TempDirs()
    t.after(() => { dirs.cleanup() })
    const alice = node(t, dirs)
    const bob = node(t, dirs)
    const created = alice.networks.create({ name: 'club', app: 'chat', policy: 'invite', private: false })
    assert.ok(created.invite !== null)
    const net = parseNetworkId(created.id)
    const inv = decodeInvite(created.invite)
    assert.deepEqual(inv.addrs, ['/ip4/10.0.0.1/tcp/4001'])

    const joined = bob.networks.join(created.invite)
    assert.equal(joined.id, created.id)
    assert.deepEqual(joined.addrs, ['/ip4/10.0.0.1/tcp/4001'])
    // Joining again changes nothing.
    bob.networks.join(created.invite)
    assert.equal(bob.networks.logs.entryCount(net), 1)

    carry(bob.networks, alice.networks, net)
    assert.equal(alice.networks.members(net).length, 2)

    await alice.networks.command(net, 'send', { text: 'welcome, bob' })
    await bob.networks.command(net, 'send', { text: 'thanks!' })
    carry(alice.networks, bob.networks, net)
    carry(bob.networks, alice.networks, net)
    const read = (n: Networks): string[] => (n.query(net, 'read', {}) as ChatMessageView[]).map((m) => m.text).sort()
    assert.deepEqual(read(alice.networks), ['thanks!', 'welcome, bob'])
    assert.deepEqual(read(bob.networks), read(alice.networks))

    // Only admins invite.
    assert.throws(() => bob.networks.invite(net, { role: 'member', expires: null, uses: null }), isNamed('NotPermittedError'))
    // The creator cannot leave; bob can, and then cannot write.
    assert.throws(() => alice.networks.leave(net), isNamed('NotPermittedError'))
    bob.networks.leave(net)
    assert.equal(bob.networks.list()[0]?.status, 'left')
    await assert.rejects(bob.networks.command(net, 'send', { text: 'still here?' }), isNamed('NotPermittedError'))
    carry(bob.networks, alice.networks, net)
    assert.equal(alice.networks.members(net).length, 1)
  })

  test('join by id works for open networks whose manifest is known, not for invite-only ones', (t) => {
    const dirs = new TempDirs()
    t.after(() => { dirs.cleanup() })
    const alice = node(t, dirs)
    const bob = node(t, dirs)
    const open = alice.networks.create({ name: 'open', app: 'chat', policy: 'open', private: false })
    const closed = alice.networks.create({ name: 'closed', app: 'chat', policy: 'invite', private: false })
    for (const c of [open, closed]) bob.networks.logs.addNetwork(alice.networks.logs.network(parseNetworkId(c.id)).manifest, [], 0)
    bob.networks.join(open.id)
    assert.ok(bob.networks.logs.isMember(parseNetworkId(open.id), bob.networks.account.publicKey))
    assert.throws(() => bob.networks.join(closed.id), isNamed('NotPermittedError'))
    assert.throws(() => bob.networks.join(formatNetworkId(new Uint8Array(32))), isNamed('UnknownNetworkError'))
  })

  test('an expired invite is refused before anything is written', (t) => {
    const dirs = new TempDirs()
    t.after(() => { dirs.cleanup() })
    const alice = node(t, dirs)
    const bob = node(t, dirs)
    const { id } = alice.networks.create({ name: 'club', app: 'chat', policy: 'invite', private: false })
    const text = alice.networks.invite(parseNetworkId(id), { role: 'member', expires: alice.clock.t + 10, uses: 1 })
    bob.clock.t = alice.clock.t + 11
    assert.throws(() => bob.networks.join(text), isNamed('EntryRejectedError'))
    assert.equal(bob.networks.list().length, 0)
  })

  test('a join refused by the network leaves no membership behind', (t) => {
    const dirs = new TempDirs()
    t.after(() => { dirs.cleanup() })
    const alice = node(t, dirs)
    const bob = node(t, dirs)
    const { id } = alice.networks.create({ name: 'club', app: 'chat', policy: 'invite', private: false })
    const record = alice.networks.logs.network(parseNetworkId(id))
    // An invite signed by someone who is not an admin of the network.
    const bogus = encodeInvite(createInvite(generateIdentity(), record.manifest, { role: 'member', expires: null, uses: null, addrs: [], keys: [] }))
    assert.throws(() => bob.networks.join(bogus), isNamed('EntryRejectedError'))
    assert.deepEqual(bob.networks.list().filter((n) => n.status === 'member'), [])
  })

  test('a private network: the invite carries the key; members read each other; logs show plain bodies', async (t) => {
    const dirs = new TempDirs()
    t.after(() => { dirs.cleanup() })
    const alice = node(t, dirs)
    const bob = node(t, dirs)
    const created = alice.networks.create({ name: 'secret', app: 'chat', policy: 'open', private: true })
    assert.ok(created.invite !== null)
    const net = parseNetworkId(created.id)
    assert.equal(alice.networks.list()[0]?.policy, 'invite')
    assert.equal(decodeInvite(created.invite).keys[0]?.key.byteLength, 32)
    bob.networks.join(created.invite)
    carry(bob.networks, alice.networks, net)
    await alice.networks.command(net, 'send', { text: 'for members only' })
    carry(alice.networks, bob.networks, net)
    assert.deepEqual((bob.networks.query(net, 'read', {}) as ChatMessageView[]).map((m) => m.text), ['for members only'])
    const log = bob.networks.log(net, 10)
    assert.deepEqual(log.find((e) => e.type === 'chat/message')?.body, { text: 'for members only' })
    assert.equal(log.every((e) => !e.pruned), true)
  })

  test('commands and queries of an app; unknown names are refused', async (t) => {
    const { networks } = node(t)
    const net = parseNetworkId(networks.create({ name: 'x', app: 'chat', policy: 'open', private: false }).id)
    const sent = await networks.command(net, 'send', { text: 'hi' }) as { id: string, ts: number }
    assert.match(sent.id, /^[0-9a-f]{64}$/)
    assert.ok(sent.ts > 1_000_000)
    await assert.rejects(networks.command(net, 'shout', {}), isNamed('InvalidRecordError'))
    await assert.rejects(networks.command(net, 'send', { text: '' }), isNamed('InvalidRecordError'))
    assert.throws(() => networks.query(net, 'count', {}), isNamed('InvalidRecordError'))
    assert.deepEqual((networks.query(net, 'read', { limit: 1 }) as ChatMessageView[]).map((m) => m.text), ['hi'])
  })

  test('listeners hear local and remote entries', async (t) => {
    const dirs = new TempDirs()
    t.after(() => { dirs.cleanup() })
    const alice = node(t, dirs)
    const bob = node(t, dirs)
    const events: Array<{ who: string, local: boolean, types: string[] }> = []
    const listen = (who: string): NetworksListener => (e) => { events.push({ who, local: e.local, types: e.entries.map((x) => x.type) }) }
    alice.networks.subscribe(listen('alice'))
    const stop = bob.networks.subscribe(listen('bob'))
    const { id } = alice.networks.create({ name: 'x', app: 'chat', policy: 'open', private: false })
    const net = parseNetworkId(id)
    bob.networks.logs.addNetwork(alice.networks.logs.network(net).manifest, [], 0)
    bob.networks.join(id)
    await alice.networks.command(net, 'send', { text: 'hello' })
    carry(alice.networks, bob.networks, net)
    stop()
    carry(bob.networks, alice.networks, net)
    assert.deepEqual(events, [
      { who: 'bob', local: true, types: ['peernet/join'] },
      { who: 'alice', local: true, types: ['chat/message'] },
      { who: 'bob', local: false, types: ['chat/message'] },
      { who: 'alice', local: false, types: ['peernet/join'] }
    ])
  })
})
