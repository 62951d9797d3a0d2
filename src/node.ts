// createPeernet(): the whole node in one process — identity, store, libp2p host — wired
// together. The daemon, the tests and anyone embedding Peernet go through this.

import { ensurePrivateDir } from './core/files.ts'
import { homePaths } from './core/home.ts'
import type { HomePaths } from './core/home.ts'
import { generateIdentity, loadIdentity, saveIdentity } from './core/identity.ts'
import type { Identity } from './core/identity.ts'
import { DEFAULT_CONFIG, loadConfig, saveConfig, validateConfig } from './core/config.ts'
import type { PeernetConfig } from './core/config.ts'
import { Store } from './core/store.ts'
import { silentLogger } from './core/log.ts'
import type { Logger } from './core/log.ts'
import { acquireHomeLock } from './core/home-lock.ts'
import { createHost } from './host/host.ts'
import { dialPeerId } from './host/dial-peer.ts'
import type { ConnectedPeer, Host, HostOptions } from './host/host.ts'
import { PEERNET_VERSION } from './host/protocols.ts'
import { systemClock } from './core/clock.ts'
import type { Clock } from './core/clock.ts'
import { Networks } from './networks/networks.ts'
import { startSync } from './networks/sync/sync-service.ts'
import type { SyncService } from './networks/sync/sync-service.ts'
import { startAppMessages } from './networks/app-messages/app-message-service.ts'
import type { AppMessageService } from './networks/app-messages/app-message-service.ts'
import { formatNetworkId } from './networks/manifest.ts'
import { toHex } from './networks/hashing.ts'
import { BUILTIN_APPS } from './apps/builtin.ts'
import { AccountDevices, accountKeysOf, loadAccountLink } from './networks/account-devices.ts'
import { existsSync } from 'node:fs'
import { RendezvousService } from './networks/rendezvous/rendezvous-service.ts'
import { libp2pRendezvousNet, serveManifests } from './networks/rendezvous/libp2p-rendezvous.ts'
import type { RendezvousTiming } from './networks/rendezvous/schedule.ts'
import type { RendezvousBound } from './networks/rendezvous/announce-policy.ts'
import { MeshService } from './mesh/mesh-service.ts'
import type { MeshEvent } from './mesh/mesh-service.ts'
import type { LinkProvider } from './mesh/link.ts'
import { libp2pLinks } from './mesh/links/libp2p-link.ts'
import { udpLinks } from './mesh/links/udp-link.ts'
import { hasPublicAddress } from './mesh/gateway.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { MESH_PROTOCOL_NAME, meshAddress, meshTransport } from './mesh/transport/mesh-transport.ts'
import { MeshDatagramPort } from './mesh/transport/mesh-datagram-port.ts'
import { peerIdOfPublicKey, publicKeyOfPeerId } from './core/identity.ts'
import type { PeernetLibp2p } from './host/host.ts'
import type { AppDefinition } from './networks/app.ts'

export interface PeernetOptions {
  /** The home directory (see resolveHome). Created if missing. */
  home: string
  /** Settings that override the home's config file. */
  config?: Partial<PeernetConfig>
  logger?: Logger
  clock?: Clock
  /** Rendezvous tuning for tests and experiments (the defaults are the protocol's). */
  rendezvous?: { timing?: Partial<RendezvousTiming>, bound?: RendezvousBound, random?: () => number }
  /** Extra libp2p transports (e.g. the mesh transport), given to the host. */
  transports?: HostOptions['transports']
  /** Apps besides the built-in ones (a test's, say). */
  apps?: AppDefinition[]
}

export type PeernetEvent =
  | { type: 'peer:connect', peerId: string, address: string | null, at: number }
  | { type: 'peer:disconnect', peerId: string, at: number }
  /** An entry accepted into a network's logs, written here (`local`) or synced in. */
  | { type: 'entry', net: string, hash: string, author: string, entryType: string, local: boolean, at: number }
  /** What an app made of entries just accepted (a post, a mention of this account, …): see AppDefinition.events. */
  | { type: 'app', app: string, net: string, kind: string, data: Record<string, unknown>, at: number }
  /** A message that reached this node through the mesh, or a mesh neighbour that came or went. */
  | (MeshEvent & { at: number })

export type PeernetEventListener = (event: PeernetEvent) => void

export interface NodeStatus {
  peerId: string
  version: string
  home: string
  startedAt: number
  uptimeMs: number
  addresses: string[]
  listen: string[]
  connections: number
  peers: number
  protocols: string[]
  mdns: boolean
  publicDht: boolean
  relay: boolean
  upnp: boolean
  rendezvous: boolean
  bootstrap: string[]
}

