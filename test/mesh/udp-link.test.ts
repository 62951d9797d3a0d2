// Mesh links over UDP. On loopback: two real providers on 127.0.0.1 with their own ports,
// one told of the other (`beaconTo`, as multicast does not run on lo), pass the Link
// compliance suite; a raw UDP socket then plays a neighbour to check what a provider
// refuses (forged, replayed, stale beacons; strangers off its subnets), that it backs
// off, closes silent neighbours and says bye. In network namespaces (when the kernel
// allows them): three hosts in a line find their neighbours by multicast beacon alone,
// never the host two hops away, and a link going down closes within about two seconds.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import type { Socket } from 'node:dgram'
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { generateIdentity } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { udpLinks } from '../../src/mesh/links/udp-link.ts'
import type { UdpLinkOptions, UdpLinkProvider } from '../../src/mesh/links/udp-link.ts'
import { BEACON_BYTES, SOLICIT, decodeBeacon, encodeBeacon } from '../../src/mesh/links/udp-datagram.ts'
import { FrameSeal } from '../../src/mesh/links/udp-frame-seal.ts'
import type { Link } from '../../src/mesh/link.ts'
import { eventually } from '../host/cluster.ts'
import { createNetnsLab, netnsUnavailable } from '../helpers/netns.ts'
import { linkCompliance } from './link-compliance.ts'

const LOOPBACK = '127.0.0.1'
const running = new Set<UdpLinkProvider>()
const sockets = new Set<Socket>()
after(async () => {
  await Promise.allSettled([...running].map(async (p) => { await p.stop() }))
  for (const s of sockets) s.close()
})

interface Started { provider: UdpLinkProvider, identity: Identity, links: Link[] }

async function startUdp (options: Partial<UdpLinkOptions> = {}): Promise<Started> {
  const identity = options.identity ?? generateIdentity()
  const provider = udpLinks({ port: 0, addresses: [LOOPBACK], multicast: false, ...options, identity })
  const links: Link[] = []
  await provider.start((l) => { links.push(l) })
  running.add(provider)
  return { provider, identity, links }
}

async function stopUdp (s: Started): Promise<void> {
  running.delete(s.provider)
  await s.provider.stop()
}

/** A raw UDP socket on loopback that records what it receives. */
async function rawSocket (): Promise<{ socket: Socket, port: number, got: Array<{ data: Buffer, port: number }> }> {
  const socket = createSocket('udp4')
  sockets.add(socket)
  const got: Array<{ data: Buffer, port: number }> = []
  socket.on('message', (data, from) => { got.push({ data, port: from.port }) })
  await new Promise<void>((resolve) => { socket.bind(0, LOOPBACK, resolve) })
  return { socket, port: socket.address().port, got }
}

async function sendRaw (socket: Socket, bytes: Uint8Array, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => { socket.send(bytes, port, LOOPBACK, (err) => { if (err !== null && err !== undefined) reject(err); else resolve() }) })
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

linkCompliance('udp', async () => {
  const x = await startUdp()
  const y = await startUdp({ beaconTo: [`${LOOPBACK}:${x.provider.port}`] })
  const [a, b] = await eventually(() => (x.links.length > 0 && y.links.length > 0) ? [x.links[0] as Link, y.links[0] as Link] as const : undefined, 'a UDP link on both sides', 5_000)
  return {
    a,
    b,
    aKey: x.identity.publicKey,
    bKey: y.identity.publicKey,
    cleanup: async () => { await Promise.all([stopUdp(x), stopUdp(y)]) }
  }
})

test('a port already in use is refused with AddressInUseError naming the port', async () => {
  const x = await startUdp()
  const port = x.provider.port
  await assert.rejects(startUdp({ port }), (err: Error) => {
    assert.equal(err.name, 'AddressInUseError')
    assert.match(err.message, new RegExp(`UDP port ${port} .*already in use`))
    return true
  })
  await stopUdp(x)
})

