// The durable outbox of reliable mesh sends: on real SQLite files (what is written
// survives closing and reopening the database), its bounds, expiry and failures; then two
// real nodes, where a message sent while its destination is away survives a restart of
// the sender and arrives exactly once.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateIdentity, peerIdOfPublicKey } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { Store } from '../../src/core/store.ts'
import { ACK_REQUESTED, DEFAULT_TTL, encodeEnvelope, newEnvelopeId, sealEnvelope } from '../../src/mesh/envelope.ts'
import type { MeshEnvelope } from '../../src/mesh/envelope.ts'
import { nodeIdOf } from '../../src/mesh/node-id.ts'
import { encodePayload } from '../../src/mesh/payload.ts'
import { Outbox } from '../../src/mesh/outbox.ts'
import type { OutboxLimits } from '../../src/mesh/outbox.ts'
import { MESH_MIGRATIONS } from '../../src/mesh/schema.ts'
import { MeshService } from '../../src/mesh/mesh-service.ts'
import { silentLogger } from '../../src/core/log.ts'
import { Cluster, eventually, tcpAddress } from '../host/cluster.ts'
import { isNamed } from '../networks/fixtures.ts'

const sender = generateIdentity()
const receiver = generateIdentity()

function envelopeTo (dst: Identity, text: string, from: Identity = sender): MeshEnvelope {
  return sealEnvelope(from, dst.publicKey, { id: newEnvelopeId(), flags: ACK_REQUESTED, ttl: DEFAULT_TTL }, encodePayload({ kind: 'text', text }))
}

/** A mesh-migrated store on a temp file; `reopen` closes it and opens the same file again. */
function tempStore (t: { after: (fn: () => void) => void }): { store: () => Store, reopen: () => Store } {
  const dir = mkdtempSync(join(tmpdir(), 'peernet-outbox-'))
  const path = join(dir, 'peernet.db')
  let store = Store.open(path)
  store.migrate('mesh', MESH_MIGRATIONS)
  t.after(() => { store.close(); rmSync(dir, { recursive: true, force: true }) })
  return {
    store: () => store,
    reopen: () => {
      store.close()
      store = Store.open(path)
      store.migrate('mesh', MESH_MIGRATIONS)
      return store
    }
  }
}

function outboxOn (store: Store, limits: Partial<OutboxLimits> = {}): Outbox {
  return new Outbox(store, limits)
}

test('what is added survives reopening the database and comes back oldest first, byte for byte', (t) => {
  const db = tempStore(t)
  const outbox = outboxOn(db.store())
  const first = envelopeTo(receiver, 'first')
  const second = envelopeTo(receiver, 'second')
  outbox.add({ envelope: first, dstKey: receiver.publicKey, text: 'first', expiresAt: 10_000 }, 1_000)
  outbox.add({ envelope: second, dstKey: receiver.publicKey, text: 'second', expiresAt: 10_000 }, 1_000)

  const reopened = outboxOn(db.reopen())
  const pending = reopened.pending(2_000)
  assert.deepEqual(pending.map((e) => e.id), [first.id, second.id], 'oldest first (same ms: insertion order)')
  assert.deepEqual(pending.map(encodeEnvelope), [first, second].map(encodeEnvelope))
  const listed = reopened.list()
  assert.deepEqual(listed.map((e) => [e.id, e.status, e.text, e.attempts]), [[first.id, 'pending', 'first', 2], [second.id, 'pending', 'second', 2]],
    'each resend counts an attempt')
  assert.equal(listed[0]?.to, peerIdOfPublicKey(receiver.publicKey))
  assert.equal(listed[0]?.dst, nodeIdOf(receiver.publicKey))
  assert.equal(listed[0]?.bytes, encodeEnvelope(first).byteLength)
})

test('settle deletes an acknowledged message; an unknown id settles nothing', (t) => {
  const outbox = outboxOn(tempStore(t).store())
  const e = envelopeTo(receiver, 'hi')
  outbox.add({ envelope: e, dstKey: receiver.publicKey, expiresAt: 10_000 }, 0)
  assert.equal(outbox.settle(e.id), true)
  assert.equal(outbox.settle(e.id), false)
  assert.equal(outbox.settle('0123456789abcdef'), false)
  assert.deepEqual(outbox.pending(1), [])
  assert.deepEqual(outbox.list(), [])
  assert.deepEqual(outbox.size(), { messages: 0, bytes: 0 })
})

