// Trust lines between two daemons, each its own process: `credit trust` opens the line
// and sets each side's limit, the state is signed by both and kept by both (the same
// state hash on each side, mirrored limits), and it survives both daemons restarting;
// bad input fails with one line and a non-zero exit.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cli, cliJson, daemonGroup, eventually, oneErrorLine, startDaemon } from '../helpers/processes.ts'
import { ApiClient, readApiInfo } from '../../src/api/client.ts'
import type { LineView, TrustResult } from '../../src/apps/credit/views.ts'

const { homes, daemons } = daemonGroup('credit-lines', ['a', 'b'])
const api = (home: string): ApiClient => new ApiClient(home, readApiInfo(home))
const accountOf = async (home: string): Promise<string> => (await api(home).get<{ account: string }>('/v1/account')).account
const lines = async (home: string): Promise<LineView[]> => await api(home).get<LineView[]>('/v1/apps/credit/lines')

test('two daemons open a trust line; both keep the state both signed, across restarts', async (t) => {
  const [homeA, homeB] = homes as [string, string]
  daemons.push(...await Promise.all(homes.map(async (h) => await startDaemon(h))))
  const { id: net, invite } = await cliJson<{ id: string, invite: string }>(['net', 'create', 'town-credit', '--app', 'credit', '--home', homeA])
  await api(homeB).post('/v1/networks/join', { invite })
  const [alice, bob] = await Promise.all([accountOf(homeA), accountOf(homeB)])
  // B's join reaches A by sync; from then on A knows B as a member.
  await eventually(async () => (await api(homeA).get<{ members: Array<{ account: string }> }>(`/v1/networks/${net}/members`)).members.some((m) => m.account === bob) ? true : undefined, 'B a member on A', 30_000)

  await t.test('trust both ways: one line, mirrored, the same signed state on both sides', async () => {
    const r = await cliJson<TrustResult>(['credit', 'trust', bob.slice(0, 12), '100', '--unit', 'USD', '--home', homeA])
    assert.equal(r.account, bob)
    assert.equal(r.limit, '100')
    await cliJson<TrustResult>(['credit', 'trust', alice, '50.5', '--unit', 'USD', '--home', homeB])
    const [la, lb] = await eventually(async () => {
      const [x, y] = [await lines(homeA), await lines(homeB)]
      return x[0] !== undefined && y[0] !== undefined && x[0].seq === y[0].seq && x[0].seq >= 2 ? [x[0], y[0]] as const : undefined
    }, 'both sides at the same seq')
    assert.equal(la.line, lb.line)
    assert.equal(la.stateHash, lb.stateHash, 'the same state on both sides')
    assert.deepEqual([la.account, la.unit, la.trustGiven, la.trustReceived, la.balance], [bob, 'USD', '100', '50.5', '0'])
    assert.deepEqual([lb.account, lb.unit, lb.trustGiven, lb.trustReceived, lb.balance], [alice, 'USD', '50.5', '100', '0'])
    const human = await cli(['credit', 'lines', '--home', homeA])
    assert.equal(human.code, 0)
    assert.match(human.stdout, /USD\s+balance 0\s+you trust 100\s+they trust 50\.5/)
  })

  await t.test('the line survives both daemons restarting, and takes updates after', async () => {
    const before = (await lines(homeA))[0] as LineView
    for (const d of daemons.splice(0)) await d.stop()
    daemons.push(...await Promise.all(homes.map(async (h) => await startDaemon(h))))
    const [la, lb] = [await lines(homeA), await lines(homeB)]
    assert.equal(la[0]?.stateHash, before.stateHash)
    assert.equal(lb[0]?.stateHash, before.stateHash)
    // The daemons find each other again (peer book) and the next update is countersigned.
    await api(homeB).post('/v1/connect', { address: daemons[0]?.addresses[0] ?? '' }).catch(() => undefined)
    const r = await eventually(async () => await api(homeA).post<TrustResult>('/v1/apps/credit/trust', { account: bob, limit: '120', unit: 'USD' }), 'a countersigned update after the restart', 45_000)
    assert.equal(r.limit, '120')
    await eventually(async () => (await lines(homeB))[0]?.trustReceived === '120' ? true : undefined, 'the new limit on B')
  })

  await t.test('bad input: one clear line, non-zero exit, nothing changed', async () => {
    const stranger = 'ab'.repeat(32)
    const unknown = await cli(['credit', 'trust', stranger, '10', '--unit', 'USD', '--home', homeA])
    assert.equal(unknown.code, 1)
    assert.match(oneErrorLine(unknown), /no account abababab.* shares a network with you/)
    const self = await cli(['credit', 'trust', alice, '10', '--unit', 'USD', '--home', homeA])
    assert.equal(self.code, 1)
    assert.match(oneErrorLine(self), /your own account/)
    const unit = await cli(['credit', 'trust', bob, '10', '--unit', 'U$D', '--home', homeA])
    assert.equal(unit.code, 2)
    assert.match(oneErrorLine(unit), /not a unit name/)
    assert.equal((await lines(homeA)).length, 1)
  })
})
