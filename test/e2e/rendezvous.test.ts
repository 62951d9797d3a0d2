// Rendezvous end to end, each daemon its own process: A creates an open network; B, which
// only knows A as a DHT peer (no invite, no address for the network), runs
// `peernet net join ID`, is told it is looking up members, joins through the DHT, and
// its chat message reaches A. `net info` shows the rendezvous status.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { cli, eventually, removeHome, startDaemon, tempHome } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'

const homes = ['a', 'b'].map((l) => tempHome(`rendezvous-${l}`))
let daemons: Daemon[] = []
after(async () => {
  await Promise.all(daemons.map(async (d) => { await d.stop() }))
  for (const h of homes) removeHome(h)
})

async function json<T> (args: string[]): Promise<T> {
  const r = await cli([...args, '--json'])
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

interface Info { rendezvous: { enabled: boolean, providing: boolean, providersFound: number | null, membersConnected: number } }

test('net join ID through the DHT, between two daemons', async () => {
  const [homeA, homeB] = homes as [string, string]
  daemons = await Promise.all(homes.map(async (h) => await startDaemon(h)))
  const [a] = daemons as [Daemon, Daemon]
  const connected = await cli(['connect', a.addresses[0] ?? '', '--home', homeB])
  assert.equal(connected.code, 0, connected.stderr)

  const created = await json<{ id: string }>(['net', 'create', 'plaza', '--app', 'chat', '--open', '--home', homeA])
  // A looks up and announces within the 10 s after creating the network.
  const info = await eventually(async () => {
    const i = await json<Info>(['net', 'info', created.id, '--home', homeA])
    return i.rendezvous.providing ? i : undefined
  }, 'A to provide the network', 30_000)
  assert.equal(info.rendezvous.enabled, true)
  const human = await cli(['net', 'info', created.id, '--home', homeA])
  assert.match(human.stdout, /rendezvous: providing; 0 other provider\(s\) found/)

  const joined = await cli(['net', 'join', created.id, '--home', homeB], { timeoutMs: 120_000 })
  assert.equal(joined.code, 0, joined.stderr)
  assert.match(joined.stderr, /looking up members/)
  assert.match(joined.stdout, /^joined plaza \(chat\) /)
  assert.match(joined.stdout, /found 1 member\(s\) through the DHT; manifest from 12D3/)

  const sent = await cli(['chat', 'send', created.id, 'hello through the DHT', '--home', homeB])
  assert.equal(sent.code, 0, sent.stderr)
  await eventually(async () => {
    const messages = await json<Array<{ text: string }>>(['chat', 'read', created.id, '--home', homeA])
    return messages.some((m) => m.text === 'hello through the DHT') ? true : undefined
  }, 'B\'s message to reach A', 30_000)

  // An id nobody provides: one line on stderr, non-zero exit.
  const unknown = await cli(['net', 'join', 'pn' + 'a'.repeat(52), '--home', homeB], { timeoutMs: 120_000 })
  assert.notEqual(unknown.code, 0)
  assert.match(unknown.stderr, /no member of pn.* found through the DHT/)
})
