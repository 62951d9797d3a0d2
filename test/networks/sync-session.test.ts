// SyncSession, the sans-IO core of /peernet/sync/1.0.0, driven in memory: two cores over
// two LogStores, with a tiny loop standing in for the libp2p shell (sync-service.ts).
// Also the framing of sync messages.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import fc from 'fast-check'
import { generateIdentity } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { encodeCanonical } from '../../src/core/encoding.ts'
import type { CanonicalValue } from '../../src/core/encoding.ts'
import { entryFrom, entryValue } from '../../src/networks/entry.ts'
import type { LogStore } from '../../src/networks/log-store.ts'
import type { AppEntry } from '../../src/networks/app.ts'
import { createInvite, grantValue } from '../../src/networks/invite.ts'
import { delegate, delegationValue } from '../../src/networks/account.ts'
import { FrameReader, MAX_FRAME_BYTES, SYNC_BATCH, decodeMessage, encodeEntriesFrame, encodeMessage, readEntriesFrame } from '../../src/networks/sync/messages.ts'
import { buildHeaders, encodeEntry, headerValue, signHeaders } from '../../src/networks/entry.ts'
import type { Entry } from '../../src/networks/entry.ts'
import type { ChainPosition, SyncMessage } from '../../src/networks/sync/messages.ts'
import { SyncSession, headsDigest, networkTag, peerFaults } from '../../src/networks/sync/session.ts'
import type { SyncAction } from '../../src/networks/sync/session.ts'
import { TempDirs, hex, isNamed, makeNetwork, sortedIdentities } from './fixtures.ts'
import type { TestNetwork } from './fixtures.ts'

const NOW = 9_000

// ---- the in-memory shell --------------------------------------------------------------

interface Node {
  name: string
  peerId: string
  logs: LogStore
  session: SyncSession
  reader: FrameReader
  /** Frames on the way to this node, in order (a stream keeps order). */
  inbox: Uint8Array[]
  rejected: string[]
}

class Pair {
  readonly a: Node
  readonly b: Node
  /** Messages sent, by sender and type. */
  readonly sent: Array<{ from: string, message: SyncMessage }> = []

  constructor (a: LogStore, b: LogStore) {
    const ida = generateIdentity().peerId
    const idb = generateIdentity().peerId
    this.a = this.#node('a', ida, idb, a)
    this.b = this.#node('b', idb, ida, b)
  }

  #node (name: string, self: string, peer: string, logs: LogStore): Node {
    const local = {
      networks: () => logs.memberNetworkIds(),
      heads: (net: Uint8Array) => logs.heads(net).map((h) => ({ author: h.author, device: h.device, seq: h.seq }))
    }
    return { name, peerId: self, logs, session: new SyncSession(local, self, peer), reader: new FrameReader(), inbox: [], rejected: [] }
  }

  other (n: Node): Node { return n === this.a ? this.b : this.a }

  start (): void {
    this.run(this.a, this.a.session.start())
    this.run(this.b, this.b.session.start())
  }

  /** Carries out a core's actions the way sync-service.ts does. */
  run (n: Node, actions: SyncAction[]): void {
    const pending = [...actions]
    while (pending.length > 0) {
      const a = pending.shift() as SyncAction
      if (a.do === 'send') this.send(n, a.message)
      else if (a.do === 'serve') {
        let after = a.after
        for (;;) {
          const batch = n.logs.chainAfter(a.net, a.author, a.device, after, SYNC_BATCH)
          if (batch.length === 0) break
          this.send(n, { t: 'entries', entries: batch.map((s) => entryValue(s.entry)) })
          after = batch[batch.length - 1]?.entry.header.seq ?? after
          if (batch.length < SYNC_BATCH) break
        }
      } else if (a.do === 'offer-peers' || a.do === 'dial-peers') {
        // Peer exchange needs other connections; a pair has none.
      } else {
        const entries = a.entries.map((v) => entryFrom(v))
        const result = n.logs.ingest(entries, NOW)
        for (const r of result.rejected) if (!r.reason.startsWith('gap:')) n.rejected.push(r.reason)
        pending.push(...n.session.ingested({ acceptedNets: result.accepted.map((e) => e.net), rejected: result.rejected }))
      }
    }
  }

  send (from: Node, message: SyncMessage): void {
    this.sent.push({ from: from.name, message })
    this.other(from).inbox.push(encodeMessage(message))
  }

  /** Delivers one frame to `to`; false if its inbox is empty. */
  deliver (to: Node): boolean {
    const frame = to.inbox.shift()
    if (frame === undefined) return false
    // Split every frame in two chunks, as a stream may.
    const cut = frame.byteLength > 1 ? 1 + (frame.byteLength * 7 % (frame.byteLength - 1)) : 0
    for (const f of [...to.reader.push(frame.subarray(0, cut)), ...to.reader.push(frame.subarray(cut))]) {
      this.run(to, to.session.receive(decodeMessage(f)))
    }
    return true
  }

  /** Delivers until both inboxes are empty; `choose` picks the direction at each step. */
  quiesce (choose: (step: number) => boolean = () => true, onStep?: (step: number) => void): number {
    let step = 0
    for (;;) {
      onStep?.(step)
      if (this.a.inbox.length === 0 && this.b.inbox.length === 0) return step
      const first = choose(step) ? this.a : this.b
      if (!this.deliver(first)) this.deliver(this.other(first))
      step++
      assert.ok(step < 100_000, 'sync did not quiesce')
    }
  }

  /** A local append, pushed as the shell does on a local entries event. */
  appendLocal (n: Node, net: TestNetwork, who: Identity, items: Array<{ type: string, body: CanonicalValue, ts: number }>, device: Identity = who): AppEntry[] {
    const r = n.logs.append(device, who.publicKey, net.id, items, NOW)
    assert.deepEqual(r.rejected, [])
    const values = r.accepted.map((e) => n.logs.chainAfter(e.net, e.author, e.device, e.seq - 1, 1)[0]).filter((s) => s !== undefined).map((s) => entryValue(s.entry))
    this.run(n, n.session.shares(net.id) ? n.session.appended(net.id, values) : n.session.networksChanged())
    return r.accepted
  }

  count (t: SyncMessage['t']): number {
    return this.sent.filter((s) => s.message.t === t).length
  }
}

