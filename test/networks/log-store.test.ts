// LogStore: the one way entries get in. Two stores on two databases, both holding the
// same network with the chat app; entries appended on one are carried over the wire form
// to the other and must pass (or fail) the very same checks there.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { generateIdentity } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { decodeCanonical, encodeCanonical } from '../../src/core/encoding.ts'
import type { CanonicalValue } from '../../src/core/encoding.ts'
import { buildHeaders, entryFrom, entryHash, entryValue, signHeaders } from '../../src/networks/entry.ts'
import type { Entry } from '../../src/networks/entry.ts'
import type { IngestResult, LogStore } from '../../src/networks/log-store.ts'
import { delegate, delegationValue, revocationValue, revoke } from '../../src/networks/account.ts'
import { createInvite, grantValue } from '../../src/networks/invite.ts'
import type { Role } from '../../src/networks/invite.ts'
import { keyIdOf, openBody, sealBody } from '../../src/networks/body-cipher.ts'
import { defineApp } from '../../src/networks/app.ts'
import type { AppDefinition } from '../../src/networks/app.ts'
import { InvalidRecordError } from '../../src/networks/errors.ts'
import { MAX_MESSAGE_CHARS, chatApp } from '../../src/apps/chat/chat.ts'
import type { ChatMessageView } from '../../src/apps/chat/chat.ts'
import { TempDirs, hex, isNamed, makeNetwork, ringOf } from './fixtures.ts'
import type { TestNetwork } from './fixtures.ts'

const NOW = 5_000

// ---- fixtures -------------------------------------------------------------------------

function stores (t: TestContext, count = 2, apps: AppDefinition[] = [chatApp]): LogStore[] {
  const dirs = new TempDirs()
  t.after(() => { dirs.cleanup() })
  return Array.from({ length: count }, () => dirs.logStore(apps))
}

/** Two stores that both hold `net` (with its key when private). */
function pair (t: TestContext, net: TestNetwork, key: Uint8Array | null = null, apps: AppDefinition[] = [chatApp]): [LogStore, LogStore] {
  const [a, b] = stores(t, 2, apps) as [LogStore, LogStore]
  a.addNetwork(net.manifest, key === null ? [] : ringOf(key), NOW)
  b.addNetwork(net.manifest, key === null ? [] : ringOf(key), NOW)
  return [a, b]
}

let clock = 10_000
const msg = (text: string): { type: string, body: CanonicalValue, ts: number } => ({ type: 'chat/message', body: { text }, ts: ++clock })
const item = (type: string, body: CanonicalValue): { type: string, body: CanonicalValue, ts: number } => ({ type, body, ts: ++clock })

/** Appends as `who` (account key = device key) and insists everything was accepted. */
function write (store: LogStore, net: TestNetwork, who: Identity, items: Array<{ type: string, body: CanonicalValue, ts: number }>, device: Identity = who): IngestResult {
  const r = store.append(device, who.publicKey, net.id, items, NOW)
  assert.deepEqual(r.rejected, [], `append refused: ${r.rejected.map((x) => x.reason).join('; ')}`)
  assert.equal(r.accepted.length, items.length)
  return r
}

/** Through the wire form, as sync carries it. */
function wire (e: Entry): Entry {
  return entryFrom(decodeCanonical(encodeCanonical(entryValue(e))))
}

function chain (store: LogStore, net: TestNetwork, author: Identity, device: Identity = author): Entry[] {
  return store.chainAfter(net.id, author.publicKey, device.publicKey, 0, 10_000).map((s) => wire(s.entry))
}

/** Every entry of the network in `from`, chain by chain (the creator's first). */
function allEntries (from: LogStore, net: TestNetwork): Entry[] {
  const heads = from.heads(net.id).sort((x, y) => Number(!bytesIs(x.author, net.creator.publicKey)) - Number(!bytesIs(y.author, net.creator.publicKey)))
  return heads.flatMap((h) => from.chainAfter(net.id, h.author, h.device, 0, 10_000).map((s) => wire(s.entry)))
}

function bytesIs (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0
}

/** Entry hashes held for the network, sorted. */
function hashes (store: LogStore, net: TestNetwork): string[] {
  return store.log(net.id, 100_000).map((s) => hex(s.hash)).sort()
}

function chatRead (store: LogStore, net: TestNetwork): ChatMessageView[] {
  return chatApp.queries.read?.(store.db, net.id, { limit: 10_000 }) as ChatMessageView[]
}

function joinBody (net: TestNetwork, issuer: Identity, options: { role?: Role, uses?: number | null, expires?: number | null } = {}): CanonicalValue {
  const inv = createInvite(issuer, net.manifest, { role: options.role ?? 'member', expires: options.expires ?? null, uses: options.uses ?? null, addrs: [], keys: [] })
  return { invite: grantValue(inv.grant) }
}

/** Signs entries outside any store: for forging, equivocating and skipping. */
function signed (net: TestNetwork, device: Identity, author: Uint8Array, head: { seq: number, hash: Uint8Array } | undefined, items: Array<{ type: string, body: CanonicalValue, ts: number }>, encodeBody: (b: CanonicalValue) => Uint8Array = encodeCanonical): Entry[] {
  const raw = items.map((i) => ({ type: i.type, ts: i.ts, body: encodeBody(i.body) }))
  const headers = buildHeaders(net.id, author, device.publicKey, head, raw)
  const auths = signHeaders(device, headers)
  return headers.map((header, i) => ({ header, auth: auths[i] as Entry['auth'], body: raw[i]?.body as Uint8Array }))
}

function headOf (e: Entry): { seq: number, hash: Uint8Array } {
  return { seq: e.header.seq, hash: entryHash(e.header) }
}

function assertRejected (r: IngestResult, pattern: RegExp, count = 1): void {
  assert.equal(r.accepted.length, 0, 'expected no entry to be accepted')
  assert.equal(r.rejected.length, count, `expected ${count} rejections, got ${JSON.stringify(r.rejected.map((x) => x.reason))}`)
  for (const x of r.rejected) assert.match(x.reason, pattern)
}

// ---- tests ----------------------------------------------------------------------------

