// AppDefinition.refuseAuthor on three real nodes (libp2p over loopback TCP, SQLite files)
// in a line, A – B – C, where C reaches A only through B. B blocks A's account: A's new
// entries reach B, which keeps their headers but not their bodies, shows nothing of them,
// and passes nothing of them on, so they do not reach C; the bodies B held already go.
// B unblocks: the bodies are fetched again and flow on to C.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import type { DatabaseSync } from 'node:sqlite'
import { defineApp } from '../../src/networks/app.ts'
import type { CanonicalValue } from '../../src/core/encoding.ts'
import { parseNetworkId } from '../../src/networks/manifest.ts'
import type { Peernet } from '../../src/node.ts'
import { Cluster, LOOPBACK_TCP, eventually, tcpAddress } from '../host/cluster.ts'
import { TempDirs, hex } from './fixtures.ts'
import { Networks } from '../../src/networks/networks.ts'
import { generateIdentity } from '../../src/core/identity.ts'
import type { Entry } from '../../src/networks/entry.ts'

/** A small app with posts and a local block list, like the social app's. */
const blockyApp = defineApp({
  name: 'blocky',
  types: {
    post: {
      decode: (v: CanonicalValue) => {
        const text = (v as { text?: unknown }).text
        if (typeof text !== 'string') throw new Error('a post is {text}')
        return { text }
      },
      reduce: (db, e) => { db.prepare('INSERT OR IGNORE INTO blocky_posts (hash, author, text) VALUES (?, ?, ?)').run(e.hash, e.author, (e.body as { text: string }).text) }
    }
  },
  migrations: [{
    version: 1,
    description: 'posts and blocks',
    sql: `CREATE TABLE blocky_posts (hash BLOB PRIMARY KEY, author BLOB NOT NULL, text TEXT NOT NULL) STRICT;
      CREATE TABLE blocky_blocks (account BLOB PRIMARY KEY) STRICT;`
  }],
  forget: (db, e) => { db.prepare('DELETE FROM blocky_posts WHERE hash = ?').run(e.hash) },
  refuseAuthor: (db, _net, author) => db.prepare('SELECT 1 AS x FROM blocky_blocks WHERE account = ?').get(author) === undefined ? undefined : 'blocked',
  queries: {},
  commands: {
    post: async (ctx, net, params) => { await ctx.append(net, 'blocky/post', { text: params.text as string }); return {} }
  },
  accountCommands: {
    block: async (ctx, params) => {
      ctx.db.prepare('INSERT OR IGNORE INTO blocky_blocks (account) VALUES (?)').run(Buffer.from(params.account as string, 'hex'))
      ctx.refusalsChanged(Buffer.from(params.account as string, 'hex'))
      return await Promise.resolve({})
    },
    unblock: async (ctx, params) => {
      ctx.db.prepare('DELETE FROM blocky_blocks WHERE account = ?').run(Buffer.from(params.account as string, 'hex'))
      ctx.refusalsChanged(Buffer.from(params.account as string, 'hex'))
      return await Promise.resolve({})
    }
  }
})

const cluster = new Cluster()
after(async () => { await cluster.close() })

const db = (n: Peernet | Networks): DatabaseSync => n instanceof Networks ? n.logs.db : n.networks.logs.db
const posts = (n: Peernet | Networks, author: Uint8Array): string[] =>
  (db(n).prepare('SELECT text FROM blocky_posts WHERE author = ? ORDER BY text').all(author) as Array<{ text: string }>).map((r) => r.text)
const headSeq = (n: Peernet, net: Uint8Array, author: Uint8Array): number =>
  n.networks.logs.heads(net).find((h) => hex(h.author) === hex(author))?.seq ?? 0
const bodies = (n: Peernet, net: Uint8Array, author: Uint8Array): Array<number | null> =>
  (db(n).prepare("SELECT length(body) AS size FROM entries WHERE net = ? AND author = ? AND type = 'blocky/post' ORDER BY seq").all(net, author) as Array<{ size: number | null }>).map((r) => r.size)
const connected = (x: Peernet, y: Peernet): boolean => x.host.libp2p.getConnections().some((c) => c.remotePeer.toString() === y.peerId)

