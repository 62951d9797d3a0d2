// A gateway reaching a node beyond the mesh (mesh-service.ts, `bridge`): three mesh
// services M – G – P over in-memory links, real routers, forwarders and seals. The one
// thing that stands in for the Internet is G's `dialBeyond`: the test decides when it
// fails and, when it succeeds, brings up a link G – P, as a libp2p connection would.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateIdentity, peerIdOfPublicKey } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { Store } from '../../src/core/store.ts'
import { silentLogger } from '../../src/core/log.ts'
import { MeshService } from '../../src/mesh/mesh-service.ts'
import type { Link, LinkProvider } from '../../src/mesh/link.ts'
import { nodeIdOf } from '../../src/mesh/node-id.ts'
import { eventually } from '../helpers/processes.ts'
import { memoryLinkPair } from './memory-link.ts'
import type { MemoryLink } from './memory-link.ts'

interface Island {
  m: MeshService
  g: MeshService
  p: MeshService
  pPeer: string
  /** The peer ids G was asked to dial, with when. */
  dials: Array<{ peer: string, at: number }>
  /** Brings up a link G – P (what a connection from G's dial does). */
  connectGP: () => [MemoryLink, MemoryLink]
}

/**
 * M – G linked, G a gateway whose dialBeyond answers with `dial(n)` for its n-th call
 * (0-based): true connects G to P, false fails.
 */
async function island (t: { after: (fn: () => Promise<void>) => void }, dial: (n: number) => boolean): Promise<Island> {
  const dir = mkdtempSync(join(tmpdir(), 'peernet-gateway-bridge-'))
  const ids: Identity[] = [generateIdentity(), generateIdentity(), generateIdentity()]
  const [mId, gId, pId] = ids as [Identity, Identity, Identity]
  const starts: Array<(link: Link) => void> = []
  const stores = ids.map((_, i) => Store.open(join(dir, `n${i}.db`)))
  const dials: Array<{ peer: string, at: number }> = []
  const connectGP = (): [MemoryLink, MemoryLink] => {
    const [toP, toG] = memoryLinkPair(gId.publicKey, pId.publicKey, `gp${dials.length}`)
    starts[1]?.(toP)
    starts[2]?.(toG)
    return [toP, toG]
  }
  const services = ids.map((identity, i) => new MeshService({
    identity,
    store: stores[i] as Store,
    providers: [{ kind: 'memory', start: async (onLink) => { starts[i] = onLink; await Promise.resolve() }, stop: async () => { await Promise.resolve() } } satisfies LinkProvider],
    logger: silentLogger,
    ...(i === 1
      ? {
          gateway: true,
          bridgeRetry: { minMs: 200, maxMs: 1_000 },
          dialBeyond: async (peer: string) => {
            const n = dials.length
            dials.push({ peer, at: Date.now() })
            await new Promise((resolve) => setTimeout(resolve, 20))
            if (!dial(n)) throw new Error('no route to host')
            connectGP()
          }
        }
      : {})
  }))
  t.after(async () => {
    for (const s of services) await s.stop()
    for (const s of stores) s.close()
    rmSync(dir, { recursive: true, force: true })
  })
  for (const s of services) await s.start()
  const [toG, toM] = memoryLinkPair(mId.publicKey, gId.publicKey, 'mg')
  starts[0]?.(toG)
  starts[1]?.(toM)
  const [m, g, p] = services as [MeshService, MeshService, MeshService]
  const gNode = nodeIdOf(gId.publicKey)
  await eventually(async () => await Promise.resolve(m.routes().some((r) => r.dst === gNode && r.gateway && r.selected) ? true : undefined), 'M to hear G\'s default route', 10_000)
  return { m, g, p, pPeer: peerIdOfPublicKey(pId.publicKey), dials, connectGP }
}

test('a gateway keeps dialling a node beyond the mesh while an envelope for it waits in custody, backing off, and delivers it once connected', { timeout: 30_000 }, async (t) => {
  const { m, p, pPeer, dials } = await island(t, (n) => n >= 2)
  // No ack asked: M never retransmits, so only G's own retries can bring P in.
  const sent = await m.send(pPeer, 'out of the island', { ack: false })
  assert.equal(sent.firstHop, 'link', 'toward the gateway')
  await eventually(async () => await Promise.resolve(p.inbox().find((x) => x.text === 'out of the island')), 'P to get the message', 10_000)
  assert.deepEqual(dials.map((d) => d.peer), [pPeer, pPeer, pPeer], 'two failed dials, then one that connects')
  const [d0, d1, d2] = dials.map((d) => d.at) as [number, number, number]
  // Each wait counts from the failure (20 ms after its dial): 200 ms, then 400 ms.
  assert.ok(d1 - d0 >= 200, `second dial ${d1 - d0} ms after the first`)
  assert.ok(d2 - d1 >= 400, `third dial ${d2 - d1} ms after the second: the wait doubled`)
})

test('an envelope sent while its sender still had a route carries no key; the gateway that just lost that node dials it by the key it knows', { timeout: 30_000 }, async (t) => {
  const { m, p, pPeer, dials, connectGP } = await island(t, () => true)
  const [toP] = connectGP()
  await eventually(async () => await Promise.resolve(m.routes().some((r) => r.dst === p.self && r.selected && r.metric < 0xffff) ? true : undefined), 'M\'s route to P through G', 10_000)
  // P's link to G goes; before the retraction reaches M, M sends on its old route.
  toP.close()
  assert.ok(m.routes().some((r) => r.dst === p.self && r.selected && r.metric < 0xffff), 'M still holds its route to P')
  await m.send(pPeer, 'just after the cut', { ack: false })
  await eventually(async () => await Promise.resolve(p.inbox().find((x) => x.text === 'just after the cut')), 'P to get the message', 10_000)
  assert.deepEqual(dials.map((d) => d.peer), [pPeer], 'G dialled P once, by the key it knew')
})
