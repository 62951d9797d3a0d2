// Pruning: bodies stored apart from the chain can go — deleted by their author
// (peernet/delete, a signed tombstone that syncs) or dropped by a per-network quota — while
// every chain stays whole and verifiable, and sync carries entries with or without bodies.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { generateIdentity } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { decodeCanonical, encodeCanonical } from '../../src/core/encoding.ts'
import type { CanonicalValue } from '../../src/core/encoding.ts'
import { entryFrom, entryValue } from '../../src/networks/entry.ts'
import type { Entry } from '../../src/networks/entry.ts'
import type { IngestResult, LogStore } from '../../src/networks/log-store.ts'
import { chatApp } from '../../src/apps/chat/chat.ts'
import type { ChatMessageView } from '../../src/apps/chat/chat.ts'
import { TempDirs, hex, makeNetwork } from './fixtures.ts'
import type { TestNetwork } from './fixtures.ts'

const NOW = 5_000
let clock = 20_000

function stores (t: TestContext, count: number): LogStore[] {
  const dirs = new TempDirs()
  t.after(() => { dirs.cleanup() })
  return Array.from({ length: count }, () => dirs.logStore([chatApp]))
}

function holding (t: TestContext, net: TestNetwork, count = 2): LogStore[] {
  const all = stores(t, count)
  for (const s of all) s.addNetwork(net.manifest, [], NOW)
  return all
}

function write (store: LogStore, net: TestNetwork, who: Identity, items: Array<{ type: string, body: CanonicalValue }>): IngestResult {
  const r = store.append(who, who.publicKey, net.id, items.map((i) => ({ ...i, ts: ++clock })), NOW)
  assert.deepEqual(r.rejected.map((x) => x.reason), [])
  return r
}

const say = (text: string): { type: string, body: CanonicalValue } => ({ type: 'chat/message', body: { text } })

/** Everything `from` holds of the network, chain by chain, in wire form (as sync serves it). */
function served (from: LogStore, net: TestNetwork): Entry[] {
  return from.heads(net.id).flatMap((h) => from.chainAfter(net.id, h.author, h.device, 0, 100_000))
    .map((s) => entryFrom(decodeCanonical(encodeCanonical(entryValue(s.entry)))))
}

function texts (store: LogStore, net: TestNetwork): string[] {
  return (chatApp.queries.read?.(store.db, net.id, { limit: 10_000 }) as ChatMessageView[]).map((m) => m.text)
}

function bodyless (store: LogStore, net: TestNetwork): number {
  return store.usage(net.id).withoutBody
}

