// Bootstrap peers from the config (libp2p's bootstrap discovery, tagged keep-alive): a
// node dials them by itself shortly after start, and one that is down costs nothing.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { Peernet } from '../../src/node.ts'
import { Cluster, eventually, tcpAddress } from './cluster.ts'

const STEP_TIMEOUT_MS = 10_000
/** Peer store metadata key libp2p's dial queue sets when every address of a peer failed. */
const LAST_DIAL_FAILURE = 'last-dial-failure'

const cluster = new Cluster()
after(async () => { await cluster.close() })

const connectedTo = async (node: Peernet, peerId: string): Promise<boolean> =>
  (await node.peers()).some((p) => p.peerId === peerId)

/** A loopback TCP port nothing listens on: bound, then released. */
async function deadPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const address = server.address()
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  if (address === null || typeof address === 'string') throw new Error('no TCP port')
  return address.port
}

test('a node dials its bootstrap peers by itself', async () => {
  const b = await cluster.start()
  const a = await cluster.start({ bootstrap: [tcpAddress(b)] })
  assert.deepEqual(a.status().bootstrap, [tcpAddress(b)])
  assert.equal((await a.peers()).length, 0, 'A is connected before bootstrap discovery could run')

  await eventually(async () => await connectedTo(a, b.peerId), 'A to connect to its bootstrap peer B', STEP_TIMEOUT_MS)
  const peer = (await a.peers()).find((p) => p.peerId === b.peerId)
  assert.equal(peer?.direction, 'outbound', 'A did not dial B: the connection is inbound')
  await eventually(async () => await connectedTo(b, a.peerId), 'B to list A', STEP_TIMEOUT_MS)
  await a.ping(b.peerId, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
})

test('a bootstrap peer that is down does not stop a node from starting or working', async () => {
  const live = await cluster.start()
  const deadId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const deadAddr = `/ip4/127.0.0.1/tcp/${await deadPort()}/p2p/${deadId}`

  const a = await cluster.start({ bootstrap: [deadAddr] })
  const libp2p = a.host.libp2p
  // Bootstrap records the peer and dials it; libp2p notes the failed dial in the store.
  await eventually(async () => (await libp2p.peerStore.get(peerIdFromString(deadId))).metadata.has(LAST_DIAL_FAILURE),
    'A to try and fail the dial to its dead bootstrap peer', STEP_TIMEOUT_MS)

  assert.equal(libp2p.status, 'started')
  const status = a.status()
  assert.equal(status.peerId, a.peerId)
  assert.deepEqual(status.bootstrap, [deadAddr])
  assert.equal(status.connections, 0)
  assert.ok(status.addresses.length > 0, 'A lost its listen addresses')

  // Still healthy both ways: it dials out, and it can be dialled.
  await a.connect(tcpAddress(live), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  await a.ping(live.peerId, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  const other = await cluster.start()
  await other.connect(tcpAddress(a), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  await other.ping(a.peerId, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  assert.ok(!(await connectedTo(a, deadId)))
})

test('a dead bootstrap entry does not keep a node from its live ones', async () => {
  const live = await cluster.start()
  const deadId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const deadAddr = `/ip4/127.0.0.1/tcp/${await deadPort()}/p2p/${deadId}`
  const a = await cluster.start({ bootstrap: [deadAddr, tcpAddress(live)] })
  await eventually(async () => await connectedTo(a, live.peerId), 'A to connect to its live bootstrap peer', STEP_TIMEOUT_MS)
})
