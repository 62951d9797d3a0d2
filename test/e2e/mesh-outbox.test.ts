// kill -9 a daemon that holds an unacknowledged mesh message for a node that is away:
// after the restart the message is still in `mesh outbox`, goes out once the destination
// is back, arrives exactly once, and leaves the outbox on its acknowledgement.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { cli, cliJson, eventually, LOOPBACK_ARGS, removeHome, startDaemon, tempHome } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'
import type { MeshMessage, MeshSendResult } from '../../src/mesh/mesh-service.ts'
import type { OutboxEntry } from '../../src/mesh/outbox.ts'

const ARGS = [...LOOPBACK_ARGS, '--mesh-gateway', 'off']
const homes = [tempHome('outbox-a'), tempHome('outbox-b')]
const running: Daemon[] = []
after(async () => {
  await Promise.all(running.map(async (d) => { await d.stop() }))
  for (const h of homes) removeHome(h)
})

test('a message to an absent node survives kill -9 of the sender and arrives once', async () => {
  const [homeA, homeB] = homes as [string, string]
  let b = await startDaemon(homeB, ARGS)
  running.push(b)
  const bPeer = b.peerId
  await b.stop()

  let a = await startDaemon(homeA, ARGS)
  running.push(a)
  const sent = await cliJson<MeshSendResult>(['mesh', 'send', bPeer, 'kept through a crash', '--timeout', '200ms', '--home', homeA])
  assert.equal(sent.acked, false)
  assert.equal(sent.firstHop, 'custody')
  const before = await cliJson<OutboxEntry[]>(['mesh', 'outbox', '--home', homeA])
  assert.deepEqual(before.map((m) => [m.id, m.to, m.status, m.text]), [[sent.id, bPeer, 'pending', 'kept through a crash']])
  const human = await cli(['mesh', 'outbox', '--home', homeA])
  assert.equal(human.code, 0, human.stderr)
  assert.match(human.stdout, /waiting/)

  await a.kill()
  a = await startDaemon(homeA, ARGS)
  running.push(a)
  const restarted = await cliJson<OutboxEntry[]>(['mesh', 'outbox', '--home', homeA])
  assert.deepEqual(restarted.map((m) => [m.id, m.status, m.attempts]), [[sent.id, 'pending', 2]], 'still there, handed to the forwarder again')

  b = await startDaemon(homeB, ARGS)
  running.push(b)
  const connect = await cli(['connect', b.addresses[0] ?? '', '--home', homeA])
  assert.equal(connect.code, 0, connect.stderr)
  await eventually(async () => (await cliJson<OutboxEntry[]>(['mesh', 'outbox', '--home', homeA])).length === 0 ? true : undefined, "A's outbox to empty on B's acknowledgement", 30_000)
  const inbox = await cliJson<MeshMessage[]>(['mesh', 'inbox', '--home', homeB])
  assert.deepEqual(inbox.filter((m) => m.id === sent.id).map((m) => [m.from, m.text]), [[a.peerId, 'kept through a crash']])
})