describe('networks in a LogStore', () => {
  test('addNetwork records the network, the creator as admin, and is idempotent', (t) => {
    const [s] = stores(t, 1) as [LogStore]
    const net = makeNetwork()
    const rec = s.addNetwork(net.manifest, [], NOW)
    assert.deepEqual(rec.id, net.id)
    assert.equal(rec.status, 'member')
    assert.equal(s.role(net.id, net.creator.publicKey), 'admin')
    assert.deepEqual(s.members(net.id).map((m) => hex(m.account)), [hex(net.creator.publicKey)])
    s.setStatus(net.id, 'left')
    assert.equal(s.memberNetworkIds().length, 0)
    s.addNetwork(net.manifest, [], NOW + 1)
    assert.equal(s.networks().length, 1)
    assert.deepEqual(s.memberNetworkIds(), [net.id])
  })

  test('a network of an app this node lacks is refused; an unknown id is UnknownNetworkError', (t) => {
    const [s] = stores(t, 1) as [LogStore]
    assert.throws(() => s.addNetwork(makeNetwork({ app: 'social' }).manifest, [], NOW), isNamed('InvalidRecordError'))
    assert.throws(() => s.network(new Uint8Array(32)), isNamed('UnknownNetworkError'))
    assert.ok(!s.hasNetwork(new Uint8Array(32)))
  })

  test('keys given later join the ring; none is replaced, and the newest is current', (t) => {
    const [s] = stores(t, 1) as [LogStore]
    const net = makeNetwork({ private: true })
    const k1 = new Uint8Array(randomBytes(32))
    s.addNetwork(net.manifest, [], NOW)
    assert.equal(s.currentKey(net.id), undefined)
    s.addNetwork(net.manifest, ringOf(k1), NOW)
    assert.deepEqual(s.currentKey(net.id)?.key, k1)
    s.addNetwork(net.manifest, ringOf(k1), NOW)
    const k2 = { key: new Uint8Array(32).fill(2), ts: 10, author: net.creator.publicKey, seq: 4 }
    s.addNetwork(net.manifest, [k2], NOW)
    assert.deepEqual(s.keyRing(net.id).map((k) => k.key), [k1, k2.key])
    assert.deepEqual(s.currentKey(net.id)?.key, k2.key)
  })
})

describe('ingest: carrying entries between two stores', () => {
  test('entries appended on one are accepted on the other; repeats count as duplicates', (t) => {
    const net = makeNetwork()
    const [a, b] = pair(t, net)
    const m = generateIdentity()
    write(a, net, net.creator, [msg('hello'), msg('world')])
    write(a, net, m, [item('peernet/join', {}), msg('hi from m')])
    write(a, net, m, [msg('one'), msg('two'), msg('three')]) // a batch
    const entries = allEntries(a, net)
    assert.equal(entries.length, 7)
    const first = b.ingest(entries, NOW)
    assert.equal(first.accepted.length, 7)
    assert.equal(first.duplicates, 0)
    assert.deepEqual(first.rejected, [])
    assert.deepEqual(hashes(b, net), hashes(a, net))
    assert.deepEqual(chatRead(b, net), chatRead(a, net))
    assert.equal(chatRead(b, net).length, 6)
    assert.ok(b.isMember(net.id, m.publicKey))
    assert.deepEqual(b.heads(net.id).map((h) => h.seq).sort(), [2, 5])
    const again = b.ingest(entries, NOW)
    assert.deepEqual(again, { accepted: [], duplicates: 7, rejected: [] })
    assert.equal(b.entryCount(net.id), 7)
  })

  test('an accepted entry reports what the app sees', (t) => {
    const net = makeNetwork()
    const [a, b] = pair(t, net)
    const [e] = write(a, net, net.creator, [msg('look')]).accepted
    const [got] = b.ingest(chain(a, net, net.creator), NOW).accepted
    assert.deepEqual(got, e)
    assert.deepEqual(got?.body, { text: 'look' })
    assert.equal(got?.type, 'chat/message')
  })

  test('stored entries keep header, signature and body', (t) => {
    const net = makeNetwork()
    const [a, b] = pair(t, net)
    write(a, net, net.creator, [msg('x'), msg('y')])
    const sent = chain(a, net, net.creator)
    b.ingest(sent, NOW)
    assert.deepEqual(chain(b, net, net.creator), sent)
    assert.deepEqual(b.chainAfter(net.id, net.creator.publicKey, net.creator.publicKey, 1, 10).map((s) => s.entry.header.seq), [2])
  })

  test('a gap is refused', (t) => {
    const net = makeNetwork()
    const [a, b] = pair(t, net)
    write(a, net, net.creator, [msg('1'), msg('2'), msg('3')])
    const [e1, , e3] = chain(a, net, net.creator) as [Entry, Entry, Entry]
    assertRejected(b.ingest([e3], NOW), /^gap: expected seq 1/)
    const r = b.ingest([e1, e3], NOW)
    assert.equal(r.accepted.length, 1)
    assert.match(r.rejected[0]?.reason ?? '', /^gap: expected seq 2/)
    assert.deepEqual(r.rejected[0]?.hash, entryHash(e3.header))
  })

  test('a prev mismatch is refused', (t) => {
    const net = makeNetwork()
    const [a, b] = pair(t, net)
    write(a, net, net.creator, [msg('1')])
    b.ingest(chain(a, net, net.creator), NOW)
    const forkedPrev = signed(net, net.creator, net.creator.publicKey, { seq: 1, hash: new Uint8Array(randomBytes(32)) }, [msg('2')])
    assertRejected(b.ingest(forkedPrev, NOW), /prev mismatch/)
    assert.equal(b.equivocations(net.id).length, 0)
  })

  test('a bad signature is refused and not stored', (t) => {
    const net = makeNetwork()
    const [a, b] = pair(t, net)
    write(a, net, net.creator, [msg('1')])
    const [e] = chain(a, net, net.creator) as [Entry]
    const bad: Entry = { ...e, body: encodeCanonical({ text: '2' }) }
    assertRejected(b.ingest([bad], NOW), /does not match its hash/)
    assert.equal(b.entryCount(net.id), 0)
  })

  test('a membership entry without its body is refused (an app entry is kept without one: see pruning.test.ts)', (t) => {
    const net = makeNetwork()
    const [a, b] = pair(t, net)
    const member = generateIdentity()
    a.ingest(signed(net, member, member.publicKey, undefined, [item('peernet/join', {})]), NOW)
    const { body: _body, ...pruned } = chain(a, net, member)[0] as Entry
    assertRejected(b.ingest([pruned], NOW), /must carry its body/)
  })

  test('entries for an unknown network are refused', (t) => {
    const net = makeNetwork()
    const other = makeNetwork({ creator: net.creator, name: 'elsewhere' })
    const [a, b] = pair(t, net)
    a.addNetwork(other.manifest, [], NOW)
    write(a, other, net.creator, [msg('not for b')])
    assertRejected(b.ingest(chain(a, other, net.creator), NOW), /network this node is not in/)
    assert.ok(!b.hasNetwork(other.id))
  })

  test('a body that is not canonical CBOR is refused', (t) => {
    const net = makeNetwork()
    const [, b] = pair(t, net)
    const e = signed(net, net.creator, net.creator.publicKey, undefined, [msg('x')], () => Uint8Array.of(0xa1, 0x61, 0x74, 0x18, 0x05)) // {t: 5} with a non-shortest int
    assertRejected(b.ingest(e, NOW), /canonical CBOR/)
  })
})

