// kill -9 a daemon in the middle of syncing 50,000 entries, restart it: the sync
// completes, no entry is corrupt or duplicated, and every chain verifies.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { cli, eventually, removeHome, startDaemon, tempHome, REPO } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'

const ENTRIES = 50_000
const homes = [tempHome('crash-a'), tempHome('crash-b')]
const running: Daemon[] = []
after(async () => {
  await Promise.all(running.map(async (d) => { await d.stop() }))
  for (const h of homes) removeHome(h)
})

async function entriesOn (home: string, net: string): Promise<number> {
  const r = await cli(['net', 'info', net, '--json', '--home', home])
  assert.equal(r.code, 0, r.stderr)
  return (JSON.parse(r.stdout) as { entries: number }).entries
}

test('kill -9 mid-sync of 50,000 entries, restart: complete, intact, no duplicates', async () => {
  const [homeA, homeB] = homes as [string, string]
  const filled = execFileSync(process.execPath, [join(REPO, 'test/e2e/fixtures/fill-network.ts'), homeA, String(ENTRIES)], { encoding: 'utf8', timeout: 120_000 })
  const { id: net, invite } = JSON.parse(filled) as { id: string, invite: string }
  const a = await startDaemon(homeA)
  running.push(a)
  let b = await startDaemon(homeB)
  running.push(b)
  // The invite names no address (the fixture node did not listen); dial A directly.
  assert.equal((await cli(['net', 'join', invite, '--home', homeB])).code, 0)
  assert.equal((await cli(['connect', a.addresses[0] ?? '', '--home', homeB])).code, 0)

  const partial = await eventually(async () => {
    const n = await entriesOn(homeB, net)
    return n > 1 && n < ENTRIES ? n : undefined
  }, 'B to be part-way through the sync', 60_000)
  await b.kill()
  assert.ok(partial < ENTRIES, `killed at ${partial} of ${ENTRIES}`)

  b = await startDaemon(homeB)
  running.push(b)
  // B's join plus A's 50,000 messages.
  await eventually(async () => (await entriesOn(homeB, net)) === ENTRIES + 1 ? true : undefined, 'B to hold every entry after the restart', 120_000)
  const verify = await cli(['net', 'verify', net, '--json', '--home', homeB])
  assert.equal(verify.code, 0, verify.stdout + verify.stderr)
  const report = JSON.parse(verify.stdout) as { chains: number, entries: number, problems: string[] }
  assert.deepEqual(report.problems, [])
  assert.equal(report.entries, ENTRIES + 1)
  const read = await cli(['chat', 'read', net, '--limit', '10000', '--json', '--home', homeB])
  const msgs = JSON.parse(read.stdout) as Array<{ id: string }>
  assert.equal(msgs.length, 10_000)
  assert.equal(new Set(msgs.map((m) => m.id)).size, msgs.length, 'no duplicate messages')
})
