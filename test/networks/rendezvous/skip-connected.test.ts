// Rendezvous stays quiet for networks whose members are all connected: after its first
// check (which may announce), a member connected to every other member makes no more
// lookups, however often its schedule comes round. Real nodes on loopback, Peernet's DHT.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import type { Peernet } from '../../../src/node.ts'
import { Cluster, eventually, tcpAddress } from '../../host/cluster.ts'
import { parseNetworkId } from '../../../src/networks/manifest.ts'

const STEP_MS = 15_000
// First checks within a fraction of a second, re-checks every ~0.4 s instead of 12 h.
const FAST = { timing: { joinSpreadMs: 300, startSpreadMinMs: 300, startSpreadPerNetworkMs: 0, lookupTimeoutMs: 5_000, recheckMs: 400, jitter: 0.25 } }

const cluster = new Cluster()
after(async () => { await cluster.close() })

test('a member connected to every other member stops looking the network up; a lone member keeps looking', async () => {
  const [a, b] = await Promise.all([0, 1].map(async () => await cluster.start({}, undefined, { rendezvous: FAST }))) as [Peernet, Peernet]
  await b.connect(tcpAddress(a), { signal: AbortSignal.timeout(STEP_MS) })
  const { id, invite } = a.networks.create({ name: 'pair', app: 'chat', policy: 'invite', private: false })
  const net = parseNetworkId(id)
  // A alone in it: it looks (and announces), again and again.
  const first = await eventually(() => a.rendezvous.status(net).lastLookupAt, 'A\'s first lookup', STEP_MS)
  await eventually(() => (a.rendezvous.status(net).lastLookupAt ?? 0) > first, 'A, alone, to look again', STEP_MS)

  b.networks.join(invite as string)
  await eventually(() => a.networks.members(net).length === 2 && b.networks.members(net).length === 2, 'both to see two members', STEP_MS)
  await eventually(() => a.rendezvous.status(net).membersConnected === 1 && b.rendezvous.status(net).membersConnected === 1, 'the two to share a sync session for it', STEP_MS)
  await eventually(() => b.rendezvous.status(net).lastLookupAt, 'B\'s first check after joining', STEP_MS)

  // From here on, every round of both schedules is skipped: lastLookupAt stays put while
  // the next round keeps being scheduled.
  await new Promise((resolve) => setTimeout(resolve, 1_000)) // let rounds already running finish
  const before = [a, b].map((n) => ({ last: n.rendezvous.status(net).lastLookupAt, next: n.rendezvous.status(net).nextLookupAt }))
  await eventually(() => [a, b].every((n, i) => (n.rendezvous.status(net).nextLookupAt ?? 0) > (before[i]?.next ?? Infinity)), 'both schedules to come round', STEP_MS)
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  assert.deepEqual([a, b].map((n) => n.rendezvous.status(net).lastLookupAt), before.map((x) => x.last), 'no lookup while every member is connected')
})