export interface Peernet {
  readonly peerId: string
  readonly identity: Identity
  readonly config: Readonly<PeernetConfig>
  readonly paths: HomePaths
  /** The libp2p host (internal to Peernet's layers; not a stable API). */
  readonly host: Host
  readonly store: Store
  /** Networks, member logs and apps. */
  readonly networks: Networks
  /** The account's devices: link, list, revoke. */
  readonly devices: AccountDevices
  /** Finding networks' members through the DHT; joining open networks by id. */
  readonly rendezvous: RendezvousService
  /** The sync sessions (internal to Peernet's layers; not a stable API). */
  readonly sync: SyncService
  /** The direct app-message channel and the apps' running services (internal; not a stable API). */
  readonly appMessages: AppMessageService
  /** The last-mile mesh: neighbours, routes, sealed messages; null when switched off. */
  readonly mesh: MeshService | null
  /** Peers (by peer id) to connect to over the mesh when they cannot be dialled directly: an invite's members. */
  reachOverMesh: (peers: string[]) => void
  status: () => NodeStatus
  peers: () => Promise<ConnectedPeer[]>
  connect: (address: string, options?: { signal?: AbortSignal }) => Promise<{ peerId: string, address: string }>
  ping: (target: string, options?: { signal?: AbortSignal }) => Promise<{ peerId: string, rttMs: number }>
  /** Subscribes to live events; returns the unsubscribe function. */
  subscribe: (listener: PeernetEventListener) => () => void
  stop: () => Promise<void>
}

export interface InitResult {
  identity: Identity
  /** The account key: the author of this node's entries in every network; undefined on a linked device (its account key lives on the account's home). */
  account: Identity | undefined
  created: boolean
  paths: HomePaths
}

/**
 * Prepares a home: the directory (0700), an identity (created only when there is no
 * key file at all) and a config file with the defaults. Idempotent.
 */
