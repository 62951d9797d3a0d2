// The libp2p host: transports, security, muxing and the stock libp2p services Peernet
// builds on. Everything libp2p does well is used as it is; this file only chooses and
// configures, maps libp2p's failures onto Peernet's named errors, and keeps the peer
// book (libp2p's own persistent peer store, on the node's SQLite file).

import { createLibp2p } from 'libp2p'
import type { Libp2pOptions, ServiceFactoryMap } from 'libp2p'
import type { Libp2p, PeerDiscovery, PeerId, PrivateKey } from '@libp2p/interface'
import { KEEP_ALIVE } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush } from '@libp2p/identify'
import type { Identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import type { Ping } from '@libp2p/ping'
import { mdns } from '@libp2p/mdns'
import { bootstrap } from '@libp2p/bootstrap'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import type { KadDHT } from '@libp2p/kad-dht'
import { autoNAT } from '@libp2p/autonat'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Identity } from '../core/identity.ts'
import type { Store } from '../core/store.ts'
import type { Logger } from '../core/log.ts'
import { AddressInUseError, DialError, InvalidMultiaddrError, PeerNotFoundError, PeernetError } from '../core/errors.ts'
import { parseMultiaddr } from '../core/config.ts'
import { SqliteDatastore } from './sqlite-datastore.ts'
import { PEERNET_AGENT, PEERNET_VERSION, PEERNET_KAD_PROTOCOL, PUBLIC_DHT_BOOTSTRAP, PUBLIC_KAD_PROTOCOL } from './protocols.ts'

export interface HostOptions {
  identity: Identity
  store: Store
  logger: Logger
  listen: readonly string[]
  bootstrap: readonly string[]
  mdns: boolean
  publicDht: boolean
  relay: boolean
  upnp: boolean
  /** Transports besides TCP, WebSockets and circuit relay (e.g. the mesh transport). */
  transports?: Libp2pOptions['transports']
}

export interface HostServices {
  identify: Identify
  ping: Ping
  dht: KadDHT
  [name: string]: unknown
}

export type PeernetLibp2p = Libp2p<HostServices>

export interface ConnectedPeer {
  peerId: string
  /** Remote addresses of the open connections to this peer. */
  addresses: string[]
  direction: 'inbound' | 'outbound'
  /** Round-trip time last measured by libp2p's connection monitor, if any. */
  rttMs: number | null
  agent: string | null
  protocols: string[]
}

export interface Host {
  readonly libp2p: PeernetLibp2p
  readonly peerId: string
  addresses: () => string[]
  peers: () => Promise<ConnectedPeer[]>
  connect: (address: string, options?: { signal?: AbortSignal }) => Promise<{ peerId: string, address: string }>
  ping: (target: string, options?: { signal?: AbortSignal }) => Promise<{ peerId: string, rttMs: number }>
  stop: () => Promise<void>
}

/**
 * Hangs up on a peer and stops treating it as a known peer (no redial after the drop or a
 * restart): for peers that misbehave. Whoever bans it refuses its streams meanwhile.
 */
export async function dropPeer (libp2p: PeernetLibp2p, peer: PeerId): Promise<void> {
  await libp2p.peerStore.merge(peer, { tags: { [KNOWN_PEER_TAG]: undefined } })
  await libp2p.hangUp(peer, { signal: AbortSignal.timeout(5_000) })
}

/** How long peers we talked to stay tagged for reconnection after a restart. */
const KNOWN_PEER_TTL_MS = 7 * 24 * 3600_000
const KNOWN_PEER_TAG = `${KEEP_ALIVE}-peernet-known`
const DIAL_TIMEOUT_MS = 15_000
/** Discovered peers are dialled while the node has fewer connections than this. */
const AUTO_DIAL_TARGET = 32
const AUTO_DIAL_RETRY_MS = 30_000

export function libp2pPrivateKey (identity: Identity): PrivateKey {
  const raw = new Uint8Array(64)
  raw.set(identity.seed, 0)
  raw.set(identity.publicKey, 32)
  return privateKeyFromRaw(raw)
}