describe('equivocation', () => {
  test('a second entry at the same (author, device, seq) is rejected, kept as proof, and freezes the device', (t) => {
    const net = makeNetwork()
    const [a, b] = pair(t, net)
    write(a, net, net.creator, [msg('1'), msg('2 as everyone saw it')])
    const [e1, e2] = chain(a, net, net.creator) as [Entry, Entry]
    const fork = signed(net, net.creator, net.creator.publicKey, headOf(e1), [msg('2, the other story')])[0] as Entry
    assert.equal(b.ingest([e1, e2], NOW).accepted.length, 2)

    const r = b.ingest([fork], NOW + 7)
    assertRejected(r, /equivocation/)
    assert.deepEqual(r.rejected[0]?.hash, entryHash(fork.header))
    const proofs = b.equivocations(net.id)
    assert.equal(proofs.length, 1)
    const p = proofs[0]
    assert.ok(p !== undefined)
    assert.deepEqual(p.author, net.creator.publicKey)
    assert.deepEqual(p.device, net.creator.publicKey)
    assert.equal(p.seq, 2)
    assert.equal(p.detectedAt, NOW + 7)
    assert.deepEqual(p.first.header, e2.header)
    assert.deepEqual(p.second.header, fork.header)
    assert.deepEqual(p.second.auth, fork.auth)

    // Both halves of the proof verify on their own: anyone can check it.
    assert.deepEqual(entryHash(p.first.header), entryHash(e2.header))

    // The original stays and counts as a duplicate; the device's later entries are refused.
    assert.equal(b.ingest([e2], NOW).duplicates, 1)
    write(a, net, net.creator, [msg('3')])
    const e3 = chain(a, net, net.creator)[2] as Entry
    assertRejected(b.ingest([e3], NOW), /equivocated/)
    assert.equal(b.entryCount(net.id), 2)
  })

  test('an equivocation inside one batch is caught as well, and the proof survives the batch', (t) => {
    const net = makeNetwork()
    const [, b] = pair(t, net)
    const [e1] = signed(net, net.creator, net.creator.publicKey, undefined, [msg('a')]) as [Entry]
    const [f1] = signed(net, net.creator, net.creator.publicKey, undefined, [msg('b')]) as [Entry]
    const r = b.ingest([e1, f1], NOW)
    assert.equal(r.accepted.length, 1)
    assert.match(r.rejected[0]?.reason ?? '', /equivocation/)
    assert.equal(b.equivocations(net.id).length, 1)
  })

  test('an equivocation in the middle of a batch freezes the chain for the rest of it, and after', (t) => {
    const net = makeNetwork()
    const [, b] = pair(t, net)
    const good = signed(net, net.creator, net.creator.publicKey, undefined, [msg('1'), msg('2'), msg('3')])
    const fork = signed(net, net.creator, net.creator.publicKey, headOf(good[0] as Entry), [msg('2, the other story')])[0] as Entry
    const later = signed(net, net.creator, net.creator.publicKey, headOf(good[2] as Entry), [msg('4')])
    // The chain is new to b: its head lives only in the batch when the fork arrives.
    const r = b.ingest([good[0] as Entry, good[1] as Entry, fork, good[2] as Entry, ...later], NOW)
    assert.equal(r.accepted.length, 2)
    assert.deepEqual(r.rejected.map((x) => x.reason.split(':')[0]), ['equivocation', 'this device equivocated; its entries are refused', 'this device equivocated; its entries are refused'])
    assert.equal(b.head(net.id, net.creator.publicKey, net.creator.publicKey)?.seq, 2)
    assert.equal(b.equivocations(net.id).length, 1)
    assertRejected(b.ingest([good[2] as Entry], NOW), /equivocated/)
  })
})

describe('serving stored entries', () => {
  test('chainAfterEncoded gives each entry as the canonical wire form, with or without its body, within the byte budget', (t) => {
    const net = makeNetwork()
    const [a] = pair(t, net)
    write(a, net, net.creator, Array.from({ length: 7 }, (_v, i) => msg(`message ${i} ${'x'.repeat(i * 50)}`)))
    write(a, net, net.creator, [msg('alone')])
    // Bodies can be pruned; the entry is then served without one.
    a.db.prepare('UPDATE entries SET body = NULL WHERE seq = 3').run()
    const concat = (parts: Uint8Array[]): string => Buffer.concat(parts).toString('hex')
    const all = a.chainAfterEncoded(net.id, net.creator.publicKey, net.creator.publicKey, 1, 100, Number.MAX_SAFE_INTEGER)
    const stored = a.chainAfter(net.id, net.creator.publicKey, net.creator.publicKey, 1, 100)
    assert.deepEqual(all.map((e) => e.seq), stored.map((s) => s.entry.header.seq))
    assert.deepEqual(all.map((e) => concat(e.parts)), stored.map((s) => Buffer.from(encodeCanonical(entryValue(s.entry))).toString('hex')))
    assert.deepEqual(all.map((e) => e.byteLength), all.map((e) => Buffer.concat(e.parts).byteLength))
    assert.equal(stored[1]?.entry.body, undefined)
    // The budget cuts before the entry that would overflow it, but never gives nothing.
    const first = all[0]?.byteLength ?? 0
    assert.equal(a.chainAfterEncoded(net.id, net.creator.publicKey, net.creator.publicKey, 1, 100, first + (all[1]?.byteLength ?? 0)).length, 2)
    assert.equal(a.chainAfterEncoded(net.id, net.creator.publicKey, net.creator.publicKey, 1, 100, 1).length, 1)
    assert.equal(a.chainAfterEncoded(net.id, net.creator.publicKey, net.creator.publicKey, 1, 3, Number.MAX_SAFE_INTEGER).length, 3)
  })
})

