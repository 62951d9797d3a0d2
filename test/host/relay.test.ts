// Circuit relay v2 (libp2p's /libp2p/circuit/relay/0.2.0/hop and /stop) and Peernet's
// `relay` setting: a node with relay on lets a node listening on /p2p-circuit take a
// reservation and be reached through it; a node without it refuses to relay.
//
// On loopback every listener is reachable, and libp2p (autoNAT, the DHT, dials by peer
// id) happily opens a direct connection whenever it can. So the node behind the relay
// listens only on /p2p-circuit, and the dialers listen on nothing: the relay is the
// only path between them, as behind two NATs.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Peernet } from '../../src/node.ts'
import { Cluster, eventually, tcpAddress } from './cluster.ts'

const HOP = '/libp2p/circuit/relay/0.2.0/hop'
const STOP = '/libp2p/circuit/relay/0.2.0/stop'
const STEP_TIMEOUT_MS = 10_000
/** How long a node behind a non-relay gets to (wrongly) show a circuit address. */
const NO_RESERVATION_WAIT_MS = 2_500

const cluster = new Cluster()
let relay: Peernet
let plain: Peernet
let dialer: Peernet

const circuitAddresses = (node: Peernet): string[] => node.host.addresses().filter((a) => a.includes('/p2p-circuit'))

before(async () => {
  ;[relay, plain, dialer] = await Promise.all([cluster.start({ relay: true }), cluster.start(), cluster.start({ listen: [] })])
})

after(async () => { await cluster.close() })

test('only a node with relay: true serves the hop protocol', () => {
  assert.ok(relay.host.libp2p.getProtocols().includes(HOP), `the relay does not serve ${HOP}: ${relay.host.libp2p.getProtocols().join(', ')}`)
  assert.equal(relay.status().relay, true)
  assert.ok(!plain.host.libp2p.getProtocols().includes(HOP), 'a node without relay: true serves the hop protocol')
  // Every node can be the far end of a circuit.
  assert.ok(plain.host.libp2p.getProtocols().includes(STOP))
})

test('a node behind the relay is connected to and pinged through limited, relayed connections', async () => {
  const behind = await cluster.start({ listen: ['/p2p-circuit'] })
  await behind.connect(tcpAddress(relay), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  const viaRelay = `/p2p/${relay.peerId}/p2p-circuit/p2p/${behind.peerId}`
  const circuitAddr = await eventually(() => circuitAddresses(behind).find((a) => a.includes(viaRelay)),
    'a reservation on the relay (a /p2p-circuit address through it)', STEP_TIMEOUT_MS)
  assert.ok(circuitAddr.startsWith(tcpAddress(relay)), `circuit address ${circuitAddr} does not start with the relay's address`)
  const behindId = peerIdFromString(behind.peerId)

  /** Every connection between `from` and the node behind is relayed by `relay` and limited. */
  const assertOnlyRelayed = async (from: Peernet): Promise<void> => {
    const fromId = peerIdFromString(from.peerId)
    const out = from.host.libp2p.getConnections(behindId)
    assert.ok(out.length > 0, `${from.peerId} has no connection to the node behind the relay`)
    for (const conn of out) {
      assert.ok(conn.remoteAddr.toString().includes(viaRelay), `connection ${conn.remoteAddr.toString()} does not go through the relay`)
      assert.ok(conn.limits !== undefined, `connection ${conn.remoteAddr.toString()} carries no relay limits`)
    }
    // The far end registers its inbound half a moment after the dialer's call returns.
    const inbound = await eventually(() => { const c = behind.host.libp2p.getConnections(fromId); return c.length > 0 && c },
      'the node behind the relay to see the inbound connection', STEP_TIMEOUT_MS)
    assert.ok(inbound.every((c) => c.remoteAddr.toString().includes('/p2p-circuit') && c.limits !== undefined),
      `the node behind the relay sees ${inbound.map((c) => c.remoteAddr.toString()).join(', ')}`)
    // The relay carries both halves.
    assert.ok(relay.host.libp2p.getConnections(fromId).length > 0, 'the relay has no connection to the dialer')
    assert.ok(relay.host.libp2p.getConnections(behindId).length > 0, 'the relay has no connection to the node behind it')
  }

  // connect() to the circuit address.
  assert.equal(dialer.host.libp2p.getConnections(behindId).length, 0, 'the dialer is already connected to the node behind the relay')
  const connected = await dialer.connect(circuitAddr, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  assert.equal(connected.peerId, behind.peerId)
  assert.ok(connected.address.includes(viaRelay), `connection address ${connected.address} is not a circuit through the relay`)
  await assertOnlyRelayed(dialer)

  // ping() of the circuit address, as first contact: dials the circuit, pings over it.
  // A fresh node on purpose: after connect(), ping(multiaddr) dials a second circuit
  // (libp2p never reuses a limited connection for a dial) that is sometimes closed
  // while opening, a flaw of host.ts's ping() this test does not cover.
  const pinger = await cluster.start({ listen: [] })
  const { rttMs, peerId } = await pinger.ping(circuitAddr, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  assert.equal(peerId, behind.peerId)
  assert.ok(Number.isFinite(rttMs) && rttMs >= 0, `ping rtt ${rttMs}`)
  await assertOnlyRelayed(pinger)
})

test('a node without relay: true gives no reservation and relays no dial', async () => {
  const behind = await cluster.start({ listen: ['/p2p-circuit'] })
  await behind.connect(tcpAddress(plain), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  await new Promise((resolve) => setTimeout(resolve, NO_RESERVATION_WAIT_MS))
  assert.deepEqual(circuitAddresses(behind), [], 'a reservation appeared on a node without relay: true')

  const throughPlain = `${tcpAddress(plain)}/p2p-circuit/p2p/${behind.peerId}`
  await assert.rejects(dialer.connect(throughPlain, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) }),
    { name: 'DialError', message: /could not negotiate \/libp2p\/circuit\/relay\/0\.2\.0\/hop/ })
  assert.equal(dialer.host.libp2p.getConnections(peerIdFromString(behind.peerId)).length, 0)
})
