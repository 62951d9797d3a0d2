// Where the home directory is: --home beats PEERNET_HOME beats ~/.peernet.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { homePaths, resolveHome } from '../../src/core/home.ts'

describe('resolveHome', () => {
  test('the flag beats PEERNET_HOME', () => {
    assert.equal(resolveHome('/srv/flag', { PEERNET_HOME: '/srv/env' }), '/srv/flag')
  })

  test('PEERNET_HOME beats the default', () => {
    assert.equal(resolveHome(undefined, { PEERNET_HOME: '/srv/env' }), '/srv/env')
  })

  test('without flag or variable the home is ~/.peernet', () => {
    assert.equal(resolveHome(undefined, {}), join(homedir(), '.peernet'))
  })

  test('empty flag and empty variable count as unset', () => {
    assert.equal(resolveHome('', { PEERNET_HOME: '/srv/env' }), '/srv/env')
    assert.equal(resolveHome('', { PEERNET_HOME: '' }), join(homedir(), '.peernet'))
  })

  test('relative paths are made absolute from the working directory', () => {
    assert.equal(resolveHome('rel/flag', {}), resolve(process.cwd(), 'rel/flag'))
    assert.equal(resolveHome(undefined, { PEERNET_HOME: 'rel/env' }), resolve(process.cwd(), 'rel/env'))
    assert.equal(resolveHome('/srv/a/../b/', {}), '/srv/b')
  })

  test('reads process.env when no env is given', (t) => {
    const old = process.env.PEERNET_HOME
    t.after(() => { if (old === undefined) delete process.env.PEERNET_HOME; else process.env.PEERNET_HOME = old })
    process.env.PEERNET_HOME = '/srv/from-process-env'
    assert.equal(resolveHome(undefined), '/srv/from-process-env')
  })
})

describe('homePaths', () => {
  test('names every file inside the home', () => {
    assert.deepStrictEqual(homePaths('/srv/node'), {
      dir: '/srv/node',
      key: '/srv/node/identity.key',
      account: '/srv/node/account.key',
      accountLink: '/srv/node/account-link.json',
      config: '/srv/node/config.json',
      database: '/srv/node/peernet.db',
      api: '/srv/node/api.json',
      lock: '/srv/node/daemon.lock'
    })
  })
})