describe('batches with refusals', () => {
  test('one forged entry in the middle of a batch: the others land, it leaves nothing, its chain stops there', (t) => {
    const net = makeNetwork()
    const [a, b] = pair(t, net)
    const m = generateIdentity()
    const joinAndNotes = signed(net, m, m.publicKey, undefined, [item('peernet/join', {}), msg('m1'), msg('m2'), msg('m3')])
    write(a, net, net.creator, [msg('c1'), msg('c2'), msg('c3'), msg('c4')])
    const creator = chain(a, net, net.creator)
    const forged = { ...(creator[1] as Entry), body: encodeCanonical({ text: 'not what was signed' }) }
    const batch = [creator[0] as Entry, forged, joinAndNotes[0] as Entry, creator[2] as Entry, joinAndNotes[1] as Entry, creator[3] as Entry, joinAndNotes[2] as Entry, joinAndNotes[3] as Entry]
    const r = b.ingest(batch, NOW)
    assert.deepEqual(r.rejected.map((x) => x.reason.split(':')[0]), ['entry body does not match its hash', 'gap', 'gap'])
    assert.equal(r.accepted.length, 5)
    assert.deepEqual(hashes(b, net), [creator[0] as Entry, ...joinAndNotes].map((e) => hex(entryHash(e.header))).sort())
    assert.equal(b.head(net.id, net.creator.publicKey, net.creator.publicKey)?.seq, 1)
    assert.equal(b.head(net.id, m.publicKey, m.publicKey)?.seq, 4)
    assert.deepEqual(chatRead(b, net).map((v) => v.text).sort(), ['c1', 'm1', 'm2', 'm3'])
    // The genuine entry still gets in afterwards, and the chain goes on from it.
    assert.equal(b.ingest(creator.slice(1), NOW).accepted.length, 3)
    assert.equal(b.entryCount(net.id), 8)
  })

  test('an entry the app refuses in the middle of a long batch of several chains: the rest lands', (t) => {
    const net = makeNetwork()
    const [, b] = pair(t, net)
    const m = generateIdentity()
    const mine = signed(net, m, m.publicKey, undefined, [item('peernet/join', {}), ...Array.from({ length: 40 }, (_v, i) => msg(`m${i}`))])
    const creator = signed(net, net.creator, net.creator.publicKey, undefined, Array.from({ length: 40 }, (_v, i) => i === 20 ? msg('x'.repeat(MAX_MESSAGE_CHARS + 1)) : msg(`c${i}`)))
    const batch = mine.flatMap((e, i) => i < creator.length ? [e, creator[i] as Entry] : [e])
    const r = b.ingest(batch, NOW)
    assert.equal(r.accepted.length, 41 + 20)
    assert.equal(r.rejected.length, 20)
    assert.match(r.rejected[0]?.reason ?? '', /chat\/message/)
    assert.equal(b.head(net.id, net.creator.publicKey, net.creator.publicKey)?.seq, 20)
    assert.equal(b.head(net.id, m.publicKey, m.publicKey)?.seq, 41)
    assert.equal(chatRead(b, net).length, 60)
  })
})

describe('membership checks', () => {
  test('a non-member author is refused', (t) => {
    const net = makeNetwork({ policy: 'invite' })
    const [a, b] = pair(t, net)
    const stranger = generateIdentity()
    const entries = signed(net, stranger, stranger.publicKey, undefined, [msg('let me in')])
    assertRejected(a.ingest(entries, NOW), /not a member/)
    assertRejected(b.ingest(entries, NOW), /not a member/)
    // In an open network too, until the author joins.
    const open = makeNetwork()
    const [c] = pair(t, open)
    assertRejected(c.ingest(signed(open, stranger, stranger.publicKey, undefined, [msg('hi')]), NOW), /not a member/)
  })

  test('a join with the admin\'s invite is accepted; without one, or with a forged one, it is refused', (t) => {
    const net = makeNetwork({ policy: 'invite' })
    const [a, b] = pair(t, net)
    const m = generateIdentity()
    write(a, net, m, [item('peernet/join', joinBody(net, net.creator)), msg('in')])
    assert.equal(b.ingest(chain(a, net, m), NOW).accepted.length, 2)
    assert.equal(b.role(net.id, m.publicKey), 'member')

    const x = generateIdentity()
    assertRejected(a.ingest(signed(net, x, x.publicKey, undefined, [item('peernet/join', {})]), NOW), /join refused: .*invite-only/)
    // Self-issued by a non-admin.
    assertRejected(a.ingest(signed(net, x, x.publicKey, undefined, [item('peernet/join', joinBody(net, x))]), NOW), /join refused: .*not issued by an admin/)
    // The admin's grant re-pointed at admin role: the signature breaks.
    const body = joinBody(net, net.creator) as { invite: Record<string, CanonicalValue> }
    const forged = { invite: { ...body.invite, role: 'admin' } }
    assertRejected(a.ingest(signed(net, x, x.publicKey, undefined, [item('peernet/join', forged)]), NOW), /join refused: .*forged or damaged/)
    assert.ok(!a.isMember(net.id, x.publicKey))
  })

  test('a removed member\'s later entries are refused, earlier ones kept — in either arrival order', (t) => {
    const net = makeNetwork()
    const [a, b] = pair(t, net)
    const m = generateIdentity()
    write(a, net, m, [item('peernet/join', {}), msg('before 1'), msg('before 2')])
    write(a, net, net.creator, [item('peernet/remove', { member: m.publicKey, heads: [{ device: m.publicKey, seq: 3 }] })])
    assert.ok(!a.isMember(net.id, m.publicKey))
    const late = signed(net, m, m.publicKey, a.head(net.id, m.publicKey, m.publicKey), [msg('after')])
    assertRejected(a.ingest(late, NOW), /removed/)
    assert.deepEqual(chatRead(a, net).map((x) => x.text), ['before 1', 'before 2'])

    // b hears of the removal first, then gets m's chain: the same outcome.
    assert.equal(b.ingest(chain(a, net, net.creator), NOW).accepted.length, 1)
    const r = b.ingest([...chain(a, net, m), ...late], NOW)
    assert.equal(r.accepted.length, 3)
    assert.equal(r.rejected.length, 1)
    assert.match(r.rejected[0]?.reason ?? '', /removed/)
    assert.deepEqual(hashes(b, net), hashes(a, net))
  })

  test('only admins may remove or change roles; a member\'s attempt is refused', (t) => {
    const net = makeNetwork()
    const [a] = pair(t, net)
    const [m, n] = [generateIdentity(), generateIdentity()]
    write(a, net, m, [item('peernet/join', {})])
    write(a, net, n, [item('peernet/join', {})])
    assertRejected(a.append(m, m.publicKey, net.id, [item('peernet/remove', { member: n.publicKey })], NOW), /peernet\/remove refused: only admins/)
    assertRejected(a.append(m, m.publicKey, net.id, [item('peernet/role', { member: m.publicKey, role: 'admin' })], NOW), /peernet\/role refused/)
    write(a, net, net.creator, [item('peernet/role', { member: m.publicKey, role: 'admin' })])
    assert.equal(a.role(net.id, m.publicKey), 'admin')
    write(a, net, m, [item('peernet/remove', { member: n.publicKey, heads: [] })])
    assert.ok(!a.isMember(net.id, n.publicKey))
  })

  test('a member who left may no longer write, until joining again', (t) => {
    const net = makeNetwork()
    const [a] = pair(t, net)
    const m = generateIdentity()
    write(a, net, m, [item('peernet/join', {}), item('peernet/leave', {})])
    assertRejected(a.append(m, m.publicKey, net.id, [msg('still here?')], NOW), /not a member/)
    write(a, net, m, [item('peernet/join', {}), msg('back')])
  })

  test('a join and a leave of one chain in the same millisecond apply in chain order', (t) => {
    const net = makeNetwork()
    const [a] = pair(t, net)
    // Find an account whose leave hashes below its join (one try in two).
    let entries: Entry[]
    do {
      const m = generateIdentity()
      entries = signed(net, m, m.publicKey, undefined, [{ type: 'peernet/join', body: {}, ts: 777 }, { type: 'peernet/leave', body: {}, ts: 777 }])
    } while (Buffer.compare(entryHash((entries[1] as Entry).header), entryHash((entries[0] as Entry).header)) > 0)
    const r = a.ingest(entries, NOW)
    assert.deepEqual(r.rejected.map((x) => x.reason), [])
    assert.ok(!a.isMember(net.id, (entries[0] as Entry).header.author))
  })

  test('unknown peernet types and another app\'s types are refused', (t) => {
    const net = makeNetwork()
    const [a] = pair(t, net)
    assertRejected(a.append(net.creator, net.creator.publicKey, net.id, [item('peernet/shout', {})], NOW), /unknown entry type/)
    assertRejected(a.append(net.creator, net.creator.publicKey, net.id, [item('social/post', { text: 'x' })], NOW), /does not belong/)
    assertRejected(a.append(net.creator, net.creator.publicKey, net.id, [item('chat/shout', { text: 'x' })], NOW), /does not belong/)
  })
})

