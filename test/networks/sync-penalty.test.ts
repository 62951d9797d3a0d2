// Per-peer penalties in the sync shell, against a real Peernet node: a stranger's node,
// built from stock libp2p packages, speaks the sync protocol to it and sends forged and
// foreign entries. Nothing of them is stored; each costs the peer; past the limit the
// node hangs up and refuses the peer's sync streams for a while. Honest gaps cost nothing.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { generateIdentity } from '../../src/core/identity.ts'
import { encodeCanonical } from '../../src/core/encoding.ts'
import { buildHeaders, entryValue, signHeaders } from '../../src/networks/entry.ts'
import type { Entry } from '../../src/networks/entry.ts'
import { parseNetworkId } from '../../src/networks/manifest.ts'
import { FrameReader, SYNC_PROTOCOL, decodeMessage, encodeMessage } from '../../src/networks/sync/messages.ts'
import type { SyncMessage } from '../../src/networks/sync/messages.ts'
import { networkTag } from '../../src/networks/sync/session.ts'
import { Cluster, LOOPBACK_TCP, eventually, tcpAddress } from '../host/cluster.ts'
import { createPeernet } from '../../src/node.ts'
import { createLogger } from '../../src/core/log.ts'

const cluster = new Cluster()
const strangers: Libp2p[] = []
after(async () => {
  await Promise.all(strangers.map(async (s) => { await s.stop() }))
  await cluster.close()
})

async function stranger (): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
  strangers.push(node)
  return node
}

