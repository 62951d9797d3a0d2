// Bad input of every kind gets one clear line on stderr, a non-zero exit, and leaves
// the home as it was: no daemon, stale files, malformed addresses, unknown peers, ports
// in use, corrupt config and key files, a second daemon on the same home, bad usage.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cli, oneErrorLine, removeHome, startDaemon, tempHome } from '../helpers/processes.ts'
import { homePaths } from '../../src/core/home.ts'

const homes: string[] = []
function home (label: string): string {
  const h = tempHome(label)
  homes.push(h)
  return h
}
after(() => { for (const h of homes) removeHome(h) })

const SOME_PEER = '12D3KooWQR6c4QHN7qF1j4Q3hw2Lb8KUEYwqYnD1u5sSfsvM4hDf'

async function initHome (label: string): Promise<string> {
  const h = home(label)
  const r = await cli(['init', '--home', h])
  assert.equal(r.code, 0, r.stderr)
  return h
}

async function occupiedPort (): Promise<{ port: number, close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => { sockets.add(socket); socket.on('error', () => {}) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => { resolve() })
    })
  }
}

test('no daemon running: every daemon command says how to start one', async () => {
  const h = await initHome('nodaemon')
  for (const args of [['status'], ['peers'], ['peers', '--json'], ['connect', `/ip4/127.0.0.1/tcp/9/p2p/${SOME_PEER}`], ['ping', SOME_PEER], ['stop'], ['events']]) {
    const r = await cli([...args, '--home', h])
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`)
    assert.match(oneErrorLine(r), /no Peernet daemon is running on .* — start one with `peernet daemon --home /, args.join(' '))
    assert.equal(r.stdout, '', 'nothing on stdout')
  }
})

test('a daemon killed with SIGKILL leaves stale files that neither confuse the CLI nor block a restart', async () => {
  const h = await initHome('stale')
  const first = await startDaemon(h)
  await first.kill()
  assert.ok(existsSync(homePaths(h).api), 'the killed daemon could not clean up')
  const r = await cli(['status', '--home', h])
  assert.equal(r.code, 1)
  assert.match(oneErrorLine(r), /no Peernet daemon is running/)
  const second = await startDaemon(h)
  try {
    assert.equal(second.peerId, first.peerId)
    const s = await cli(['status', '--json', '--home', h])
    assert.equal(s.code, 0, s.stderr)
  } finally {
    await second.stop()
  }
  assert.equal(existsSync(homePaths(h).api), false, 'a clean stop removes api.json')
  assert.equal(existsSync(homePaths(h).lock), false, 'a clean stop releases the lock')
})

test('malformed multiaddrs are refused in one line', async () => {
  const h = await initHome('maddr')
  for (const bad of ['garbage', '/ip4/1.2.3/tcp/1', '/ip4/127.0.0.1/tcp/99999', '/ip4/127.0.0.1/tcp/1/p2p/notapeerid']) {
    const r = await cli(['connect', bad, '--home', h])
    assert.equal(r.code, 1, bad)
    assert.match(oneErrorLine(r), /invalid multiaddr/, bad)
  }
  for (const flag of ['--listen', '--bootstrap']) {
    const r = await cli(['daemon', '--home', h, flag, '/ip6/zzz', '--api', '127.0.0.1:0', '--no-mdns'])
    assert.equal(r.code, 1, flag)
    assert.match(oneErrorLine(r), /invalid (listen|bootstrap) address/)
  }
  const api = await cli(['daemon', '--home', h, '--api', 'localhost', '--no-mdns'])
  assert.equal(api.code, 1)
  assert.match(oneErrorLine(api), /invalid API address/)
})

test('unknown peers and unreachable addresses: one line each, daemon unharmed', async () => {
  const h = await initHome('unknown')
  const d = await startDaemon(h)
  try {
    const unknown = await cli(['ping', SOME_PEER, '--home', h])
    assert.equal(unknown.code, 1)
    assert.match(oneErrorLine(unknown), /unknown peer .* — connect to it first/)

    const notId = await cli(['ping', 'hello', '--home', h])
    assert.equal(notId.code, 1)
    assert.match(oneErrorLine(notId), /neither a peer id nor a multiaddr/)

    const port = await occupiedPort() // a TCP port with no libp2p behind it
    try {
      const r = await cli(['connect', `/ip4/127.0.0.1/tcp/${port.port}/p2p/${SOME_PEER}`, '--home', h])
      assert.equal(r.code, 1)
      assert.match(oneErrorLine(r), /could not connect to/)
    } finally {
      await port.close()
    }
    const s = await cli(['status', '--json', '--home', h])
    assert.equal(s.code, 0, 'the daemon still answers')
  } finally {
    await d.stop()
  }
})