function stores (t: TestContext | undefined, dirs: TempDirs, n: number): LogStore[] {
  if (t !== undefined) t.after(() => { dirs.cleanup() })
  return Array.from({ length: n }, () => dirs.logStore())
}

function hashes (store: LogStore, net: Uint8Array): string[] {
  return store.log(net, 1_000_000).map((s) => hex(s.hash)).sort()
}

function rowsOfNet (store: LogStore, net: Uint8Array): number {
  return (store.db.prepare('SELECT COUNT(*) AS n FROM entries WHERE net = ?').get(net) as { n: number }).n
}

let ts = 20_000
const msg = (text: string): { type: string, body: CanonicalValue, ts: number } => ({ type: 'chat/message', body: { text }, ts: ++ts })
const join = (body: CanonicalValue = {}): { type: string, body: CanonicalValue, ts: number } => ({ type: 'peernet/join', body, ts: ++ts })

/** Every message a node sent that names or carries `net`. */
function mentions (pair: Pair, from: string, net: Uint8Array): number {
  const k = hex(net)
  return pair.sent.filter((s) => s.from === from).filter(({ message: m }) => {
    if (m.t === 'heads' || m.t === 'want' || m.t === 'peers') return hex(m.net) === k
    if (m.t === 'entries') return m.entries.some((v) => hex(entryFrom(v).header.net) === k)
    return m.tags.some((tag) => hex(tag) === k)
  }).length
}

// ---- convergence ----------------------------------------------------------------------

