// Peernet's own Kademlia DHT (kad-dht under /peernet/kad/1.0.0, server mode): five
// in-process nodes in a star around a hub. Leaves dial only the hub; finding another
// leaf, or the providers of a CID, is done with the DHT's FIND_NODE and GET_PROVIDERS
// queries (local caches skipped, and the answering peer checked to be a remote one).

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { peerIdFromString } from '@libp2p/peer-id'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import type { Peernet } from '../../src/node.ts'
import { Cluster, eventually, tcpAddress, transportPart } from './cluster.ts'

// Written out rather than imported from src/: these are the wire ids that must hold.
const PEERNET_KAD = '/peernet/kad/1.0.0'
const PUBLIC_KAD = '/ipfs/kad/1.0.0'
const STEP_TIMEOUT_MS = 10_000

const cluster = new Cluster()
let hub: Peernet
let a: Peernet
let b: Peernet
let c: Peernet

const dhtOf = (node: Peernet): SingleKadDHT => node.host.libp2p.services.dht as SingleKadDHT
const tableSize = (node: Peernet): number => dhtOf(node).routingTable.size

before(async () => {
  hub = await cluster.start()
  ;[a, b, c] = await Promise.all([cluster.start(), cluster.start(), cluster.start()])
  const hubAddr = tcpAddress(hub)
  for (const leaf of [a, b, c]) await leaf.connect(hubAddr, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  await eventually(() => tableSize(hub) >= 3, 'the hub to have every leaf in its routing table', STEP_TIMEOUT_MS)
  for (const leaf of [a, b, c]) await eventually(() => tableSize(leaf) >= 1, 'each leaf to have the hub in its routing table', STEP_TIMEOUT_MS)
})

after(async () => { await cluster.close() })

test('the DHT runs in server mode and speaks only /peernet/kad/1.0.0', async () => {
  for (const node of [hub, a, b, c]) {
    const protocols = node.host.libp2p.getProtocols()
    assert.ok(protocols.includes(PEERNET_KAD), `${node.peerId} does not serve ${PEERNET_KAD}: ${protocols.join(', ')}`)
    assert.ok(!protocols.includes(PUBLIC_KAD), `${node.peerId} serves the public ${PUBLIC_KAD} without --public-dht`)
    assert.equal(dhtOf(node).getMode(), 'server')
  }
  // What the hub learnt over identify about leaf A: the same, seen from outside.
  const seen = await hub.host.libp2p.peerStore.get(peerIdFromString(a.peerId))
  assert.ok(seen.protocols.includes(PEERNET_KAD), `the hub did not learn ${PEERNET_KAD} from A: ${seen.protocols.join(', ')}`)
  assert.ok(!seen.protocols.includes(PUBLIC_KAD))
})

test('peer routing: leaf A finds leaf C, which it did not dial, with a FIND_NODE query', async () => {
  const target = peerIdFromString(c.peerId)
  const cAddr = transportPart(tcpAddress(c))

  // useCache: false skips A's routing table and peer store: this is a FIND_NODE query.
  const found = await a.host.libp2p.peerRouting.findPeer(target, { useCache: false, signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  assert.equal(found.id.toString(), c.peerId)
  const addrs = found.multiaddrs.map((m) => transportPart(m.toString()))
  assert.ok(addrs.includes(cAddr), `findPeer gave ${addrs.join(', ')}, not C's listen address ${cAddr}`)

  // The same lookup at the DHT level shows who answered: a remote peer, not A itself.
  const answeredBy = new Set<string>()
  for await (const event of dhtOf(a).findPeer(target, { useCache: false, signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })) {
    if (event.name === 'FINAL_PEER') answeredBy.add(event.from.toString())
  }
  assert.ok(answeredBy.size > 0 && !answeredBy.has(a.peerId), `FINAL_PEER came from ${[...answeredBy].join(', ') || 'nobody'}`)
})

test('content routing: A provides a CID; a node that joins later finds A as its provider', async () => {
  const cid = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`peernet dht test ${Date.now()}`)))
  await a.host.libp2p.contentRouting.provide(cid, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })

  // D joins after the provide, so no ADD_PROVIDER reached it: it must ask the DHT.
  const d = await cluster.start()
  await d.connect(tcpAddress(hub), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  await eventually(() => tableSize(d) >= 1, 'the late leaf D to have the hub in its routing table', STEP_TIMEOUT_MS)

  const servedBy = new Set<string>()
  for await (const event of dhtOf(d).findProviders(cid, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })) {
    if (event.name === 'PROVIDER' && event.providers.some((p) => p.id.toString() === a.peerId)) servedBy.add(event.from.toString())
  }
  assert.ok(servedBy.size > 0, 'the DHT returned no provider record naming A')
  assert.ok(!servedBy.has(d.peerId), 'D answered from a local record it cannot have had')

  const providers: string[] = []
  for await (const p of d.host.libp2p.contentRouting.findProviders(cid, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })) {
    providers.push(p.id.toString())
    if (p.id.toString() === a.peerId) {
      const addrs = p.multiaddrs.map((m) => transportPart(m.toString()))
      assert.ok(addrs.includes(transportPart(tcpAddress(a))), `A's provider record has ${addrs.join(', ')}, not A's listen address`)
      break
    }
  }
  assert.ok(providers.includes(a.peerId), `findProviders yielded ${providers.join(', ') || 'nothing'}, not A`)
  assert.ok(!providers.includes(b.peerId) && !providers.includes(c.peerId), 'peers that never provided were listed as providers')
})
