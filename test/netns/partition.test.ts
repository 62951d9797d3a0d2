// A real partition: three daemons in three network namespaces joined by veth links.
// One is cut off, both sides keep writing, the links come back: every node ends with
// every message, once. No `connect` after the cut: mDNS and known peers reconnect them.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { cli, eventually, removeHome, startDaemon, tempHome } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'
import { createNetnsLab, netnsUnavailable } from '../helpers/netns.ts'
import type { NetnsHost } from '../helpers/netns.ts'

const unavailable = netnsUnavailable()
const lab = unavailable === undefined ? createNetnsLab() : undefined
const running: Array<{ d: Daemon, ns: string }> = []
const homes: string[] = []
after(async () => {
  await Promise.all(running.map(async ({ d }) => { await d.kill() }))
  lab?.destroy()
  for (const h of homes) removeHome(h)
})

interface Message { id: string, text: string }

test('partitioned writers converge after the partition heals', { skip: unavailable }, async () => {
  if (lab === undefined) return
  const [a, b, c] = ['a', 'b', 'c'].map((l) => lab.host(l)) as [NetnsHost, NetnsHost, NetnsHost]
  lab.link(a, b)
  lab.link(b, c)
  lab.link(a, c)
  const nodes = await Promise.all([a, b, c].map(async (h) => {
    const home = tempHome(`part-${h.name}`)
    homes.push(home)
    const d = await startDaemon(home, ['--listen', '/ip4/0.0.0.0/tcp/0', '--api', '127.0.0.1:0'], { netns: h.name })
    running.push({ d, ns: h.name })
    return { d, ns: h.name }
  }))
  const run = async (i: number, args: string[]): Promise<string> => {
    const n = nodes[i] as { d: Daemon, ns: string }
    const r = await cli([...args, '--home', n.d.home], { netns: n.ns })
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const created = JSON.parse(await run(0, ['net', 'create', 'village', '--app', 'chat', '--json'])) as { id: string, invite: string }
  const net = created.id
  await run(1, ['net', 'join', created.invite])
  await run(2, ['net', 'join', created.invite])
  const read = async (i: number): Promise<Message[]> => JSON.parse(await run(i, ['chat', 'read', net, '--limit', '1000', '--json'])) as Message[]
  const converged = async (n: number, what: string): Promise<Message[]> => await eventually(async () => {
    const all = await Promise.all([0, 1, 2].map(read))
    return all.every((m) => m.length === n && JSON.stringify(m) === JSON.stringify(all[0])) ? all[0] : undefined
  }, what, 60_000)

  await run(0, ['chat', 'send', net, 'before the cut'])
  await converged(1, 'the first message everywhere')

  // Cut C off from both A and B.
  lab.setLink(a, c, false)
  lab.setLink(b, c, false)
  for (let i = 0; i < 5; i++) {
    await run(0, ['chat', 'send', net, `a during the cut ${i}`])
    await run(2, ['chat', 'send', net, `c during the cut ${i}`])
  }
  await new Promise((resolve) => setTimeout(resolve, 1000))
  assert.ok(!(await read(2)).some((m) => m.text.startsWith('a during')), 'C saw nothing from A while cut off')
  assert.ok(!(await read(0)).some((m) => m.text.startsWith('c during')), 'A saw nothing from C while cut off')

  lab.setLink(a, c, true)
  lab.setLink(b, c, true)
  const all = await converged(11, 'all 11 messages on every node after healing')
  assert.equal(new Set(all.map((m) => m.id)).size, 11, 'nothing duplicated')
  assert.equal(all.filter((m) => m.text.startsWith('c during')).length, 5, 'nothing lost')
})
