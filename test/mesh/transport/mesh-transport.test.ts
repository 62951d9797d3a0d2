// libp2p over the mesh transport: real Peernet nodes (real libp2p, Noise, yamux) whose
// only path to each other is an in-memory lossy datagram service standing in for the
// mesh. They listen on nothing but /peernet-mesh, run mDNS off and know no bootstrap
// peer, so every byte between them crosses the lossy stream channels.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { Cluster, eventually } from '../../host/cluster.ts'
import type { Peernet } from '../../../src/node.ts'
import { meshAddress, meshTransport } from '../../../src/mesh/transport/mesh-transport.ts'
import { LossyDatagramHub } from './lossy-datagrams.ts'
import { generateIdentity, peerIdOfPublicKey } from '../../../src/core/identity.ts'

const SINK = '/peernet-test/hash-sink/1.0.0'
const STEP_TIMEOUT_MS = 30_000

const cluster = new Cluster()
const hub = new LossyDatagramHub({ loss: 0.05, duplicate: 0.01, baseDelayMs: 2, jitterMs: 8, mtu: 1000, seed: 4 })

after(async () => {
  await cluster.close()
  hub.close()
})

async function meshNode (): Promise<Peernet> {
  const endpoint = hub.endpoint()
  const node = await cluster.start({ listen: ['/peernet-mesh'] }, cluster.home(), { transports: [meshTransport(endpoint)] })
  endpoint.bind(node.identity.publicKey)
  return node
}

/** Reads a whole stream, hashes it, answers with sha256 ‖ u64 length and closes. */
function serveHashSink (node: Peernet): void {
  void node.host.libp2p.handle(SINK, async (stream: Stream) => {
    const hash = createHash('sha256')
    let length = 0
    for await (const chunk of stream) {
      const bytes = chunk.subarray()
      hash.update(bytes)
      length += bytes.byteLength
    }
    const reply = new Uint8Array(40)
    reply.set(hash.digest(), 0)
    new DataView(reply.buffer).setBigUint64(32, BigInt(length))
    stream.send(reply)
    await stream.close({ signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  })
}

async function sendAll (stream: Stream, data: Uint8Array, signal: AbortSignal): Promise<void> {
  const chunk = 16 * 1024
  for (let at = 0; at < data.byteLength; at += chunk) {
    if (!stream.send(data.subarray(at, at + chunk))) await stream.onDrain({ signal })
  }
  await stream.close({ signal })
}

async function readAll (stream: Stream): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of stream) parts.push(chunk.subarray())
  return Buffer.concat(parts)
}

let a: Peernet
let b: Peernet

