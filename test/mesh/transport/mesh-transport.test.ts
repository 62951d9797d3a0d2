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
  const node = await cluster.start({ listen: ['/peernet-mesh'], mesh: false }, cluster.home(), { transports: [meshTransport(endpoint)] })
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
  // The mesh address is listened on but never listed or announced (src/host/host.ts).
  assert.deepEqual(a.host.addresses(), [])
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

test('a stream survives a 3 s outage of the mesh path (a route being repaired) and completes intact', async () => {
  const signal = AbortSignal.timeout(60_000)
  const data = randomBytes(512 * 1024)
  const stream = await a.host.libp2p.dialProtocol(peerIdFromString(b.peerId), SINK, { signal })
  const reply = readAll(stream)
  let at = 0
  const chunk = 16 * 1024
  for (; at < data.byteLength / 2; at += chunk) {
    if (!stream.send(data.subarray(at, at + chunk))) await stream.onDrain({ signal })
  }
  const loss = hub.options.loss
  hub.options.loss = 1
  await new Promise((resolve) => setTimeout(resolve, 3_000))
  hub.options.loss = loss
  for (; at < data.byteLength; at += chunk) {
    if (!stream.send(data.subarray(at, at + chunk))) await stream.onDrain({ signal })
  }
  await stream.close({ signal })
  const answer = await reply
  assert.equal(new DataView(answer.buffer, answer.byteOffset).getBigUint64(32), BigInt(data.byteLength))
  assert.deepEqual(Buffer.from(answer.subarray(0, 32)), createHash('sha256').update(data).digest())
})

test('closing the connection closes it on both sides', async () => {
  // Peernet redials known peers, and a and b may hold a connection each way: close all of
  // a's and check that every one of b's that was open then ends closed (not aborted).
  const onA = a.host.libp2p.getConnections(peerIdFromString(b.peerId))
  const onB = b.host.libp2p.getConnections(peerIdFromString(a.peerId))
  assert.ok(onA.length > 0 && onB.length === onA.length, `connections: ${onA.length} on a, ${onB.length} on b`)
  // Let identify and the ping finish: closing under open streams aborts on TCP as well.
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const started = performance.now()
  await Promise.all(onA.map(async (c) => { await c.close({ signal: AbortSignal.timeout(STEP_TIMEOUT_MS) }) }))
  assert.deepEqual(onA.map((c) => c.status), onA.map(() => 'closed'))
  await eventually(() => onB.every((c) => c.status !== 'open'), 'b to see the connections closed', STEP_TIMEOUT_MS)
  assert.deepEqual(onB.map((c) => c.status), onB.map(() => 'closed'))
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
  const closed = await cluster.start({ listen: [], mesh: false }, cluster.home(), { transports: [meshTransport(endpoint)] })
  endpoint.bind(closed.identity.publicKey)
  const started = performance.now()
  await assert.rejects(
    a.host.connect(meshAddress(closed.peerId).toString(), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) }),
    (err: Error) => /refused the stream/.test(err.message)
  )
  const ms = performance.now() - started
  // At once: the first RST answers; a lost SYN or RST (5 % loss) costs a 1–2 s retry, still
  // well before the 5 s connect timeout.
  assert.ok(ms < 4_500, `refused after ${ms} ms`)
})

test('a node answering for a key that is not its own fails the Noise check', async () => {
  // The mesh stand-in delivers datagrams for `claimed` to an impostor node: the stream
  // opens, but the upgrader's Noise handshake sees the impostor's key, not the claimed one.
  const claimed = generateIdentity()
  const endpoint = hub.endpoint()
  const impostor = await cluster.start({ listen: ['/peernet-mesh'], mesh: false }, cluster.home(), { transports: [meshTransport(endpoint)] })
  endpoint.bind(claimed.publicKey)
  await assert.rejects(
    a.host.connect(meshAddress(peerIdOfPublicKey(claimed.publicKey)).toString(), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) }),
    (err: Error) => err.name === 'DialError' && /does not match expected remote identity key/.test(err.message)
  )
  assert.equal(a.host.libp2p.getConnections(peerIdFromString(impostor.peerId)).length, 0)
  assert.equal(a.host.libp2p.getConnections(peerIdFromString(peerIdOfPublicKey(claimed.publicKey))).length, 0)
})

test('a node at its connection limit refuses further mesh connections', async () => {
  const endpoint = hub.endpoint()
  const full = await cluster.start({ listen: ['/peernet-mesh'], mesh: false }, cluster.home(), { transports: [meshTransport(endpoint, { maxConnections: 1 })] })
  endpoint.bind(full.identity.publicKey)
  await a.host.connect(meshAddress(full.peerId).toString(), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  await assert.rejects(
    b.host.connect(meshAddress(full.peerId).toString(), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) }),
    (err: Error) => /refused the stream/.test(err.message)
  )
})
