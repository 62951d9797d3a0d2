// The mesh service with landmark scopes: a node beyond the sender's routes is reached
// through its home (location.ts), with real routers, forwarders, seals and signed
// registrations, over in-memory links (a pipe per neighbour pair, as the medium).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateIdentity, peerIdOfPublicKey } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { Store } from '../../src/core/store.ts'
import { silentLogger } from '../../src/core/log.ts'
import { landmarkLevel } from '../../src/mesh/landmarks.ts'
import type { ScopeConfig } from '../../src/mesh/landmarks.ts'
import { MeshService } from '../../src/mesh/mesh-service.ts'
import type { Link, LinkProvider } from '../../src/mesh/link.ts'
import { memoryLink } from './memory-link.ts'
import { nodeIdOf } from '../../src/mesh/node-id.ts'

/** One landmark level, 1 node in 4; plain nodes reach 1 hop (widened to their landmark). */
const SCOPES: ScopeConfig = { levelBits: [2], scopes: [1, 255], widenAfterMs: 5_000 }

/** Identities for a line whose middle node is the only landmark. */
function lineIdentities (n: number, landmarkAt: number): Identity[] {
  const out: Identity[] = []
  while (out.length < n) {
    const want = out.length === landmarkAt ? 1 : 0
    const id = generateIdentity()
    if (landmarkLevel(nodeIdOf(id.publicKey), SCOPES) === want) out.push(id)
  }
  return out
}

test('a line A–B–L–C–D with L its only landmark: A has no route to D, yet reaches it (and D answers) through D\'s home L', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peernet-mesh-location-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const ids = lineIdentities(5, 2)
  const starts: Array<(link: Link) => void> = []
  const providers: LinkProvider[] = ids.map((_, i) => ({
    kind: 'memory',
    start: async (onLink) => { starts[i] = onLink; await Promise.resolve() },
    stop: async () => { await Promise.resolve() }
  }))
  const stores = ids.map((_, i) => Store.open(join(dir, `n${i}.db`)))
  const services = ids.map((identity, i) => new MeshService({
    identity,
    store: stores[i] as Store,
    providers: [providers[i] as LinkProvider],
    logger: silentLogger,
    scopes: SCOPES,
    timing: { scopeShrinkDelayMs: 0 }
  }))
  t.after(async () => {
    for (const s of services) await s.stop()
    for (const s of stores) s.close()
  })
  for (const s of services) await s.start()
  for (let i = 0; i + 1 < ids.length; i++) {
    const a = memoryLink(`to${i + 1}`, (ids[i + 1] as Identity).publicKey)
    const b = memoryLink(`to${i}`, (ids[i] as Identity).publicKey)
    a.peer = b
    b.peer = a
    starts[i]?.(a)
    starts[i + 1]?.(b)
  }
  const [A, D] = [services[0] as MeshService, services[4] as MeshService]
  const dKey = (ids[4] as Identity).publicKey
  const dId = nodeIdOf(dKey)
  let acked = false
  const deadline = Date.now() + 60_000
  while (!acked && Date.now() < deadline) {
    const r = await A.send(peerIdOfPublicKey(dKey), 'far away', { timeoutMs: 3_000 })
    acked = r.acked
  }
  assert.ok(acked, 'A reached D and D\'s acknowledgement came back')
  // Beyond A's routes: the landmark scopes keep D out of A's table.
  assert.equal(A.routes().some((r) => r.dst === dId && r.selected), false, 'A holds no route to D')
  assert.equal(A.reachable(dKey), true, 'reachable through its home')
  assert.ok(D.inbox().some((m) => m.text === 'far away'))
  // D got data from a node it has no route to: it told A its address (a binding update,
  // signed, by A's home), and A's next message goes by that cached address, not by D's homes.
  const until = Date.now() + 10_000
  while (A.locationCounters().cached === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50))
  assert.ok(D.locationCounters().bindingsSent >= 1, JSON.stringify(D.locationCounters()))
  assert.equal(A.locationCounters().cached, 1, 'A cached D\'s address')
  assert.equal(A.locationCounters().refused, 0)
  const again = await A.send(peerIdOfPublicKey(dKey), 'by the cached address', { timeoutMs: 10_000 })
  assert.ok(again.acked)
  assert.ok(A.locationCounters().cacheHits >= 1, JSON.stringify(A.locationCounters()))
  // The binding updates went both ways (D's ack came from beyond A's routes too), at most one each within bindingGapMs.
  assert.equal(D.locationCounters().cached, 1)
  assert.equal(D.locationCounters().bindingsSent, 1)
})
