// Credit payments end to end, each daemon its own process: four daemons in a line
// A–B–C–D with trust lines; D pays A through C and B and every line moves by the right
// amount on both of its sides; a payment over capacity fails cleanly with every hold
// released and no balance changed by it; an intermediary killed (-9) in the middle of a
// flood of payments leaves, after expiry, every line the same on both sides, no hold
// anywhere, and each account's position equal to what its history says it paid,
// received or lost.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cli, cliJson, daemonGroup, eventually, oneErrorLine, startDaemon } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'
import { ApiClient, readApiInfo } from '../../src/api/client.ts'
import type { HistoryView, LineView, PayResult } from '../../src/apps/credit/views.ts'
import { parseAmount } from '../../src/apps/credit/amount.ts'

const NAMES = ['a', 'b', 'c', 'd'] as const
const { homes, daemons } = daemonGroup('credit', [...NAMES])
const api = (home: string): ApiClient => new ApiClient(home, readApiInfo(home))
const lines = async (home: string): Promise<LineView[]> => await api(home).get<LineView[]>('/v1/apps/credit/lines')
const history = async (home: string): Promise<HistoryView[]> => await api(home).get<HistoryView[]>('/v1/apps/credit/history?limit=1000')

/** Every daemon connected to every other (the mesh of a small community). */
async function connectAll (ds: Daemon[]): Promise<void> {
  for (const x of ds) {
    for (const y of ds) {
      if (x === y) continue
      await api(x.home).post('/v1/connect', { address: y.addresses[0] ?? '' }).catch(() => undefined)
    }
  }
}

/** Each line as both of its sides see it; resolves once both sides agree on every line and no hold is left. */
async function settled (hs: string[], accounts: string[], what: string, timeoutMs = 30_000): Promise<Map<string, bigint>> {
  return await eventually(async () => {
    const views = await Promise.all(hs.map(lines))
    const byLine = new Map<string, LineView[]>()
    for (const v of views.flat()) byLine.set(v.line, [...(byLine.get(v.line) ?? []), v])
    for (const sides of byLine.values()) {
      if (sides.length !== 2) return undefined
      const [x, y] = sides as [LineView, LineView]
      if (x.stateHash !== y.stateHash || x.holds !== 0 || y.holds !== 0 || x.pending || y.pending) return undefined
      assert.equal(parseAmount(x.balance.replace('-', '')) * (x.balance.startsWith('-') ? -1n : 1n), -(parseAmount(y.balance.replace('-', '')) * (y.balance.startsWith('-') ? -1n : 1n)), 'mirrored balances')
    }
    // Each account's net position over all its lines.
    const net = new Map<string, bigint>()
    views.forEach((vs, i) => { net.set(accounts[i] as string, vs.reduce((s, v) => s + signed(v.balance), 0n)) })
    return net
  }, what, timeoutMs)
}

const signed = (text: string): bigint => text.startsWith('-') ? -parseAmount(text.slice(1)) : parseAmount(text)

