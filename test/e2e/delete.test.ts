// Deleting and pruning end to end, each daemon its own process: an author deletes a
// message with `net delete`; the deletion syncs and every node stops showing it, keeps the
// chain whole (`net verify`), and shows the entry as pruned in `net log`. Someone else's
// entry cannot be deleted. `net quota` sets and shows the per-network body quota.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cli, cliJson, daemonGroup, eventually, oneErrorLine, startDaemon } from '../helpers/processes.ts'

const { homes, daemons } = daemonGroup('del', ['a', 'b', 'c'])

interface Message { id: string, author: string, ts: number, text: string }

const json = cliJson

test('three daemons: a deleted message disappears everywhere; chains still verify; quotas', async () => {
  const [homeA, homeB, homeC] = homes as [string, string, string]
  daemons.push(...await Promise.all(homes.map(async (h) => await startDaemon(h))))
  const { id: net, invite } = await json<{ id: string, invite: string }>(['net', 'create', 'street', '--app', 'chat', '--home', homeA])
  for (const h of [homeB, homeC]) await json(['net', 'join', invite, '--home', h])

  const sent = await json<{ id: string }>(['chat', 'send', net, 'oops, wrong network', '--home', homeB])
  await json(['chat', 'send', net, 'this one stays', '--home', homeB])
  const everywhere = async (test: (texts: string[]) => boolean, what: string): Promise<void> => {
    await eventually(async () => {
      const all = await Promise.all(homes.map(async (h) => (await json<Message[]>(['chat', 'read', net, '--home', h])).map((m) => m.text)))
      return all.every(test) ? true : undefined
    }, what, 30_000)
  }
  await everywhere((t) => t.length === 2, 'both messages on all three nodes')

  // Someone else's message: refused locally with one clear line, nothing written.
  const foreign = await cli(['net', 'delete', net, sent.id, '--home', homeA])
  assert.equal(foreign.code, 1)
  assert.match(oneErrorLine(foreign), /another account/)
  const unknown = await cli(['net', 'delete', net, '00'.repeat(32), '--home', homeB])
  assert.equal(unknown.code, 1)
  assert.match(oneErrorLine(unknown), /no entry/)

  const r = await json<{ deleted: string[] }>(['net', 'delete', net, sent.id, '--home', homeB])
  assert.deepEqual(r.deleted, [sent.id])
  await everywhere((t) => t.length === 1 && t[0] === 'this one stays', 'the deleted message gone from all three nodes')

  for (const h of homes) {
    const v = await cli(['net', 'verify', net, '--home', h])
    assert.equal(v.code, 0, v.stdout + v.stderr)
    const log = await json<Array<{ hash: string, type: string, pruned: boolean }>>(['net', 'log', net, '--home', h])
    assert.equal(log.find((e) => e.hash === sent.id)?.pruned, true, 'the header stays, the body is gone')
    assert.ok(log.some((e) => e.type === 'peernet/delete'))
  }

  const q0 = await json<{ quota: number | null, deleted: number, withoutBody: number }>(['net', 'quota', net, '--home', homeC])
  assert.deepEqual([q0.quota, q0.deleted, q0.withoutBody], [null, 1, 1])
  const q1 = await json<{ quota: number | null, bodyBytes: number }>(['net', 'quota', net, '1k', '--home', homeC])
  assert.equal(q1.quota, 1024)
  assert.ok(q1.bodyBytes <= 1024)
  const bad = await cli(['net', 'quota', net, 'lots', '--home', homeC])
  assert.equal(bad.code, 2)
  assert.match(oneErrorLine(bad), /invalid size/)
})