test('a blocked author\'s entries are not kept or passed on by the blocker; unblocked, they flow again', async () => {
  const config = { rendezvous: false, mesh: false }
  // Only B listens: A and C dial it, and neither can learn an address to dial the other at
  // (through peer exchange, the DHT or identify), so the line holds.
  const b = await cluster.start({ ...config, listen: [LOOPBACK_TCP] }, undefined, { apps: [blockyApp] })
  const a = await cluster.start({ ...config, listen: [] }, undefined, { apps: [blockyApp] })
  const c = await cluster.start({ ...config, listen: [] }, undefined, { apps: [blockyApp] })
  const created = a.networks.create({ name: 'line', app: 'blocky', policy: 'invite', private: false })
  const net = parseNetworkId(created.id)
  b.networks.join(created.invite as string)
  c.networks.join(created.invite as string)
  const accountA = a.networks.account.publicKey
  await c.connect(tcpAddress(b))
  await eventually(() => b.sync.sharing(net).includes(c.peerId), 'B and C syncing', 10_000)
  await a.connect(tcpAddress(b))
  await eventually(() => a.networks.logs.members(net).length === 3 && c.networks.logs.members(net).length === 3, 'everyone a member everywhere', 15_000)

  await a.networks.command(net, 'post', { text: 'before the block' })
  await eventually(() => posts(c, accountA).length === 1, 'A\'s first post at C, through B', 10_000)

  await b.networks.accountCommand('blocky', 'block', { account: hex(accountA) })
  assert.deepEqual(posts(b, accountA), [], 'B forgot what it showed of A')
  assert.deepEqual(bodies(b, net, accountA), [null], 'and dropped the body it held')
  assert.deepEqual(posts(c, accountA), ['before the block'], 'C keeps its own copy')

  await a.networks.command(net, 'post', { text: 'while blocked' })
  // It reaches B (A pushes it), which keeps its header only.
  await eventually(() => headSeq(b, net, accountA) === 2, 'B holding the header of A\'s second post', 10_000)
  assert.deepEqual(bodies(b, net, accountA), [null, null])
  assert.deepEqual(posts(b, accountA), [])
  // Give B every chance to pass it on: it must not.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.equal(connected(a, c), false, 'C reaches A only through B')
  assert.equal(headSeq(c, net, accountA), 1, 'nothing of it reached C')
  assert.deepEqual(posts(c, accountA), ['before the block'])
  assert.equal(connected(a, c), false, 'C reaches A only through B')

  await b.networks.accountCommand('blocky', 'unblock', { account: hex(accountA) })
  await eventually(() => posts(b, accountA).length === 2, 'B fetching A\'s bodies again', 10_000)
  await eventually(() => posts(c, accountA).length === 2, 'A\'s second post reaching C through B', 10_000)
  assert.deepEqual(posts(c, accountA), ['before the block', 'while blocked'])
  assert.deepEqual(bodies(b, net, accountA).map((s) => s !== null), [true, true])
  assert.equal(connected(a, c), false)
})

test('by hand: a refused author\'s membership entries still count, its app entries are kept header-only; unrefused, the bodies are asked for and fill in', async (t) => {
  const dirs = new TempDirs()
  t.after(() => { dirs.cleanup() })
  let now = 1_000_000
  const node = (): Networks => new Networks({ store: dirs.store(), account: generateIdentity(), apps: [blockyApp], clock: { now: () => ++now }, addresses: () => [] })
  const [a, x, b] = [node(), node(), node()]
  const created = a.create({ name: 'by hand', app: 'blocky', policy: 'invite', private: false })
  const net = parseNetworkId(created.id)
  x.join(created.invite as string)
  b.join(created.invite as string)
  const entries = (from: Networks): Entry[] => from.logs.heads(net).flatMap((h) => from.logs.chainAfter(net, h.author, h.device, 0, 100).map((s) => s.entry)).sort((p, q) => p.header.ts - q.header.ts)
  for (const n of [x, b]) a.ingestRemote(entries(n))
  for (const n of [x, b]) n.ingestRemote(entries(a))
  const accountX = x.account.publicKey
  const refetches: Array<{ seqAfter: number }> = []
  b.onRefetch((_net, chains) => { refetches.push(...chains.map((c) => ({ seqAfter: c.after }))) })

  await b.accountCommand('blocky', 'block', { account: hex(accountX) })
  await x.command(net, 'post', { text: 'unseen' })
  x.leave(net)
  const r = b.ingestRemote(entries(x))
  assert.deepEqual(r.rejected, [])
  assert.deepEqual(r.withheld.map((e) => e.type), ['blocky/post'])
  assert.deepEqual(r.accepted.map((e) => e.type), ['peernet/leave'], 'the join is held already; the leave counts')
  assert.equal(b.logs.isMember(net, accountX), false)
  assert.equal((b.logs.db.prepare('SELECT COUNT(*) AS n FROM blocky_posts').get() as { n: number }).n, 0)
  // Offered again with its body while refused: still not kept.
  const again = b.ingestRemote(entries(x))
  assert.deepEqual([again.accepted.length, again.withheld.length, again.duplicates], [0, 0, entries(x).length])
  assert.equal(b.logs.usage(net).withoutBody, 1)
  assert.deepEqual(b.offeredHeads(net).map((h) => hex(h.author)).includes(hex(accountX)), false, 'its chain is not offered')

  await b.accountCommand('blocky', 'unblock', { account: hex(accountX) })
  assert.deepEqual(refetches, [{ seqAfter: 1 }], 'the chain is asked for again after the join')
  const filled = b.ingestRemote(entries(x))
  assert.deepEqual(filled.accepted.map((e) => e.type), ['blocky/post'])
  assert.deepEqual(posts(b, accountX), ['unseen'])
})