test('four daemons in a line A–B–C–D: D pays A; capacity, and an intermediary killed mid-payment', async (t) => {
  daemons.push(...await Promise.all(homes.map(async (h) => await startDaemon(h))))
  const [homeA, homeB, homeC, homeD] = homes as [string, string, string, string]
  const { id: net, invite } = await cliJson<{ id: string, invite: string }>(['net', 'create', 'valley', '--app', 'credit', '--home', homeA])
  for (const h of [homeB, homeC, homeD]) await api(h).post('/v1/networks/join', { invite })
  await connectAll(daemons)
  const accounts = await Promise.all(homes.map(async (h) => (await api(h).get<{ account: string }>('/v1/account')).account))
  const [alice, bob, carol, dave] = accounts as [string, string, string, string]
  await eventually(async () => {
    for (const h of homes) {
      const m = (await api(h).get<{ members: Array<{ account: string }> }>(`/v1/networks/${net}/members`)).members
      if (m.length !== 4) return undefined
    }
    return true
  }, 'every daemon to know all four members', 30_000)

  // Credit flows from D towards A: each extends credit to the one after it.
  await cliJson(['credit', 'trust', bob, '60', '--unit', 'USD', '--home', homeA])
  await cliJson(['credit', 'trust', carol, '100', '--unit', 'USD', '--home', homeB])
  await cliJson(['credit', 'trust', dave, '100', '--unit', 'USD', '--home', homeC])

  await t.test('D pays A 10 over three hops; every line moves by 10 on both of its sides', async () => {
    const r = await cliJson<PayResult>(['credit', 'pay', alice, '10', '--unit', 'USD', '--home', homeD])
    assert.equal(r.amount, '10')
    assert.equal(r.fee, '0')
    assert.deepEqual(r.routes.map((p) => p.hops.map((h) => h.account)), [[carol, bob, alice]])
    const net = await settled(homes, accounts, 'the payment settled on every line')
    assert.deepEqual([...net.values()], [10_000_000n, 0n, 0n, -10_000_000n])
    const onA = await lines(homeA)
    const onD = await lines(homeD)
    assert.equal(onA.find((l) => l.account === bob)?.balance, '10')
    assert.equal(onD.find((l) => l.account === carol)?.balance, '-10')
    const b = await lines(homeB)
    assert.deepEqual(b.map((l) => [l.account, l.balance]).sort(), [[alice, '-10'], [carol, '10']].sort())
    const sent = (await history(homeD)).find((p) => p.direction === 'sent')
    assert.equal(sent?.status, 'done')
    assert.equal((await history(homeA)).find((p) => p.direction === 'received')?.amount, '10')
    const human = await cli(['credit', 'pay', alice, '1', '--unit', 'USD', '--home', homeD])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /^paid 1 USD to [0-9a-f]{10}; fee 0\n {2}1 via [0-9a-f]{10} \(USD\) → [0-9a-f]{10} \(USD\) → [0-9a-f]{10} \(USD\)$/m)
  })

  await t.test('over capacity: a clear error, every hold released, no balance changed', async () => {
    const before = await settled(homes, accounts, 'quiet lines')
    const over = await cli(['credit', 'pay', alice, '1000', '--unit', 'USD', '--home', homeD])
    assert.equal(over.code, 1)
    // The router may see B's room from a report up to a second old (49 or 50 left).
    assert.match(oneErrorLine(over), /carry at most (49|50) of the 1000 USD \(ILP T04\)/)
    // Two payments at once that each fit but not together: the routes both see room on
    // A–B (49 left), holds go out for both, and B refuses the second forward (T04): its
    // holds upstream are released.
    const both = await Promise.allSettled([30, 30].map(async (n) => await api(homeD).post<PayResult>('/v1/apps/credit/pay', { account: alice, amount: String(n), unit: 'USD' })))
    const ok = both.filter((x) => x.status === 'fulfilled')
    const failed = both.filter((x): x is PromiseRejectedResult => x.status === 'rejected')
    assert.equal(ok.length, 1, 'one of the two went through')
    assert.equal(failed.length, 1)
    assert.match(String((failed[0]?.reason as Error).message), /T04|liquidity|left/)
    const after = await settled(homes, accounts, 'every hold released')
    assert.equal(after.get(alice), (before.get(alice) as bigint) + 30_000_000n)
    assert.equal(after.get(dave), (before.get(dave) as bigint) - 30_000_000n)
    assert.equal(after.get(bob), 0n)
    assert.equal(after.get(carol), 0n)
    const unknownUnit = await cli(['credit', 'pay', alice, '1', '--unit', 'EUR', '--home', homeD])
    assert.equal(unknownUnit.code, 1)
    assert.match(oneErrorLine(unknownUnit), /no path to .* in EUR/)
  })

  await t.test('kill -9 an intermediary in a flood of payments: after expiry every line agrees on both sides', async () => {
    // Room again for the flood: A extends more credit to B.
    await cliJson(['credit', 'trust', bob, '1000', '--unit', 'USD', '--home', homeA])
    const flood = Array.from({ length: 40 }, async () => await api(homeD).post('/v1/apps/credit/pay', { account: alice, amount: '1', unit: 'USD' }).then(() => 'ok', (err: unknown) => (err as Error).message))
    // Kill C once several holds pass through it (mid-payment), or after a bound.
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline && (await lines(homeC)).reduce((s, l) => s + l.holds, 0) < 5) await new Promise((resolve) => setTimeout(resolve, 5))
    const c = daemons[2] as Daemon
    await c.kill()
    const heldAtKill = (await lines(homeD)).reduce((s, l) => s + l.holds, 0)
    const outcomes = await Promise.all(flood)
    // Back after a while, at a new port: its neighbours learn it again.
    daemons[2] = await startDaemon(homeC)
    await connectAll(daemons)
    const net = await settled(homes, accounts, 'every line the same on both sides with no hold, after expiry', 60_000)
    const done = (h: HistoryView[], dir: HistoryView['direction']): bigint => h.filter((p) => p.direction === dir && p.status === 'done').reduce((s, p) => s + parseAmount(p.amount), 0n)
    const lost = (h: HistoryView[]): bigint => h.filter((p) => p.direction === 'forwarded' && p.status === 'failed' && /not paid upstream/.test(p.message ?? '')).reduce((s, p) => s + parseAmount(p.amount), 0n)
    const [ha, hb, hc, hd] = await Promise.all(homes.map(history))
    assert.ok(ha !== undefined && hb !== undefined && hc !== undefined && hd !== undefined)
    // No IOU created or destroyed: what A holds is what it received, what D owes is what it
    // paid; the intermediaries earned no fee (none set) and lost only what their history says.
    assert.equal(net.get(alice), done(ha, 'received'))
    assert.equal(net.get(dave), -done(hd, 'sent'))
    assert.equal(net.get(bob), -lost(hb))
    assert.equal(net.get(carol), -lost(hc))
    const total = [...net.values()].reduce((s, v) => s + v, 0n)
    assert.equal(total, 0n, 'positions sum to zero')
    assert.ok(outcomes.length === 40)
    t.diagnostic(`flood: ${outcomes.filter((o) => o === 'ok').length} of 40 paid; ${heldAtKill} holds on D's lines just after the kill; D paid ${done(hd, 'sent')} in all, A received ${done(ha, 'received')}, B lost ${lost(hb)}, C lost ${lost(hc)}`)
  })
})
