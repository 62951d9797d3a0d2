// Interop: an unmodified libp2p node, built here from libp2p's own packages and nothing
// of Peernet's, dials the real Peernet daemon (a separate process), pings it and sees
// Peernet's protocols in identify; the daemon, asked through its CLI, lists it back.
// Everything stays on 127.0.0.1.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import type { Ping } from '@libp2p/ping'
import type { IdentifyResult, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { cli, startDaemon } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'

// Written out rather than imported from src/: the point is what a stranger's node sees.
const PEERNET_KAD_PROTOCOL = '/peernet/kad/1.0.0'
const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const IDENTIFY_PROTOCOL = '/ipfs/id/1.0.0'

const STEP_TIMEOUT_MS = 10_000

type StockNode = Libp2p<{ identify: Identify, ping: Ping }>

let home: string
let daemon: Daemon | undefined
let stock: StockNode | undefined
let daemonAddr: Multiaddr
let daemonPeer: PeerId
let identified: IdentifyResult

/** The daemon's logs, appended to assertion messages so a failure explains itself. */
const logs = (): string => `\ndaemon stderr:\n${daemon?.stderr() ?? '(not started)'}`

/** Resolves with the first identify result for `peer`, or rejects when `signal` fires. */
async function nextIdentify (node: StockNode, peer: string, signal: AbortSignal): Promise<IdentifyResult> {
  return await new Promise((resolve, reject) => {
    const onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
      if (evt.detail.peerId.toString() !== peer) return
      cleanup()
      resolve(evt.detail)
    }
    const onAbort = (): void => {
      cleanup()
      reject(new Error(`no identify from ${peer} within ${STEP_TIMEOUT_MS / 1000}s${logs()}`, { cause: signal.reason }))
    }
    const cleanup = (): void => {
      node.removeEventListener('peer:identify', onIdentify)
      signal.removeEventListener('abort', onAbort)
    }
    node.addEventListener('peer:identify', onIdentify)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'peernet-interop-'))
  daemon = await startDaemon(home)

  const tcpAddr = daemon.addresses.find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))
  assert.ok(tcpAddr !== undefined, `the daemon printed no loopback TCP address: ${daemon.addresses.join(', ')}${logs()}`)
  daemonAddr = multiaddr(tcpAddr)

  stock = await createLibp2p({
    addresses: { listen: [] }, // dial-only: the daemon cannot and need not dial back
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() }
  })

  // Listen before dialling: identify runs as soon as the connection opens.
  const identifiedPromise = nextIdentify(stock, daemon.peerId, AbortSignal.timeout(STEP_TIMEOUT_MS))
  identifiedPromise.catch(() => {}) // awaited below; keep a failed dial from leaving it unhandled
  const conn = await stock.dial(daemonAddr, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  daemonPeer = conn.remotePeer
  identified = await identifiedPromise
})

after(async () => {
  try {
    await stock?.stop()
  } finally {
    try {
      await daemon?.stop()
    } finally {
      rmSync(home, { recursive: true, force: true })
    }
  }
})

test('the stock node reaches the peer id the daemon printed', () => {
  assert.equal(daemonPeer.toString(), daemon?.peerId, logs())
  assert.equal(daemonAddr.getComponents().find((c) => c.name === 'p2p')?.value, daemon?.peerId, 'the printed address names the printed peer id')
})

test('the stock node pings the daemon over /ipfs/ping/1.0.0', async () => {
  const rtt = await stock!.services.ping.ping(daemonAddr, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  assert.equal(typeof rtt, 'number')
  assert.ok(Number.isFinite(rtt) && rtt >= 0, `round-trip time ${rtt} ms is not a finite non-negative number`)
})

test('identify shows Peernet\'s protocols and agent to the stock node', async () => {
  for (const protocol of [PEERNET_KAD_PROTOCOL, PING_PROTOCOL, IDENTIFY_PROTOCOL]) {
    assert.ok(identified.protocols.includes(protocol), `identify lacks ${protocol}; got ${identified.protocols.join(', ')}${logs()}`)
  }

  // The same facts, as libp2p keeps them in the stock node's peer store.
  const stored = await stock!.peerStore.get(daemonPeer)
  for (const protocol of [PEERNET_KAD_PROTOCOL, PING_PROTOCOL, IDENTIFY_PROTOCOL]) {
    assert.ok(stored.protocols.includes(protocol), `peer store lacks ${protocol}; got ${stored.protocols.join(', ')}`)
  }
  const agentBytes = stored.metadata.get('AgentVersion')
  assert.ok(agentBytes !== undefined, 'peer store has no AgentVersion for the daemon')
  const agent = new TextDecoder().decode(agentBytes)
  assert.ok(agent.startsWith('peernet/'), `agent version "${agent}" does not start with "peernet/"`)
  assert.equal(identified.agentVersion, agent)
})

test('the daemon lists the stock node in `peernet peers --json`', async () => {
  const want = stock!.peerId.toString()
  // The daemon registers the inbound connection on its own schedule; give it a moment.
  const deadline = Date.now() + STEP_TIMEOUT_MS
  let listed: unknown
  for (;;) {
    const { stdout } = await cli(['peers', '--json', '--home', home])
    listed = JSON.parse(stdout)
    assert.ok(Array.isArray(listed), `peers --json is not an array: ${stdout}`)
    const peers = listed as Array<{ peerId?: unknown, direction?: unknown, addresses?: unknown }>
    const entry = peers.find((p) => p.peerId === want)
    if (entry !== undefined) {
      assert.equal(entry.direction, 'inbound')
      assert.ok(Array.isArray(entry.addresses) && entry.addresses.some((a) => typeof a === 'string' && a.startsWith('/ip4/127.0.0.1/tcp/')),
        `expected a loopback TCP address, got ${JSON.stringify(entry.addresses)}`)
      return
    }
    if (Date.now() > deadline) break
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  assert.fail(`the daemon does not list ${want}; it lists ${JSON.stringify(listed)}${logs()}`)
})
