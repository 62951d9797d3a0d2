// Mesh links over libp2p: two real Peernet hosts (TCP on loopback, Noise, yamux,
// identify) with the mesh link provider on each. The compliance suite, then what is
// particular to libp2p: who opens, late starts, peers without the protocol, the
// connection closing under the link, stop(), and a sender that outruns the stream.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHost } from '../../src/host/host.ts'
import type { Host } from '../../src/host/host.ts'
import { Store } from '../../src/core/store.ts'
import { generateIdentity } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { silentLogger } from '../../src/core/log.ts'
import { libp2pLinks, MESH_PROTOCOL } from '../../src/mesh/links/libp2p-link.ts'
import type { Link, LinkProvider } from '../../src/mesh/link.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { eventually, LOOPBACK_TCP } from '../host/cluster.ts'
import { linkCompliance } from './link-compliance.ts'

interface TestHost { host: Host, identity: Identity, stop: () => Promise<void> }

const running = new Set<TestHost>()
after(async () => { await Promise.allSettled([...running].map(async (h) => { await h.stop() })) })

async function startHost (options: { listen?: string[], relay?: boolean } = {}): Promise<TestHost> {
  const dir = mkdtempSync(join(tmpdir(), 'peernet-mesh-link-'))
  const store = Store.open(join(dir, 'peernet.db'))
  const identity = generateIdentity()
  const host = await createHost({ identity, store, logger: silentLogger, listen: options.listen ?? [LOOPBACK_TCP], bootstrap: [], mdns: false, publicDht: false, relay: options.relay ?? false, upnp: false })
  const h: TestHost = {
    host,
    identity,
    stop: async () => {
      running.delete(h)
      try { await host.stop() } finally {
        store.close()
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
  running.add(h)
  return h
}

/** Starts a provider and collects the links it announces. */
async function provide (h: TestHost): Promise<{ provider: LinkProvider, links: Link[] }> {
  const provider = libp2pLinks(h.host.libp2p)
  const links: Link[] = []
  await provider.start((l) => { links.push(l) })
  return { provider, links }
}

const open = (links: Link[]): Link[] => links.filter((l) => !l.closed)

const connect = async (from: TestHost, to: TestHost): Promise<void> => {
  const addr = to.host.addresses().find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))
  assert.ok(addr !== undefined)
  await from.host.connect(addr)
}

linkCompliance('libp2p', async () => {
  const [x, y] = await Promise.all([startHost(), startHost()])
  const [px, py] = await Promise.all([provide(x), provide(y)])
  await connect(y, x)
  const [a, b] = await eventually(() => (px.links.length > 0 && py.links.length > 0) ? [px.links[0] as Link, py.links[0] as Link] as const : undefined, 'a mesh link on both hosts', 10_000)
  return {
    a,
    b,
    aKey: x.identity.publicKey,
    bKey: y.identity.publicKey,
    cleanup: async () => {
      await Promise.all([px.provider.stop(), py.provider.stop()])
      await Promise.all([x.stop(), y.stop()])
    }
  }
})

test('the smaller peer id opens the one stream; the link comes up whichever host starts its provider first', async () => {
  const [x, y] = await Promise.all([startHost(), startHost()])
  // Connected and identified before either side runs the mesh.
  await connect(x, y)
  await eventually(async () => (await x.host.libp2p.peerStore.get(y.host.libp2p.peerId)).protocols.length > 0, 'identify', 10_000)
  const py = await provide(y)
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal(py.links.length, 0, 'no link while only one side speaks the protocol')
  const px = await provide(x)
  await eventually(() => px.links.length === 1 && py.links.length === 1, 'one link on each side', 10_000)
  const [lx, ly] = [px.links[0] as Link, py.links[0] as Link]
  // The mesh stream on the connection was opened by the smaller peer id.
  const smallerIsX = x.host.peerId < y.host.peerId
  const conn = x.host.libp2p.getConnections(y.host.libp2p.peerId)[0]
  const meshStreams = conn?.streams.filter((s) => s.protocol === MESH_PROTOCOL) ?? []
  assert.equal(meshStreams.length, 1)
  assert.equal(meshStreams[0]?.direction, smallerIsX ? 'outbound' : 'inbound')
  // It works.
  const got: Uint8Array[] = []
  ly.onFrame((f) => { got.push(f) })
  assert.equal(lx.send(Uint8Array.of(2, 1, 2, 3)), true)
  await eventually(() => got.length === 1, 'a frame', 5_000)
  await Promise.all([px.provider.stop(), py.provider.stop()])
  await Promise.all([x.stop(), y.stop()])
})

test('a peer that does not speak the mesh protocol gets no link', async () => {
  const [x, y] = await Promise.all([startHost(), startHost()])
  const px = await provide(x)
  await connect(x, y)
  await eventually(async () => (await x.host.libp2p.peerStore.get(y.host.libp2p.peerId)).protocols.length > 0, 'identify', 10_000)
  await new Promise((resolve) => setTimeout(resolve, 500))
  assert.equal(px.links.length, 0)
  await px.provider.stop()
  await Promise.all([x.stop(), y.stop()])
})

test('the connection closing closes the link on both sides; reconnecting opens a new one', async () => {
  const [x, y] = await Promise.all([startHost(), startHost()])
  const [px, py] = await Promise.all([provide(x), provide(y)])
  await connect(x, y)
  await eventually(() => open(px.links).length === 1 && open(py.links).length === 1, 'a link on each side', 10_000)
  const reasons: string[] = []
  for (const l of [...px.links, ...py.links]) l.onClose((r) => { reasons.push(r) })
  await x.host.libp2p.hangUp(y.host.libp2p.peerId)
  await eventually(() => reasons.length === 2, 'both ends to close', 5_000)
  assert.ok(px.links.every((l) => l.closed) && py.links.every((l) => l.closed))
  await connect(y, x)
  await eventually(() => open(px.links).length === 1 && open(py.links).length === 1, 'a new link on each side', 10_000)
  assert.equal(px.links.length, 2)
  await Promise.all([px.provider.stop(), py.provider.stop()])
  await Promise.all([x.stop(), y.stop()])
})

test('stop() closes every link, on the far side too, and accepts no new ones', async () => {
  const [x, y] = await Promise.all([startHost(), startHost()])
  const [px, py] = await Promise.all([provide(x), provide(y)])
  await connect(x, y)
  await eventually(() => open(px.links).length === 1 && open(py.links).length === 1, 'a link on each side', 10_000)
  await px.provider.stop()
  await eventually(() => py.links.every((l) => l.closed), 'the far side to close', 3_000)
  assert.ok(px.links.every((l) => l.closed))
  // Still connected, but x no longer serves the protocol: no new link either way.
  await new Promise((resolve) => setTimeout(resolve, 500))
  assert.equal(open(py.links).length, 0)
  assert.ok(x.host.libp2p.getConnections(y.host.libp2p.peerId).length > 0)
  await py.provider.stop()
  await Promise.all([x.stop(), y.stop()])
})

test('a sender that outruns the stream is refused (send returns false), never blocked or failed', async () => {
  const [x, y] = await Promise.all([startHost(), startHost()])
  const [px, py] = await Promise.all([provide(x), provide(y)])
  await connect(x, y)
  await eventually(() => open(px.links).length === 1 && open(py.links).length === 1, 'a link on each side', 10_000)
  const [lx, ly] = [px.links[0] as Link, py.links[0] as Link]
  let received = 0
  ly.onFrame(() => { received++ })
  // 64 MiB offered in one synchronous burst: far more than the stream window and queue.
  const frame = new Uint8Array(lx.mtu).fill(7)
  let accepted = 0
  let refused = 0
  for (let i = 0; i < 1024; i++) {
    if (lx.send(frame)) accepted++
    else refused++
  }
  assert.ok(refused > 0, 'some frames refused')
  assert.ok(accepted > 0 && accepted < 64, `accepted ${accepted}`)
  assert.equal(lx.closed, false)
  // What was accepted arrives, and the link carries frames again afterwards.
  await eventually(() => received === accepted, `the ${accepted} accepted frames (have ${received})`, 10_000)
  await eventually(() => lx.send(Uint8Array.of(1)), 'room again', 5_000)
  await eventually(() => received === accepted + 1, 'one more frame', 5_000)
  await Promise.all([px.provider.stop(), py.provider.stop()])
  await Promise.all([x.stop(), y.stop()])
})

test('no link over a limited (relayed) connection; the relay, directly connected to both, is a neighbour of each', async () => {
  // As in test/host/relay.test.ts: the node behind listens only through the relay and the
  // dialer listens on nothing, so the relayed connection is their only path.
  const relay = await startHost({ relay: true })
  const [behind, dialer] = await Promise.all([startHost({ listen: ['/p2p-circuit'] }), startHost({ listen: [] })])
  const [pr, pb, pd] = await Promise.all([provide(relay), provide(behind), provide(dialer)])
  await connect(behind, relay)
  const circuit = await eventually(() => behind.host.addresses().find((a) => a.includes('/p2p-circuit')), 'a reservation on the relay', 10_000)
  await dialer.host.connect(circuit)
  const relayed = dialer.host.libp2p.getConnections(behind.host.libp2p.peerId)
  assert.ok(relayed.length > 0 && relayed.every((c) => c.limits !== undefined), 'the dialer reaches the node behind by a limited connection only')
  const keys = (links: Link[]): string[] => open(links).map((l) => Buffer.from(l.remoteKey).toString('hex')).sort()
  const hex = (h: TestHost): string => Buffer.from(h.identity.publicKey).toString('hex')
  await eventually(() => keys(pr.links).length === 2 && keys(pb.links).length === 1 && keys(pd.links).length === 1, 'links to the relay', 10_000)
  // Identify has run over the relayed connection too; give a wrong link time to appear.
  await eventually(async () => (await dialer.host.libp2p.peerStore.get(behind.host.libp2p.peerId)).protocols.includes(MESH_PROTOCOL), 'identify over the relayed connection', 10_000)
  await new Promise((resolve) => setTimeout(resolve, 500))
  assert.deepEqual(keys(pb.links), [hex(relay)])
  assert.deepEqual(keys(pd.links), [hex(relay)])
  assert.deepEqual(keys(pr.links), [hex(behind), hex(dialer)].sort())
  await Promise.all([pr.provider.stop(), pb.provider.stop(), pd.provider.stop()])
  await Promise.all([relay.stop(), behind.stop(), dialer.stop()])
})

test('two connections to one peer: one link; when its connection closes, a new link opens on the other', async () => {
  const [x, y] = await Promise.all([startHost(), startHost()])
  const [px, py] = await Promise.all([provide(x), provide(y)])
  await connect(x, y)
  await eventually(() => open(px.links).length === 1 && open(py.links).length === 1, 'a link on each side', 10_000)
  // A second connection between the same two peers (libp2p reuses one unless forced).
  const addr = y.host.addresses().find((a) => a.startsWith('/ip4/127.0.0.1/tcp/')) as string
  await x.host.libp2p.dial(multiaddr(addr), { force: true })
  await eventually(() => x.host.libp2p.getConnections(y.host.libp2p.peerId).length === 2, 'two connections', 5_000)
  await new Promise((resolve) => setTimeout(resolve, 500))
  assert.equal(px.links.length, 1, 'still one link: the second connection\'s identify opened none')
  assert.equal(py.links.length, 1)
  // Close the connection that carries the link.
  const carrying = x.host.libp2p.getConnections(y.host.libp2p.peerId).find((c) => c.streams.some((s) => s.protocol === MESH_PROTOCOL))
  assert.ok(carrying !== undefined)
  await carrying.close()
  await eventually(() => open(px.links).length === 1 && open(py.links).length === 1 && px.links.length === 2 && py.links.length === 2, 'a new link on each side', 10_000)
  const [lx, ly] = [open(px.links)[0] as Link, open(py.links)[0] as Link]
  const got: Uint8Array[] = []
  ly.onFrame((f) => { got.push(f) })
  assert.equal(lx.send(Uint8Array.of(1, 2)), true)
  await eventually(() => got.length === 1, 'a frame over the new link', 5_000)
  await Promise.all([px.provider.stop(), py.provider.stop()])
  await Promise.all([x.stop(), y.stop()])
})
