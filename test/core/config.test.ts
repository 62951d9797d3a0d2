// The config file: defaults, strict validation that names the bad field, multiaddr and
// API address parsing, and a save/load round trip.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import {
  DEFAULT_CONFIG, loadConfig, parseApiAddress, parseMultiaddr, saveConfig, validateConfig
} from '../../src/core/config.ts'
import type { PeernetConfig } from '../../src/core/config.ts'
import { LOG_LEVELS } from '../../src/core/log.ts'
import { tempDir } from './temp-dir.ts'

const isNamed = (name: string, message?: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`)
  assert.equal(err.name, name)
  if (message !== undefined) assert.match(err.message, message)
  return true
}

describe('defaults', () => {
  test('a missing file gives the defaults', (t) => {
    const dir = tempDir(t)
    const config = loadConfig(join(dir, 'config.json'))
    assert.deepStrictEqual(config, { ...DEFAULT_CONFIG })
    assert.deepStrictEqual(readdirSync(dir), [], 'loading does not create the file')
  })

  test('the defaults are what the docs promise', () => {
    assert.equal(DEFAULT_CONFIG.mdns, true)
    assert.equal(DEFAULT_CONFIG.publicDht, false)
    assert.equal(DEFAULT_CONFIG.relay, false)
    assert.equal(DEFAULT_CONFIG.upnp, false)
    assert.equal(DEFAULT_CONFIG.rendezvous, true)
    assert.equal(DEFAULT_CONFIG.logLevel, 'info')
    assert.equal(DEFAULT_CONFIG.api, '127.0.0.1:4612')
    assert.deepStrictEqual(DEFAULT_CONFIG.listen, ['/ip4/0.0.0.0/tcp/4610', '/ip4/0.0.0.0/tcp/4611/ws', '/p2p-circuit'])
    assert.deepStrictEqual(DEFAULT_CONFIG.bootstrap, [])
  })

  test('every default listen address and the default API address parse', () => {
    for (const addr of DEFAULT_CONFIG.listen) assert.equal(parseMultiaddr(addr), addr)
    assert.deepStrictEqual(parseApiAddress(DEFAULT_CONFIG.api), { host: '127.0.0.1', port: 4612 })
  })

  test('a loaded config owns its lists: changing them does not change the defaults', (t) => {
    const config = loadConfig(join(tempDir(t), 'config.json'))
    config.listen.push('/ip4/127.0.0.1/tcp/1')
    config.bootstrap.push('/ip4/127.0.0.1/tcp/2')
    assert.equal(DEFAULT_CONFIG.listen.length, 3)
    assert.equal(DEFAULT_CONFIG.bootstrap.length, 0)
    assert.equal(loadConfig(join(tempDir(t), 'config.json')).listen.length, 3)
  })

  test('a partial file overrides only the settings it names', (t) => {
    const path = join(tempDir(t), 'config.json')
    writeFileSync(path, JSON.stringify({ version: 1, mdns: false, bootstrap: ['/ip4/192.0.2.7/tcp/4610'] }))
    assert.deepStrictEqual(loadConfig(path), { ...DEFAULT_CONFIG, mdns: false, bootstrap: ['/ip4/192.0.2.7/tcp/4610'] })
  })

  test('a file without "version" is read as version 1', (t) => {
    const path = join(tempDir(t), 'config.json')
    writeFileSync(path, JSON.stringify({ relay: true }))
    assert.equal(loadConfig(path).relay, true)
  })

  test('multiaddrs in the file are normalised', (t) => {
    const path = join(tempDir(t), 'config.json')
    writeFileSync(path, JSON.stringify({ listen: ['/ip6/0:0:0:0:0:0:0:1/tcp/4610/'] }))
    assert.deepStrictEqual(loadConfig(path).listen, ['/ip6/::1/tcp/4610'])
  })
})

describe('invalid config files throw ConfigError and are left untouched', () => {
  const invalid: Array<[string, string, RegExp]> = [
    ['not JSON', '{ mdns: true }', /not valid JSON/],
    ['an empty file', '', /not valid JSON/],
    ['a JSON array', '[]', /must be a JSON object/],
    ['JSON null', 'null', /must be a JSON object/],
    ['a JSON string', '"mdns"', /must be a JSON object/],
    ['an unknown key', JSON.stringify({ mnds: true }), /unknown setting "mnds"/],
    ['a __proto__ key', '{"__proto__": {"mdns": false}}', /unknown setting "__proto__"/],
    ['version 2', JSON.stringify({ version: 2 }), /unknown version 2/],
    ['version "1" as a string', JSON.stringify({ version: '1' }), /unknown version "1"/],
    ['mdns as a string', JSON.stringify({ mdns: 'yes' }), /"mdns" must be true or false/],
    ['publicDht as a number', JSON.stringify({ publicDht: 0 }), /"publicDht" must be true or false/],
    ['relay as null', JSON.stringify({ relay: null }), /"relay" must be true or false/],
    ['upnp as "false"', JSON.stringify({ upnp: 'false' }), /"upnp" must be true or false/],
    ['rendezvous as "off"', JSON.stringify({ rendezvous: 'off' }), /"rendezvous" must be true or false/],
    ['listen as a string', JSON.stringify({ listen: '/ip4/0.0.0.0/tcp/1' }), /"listen" must be an array of multiaddr strings/],
    ['listen with a number', JSON.stringify({ listen: [4610] }), /"listen" must be an array/],
    ['an invalid IPv4 in listen', JSON.stringify({ listen: ['/ip4/999.1.1.1/tcp/1'] }), /"listen".*999\.1\.1\.1/],
    ['a port above 65535 in listen', JSON.stringify({ listen: ['/ip4/0.0.0.0/tcp/70000'] }), /"listen"/],
    ['a non-multiaddr in bootstrap', JSON.stringify({ bootstrap: ['hello'] }), /"bootstrap".*hello/],
    ['one bad entry among good ones in bootstrap', JSON.stringify({ bootstrap: ['/ip4/192.0.2.7/tcp/1', '/ip4/192.0.2.7/tcp/x'] }), /"bootstrap"/],
    ['bootstrap as an object', JSON.stringify({ bootstrap: {} }), /"bootstrap" must be an array/],
    ['logLevel trace', JSON.stringify({ logLevel: 'trace' }), /"logLevel" must be one of/],
    ['logLevel in capitals', JSON.stringify({ logLevel: 'INFO' }), /"logLevel"/],
    ['logLevel as a number', JSON.stringify({ logLevel: 2 }), /"logLevel"/],
    ['api without a port', JSON.stringify({ api: 'nohostport' }), /"api".*nohostport/],
    ['api with port 70000', JSON.stringify({ api: '1.2.3.4:70000' }), /"api"/],
    ['api as a number', JSON.stringify({ api: 4612 }), /"api" must be a "HOST:PORT" string/]
  ]
  for (const [name, body, message] of invalid) {
    test(name, (t) => {
      const dir = tempDir(t)
      const path = join(dir, 'config.json')
      writeFileSync(path, body)
      assert.throws(() => loadConfig(path), isNamed('ConfigError', message))
      assert.equal(readFileSync(path, 'utf8'), body)
      assert.deepStrictEqual(readdirSync(dir), ['config.json'])
    })
  }

  test('the error names the file', (t) => {
    const path = join(tempDir(t), 'config.json')
    writeFileSync(path, JSON.stringify({ mdns: 1 }))
    assert.throws(() => loadConfig(path), isNamed('ConfigError', new RegExp(path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))))
  })

  test('a directory in place of the file is a ConfigError', (t) => {
    const path = join(tempDir(t), 'config.json')
    mkdirSync(path)
    assert.throws(() => loadConfig(path), isNamed('ConfigError', /cannot read config file/))
  })

  test('mesh settings are checked', () => {
    assert.throws(() => validateConfig({ meshPort: 0 }, 'flags'), isNamed('ConfigError', /"meshPort" must be a UDP port/))
    assert.throws(() => validateConfig({ meshInterfaces: ['eth0'] }, 'flags'), isNamed('ConfigError', /"meshInterfaces" must be an array of IPv4 addresses/))
    assert.throws(() => validateConfig({ meshGateway: true }, 'flags'), isNamed('ConfigError', /"meshGateway" must be "auto", "on" or "off"/))
    assert.throws(() => validateConfig({ mesh: 'yes' }, 'flags'), isNamed('ConfigError', /"mesh" must be true or false/))
  })

  test('validateConfig uses the given source in its messages', () => {
    assert.throws(() => validateConfig({ nope: 1 }, 'flags'), isNamed('ConfigError', /^flags: unknown setting "nope"/))
  })
})

describe('save and load', () => {
  const valid: PeernetConfig = {
    listen: ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0/ws'],
    api: '[::1]:8080',
    bootstrap: ['/ip4/192.0.2.7/tcp/4610/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'],
    mdns: false,
    publicDht: true,
    relay: true,
    upnp: true,
    rendezvous: false,
    mesh: true,
    meshUdp: false,
    meshPort: 5000,
    meshInterfaces: ['192.168.7.2'],
    meshGateway: 'on',
    logLevel: 'debug'
  }

  test('a valid config round-trips through saveConfig and loadConfig', (t) => {
    const path = join(tempDir(t), 'config.json')
    saveConfig(path, valid)
    assert.deepStrictEqual(loadConfig(path), valid)
  })

  test('the saved file is versioned JSON with mode 0600', (t) => {
    const dir = tempDir(t)
    const path = join(dir, 'config.json')
    saveConfig(path, valid)
    assert.deepStrictEqual(JSON.parse(readFileSync(path, 'utf8')), { version: 1, ...valid })
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.deepStrictEqual(readdirSync(dir), ['config.json'])
  })

  test('saveConfig replaces an existing file unless exclusive', (t) => {
    const path = join(tempDir(t), 'config.json')
    saveConfig(path, { ...DEFAULT_CONFIG, listen: [...DEFAULT_CONFIG.listen], bootstrap: [] })
    saveConfig(path, valid)
    assert.deepStrictEqual(loadConfig(path), valid)
    const before = readFileSync(path)
    assert.throws(() => { saveConfig(path, DEFAULT_CONFIG, { exclusive: true }) }, { code: 'EEXIST' })
    assert.deepStrictEqual(readFileSync(path), before)
  })

  test('property: any valid config round-trips', (t) => {
    const dir = tempDir(t)
    const addr = fc.constantFrom(
      '/ip4/0.0.0.0/tcp/4610', '/ip4/192.0.2.7/tcp/1/ws', '/ip6/::/tcp/4610', '/dns4/example.com/tcp/443/wss',
      '/ip4/127.0.0.1/udp/4610/quic-v1', '/p2p-circuit'
    )
    const host = fc.oneof(fc.ipV4(), fc.constantFrom('localhost', '[::1]', '[::]', 'example.com'))
    const config = fc.record({
      listen: fc.array(addr, { maxLength: 4 }),
      api: fc.tuple(host, fc.integer({ min: 0, max: 65535 })).map(([h, p]) => `${h}:${p}`),
      bootstrap: fc.array(addr, { maxLength: 4 }),
      mdns: fc.boolean(),
      publicDht: fc.boolean(),
      relay: fc.boolean(),
      upnp: fc.boolean(),
      rendezvous: fc.boolean(),
      mesh: fc.boolean(),
      meshUdp: fc.boolean(),
      meshPort: fc.integer({ min: 1, max: 65535 }),
      meshInterfaces: fc.array(fc.ipV4(), { maxLength: 3 }),
      meshGateway: fc.constantFrom('auto' as const, 'on' as const, 'off' as const),
      logLevel: fc.constantFrom(...LOG_LEVELS)
    }, { noNullPrototype: true })
    let n = 0
    fc.assert(fc.property(config, (c) => {
      const path = join(dir, `config-${n++}.json`)
      saveConfig(path, c)
      assert.deepStrictEqual(loadConfig(path), c)
    }), { numRuns: 50 })
  })
})

describe('parseApiAddress', () => {
  const accepted: Array<[string, string, number]> = [
    ['127.0.0.1:0', '127.0.0.1', 0],
    ['127.0.0.1:4612', '127.0.0.1', 4612],
    ['[::1]:8080', '::1', 8080],
    ['[::]:1', '::', 1],
    ['localhost:65535', 'localhost', 65535]
  ]
  for (const [input, host, port] of accepted) {
    test(`accepts ${input}`, () => {
      assert.deepStrictEqual(parseApiAddress(input), { host, port })
    })
  }

  for (const input of ['nohostport', '1.2.3.4:70000', '1.2.3.4:65536', ':80', 'host:', '::1:80', '[::1]', 'host:123456', 'host:-1', 'host:80x', '']) {
    test(`rejects ${JSON.stringify(input)} with ConfigError`, () => {
      assert.throws(() => parseApiAddress(input), isNamed('ConfigError'))
    })
  }
})

describe('parseMultiaddr', () => {
  for (const input of ['/ip4/999.1.1.1/tcp/1', 'hello', '/ip4/1.2.3.4/tcp/70000', '/ip4/1.2.3.4/tcp/abc', '/IP4/1.2.3.4/tcp/1', 'ip4/1.2.3.4']) {
    test(`rejects ${JSON.stringify(input)} with InvalidMultiaddrError naming it`, () => {
      assert.throws(() => parseMultiaddr(input, 'listen address'), (err: unknown) => {
        isNamed('InvalidMultiaddrError')(err)
        assert.ok((err as Error).message.startsWith(`invalid listen address "${input}"`), (err as Error).message)
        return true
      })
    })
  }

  test('accepts and normalises valid multiaddrs', () => {
    assert.equal(parseMultiaddr('/ip4/192.0.2.7/tcp/4610'), '/ip4/192.0.2.7/tcp/4610')
    assert.equal(parseMultiaddr('/ip6/0:0:0:0:0:0:0:1/tcp/1'), '/ip6/::1/tcp/1')
    assert.equal(parseMultiaddr('/ip4/1.2.3.4/tcp/4610/ipfs/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'),
      '/ip4/1.2.3.4/tcp/4610/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')
  })
})
