// Networks end to end, each daemon its own process: create, invite, join, and chat
// converging on three nodes; a node that was down catches up with nothing lost or
// duplicated; bad invites are refused with a reason.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cli, cliJson, daemonGroup, eventually, oneErrorLine, startDaemon, tempHome } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'
import { readApiInfo } from '../../src/api/client.ts'

const { homes, daemons } = daemonGroup('net', ['a', 'b', 'c'])

interface Message { id: string, author: string, ts: number, text: string }

const json = cliJson

async function read (home: string, net: string): Promise<Message[]> {
  return await json<Message[]>(['chat', 'read', net, '--limit', '1000', '--home', home])
}

async function converged (net: string, expected: number, hs = homes): Promise<Message[]> {
  return await eventually(async () => {
    const all = await Promise.all(hs.map(async (h) => await read(h, net)))
    const first = JSON.stringify(all[0])
    return all.every((m) => m.length === expected && JSON.stringify(m) === first) ? all[0] : undefined
  }, `${hs.length} nodes to hold the same ${expected} messages`, 30_000)
}

test('three daemons: create, invite, join; chat converges; a stopped node catches up', async (t) => {
  const [homeA, homeB, homeC] = homes as [string, string, string]
  daemons.push(...await Promise.all(homes.map(async (h) => await startDaemon(h))))

  const created = await json<{ id: string, invite: string }>(['net', 'create', 'street', '--app', 'chat', '--home', homeA])
  assert.match(created.id, /^pn[a-z2-7]{52}$/)
  assert.match(created.invite, /^pninvite1/)
  const net = created.id

  for (const h of [homeB, homeC]) {
    const j = await json<{ id: string, connected: string[] }>(['net', 'join', created.invite, '--home', h])
    assert.equal(j.id, net)
    assert.ok(j.connected.length > 0, 'joined through the address in the invite')
  }

  await t.test('messages from all three converge, in one order everywhere', async () => {
    for (const [i, h] of homes.entries()) {
      const r = await cli(['chat', 'send', net, `hello from ${'abc'[i] ?? '?'}`, '--home', h])
      assert.equal(r.code, 0, r.stderr)
    }
    const msgs = await converged(net, 3)
    assert.deepEqual(msgs.map((m) => m.text).sort(), ['hello from a', 'hello from b', 'hello from c'])
    const members = await json<Array<{ account: string, role: string }>>(['net', 'members', net, '--home', homeC])
    assert.equal(members.length, 3)
    assert.equal(members.filter((m) => m.role === 'admin').length, 1)
  })

  await t.test('a daemon that was down catches up; nothing lost or duplicated', async () => {
    const c = daemons[2] as Daemon
    await c.stop()
    for (let i = 0; i < 20; i++) {
      // Through the API directly: twenty CLI processes would only add start-up time.
      const info = readApiInfo(i % 2 === 0 ? homeA : homeB)
      const res = await fetch(`${info.url}/v1/networks/${net}/app/send`, { method: 'POST', headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ text: `while c was away ${i}` }) })
      assert.equal(res.status, 200, await res.text())
    }
    daemons[2] = await startDaemon(homeC)
    // C redials the peers it knew; no `connect` needed.
    const msgs = await converged(net, 23)
    assert.equal(new Set(msgs.map((m) => m.id)).size, 23, 'no duplicates')
    const r = await cli(['chat', 'send', net, 'c is back', '--home', homeC])
    assert.equal(r.code, 0, r.stderr)
    await converged(net, 24)
  })

  await t.test('the log and info show the same entries on every node', async () => {
    const logs = await Promise.all(homes.map(async (h) => await json<Array<{ hash: string, type: string }>>(['net', 'log', net, '--limit', '1000', '--home', h])))
    const hashes = logs.map((l) => l.map((e) => e.hash).sort().join(','))
    assert.equal(new Set(hashes).size, 1, 'identical logs')
    assert.equal(logs[0]?.filter((e) => e.type === 'peernet/join').length, 2)
    const info = await json<{ entries: number, equivocations: unknown[], members: number }>(['net', 'info', net, '--home', homeB])
    assert.equal(info.entries, 26)
    assert.deepEqual(info.equivocations, [])
    assert.equal(info.members, 3)
  })

  await t.test('expired, forged and used-up invites are refused', async () => {
    const info = readApiInfo(homeA)
    const post = async (path: string, body: object): Promise<{ invite: string }> => {
      const res = await fetch(info.url + path, { method: 'POST', headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
      assert.equal(res.status, 200)
      return await res.json() as { invite: string }
    }
    const dHome = tempHome('net-d')
    homes.push(dHome)
    const d = await startDaemon(dHome)
    daemons.push(d)

    const expired = await post(`/v1/networks/${net}/invites`, { expires: Date.now() - 1000 })
    const r1 = await cli(['net', 'join', expired.invite, '--home', dHome])
    assert.equal(r1.code, 1)
    assert.match(oneErrorLine(r1), /expired/)

    const good = (await post(`/v1/networks/${net}/invites`, {})).invite
    const forged = good.slice(0, 200) + (good[200] === 'A' ? 'B' : 'A') + good.slice(201)
    const r2 = await cli(['net', 'join', forged, '--home', dHome])
    assert.equal(r2.code, 1)
    assert.match(oneErrorLine(r2), /invite/)
    const r3 = await cli(['net', 'join', 'pninvite1garbage!', '--home', dHome])
    assert.equal(r3.code, 1)
    assert.match(oneErrorLine(r3), /not a Peernet invite|damaged/)

    // A non-admin cannot invite.
    const r4 = await cli(['net', 'invite', net, '--home', homeB])
    assert.equal(r4.code, 1)
    assert.match(oneErrorLine(r4), /only admins/)

    // One use: D's join counts; E's join with the same invite is refused by the members.
    const once = (await post(`/v1/networks/${net}/invites`, { uses: 1 })).invite
    const j = await cli(['net', 'join', once, '--home', dHome])
    assert.equal(j.code, 0, j.stderr)
    await eventually(async () => (await json<unknown[]>(['net', 'members', net, '--home', homeA])).length === 4 ? true : undefined, 'D to be a member on A')
    const eHome = tempHome('net-e')
    homes.push(eHome)
    const e = await startDaemon(eHome)
    daemons.push(e)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const je = await cli(['net', 'join', once, '--home', eHome])
    assert.equal(je.code, 0, 'E cannot know the invite is used up; the members refuse its join')
    await cli(['chat', 'send', net, 'from e', '--home', eHome])
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const onA = await read(homeA, net)
    assert.ok(!onA.some((m) => m.text === 'from e'), 'E\'s message was refused')
    assert.equal((await json<unknown[]>(['net', 'members', net, '--home', homeA])).length, 4)
  })

  await t.test('unknown networks and non-members get one clear line', async () => {
    const r = await cli(['chat', 'send', 'pnaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'x', '--home', homeA])
    assert.equal(r.code, 1)
    assert.match(oneErrorLine(r), /not in network|not a network id/)
    const long = await cli(['chat', 'send', net, 'x'.repeat(5000), '--home', homeA])
    assert.equal(long.code, 1)
    assert.match(oneErrorLine(long), /1–4000 characters/)
  })
})
