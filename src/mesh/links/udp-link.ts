// Mesh links over UDP on a LAN: no libp2p, no IP routing — a node finds the neighbours on
// its own subnets by beacon and sends them datagrams directly. One socket serves every
// link: bound on 0.0.0.0 (multicast and broadcast are only received there), it accepts
// only what comes from an interface's own subnet or from a configured static neighbour.
//
// Discovery: each node sends a signed beacon (see udp-datagram.ts) to the multicast group
// on every LAN interface (TTL 1: it never crosses a router), and/or to the subnet
// broadcast address, and/or by unicast to static neighbours (`beaconTo`). Hearing a valid
// beacon from a new address opens a link to it, answered at once by a unicast beacon so
// the far side opens its end without waiting for our next one. Beacons back off while
// the neighbour set is stable (beacon-schedule.ts).
//
// A link closes when the far side says bye, when it has been silent (no beacon, no frame)
// for `silenceMs`, when its interface goes down (seen at once from `ip monitor`, see
// interface-watch.ts, and polled about every second as a fallback), or when a send to it
// fails with "network unreachable/down". A link closed while the neighbour is
// still there is found again by the next beacons, as a new link: to stop talking to the
// LAN, stop the provider.

import { createSocket } from 'node:dgram'
import type { RemoteInfo, Socket } from 'node:dgram'
import { isIPv4 } from 'node:net'
import type { Identity } from '../../core/identity.ts'
import type { Logger } from '../../core/log.ts'
import type { Clock } from '../../core/clock.ts'
import { systemClock } from '../../core/clock.ts'
import { AddressInUseError } from '../../core/errors.ts'
import type { Link, LinkProvider } from '../link.ts'
import { MeshLinkError } from '../errors.ts'
import { BaseLink } from './base-link.ts'
import { BeaconSchedule } from './beacon-schedule.ts'
import { lanInterfaces, onSubnet } from './lan-interfaces.ts'
import { watchInterfaces } from './interface-watch.ts'
import type { InterfaceWatch } from './interface-watch.ts'
import type { LanInterface } from './lan-interfaces.ts'
import { BEACON, SOLICIT, UNKNOWN_ADDRESS, decodeBeacon, encodeBeacon, verifyBeacon } from './udp-datagram.ts'
import { FrameSeal, SEALED, SEAL_OVERHEAD, nextSession } from './udp-frame-seal.ts'
import type { Opened } from './udp-frame-seal.ts'

export const UDP_LINK_PORT = 6697
/** Administratively scoped (RFC 2365); 80.78 is "PN". */
export const UDP_MULTICAST_GROUP = '239.255.80.78'
/** Frame bytes per datagram: with the seal's 30 bytes and IP/UDP headers, under any LAN's MTU (and IPv6's 1280), so never fragmented. */
export const UDP_LINK_MTU = 1200

export interface UdpTiming {
  /** First beacon interval after a change. */
  beaconMinMs: number
  /** Beacon interval while nothing changes. */
  beaconMaxMs: number
  /** A neighbour heard from neither by beacon nor by frame for this long is closed. */
  silenceMs: number
  /** How often the interfaces are checked (and silent neighbours swept). */
  interfacePollMs: number
  /** Beacons stamped further than this from our clock, either way, are refused. */
  beaconWindowMs: number
}

export const DEFAULT_UDP_TIMING: UdpTiming = {
  beaconMinMs: 1_000,
  beaconMaxMs: 30_000,
  silenceMs: 90_000,
  interfacePollMs: 1_000,
  // Nodes off the Internet may have no time sync: minutes of skew must not stop discovery.
  beaconWindowMs: 5 * 60_000
}

export interface UdpLinkOptions {
  identity: Identity
  /** UDP port, the same on every node of the LAN (beacons go to it); 0 picks a free one (tests). */
  port?: number
  /** IPv4 addresses of the interfaces to use (loopback allowed); default: every non-internal IPv4 interface. */
  addresses?: readonly string[]
  /**
   * Static neighbours, as "address:port", that get our beacons by unicast too: for media
   * without multicast or broadcast, and for tests on loopback. Their beacons are accepted
   * even from outside our subnets.
   */
  beaconTo?: readonly string[]
  /** Beacons to the multicast group on each interface (default true). */
  multicast?: boolean
  group?: string
  /** Beacons to each interface's subnet broadcast address too (default false). */
  broadcast?: boolean
  mtu?: number
  /** Bytes per second, about (default: 10 Mbit/s). */
  bitrate?: number
  /** Datagrams waiting in the socket's send queue past which `send` drops. */
  queueDatagrams?: number
  timing?: Partial<UdpTiming>
  /**
   * Re-read the interfaces as soon as the kernel reports a change (`ip monitor`), not only
   * every interfacePollMs (default true; without iproute2 it falls back to the poll).
   */
  watchInterfaces?: boolean
  clock?: Clock
  random?: () => number
  logger?: Logger
}

