// Linking, listing and revoking devices on nodes whose entries are carried by hand: the
// account's home A and a new device B, each with its own store and home files.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateIdentity, saveIdentity } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { Networks } from '../../src/networks/networks.ts'
import { AccountDevices, accountKeysOf, loadAccountLink } from '../../src/networks/account-devices.ts'
import { defineApp } from '../../src/networks/app.ts'
import type { AppDefinition } from '../../src/networks/app.ts'
import type { Entry } from '../../src/networks/entry.ts'
import { chatApp } from '../../src/apps/chat/chat.ts'
import type { ChatMessageView } from '../../src/apps/chat/chat.ts'
import { TempDirs, hex, isNamed } from './fixtures.ts'

interface TestNode { networks: Networks, devices: AccountDevices, identity: Identity, home: string, clock: { t: number } }

function node (t: TestContext, dirs: TempDirs, apps: AppDefinition[] = [chatApp]): TestNode {
  const home = mkdtempSync(join(tmpdir(), 'peernet-devices-'))
  t.after(() => { rmSync(home, { recursive: true, force: true }) })
  const identity = generateIdentity()
  const account = generateIdentity()
  saveIdentity(join(home, 'account.key'), account)
  const clock = { t: 1_000_000 }
  const store = dirs.store()
  const keys = accountKeysOf(identity, account, loadAccountLink(join(home, 'account-link.json'), identity))
  const networks = new Networks({ store, account: keys, apps, clock: { now: () => ++clock.t }, addresses: () => [`/ip4/10.0.0.1/tcp/4001/p2p/${identity.peerId}`] })
  const devices = new AccountDevices({ networks, store, device: identity, accountKeyPath: join(home, 'account.key'), accountLinkPath: join(home, 'account-link.json'), addresses: () => [], clock: { now: () => ++clock.t } })
  return { networks, devices, identity, home, clock }
}

function nodes (t: TestContext, n: number): TestNode[] {
  const dirs = new TempDirs()
  t.after(() => { dirs.cleanup() })
  return Array.from({ length: n }, () => node(t, dirs))
}

/** Carries every entry of `net` from one node to the other, the creator's chains first. */
function carry (from: Networks, to: Networks, net: Uint8Array): void {
  const creator = hex(from.logs.network(net).manifest.manifest.creator)
  const heads = from.logs.heads(net).sort((x, y) => Number(hex(x.author) !== creator || hex(x.device) !== creator) - Number(hex(y.author) !== creator || hex(y.device) !== creator))
  const entries: Entry[] = heads.flatMap((h) => from.logs.chainAfter(net, h.author, h.device, 0, 10_000).map((s) => s.entry))
  to.ingestRemote(entries)
}

const chat = (n: TestNode, net: Uint8Array): string[] => (n.networks.query(net, 'read', {}) as ChatMessageView[]).map((m) => m.text)

/** A links B; returns the network A made first (private, so its key must travel). */
function linked (a: TestNode, b: TestNode): Uint8Array {
  const net = a.networks.resolve(a.networks.create({ name: 'family', app: 'chat', policy: 'invite', private: true }).id)
  const { link } = a.devices.link(b.devices.request().request)
  b.devices.adopt(link)
  carry(a.networks, b.networks, net)
  return net
}