describe('two sessions converge', () => {
  interface Op { side: 'a' | 'b', author: number, count: number, batch: boolean, at: number }
  const opArb = fc.record({
    side: fc.constantFrom<'a' | 'b'>('a', 'b'),
    author: fc.nat({ max: 2 }),
    count: fc.integer({ min: 1, max: 4 }),
    batch: fc.boolean(),
    at: fc.nat({ max: 60 })
  })

  // A late join is left out here: see 'a network the peer joins after our last hello'.
  test('property: random appends on both sides, before and during the session; the shared network ends identical and nothing else crosses', () => {
    fc.assert(fc.property(
      fc.array(opArb, { maxLength: 10 }),
      fc.array(opArb, { maxLength: 6 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 64 }),
      (before, during, directions) => {
        const dirs = new TempDirs()
        try {
          const [sa, sb] = stores(undefined, dirs, 2) as [LogStore, LogStore]
          const shared = makeNetwork({ name: 'shared' })
          const onlyA = makeNetwork({ creator: shared.creator, name: 'only a' })
          const onlyB = makeNetwork({ name: 'only b' })
          sa.addNetwork(shared.manifest, [], NOW)
          sa.addNetwork(onlyA.manifest, [], NOW)
          sb.addNetwork(onlyB.manifest, [], NOW)
          sb.addNetwork(shared.manifest, [], NOW)
          const pair = new Pair(sa, sb)
          // Each side writes as its own accounts (author 0 on a is the creator), so no chain forks.
          const authors = { a: [shared.creator, generateIdentity(), generateIdentity()], b: [generateIdentity(), generateIdentity(), generateIdentity()] }
          const joined = new Set<string>([hex(shared.creator.publicKey)])
          let expected = 0
          const itemsFor = (who: Identity, op: Op): Array<{ type: string, body: CanonicalValue, ts: number }> => {
            const items = Array.from({ length: op.count }, (_v, i) => msg(`${hex(who.publicKey).slice(0, 6)} ${i}`))
            if (!joined.has(hex(who.publicKey))) { joined.add(hex(who.publicKey)); items.unshift(join()) }
            return items
          }
          const writeOp = (op: Op, live: boolean): void => {
            const n = op.side === 'a' ? pair.a : pair.b
            const who = authors[op.side][op.author] as Identity
            const items = itemsFor(who, op)
            const groups = op.batch ? [items] : items.map((i) => [i])
            for (const g of groups) {
              if (live) pair.appendLocal(n, shared, who, g)
              else assert.deepEqual(n.logs.append(who, who.publicKey, shared.id, g, NOW).rejected, [])
              expected += g.length
            }
          }
          for (const op of before) writeOp(op, false)
          sa.append(shared.creator, shared.creator.publicKey, onlyA.id, [msg('a only')], NOW)
          sb.append(onlyB.creator, onlyB.creator.publicKey, onlyB.id, [msg('b only')], NOW)

          pair.start()
          const done = new Set<Op>()
          pair.quiesce((step) => directions[step % directions.length] as boolean, (step) => {
            for (const op of during.filter((o) => o.at === step)) { done.add(op); writeOp(op, true) }
          })
          // The ops whose turn never came (the loop went quiet first).
          for (const op of during) if (!done.has(op)) writeOp(op, true)
          pair.quiesce((step) => directions[step % directions.length] as boolean)

          assert.deepEqual(pair.a.rejected, [])
          assert.deepEqual(pair.b.rejected, [])
          assert.deepEqual(hashes(sb, shared.id), hashes(sa, shared.id))
          assert.equal(hashes(sa, shared.id).length, expected)
          // Unshared networks never cross, in either direction, not even their ids.
          assert.equal(rowsOfNet(sb, onlyA.id), 0)
          assert.equal(rowsOfNet(sa, onlyB.id), 0)
          assert.equal(mentions(pair, 'a', onlyA.id), 0)
          assert.equal(mentions(pair, 'b', onlyB.id), 0)
        } finally {
          dirs.cleanup()
        }
      }), { numRuns: 25 })
  })

  test('a network the peer joins after our last hello is shared on both sides', (t) => {
    const dirs = new TempDirs()
    const [sa, sb] = stores(t, dirs, 2) as [LogStore, LogStore]
    const pair = new Pair(sa, sb)
    pair.start()
    pair.quiesce()
    // a creates a network and writes (the shell announces it with a hello); b reads that hello while not in it.
    const net = makeNetwork()
    sa.addNetwork(net.manifest, [], NOW)
    pair.appendLocal(pair.a, net, net.creator, [msg('welcome')])
    pair.quiesce()
    // b joins (say by the invite a sent it): its shell announces it too.
    sb.addNetwork(net.manifest, [], NOW)
    const bee = generateIdentity()
    pair.appendLocal(pair.b, net, bee, [join()])
    pair.quiesce()
    assert.ok(pair.a.session.shares(net.id), 'a does not share')
    assert.ok(pair.b.session.shares(net.id), 'b does not share')
    assert.deepEqual(hashes(sb, net.id), hashes(sa, net.id))
  })

  test('everything written before and during the session arrives', (t) => {
    const dirs = new TempDirs()
    const [sa, sb] = stores(t, dirs, 2) as [LogStore, LogStore]
    const net = makeNetwork()
    sa.addNetwork(net.manifest, [], NOW)
    sb.addNetwork(net.manifest, [], NOW)
    const bee = generateIdentity()
    sa.append(net.creator, net.creator.publicKey, net.id, [msg('1'), msg('2'), msg('3')], NOW)
    sb.append(bee, bee.publicKey, net.id, [join(), msg('b1')], NOW)
    const pair = new Pair(sa, sb)
    pair.start()
    pair.quiesce()
    assert.equal(sa.entryCount(net.id), 5)
    assert.deepEqual(hashes(sb, net.id), hashes(sa, net.id))
    // Live appends are pushed at once: one entries message each, no wants.
    const wants = pair.count('want')
    pair.appendLocal(pair.a, net, net.creator, [msg('4'), msg('5')])
    pair.appendLocal(pair.b, net, bee, [msg('b2')])
    pair.quiesce()
    assert.equal(pair.count('want'), wants)
    assert.deepEqual(hashes(sb, net.id), hashes(sa, net.id))
    assert.equal(sb.entryCount(net.id), 8)
  })

  test('a long chain is streamed in batches of SYNC_BATCH', (t) => {
    const dirs = new TempDirs()
    const [sa, sb] = stores(t, dirs, 2) as [LogStore, LogStore]
    const net = makeNetwork()
    sa.addNetwork(net.manifest, [], NOW)
    sb.addNetwork(net.manifest, [], NOW)
    const n = SYNC_BATCH + 10
    // In batches of ten: signing one batch of hundreds is slow (merkleProof per leaf rebuilds subtrees).
    for (let i = 0; i < n; i += 10) sa.append(net.creator, net.creator.publicKey, net.id, Array.from({ length: Math.min(10, n - i) }, (_v, j) => msg(`m${i + j}`)), NOW)
    const pair = new Pair(sa, sb)
    pair.start()
    pair.quiesce()
    assert.equal(sb.entryCount(net.id), n)
    assert.equal(pair.sent.filter((s) => s.from === 'a' && s.message.t === 'entries').length, 2)
  })

  test('a push that arrives ahead of what the peer holds is filled in by asking from its head', (t) => {
    const dirs = new TempDirs()
    const [sa, sb] = stores(t, dirs, 2) as [LogStore, LogStore]
    const net = makeNetwork()
    sa.addNetwork(net.manifest, [], NOW)
    sb.addNetwork(net.manifest, [], NOW)
    const pair = new Pair(sa, sb)
    pair.start()
    pair.quiesce()
    // Written while not connected (not pushed), then one live append.
    sa.append(net.creator, net.creator.publicKey, net.id, [msg('offline 1'), msg('offline 2')], NOW)
    pair.appendLocal(pair.a, net, net.creator, [msg('live')])
    pair.quiesce()
    assert.equal(sb.entryCount(net.id), 3)
    assert.equal(pair.count('want'), 1)
  })

  test('a network joined during the session is announced and synced', (t) => {
    const dirs = new TempDirs()
    const [sa, sb] = stores(t, dirs, 2) as [LogStore, LogStore]
    const net = makeNetwork()
    sa.addNetwork(net.manifest, [], NOW)
    sa.append(net.creator, net.creator.publicKey, net.id, [msg('before b came')], NOW)
    const pair = new Pair(sa, sb)
    pair.start()
    pair.quiesce()
    assert.equal(pair.a.session.sharedNetworks.length, 0)
    sb.addNetwork(net.manifest, [], NOW)
    pair.run(pair.b, pair.b.session.networksChanged())
    pair.quiesce()
    assert.ok(pair.a.session.shares(net.id))
    assert.ok(pair.b.session.shares(net.id))
    assert.deepEqual(hashes(sb, net.id), hashes(sa, net.id))
    // Leaving stops the sharing on both sides.
    sb.setStatus(net.id, 'left')
    pair.run(pair.b, pair.b.session.networksChanged())
    pair.quiesce()
    assert.ok(!pair.a.session.shares(net.id))
    assert.ok(!pair.b.session.shares(net.id))
    assert.deepEqual(pair.a.session.appended(net.id, [{}]), [])
  })

  test('cross-chain dependency: a delegated device\'s chain served before its account\'s join', (t) => {
    const dirs = new TempDirs()
    const [sa, sb] = stores(t, dirs, 2) as [LogStore, LogStore]
    const net = makeNetwork()
    sa.addNetwork(net.manifest, [], NOW)
    sb.addNetwork(net.manifest, [], NOW)
    const [dev, acc] = sortedIdentities(2) as [Identity, Identity] // dev < acc: its chain comes first in heads
    sa.append(acc, acc.publicKey, net.id, [join()], NOW)
    sa.append(dev, acc.publicKey, net.id, [{ type: 'peernet/device', body: delegationValue(delegate(acc, dev.publicKey, 1)), ts: ++ts }, msg('from the phone')], NOW)
    const pair = new Pair(sa, sb)
    pair.start()
    pair.quiesce()
    assert.deepEqual(hashes(sb, net.id), hashes(sa, net.id), `b misses entries for good; it refused: ${pair.b.rejected.join('; ')}`)
  })

  test('cross-chain dependency: a join by an invite of an admin promoted in another chain', (t) => {
    const dirs = new TempDirs()
    const [sa, sb] = stores(t, dirs, 2) as [LogStore, LogStore]
    const [d, b, creator] = sortedIdentities(3) as [Identity, Identity, Identity] // chains served in key order: d, b, creator
    const net = makeNetwork({ creator, policy: 'invite' })
    sa.addNetwork(net.manifest, [], NOW)
    sb.addNetwork(net.manifest, [], NOW)
    const invite = (issuer: Identity): CanonicalValue => ({ invite: grantValue(createInvite(issuer, net.manifest, { role: 'member', expires: null, uses: null, addrs: [], keys: [] }).grant) })
    assert.deepEqual(sa.append(b, b.publicKey, net.id, [join(invite(creator))], NOW).rejected, [])
    assert.deepEqual(sa.append(creator, creator.publicKey, net.id, [{ type: 'peernet/role', body: { member: b.publicKey, role: 'admin' }, ts: ++ts }], NOW).rejected, [])
    assert.deepEqual(sa.append(d, d.publicKey, net.id, [join(invite(b)), msg('hello from d')], NOW).rejected, [])
    const pair = new Pair(sa, sb)
    pair.start()
    pair.quiesce()
    assert.deepEqual(hashes(sb, net.id), hashes(sa, net.id), `b misses entries for good; it refused: ${pair.b.rejected.join('; ')}`)
  })
})