test('two nodes connect over the mesh transport only; the remote peer is authenticated both ways', async () => {
  ;[a, b] = await Promise.all([meshNode(), meshNode()])
  assert.deepEqual(a.host.addresses(), [`/peernet-mesh/p2p/${a.peerId}`])
  const { peerId, address } = await a.host.connect(meshAddress(b.peerId).toString(), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  assert.equal(peerId, b.peerId)
  assert.equal(address, `/peernet-mesh/p2p/${b.peerId}`)
  const inbound = await eventually(() => b.host.libp2p.getConnections(peerIdFromString(a.peerId))[0], 'the inbound connection on b', STEP_TIMEOUT_MS)
  assert.equal(inbound.remoteAddr.toString(), `/peernet-mesh/p2p/${a.peerId}`)
  assert.equal(inbound.direction, 'inbound')
})

test('ping works over the mesh transport', async () => {
  const { peerId, rttMs } = await a.host.ping(b.peerId, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  assert.equal(peerId, b.peerId)
  assert.ok(rttMs >= 0 && rttMs < STEP_TIMEOUT_MS)
})

test('a protocol stream moves 1 MiB intact both ways under 5% loss, duplication and reordering', async () => {
  serveHashSink(a)
  serveHashSink(b)
  const signal = AbortSignal.timeout(60_000)
  const transfer = async (from: Peernet, to: Peernet): Promise<void> => {
    const data = randomBytes(1 << 20)
    const stream = await from.host.libp2p.dialProtocol(peerIdFromString(to.peerId), SINK, { signal })
    const [, reply] = await Promise.all([sendAll(stream, data, signal), readAll(stream)])
    assert.equal(reply.byteLength, 40)
    assert.equal(new DataView(reply.buffer, reply.byteOffset).getBigUint64(32), BigInt(data.byteLength))
    assert.deepEqual(Buffer.from(reply.subarray(0, 32)), createHash('sha256').update(data).digest())
  }
  const started = performance.now()
  const droppedBefore = hub.dropped
  await Promise.all([transfer(a, b), transfer(b, a)])
  const seconds = (performance.now() - started) / 1000
  assert.ok(hub.dropped > droppedBefore + 50, `the hub dropped datagrams (${hub.dropped - droppedBefore})`)
  assert.equal(hub.oversize, 0, 'no datagram exceeded the mtu')
  console.log(`# 2 × 1 MiB over 5% loss in ${seconds.toFixed(1)} s, ${hub.sent} datagrams sent, ${hub.dropped} dropped`)
})

test('closing the connection closes it on both sides', async () => {
  // Peernet redials known peers, so the check is on these two connection objects.
  const outbound = a.host.libp2p.getConnections(peerIdFromString(b.peerId))[0]
  assert.ok(outbound !== undefined)
  const inbound = await eventually(() => b.host.libp2p.getConnections(peerIdFromString(a.peerId)).find((c) => c.direction !== outbound.direction), 'the other end of the connection on b', STEP_TIMEOUT_MS)
  // Let identify and the ping finish: closing under open streams aborts on TCP as well.
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const started = performance.now()
  await outbound.close({ signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  assert.equal(outbound.status, 'closed')
  await eventually(() => inbound.status === 'closed', 'b to see the connection closed', STEP_TIMEOUT_MS)
  const ms = performance.now() - started
  assert.ok(ms < 3_000, `closing took ${ms} ms`)
  // A fresh connection opens afterwards.
  await a.host.connect(meshAddress(b.peerId).toString(), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
})

test('dialing a key the mesh cannot reach fails at once with a clear error', async () => {
  const unknown = await cluster.start({ listen: [] })
  const started = performance.now()
  await assert.rejects(
    a.host.connect(meshAddress(unknown.peerId).toString(), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) }),
    (err: Error) => /no mesh route to/.test(err.message)
  )
  assert.ok(performance.now() - started < 1_000)
})

test('dialing a reachable key that does not answer fails within the connect timeout', async () => {
  const silent = hub.endpoint()
  const mute = await cluster.start({ listen: [] })
  silent.bind(mute.identity.publicKey) // routable, but no transport behind it answers
  const started = performance.now()
  await assert.rejects(
    a.host.connect(meshAddress(mute.peerId).toString(), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) }),
    (err: Error) => /no answer from the mesh peer/.test(err.message)
  )
  const ms = performance.now() - started
  assert.ok(ms >= 4_500 && ms < 6_500, `gave up after ${ms} ms`)
})

test('dialing a node that runs the transport but does not listen on the mesh is refused at once', async () => {
  const endpoint = hub.endpoint()
  const closed = await cluster.start({ listen: [] }, cluster.home(), { transports: [meshTransport(endpoint)] })
  endpoint.bind(closed.identity.publicKey)
  const started = performance.now()
  await assert.rejects(
    a.host.connect(meshAddress(closed.peerId).toString(), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) }),
    (err: Error) => /refused the stream/.test(err.message)
  )
  const ms = performance.now() - started
  assert.ok(ms < 2_000, `refused after ${ms} ms`)
})

test('a node answering for a key that is not its own fails the Noise check', async () => {
  // The mesh stand-in delivers datagrams for `claimed` to an impostor node: the stream
  // opens, but the upgrader's Noise handshake sees the impostor's key, not the claimed one.
  const claimed = generateIdentity()
  const endpoint = hub.endpoint()
  const impostor = await cluster.start({ listen: ['/peernet-mesh'] }, cluster.home(), { transports: [meshTransport(endpoint)] })
  endpoint.bind(claimed.publicKey)
  await assert.rejects(
    a.host.connect(meshAddress(peerIdOfPublicKey(claimed.publicKey)).toString(), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) }),
    (err: Error) => err.name === 'DialError' && /does not match expected remote identity key/.test(err.message)
  )
  assert.equal(a.host.libp2p.getConnections(peerIdFromString(impostor.peerId)).length, 0)
  assert.equal(a.host.libp2p.getConnections(peerIdFromString(peerIdOfPublicKey(claimed.publicKey))).length, 0)
})