test('expired messages are not resent but kept as failed, with the reason', (t) => {
  const outbox = outboxOn(tempStore(t).store())
  const early = envelopeTo(receiver, 'early')
  const late = envelopeTo(receiver, 'late')
  outbox.add({ envelope: early, dstKey: receiver.publicKey, expiresAt: 5_000 }, 0)
  outbox.add({ envelope: late, dstKey: receiver.publicKey, expiresAt: 9_000 }, 100)
  assert.deepEqual(outbox.pending(4_999).map((e) => e.id), [early.id, late.id])
  assert.deepEqual(outbox.pending(5_000).map((e) => e.id), [late.id], 'expires at expiresAt')
  const failed = outbox.list().find((e) => e.id === early.id)
  assert.equal(failed?.status, 'failed')
  assert.match(failed?.reason ?? '', /expired/)
  assert.equal(failed?.failedAt, 5_000)
  assert.deepEqual(outbox.size(), { messages: 1, bytes: encodeEnvelope(late).byteLength }, 'a failed entry no longer counts')
})

test('fail keeps the entry for the listing, not for resending; only the newest keepFailed stay', (t) => {
  const db = tempStore(t)
  const outbox = outboxOn(db.store(), { keepFailed: 2 })
  const sent = [1, 2, 3, 4].map((i) => envelopeTo(receiver, `m${i}`))
  sent.forEach((e, i) => { outbox.add({ envelope: e, dstKey: receiver.publicKey, expiresAt: 1e9 }, i) })
  assert.equal(outbox.fail(sent[0]!.id, 'no acknowledgement after 4 retransmissions', 10), true)
  assert.equal(outbox.fail(sent[0]!.id, 'again', 11), false, 'a failed entry does not fail twice')
  assert.equal(outbox.settle(sent[0]!.id), true, 'an ack that comes after all the same clears it')
  assert.equal(outbox.fail(sent[1]!.id, 'custody expired', 12), true)
  assert.equal(outbox.fail(sent[2]!.id, 'custody full', 13), true)
  assert.equal(outbox.fail(sent[3]!.id, 'custody expired', 14), true)
  assert.deepEqual(outbox.list().map((e) => [e.id, e.status, e.reason]), [[sent[2]!.id, 'failed', 'custody full'], [sent[3]!.id, 'failed', 'custody expired']],
    'the oldest failed entry went past keepFailed')
  assert.deepEqual(outbox.pending(20), [])
  const row = db.store().db.prepare('SELECT COUNT(*) AS n FROM mesh_outbox WHERE envelope IS NOT NULL').get() as { n: number }
  assert.equal(row.n, 0, 'failed entries keep no envelope bytes')
})

test('a full outbox refuses a new send with a named error and keeps every older one', (t) => {
  const db = tempStore(t)
  const byCount = outboxOn(db.store(), { maxMessages: 2 })
  const [a, b, c] = ['a', 'b', 'c'].map((x) => envelopeTo(receiver, x)) as [MeshEnvelope, MeshEnvelope, MeshEnvelope]
  byCount.add({ envelope: a, dstKey: receiver.publicKey, expiresAt: 1e9 }, 0)
  byCount.add({ envelope: b, dstKey: receiver.publicKey, expiresAt: 1e9 }, 1)
  assert.throws(() => { byCount.add({ envelope: c, dstKey: receiver.publicKey, expiresAt: 1e9 }, 2) }, (err: unknown) => {
    isNamed('OutboxFullError')(err)
    assert.match((err as Error & { hint?: string }).hint ?? '', /never dropped/)
    return true
  })
  assert.deepEqual(byCount.pending(3).map((e) => e.id), [a.id, b.id], 'nothing dropped, nothing half-written')
  byCount.settle(a.id)
  byCount.add({ envelope: c, dstKey: receiver.publicKey, expiresAt: 1e9 }, 4)
  byCount.fail(b.id, 'custody expired', 5)
  byCount.add({ envelope: envelopeTo(receiver, 'd'), dstKey: receiver.publicKey, expiresAt: 1e9 }, 6)
  assert.equal(byCount.size().messages, 2, 'failed entries do not take room from new sends')

  const size = encodeEnvelope(a).byteLength
  const db2 = tempStore(t)
  const byBytes = outboxOn(db2.store(), { maxBytes: 2 * size + 10 })
  byBytes.add({ envelope: a, dstKey: receiver.publicKey, expiresAt: 1e9 }, 0)
  byBytes.add({ envelope: b, dstKey: receiver.publicKey, expiresAt: 1e9 }, 1)
  const big = envelopeTo(receiver, 'a much longer text than the others')
  assert.throws(() => { byBytes.add({ envelope: big, dstKey: receiver.publicKey, expiresAt: 1e9 }, 2) }, isNamed('OutboxFullError'))
  assert.deepEqual(byBytes.size(), { messages: 2, bytes: 2 * size })
})