// ---- idle --------------------------------------------------------------------------------

describe('an idle pair', () => {
  test('in sync: hellos once (no heads: the digests match), then nothing at all', (t) => {
    const dirs = new TempDirs()
    const [sa, sb] = stores(t, dirs, 2) as [LogStore, LogStore]
    const nets = Array.from({ length: 3 }, (_v, i) => makeNetwork({ name: `n${i}` }))
    for (const net of nets) {
      sa.addNetwork(net.manifest, [], NOW)
      sb.addNetwork(net.manifest, [], NOW)
      sa.append(net.creator, net.creator.publicKey, net.id, [msg('x'), msg('y')], NOW)
      sb.ingest(sa.chainAfter(net.id, net.creator.publicKey, net.creator.publicKey, 0, 10).map((s) => s.entry), NOW)
    }
    const lonely = makeNetwork({ name: 'a alone' })
    sa.addNetwork(lonely.manifest, [], NOW)
    const pair = new Pair(sa, sb)
    pair.start()
    pair.quiesce()
    // Each side's hello, and each side's answer to a hello that made it share something.
    assert.equal(pair.count('hello'), 4)
    assert.equal(pair.count('heads'), 0, 'in sync: the hellos\' heads digests match, so no heads go')
    assert.equal(pair.count('want'), 0)
    assert.equal(pair.count('entries'), 0)
    const firstRound = pair.sent.length
    // Nothing is scheduled by the core; re-announcing unchanged networks costs one hello and no answer.
    pair.quiesce()
    assert.equal(pair.sent.length, firstRound)
    pair.run(pair.a, pair.a.session.networksChanged())
    pair.quiesce()
    assert.equal(pair.sent.length, firstRound + 1)
    // Heads that match ours ask for nothing; a want for a network we do not share serves nothing.
    const net0 = nets[0] as TestNetwork
    assert.deepEqual(pair.b.session.receive({ t: 'heads', net: net0.id, heads: sa.heads(net0.id).map((h) => ({ author: h.author, device: h.device, seq: h.seq })) }), [])
    assert.deepEqual(pair.b.session.receive({ t: 'want', net: lonely.id, author: lonely.creator.publicKey, device: lonely.creator.publicKey, after: 0 }), [])
    assert.deepEqual(pair.b.session.receive({ t: 'heads', net: lonely.id, heads: [{ author: lonely.creator.publicKey, device: lonely.creator.publicKey, seq: 9 }] }), [])
  })

  test('sharing nothing: two hellos, nothing else', (t) => {
    const dirs = new TempDirs()
    const [sa, sb] = stores(t, dirs, 2) as [LogStore, LogStore]
    sa.addNetwork(makeNetwork().manifest, [], NOW)
    sb.addNetwork(makeNetwork().manifest, [], NOW)
    const pair = new Pair(sa, sb)
    pair.start()
    pair.quiesce()
    assert.deepEqual(pair.sent.map((s) => s.message.t), ['hello', 'hello'])
  })
})