test('options that cannot work are refused at once with a MeshLinkError', () => {
  const identity = generateIdentity()
  assert.throws(() => udpLinks({ identity, beaconTo: ['192.168.1.7'] }), { name: 'MeshLinkError', message: /"192\.168\.1\.7" is not an IPv4 address and port/ })
  assert.throws(() => udpLinks({ identity, beaconTo: ['host.lan:6697'] }), { name: 'MeshLinkError' })
  assert.throws(() => udpLinks({ identity, addresses: ['fe80::1'] }), { name: 'MeshLinkError' })
  assert.throws(() => udpLinks({ identity, port: 70000 }), { name: 'MeshLinkError' })
  assert.throws(() => udpLinks({ identity, mtu: 65507 }), { name: 'MeshLinkError' })
})

test('static neighbours and the link: one beacon each way opens both ends, in well under a second', async () => {
  const x = await startUdp()
  const startedAt = Date.now()
  const y = await startUdp({ beaconTo: [`${LOOPBACK}:${x.provider.port}`] })
  await eventually(() => x.links.length === 1 && y.links.length === 1, 'both ends', 5_000)
  assert.ok(Date.now() - startedAt < 1_000, `took ${Date.now() - startedAt} ms`)
  assert.equal(x.provider.neighbours().length, 1)
  assert.equal(x.provider.neighbours()[0]?.port, y.provider.port)
  assert.equal(x.provider.neighbours()[0]?.remoteKey, Buffer.from(y.identity.publicKey).toString('hex'))
  await Promise.all([stopUdp(x), stopUdp(y)])
})

test('beacons that are forged, replayed from elsewhere, stale, or from off our subnets open no link; a good one does', async () => {
  const x = await startUdp()
  const raw = await rawSocket()
  const other = await rawSocket()
  const mallory = generateIdentity()
  const victim = generateIdentity()
  const now = Date.now()

  // Signed by mallory but carrying the victim's key.
  const forged = encodeBeacon(mallory, 0, now, LOOPBACK, raw.port)
  forged.set(victim.publicKey, 2)
  await sendRaw(raw.socket, forged, x.provider.port)
  // The victim's genuine beacon for `raw`, replayed from another port.
  await sendRaw(other.socket, encodeBeacon(victim, 0, now, LOOPBACK, raw.port), x.provider.port)
  // Stamped an hour ago, or an hour ahead.
  await sendRaw(raw.socket, encodeBeacon(victim, 0, now - 3600_000, LOOPBACK, raw.port), x.provider.port)
  await sendRaw(raw.socket, encodeBeacon(victim, 0, now + 3600_000, LOOPBACK, raw.port), x.provider.port)
  // Claims another address than the one it comes from.
  await sendRaw(raw.socket, encodeBeacon(victim, 0, now, '127.0.0.2', raw.port), x.provider.port)
  // Truncated, and a frame from a stranger.
  await sendRaw(raw.socket, encodeBeacon(victim, 0, now, LOOPBACK, raw.port).subarray(0, BEACON_BYTES - 1), x.provider.port)
  await sendRaw(raw.socket, new FrameSeal(victim, x.identity.publicKey, 1).seal('frame', Uint8Array.of(1, 2, 3)) as Uint8Array, x.provider.port)
  await sleep(300)
  assert.equal(x.links.length, 0)

  // A node that knows no interface of 127.0.0.1 (addresses: []) takes no beacon from it…
  const offSubnet = await startUdp({ addresses: [] })
  await sendRaw(raw.socket, encodeBeacon(victim, 0, Date.now(), LOOPBACK, raw.port), offSubnet.provider.port)
  await sleep(200)
  assert.equal(offSubnet.links.length, 0)

  // …while the genuine, fresh beacon opens a link (so the refusals above were refusals).
  const genuine = encodeBeacon(victim, 0, Date.now(), LOOPBACK, raw.port)
  await sendRaw(raw.socket, genuine, x.provider.port)
  const link = (await eventually(() => x.links[0], 'the genuine beacon to open a link', 2_000))
  assert.deepEqual(new Uint8Array(link.remoteKey), new Uint8Array(victim.publicKey))
  // It answers with its own signed beacon, to the neighbour's address and port.
  await eventually(() => raw.got.some((g) => decodeBeacon(g.data) !== undefined), 'an answering beacon', 2_000)
  const answer = decodeBeacon(raw.got.find((g) => decodeBeacon(g.data) !== undefined)?.data as Buffer)
  assert.deepEqual(new Uint8Array(answer?.publicKey ?? []), new Uint8Array(x.identity.publicKey))
  assert.equal(answer?.port, x.provider.port)
  // The same beacon again (a replay) does not count as hearing from the neighbour.
  await sleep(300)
  await sendRaw(raw.socket, genuine, x.provider.port)
  await sleep(50)
  assert.equal(x.links.length, 1)
  assert.ok((x.provider.neighbours()[0]?.lastHeardMsAgo ?? 0) >= 300, 'a replayed beacon refreshed the neighbour')
  await Promise.all([stopUdp(x), stopUdp(offSubnet)])
})