test('a stored envelope that no longer decodes is marked failed, and the others still go', (t) => {
  const db = tempStore(t)
  const outbox = outboxOn(db.store())
  const bad = envelopeTo(receiver, 'bad')
  const good = envelopeTo(receiver, 'good')
  outbox.add({ envelope: bad, dstKey: receiver.publicKey, expiresAt: 1e9 }, 0)
  outbox.add({ envelope: good, dstKey: receiver.publicKey, expiresAt: 1e9 }, 1)
  db.store().db.prepare('UPDATE mesh_outbox SET envelope = ? WHERE id = ?').run(new Uint8Array([0x63, 1, 2]), bad.id)
  assert.deepEqual(outbox.pending(2).map((e) => e.id), [good.id])
  const entry = outbox.list().find((e) => e.id === bad.id)
  assert.equal(entry?.status, 'failed')
  assert.match(entry?.reason ?? '', /unreadable/)
})

test('a database at mesh schema 1 migrates to the current schema and keeps its inbox', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peernet-outbox-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const path = join(dir, 'peernet.db')
  const old = Store.open(path)
  old.migrate('mesh', MESH_MIGRATIONS.filter((m) => m.version === 1))
  old.db.prepare('INSERT INTO mesh_inbox (src, id, text, received_at, hops) VALUES (?, ?, ?, ?, ?)').run(sender.publicKey, '0011223344556677', 'kept', 1, 1)
  old.close()
  const store = Store.open(path)
  t.after(() => { store.close() })
  store.migrate('mesh', MESH_MIGRATIONS)
  assert.equal(store.schemaVersion('mesh'), Math.max(...MESH_MIGRATIONS.map((m) => m.version)))
  assert.equal((store.db.prepare('SELECT text FROM mesh_inbox').get() as { text: string }).text, 'kept')
  const outbox = outboxOn(store)
  outbox.add({ envelope: envelopeTo(receiver, 'x'), dstKey: receiver.publicKey, expiresAt: 1e9 }, 0)
  assert.equal(outbox.size().messages, 1)
})

// ---- the mesh service's use of it (no links: every send waits in custody) --------------

function lonelyService (store: Store, options: Partial<ConstructorParameters<typeof MeshService>[0]> = {}): MeshService {
  return new MeshService({ identity: sender, store, providers: [], logger: silentLogger, ...options })
}

test('the service refuses a reliable send the outbox has no room for, and sends nothing', async (t) => {
  const db = tempStore(t)
  const mesh = lonelyService(db.store(), { outbox: { maxMessages: 1 } })
  await mesh.start()
  t.after(async () => { await mesh.stop() })
  const to = peerIdOfPublicKey(receiver.publicKey)
  const first = await mesh.send(to, 'fits', { timeoutMs: 10 })
  await assert.rejects(mesh.send(to, 'does not fit', { timeoutMs: 10 }), isNamed('OutboxFullError'))
  assert.deepEqual(mesh.custody().map((c) => c.id), [first.id], 'the refused one never reached the forwarder')
  assert.deepEqual(mesh.outbox().map((e) => e.id), [first.id])
  const unreliable = await mesh.send(to, 'no ack asked', { ack: false })
  assert.equal(mesh.outbox().some((e) => e.id === unreliable.id), false, 'only reliable sends are kept')
})