describe('network tags', () => {
  test('are symmetric per pair and differ per network and per pair', () => {
    const net = new Uint8Array(randomBytes(32))
    const [p, q, r] = [generateIdentity().peerId, generateIdentity().peerId, generateIdentity().peerId]
    assert.deepEqual(networkTag(net, p, q), networkTag(net, q, p))
    assert.notDeepEqual(networkTag(net, p, q), networkTag(net, p, r))
    assert.notDeepEqual(networkTag(net, p, q), networkTag(new Uint8Array(randomBytes(32)), p, q))
    assert.notDeepEqual(networkTag(net, p, q), net)
    assert.equal(networkTag(net, p, q).byteLength, 32)
  })
})

// ---- framing -----------------------------------------------------------------------------

const plain = { noNullPrototype: true }
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
const messageArb: fc.Arbitrary<SyncMessage> = fc.oneof(
  fc.record({ t: fc.constant('hello' as const), v: fc.constant(1 as const), tags: fc.array(bytes32, { maxLength: 5 }) }, plain),
  fc.record({ t: fc.constant('heads' as const), net: bytes32, heads: fc.array(fc.record({ author: bytes32, device: bytes32, seq: fc.nat() }, plain), { maxLength: 4 }) }, plain),
  fc.record({ t: fc.constant('want' as const), net: bytes32, author: bytes32, device: bytes32, after: fc.nat() }, plain),
  fc.record({ t: fc.constant('entries' as const), entries: fc.array(fc.oneof(fc.string(), fc.nat(), fc.uint8Array({ maxLength: 50 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.nat(), plain)), { maxLength: 5 }) }, plain)
)

describe('framing', () => {
  test('property: concatenated frames split into any chunks come out whole and in order', () => {
    fc.assert(fc.property(fc.array(messageArb, { minLength: 1, maxLength: 8 }), fc.array(fc.nat({ max: 200 }), { maxLength: 30 }), (messages, cuts) => {
      const frames = messages.map(encodeMessage)
      const all = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0))
      let off = 0
      for (const f of frames) { all.set(f, off); off += f.byteLength }
      const points = [...new Set(cuts.map((c) => c % (all.byteLength + 1)))].sort((x, y) => x - y)
      const reader = new FrameReader()
      const out: Uint8Array[] = []
      let from = 0
      for (const p of [...points, all.byteLength]) {
        out.push(...reader.push(all.subarray(from, p)))
        from = p
      }
      assert.equal(out.length, messages.length)
      assert.deepEqual(out.map(decodeMessage), messages)
      // Nothing left over: a new frame starts clean.
      assert.deepEqual(reader.push(encodeMessage(messages[0] as SyncMessage)).map(decodeMessage), [messages[0]])
    }), { numRuns: 200 })
  })

  test('byte by byte', () => {
    const m: SyncMessage = { t: 'want', net: new Uint8Array(32), author: new Uint8Array(32).fill(1), device: new Uint8Array(32).fill(2), after: 7 }
    const frame = encodeMessage(m)
    const reader = new FrameReader()
    const out: Uint8Array[] = []
    for (const b of frame) out.push(...reader.push(Uint8Array.of(b)))
    assert.deepEqual(out.map(decodeMessage), [m])
  })

  test('a frame is a 4-byte big-endian length and canonical CBOR', () => {
    const m: SyncMessage = { t: 'hello', v: 1, tags: [] }
    const frame = encodeMessage(m)
    const body = encodeCanonical(m)
    assert.equal(new DataView(frame.buffer, frame.byteOffset).getUint32(0), body.byteLength)
    assert.deepEqual(frame.subarray(4), body)
  })

  test('an oversized length prefix is refused, even before the body arrives', () => {
    const reader = new FrameReader()
    const prefix = new Uint8Array(4)
    new DataView(prefix.buffer).setUint32(0, MAX_FRAME_BYTES + 1)
    assert.throws(() => reader.push(prefix), isNamed('InvalidRecordError'))
    const max = new Uint8Array(4)
    new DataView(max.buffer).setUint32(0, MAX_FRAME_BYTES)
    assert.deepEqual(new FrameReader().push(max), [])
    const huge = new Uint8Array([0xff, 0xff, 0xff, 0xff])
    assert.throws(() => new FrameReader().push(huge), isNamed('InvalidRecordError'))
    // Also when it follows a good frame in the same chunk.
    const good = encodeMessage({ t: 'hello', v: 1, tags: [] })
    assert.throws(() => new FrameReader().push(new Uint8Array([...good, ...huge])), isNamed('InvalidRecordError'))
  })

  test('encodeMessage refuses a message over the frame limit', () => {
    const big: SyncMessage = { t: 'entries', entries: [new Uint8Array(MAX_FRAME_BYTES)] }
    assert.throws(() => encodeMessage(big), isNamed('InvalidRecordError'))
  })

  test('decodeMessage refuses malformed messages with InvalidRecordError', () => {
    const k = new Uint8Array(32)
    const bad: CanonicalValue[] = [
      7, 'hello', [],
      { t: 'hello', v: 2, tags: [] },
      { t: 'hello', v: 1, tags: [new Uint8Array(31)] },
      { t: 'hello', v: 1 },
      { t: 'heads', net: new Uint8Array(31), heads: [] },
      { t: 'heads', net: k, heads: [{ author: k, device: k, seq: 1.5 }] },
      { t: 'heads', net: k, heads: [{ author: k, device: new Uint8Array(3), seq: 1 }] },
      { t: 'want', net: k, author: k, device: k, after: -1 },
      { t: 'want', net: k, author: k, device: k },
      { t: 'entries', entries: 'x' },
      { t: 'entries', entries: Array.from({ length: 4 * SYNC_BATCH + 1 }, () => 0) },
      { t: 'bye' }
    ]
    for (const v of bad) assert.throws(() => decodeMessage(encodeCanonical(v)), isNamed('InvalidRecordError'), JSON.stringify(v, (_k, x: unknown) => x instanceof Uint8Array ? `<${x.byteLength}>` : x))
    assert.throws(() => decodeMessage(Uint8Array.of(0xff)), isNamed('EncodingError'))
  })

  describe('entries frames read straight into entries', () => {
    const signer = generateIdentity()
    const netId = new Uint8Array(randomBytes(32))
    const entriesArb = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.array(fc.uint8Array({ maxLength: 60 }), { minLength: 5, maxLength: 5 }), fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }))
      .map(([n, bodies, withBody]) => {
        const raw = bodies.slice(0, n).map((body, i) => ({ type: 'chat/message', ts: 1_000 + i, body }))
        const headers = buildHeaders(netId, signer.publicKey, signer.publicKey, undefined, raw)
        const auths = signHeaders(signer, headers)
        return headers.map((header, i): [Entry, boolean] => [{ header, auth: auths[i] as Entry['auth'], body: raw[i]?.body }, withBody[i] === true])
      })
    const plainOf = (e: Entry): Entry => ({ header: { ...e.header }, auth: 'sig' in e.auth ? { sig: e.auth.sig } : { batch: { ...e.auth.batch, proof: [...e.auth.batch.proof] } }, ...(e.body === undefined ? {} : { body: e.body }) })
    const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

    test('property: read as the general decoder reads them, keeping the canonical bytes of header and auth', () => {
      fc.assert(fc.property(entriesArb, (entries) => {
        const frame = encodeEntriesFrame(entries.map(([e, withBody]) => encodeEntry(e, withBody))).subarray(4)
        const fast = readEntriesFrame(frame)
        assert.ok(fast !== null)
        const m = decodeMessage(frame)
        assert.ok(m.t === 'entries')
        assert.deepEqual(fast.map(plainOf), m.entries.map((v) => plainOf(entryFrom(v))))
        for (const e of fast) assert.equal(hexOf(e.encodedHeader), hexOf(encodeCanonical(headerValue(e.header))))
        assert.deepEqual(fast.map((e) => hexOf(encodeEntry(e, true))), m.entries.map((v) => hexOf(encodeCanonical(v))))
      }), { numRuns: 100 })
    })

    test('property: a damaged frame is read the same way as the general decoder reads it, or left to it', () => {
      fc.assert(fc.property(entriesArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (entries, at, byte) => {
        const frame = encodeEntriesFrame(entries.map(([e, withBody]) => encodeEntry(e, withBody))).subarray(4).slice()
        frame[at % frame.byteLength] = byte
        const fast = readEntriesFrame(frame)
        if (fast === null) return
        // Whatever it accepted, the kept bytes are the canonical encoding of what it read.
        const m = decodeMessage(frame)
        assert.ok(m.t === 'entries')
        assert.deepEqual(fast.map(plainOf), m.entries.map((v) => plainOf(entryFrom(v))))
        for (const e of fast) {
          assert.equal(hexOf(e.encodedHeader), hexOf(encodeCanonical(headerValue(e.header))))
          assert.equal(hexOf(encodeEntry(e, false)), hexOf(encodeCanonical(entryValue(plainOf(e), false))))
        }
      }), { numRuns: 500 })
    })

    test('other messages are left to decodeMessage', () => {
      assert.equal(readEntriesFrame(encodeMessage({ t: 'hello', v: 1, tags: [] }).subarray(4)), null)
      assert.equal(readEntriesFrame(encodeMessage({ t: 'entries', entries: [1, 'x'] }).subarray(4)), null)
    })
  })

  test('decodeMessage refuses a heads list with a non-map element with InvalidRecordError', () => {
    assert.throws(() => decodeMessage(encodeCanonical({ t: 'heads', net: new Uint8Array(32), heads: [null] })), isNamed('InvalidRecordError'))
  })
})