test('a neighbour silent past silenceMs is closed and told bye; frames keep a quiet neighbour alive', async () => {
  const x = await startUdp({ timing: { silenceMs: 1_200, interfacePollMs: 100 } })
  const raw = await rawSocket()
  const talker = await rawSocket()
  const ghost = generateIdentity()
  const chatty = generateIdentity()
  await sendRaw(raw.socket, encodeBeacon(ghost, 0, Date.now(), LOOPBACK, raw.port), x.provider.port)
  await sendRaw(talker.socket, encodeBeacon(chatty, 0, Date.now(), LOOPBACK, talker.port), x.provider.port)
  await eventually(() => x.links.length === 2, 'two links', 2_000)
  const reasons: string[] = []
  const ghostLink = x.links.find((l) => Buffer.from(l.remoteKey).equals(ghost.publicKey)) as Link
  const chattyLink = x.links.find((l) => Buffer.from(l.remoteKey).equals(chatty.publicKey)) as Link
  ghostLink.onClose((r) => { reasons.push(r) })
  const startedAt = Date.now()
  // The talker sends a frame every 300 ms and never a beacon.
  const frames: Uint8Array[] = []
  chattyLink.onFrame((f) => { frames.push(f) })
  const talkerSeal = new FrameSeal(chatty, x.identity.publicKey, Date.now())
  const ticker = setInterval(() => { void sendRaw(talker.socket, talkerSeal.seal('frame', Uint8Array.of(2, 9)) as Uint8Array, x.provider.port) }, 300)
  try {
    await eventually(() => reasons.length > 0, 'the silent neighbour to close', 4_000)
    const tookMs = Date.now() - startedAt
    assert.ok(tookMs >= 1_000 && tookMs < 2_500, `closed after ${tookMs} ms`)
    assert.match(reasons[0] as string, /silent/)
    const ghostSeal = new FrameSeal(ghost, x.identity.publicKey, 1)
    await eventually(() => raw.got.some((g) => { const o = ghostSeal.open(new Uint8Array(g.data)); return o.ok && o.kind === 'bye' }), 'a sealed bye to the silent neighbour', 1_000)
    await sleep(800)
    assert.equal(chattyLink.closed, false, 'frames count as being heard')
    assert.ok(frames.length >= 5)
  } finally {
    clearInterval(ticker)
  }
  await stopUdp(x)
})

