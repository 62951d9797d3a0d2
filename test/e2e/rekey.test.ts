// Rekeying end to end, each daemon its own process: in a private network, an admin removes
// a member; the network gets a new key in the same write, sealed to the others only. What a
// remaining member writes afterwards reaches every node — the removed one too, since sync
// serves whoever shares the network — but only the remaining members can read it.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cli, cliJson, daemonGroup, eventually, LOOPBACK_ARGS, startDaemon } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'

const { homes, daemons } = daemonGroup('rekey', ['a', 'b', 'c'])

interface Info { keys: number | null, currentKey: string | null, members: number }

const json = cliJson

test('three daemons, private network: A removes B; what C writes next, A and C read and B cannot', async () => {
  const [homeA, homeB, homeC] = homes as [string, string, string]
  // B logs at debug level: its refusals of what it cannot open show there.
  daemons.push(...await Promise.all(homes.map(async (h) => await startDaemon(h, h === homeB ? [...LOOPBACK_ARGS, '--log-level', 'debug'] : LOOPBACK_ARGS))))
  const { id: net, invite } = await json<{ id: string, invite: string }>(['net', 'create', 'hush', '--app', 'chat', '--private', '--home', homeA])
  for (const h of [homeB, homeC]) await json(['net', 'join', invite, '--home', h])
  const info = async (home: string): Promise<Info> => await json<Info>(['net', 'info', net, '--home', home])
  await eventually(async () => (await Promise.all(homes.map(info))).every((i) => i.members === 3) ? true : undefined, 'three members on every node', 30_000)
  const first = await info(homeA)
  assert.equal(first.keys, 1)
  for (const h of [homeB, homeC]) assert.equal((await info(h)).currentKey, first.currentKey, 'one key, from the invite')

  const b = (await json<Array<{ account: string, you: boolean }>>(['net', 'members', net, '--home', homeB])).find((m) => m.you)?.account ?? ''
  await json(['chat', 'send', net, 'c before', '--home', homeC])
  const removed = await json<{ rekey: { key: string, recipients: number } | null }>(['net', 'remove', net, b, '--home', homeA])
  assert.ok(removed.rekey !== null)
  assert.equal(removed.rekey.recipients, 2)
  assert.equal((await info(homeA)).currentKey, removed.rekey.key)
  await eventually(async () => (await info(homeC)).currentKey === removed.rekey?.key ? true : undefined, 'C to take up the new key', 30_000)

  await json(['chat', 'send', net, 'c after', '--home', homeC])
  const read = async (home: string): Promise<string[]> => (await json<Array<{ text: string }>>(['chat', 'read', net, '--home', home])).map((m) => m.text)
  for (const h of [homeA, homeC]) await eventually(async () => (await read(h)).includes('c after') ? true : undefined, `'c after' on ${h === homeA ? 'A' : 'C'}`, 30_000)

  // B gets the removal and the rekey (sync serves it still) but not the key: the boxes are
  // not for it. C's new entry reaches it too, and it refuses it: it cannot open it.
  const types = async (): Promise<string[]> => (await json<Array<{ type: string }>>(['net', 'log', net, '--home', homeB])).map((e) => e.type)
  await eventually(async () => (await types()).includes('peernet/rekey') ? true : undefined, 'the rekey to reach B', 30_000)
  const bDaemon = daemons[1] as Daemon
  await eventually(async () => await Promise.resolve(/network key this node does not hold/.test(bDaemon.stderr()) ? true : undefined), 'B to be offered C\'s entry and refuse it', 30_000)
  const bInfo = await info(homeB)
  assert.equal(bInfo.keys, 1, 'B holds no new key')
  assert.equal(bInfo.currentKey, first.currentKey)
  assert.deepEqual(await read(homeB), ['c before'])
  assert.equal((await types()).filter((t) => t === 'chat/message').length, 1, 'B holds only what C wrote before')
  const manual = await cli(['net', 'rekey', net, '--home', homeB])
  assert.equal(manual.code, 1, 'B is no admin (nor a member)')
})