export async function createHost (options: HostOptions): Promise<Host> {
  const log = options.logger
  const listen = options.listen.map((a) => parseMultiaddr(a, 'listen address'))
  const bootstrapList = [...options.bootstrap.map((a) => parseMultiaddr(a, 'bootstrap address')), ...(options.publicDht ? PUBLIC_DHT_BOOTSTRAP : [])]

  const services: ServiceFactoryMap<HostServices> = {
    identify: identify(),
    identifyPush: identifyPush(),
    // The connection monitor pings every connection too; leave room for user pings.
    ping: ping({ maxOutboundStreams: 8, maxInboundStreams: 8 }),
    dht: kadDHT({
      protocol: PEERNET_KAD_PROTOCOL,
      // Serve the Peernet DHT even with only private addresses: a LAN or mesh island
      // with no public node still needs rendezvous.
      clientMode: false,
      // LAN and mesh islands are first-class in Peernet: keep private addresses.
      peerInfoMapper: passthroughMapper,
      logPrefix: 'peernet:dht',
      datastorePrefix: '/peernet-dht',
      metricsPrefix: 'peernet_dht'
    }),
    autoNAT: autoNAT(),
    dcutr: dcutr()
  }
  if (options.publicDht) {
    services.publicDht = kadDHT({
      protocol: PUBLIC_KAD_PROTOCOL,
      clientMode: true,
      peerInfoMapper: removePrivateAddressesMapper,
      logPrefix: 'peernet:public-dht',
      datastorePrefix: '/public-dht',
      metricsPrefix: 'peernet_public_dht'
    })
  }
  if (options.relay) services.relay = circuitRelayServer()
  if (options.upnp) services.upnp = uPnPNAT()

  let autoDial: (peer: PeerId) => void = () => {}
  const datastore = new SqliteDatastore(options.store)
  let libp2p: PeernetLibp2p
  try {
    libp2p = await createLibp2p<HostServices>({
      privateKey: libp2pPrivateKey(options.identity),
      start: false,
      nodeInfo: { name: 'peernet', version: PEERNET_VERSION, userAgent: PEERNET_AGENT },
      datastore,
      addresses: { listen },
      // libp2p refuses more than 5 inbound connections a second from one IP by default;
      // a relay, a hub or a LAN behind one NAT address needs more.
      connectionManager: { inboundConnectionThreshold: 100 },
      transports: [tcp(), webSockets(), circuitRelayTransport(), ...(options.transports ?? [])],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: [
        ...(options.mdns ? [announcing(mdns(), (peer) => { autoDial(peer) })] : []),
        ...(bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList, tagName: `${KEEP_ALIVE}-peernet-bootstrap` })] : [])
      ],
      services
    })
  } catch (err) {
    throw new PeernetError(`cannot create the libp2p host: ${(err as Error).message}`, { cause: err })
  }

  // Peers we complete an identify exchange with become known peers: tagged keep-alive
  // in the persistent peer store, so libp2p redials them after a restart or a drop.
  libp2p.addEventListener('peer:identify', (evt) => {
    const peer = evt.detail.peerId
    Promise.resolve(libp2p.peerStore.merge(peer, { tags: { [KNOWN_PEER_TAG]: { value: 50, ttl: KNOWN_PEER_TTL_MS } } }))
      .catch((err: unknown) => { log.warn('could not tag known peer', { peer: peer.toString(), err }) })
  })

  // libp2p no longer dials what discovery finds, and reports a peer only the first time
  // it enters the (persistent) peer store. Peernet dials every peer mDNS announces on the
  // LAN and every new peer learned otherwise, while the node has fewer connections than
  // it wants, at most once per peer per AUTO_DIAL_RETRY_MS.
  const lastDial = new Map<string, number>()
  autoDial = (peer: PeerId): void => {
    const key = peer.toString()
    const now = Date.now()
    if (peer.equals(libp2p.peerId) || libp2p.getConnections(peer).length > 0) return
    if (libp2p.getConnections().length >= AUTO_DIAL_TARGET) return
    if (now - (lastDial.get(key) ?? -Infinity) < AUTO_DIAL_RETRY_MS) return
    lastDial.set(key, now)
    libp2p.dial(peer, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
      .then(() => { log.debug('dialled discovered peer', { peer: key }) })
      .catch((err: unknown) => { log.debug('could not dial discovered peer', { peer: key, err: describe(err) }) })
  }
  libp2p.addEventListener('peer:discovery', (evt) => { autoDial(evt.detail.id) })

  try {
    await libp2p.start()
  } catch (err) {
    try { await libp2p.stop() } catch { /* already failing; report the start error */ }
    throw mapListenError(err, listen)
  }
  log.debug('libp2p started', { peerId: libp2p.peerId.toString() })

  const host: Host = {
    libp2p,
    peerId: libp2p.peerId.toString(),
    addresses: () => libp2p.getMultiaddrs().map((a) => a.toString()),
    peers: async () => {
      const byPeer = new Map<string, ConnectedPeer>()
      for (const conn of libp2p.getConnections()) {
        const id = conn.remotePeer.toString()
        const existing = byPeer.get(id)
        if (existing !== undefined) {
          existing.addresses.push(conn.remoteAddr.toString())
          continue
        }
        const stored = await libp2p.peerStore.get(conn.remotePeer).catch(() => undefined)
        const agent = stored?.metadata.get('AgentVersion')
        byPeer.set(id, {
          peerId: id,
          addresses: [conn.remoteAddr.toString()],
          direction: conn.direction,
          rttMs: conn.rtt ?? null,
          agent: agent === undefined ? null : new TextDecoder().decode(agent),
          protocols: stored?.protocols ?? []
        })
      }
      return [...byPeer.values()].sort((a, b) => a.peerId.localeCompare(b.peerId))
    },
    connect: async (address, opts = {}) => {
      const ma = toMultiaddr(address)
      try {
        const conn = await libp2p.dial(ma, { signal: opts.signal ?? AbortSignal.timeout(DIAL_TIMEOUT_MS) })
        return { peerId: conn.remotePeer.toString(), address: conn.remoteAddr.toString() }
      } catch (err) {
        throw new DialError(`could not connect to ${address}: ${describe(err)}`, {
          hint: 'check that the node runs and the address (and its /p2p/ id) is right',
          cause: err
        })
      }
    },
    ping: async (target, opts = {}) => {
      const signal = opts.signal ?? AbortSignal.timeout(DIAL_TIMEOUT_MS)
      const dest = await resolvePingTarget(libp2p, target)
      try {
        const rttMs = await libp2p.services.ping.ping(dest, { signal })
        const peerId = 'toMultihash' in dest ? dest.toString() : libp2p.getConnections().find((c) => c.remoteAddr.equals(dest))?.remotePeer.toString() ?? dest.getComponents().find((c) => c.name === 'p2p')?.value ?? 'unknown'
        return { peerId, rttMs }
      } catch (err) {
        throw new DialError(`ping ${target} failed: ${describe(err)}`, { hint: 'check that the peer is online; `peernet peers` lists connected peers', cause: err })
      }
    },
    stop: async () => { await libp2p.stop() }
  }
  return host
}