test('a link opened again to the same neighbour seals under a new session, so the neighbour opens its frames (no nonce reused)', async () => {
  const x = await startUdp({ timing: { silenceMs: 500, interfacePollMs: 100 } })
  const raw = await rawSocket()
  const ghost = generateIdentity()
  // The neighbour's receiving end lives on across x's two links, as it would on a node that never noticed the first one close.
  const fromX = new FrameSeal(ghost, x.identity.publicKey, 1)
  const opened = (): Array<{ kind: string, frame: number[] }> => raw.got.flatMap((g) => { const o = fromX.open(new Uint8Array(g.data)); return o.ok ? [{ kind: o.kind, frame: [...o.frame] }] : [] })
  await sendRaw(raw.socket, encodeBeacon(ghost, 0, Date.now(), LOOPBACK, raw.port), x.provider.port)
  const first = await eventually(() => x.links[0], 'the first link', 2_000)
  assert.equal(first.send(Uint8Array.of(1)), true)
  await eventually(() => raw.got.length > 0 ? true : undefined, 'a datagram', 1_000)
  const seen: Array<{ kind: string, frame: number[] }> = []
  seen.push(...opened())
  raw.got.length = 0
  await eventually(() => first.closed ? true : undefined, 'the silent neighbour closed', 3_000)
  await sendRaw(raw.socket, encodeBeacon(ghost, 0, Date.now(), LOOPBACK, raw.port), x.provider.port)
  const second = await eventually(() => x.links[1], 'the second link', 2_000)
  await eventually(() => raw.got.length > 0 ? true : undefined, 'the bye', 1_000)
  assert.equal(second.send(Uint8Array.of(2)), true)
  await sleep(200)
  seen.push(...opened())
  assert.deepEqual(seen.filter((o) => o.kind === 'frame'), [{ kind: 'frame', frame: [1] }, { kind: 'frame', frame: [2] }])
  await stopUdp(x)
})

test('beacons back off while nothing changes and go fast again on a change', async () => {
  const watcher = await rawSocket()
  const x = await startUdp({ beaconTo: [`${LOOPBACK}:${watcher.port}`], timing: { beaconMinMs: 200, beaconMaxMs: 1_600 } })
  const arrivals: number[] = []
  const flags: number[] = []
  watcher.socket.on('message', (data) => {
    const b = decodeBeacon(data)
    if (b !== undefined) { arrivals.push(Date.now()); flags.push(b.flags) }
  })
  await sleep(5_500)
  // 0, 200, 600, 1400, 3000, 4600 (±10% each): six or so, and the gaps grow to the max.
  const gaps = arrivals.slice(1).map((t, i) => t - (arrivals[i] as number))
  assert.ok(arrivals.length >= 5 && arrivals.length <= 7, `beacons at ${JSON.stringify(gaps)}`)
  assert.ok((gaps[0] as number) < 400, `first gap ${gaps[0]}`)
  assert.ok((gaps[gaps.length - 1] as number) > 1_300, `last gap ${gaps[gaps.length - 1]}`)
  assert.ok(flags.slice(0, 3).every((f) => (f & SOLICIT) !== 0), 'the first beacons solicit answers')
  assert.equal((flags[flags.length - 1] as number) & SOLICIT, 0, 'later ones do not')
  // A neighbour appears: the next beacon comes within the min interval, soliciting again.
  const count = arrivals.length
  const y = await startUdp({ beaconTo: [`${LOOPBACK}:${x.provider.port}`] })
  const changedAt = Date.now()
  await eventually(() => arrivals.length > count, 'a beacon after the change', 2_000)
  assert.ok((arrivals[count] as number) - changedAt < 400, `came ${(arrivals[count] as number) - changedAt} ms after the change`)
  assert.notEqual((flags[count] as number) & SOLICIT, 0)
  await Promise.all([stopUdp(x), stopUdp(y)])
})

// ---- network namespaces: multicast discovery on real segments ------------------------

const FIXTURE = fileURLToPath(new URL('./fixtures/udp-node.ts', import.meta.url))
const unavailable = netnsUnavailable()

interface NodeEvent { event: string, link?: string, key?: string, remote?: string, reason?: string, data?: string, port?: number, iface?: string | null }

