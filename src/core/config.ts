// The node's settings: embedded defaults, overridden by `config.json` in the home, then
// by command-line flags. The file is validated strictly (unknown keys are typos, not
// silently ignored) and a broken file is an error that names the field, never replaced.

import { readFileSync } from 'node:fs'
import { isIPv4 } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { ConfigError, InvalidMultiaddrError } from './errors.ts'
import { isLogLevel } from './log.ts'
import type { LogLevel } from './log.ts'
import { writeFileAtomic } from './files.ts'

export interface PeernetConfig {
  /** libp2p listen multiaddrs. */
  listen: string[]
  /** Where the local HTTP API listens, `HOST:PORT` (port 0 = any free port). */
  api: string
  /** Peers to dial at start and keep connected. */
  bootstrap: string[]
  /** Find peers on the LAN with multicast DNS. */
  mdns: boolean
  /** Also join the public IPFS DHT (for rendezvous beyond Peernet's own DHT). */
  publicDht: boolean
  /** Serve as a circuit relay (v2) for other nodes. */
  relay: boolean
  /** Ask the LAN gateway for port mappings (UPnP). */
  upnp: boolean
  /** Find the members of this node's networks through the DHT, and announce this node
   * as one of a bounded number of providers per network. Off: members are found only
   * through invites, known peers, mDNS and peer exchange. */
  rendezvous: boolean
  /** Carry other nodes' traffic hop by hop and route by node key (the last-mile mesh). */
  mesh: boolean
  /** Also find mesh neighbours on the LAN over UDP (multicast beacons), not only over libp2p connections. */
  meshUdp: boolean
  /** UDP port of the mesh's LAN links (the same on every node of a LAN, for discovery). */
  meshPort: number
  /** IPv4 addresses of the interfaces to run UDP mesh links on; empty: every non-loopback one. */
  meshInterfaces: string[]
  /** Offer this node's Internet connection to the mesh: 'auto' does when it has a public address. */
  meshGateway: 'auto' | 'on' | 'off'
  logLevel: LogLevel
}

export const DEFAULT_MESH_PORT = 4613

export const DEFAULT_TCP_PORT = 4610
export const DEFAULT_WS_PORT = 4611

export const DEFAULT_CONFIG: Readonly<PeernetConfig> = Object.freeze({
  listen: [
    `/ip4/0.0.0.0/tcp/${DEFAULT_TCP_PORT}`,
    `/ip4/0.0.0.0/tcp/${DEFAULT_WS_PORT}/ws`,
    '/p2p-circuit'
  ],
  api: '127.0.0.1:4612',
  bootstrap: [],
  mdns: true,
  publicDht: false,
  relay: false,
  upnp: false,
  rendezvous: true,
  mesh: true,
  meshUdp: true,
  meshPort: DEFAULT_MESH_PORT,
  meshInterfaces: [],
  meshGateway: 'auto',
  logLevel: 'info'
})

const CONFIG_VERSION = 1

/** Parses a multiaddr or throws one clear error naming it. */
export function parseMultiaddr (value: string, what = 'multiaddr'): string {
  try {
    if (value.trim() === '' || value === '/') throw new Error('it is empty')
    const ma = multiaddr(value)
    for (const c of ma.getComponents()) {
      if (c.name === 'p2p') peerIdFromString(c.value ?? '')
    }
    return ma.toString()
  } catch (err) {
    throw new InvalidMultiaddrError(`invalid ${what} "${value}": ${(err as Error).message}`, {
      hint: 'a multiaddr looks like /ip4/192.0.2.7/tcp/4610/p2p/12D3KooW…',
      cause: err
    })
  }
}

export interface ApiAddress { host: string, port: number }

export function parseApiAddress (value: string): ApiAddress {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value)
  const port = m === null ? NaN : Number(m[2])
  if (m === null || port > 65535) {
    throw new ConfigError(`invalid API address "${value}"`, { hint: 'use HOST:PORT, e.g. 127.0.0.1:4612 (port 0 picks a free one)' })
  }
  return { host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port }
}

/** Validates a config object (from the file, merged with flags). */
export function validateConfig (input: unknown, source: string): PeernetConfig {
  const fail = (why: string): never => { throw new ConfigError(`${source}: ${why}`, { hint: 'fix the file or move it away to use the defaults' }) }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return fail('must be a JSON object')
  const obj = input as Record<string, unknown>
  const config: PeernetConfig = { ...DEFAULT_CONFIG, listen: [...DEFAULT_CONFIG.listen], bootstrap: [], meshInterfaces: [] }
  for (const [key, value] of Object.entries(obj)) {
    switch (key) {
      case 'version':
        if (value !== CONFIG_VERSION) fail(`unknown version ${JSON.stringify(value)} (this Peernet reads version ${CONFIG_VERSION})`)
        break
      case 'listen':
      case 'bootstrap': {
        if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return fail(`"${key}" must be an array of multiaddr strings`)
        const list = value.map((v) => {
          try { return parseMultiaddr(v) } catch (err) { return fail(`"${key}": ${(err as Error).message}`) }
        })
        config[key] = list
        break
      }
      case 'api':
        if (typeof value !== 'string') return fail('"api" must be a "HOST:PORT" string')
        try { parseApiAddress(value) } catch (err) { fail(`"api": ${(err as Error).message}`) }
        config.api = value
        break
      case 'mdns':
      case 'publicDht':
      case 'relay':
      case 'upnp':
      case 'rendezvous':
      case 'mesh':
      case 'meshUdp':
        if (typeof value !== 'boolean') return fail(`"${key}" must be true or false`)
        config[key] = value
        break
      case 'meshPort':
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > 65535) return fail('"meshPort" must be a UDP port, 1 to 65535')
        config.meshPort = value
        break
      case 'meshInterfaces':
        if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && isIPv4(v))) return fail('"meshInterfaces" must be an array of IPv4 addresses, e.g. ["192.168.1.20"]')
        config.meshInterfaces = value as string[]
        break
      case 'meshGateway':
        if (value !== 'auto' && value !== 'on' && value !== 'off') return fail('"meshGateway" must be "auto", "on" or "off"')
        config.meshGateway = value
        break
      case 'logLevel':
        if (typeof value !== 'string' || !isLogLevel(value)) return fail('"logLevel" must be one of error, warn, info, debug')
        config.logLevel = value
        break
      default:
        fail(`unknown setting "${key}"`)
    }
  }
  return config
}

/** Reads the config file; a missing file gives the defaults, anything else broken throws. */
export function loadConfig (path: string): PeernetConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return validateConfig({}, path)
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, { hint: 'check its permissions', cause: err })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`, { hint: 'fix the file or move it away to use the defaults', cause: err })
  }
  return validateConfig(parsed, `config file ${path}`)
}

export function saveConfig (path: string, config: PeernetConfig, options: { exclusive?: boolean } = {}): void {
  writeFileAtomic(path, JSON.stringify({ version: CONFIG_VERSION, ...config }, null, 2) + '\n', { mode: 0o600, ...options })
}