describe('heads digests in the hello', () => {
  test('two nodes already in sync exchange hellos and no heads; one entry apart, they exchange heads and converge', (t) => {
    const dirs = new TempDirs()
    const [sa, sb] = stores(t, dirs, 2) as [LogStore, LogStore]
    const nets = [makeNetwork({ name: 'one' }), makeNetwork({ name: 'two' }), makeNetwork({ name: 'three' })]
    for (const n of nets) {
      sa.addNetwork(n.manifest, [], NOW)
      sb.addNetwork(n.manifest, [], NOW)
      const r = sa.append(n.creator, n.creator.publicKey, n.id, [msg(`in ${n.manifest.manifest.name}`)], NOW)
      sb.ingest(sa.chainAfter(n.id, n.creator.publicKey, n.creator.publicKey, 0, 10).map((s) => s.entry), NOW)
      assert.equal(r.accepted.length, 1)
    }
    const inSync = new Pair(sa, sb)
    inSync.start()
    inSync.quiesce()
    assert.equal(inSync.count('heads'), 0, 'no heads between nodes in sync')
    assert.equal(inSync.count('hello'), 4) // each side's, and each side's answer to one that made it share
    assert.ok(nets.every((n) => inSync.a.session.shares(n.id) && inSync.b.session.shares(n.id)), 'both sides still learn what they share')

    // One more entry on a: only that network's heads go; b catches up.
    const [one] = nets as [TestNetwork]
    sa.append(one.creator, one.creator.publicKey, one.id, [msg('newer')], NOW)
    const apart = new Pair(sa, sb)
    apart.start()
    apart.quiesce()
    assert.equal(apart.count('heads'), 2, 'heads for the one network that differs, from each side')
    assert.deepEqual(hashes(sb, one.id), hashes(sa, one.id))
  })

  test('a hello without digests (an older peer) gets heads for every shared network', (t) => {
    const dirs = new TempDirs()
    const [sa] = stores(t, dirs, 1) as [LogStore]
    const net = makeNetwork()
    sa.addNetwork(net.manifest, [], NOW)
    const self = generateIdentity().peerId
    const peer = generateIdentity().peerId
    const session = new SyncSession({ networks: () => sa.memberNetworkIds(), heads: (n) => sa.heads(n) }, self, peer)
    const out = session.receive({ t: 'hello', v: 1, tags: [networkTag(net.id, self, peer)] })
    assert.deepEqual(out.filter((a) => a.do === 'send').map((a) => a.do === 'send' ? a.message.t : ''), ['hello', 'heads'])
  })

  test('digests that do not match the tags are refused as malformed', () => {
    const tags = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]
    for (const digests of [[new Uint8Array(8)], [new Uint8Array(8), new Uint8Array(7)], 'x']) {
      const bytes = encodeMessage({ t: 'hello', v: 1, tags, digests } as unknown as SyncMessage).subarray(4)
      assert.throws(() => decodeMessage(bytes), isNamed('InvalidRecordError'))
    }
    const ok = encodeMessage({ t: 'hello', v: 1, tags, digests: [new Uint8Array(8), new Uint8Array(8)] }).subarray(4)
    assert.equal(decodeMessage(ok).t, 'hello')
  })
})