describe('deleting entries (peernet/delete)', () => {
  test('an author deletes a message: the body goes, the app forgets it, the chain still verifies, everywhere it syncs', (t) => {
    const net = makeNetwork()
    const [a, b] = holding(t, net) as [LogStore, LogStore]
    const [keep, drop] = write(a, net, net.creator, [say('keep'), say('drop')]).accepted
    b.ingest(served(a, net), NOW)
    assert.deepEqual(texts(b, net), ['keep', 'drop'])

    write(a, net, net.creator, [{ type: 'peernet/delete', body: { entries: [drop?.hash as Uint8Array] } }])
    assert.deepEqual(texts(a, net), ['keep'])
    assert.equal(a.entry(net.id, drop?.hash as Uint8Array)?.entry.body, undefined)
    assert.notEqual(a.entry(net.id, keep?.hash as Uint8Array)?.entry.body, undefined)
    assert.deepEqual(a.verify(net.id).problems, [])

    const r = b.ingest(served(a, net), NOW)
    assert.deepEqual(r.rejected, [])
    assert.deepEqual(texts(b, net), ['keep'])
    assert.equal(b.entry(net.id, drop?.hash as Uint8Array)?.entry.body, undefined)
    assert.deepEqual(b.verify(net.id).problems, [])
    assert.deepEqual(b.usage(net.id), { bodyBytes: a.usage(net.id).bodyBytes, quota: null, withoutBody: 1, deleted: 1 })
  })

  test('a fresh node syncing after the delete gets the entry without its body, and never shows it', (t) => {
    const net = makeNetwork()
    const [a, c] = holding(t, net) as [LogStore, LogStore]
    const [drop] = write(a, net, net.creator, [say('secret'), say('public')]).accepted
    write(a, net, net.creator, [{ type: 'peernet/delete', body: { entries: [drop?.hash as Uint8Array] } }])
    const r = c.ingest(served(a, net), NOW)
    assert.deepEqual(r.rejected, [])
    assert.deepEqual(texts(c, net), ['public'])
    assert.equal(c.heads(net.id)[0]?.seq, 3) // two messages and the delete (a creator writes no join)
    assert.deepEqual(c.verify(net.id).problems, [])
  })

  test('a peer that still holds the deleted body cannot bring it back', (t) => {
    const net = makeNetwork()
    const [a, b] = holding(t, net) as [LogStore, LogStore]
    const [drop] = write(a, net, net.creator, [say('gone')]).accepted
    const whole = served(a, net) // taken before the delete: the body is in it
    write(a, net, net.creator, [{ type: 'peernet/delete', body: { entries: [drop?.hash as Uint8Array] } }])
    b.ingest(served(a, net), NOW)
    const again = b.ingest(whole, NOW)
    assert.equal(again.accepted.length, 0)
    assert.deepEqual(texts(b, net), [])
    assert.equal(b.entry(net.id, drop?.hash as Uint8Array)?.entry.body, undefined)
  })

  test('nobody can delete another account\'s entry, nor a membership entry', (t) => {
    const net = makeNetwork()
    const [a, b] = holding(t, net) as [LogStore, LogStore]
    const other = generateIdentity()
    const [theirs] = write(a, net, other, [{ type: 'peernet/join', body: {} }, say('mine')]).accepted.slice(1)
    b.ingest(served(a, net), NOW)
    const forged = a.append(net.creator, net.creator.publicKey, net.id, [{ type: 'peernet/delete', body: { entries: [theirs?.hash as Uint8Array] }, ts: ++clock }], NOW)
    assert.equal(forged.accepted.length, 0)
    assert.match(forged.rejected[0]?.reason ?? '', /only its own entries/)
    const join = a.heads(net.id).find((h) => hex(h.author) === hex(other.publicKey))
    assert.ok(join !== undefined)
    const ownJoin = a.chainAfter(net.id, other.publicKey, other.publicKey, 0, 1)[0]
    const noJoin = a.append(other, other.publicKey, net.id, [{ type: 'peernet/delete', body: { entries: [ownJoin?.hash as Uint8Array] }, ts: ++clock }], NOW)
    assert.match(noJoin.rejected[0]?.reason ?? '', /cannot be deleted/)
    assert.deepEqual(texts(a, net), ['mine'])
    assert.deepEqual(texts(b, net), ['mine'])
  })

  test('malformed deletions are refused and leave nothing', (t) => {
    const net = makeNetwork()
    const [a] = holding(t, net, 1) as [LogStore]
    const before = a.heads(net.id)
    for (const body of [{}, { entries: [] }, { entries: [new Uint8Array(31)] }, { entries: 'x' }, { entries: Array.from({ length: 257 }, () => new Uint8Array(32)) }] as CanonicalValue[]) {
      const r = a.append(net.creator, net.creator.publicKey, net.id, [{ type: 'peernet/delete', body, ts: ++clock }], NOW)
      assert.equal(r.accepted.length, 0)
      assert.match(r.rejected[0]?.reason ?? '', /peernet\/delete body/)
    }
    assert.deepEqual(a.heads(net.id), before)
  })

  test('a delete that names an entry not yet held keeps it bodiless when it arrives', (t) => {
    // The author's two devices (here: two chains of one account, the second sent later).
    const net = makeNetwork()
    const [a, b] = holding(t, net) as [LogStore, LogStore]
    const author = generateIdentity()
    write(a, net, author, [{ type: 'peernet/join', body: {} }])
    const [late] = write(a, net, author, [say('late')]).accepted
    write(a, net, author, [{ type: 'peernet/delete', body: { entries: [late?.hash as Uint8Array] } }])
    const all = served(a, net)
    // b gets the delete's tombstone first by ingesting the chain without the message's body,
    // then the message arrives whole from a peer that kept it: it stays bodiless.
    const withoutBody = all.map((e) => e.header.type === 'chat/message' ? { header: e.header, auth: e.auth } : e)
    assert.deepEqual(b.ingest(withoutBody, NOW).rejected, [])
    b.ingest([all.find((e) => e.header.type === 'chat/message') as Entry], NOW)
    assert.deepEqual(texts(b, net), [])
  })
})