test('a libp2p or API port already in use: one line, nothing left behind', async () => {
  const h = await initHome('inuse')
  const taken = await occupiedPort()
  try {
    const p2p = await cli(['daemon', '--home', h, '--listen', `/ip4/127.0.0.1/tcp/${taken.port}`, '--api', '127.0.0.1:0', '--no-mdns'])
    assert.equal(p2p.code, 1, p2p.stderr)
    assert.match(oneErrorLine(p2p), /already in use/)
    const api = await cli(['daemon', '--home', h, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', `127.0.0.1:${taken.port}`, '--no-mdns'])
    assert.equal(api.code, 1, api.stderr)
    assert.match(oneErrorLine(api), /API address 127\.0\.0\.1:\d+ is already in use/)
  } finally {
    await taken.close()
  }
  assert.equal(existsSync(homePaths(h).api), false)
  assert.equal(existsSync(homePaths(h).lock), false, 'the lock was released')
  const d = await startDaemon(h) // and the home still works
  await d.stop()
})

test('a corrupt or invalid config file is reported, never overwritten', async () => {
  for (const [label, content, pattern] of [
    ['json', '{"listen": [', /not valid JSON/],
    ['key', '{"version": 1, "lisen": []}', /unknown setting "lisen"/],
    ['type', '{"version": 1, "mdns": "yes"}', /"mdns" must be true or false/],
    ['addr', '{"version": 1, "bootstrap": ["/ip4/1.2.3.4/tcp/x"]}', /"bootstrap"/]
  ] as const) {
    const h = await initHome(`config-${label}`)
    const path = homePaths(h).config
    writeFileSync(path, content)
    const r = await cli(['daemon', '--home', h, '--api', '127.0.0.1:0'])
    assert.equal(r.code, 1, label)
    assert.match(oneErrorLine(r), pattern, label)
    assert.match(oneErrorLine(r), /config file/, label)
    assert.equal(readFileSync(path, 'utf8'), content, 'config file unchanged')
    assert.equal(existsSync(homePaths(h).lock), false)
  }
})

test('a corrupt, unreadable or too-open key file is reported and never replaced', async () => {
  const cases: Array<[string, (path: string) => void, RegExp]> = [
    ['garbage', (p) => { writeFileSync(p, 'not a key') }, /key file .* is corrupt: not JSON — restore it from a backup/],
    ['empty', (p) => { writeFileSync(p, '') }, /is corrupt/],
    ['short', (p) => { writeFileSync(p, JSON.stringify({ version: 1, type: 'ed25519', seed: 'AAAA' })) }, /seed is not 32 bytes/],
    ['directory', (p) => { rmSync(p); mkdirSync(p) }, /cannot read key file/],
    ['open', (p) => { chmodSync(p, 0o644) }, /readable by other users .* — run: chmod 600/]
  ]
  for (const [label, spoil, pattern] of cases) {
    const h = await initHome(`key-${label}`)
    const path = homePaths(h).key
    spoil(path)
    const before = label === 'directory' ? '' : readFileSync(path, 'utf8')
    for (const args of [['daemon', '--api', '127.0.0.1:0', '--no-mdns'], ['init'], ['id']]) {
      const r = await cli([...args, '--home', h])
      assert.equal(r.code, 1, `${label} ${args[0]}: ${r.stderr}`)
      assert.match(oneErrorLine(r), pattern, `${label} ${args[0]}`)
    }
    if (label !== 'directory') assert.equal(readFileSync(path, 'utf8'), before, 'key file unchanged')
    assert.equal(existsSync(homePaths(h).lock), false)
  }
})

test('a second daemon on the same home is refused', async () => {
  const h = await initHome('twice')
  const d = await startDaemon(h)
  try {
    const r = await cli(['daemon', '--home', h, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns'])
    assert.equal(r.code, 1)
    assert.match(oneErrorLine(r), /already running on .* — stop it with `peernet stop/)
    const s = await cli(['status', '--json', '--home', h])
    assert.equal(s.code, 0, 'the first daemon is unharmed')
  } finally {
    await d.stop()
  }
})

test('usage mistakes exit 2; --help works everywhere; --json prints only JSON', async () => {
  const h = home('usage')
  for (const args of [['bogus'], ['peers', '--bogus'], ['connect'], ['ping'], ['ping', 'a', 'b'], ['ping', SOME_PEER, '--count', 'x'], ['daemon', '--log-level', 'loud']]) {
    const r = await cli([...args, '--home', h])
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    oneErrorLine(r)
  }
  for (const cmd of ['init', 'daemon', 'id', 'status', 'peers', 'connect', 'ping', 'events', 'stop']) {
    const r = await cli([cmd, '--help'])
    assert.equal(r.code, 0, cmd)
    assert.match(r.stdout, new RegExp(`^Usage: peernet ${cmd}`), cmd)
    assert.match(r.stdout, /--home DIR/)
  }
  const top = await cli(['--help'])
  assert.equal(top.code, 0)
  assert.match(top.stdout, /Commands:/)
  const init = await cli(['init', '--json', '--home', h])
  assert.equal(init.code, 0)
  const parsed = JSON.parse(init.stdout) as { peerId: string, created: boolean }
  assert.equal(parsed.created, true)
  const again = await cli(['init', '--json', '--home', h])
  assert.deepEqual(JSON.parse(again.stdout), { ...parsed, created: false })
})