test('when the forwarder gives up, the outbox keeps the message as failed and does not resend it', async (t) => {
  const db = tempStore(t)
  const mesh = lonelyService(db.store(), { forwarding: { custodyTtlMs: 100 } })
  await mesh.start()
  const sent = await mesh.send(peerIdOfPublicKey(receiver.publicKey), 'into the void', { timeoutMs: 10 })
  const failed = await eventually(() => mesh.outbox().find((e) => e.id === sent.id && e.status === 'failed'), 'the send to fail', 5_000)
  assert.equal(failed.reason, 'custody expired')
  await mesh.stop()
  const again = lonelyService(db.reopen())
  await again.start()
  t.after(async () => { await again.stop() })
  assert.deepEqual(again.custody(), [], 'a failed message is not resent after a restart')
})

// ---- two real nodes --------------------------------------------------------------------

const NODE_CONFIG = { meshUdp: false, rendezvous: false, mesh: true }

test('a message sent while its destination is away survives a restart of the sender and arrives once', async (t) => {
  const cluster = new Cluster()
  t.after(async () => { await cluster.close() })
  const homeA = cluster.home()
  const homeB = cluster.home()
  let b = await cluster.start(NODE_CONFIG, homeB)
  const bPeer = b.peerId
  await cluster.stop(b)

  let a = await cluster.start(NODE_CONFIG, homeA)
  const sent = await a.mesh!.send(bPeer, 'hello across a restart', { timeoutMs: 200 })
  assert.equal(sent.acked, false)
  assert.equal(sent.firstHop, 'custody', 'no route to B: A holds it')
  assert.deepEqual(a.mesh!.outbox().map((e) => [e.id, e.status]), [[sent.id, 'pending']])
  await cluster.stop(a)

  a = await cluster.start(NODE_CONFIG, homeA)
  assert.ok(a.mesh!.custody().some((c) => c.id === sent.id && c.local), 'resent at start: back in custody')
  b = await cluster.start(NODE_CONFIG, homeB)
  await a.connect(tcpAddress(b))
  const inboxB = b.mesh!
  await eventually(() => inboxB.inbox().some((m) => m.id === sent.id), 'B to receive the message', 20_000)
  const outboxA = a.mesh!
  await eventually(() => outboxA.outbox().length === 0, "A's outbox to settle on B's ack", 20_000)
  const got = inboxB.inbox().filter((m) => m.id === sent.id)
  assert.equal(got.length, 1)
  assert.equal(got[0]?.text, 'hello across a restart')
  assert.equal(got[0]?.from, a.peerId)
})

test('a resend after a restart of a message that did arrive (its ack lost) is acknowledged again, not shown twice', async (t) => {
  const cluster = new Cluster()
  t.after(async () => { await cluster.close() })
  const homeA = cluster.home()
  const b = await cluster.start(NODE_CONFIG)
  let a = await cluster.start(NODE_CONFIG, homeA)
  await a.connect(tcpAddress(b))
  const mesh = a.mesh!
  await eventually(() => mesh.reachable(b.identity.publicKey), 'a mesh route from A to B', 20_000)
  const sent = await mesh.send(b.peerId, 'once only', { timeoutMs: 10_000 })
  assert.equal(sent.acked, true)
  assert.deepEqual(mesh.outbox(), [], 'settled on its ack')
  const identityA = a.identity
  await cluster.stop(a)

  // As if A had crashed after the send but before the ack came back: the same message
  // (same src, same id) is still in its outbox.
  const store = Store.open(a.paths.database)
  const again = sealEnvelope(identityA, b.identity.publicKey, { id: sent.id, flags: ACK_REQUESTED, ttl: DEFAULT_TTL }, encodePayload({ kind: 'text', text: 'once only' }))
  new Outbox(store).add({ envelope: again, dstKey: b.identity.publicKey, text: 'once only', expiresAt: Date.now() + 60_000 }, Date.now())
  store.close()

  a = await cluster.start(NODE_CONFIG, homeA)
  await a.connect(tcpAddress(b))
  const outboxA = a.mesh!
  await eventually(() => outboxA.outbox().length === 0, 'the resend to be acknowledged', 20_000)
  assert.equal(b.mesh!.inbox().filter((m) => m.id === sent.id).length, 1)
})