interface NsNode {
  key: string
  child: ChildProcess
  events: NodeEvent[]
  command: (c: Record<string, unknown>) => void
  openLinks: () => Map<string, string>
}

function startNsNode (ns: string, options: { multicast?: boolean, broadcast?: boolean, interfacePollMs?: number, watchInterfaces?: boolean } = {}): NsNode {
  const identity = generateIdentity()
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, FIXTURE, Buffer.from(identity.seed).toString('hex'), JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'pipe'] })
  const events: NodeEvent[] = []
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    try { events.push(JSON.parse(line) as NodeEvent) } catch { stderr += line }
  })
  child.on('exit', (code) => { if (code !== 0 && code !== null) events.push({ event: 'exit', reason: `${code} ${stderr}` }) })
  return {
    key: Buffer.from(identity.publicKey).toString('hex'),
    child,
    events,
    command: (c) => { child.stdin?.write(JSON.stringify(c) + '\n') },
    openLinks: () => {
      const links = new Map<string, string>()
      for (const e of events) {
        if (e.event === 'link') links.set(e.link as string, e.key as string)
        if (e.event === 'close') links.delete(e.link as string)
      }
      return links
    }
  }
}

async function stopNsNode (n: NsNode): Promise<void> {
  if (n.child.exitCode !== null) return
  const exited = new Promise((resolve) => { n.child.once('exit', resolve) })
  n.child.kill('SIGTERM')
  const timer = setTimeout(() => { n.child.kill('SIGKILL') }, 3_000)
  await exited
  clearTimeout(timer)
}

test('in namespaces: neighbours on a segment find each other by multicast beacon only, two hops is not a neighbour, a link down closes in ~2 s', { skip: unavailable, timeout: 40_000 }, async (t) => {
  const lab = createNetnsLab()
  const nodes: NsNode[] = []
  try {
    const [ha, hb, hc] = [lab.host('ua'), lab.host('ub'), lab.host('uc')]
    lab.link(ha, hb)
    lab.link(hb, hc)
    const spawnedAt = Date.now()
    const [a, b, c] = [startNsNode(ha.name), startNsNode(hb.name), startNsNode(hc.name)]
    nodes.push(a, b, c)
    const keysOf = (n: NsNode): string[] => [...n.openLinks().values()].sort()
    await eventually(() => a.events.some((e) => e.event === 'ready') && b.events.some((e) => e.event === 'ready') && c.events.some((e) => e.event === 'ready'), 'the three nodes to start', 10_000)
    await eventually(() => keysOf(a).length === 1 && keysOf(b).length === 2 && keysOf(c).length === 1, 'the line A–B–C to find itself', 10_000)
    t.diagnostic(`line found ${Date.now() - spawnedAt} ms after the three processes were spawned`)
    assert.deepEqual(keysOf(a), [b.key])
    assert.deepEqual(keysOf(b), [a.key, c.key].sort())
    assert.deepEqual(keysOf(c), [b.key])
    // Frames go over the veth both ways.
    a.command({ send: b.key, data: 'a1b2' })
    c.command({ send: b.key, data: 'c3' })
    await eventually(() => b.events.some((e) => e.event === 'frame' && e.key === a.key && e.data === 'a1b2') && b.events.some((e) => e.event === 'frame' && e.key === c.key && e.data === 'c3'), 'frames at B', 5_000)
    // Another second of beacons: A and C still never hear of each other.
    await sleep(1_500)
    assert.ok(!a.events.some((e) => e.key === c.key) && !c.events.some((e) => e.key === a.key), 'A and C are two hops apart')

    // The A–B segment goes down: both of its ends close within about two seconds; B–C stays.
    const downAt = Date.now()
    lab.setLink(ha, hb, false)
    await eventually(() => keysOf(a).length === 0 && !keysOf(b).includes(a.key), 'the A–B link to close on both sides', 4_000)
    const tookMs = Date.now() - downAt
    t.diagnostic(`A–B link closed on both sides ${tookMs} ms after the veth went down`)
    assert.ok(tookMs <= 2_500, `closed after ${tookMs} ms`)
    assert.ok(a.events.some((e) => e.event === 'close' && /interface .* down/.test(e.reason ?? '')), JSON.stringify(a.events.filter((e) => e.event === 'close')))
    assert.deepEqual(keysOf(b), [c.key])
    // And back up: they find each other again.
    lab.setLink(ha, hb, true)
    await eventually(() => keysOf(a).length === 1 && keysOf(b).length === 2, 'the A–B link to come back', 10_000)
  } finally {
    await Promise.all(nodes.map(stopNsNode))
    lab.destroy()
  }
})