export interface UdpNeighbourView {
  link: string
  address: string
  port: number
  /** The local interface it is on, or null for a static neighbour off our subnets. */
  interface: string | null
  remoteKey: string
  lastHeardMsAgo: number
}

export interface UdpLinkProvider extends LinkProvider {
  /** The port bound (known after `start`). */
  readonly port: number
  neighbours: () => UdpNeighbourView[]
}

/** Send errors that mean the neighbour cannot be reached from here any more. */
const UNREACHABLE = new Set(['ENETUNREACH', 'ENETDOWN', 'EHOSTUNREACH', 'EADDRNOTAVAIL'])
const DEFAULT_BITRATE = 1_250_000
const MAX_UDP_PAYLOAD = 65_507
const DEFAULT_QUEUE_DATAGRAMS = 256
/** How long `stop` waits for its byes to leave. */
const STOP_FLUSH_MS = 1_000

let linkCount = 0

interface Medium {
  send: (bytes: Uint8Array, link: UdpLink) => boolean
}

class UdpLink extends BaseLink {
  readonly address: string
  readonly port: number
  /** The local interface it is reached through, or null (a static neighbour off our subnets). */
  readonly iface: LanInterface | null
  lastHeardAt: number
  lastBeaconAt: number
  /** When we last answered it with a unicast beacon. */
  lastAnswerAt = -Infinity
  readonly #medium: Medium
  readonly #seal: FrameSeal

  constructor (init: { address: string, port: number, iface: LanInterface | null, remoteKey: Uint8Array, mtu: number, bitrate: number, now: number, beaconAt: number, medium: Medium, seal: FrameSeal, logger?: Logger }) {
    super({ id: `udp:${init.address}:${init.port}:${++linkCount}`, kind: 'udp', remoteKey: init.remoteKey, mtu: init.mtu, bitrate: init.bitrate, ...(init.logger === undefined ? {} : { logger: init.logger }) })
    this.address = init.address
    this.port = init.port
    this.iface = init.iface
    this.lastHeardAt = init.now
    this.lastBeaconAt = init.beaconAt
    this.#medium = init.medium
    this.#seal = init.seal
  }

  get endpoint (): string { return `${this.address}:${this.port}` }

  /** A sealed datagram from its address: a frame is passed on, a bye closes the link, anything that does not open is refused. */
  heard (datagram: Uint8Array, now: number): Opened {
    const opened = this.#seal.open(datagram)
    if (!opened.ok) return opened
    this.lastHeardAt = now
    if (opened.kind === 'bye') this.ended('closed by the far side')
    else this.received(opened.frame)
    return opened
  }

  /** Tells the neighbour the link is closed (sealed, so only we can say it). */
  sayBye (): void {
    const bye = this.#seal.seal('bye')
    if (bye !== undefined) this.#medium.send(bye, this)
  }

  /** Closed by the far side or by the medium. */
  drop (reason: string): void { this.ended(reason) }

  protected transmit (frame: Uint8Array): boolean {
    const datagram = this.#seal.seal('frame', frame)
    if (datagram === undefined) {
      this.ended('its frame counter is spent')
      return false
    }
    return this.#medium.send(datagram, this)
  }

  protected release (): void {
    this.sayBye()
  }
}

function parseEndpoint (text: string): { address: string, port: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(text)
  const port = Number(m?.[2])
  if (m === null || !isIPv4(m[1] as string) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new MeshLinkError(`"${text}" is not an IPv4 address and port`, { hint: 'give static UDP neighbours as ADDRESS:PORT, e.g. 192.168.1.7:6697' })
  }
  return { address: m[1] as string, port }
}

const sameKey = (a: Uint8Array, b: Uint8Array): boolean => a.byteLength === b.byteLength && a.every((v, i) => v === b[i])
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/**
 * A LinkProvider on the LAN: a link to each neighbour heard by beacon on our subnets (or
 * configured in `beaconTo`). `start` rejects with AddressInUseError when the port is taken.
 */