describe('peer faults', () => {
  const chainA = { net: new Uint8Array(32).fill(1), author: new Uint8Array(32).fill(2), device: new Uint8Array(32).fill(2) }
  const chainB = { ...chainA, author: new Uint8Array(32).fill(3), device: new Uint8Array(32).fill(3) }
  test('gaps and missing dependencies are free, unless they follow a fault of the same chain in the same ingest', () => {
    assert.equal(peerFaults([]), 0)
    assert.equal(peerFaults([{ chain: chainA, reason: 'gap: expected seq 1 of this chain, got 5' }, { chain: chainA, reason: 'the author is not a member of this network' }]), 0)
    assert.equal(peerFaults([{ chain: chainA, reason: 'entry signature does not verify' }, { chain: chainA, reason: 'gap: expected seq 1 of this chain, got 2' }, { chain: chainA, reason: 'gap: expected seq 1 of this chain, got 3' }]), 3)
    // Another chain's gaps stay free; a gap before the fault is free too.
    assert.equal(peerFaults([{ chain: chainA, reason: 'gap: expected seq 1 of this chain, got 2' }, { chain: chainA, reason: 'entry signature does not verify' }, { chain: chainB, reason: 'gap: expected seq 1 of this chain, got 2' }]), 1)
    assert.equal(peerFaults([{ chain: null, reason: 'malformed entry' }]), 1)
  })
})