describe('devices', () => {
  function setup (t: TestContext): { net: TestNetwork, a: LogStore, b: LogStore, acc: Identity, dev: Identity } {
    const net = makeNetwork()
    const [a, b] = pair(t, net)
    const acc = generateIdentity()
    const dev = generateIdentity()
    write(a, net, acc, [item('peernet/join', {})])
    return { net, a, b, acc, dev }
  }

  test('a delegated device opening its chain with its delegation is accepted, here and there', (t) => {
    const { net, a, b, acc, dev } = setup(t)
    write(a, net, acc, [item('peernet/device', delegationValue(delegate(acc, dev.publicKey, 1))), msg('from my phone')], dev)
    const r = b.ingest([...chain(a, net, acc), ...chain(a, net, acc, dev)], NOW)
    assert.equal(r.accepted.length, 3)
    const view = chatRead(b, net)
    assert.equal(view.length, 1)
    assert.equal(view[0]?.author, hex(acc.publicKey))
  })

  test('a device without a delegation, or with one for another device or account, is refused', (t) => {
    const { net, a, acc, dev } = setup(t)
    assertRejected(a.append(dev, acc.publicKey, net.id, [msg('sneaky')], NOW), /must open its chain with its delegation/)
    assertRejected(a.append(dev, acc.publicKey, net.id, [item('peernet/device', delegationValue(delegate(acc, generateIdentity().publicKey, 1)))], NOW), /another account or device/)
    const other = generateIdentity()
    assertRejected(a.append(dev, acc.publicKey, net.id, [item('peernet/device', delegationValue(delegate(other, dev.publicKey, 1)))], NOW), /another account or device/)
    // A delegation whose signature is not the account's.
    const d = delegate(acc, dev.publicKey, 1)
    assertRejected(a.append(dev, acc.publicKey, net.id, [item('peernet/device', delegationValue({ ...d, created: 2 }))], NOW), /does not verify/)
    // The account key itself needs none.
    assertRejected(a.append(acc, acc.publicKey, net.id, [item('peernet/device', delegationValue(d))], NOW), /needs no delegation/)
  })

  test('after a revocation, the device\'s new entries are refused; earlier ones stay', (t) => {
    const { net, a, b, acc, dev } = setup(t)
    write(a, net, acc, [item('peernet/device', delegationValue(delegate(acc, dev.publicKey, 1))), msg('ok 1')], dev)
    write(a, net, acc, [item('peernet/revoke', revocationValue(revoke(acc, dev.publicKey, net.id, 2, 2)))])
    const stolen = signed(net, dev, acc.publicKey, a.head(net.id, acc.publicKey, dev.publicKey), [msg('thief')])
    assertRejected(a.ingest(stolen, NOW), /revoked/)
    assert.deepEqual(chatRead(a, net).map((m) => m.text), ['ok 1'])
    // The other store: the join, the device's chain, then the revocation (for the other
    // order see the next test) and the thief's entry.
    const [joinEntry, revokeEntry] = chain(a, net, acc) as [Entry, Entry]
    const r = b.ingest([joinEntry, ...chain(a, net, acc, dev), revokeEntry, ...stolen], NOW)
    assert.equal(r.accepted.length, 4)
    assert.equal(r.rejected.length, 1)
    assert.match(r.rejected[0]?.reason ?? '', /revoked/)
    assert.deepEqual(hashes(b, net), hashes(a, net))
  })

  test('a revocation must be signed by the account and name the right network', (t) => {
    const { net, a, acc, dev } = setup(t)
    write(a, net, acc, [item('peernet/device', delegationValue(delegate(acc, dev.publicKey, 1)))], dev)
    const byDevice = { ...revoke(dev, dev.publicKey, net.id, 0, 2), account: acc.publicKey }
    assertRejected(a.append(acc, acc.publicKey, net.id, [item('peernet/revoke', revocationValue(byDevice))], NOW), /does not verify/)
    assertRejected(a.append(acc, acc.publicKey, net.id, [item('peernet/revoke', revocationValue(revoke(acc, dev.publicKey, new Uint8Array(32), 0, 2)))], NOW), /another account or network/)
    const other = generateIdentity()
    assertRejected(a.append(acc, acc.publicKey, net.id, [item('peernet/revoke', revocationValue(revoke(other, dev.publicKey, net.id, 0, 2)))], NOW), /another account or network/)
    write(a, net, acc, [msg('device still fine')], dev)
  })

  test('a device\'s entries arriving after its revocation are accepted up to lastSeq', (t) => {
    const { net, a, b, acc, dev } = setup(t)
    write(a, net, acc, [item('peernet/device', delegationValue(delegate(acc, dev.publicKey, 1))), msg('ok 1')], dev)
    write(a, net, acc, [item('peernet/revoke', revocationValue(revoke(acc, dev.publicKey, net.id, 2, 2)))])
    assert.equal(b.ingest(chain(a, net, acc), NOW).accepted.length, 2) // join, revoke
    const r = b.ingest(chain(a, net, acc, dev), NOW)
    assert.deepEqual(r.rejected.map((x) => x.reason), [])
    assert.deepEqual(hashes(b, net), hashes(a, net))
  })

  test('entries past lastSeq already stored stop counting, in the app\'s state too', (t) => {
    const { net, a, acc, dev } = setup(t)
    write(a, net, acc, [item('peernet/device', delegationValue(delegate(acc, dev.publicKey, 1))), msg('mine'), msg('the thief\'s')], dev)
    write(a, net, acc, [item('peernet/revoke', revocationValue(revoke(acc, dev.publicKey, net.id, 2, 2)))])
    assert.equal(chain(a, net, acc, dev).length, 2)
    assert.deepEqual(chatRead(a, net).map((m) => m.text), ['mine'])
  })

  test('an app that can only start over is reset and replayed in canonical order when entries stop counting', (t) => {
    // Its state depends on order (the last note wins), so it declares reset, not forget.
    const notes = defineApp({
      name: 'notes',
      types: { set: { decode: (v) => v as { text: string }, reduce: (db, e) => { db.prepare('INSERT INTO notes_last (net, text) VALUES (?, ?) ON CONFLICT(net) DO UPDATE SET text = excluded.text').run(e.net, (e.body as { text: string }).text) } } },
      migrations: [{ version: 1, description: 'last note', sql: 'CREATE TABLE notes_last (net BLOB PRIMARY KEY, text TEXT NOT NULL) STRICT' }],
      queries: {},
      commands: {},
      reset: (db, net) => { db.prepare('DELETE FROM notes_last WHERE net = ?').run(net) }
    })
    const net = makeNetwork({ app: 'notes' })
    const [a] = pair(t, net, null, [notes])
    const dev = generateIdentity()
    const last = (): unknown => (a.db.prepare('SELECT text FROM notes_last WHERE net = ?').get(net.id) as { text: string } | undefined)?.text
    write(a, net, net.creator, [item('notes/set', { text: 'from the account' })])
    write(a, net, net.creator, [item('peernet/device', delegationValue(delegate(net.creator, dev.publicKey, 1))), item('notes/set', { text: 'from the device' }), item('notes/set', { text: 'by the thief' })], dev)
    assert.equal(last(), 'by the thief')
    write(a, net, net.creator, [item('peernet/revoke', revocationValue(revoke(net.creator, dev.publicKey, net.id, 2, 2)))])
    assert.equal(last(), 'from the device')
  })

  test('revoking a device undoes the membership changes it made past lastSeq', (t) => {
    const net = makeNetwork()
    const [a] = pair(t, net)
    const dev = generateIdentity()
    const victim = generateIdentity()
    write(a, net, victim, [item('peernet/join', {})])
    write(a, net, net.creator, [item('peernet/device', delegationValue(delegate(net.creator, dev.publicKey, 1)))], dev)
    write(a, net, net.creator, [item('peernet/remove', { member: victim.publicKey, heads: [] })], dev) // the stolen device strikes
    write(a, net, net.creator, [item('peernet/revoke', revocationValue(revoke(net.creator, dev.publicKey, net.id, 1, 2)))])
    assert.equal(chain(a, net, net.creator, dev).length, 1)
    assert.ok(a.isMember(net.id, victim.publicKey), 'the victim is still removed')
    write(a, net, victim, [msg('I am back')])
  })

  test('an account whose stolen device made it leave can still revoke that device', (t) => {
    const { net, a, acc, dev } = setup(t)
    write(a, net, acc, [item('peernet/device', delegationValue(delegate(acc, dev.publicKey, 1))), item('peernet/leave', {})], dev)
    assert.ok(!a.isMember(net.id, acc.publicKey))
    const r = a.append(acc, acc.publicKey, net.id, [item('peernet/revoke', revocationValue(revoke(acc, dev.publicKey, net.id, 1, 2)))], NOW)
    assert.deepEqual(r.rejected.map((x) => x.reason), [])
    assert.ok(a.isMember(net.id, acc.publicKey))
  })

  test('a stranger\'s device cannot write into an invite-only network', (t) => {
    const net = makeNetwork({ policy: 'invite' })
    const [a] = pair(t, net)
    const stranger = generateIdentity()
    const dev = generateIdentity()
    const r = a.ingest(signed(net, dev, stranger.publicKey, undefined, [item('peernet/device', delegationValue(delegate(stranger, dev.publicKey, 1)))]), NOW)
    assertRejected(r, /not a member/)
    assert.equal(a.entryCount(net.id), 0)
  })

  test('a delegation entry with a null body is rejected, not thrown, and the rest of the batch stands', (t) => {
    const net = makeNetwork()
    const [a] = pair(t, net)
    const good = signed(net, net.creator, net.creator.publicKey, undefined, [msg('fine')])
    const dev = generateIdentity()
    const bad = signed(net, dev, generateIdentity().publicKey, undefined, [item('peernet/device', null)])
    let r: IngestResult | undefined
    try { r = a.ingest([...good, ...bad], NOW) } catch (err) { assert.fail(`ingest threw ${(err as Error).name}: ${(err as Error).message}`) }
    assert.equal(r.accepted.length, 1)
    assert.equal(r.rejected.length, 1)
  })

  test('a delegation without a signature is rejected, not thrown', (t) => {
    const net = makeNetwork()
    const [a] = pair(t, net)
    const acc = generateIdentity()
    const dev = generateIdentity()
    const { sig: _sig, ...unsigned } = delegate(acc, dev.publicKey, 1)
    let r: IngestResult | undefined
    try { r = a.ingest(signed(net, dev, acc.publicKey, undefined, [item('peernet/device', unsigned)]), NOW) } catch (err) { assert.fail(`ingest threw ${(err as Error).name}: ${(err as Error).message}`) }
    assertRejected(r, /delegation/)
  })
})