/** Wraps a discovery factory so that every peer it announces is also passed to `onPeer`. */
function announcing<C> (factory: (components: C) => PeerDiscovery, onPeer: (peer: PeerId) => void): (components: C) => PeerDiscovery {
  return (components) => {
    const discovery = factory(components)
    discovery.addEventListener('peer', (evt) => { onPeer(evt.detail.id) })
    return discovery
  }
}

function toMultiaddr (address: string): Multiaddr {
  try {
    return multiaddr(address)
  } catch (err) {
    throw new InvalidMultiaddrError(`invalid multiaddr "${address}": ${(err as Error).message}`, {
      hint: 'a multiaddr looks like /ip4/192.0.2.7/tcp/4610/p2p/12D3KooW…',
      cause: err
    })
  }
}

async function resolvePingTarget (libp2p: PeernetLibp2p, target: string): Promise<PeerId | Multiaddr> {
  if (target.startsWith('/')) return toMultiaddr(target)
  let peerId: PeerId
  try {
    peerId = peerIdFromString(target)
  } catch {
    throw new PeerNotFoundError(`"${target}" is neither a peer id nor a multiaddr`, { hint: 'give a peer id (12D3KooW…) or a multiaddr starting with /' })
  }
  const connected = libp2p.getConnections(peerId).length > 0
  const known = connected || ((await libp2p.peerStore.get(peerId).catch(() => undefined))?.addresses.length ?? 0) > 0
  if (!connected && !known) {
    throw new PeerNotFoundError(`unknown peer ${target}: no address known`, { hint: 'connect to it first with `peernet connect MULTIADDR`' })
  }
  return peerId
}

function mapListenError (err: unknown, listen: string[]): Error {
  const text = describe(err)
  // libp2p lists each failed address on its own line: "  /ip4/…/tcp/N: Error: listen EADDRINUSE…"
  const inUse = [...text.matchAll(/^\s*(\/\S+): .*EADDRINUSE/gm)].map((m) => m[1])
  if (/EADDRINUSE|address already in use/i.test(text)) {
    const which = inUse.length > 0 ? inUse.join(', ') : listen.join(', ')
    return new AddressInUseError(`listen address ${which} is already in use`, {
      hint: 'another program, perhaps another Peernet daemon, holds the port; stop it or pass --listen with another port (tcp/0 picks a free one)',
      cause: err
    })
  }
  return new PeernetError(`cannot start listening on ${listen.join(', ')}: ${text}`, { hint: 'check the --listen addresses', cause: err })
}

function describe (err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(describe).join('; ')
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : ''
    return `${err.message}${cause}`
  }
  return String(err)
}