describe('heads offered and refetching (a node that refuses an author)', () => {
  const net = new Uint8Array(randomBytes(32))
  const [kept, refused] = [new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32))]
  const all = [{ author: kept, device: kept, seq: 3 }, { author: refused, device: refused, seq: 5 }]
  const local = { networks: () => [net], heads: () => all, offered: () => all.filter((h) => h.author !== refused) }
  const [self, peer] = [generateIdentity().peerId, generateIdentity().peerId]
  const sends = (actions: SyncAction[]): SyncMessage[] => actions.flatMap((a) => a.do === 'send' ? [a.message] : [])

  test('hello digests and heads carry only the offered chains; wants compare against all held', () => {
    const s = new SyncSession(local, self, peer)
    const hello = sends(s.start())[0] as Extract<SyncMessage, { t: 'hello' }>
    assert.deepEqual(hello.digests?.[0], headsDigest([all[0] as ChainPosition]))
    const out = sends(s.receive({ t: 'hello', v: 1, tags: [networkTag(net, peer, self)] }))
    const heads = out.find((m) => m.t === 'heads') as Extract<SyncMessage, { t: 'heads' }>
    assert.deepEqual(heads.heads.map((h) => hex(h.author)), [hex(kept)])
    // The peer is ahead on the refused chain: it is still asked for (membership rests on its peernet entries).
    const wants = sends(s.receive({ t: 'heads', net, heads: [{ author: refused, device: refused, seq: 7 }, { author: kept, device: kept, seq: 3 }] }))
    assert.deepEqual(wants.map((m) => m.t === 'want' ? [hex(m.author), m.after] : m.t), [[hex(refused), 5]])
  })

  test('refetch asks again from the given seq, even one asked before, and offers heads again', () => {
    const s = new SyncSession(local, self, peer)
    assert.deepEqual(s.refetch(net, [{ author: refused, device: refused, after: 0 }]), [], 'nothing for a network not shared yet')
    s.receive({ t: 'hello', v: 1, tags: [networkTag(net, peer, self)] })
    for (let i = 0; i < 2; i++) {
      const out = sends(s.refetch(net, [{ author: refused, device: refused, after: 2 }]))
      assert.deepEqual(out.map((m) => m.t), ['want', 'heads'])
      assert.equal((out[0] as Extract<SyncMessage, { t: 'want' }>).after, 2)
    }
  })
})
