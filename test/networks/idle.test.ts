// Idle in many networks (DESIGN.md, "Sync": nothing is polled per network; a node idle
// in 10,000 networks sends nothing per network). Two real in-process nodes share 200
// networks over loopback TCP; once their first sync is done, their sync stream carries
// not one byte until something changes — and then it does, which shows the count sees
// the stream. Counted at the stream: what goes out through `send`, what comes in as
// `message` events. How much memory and how many bytes per network are the idle
// benchmark's business (bench/idle.ts), not this test's.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Connection, Stream } from '@libp2p/interface'
import { Cluster, eventually, tcpAddress } from '../host/cluster.ts'
import type { Peernet } from '../../src/node.ts'
import { SYNC_PROTOCOL } from '../../src/networks/sync/messages.ts'
import { parseNetworkId } from '../../src/networks/manifest.ts'

const NETWORKS = 200
const IDLE_MS = 4_000

interface Counter { stream: Stream, sent: number, received: number }

function count (stream: Stream): Counter {
  const c: Counter = { stream, sent: 0, received: 0 }
  const send = stream.send.bind(stream)
  stream.send = (data) => {
    c.sent += data.byteLength
    return send(data)
  }
  stream.addEventListener('message', (evt) => { c.received += evt.data.byteLength })
  return c
}

function syncStreams (node: Peernet): Array<{ stream: Stream, connection: Connection }> {
  return node.host.libp2p.getConnections().flatMap((connection) => connection.streams.filter((s) => s.protocol === SYNC_PROTOCOL).map((stream) => ({ stream, connection })))
}

function entryCount (node: Peernet): number {
  return (node.networks.logs.db.prepare('SELECT COUNT(*) AS n FROM entries').get() as { n: number }).n
}

test(`two nodes in ${NETWORKS} shared networks send nothing on their sync stream while idle`, async (t) => {
  const cluster = new Cluster()
  t.after(async () => { await cluster.close() })
  const a = await cluster.start()
  const b = await cluster.start()
  const ids: string[] = []
  for (let i = 0; i < NETWORKS; i++) {
    const { id, invite } = a.networks.create({ name: `idle-${i}`, app: 'chat', policy: 'invite', private: false })
    assert.ok(invite !== null)
    b.networks.join(invite)
    ids.push(id)
  }
  assert.equal(entryCount(a), 0)
  assert.equal(entryCount(b), NETWORKS)

  await b.connect(tcpAddress(a), { signal: AbortSignal.timeout(15_000) })
  // The first sync: b's join entries reach a, one per network.
  await eventually(() => entryCount(a) === NETWORKS, `a to hold b's ${NETWORKS} join entries`, 30_000)
  // Let the last messages of that sync (answers to answers) land before counting.
  await new Promise((resolve) => setTimeout(resolve, 500))

  const [onA] = syncStreams(a)
  const [onB] = syncStreams(b)
  assert.ok(onA !== undefined && onB !== undefined, 'each node has a sync stream')
  assert.equal(syncStreams(a).length, 1)
  assert.equal(syncStreams(b).length, 1)
  const counters = [count(onA.stream), count(onB.stream)]

  await new Promise((resolve) => setTimeout(resolve, IDLE_MS))
  assert.deepEqual(counters.map((c) => [c.sent, c.received]), [[0, 0], [0, 0]], `bytes on the sync stream while idle in ${NETWORKS} networks`)
  assert.deepEqual(syncStreams(a).map((s) => s.stream), [onA.stream], 'the same sync stream is still the only one')
  assert.equal(onA.stream.status, 'open')

  // Something changes in one network: the entry is pushed at once, and the count sees it.
  const [first] = ids
  assert.ok(first !== undefined)
  await a.networks.command(parseNetworkId(first), 'send', { text: 'still here' })
  await eventually(() => entryCount(b) === NETWORKS + 1, 'b to receive the chat message', 15_000)
  const [fromA, toB] = counters as [Counter, Counter]
  assert.ok(fromA.sent > 0, 'a sent the new entry on the counted stream')
  assert.ok(toB.received > 0, 'b received it on the counted stream')
})