describe('entries without bodies in sync', () => {
  test('a chain served without some bodies lands whole; the bodies fill in when a peer has them', (t) => {
    const net = makeNetwork()
    const [a, b] = holding(t, net) as [LogStore, LogStore]
    write(a, net, net.creator, [say('one'), say('two'), say('three')])
    const all = served(a, net)
    const stripped = all.map((e) => e.header.type === 'chat/message' && e.header.seq !== 2 ? { header: e.header, auth: e.auth } : e)
    assert.deepEqual(b.ingest(stripped, NOW).rejected, [])
    assert.deepEqual(texts(b, net), ['two'])
    assert.equal(bodyless(b, net), 2)
    assert.deepEqual(b.verify(net.id).problems, [])
    const filled = b.ingest(all, NOW)
    assert.equal(filled.accepted.length, 2)
    assert.deepEqual(texts(b, net), ['one', 'two', 'three'])
    assert.equal(bodyless(b, net), 0)
  })

  test('a body that does not match its hash is refused, bodiless or not', (t) => {
    const net = makeNetwork()
    const [a, b] = holding(t, net) as [LogStore, LogStore]
    write(a, net, net.creator, [say('real')])
    const all = served(a, net)
    b.ingest(all.map((e) => e.header.type === 'chat/message' ? { header: e.header, auth: e.auth } : e), NOW)
    const msg = all.find((e) => e.header.type === 'chat/message') as Entry
    const r = b.ingest([{ ...msg, body: encodeCanonical({ text: 'fake' }) }], NOW)
    assert.equal(r.accepted.length, 0)
    assert.match(r.rejected[0]?.reason ?? '', /does not match its hash/)
    assert.deepEqual(texts(b, net), [])
  })
})

describe('per-network quota', () => {
  test('over the quota the oldest message bodies go; membership bodies and the app state stay', (t) => {
    const net = makeNetwork()
    const [a, b] = holding(t, net) as [LogStore, LogStore]
    const member = generateIdentity()
    const written = write(a, net, member, [{ type: 'peernet/join', body: {} }, ...Array.from({ length: 10 }, (_v, i) => say(`message ${i} ${'x'.repeat(100)}`))]).accepted.slice(1)
    const size = a.usage(net.id).bodyBytes
    const per = size / 10
    a.setQuota(net.id, Math.floor(per * 4))
    const u = a.usage(net.id)
    assert.equal(u.quota, Math.floor(per * 4))
    assert.ok(u.bodyBytes <= u.quota, `${u.bodyBytes} > ${u.quota}`)
    assert.equal(u.withoutBody, 10 - Math.floor((u.quota ?? 0) / per)) // equal-sized bodies: as many kept as fit
    assert.equal(u.deleted, 0)
    // The oldest went first.
    assert.equal(a.entry(net.id, written[0]?.hash as Uint8Array)?.entry.body, undefined)
    assert.notEqual(a.entry(net.id, written[9]?.hash as Uint8Array)?.entry.body, undefined)
    // The join's body is never pruned; the app still shows everything it reduced.
    assert.notEqual(a.chainAfter(net.id, member.publicKey, member.publicKey, 0, 1)[0]?.entry.body, undefined)
    assert.equal(texts(a, net).length, 10)
    assert.deepEqual(a.verify(net.id).problems, [])
    // New entries keep it under the quota.
    write(a, net, member, [say(`late ${'y'.repeat(100)}`)])
    assert.ok(a.usage(net.id).bodyBytes <= (u.quota ?? 0))
    // A peer syncing from the pruned node gets the whole chain and the bodies still held.
    assert.deepEqual(b.ingest(served(a, net), NOW).rejected, [])
    assert.deepEqual(b.verify(net.id).problems, [])
    assert.equal(texts(b, net).length, 11 - a.usage(net.id).withoutBody)
    // Removing the quota prunes nothing more; the gone bodies are gone until a peer sends them.
    a.setQuota(net.id, null)
    assert.equal(a.usage(net.id).quota, null)
  })
})