export function udpLinks (options: UdpLinkOptions): UdpLinkProvider {
  const identity = options.identity
  const timing: UdpTiming = { ...DEFAULT_UDP_TIMING, ...options.timing }
  const clock = options.clock ?? systemClock
  const random = options.random ?? Math.random
  const log = options.logger
  const group = options.group ?? UDP_MULTICAST_GROUP
  const multicast = options.multicast ?? true
  const broadcast = options.broadcast ?? false
  const mtu = options.mtu ?? UDP_LINK_MTU
  const bitrate = options.bitrate ?? DEFAULT_BITRATE
  const queueDatagrams = options.queueDatagrams ?? DEFAULT_QUEUE_DATAGRAMS
  const statics = (options.beaconTo ?? []).map(parseEndpoint)
  const staticKeys = new Set(statics.map((s) => `${s.address}:${s.port}`))
  const port = options.port ?? UDP_LINK_PORT
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MeshLinkError(`UDP port ${String(port)} is not a port number`, { hint: 'give 1–65535, or 0 for any free port' })
  }
  // A UDP datagram carries at most 65,507 bytes over IPv4, some of them the seal's.
  if (!Number.isInteger(mtu) || mtu < 1 || mtu > MAX_UDP_PAYLOAD - SEAL_OVERHEAD) {
    throw new MeshLinkError(`a UDP link mtu of ${String(mtu)} bytes is impossible`, { hint: `give 1–${MAX_UDP_PAYLOAD - SEAL_OVERHEAD}; the default ${UDP_LINK_MTU} avoids IP fragmentation` })
  }
  for (const a of options.addresses ?? []) {
    if (!isIPv4(a)) throw new MeshLinkError(`"${a}" is not an IPv4 address`, { hint: 'give the IPv4 addresses of the LAN interfaces to use' })
  }

  let socket: Socket | null = null
  let announce: ((link: Link) => void) | null = null
  let boundPort = 0
  let ifaces: LanInterface[] = []
  /** Open links by "address:port" of the neighbour. */
  const neighbours = new Map<string, UdpLink>()
  let schedule: BeaconSchedule | null = null
  let beaconTimer: NodeJS.Timeout | null = null
  let pollTimer: NodeJS.Timeout | null = null
  let watch: InterfaceWatch | null = null
  /** Beacon rounds run one at a time (multicast sends pick their interface per send). */
  let beaconing: Promise<void> = Promise.resolve()
  /**
   * The last session given to a link's sealed frames (udp-frame-seal.ts). Each new link
   * takes a greater one, at least the clock's time, so a key never sees a nonce twice:
   * not on a link opened again to the same neighbour, nor after a restart.
   */
  let session = 0

  const medium: Medium = {
    send: (bytes, link) => {
      const s = socket
      if (s === null) return false
      if (s.getSendQueueCount() >= queueDatagrams) return false
      try {
        s.send(bytes, link.port, link.address, (err) => {
          if (err === null || err === undefined) return
          const code = (err as NodeJS.ErrnoException).code ?? err.message
          if (UNREACHABLE.has(code)) link.drop(`send failed: ${code}`)
          else log?.debug('udp send failed', { link: link.id, err: code })
        })
      } catch (err) {
        // The socket closed under us (stop() racing a send).
        log?.debug('udp send refused', { link: link.id, err: (err as Error).message })
        return false
      }
      return true
    }
  }

  const sendTo = async (bytes: Uint8Array, address: string, port: number): Promise<void> => {
    const s = socket
    if (s === null) return
    await new Promise<void>((resolve) => {
      try {
        s.send(bytes, port, address, (err) => {
          if (err !== null && err !== undefined) log?.debug('udp beacon send failed', { to: `${address}:${port}`, err: (err as NodeJS.ErrnoException).code ?? err.message })
          resolve()
        })
      } catch { resolve() }
    })
  }

  const localAddressFor = (address: string): string => ifaces.find((i) => onSubnet(i, address))?.address ?? UNKNOWN_ADDRESS

  const beaconRound = async (): Promise<void> => {
    const s = socket
    if (s === null || schedule === null) return
    const now = clock.now()
    const flags = schedule.soliciting ? SOLICIT : 0
    schedule.sent(now)
    for (const iface of ifaces) {
      const beacon = encodeBeacon(identity, flags, now, iface.address, boundPort)
      if (multicast) {
        try { s.setMulticastInterface(iface.address) } catch { continue }
        await sendTo(beacon, group, boundPort)
      }
      if (broadcast) await sendTo(beacon, iface.broadcast, boundPort)
    }
    for (const t of statics) await sendTo(encodeBeacon(identity, flags, now, localAddressFor(t.address), boundPort), t.address, t.port)
  }

  const armBeacon = (): void => {
    if (beaconTimer !== null) clearTimeout(beaconTimer)
    if (schedule === null) return
    beaconTimer = setTimeout(() => {
      beaconTimer = null
      beaconing = beaconing.then(beaconRound).catch((err: unknown) => { log?.warn('udp beacon round failed', { err: (err as Error).message }) }).finally(armBeacon)
    }, Math.max(0, schedule.nextAt - clock.now()))
    beaconTimer.unref()
  }

  const changed = (): void => {
    if (schedule === null) return
    schedule.changed(clock.now())
    armBeacon()
  }

  /** Answers a neighbour with a unicast beacon, at most once per beaconMinMs. */
  const answer = (link: UdpLink, now: number): void => {
    if (now - link.lastAnswerAt < timing.beaconMinMs) return
    link.lastAnswerAt = now
    void sendTo(encodeBeacon(identity, 0, now, link.iface?.address ?? localAddressFor(link.address), boundPort), link.address, link.port)
  }

  const onBeacon = (bytes: Uint8Array, from: RemoteInfo): void => {
    const b = decodeBeacon(bytes)
    if (b === undefined || sameKey(b.publicKey, identity.publicKey)) return
    const key = `${from.address}:${from.port}`
    const iface = ifaces.find((i) => onSubnet(i, from.address)) ?? null
    const isStatic = staticKeys.has(key)
    // One hop of the mesh is one segment: nothing from beyond our subnets, unless configured.
    if (iface === null && !isStatic) return
    // Address and port are part of what was signed: a beacon replayed from elsewhere is refused.
    if (b.port !== from.port || (b.address !== from.address && !(b.address === UNKNOWN_ADDRESS && isStatic))) return
    const now = clock.now()
    if (Math.abs(b.timestamp - now) > timing.beaconWindowMs) {
      log?.debug('udp beacon outside the time window', { from: key, skewMs: b.timestamp - now })
      return
    }
    const existing = neighbours.get(key)
    const known = existing !== undefined && sameKey(existing.remoteKey, b.publicKey)
    // A copy (multicast and broadcast both) or a replay: nothing new, no signature to check.
    if (known && b.timestamp <= existing.lastBeaconAt) return
    if (!verifyBeacon(b)) {
      log?.debug('udp beacon with a bad signature', { from: key })
      return
    }
    if (known) {
      existing.lastHeardAt = now
      existing.lastBeaconAt = b.timestamp
      if ((b.flags & SOLICIT) !== 0) answer(existing, now)
      return
    }
    // Someone else now has this address (a node restarted with another key).
    existing?.drop('another node took its address')
    if (announce === null) return
    let seal: FrameSeal
    try {
      session = nextSession(now, session)
      seal = new FrameSeal(identity, b.publicKey, session)
    } catch (err) {
      log?.debug('udp beacon with an unusable key', { from: key, err: (err as Error).message })
      return
    }
    const link = new UdpLink({ address: from.address, port: from.port, iface, remoteKey: b.publicKey, mtu, bitrate, now, beaconAt: b.timestamp, medium, seal, ...(log === undefined ? {} : { logger: log }) })
    neighbours.set(key, link)
    link.onClose((reason) => {
      if (neighbours.get(key) === link) neighbours.delete(key)
      log?.debug('udp link closed', { link: link.id, reason })
      if (announce !== null) changed()
    })
    log?.debug('udp link open', { link: link.id, key: hex(b.publicKey).slice(0, 16), iface: iface?.name ?? null })
    answer(link, now)
    changed()
    announce(link)
  }

  const onMessage = (msg: Buffer, from: RemoteInfo): void => {
    if (from.family !== 'IPv4' || msg.byteLength === 0) return
    switch (msg[0]) {
      case SEALED: {
        const link = neighbours.get(`${from.address}:${from.port}`)
        if (link === undefined) return
        const opened = link.heard(msg, clock.now())
        if (!opened.ok) log?.debug('udp frame refused', { link: link.id, reason: opened.reason })
        return
      }
      case BEACON:
        try {
          onBeacon(msg, from)
        } catch (err) {
          // Hostile bytes must never take the socket (and every link on it) down.
          log?.debug('udp beacon refused', { from: `${from.address}:${from.port}`, err: (err as Error).message })
        }
        return
      default:
        // Not ours: something else speaks UDP on this port.
    }
  }

  const join = (iface: LanInterface): void => {
    if (!multicast || socket === null) return
    try {
      socket.addMembership(group, iface.address)
    } catch (err) {
      // Already a member (the interface bounced), or the interface cannot do multicast.
      log?.debug('could not join the mesh multicast group', { iface: iface.name, err: (err as Error).message })
    }
  }

  const leave = (iface: LanInterface): void => {
    if (!multicast || socket === null) return
    try { socket.dropMembership(group, iface.address) } catch { /* gone with the interface */ }
  }

  /** Interfaces up and down, and silent neighbours: checked every interfacePollMs. */
  const poll = (): void => {
    const now = clock.now()
    const current = lanInterfaces(options.addresses)
    const same = (a: LanInterface, b: LanInterface): boolean => a.name === b.name && a.address === b.address && a.netmask === b.netmask
    const gone = ifaces.filter((i) => !current.some((c) => same(c, i)))
    const added = current.filter((c) => !ifaces.some((i) => same(c, i)))
    ifaces = current
    for (const iface of gone) {
      log?.debug('interface down', { iface: iface.name, address: iface.address })
      for (const link of [...neighbours.values()]) {
        if (link.iface !== null && same(link.iface, iface)) link.drop(`interface ${iface.name} down`)
      }
      leave(iface)
    }
    for (const iface of added) join(iface)
    for (const link of [...neighbours.values()]) {
      if (now - link.lastHeardAt > timing.silenceMs) {
        // Tell it, in case only its beacons were lost: both ends then start afresh.
        link.sayBye()
        link.drop(`silent for ${Math.round((now - link.lastHeardAt) / 1000)} s`)
      }
    }
    if (gone.length > 0 || added.length > 0) changed()
  }

  const provider: UdpLinkProvider = {
    kind: 'udp',
    get port () { return boundPort },
    neighbours: () => {
      const now = clock.now()
      return [...neighbours.values()].map((l) => ({ link: l.id, address: l.address, port: l.port, interface: l.iface?.name ?? null, remoteKey: hex(l.remoteKey), lastHeardMsAgo: now - l.lastHeardAt }))
    },
    start: async (onLink) => {
      if (socket !== null) return
      const s = createSocket({ type: 'udp4' })
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject)
          s.bind({ port, address: '0.0.0.0', exclusive: true }, () => {
            s.off('error', reject)
            resolve()
          })
        })
      } catch (err) {
        s.close()
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'EADDRINUSE') {
          throw new AddressInUseError(`UDP port ${port} for mesh links is already in use`, {
            hint: 'another program, perhaps another Peernet node, holds it; stop it, or give this node another port (--mesh-port N) or no UDP links (--no-mesh-udp)',
            cause: err
          })
        }
        throw new MeshLinkError(`cannot bind UDP port ${port} for mesh links: ${(err as Error).message}`, { cause: err })
      }
      s.on('error', (err) => { log?.warn('udp mesh socket error', { err: err.message }) })
      s.on('message', onMessage)
      if (broadcast) s.setBroadcast(true)
      if (multicast) {
        // One hop: beacons never cross a router. Our own beacons need not come back.
        s.setMulticastTTL(1)
        s.setMulticastLoopback(false)
      }
      socket = s
      boundPort = s.address().port
      announce = onLink
      ifaces = lanInterfaces(options.addresses)
      for (const iface of ifaces) join(iface)
      schedule = new BeaconSchedule({ minMs: timing.beaconMinMs, maxMs: timing.beaconMaxMs }, clock.now(), random)
      armBeacon()
      pollTimer = setInterval(poll, timing.interfacePollMs)
      pollTimer.unref()
      if (options.watchInterfaces !== false) watch = watchInterfaces(() => { if (socket !== null) poll() }, log)
      log?.debug('udp mesh links started', { port: boundPort, interfaces: ifaces.map((i) => `${i.name}/${i.address}`) })
    },
    stop: async () => {
      const s = socket
      if (s === null) return
      announce = null
      schedule = null
      if (beaconTimer !== null) clearTimeout(beaconTimer)
      if (pollTimer !== null) clearInterval(pollTimer)
      watch?.stop()
      beaconTimer = null
      pollTimer = null
      watch = null
      // Byes to every neighbour, and give them a moment to leave before the socket closes.
      for (const l of [...neighbours.values()]) l.close()
      neighbours.clear()
      const flushed = Date.now() + STOP_FLUSH_MS
      while (s.getSendQueueCount() > 0 && Date.now() < flushed) await new Promise((resolve) => setTimeout(resolve, 5))
      await beaconing
      for (const iface of ifaces) leave(iface)
      socket = null
      await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
    }
  }
  return provider
}