describe('the chat app\'s rules', () => {
  test('a message over the size limit or of the wrong shape is refused by the app', (t) => {
    const net = makeNetwork()
    const [a, b] = pair(t, net)
    const bad: CanonicalValue[] = [
      { text: 'x'.repeat(MAX_MESSAGE_CHARS + 1) }, { text: '' }, { txt: 'hi' }, { text: 5 }, 'hi', null, [{ text: 'hi' }]
    ]
    for (const body of bad) {
      const entries = signed(net, net.creator, net.creator.publicKey, undefined, [item('chat/message', body)])
      assertRejected(a.ingest(entries, NOW), /invalid chat\/message body/)
      assertRejected(b.ingest(entries, NOW), /invalid chat\/message body/)
    }
    write(a, net, net.creator, [msg('x'.repeat(MAX_MESSAGE_CHARS))])
    assert.equal(chatRead(a, net)[0]?.text.length, MAX_MESSAGE_CHARS)
  })

  test('the chat send command refuses bad text before appending', async () => {
    const calls: unknown[] = []
    const ctx = { db: undefined as never, account: new Uint8Array(32), networks: [], deleteEntries: async () => { await Promise.reject(new Error('unreachable')) }, append: async (...args: unknown[]) => { calls.push(args); return await Promise.reject(new Error('unreachable')) } }
    for (const text of ['', 'x'.repeat(MAX_MESSAGE_CHARS + 1), 5, undefined]) {
      await assert.rejects(chatApp.commands.send?.(ctx, new Uint8Array(32), { text }) ?? Promise.resolve(), isNamed('InvalidRecordError'))
    }
    assert.equal(calls.length, 0)
  })
})

