// State is derived in the total order (ts, author, device, seq), whatever order entries
// arrive in: stores that receive the same chains in different orders, and in different
// pieces, end up holding the same entries, the same members and the same chat. The hard
// cases are entries that a late arrival invalidates: joins racing for an invite's last
// uses, and a member's entries past the heads its removal names.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { generateIdentity } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { encodeCanonical } from '../../src/core/encoding.ts'
import type { CanonicalValue } from '../../src/core/encoding.ts'
import { buildHeaders, entryHash, signHeaders } from '../../src/networks/entry.ts'
import type { Entry } from '../../src/networks/entry.ts'
import type { LogStore } from '../../src/networks/log-store.ts'
import { createInvite, grantValue } from '../../src/networks/invite.ts'
import { chatApp } from '../../src/apps/chat/chat.ts'
import type { ChatMessageView } from '../../src/apps/chat/chat.ts'
import { TempDirs, hex, makeNetwork } from './fixtures.ts'
import type { TestNetwork } from './fixtures.ts'

const NOW = 5_000

/** One chain's entries, signed outside any store (as its writer's node made them). */
function chainOf (net: TestNetwork, who: Identity, items: Array<{ type: string, body: CanonicalValue, ts: number }>): Entry[] {
  const raw = items.map((i) => ({ type: i.type, ts: i.ts, body: encodeCanonical(i.body) }))
  const headers = buildHeaders(net.id, who.publicKey, who.publicKey, undefined, raw)
  const auths = signHeaders(who, headers)
  return headers.map((header, i) => ({ header, auth: auths[i] as Entry['auth'], body: raw[i]?.body as Uint8Array }))
}

function view (store: LogStore, net: TestNetwork): { hashes: string[], members: string[], chat: string[] } {
  return {
    hashes: store.log(net.id, 100_000).map((s) => hex(s.hash)).sort(),
    members: store.members(net.id).map((m) => `${hex(m.account)}:${m.role}`).sort(),
    chat: (chatApp.queries.read?.(store.db, net.id, { limit: 10_000 }) as ChatMessageView[]).map((m) => m.text)
  }
}

test('any arrival order and split of the same chains gives the same store (fast-check)', () => {
  const dirs = new TempDirs()
  try {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 100, max: 10_000 }), { minLength: 3, maxLength: 3 }), // racing joins' ts
      fc.integer({ min: 50, max: 10_000 }), // the removal's ts
      fc.array(fc.nat(), { minLength: 12, maxLength: 12 }), // shuffles and splits
      (joinTs, removalTs, noise) => {
        const net = makeNetwork({ policy: 'invite' })
        const twoUses = { invite: grantValue(createInvite(net.creator, net.manifest, { role: 'member', expires: null, uses: 2, addrs: [], keys: [] }).grant) }
        const anyUses = { invite: grantValue(createInvite(net.creator, net.manifest, { role: 'member', expires: null, uses: null, addrs: [], keys: [] }).grant) }
        const racers = [generateIdentity(), generateIdentity(), generateIdentity()]
        const m = generateIdentity()
        const chains: Entry[][] = racers.map((r, i) => {
          const ts = joinTs[i] ?? 100
          return chainOf(net, r, [{ type: 'peernet/join', body: twoUses, ts }, { type: 'chat/message', body: { text: `racer ${i}` }, ts: ts + 1 }])
        })
        chains.push(chainOf(net, m, [
          { type: 'peernet/join', body: anyUses, ts: 10 },
          { type: 'chat/message', body: { text: 'm kept' }, ts: 20 },
          { type: 'chat/message', body: { text: 'm past the heads' }, ts: 30 }
        ]))
        chains.push(chainOf(net, net.creator, [
          { type: 'chat/message', body: { text: 'hello' }, ts: 40 },
          { type: 'peernet/remove', body: { member: m.publicKey, heads: [{ device: m.publicKey, seq: 2 }] }, ts: removalTs }
        ]))
        const stores = [dirs.logStore(), dirs.logStore()]
        for (const [si, s] of stores.entries()) {
          s.addNetwork(net.manifest, [], NOW)
          // This store's order of chains, and where each chain is split in two.
          const order = chains.map((c, i) => ({ c, key: noise[(si * 5 + i) % noise.length] ?? 0 })).sort((a, b) => a.key - b.key)
          const pieces = order.flatMap(({ c, key }) => {
            const cut = key % (c.length + 1)
            return [c.slice(0, cut), c.slice(cut)].filter((p) => p.length > 0)
          })
          // Sync re-asks for what was refused for want of something else, until nothing changes.
          for (let round = 0; round < 4; round++) for (const p of pieces) s.ingest(p, NOW)
        }
        const [a, b] = stores.map((s) => view(s, net)) as [ReturnType<typeof view>, ReturnType<typeof view>]
        assert.deepEqual(a, b)
        // Two uses: exactly the two earliest racers (in the total order) are members.
        const racerMembers = racers.filter((r) => a.members.some((x) => x.startsWith(hex(r.publicKey))))
        assert.equal(racerMembers.length, 2)
        const earliest = racers.map((r, i) => ({ r, k: `${String(joinTs[i]).padStart(6, '0')}${hex(r.publicKey)}` })).sort((x, y) => x.k < y.k ? -1 : 1).slice(0, 2).map((x) => hex(x.r.publicKey)).sort()
        assert.deepEqual(racerMembers.map((r) => hex(r.publicKey)).sort(), earliest)
        // The removed member's entry past the heads is nowhere; the one within them stays.
        assert.ok(!a.chat.includes('m past the heads'))
        assert.ok(a.chat.includes('m kept'))
        assert.ok(!a.hashes.includes(hex(entryHash((chains[3] as Entry[])[2]?.header as Entry['header']))))
      }
    ), { numRuns: 40 })
  } finally {
    dirs.cleanup()
  }
})
