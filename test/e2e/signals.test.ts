// The daemon stops cleanly on SIGINT and SIGTERM: exit code 0, api.json and the lock
// removed, the store closed so the next start finds the same identity.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { exited, removeHome, startDaemon, tempHome } from '../helpers/processes.ts'
import { homePaths } from '../../src/core/home.ts'

const home = tempHome('signals')
after(() => { removeHome(home) })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} stops the daemon cleanly`, async () => {
    const d = await startDaemon(home)
    assert.ok(existsSync(homePaths(home).api))
    const exit = exited(d.process, 15_000)
    d.process.kill(signal)
    assert.equal(await exit, 0, d.stderr())
    assert.match(d.stdout(), /peernet daemon stopped/)
    assert.equal(existsSync(homePaths(home).api), false, 'api.json removed')
    assert.equal(existsSync(homePaths(home).lock), false, 'lock released')
    const again = await startDaemon(home)
    assert.equal(again.peerId, d.peerId)
    await again.stop()
  })
}