/** A sync stream to the node, with what arrives on it collected. */
async function syncStream (from: Libp2p, to: string): Promise<{ stream: Stream, received: SyncMessage[], ended: Promise<void> }> {
  const stream = await from.dialProtocol(multiaddr(to), SYNC_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  const received: SyncMessage[] = []
  const reader = new FrameReader()
  const ended = (async () => {
    try {
      for await (const chunk of stream) for (const f of reader.push(chunk instanceof Uint8Array ? chunk : chunk.subarray())) received.push(decodeMessage(f))
    } catch { /* aborted by the node: that is the point */ }
  })()
  return { stream, received, ended }
}

function send (stream: Stream, m: SyncMessage): void {
  stream.send(encodeMessage(m))
}

/** Entries of a chain by `author` in `net`, signed by `signer` (a forgery when they differ). */
function entries (net: Uint8Array, authorKey: Uint8Array, count: number, signer = generateIdentity(), startSeq = 0): Entry[] {
  const raw = Array.from({ length: count }, (_v, i) => ({ type: 'chat/message', ts: 1_000 + i, body: encodeCanonical({ text: `m${i}` }) }))
  const head = startSeq === 0 ? undefined : { seq: startSeq, hash: new Uint8Array(32).fill(7) }
  const headers = buildHeaders(net, authorKey, signer.publicKey, head, raw)
  const auths = signHeaders(signer, headers)
  return headers.map((header, i) => ({ header, auth: auths[i] as Entry['auth'], body: raw[i]?.body as Uint8Array }))
}

test('a peer sending forged and foreign entries is refused, penalised, disconnected and banned', async () => {
  const logs: Array<{ msg: string, reason?: string, penalty?: number }> = []
  const node = await createPeernet({ home: cluster.home(), config: { listen: [LOOPBACK_TCP], mdns: false, meshUdp: false }, logger: createLogger({ level: 'warn', write: (line) => { logs.push(JSON.parse(line) as { msg: string }) } }) })
  after(async () => { await node.stop() })
  const { id } = node.networks.create({ name: 'street', app: 'chat', policy: 'open', private: false })
  const net = parseNetworkId(id)
  await node.networks.command(net, 'send', { text: 'the only message' })
  const before = node.networks.logs.entryCount(net)

  const s = await stranger()
  const { stream, received, ended } = await syncStream(s, tcpAddress(node))
  send(stream, { t: 'hello', v: 1, tags: [networkTag(net, s.peerId.toString(), node.peerId)] })
  // The node shares the network with anyone who can compute its tag: it answers with heads.
  await eventually(() => received.some((m) => m.t === 'heads'), 'the node\'s heads', 10_000)

  // An honest gap (a chain we do not hold the start of) is not the peer's fault.
  const creator = node.networks.account.publicKey
  const signer = generateIdentity()
  send(stream, { t: 'entries', entries: entries(net, signer.publicKey, 3, signer, 5).map((e) => entryValue(e)) })
  // Forged: a chain claiming the creator's account, signed by another key (not a delegated
  // device: its first entry is refused, and the rest of that chain, now gaps, cost too —
  // the peer sent them after forging their start); foreign: a network the node is not in.
  const foreign = new Uint8Array(32).fill(9)
  const forged = entries(net, creator, 10, signer, 0).map((e) => entryValue(e))
  send(stream, { t: 'entries', entries: forged })
  send(stream, { t: 'entries', entries: entries(foreign, signer.publicKey, 10, signer).map((e) => entryValue(e)) })
  // Bodies that do not match their hashes, ten per message.
  const tampered = entries(net, signer.publicKey, 10, signer).map((e) => entryValue({ ...e, body: encodeCanonical({ text: 'swapped' }) }))
  send(stream, { t: 'entries', entries: tampered })
  // 10 (the forged chain, every entry) + 10 (foreign) + 10 (tampered), one point each.
  const penalty = (): number => Math.max(0, ...logs.map((l) => l.penalty ?? 0))
  await eventually(() => penalty() >= 30, 'penalties of 30 points', 10_000)
    .catch((err: unknown) => { throw new Error(`${(err as Error).message}; node logs: ${JSON.stringify(logs)}`) })
  assert.equal(penalty(), 30)
  // Below the limit of 50 points: still connected. The reasons say what was wrong.
  assert.ok(s.getConnections(node.host.libp2p.peerId).length > 0, 'still connected below the limit')
  const reasons = new Set(logs.filter((l) => l.msg === 'peer sent invalid data').map((l) => l.reason))
  // One line per ingested batch, naming its first bad entry (several messages may share a batch).
  for (const r of reasons) assert.ok(['a delegated device must open its chain with its delegation', 'entry body does not match its hash', 'entry for a network this node is not in'].includes(r ?? ''), `unexpected reason ${String(r)}`)
  assert.ok(!logs.some((l) => /gap/.test(l.reason ?? '')), 'the honest gap cost nothing')
  send(stream, { t: 'entries', entries: forged })
  send(stream, { t: 'entries', entries: forged })

  await eventually(() => s.getConnections(node.host.libp2p.peerId).length === 0, 'the node to hang up on the misbehaving peer', 10_000)
    .catch((err: unknown) => { throw new Error(`${(err as Error).message}; node side: ${node.host.libp2p.getConnections(s.peerId).map((c) => c.status).join(',')}; stranger side: ${s.getConnections(node.host.libp2p.peerId).map((c) => `${c.status} ${c.direction} ${c.streams.map((x) => x.protocol).join('+')}`).join(',')}`) })
  await ended
  assert.equal(node.networks.logs.entryCount(net), before, 'nothing of the bad entries was stored')
  assert.equal(node.networks.logs.heads(net).length, 1)

  // Banned: a new connection is possible, a sync session is not.
  const again = await syncStream(s, tcpAddress(node)).catch((err: unknown) => err as Error)
  if (!(again instanceof Error)) {
    // The node aborts the stream at once; a hello may or may not get out before it does.
    try { send(again.stream, { t: 'hello', v: 1, tags: [networkTag(net, s.peerId.toString(), node.peerId)] }) } catch (err) { assert.equal((err as Error).name, 'StreamStateError') }
    await Promise.race([again.ended, new Promise((_resolve, reject) => setTimeout(() => { reject(new Error('the banned peer\'s stream stayed open')) }, 10_000))])
    assert.equal(again.received.length, 0, 'a banned peer gets no answer')
  }

  // A well-behaved stranger is served as usual.
  const good = await stranger()
  const ok = await syncStream(good, tcpAddress(node))
  send(ok.stream, { t: 'hello', v: 1, tags: [networkTag(net, good.peerId.toString(), node.peerId)] })
  await eventually(() => ok.received.some((m) => m.t === 'heads'), 'heads for a well-behaved peer', 10_000)
})