describe('private networks', () => {
  test('bodies are sealed: unreadable without the key, readable and ingestible with it', (t) => {
    const net = makeNetwork({ private: true })
    const key = new Uint8Array(randomBytes(32))
    const [a, b] = pair(t, net, key)
    write(a, net, net.creator, [msg('secret 1'), msg('secret 2')])
    const entries = chain(a, net, net.creator)
    for (const e of entries) {
      const body = e.body as Uint8Array
      assert.ok(!Buffer.from(body).includes(Buffer.from('secret')))
      assert.throws(() => openBody(() => new Uint8Array(randomBytes(32)), net.id, body), isNamed('InvalidRecordError'))
      assert.throws(() => openBody(() => key, makeNetwork().id, body), isNamed('InvalidRecordError'))
      assert.deepEqual(decodeCanonical(openBody(() => key, net.id, body)), { text: e.header.seq === 1 ? 'secret 1' : 'secret 2' })
    }
    const r = b.ingest(entries, NOW)
    assert.equal(r.accepted.length, 2)
    assert.deepEqual(chatRead(b, net).map((m) => m.text), ['secret 1', 'secret 2'])
    assert.deepEqual(b.plainBody(b.network(net.id), 'chat/message', entries[0]?.body as Uint8Array), { text: 'secret 1' })
  })

  test('a node without the key refuses the entries with a reason (it cannot check them)', (t) => {
    const net = makeNetwork({ private: true })
    const key = new Uint8Array(randomBytes(32))
    const [a, c] = stores(t) as [LogStore, LogStore]
    a.addNetwork(net.manifest, ringOf(key), NOW)
    c.addNetwork(net.manifest, [], NOW)
    write(a, net, net.creator, [msg('secret')])
    assertRejected(c.ingest(chain(a, net, net.creator), NOW), /network key this node does not hold/)
    assert.throws(() => c.append(net.creator, net.creator.publicKey, net.id, [msg('x')], NOW), isNamed('InvalidRecordError'))
  })

  test('a body sealed with another key is refused', (t) => {
    const net = makeNetwork({ private: true })
    const key = new Uint8Array(randomBytes(32))
    const [a] = pair(t, net, key)
    const wrong = new Uint8Array(randomBytes(32))
    const e = signed(net, net.creator, net.creator.publicKey, undefined, [msg('x')], (v) => sealBody(wrong, net.id, encodeCanonical(v)))
    assertRejected(a.ingest(e, NOW), /network key this node does not hold/)
    // Naming a held key does not help: the id is bound as associated data.
    const forged = signed(net, net.creator, net.creator.publicKey, undefined, [msg('x')], (v) => {
      const sealed = sealBody(wrong, net.id, encodeCanonical(v))
      sealed.set(keyIdOf(key), 0)
      return sealed
    })
    assertRejected(a.ingest(forged, NOW), /does not open/)
  })

  test('sealing is randomised and round-trips any bytes', () => {
    const key = new Uint8Array(randomBytes(32))
    const net = makeNetwork().id
    for (const n of [0, 1, 100, 65_000]) {
      const plain = new Uint8Array(randomBytes(n))
      const s1 = sealBody(key, net, plain)
      const s2 = sealBody(key, net, plain)
      assert.notDeepEqual(s1, s2)
      assert.equal(s1.byteLength, n + 36)
      assert.deepEqual(openBody(() => key, net, s1), plain)
      const damaged = new Uint8Array(s1)
      damaged[damaged.byteLength - 1] = (damaged[damaged.byteLength - 1] as number) ^ 1
      assert.throws(() => openBody(() => key, net, damaged), isNamed('InvalidRecordError'))
    }
    assert.throws(() => openBody(() => key, net, new Uint8Array(35)), isNamed('InvalidRecordError'))
  })
})