export function initHome (home: string): InitResult {
  const paths = homePaths(home)
  ensurePrivateDir(paths.dir)
  let identity = loadIdentity(paths.key)
  let created = false
  if (identity === undefined) {
    identity = generateIdentity()
    saveIdentity(paths.key, identity)
    created = true
  }
  let account = loadIdentity(paths.account)
  if (account === undefined && !existsSync(paths.accountLink)) {
    account = generateIdentity()
    saveIdentity(paths.account, account)
  }
  try {
    saveConfig(paths.config, { ...DEFAULT_CONFIG }, { exclusive: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  return { identity, account, created, paths }
}

export async function createPeernet (options: PeernetOptions): Promise<Peernet> {
  const logger = options.logger ?? silentLogger
  const paths = homePaths(options.home)
  ensurePrivateDir(paths.dir)
  // Read everything that can be wrong before taking the lock or touching any file.
  const fileConfig = loadConfig(paths.config)
  const config = validateConfig({ ...fileConfig, ...definedOnly(options.config ?? {}) }, 'settings')
  const lock = acquireHomeLock(paths.lock, paths.dir)
  let store: Store | undefined
  try {
    const { identity, account, created } = initHome(options.home)
    if (created) logger.info('created a new identity', { peerId: identity.peerId, key: paths.key })
    // Who this node writes as: its own account key, or the account it is a device of.
    const keys = accountKeysOf(identity, account, loadAccountLink(paths.accountLink, identity))
    store = Store.open(paths.database)
    const openStore = store
    // libp2p connections over the mesh: members reachable only hop by hop sync like any other.
    const meshPort = config.mesh ? new MeshDatagramPort() : null
    const transports = [...(options.transports ?? []), ...(meshPort === null ? [] : [meshTransport(meshPort)])]
    const listen = meshPort === null ? config.listen : [...config.listen, `/${MESH_PROTOCOL_NAME}`]
    const host = await createHost({ identity, store, logger: logger.child('host'), ...config, listen, transports })
    const clock = options.clock ?? systemClock
    const apps = [...BUILTIN_APPS, ...(options.apps ?? [])]
    const networks = new Networks({ store: openStore, account: keys, apps, clock, addresses: () => host.addresses() })
    const devices = new AccountDevices({ networks, store: openStore, device: identity, accountKeyPath: paths.account, accountLinkPath: paths.accountLink, addresses: () => host.addresses(), clock })
    const sync = startSync(host.libp2p, networks, logger.child('sync'))
    await serveManifests(host.libp2p, (net) => networks.heldManifest(net), logger.child('rendezvous'))
    const rendezvous = new RendezvousService({
      enabled: config.rendezvous,
      net: libp2pRendezvousNet(host.libp2p),
      networks,
      membersConnected: (net) => sync.sharing(net).length,
      logger: logger.child('rendezvous'),
      ...options.rendezvous
    })
    rendezvous.start()
    let mesh: MeshService | null = null
    if (config.mesh) {
      const providers: LinkProvider[] = [libp2pLinks(host.libp2p, { logger: logger.child('mesh') })]
      if (config.meshUdp) providers.push(udpLinks({ identity, port: config.meshPort, addresses: config.meshInterfaces.length === 0 ? undefined : config.meshInterfaces, logger: logger.child('mesh') }))
      mesh = new MeshService({
        identity,
        store: openStore,
        providers,
        logger: logger.child('mesh'),
        gateway: config.meshGateway === 'on' || (config.meshGateway === 'auto' && hasPublicAddress()),
        dialBeyond: async (peer) => { await dialPeerId(host.libp2p, peerIdFromString(peer), { signal: AbortSignal.timeout(30_000) }) }
      })
      meshPort?.attach(mesh)
      try {
        await mesh.start()
      } catch (err) {
        rendezvous.stop()
        sync.stop()
        await mesh.stop()
        await host.stop()
        throw err
      }
    }
    const meshForApps = mesh
    const appMessages = startAppMessages({
      libp2p: host.libp2p,
      networks,
      store: openStore,
      node: identity,
      keys,
      apps,
      clock,
      logger: logger.child('app-msg'),
      mesh: meshForApps === null ? null : { reachable: (key) => meshForApps.reachable(key), address: meshAddress }
    })
    networks.useServices((app) => appMessages.service(app))
    const reach = mesh === null ? null : reachMembersOverMesh(host.libp2p, mesh, networks, identity, () => appMessages.nodesOfDevices(), logger.child('mesh'))
    return assemble({ identity, config, paths, host, store, networks, devices, sync, appMessages, rendezvous, mesh, reach, logger, release: lock.release })
  } catch (err) {
    store?.close()
    lock.release()
    throw err
  }
}

interface Parts {
  identity: Identity
  networks: Networks
  devices: AccountDevices
  sync: SyncService
  appMessages: AppMessageService
  rendezvous: RendezvousService
  mesh: MeshService | null
  reach: MeshReach | null
  config: PeernetConfig
  paths: HomePaths
  host: Host
  store: Store
  logger: Logger
  release: () => void
}

function assemble ({ identity, config, paths, host, store, networks, devices, sync, appMessages, rendezvous, mesh, reach, logger, release }: Parts): Peernet {
  const startedAt = Date.now()
  const listeners = new Set<PeernetEventListener>()
  const emit = (event: PeernetEvent): void => {
    for (const l of listeners) {
      try { l(event) } catch (err) { logger.warn('event listener failed', { err }) }
    }
  }
  const libp2p = host.libp2p
  networks.subscribe((e) => {
    if (listeners.size === 0) return
    // Once per batch, not per entry: a sync batch holds a thousand entries of one network.
    const net = formatNetworkId(e.net)
    const at = Date.now()
    for (const entry of e.entries) {
      emit({ type: 'entry', net, hash: toHex(entry.hash), author: toHex(entry.author), entryType: entry.type, local: e.local, at })
    }
    let appEvents: ReturnType<Networks['appEvents']> = []
    try { appEvents = networks.appEvents(e.net, e.entries, e.local) } catch (err) { logger.warn('app events failed', { err }) }
    for (const a of appEvents) emit({ type: 'app', app: a.app, net, kind: a.kind, data: a.data, at })
  })
  mesh?.subscribe((e) => { emit({ ...e, at: Date.now() }) })
  libp2p.addEventListener('peer:connect', (evt) => {
    const peerId = evt.detail.toString()
    const address = libp2p.getConnections(evt.detail)[0]?.remoteAddr.toString() ?? null
    logger.info('peer connected', { peer: peerId, address })
    emit({ type: 'peer:connect', peerId, address, at: Date.now() })
  })
  libp2p.addEventListener('peer:disconnect', (evt) => {
    const peerId = evt.detail.toString()
    logger.info('peer disconnected', { peer: peerId })
    emit({ type: 'peer:disconnect', peerId, at: Date.now() })
  })

  let stopping: Promise<void> | undefined
  return {
    peerId: identity.peerId,
    identity,
    config,
    paths,
    host,
    store,
    networks,
    devices,
    rendezvous,
    sync,
    appMessages,
    mesh,
    reachOverMesh: (peers) => { reach?.hint(peers) },
    status: () => ({
      peerId: identity.peerId,
      version: PEERNET_VERSION,
      home: paths.dir,
      startedAt,
      uptimeMs: Date.now() - startedAt,
      addresses: host.addresses(),
      listen: config.listen,
      connections: libp2p.getConnections().length,
      peers: libp2p.getPeers().length,
      protocols: libp2p.getProtocols(),
      mdns: config.mdns,
      publicDht: config.publicDht,
      relay: config.relay,
      upnp: config.upnp,
      rendezvous: config.rendezvous,
      bootstrap: config.bootstrap
    }),
    peers: host.peers,
    connect: host.connect,
    ping: host.ping,
    subscribe: (listener) => {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    stop: async () => {
      stopping ??= (async () => {
        try {
          rendezvous.stop()
          await appMessages.stop()
          sync.stop()
          reach?.stop()
          await mesh?.stop()
          await host.stop()
        } finally {
          store.close()
          release()
          listeners.clear()
          logger.debug('node stopped')
        }
      })()
      await stopping
    }
  }
}

function definedOnly<T extends object> (obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>
}

interface MeshReach {
  /** Peers to reach over the mesh too, for a while (an invite's members, before their entries arrive). */
  hint: (peers: string[]) => void
  stop: () => void
}

/**
 * The node keys the mesh routes to for members' devices: a device key that a hello bound to
 * a node (an account home's device signs with a key of its own, not its node's) maps to
 * that node's key; any other device key is taken as a node key (a node that is its own
 * device). By hex key.
 */
export function meshKeysOf (devices: Iterable<Uint8Array>, nodesOfDevices: ReadonlyMap<string, string>): Map<string, Uint8Array> {
  const keys = new Map<string, Uint8Array>()
  for (const device of devices) {
    const peer = nodesOfDevices.get(toHex(device))
    const key = peer === undefined ? device : publicKeyOfPeerId(peer) ?? device
    keys.set(toHex(key), key)
  }
  return keys
}

/** How long a hinted peer is tried. */
const REACH_HINT_MS = 30 * 60_000
/** A peer is dialled over the mesh at most this often. */
const REACH_RETRY_MS = 30_000

/**
 * Connects, over the mesh transport, to the members of this node's networks that the mesh
 * can route to and that libp2p is not connected to: a member three hops away has no
 * direct connection, and this is how it gets one, so sync and everything above work as
 * with any peer. Runs when routes change or a network gains a writer, never on a timer.
 */
function reachMembersOverMesh (libp2p: PeernetLibp2p, mesh: MeshService, networks: Networks, identity: Identity, nodesOfDevices: () => Map<string, string>, logger: Logger): MeshReach {
  const self = toHex(identity.publicKey)
  const hinted = new Map<string, number>()
  const tried = new Map<string, number>()
  let timer: NodeJS.Timeout | null = null
  let stopped = false
  const scan = (): void => {
    timer = null
    if (stopped) return
    const now = Date.now()
    const devices: Uint8Array[] = []
    for (const net of networks.logs.memberNetworkIds()) {
      for (const h of networks.logs.heads(net)) devices.push(h.device)
    }
    const keys = meshKeysOf(devices, nodesOfDevices())
    for (const [peer, until] of hinted) {
      if (until < now) { hinted.delete(peer); continue }
      const key = publicKeyOfPeerId(peer)
      if (key !== undefined) keys.set(toHex(key), key)
    }
    for (const [hex, key] of keys) {
      if (hex === self || !mesh.reachable(key)) continue
      const peer = peerIdOfPublicKey(key)
      if (libp2p.getConnections(peerIdFromString(peer)).length > 0) continue
      if (now - (tried.get(peer) ?? -Infinity) < REACH_RETRY_MS) continue
      tried.set(peer, now)
      libp2p.dial(meshAddress(peer), { signal: AbortSignal.timeout(30_000) })
        .then(() => { logger.info('connected over the mesh', { peer }) })
        .catch((err: unknown) => { logger.debug('could not connect over the mesh', { peer, err }) })
    }
  }
  const soon = (): void => {
    if (timer !== null || stopped) return
    timer = setTimeout(scan, 1000)
    timer.unref()
  }
  const offRoutes = mesh.onRoutesChanged(soon)
  const offEntries = networks.subscribe((e) => { if (!e.local) soon() })
  return {
    hint: (peers) => {
      const until = Date.now() + REACH_HINT_MS
      for (const p of peers) {
        if (publicKeyOfPeerId(p) === undefined) continue
        hinted.set(p, until)
        tried.delete(p)
      }
      soon()
    },
    stop: () => {
      stopped = true
      if (timer !== null) clearTimeout(timer)
      offRoutes()
      offEntries()
    }
  }
}