describe('linking a device', () => {
  test('B writes as A\'s account with its own key; A and a third store verify it back to the account', async (t) => {
    const [a, b] = nodes(t, 2) as [TestNode, TestNode]
    const net = linked(a, b)
    assert.deepEqual(b.networks.account.publicKey, a.networks.account.publicKey)
    assert.equal(b.networks.account.accountKey, null)
    assert.ok(existsSync(join(b.home, 'account-link.json')))
    assert.ok(!existsSync(join(b.home, 'account.key')), 'the unused own account key is set aside')
    assert.equal(readdirSync(b.home).filter((f) => f.startsWith('account.key.before-link-')).length, 1, '…not deleted')
    assert.equal(b.networks.logs.keyRing(net).length, 1, 'the private network\'s key came with the link')

    await b.networks.command(net, 'send', { text: 'from my laptop' })
    const chain = b.networks.logs.chainAfter(net, a.networks.account.publicKey, b.identity.publicKey, 0, 10)
    assert.deepEqual(chain.map((s) => s.entry.header.type), ['peernet/device', 'chat/message'])
    carry(b.networks, a.networks, net)
    assert.deepEqual(chat(a, net), ['from my laptop'])
    const listed = a.devices.list()
    assert.deepEqual(listed.devices.map((d) => [d.kind, d.status, d.thisDevice]), [['account key', 'active', true], ['device', 'active', false]])
    assert.equal(listed.devices[1]?.peerId, b.identity.peerId)
    const onB = b.devices.list()
    assert.equal(onB.holdsAccountKey, false)
    assert.deepEqual(onB.devices.find((d) => d.thisDevice)?.device, hex(b.identity.publicKey))
  })

  test('a linked device survives a restart: the link file makes it the account\'s device again', (t) => {
    const [a, b] = nodes(t, 2) as [TestNode, TestNode]
    linked(a, b)
    const d = loadAccountLink(join(b.home, 'account-link.json'), b.identity)
    assert.deepEqual(accountKeysOf(b.identity, undefined, d).publicKey, a.networks.account.publicKey)
    assert.throws(() => loadAccountLink(join(b.home, 'account-link.json'), generateIdentity()), isNamed('IdentityError'))
  })

  test('a home whose own account has written cannot become a device; nothing changes', (t) => {
    const [a, b] = nodes(t, 2) as [TestNode, TestNode]
    const request = b.devices.request().request
    b.networks.create({ name: 'mine', app: 'chat', policy: 'open', private: false })
    assert.throws(() => b.devices.request(), /already writes as its own account in 1 network/)
    const { link } = a.devices.link(request)
    assert.throws(() => b.devices.adopt(link), isNamed('NotPermittedError'))
    assert.ok(existsSync(join(b.home, 'account.key')))
    assert.ok(!existsSync(join(b.home, 'account-link.json')))
    assert.equal(b.networks.account.accountKey !== null, true)
  })

  test('a device of one account refuses a link from another; a link of the same account adds its networks', (t) => {
    const [a, b, c] = nodes(t, 3) as [TestNode, TestNode, TestNode]
    linked(a, b)
    c.networks.create({ name: 'other', app: 'chat', policy: 'open', private: false })
    const fromC = c.devices.link(b.devices.request().request).link
    assert.throws(() => b.devices.adopt(fromC), /already a device of account/)
    a.networks.create({ name: 'later', app: 'chat', policy: 'open', private: false })
    const again = a.devices.link(b.devices.request().request).link
    assert.deepEqual(b.devices.adopt(again).networks.map((n) => n.name).sort(), ['family', 'later'])
  })

  test('a link whose network needs an app this node lacks leaves the home as it was', (t) => {
    const dirs = new TempDirs()
    t.after(() => { dirs.cleanup() })
    const notes = defineApp({ name: 'notes', types: {}, migrations: [], queries: {}, commands: {} })
    const a = node(t, dirs, [chatApp, notes])
    const b = node(t, dirs)
    a.networks.create({ name: 'fine', app: 'chat', policy: 'open', private: false })
    a.networks.create({ name: 'jots', app: 'notes', policy: 'open', private: false })
    const { link } = a.devices.link(b.devices.request().request)
    assert.throws(() => b.devices.adopt(link), /no app "notes"/)
    assert.deepEqual(b.networks.list(), [])
    assert.ok(!existsSync(join(b.home, 'account-link.json')))
    assert.ok(existsSync(join(b.home, 'account.key')))
  })

  test('only the account\'s home links, revokes, creates networks and signs invites', (t) => {
    const [a, b, c] = nodes(t, 3) as [TestNode, TestNode, TestNode]
    const net = linked(a, b)
    assert.throws(() => b.devices.link(c.devices.request().request), /only the account's home can link devices/)
    assert.throws(() => b.devices.revoke(hex(b.identity.publicKey)), /only the account's home can revoke devices/)
    assert.throws(() => b.networks.create({ name: 'x', app: 'chat', policy: 'open', private: false }), isNamed('NotPermittedError'))
    assert.throws(() => b.networks.invite(net, { role: 'member', expires: null, uses: null }), isNamed('NotPermittedError'))
  })
})

describe('revoking a device', () => {
  test('unknown devices and the account key itself are refused by name; nothing is written', (t) => {
    const [a, b] = nodes(t, 2) as [TestNode, TestNode]
    const net = linked(a, b)
    const before = a.networks.logs.entryCount(net)
    assert.throws(() => a.devices.revoke('deadbeefdeadbeef'), isNamed('UnknownDeviceError'))
    assert.throws(() => a.devices.revoke(b.identity.peerId.slice(0, -1)), isNamed('UnknownDeviceError'))
    assert.throws(() => a.devices.revoke(hex(a.networks.account.publicKey)), /account key itself/)
    assert.equal(a.networks.logs.entryCount(net), before)
  })

  test('by peer id or key prefix, in every network; the last valid seq is the head held here', async (t) => {
    const [a, b] = nodes(t, 2) as [TestNode, TestNode]
    const net = linked(a, b)
    await b.networks.command(net, 'send', { text: 'mine' })
    carry(b.networks, a.networks, net)
    const r = a.devices.revoke(b.identity.peerId)
    assert.deepEqual(r.revoked.map((x) => [x.name, x.lastSeq]), [['family', 2]])
    assert.equal(a.devices.revoke(hex(b.identity.publicKey).slice(0, 10)).alreadyRevoked, true)
    assert.equal(a.devices.list().devices[1]?.status, 'revoked')
    assert.throws(() => a.devices.link(b.devices.request().request), /revoked device key cannot be linked again/)
    // B hears of it: its later writes are refused at home too.
    carry(a.networks, b.networks, net)
    await assert.rejects(b.networks.command(net, 'send', { text: 'more' }), /revoked/)
    assert.equal(b.devices.list().devices.find((d) => d.thisDevice)?.status, 'revoked')
  })

  test('a device linked but never seen writing is revoked from seq 0 (its first entry is refused)', async (t) => {
    const [a, b] = nodes(t, 2) as [TestNode, TestNode]
    const net = linked(a, b)
    assert.equal(a.devices.list().devices[1]?.status, 'linked')
    assert.deepEqual(a.devices.revoke(b.identity.peerId).revoked.map((x) => x.lastSeq), [0])
    await b.networks.command(net, 'send', { text: 'too late' })
    carry(b.networks, a.networks, net)
    assert.deepEqual(chat(a, net), [])
  })

  test('--lost: what the device wrote since it went missing is dropped too, app state included', async (t) => {
    const [a, b] = nodes(t, 2) as [TestNode, TestNode]
    const net = linked(a, b)
    await b.networks.command(net, 'send', { text: 'before' })
    carry(b.networks, a.networks, net)
    const lostAt = ++a.clock.t
    await b.networks.command(net, 'send', { text: 'by the thief' })
    carry(b.networks, a.networks, net)
    assert.deepEqual(chat(a, net), ['before', 'by the thief'])
    const r = a.devices.revoke(b.identity.peerId, { lostSince: lostAt })
    assert.deepEqual(r.revoked.map((x) => x.lastSeq), [2])
    assert.deepEqual(chat(a, net), ['before'])
    assert.deepEqual(a.networks.logs.verify(net).problems, [])
  })
})

describe('revoking a device rekeys private networks', () => {
  test('the revoked device keeps only the old key; another linked device (not yet seen writing) gets the new one', async (t) => {
    const [a, b, c] = nodes(t, 3) as [TestNode, TestNode, TestNode]
    const net = linked(a, b)
    c.devices.adopt(a.devices.link(c.devices.request().request).link)
    await b.networks.command(net, 'send', { text: 'from b' })
    carry(b.networks, a.networks, net)
    const r = a.devices.revoke(b.identity.peerId)
    assert.deepEqual(r.rekeyed.map((x) => x.net), [a.networks.summary(a.networks.logs.network(net)).id])
    assert.equal(r.rekeyed[0]?.recipients, 2, 'the account key and c, not b')
    await a.networks.command(net, 'send', { text: 'after the revocation' })
    carry(a.networks, c.networks, net)
    assert.equal(c.networks.logs.keyRing(net).length, 2)
    assert.deepEqual(chat(c, net), ['from b', 'after the revocation'])
    carry(a.networks, b.networks, net)
    assert.equal(b.networks.logs.keyRing(net).length, 1)
    assert.deepEqual(chat(b, net), ['from b'])
  })

  test('another admin\'s rekey reaches a linked device seen writing in any network they share, not only the one rekeyed', async (t) => {
    const [a, b, x] = nodes(t, 3) as [TestNode, TestNode, TestNode]
    const p = x.networks.resolve(x.networks.create({ name: 'x private', app: 'chat', policy: 'invite', private: true }).id)
    a.networks.join(x.networks.invite(p, { role: 'member', expires: null, uses: 1 }))
    carry(a.networks, x.networks, p)
    const q = x.networks.resolve(x.networks.create({ name: 'x open', app: 'chat', policy: 'invite', private: false }).id)
    a.networks.join(x.networks.invite(q, { role: 'member', expires: null, uses: 1 }))
    carry(a.networks, x.networks, q)
    b.devices.adopt(a.devices.link(b.devices.request().request).link)
    for (const n of [p, q]) carry(x.networks, b.networks, n)
    await b.networks.command(q, 'send', { text: 'b in the open network' })
    carry(b.networks, x.networks, q)
    const r = x.networks.rekey(p)
    assert.equal(r.recipients, 3, 'x, a\'s account key, and b (seen only in the other network)')
    carry(x.networks, b.networks, p)
    assert.equal(b.networks.logs.keyRing(p).length, 2)
    await b.networks.command(p, 'send', { text: 'b in the private network' })
    carry(b.networks, x.networks, p)
    assert.deepEqual(chat(x, p), ['b in the private network'])
  })
})
