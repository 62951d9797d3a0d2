// Credit routes end to end, each daemon its own process: P pays Q through X and Y.
//
//     P ──USD── X ──USD── Q
//     P ──USD── Y ──USD── Q
//               Y ──EUR── Q     (Y offers USD → EUR at 0.9)
//
// A payment too big for one path is split over two; relay fees are paid within the
// payer's cap and a payment over the cap fails before any hold; a payment in EUR goes
// through Y's exchange offer.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cli, cliJson, daemonGroup, eventually, oneErrorLine, startDaemon } from '../helpers/processes.ts'
import { ApiClient, readApiInfo } from '../../src/api/client.ts'
import type { LineView, PayResult } from '../../src/apps/credit/views.ts'

const { homes, daemons } = daemonGroup('credit-routes', ['p', 'x', 'y', 'q'])
const api = (home: string): ApiClient => new ApiClient(home, readApiInfo(home))
const lines = async (home: string): Promise<LineView[]> => await api(home).get<LineView[]>('/v1/apps/credit/lines')

/** Waits until both sides of every line agree, with no hold or update pending, and returns home → lines. */
async function quiet (hs: string[]): Promise<LineView[][]> {
  return await eventually(async () => {
    const all = await Promise.all(hs.map(lines))
    const byLine = new Map<string, LineView[]>()
    for (const v of all.flat()) byLine.set(v.line, [...(byLine.get(v.line) ?? []), v])
    for (const s of byLine.values()) {
      if (s.length !== 2 || s[0]?.stateHash !== s[1]?.stateHash || s.some((v) => v.holds > 0 || v.pending)) return undefined
    }
    return all
  }, 'every line quiet and the same on both sides', 30_000)
}

const balance = (ls: LineView[], account: string, unit: string): string | undefined => ls.find((l) => l.account === account && l.unit === unit)?.balance

test('multi-path split, fees within the cap, and a cross-unit payment through an offer', async (t) => {
  daemons.push(...await Promise.all(homes.map(async (h) => await startDaemon(h))))
  const [homeP, homeX, homeY, homeQ] = homes as [string, string, string, string]
  const { id: net, invite } = await cliJson<{ id: string, invite: string }>(['net', 'create', 'market', '--app', 'credit', '--home', homeP])
  for (const h of [homeX, homeY, homeQ]) await api(h).post('/v1/networks/join', { invite })
  for (const x of daemons) for (const y of daemons) if (x !== y) await api(x.home).post('/v1/connect', { address: y.addresses[0] ?? '' }).catch(() => undefined)
  const [p, x, y, q] = await Promise.all(homes.map(async (h) => (await api(h).get<{ account: string }>('/v1/account')).account)) as [string, string, string, string]
  await eventually(async () => {
    for (const h of homes) if ((await api(h).get<{ members: unknown[] }>(`/v1/networks/${net}/members`)).members.length !== 4) return undefined
    return true
  }, 'all four members everywhere', 30_000)
  await cliJson(['credit', 'trust', p, '200', '--unit', 'USD', '--home', homeX])
  await cliJson(['credit', 'trust', p, '200', '--unit', 'USD', '--home', homeY])
  await cliJson(['credit', 'trust', x, '60', '--unit', 'USD', '--home', homeQ])
  await cliJson(['credit', 'trust', y, '60', '--unit', 'USD', '--home', homeQ])
  await cliJson(['credit', 'trust', y, '100', '--unit', 'EUR', '--home', homeQ])

  await t.test('100 USD over two paths of 60 each: split, and every line moves on both sides', async () => {
    const r = await cliJson<PayResult>(['credit', 'pay', q, '100', '--unit', 'USD', '--home', homeP])
    assert.equal(r.amount, '100')
    assert.equal(r.routes.length, 2, 'two paths')
    assert.deepEqual(r.routes.map((route) => route.amount).sort(), ['40', '60'])
    assert.deepEqual(new Set(r.routes.map((route) => route.hops[0]?.account)), new Set([x, y]))
    const [onP, , , onQ] = await quiet(homes) as [LineView[], LineView[], LineView[], LineView[]]
    const fromP = [balance(onP, x, 'USD'), balance(onP, y, 'USD')].map(Number)
    assert.equal(fromP[0]! + fromP[1]!, -100)
    const toQ = [balance(onQ, x, 'USD'), balance(onQ, y, 'USD')].map(Number)
    assert.equal(toQ[0]! + toQ[1]!, 100)
  })

  await t.test('fees: over the cap fails before any hold; within it, paid and reported', async () => {
    await cliJson(['credit', 'trust', x, '200', '--unit', 'USD', '--home', homeQ])
    await cliJson(['credit', 'fee', '--unit', 'USD', '--ppm', '10000', '--home', homeX])
    await cliJson(['credit', 'fee', '--unit', 'USD', '--ppm', '10000', '--home', homeY])
    const before = await quiet(homes)
    const over = await cli(['credit', 'pay', q, '10', '--unit', 'USD', '--home', homeP])
    assert.equal(over.code, 1)
    assert.match(oneErrorLine(over), /fees come to 0\.101011 USD, over the cap of 0 \(ILP R01\)/)
    assert.deepEqual((await quiet(homes)).map((ls) => ls.map((l) => l.stateHash)), before.map((ls) => ls.map((l) => l.stateHash)), 'no line changed')
    const r = await cliJson<PayResult>(['credit', 'pay', q, '10', '--unit', 'USD', '--max-fee', '0.2', '--home', homeP])
    assert.equal(r.amount, '10')
    // 1 % of what the relay receives: 10 / 0.99 = 10.101011 (rounded up, in the relay's favour).
    assert.equal(r.fee, '0.101011')
    const after = await quiet(homes)
    const relay = r.routes[0]?.hops[0]?.account as string
    const relayHome = relay === x ? homeX : homeY
    const relayLines = after[homes.indexOf(relayHome)] as LineView[]
    // The relay is owed what P sent (10.1…) and owes Q 10: it earned the fee.
    const earned = relayLines.reduce((s, l) => s + Number(l.balance), 0) - (before[homes.indexOf(relayHome)] as LineView[]).reduce((s, l) => s + Number(l.balance), 0)
    assert.ok(earned > 0.09 && earned < 0.11, `the relay earned the fee (${earned})`)
  })

  await t.test('9 EUR to Q through Y\'s USD → EUR offer at 0.9: P pays 10 USD', async () => {
    const offer = await cli(['credit', 'offer', '--from', 'USD', '--to', 'EUR', '--rate', '0.9', '--home', homeY])
    assert.equal(offer.code, 0, offer.stderr)
    assert.match(offer.stdout, /offering 1 USD → 0\.9 EUR/)
    const before = await quiet(homes)
    const r = await cliJson<PayResult>(['credit', 'pay', q, '9', '--unit', 'EUR', '--max-fee', '0', '--home', homeP])
    assert.equal(r.amount, '9')
    assert.deepEqual(r.routes[0]?.hops, [{ account: y, unit: 'USD' }, { account: q, unit: 'EUR' }])
    const after = await quiet(homes)
    const i = (h: string): number => homes.indexOf(h)
    assert.equal(Number(balance(after[i(homeP)] as LineView[], y, 'USD')) - Number(balance(before[i(homeP)] as LineView[], y, 'USD')), -10, 'P paid 10 USD')
    assert.equal(balance(after[i(homeQ)] as LineView[], y, 'EUR'), '9', 'Q received 9 EUR')
    assert.equal(balance(after[i(homeY)] as LineView[], q, 'EUR'), '-9')
  })
})
