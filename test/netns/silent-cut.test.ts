// The namespace lab's two ways to cut a link (the mesh benchmark uses both): setLink down
// drops the carrier; setLinkSilent drops every frame while the carrier stays up, so only
// missing traffic tells the hosts.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { createNetnsLab, netnsUnavailable } from '../helpers/netns.ts'

function missingTool (): string | undefined {
  for (const [tool, pkg] of [['nft', 'nftables'], ['ping', 'iputils-ping']] as const) {
    if (spawnSync('which', [tool]).status !== 0) return `${tool} is not installed (Debian package ${pkg})`
  }
  return undefined
}

const skip = netnsUnavailable() ?? missingTool()
const lab = skip === undefined ? createNetnsLab() : undefined
after(() => { lab?.destroy() })

/**
 * A ping answered within `seconds`, one ping a try. After a silent cut the kernel's ARP
 * entry for the far end is incomplete: the first ping may end at once with "host
 * unreachable" while ARP asks again, so it is tried until the bound.
 */
function pings (ns: string, address: string, seconds = 5): boolean {
  const deadline = Date.now() + seconds * 1000
  do {
    if (spawnSync('ip', ['netns', 'exec', ns, 'ping', '-n', '-c', '1', '-W', '1', address]).status === 0) return true
  } while (Date.now() < deadline)
  return false
}

/** No answer to a ping within a second. */
function silent (ns: string, address: string): boolean {
  return spawnSync('ip', ['netns', 'exec', ns, 'ping', '-n', '-c', '1', '-W', '1', address]).status !== 0
}

function carrier (ns: string, dev: string): boolean {
  return /LOWER_UP/.test(execFileSync('ip', ['-n', ns, 'link', 'show', dev], { encoding: 'utf8' }))
}

test('a silent cut drops all traffic on the link and keeps the carrier; undoing it restores traffic', { skip }, () => {
  if (lab === undefined) return
  const a = lab.host('a')
  const b = lab.host('b')
  const [, addrB] = lab.link(a, b)
  const [[nsA, devA], [nsB, devB]] = lab.linkEnds(a, b) as [[string, string], [string, string]]
  assert.equal(nsA, a.name)
  assert.equal(devA, a.devices[0])
  assert.equal(devB, b.devices[0])
  assert.ok(pings(a.name, addrB), 'b answers before the cut')

  lab.setLinkSilent(a, b, true)
  assert.ok(silent(a.name, addrB), 'no answer during the silent cut')
  assert.ok(carrier(nsA, devA) && carrier(nsB, devB), 'carrier up on both ends')

  lab.setLinkSilent(a, b, false)
  assert.ok(pings(a.name, addrB), 'b answers once the silent cut is undone')

  lab.setLink(a, b, false)
  assert.ok(!carrier(nsA, devA), 'setLink down drops the carrier')
  lab.setLink(a, b, true)
})

test('setAllSilent silences every link at once and undoes it, leaving links already silent alone', { skip }, async () => {
  if (lab === undefined) return
  const x = lab.host('x')
  const y = lab.host('y')
  const z = lab.host('z')
  const [, addrY] = lab.link(x, y)
  const [, addrZ] = lab.link(y, z)
  lab.setLinkSilent(y, z, true)
  await lab.setAllSilent(true)
  assert.ok(silent(x.name, addrY) && silent(y.name, addrZ), 'no link answers')
  await lab.setAllSilent(false)
  assert.ok(pings(x.name, addrY), 'x–y answers again')
  assert.ok(pings(y.name, addrZ), 'y–z answers again')
})
