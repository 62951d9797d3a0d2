// Known peers persist: libp2p's peer store lives in the node's own SQLite file
// (table libp2p_datastore, keys /peers/<cid>), and peers we identified carry a
// keep-alive tag, so a node restarted on the same home knows them and redials them.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { DatabaseSync } from 'node:sqlite'
import { KEEP_ALIVE } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Peernet } from '../../src/node.ts'
import { Cluster, eventually, tcpAddress, transportPart } from './cluster.ts'

const STEP_TIMEOUT_MS = 10_000

const cluster = new Cluster()
after(async () => { await cluster.close() })

const keepAliveTags = async (node: Peernet, peer: string): Promise<string[]> =>
  [...(await node.host.libp2p.peerStore.get(peerIdFromString(peer))).tags.keys()].filter((k) => k.startsWith(KEEP_ALIVE))

test('a node restarted on the same home knows its peer from disk and reconnects to it', async () => {
  const b = await cluster.start()
  const bId = peerIdFromString(b.peerId)
  const bAddr = transportPart(tcpAddress(b))
  const home = cluster.home()

  const first = await cluster.start({}, home)
  await first.connect(tcpAddress(b), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  // The known-peer tag is written after identify; stopping before it would test nothing.
  await eventually(async () => (await keepAliveTags(first, b.peerId)).length > 0, 'A to tag B as a known peer', STEP_TIMEOUT_MS)
  const dbPath = first.paths.database
  await cluster.stop(first)

  // On disk, in A's peernet.db: read it with the node stopped, read-only.
  const db = new DatabaseSync(dbPath, { readOnly: true })
  try {
    const peers = db.prepare("SELECT COUNT(*) AS n FROM libp2p_datastore WHERE key LIKE '/peers/%'").get() as { n: number }
    assert.ok(peers.n >= 1, `no /peers/ rows in ${dbPath}`)
    const row = db.prepare('SELECT length(value) AS size FROM libp2p_datastore WHERE key = ?').get(`/peers/${bId.toCID().toString()}`) as { size: number } | undefined
    assert.ok(row !== undefined && row.size > 0, `no peer store row for B in ${dbPath}`)
  } finally {
    db.close()
  }

  const restarted = await cluster.start({}, home)
  assert.equal(restarted.peerId, first.peerId)
  // Read before any I/O could run: whatever the store holds now came from the file.
  assert.equal(restarted.host.libp2p.getConnections(bId).length, 0)
  const known = await restarted.host.libp2p.peerStore.get(bId)
  assert.equal(restarted.host.libp2p.getConnections(bId).length, 0, 'B was reconnected before its stored record could be read')
  const knownAddrs = known.addresses.map((a) => transportPart(a.multiaddr.toString()))
  assert.ok(knownAddrs.includes(bAddr), `the restarted node knows B at ${knownAddrs.join(', ') || 'no address'}, not ${bAddr}`)
  assert.ok([...known.tags.keys()].some((k) => k.startsWith(KEEP_ALIVE)), `B lost its keep-alive tag: ${[...known.tags.keys()].join(', ')}`)

  // Nobody calls connect(): libp2p's reconnect queue dials keep-alive peers on start.
  await eventually(async () => (await restarted.peers()).find((p) => p.peerId === b.peerId), 'the restarted node to reconnect to B', STEP_TIMEOUT_MS)
  const peer = (await restarted.peers()).find((p) => p.peerId === b.peerId)
  assert.equal(peer?.direction, 'outbound', 'B dialled A, not the other way round')
  await restarted.ping(b.peerId, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
})
