// Membership end to end, each daemon its own process: an admin promotes a member, who can
// then invite; a plain member cannot remove anyone; the admin removes a member, and every
// node — the removed one too — stops counting them; their later writes are refused.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cli, cliJson, daemonGroup, eventually, oneErrorLine, startDaemon } from '../helpers/processes.ts'

const { homes, daemons } = daemonGroup('members', ['a', 'b', 'c'])

interface Member { account: string, role: string, you: boolean }

const json = cliJson

test('three daemons: promote, remove; every node agrees and the removed member cannot write', async () => {
  const [homeA, homeB, homeC] = homes as [string, string, string]
  daemons.push(...await Promise.all(homes.map(async (h) => await startDaemon(h))))
  const { id: net, invite } = await json<{ id: string, invite: string }>(['net', 'create', 'street', '--app', 'chat', '--home', homeA])
  for (const h of [homeB, homeC]) await json(['net', 'join', invite, '--home', h])
  const members = async (home: string): Promise<Member[]> => await json<Member[]>(['net', 'members', net, '--home', home])
  await eventually(async () => (await Promise.all(homes.map(members))).every((m) => m.length === 3) ? true : undefined, 'three members on every node', 30_000)
  const b = (await members(homeB)).find((m) => m.you)?.account ?? ''
  const c = (await members(homeC)).find((m) => m.you)?.account ?? ''

  // A plain member cannot remove or promote; one clear line, nothing written.
  const denied = await cli(['net', 'remove', net, c.slice(0, 12), '--home', homeB])
  assert.equal(denied.code, 1)
  assert.match(oneErrorLine(denied), /only admins/)
  const badKey = await cli(['net', 'role', net, 'zz', 'admin', '--home', homeA])
  assert.equal(badKey.code, 1)
  assert.match(oneErrorLine(badKey), /not an account key/)
  const badRole = await cli(['net', 'role', net, c, 'owner', '--home', homeA])
  assert.equal(badRole.code, 2)

  const promoted = await json<{ member: string, role: string }>(['net', 'role', net, c.slice(0, 16), 'admin', '--home', homeA])
  assert.deepEqual(promoted, { member: c, role: 'admin' })
  await eventually(async () => (await members(homeC)).find((m) => m.account === c)?.role === 'admin' ? true : undefined, 'C to see itself promoted', 30_000)
  const inv = await cli(['net', 'invite', net, '--home', homeC])
  assert.equal(inv.code, 0, inv.stderr)

  await json(['chat', 'send', net, 'b before removal', '--home', homeB])
  const removed = await json<{ removed: string, heads: Array<{ device: string, seq: number }> }>(['net', 'remove', net, b, '--home', homeA])
  assert.equal(removed.removed, b)
  await eventually(async () => (await Promise.all(homes.map(members))).every((m) => m.length === 2 && !m.some((x) => x.account === b)) ? true : undefined, 'B gone from the members on every node, B\'s own too', 30_000)
  const late = await cli(['chat', 'send', net, 'b after removal', '--home', homeB])
  assert.equal(late.code, 1)
  assert.match(oneErrorLine(late), /removed/)
  for (const h of [homeA, homeC]) {
    const texts = (await json<Array<{ text: string }>>(['chat', 'read', net, '--home', h])).map((m) => m.text)
    assert.deepEqual(texts, ['b before removal'], 'what B wrote before the removal stays')
  }
})
