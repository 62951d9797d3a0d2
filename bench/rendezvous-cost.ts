// What one rendezvous round costs on Peernet's DHT: N in-process nodes on loopback with
// warm routing tables; for fresh random network keys, one node looks up providers (what
// every member does every ~12 h per network) and one announces (what at most
// RENDEZVOUS_SURPLUS members per network do, republished by kad-dht every 24 h). Counts
// the DHT RPCs and estimates their bytes from what the answers carried (peer ids and
// multiaddrs, plus the key and framing), since libp2p does not count bytes per protocol.
// The nodes here listen on one loopback address each; a real node announces several, so
// real answers are larger by about the ratio of address bytes.
//
//   node bench/rendezvous-cost.ts [--nodes N] [--keys K]

import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { Cluster, tcpAddress } from '../test/host/cluster.ts'
import type { Peernet } from '../src/node.ts'
import { rendezvousKey } from '../src/networks/rendezvous/announce-policy.ts'
import { rendezvousCid } from '../src/networks/rendezvous/libp2p-rendezvous.ts'

const { values } = parseArgs({ options: { nodes: { type: 'string' }, keys: { type: 'string' } } })
const N = Number(values.nodes ?? 24)
const K = Number(values.keys ?? 20)

const cluster = new Cluster()
try {
  const nodes: Peernet[] = []
  for (let i = 0; i < N; i++) nodes.push(await cluster.start({ rendezvous: false }))
  const hub = nodes[0] as Peernet
  for (const n of nodes.slice(1)) await n.connect(tcpAddress(hub), { signal: AbortSignal.timeout(60_000) })
  // Warm up: every node walks towards its own id, as kad-dht's self-query does.
  for (const n of nodes) for await (const e of n.host.libp2p.services.dht.getClosestPeers(new TextEncoder().encode(n.peerId), { signal: AbortSignal.timeout(15_000) })) void e
  const lookups: number[] = []
  const provides: number[] = []
  const dials: number[] = []
  let bytes = 0
  for (let k = 0; k < K; k++) {
    const cid = rendezvousCid(rendezvousKey(new Uint8Array(randomBytes(32))))
    const asker = nodes[1 + (k % (N - 1))] as Peernet
    const before = asker.host.libp2p.getConnections().length
    let rpcs = 0
    for await (const e of asker.host.libp2p.services.dht.findProviders(cid, { signal: AbortSignal.timeout(30_000) })) {
      if (e.name === 'QUERY_ERROR') rpcs++
      if (e.name !== 'PEER_RESPONSE') continue
      rpcs++
      // request: type + key (~40 B); answer: each peer's id (38 B) and addresses, ~4 B framing each.
      bytes += 80 + [...e.closer, ...e.providers].reduce((n, p) => n + 42 + p.multiaddrs.reduce((m, a) => m + a.bytes.byteLength + 2, 0), 0)
    }
    lookups.push(rpcs)
    dials.push(Math.max(0, asker.host.libp2p.getConnections().length - before))
    const provider = nodes[1 + ((k * 7) % (N - 1))] as Peernet
    let prpcs = 0
    for await (const e of provider.host.libp2p.services.dht.provide(cid, { signal: AbortSignal.timeout(30_000) })) if (e.name === 'PEER_RESPONSE' || e.name === 'QUERY_ERROR') prpcs++
    provides.push(prpcs)
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
  const result = { nodes: N, keys: K, lookupRpcsMean: mean(lookups), lookupRpcsMax: Math.max(...lookups), lookupBytesMean: Math.round(bytes / K), provideRpcsMean: mean(provides), newConnectionsPerLookupMean: mean(dials) }
  process.stdout.write(JSON.stringify(result) + '\n')
} finally {
  await cluster.close()
}
