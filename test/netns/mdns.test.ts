// mDNS on by default: two daemons on one LAN segment (two network namespaces joined by
// a veth link, nothing else) find and connect to each other without being told of each
// other; a daemon started with --no-mdns stays unseen and unconnected.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { cli, eventually, removeHome, startDaemon, tempHome } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'
import { createNetnsLab, netnsUnavailable } from '../helpers/netns.ts'

const unavailable = netnsUnavailable()
const lab = unavailable === undefined ? createNetnsLab() : undefined
const daemons: Daemon[] = []
const homes: string[] = []
after(async () => {
  await Promise.all(daemons.map(async (d) => { await d.kill() }))
  lab?.destroy()
  for (const h of homes) removeHome(h)
})

interface PeerJson { peerId: string, addresses: string[] }

async function peersOf (d: Daemon, netns: string): Promise<PeerJson[]> {
  const r = await cli(['peers', '--json', '--home', d.home], { netns })
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout) as PeerJson[]
}

test('LAN neighbours find each other by mDNS; --no-mdns stays dark', { skip: unavailable }, async () => {
  if (lab === undefined) return
  const a = lab.host('a')
  const b = lab.host('b')
  const [addrA] = lab.link(a, b)
  const home = (label: string): string => { const h = tempHome(label); homes.push(h); return h }
  const listen = ['--listen', '/ip4/0.0.0.0/tcp/0', '--api', '127.0.0.1:0']

  const onA = await startDaemon(home('mdns-a'), listen, { netns: a.name })
  const quiet = await startDaemon(home('mdns-quiet'), [...listen, '--no-mdns', '--no-mesh'], { netns: b.name })
  const onB = await startDaemon(home('mdns-b'), listen, { netns: b.name })
  daemons.push(onA, quiet, onB)

  // Nobody runs `connect`: mDNS announcements over the veth link are all they have.
  const seen = await eventually(async () => {
    const p = await peersOf(onA, a.name)
    return p.some((x) => x.peerId === onB.peerId) ? p : undefined
  }, 'A to connect to B found by mDNS', 30_000)
  const bOnA = seen.find((x) => x.peerId === onB.peerId)
  assert.ok(bOnA?.addresses.some((addr) => addr.startsWith('/ip4/10.')), `connected over the veth link, not loopback: ${JSON.stringify(bOnA)}`)
  await eventually(async () => (await peersOf(onB, b.name)).some((x) => x.peerId === onA.peerId) ? true : undefined, 'B to list A')
  assert.ok(addrA.startsWith('10.'))

  // The --no-mdns daemon neither announced itself nor dialled what it heard.
  await new Promise((resolve) => setTimeout(resolve, 3000))
  assert.deepEqual((await peersOf(quiet, b.name)).map((p) => p.peerId), [])
  assert.ok(!(await peersOf(onA, a.name)).some((p) => p.peerId === quiet.peerId))
})
