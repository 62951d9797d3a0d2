// The local API refuses every request without the daemon's bearer token, or with a
// wrong one, and answers bad requests with a reason.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { statSync, writeFileSync } from 'node:fs'
import { cli, oneErrorLine, removeHome, startDaemon, tempHome } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'
import { readApiInfo } from '../../src/api/client.ts'
import type { ApiInfo } from '../../src/api/client.ts'
import { homePaths } from '../../src/core/home.ts'

const home = tempHome('api')
let daemon: Daemon
let info: ApiInfo
before(async () => {
  daemon = await startDaemon(home)
  info = readApiInfo(home)
})
after(async () => {
  await daemon.stop()
  removeHome(home)
})

interface ErrorBody { error: { name: string, message: string, hint: string | null } }

test('api.json holds the URL and token with mode 0600', () => {
  assert.equal(statSync(homePaths(home).api).mode & 0o777, 0o600)
  assert.equal(info.url, daemon.apiUrl)
  assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  assert.ok(info.token.length >= 32)
})

test('a request without a token is refused with 401', async () => {
  for (const path of ['/v1/id', '/v1/status', '/v1/peers', '/v1/events']) {
    const res = await fetch(info.url + path)
    assert.equal(res.status, 401, path)
    const body = await res.json() as ErrorBody
    assert.equal(body.error.name, 'UnauthorizedError')
  }
  const post = await fetch(info.url + '/v1/stop', { method: 'POST' })
  assert.equal(post.status, 401)
})

test('a request with a wrong token is refused with 401', async () => {
  const wrong = info.token.slice(0, -1) + (info.token.endsWith('A') ? 'B' : 'A')
  for (const header of [`Bearer ${wrong}`, `Bearer ${info.token}x`, `Basic ${info.token}`, info.token, 'Bearer ']) {
    const res = await fetch(info.url + '/v1/status', { headers: { authorization: header } })
    assert.equal(res.status, 401, header)
  }
  // The refused stop request must not have stopped the daemon.
  const ok = await fetch(info.url + '/v1/status', { headers: { authorization: `Bearer ${info.token}` } })
  assert.equal(ok.status, 200)
})

test('the right token is accepted; bad requests get 4xx with a reason', async () => {
  const auth = { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' }
  const id = await fetch(info.url + '/v1/id', { headers: auth })
  assert.equal(id.status, 200)
  assert.equal((await id.json() as { peerId: string }).peerId, daemon.peerId)

  const notFound = await fetch(info.url + '/v1/nope', { headers: auth })
  assert.equal(notFound.status, 404)
  const wrongMethod = await fetch(info.url + '/v1/connect', { headers: auth })
  assert.equal(wrongMethod.status, 405)

  const badJson = await fetch(info.url + '/v1/connect', { method: 'POST', headers: auth, body: '{not json' })
  assert.equal(badJson.status, 400)
  assert.equal((await badJson.json() as ErrorBody).error.name, 'BadRequestError')

  const missing = await fetch(info.url + '/v1/connect', { method: 'POST', headers: auth, body: '{}' })
  assert.equal(missing.status, 400)

  const badAddr = await fetch(info.url + '/v1/connect', { method: 'POST', headers: auth, body: JSON.stringify({ address: '/ip4/300.1.1.1/tcp/1' }) })
  assert.equal(badAddr.status, 400)
  assert.equal((await badAddr.json() as ErrorBody).error.name, 'InvalidMultiaddrError')

  const huge = await fetch(info.url + '/v1/connect', { method: 'POST', headers: auth, body: JSON.stringify({ address: 'x'.repeat(100_000) }) })
  assert.equal(huge.status, 400)
})

test('the CLI with a wrong token in api.json says so in one line', async () => {
  const paths = homePaths(home)
  const forged = { ...info, token: 'A'.repeat(43) }
  writeFileSync(paths.api, JSON.stringify(forged))
  try {
    const r = await cli(['status', '--home', home])
    assert.equal(r.code, 1)
    assert.match(oneErrorLine(r), /token/)
    assert.equal(r.stdout, '')
  } finally {
    writeFileSync(paths.api, JSON.stringify(info))
  }
  const again = await cli(['status', '--json', '--home', home])
  assert.equal(again.code, 0, again.stderr)
})