test('in namespaces: an interface set down closes its links at once from ip monitor, not at the next poll', { skip: unavailable, timeout: 30_000 }, async (t) => {
  const lab = createNetnsLab()
  const nodes: NsNode[] = []
  try {
    const [ha, hb] = [lab.host('wa'), lab.host('wb')]
    lab.link(ha, hb)
    // The poll is a minute away: only the watch can notice the interface going down.
    const slowPoll = { interfacePollMs: 60_000 }
    const [a, b] = [startNsNode(ha.name, slowPoll), startNsNode(hb.name, slowPoll)]
    nodes.push(a, b)
    await eventually(() => [...a.openLinks().values()].includes(b.key) && [...b.openLinks().values()].includes(a.key), 'A and B to find each other', 10_000)
    const [[nsA, devA]] = lab.linkEnds(ha, hb) as [[string, string]]
    const downAt = Date.now()
    execFileSync('ip', ['-n', nsA, 'link', 'set', devA, 'down'])
    await eventually(() => a.openLinks().size === 0 && b.openLinks().size === 0, 'the link to close on both sides (A set down, B lost carrier)', 5_000)
    const tookMs = Date.now() - downAt
    t.diagnostic(`closed on both sides ${tookMs} ms after the interface went down`)
    assert.ok(tookMs < 1_000, `closed after ${tookMs} ms`)
    for (const n of [a, b]) assert.ok(n.events.some((e) => e.event === 'close' && /interface .* down/.test(e.reason ?? '')), JSON.stringify(n.events.filter((e) => e.event === 'close')))
  } finally {
    await Promise.all(nodes.map(stopNsNode))
    lab.destroy()
  }
})

test('in namespaces: subnet broadcast alone finds a neighbour; a send with no route to it closes the link', { skip: unavailable, timeout: 30_000 }, async () => {
  const lab = createNetnsLab()
  const nodes: NsNode[] = []
  try {
    const [ha, hb] = [lab.host('ba'), lab.host('bb')]
    const [addrA] = lab.link(ha, hb)
    const broadcastOnly = { multicast: false, broadcast: true }
    const [a, b] = [startNsNode(ha.name, broadcastOnly), startNsNode(hb.name, broadcastOnly)]
    nodes.push(a, b)
    await eventually(() => [...a.openLinks().values()].includes(b.key) && [...b.openLinks().values()].includes(a.key), 'A and B to find each other by broadcast', 10_000)
    // A loses its route to the segment (the interface stays up): its next send fails.
    execFileSync('ip', ['-n', ha.name, 'route', 'del', addrA.replace(/\.\d+$/, '.0/24')])
    a.command({ send: b.key, data: '02' })
    await eventually(() => a.events.find((e) => e.event === 'close' && e.key === b.key), 'the link to close on the failed send', 3_000)
    const closed = a.events.find((e) => e.event === 'close' && e.key === b.key)
    assert.match(closed?.reason ?? '', /send failed: ENETUNREACH/)
  } finally {
    await Promise.all(nodes.map(stopNsNode))
    lab.destroy()
  }
})
