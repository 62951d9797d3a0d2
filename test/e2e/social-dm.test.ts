// Private messages end to end, each daemon its own process: A sends to C while C is offline; B, a member of
// the network they share, stores it and passes it on; C comes back while A is away and
// reads it; a live event tells it of a message as it arrives. B's node cannot read it:
// its inbox lacks it, and neither its log nor its database files hold the plaintext.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cli, cliJson, daemonGroup, eventually, oneErrorLine, startDaemon } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'
import type { DmView } from '../../src/apps/social/dm.ts'
import { ApiClient } from '../../src/api/client.ts'

const { homes, daemons } = daemonGroup('dm', ['a', 'b', 'c'])
const json = cliJson
const SECRET = 'the key is under the third stone'

async function start (home: string): Promise<Daemon> {
  const d = await startDaemon(home)
  daemons.push(d)
  return d
}

/** Reads through the API in this process: polling with a CLI process per look is slow on a busy machine. */
async function api<T> (home: string, path: string): Promise<T> {
  return await new ApiClient(home).get<T>(path)
}

test('three daemons: a private message reaches an offline recipient through a member that cannot read it', async () => {
  const [homeA, homeB, homeC] = homes as [string, string, string]
  const [a, b, c0] = await Promise.all([start(homeA), start(homeB), start(homeC)])
  let c = c0
  const { id: net, invite } = await json<{ id: string, invite: string }>(['net', 'create', 'street', '--app', 'social', '--home', homeA])
  await Promise.all([homeB, homeC].map(async (h) => await new ApiClient(h).post('/v1/networks/join', { invite })))
  // C and B also meet directly: C will come back to B alone.
  await new ApiClient(homeC).post('/v1/connect', { address: b.addresses[0] ?? '' })
  await eventually(async () => {
    const counts = await Promise.all(homes.map(async (h) => (await api<{ members: unknown[] }>(h, `/v1/networks/${net}/members`)).members.length))
    return counts.every((n) => n === 3) ? true : undefined
  }, 'every member known everywhere', 30_000)
  const [accountA, accountC] = await Promise.all([homeA, homeC].map(async (h) => (await api<{ account: string }>(h, '/v1/account')).account)) as [string, string]

  await c.stop()
  const sent = await json<{ id: string, net: string, to: string }>(['social', 'dm', accountC.slice(0, 12), SECRET, '--home', homeA])
  assert.equal(sent.to, accountC)
  assert.equal(sent.net, net)
  await eventually(async () => (await api<{ entries: Array<{ hash: string }> }>(homeB, `/v1/networks/${net}/log`)).entries.some((e) => e.hash === sent.id) ? true : undefined, 'B holding the message', 20_000)
  await a.stop()

  // C comes back; A is away.
  c = await start(homeC)
  await new ApiClient(homeC).post('/v1/connect', { address: b.addresses[0] ?? '' })
  await eventually(async () => (await api<DmView[]>(homeC, '/v1/apps/social/inbox')).length > 0 ? true : undefined, 'the message in C\'s inbox', 30_000)
  const inbox = await json<DmView[]>(['social', 'inbox', '--home', homeC])
  assert.deepEqual(inbox.map((m) => [m.id, m.direction, m.from, m.text, m.net]), [[sent.id, 'received', accountA, SECRET, net]])
  const human = await cli(['social', 'inbox', '--home', homeC])
  assert.ok(human.stdout.includes(`from ${inbox[0]?.from.slice(0, 8) ?? ''}  ${SECRET}`), human.stdout)

  // A live event on C's event stream as a message arrives (B writes to C this time).
  const res = await new ApiClient(homeC).events()
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  let stream = ''
  const read = async (until: (text: string) => boolean): Promise<void> => {
    const deadline = Date.now() + 20_000
    while (!until(stream)) {
      if (Date.now() > deadline) throw new Error(`no such event in: ${stream}`)
      const { value, done } = await reader.read()
      if (done) throw new Error('event stream ended')
      stream += new TextDecoder().decode(value)
    }
  }
  try {
    await read((t) => t.includes(': peernet'))
    const reply = await json<{ id: string }>(['social', 'dm', accountC, 'noted', '--home', homeB])
    await read((t) => t.includes('event: app'))
    const line = stream.split('\n').find((l) => l.startsWith('data: ') && l.includes('"type":"app"')) ?? ''
    const event = JSON.parse(line.slice(6)) as { app: string, net: string, kind: string, data: { direction: string, id: string, text: string } }
    assert.deepEqual([event.app, event.net, event.kind, event.data.direction, event.data.id, event.data.text], ['social', net, 'dm', 'received', reply.id, 'noted'])
  } finally {
    await reader.cancel()
  }

  // B carried it and cannot read it.
  assert.deepEqual((await api<DmView[]>(homeB, '/v1/apps/social/inbox')).map((m) => [m.direction, m.text]), [['sent', 'noted']], 'B reads only what it wrote')
  const logB = JSON.stringify(await api(homeB, `/v1/networks/${net}/log`))
  assert.ok(logB.includes(sent.id))
  assert.equal(logB.includes(SECRET), false)
  await b.stop()
  for (const f of readdirSync(homeB).filter((n) => n.startsWith('peernet.db'))) {
    assert.equal(readFileSync(join(homeB, f)).includes(SECRET), false, `${f} holds the plaintext`)
  }

  // Bad input: one clear line each.
  const [unknown, long] = await Promise.all([
    cli(['social', 'dm', 'ab'.repeat(32), 'hello', '--home', homeC]),
    cli(['social', 'dm', accountA, 'x'.repeat(4001), '--home', homeC])
  ])
  assert.equal(unknown.code, 1)
  assert.match(oneErrorLine(unknown), /no network you both belong to/)
  assert.equal(long.code, 1)
  assert.match(oneErrorLine(long), /at most 4000 characters/)
})