describe('atomic batches', () => {
  /** A chat-like app whose reducer fails on the text 'boom' (with a plain Error) or 'bad' (with InvalidRecordError). */
  const boomApp = defineApp({
    name: 'boom',
    types: {
      note: {
        decode: (v) => v as { text: string },
        reduce: (db, e) => {
          const text = (e.body as { text: string }).text
          if (text === 'boom') throw new Error('reducer crashed')
          if (text === 'bad') throw new InvalidRecordError('reducer refused')
          db.prepare('INSERT INTO boom_notes (hash, text) VALUES (?, ?)').run(e.hash, text)
        }
      }
    },
    migrations: [{ version: 1, description: 'notes', sql: 'CREATE TABLE boom_notes (hash BLOB PRIMARY KEY, text TEXT NOT NULL) STRICT' }],
    queries: {},
    commands: {}
  })
  const note = (text: string): { type: string, body: CanonicalValue, ts: number } => item('boom/note', { text })
  const rows = (s: LogStore, table: string): number => (s.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n

  test('a reducer that throws rolls back the whole batch: no partial rows', (t) => {
    const net = makeNetwork({ app: 'boom' })
    const [, b] = pair(t, net, null, [boomApp])
    const m = generateIdentity()
    const entries = [
      ...signed(net, m, m.publicKey, undefined, [item('peernet/join', {})]),
      ...signed(net, net.creator, net.creator.publicKey, undefined, [note('one'), note('two'), note('boom'), note('four')])
    ]
    assert.throws(() => b.ingest(entries, NOW), /reducer crashed/)
    for (const table of ['entries', 'chains', 'equivocations', 'boom_notes']) assert.equal(rows(b, table), 0, `${table} has rows`)
    assert.equal(b.members(net.id).length, 1)
    // The store is still usable afterwards.
    const fine = b.ingest(entries.slice(0, 3), NOW)
    assert.equal(fine.accepted.length, 3)
    assert.equal(rows(b, 'boom_notes'), 2)
    assert.ok(b.isMember(net.id, m.publicKey))
  })

  test('a refusal after an entry began writing redoes the batch entry by entry: the rest lands, the refused one leaves nothing', (t) => {
    const net = makeNetwork({ app: 'boom' })
    const [, b] = pair(t, net, null, [boomApp])
    const m = generateIdentity()
    const entries = [
      ...signed(net, m, m.publicKey, undefined, [item('peernet/join', {}), note('m1')]),
      ...signed(net, net.creator, net.creator.publicKey, undefined, [note('one'), note('two'), note('bad'), note('four')])
    ]
    const more = signed(net, m, m.publicKey, headOf(entries[1] as Entry), [note('m2'), note('m3')])
    const r = b.ingest([...entries, ...more], NOW)
    assert.equal(r.accepted.length, 6)
    assert.deepEqual(r.rejected.map((x) => x.reason.split(':')[0]), ['reducer refused', 'gap'])
    assert.equal(rows(b, 'entries'), 6)
    assert.equal(rows(b, 'boom_notes'), 5)
    assert.equal(b.head(net.id, net.creator.publicKey, net.creator.publicKey)?.seq, 2)
    assert.equal(b.head(net.id, m.publicKey, m.publicKey)?.seq, 4)
    assert.ok(b.isMember(net.id, m.publicKey))
  })

  test('an entry its reducer refuses is not stored', (t) => {
    const net = makeNetwork({ app: 'boom' })
    const [, b] = pair(t, net, null, [boomApp])
    const entries = signed(net, net.creator, net.creator.publicKey, undefined, [note('one'), note('bad')])
    const r = b.ingest(entries, NOW)
    assert.equal(r.accepted.length, 1)
    assert.equal(r.rejected.length, 1)
    assert.equal(rows(b, 'entries'), 1, 'the refused entry was stored')
    assert.equal(b.head(net.id, net.creator.publicKey, net.creator.publicKey)?.seq, 1)
  })
})

describe('the same entries in any order give the same store', () => {
  test('joins racing for the last use of an invite', (t) => {
    const net = makeNetwork({ policy: 'invite' })
    const [src, a, b] = stores(t, 3) as [LogStore, LogStore, LogStore]
    for (const s of [src, a, b]) s.addNetwork(net.manifest, [], NOW)
    const body = joinBody(net, net.creator, { uses: 1 })
    const [p, q] = [generateIdentity(), generateIdentity()]
    // Written independently (each writer's node had not seen the other's join).
    const early = signed(net, p, p.publicKey, undefined, [{ type: 'peernet/join', body, ts: 100 }, { type: 'chat/message', body: { text: 'p' }, ts: 101 }])
    const late = signed(net, q, q.publicKey, undefined, [{ type: 'peernet/join', body, ts: 200 }, { type: 'chat/message', body: { text: 'q' }, ts: 201 }])
    a.ingest(early, NOW); a.ingest(late, NOW)
    b.ingest(late, NOW); b.ingest(early, NOW)
    assert.deepEqual(a.members(net.id), b.members(net.id))
    assert.deepEqual(chatRead(b, net), chatRead(a, net))
    assert.deepEqual(hashes(b, net), hashes(a, net))
  })

  test('a member\'s entries past the removal heads', (t) => {
    const net = makeNetwork()
    const [a, b] = pair(t, net)
    const m = generateIdentity()
    write(a, net, m, [item('peernet/join', {}), msg('kept'), msg('past the heads')])
    write(a, net, net.creator, [item('peernet/remove', { member: m.publicKey, heads: [{ device: m.publicKey, seq: 2 }] })])
    // a got m's chain before the removal; b gets the removal first.
    b.ingest(chain(a, net, net.creator), NOW)
    b.ingest(chain(a, net, m), NOW)
    assert.deepEqual(chatRead(a, net), chatRead(b, net))
    assert.deepEqual(hashes(a, net), hashes(b, net))
  })
})

describe('append', () => {
  test('append of no items does nothing', (t) => {
    const net = makeNetwork()
    const [a] = pair(t, net)
    let r: IngestResult | undefined
    try { r = a.append(net.creator, net.creator.publicKey, net.id, [], NOW) } catch (err) { assert.fail(`append threw ${(err as Error).name}: ${(err as Error).message}`) }
    assert.deepEqual(r, { accepted: [], duplicates: 0, rejected: [] })
  })

  test('append continues the chain from the stored head, one signature per call', (t) => {
    const net = makeNetwork()
    const [a] = pair(t, net)
    write(a, net, net.creator, [msg('1')])
    write(a, net, net.creator, [msg('2'), msg('3'), msg('4')])
    const entries = chain(a, net, net.creator)
    assert.deepEqual(entries.map((e) => e.header.seq), [1, 2, 3, 4])
    assert.ok('sig' in (entries[0] as Entry).auth)
    assert.ok(entries.slice(1).every((e) => 'batch' in e.auth && e.auth.batch.count === 3))
    assert.deepEqual(a.log(net.id, 2).map((s) => s.entry.header.seq), [4, 3])
  })
})
