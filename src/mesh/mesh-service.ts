// The I/O shell of the mesh: it owns the links, one Router and one Forwarder (the pure
// cores), a timer, and the inbox table. Frames from links go to the core that reads
// them; what the cores ask to send goes out on links (control paced per link); envelopes
// for this node are opened here, where the keys are, and acknowledged. Nothing here
// decides a route or keeps custody: that is the cores' job, the same code the simulator
// drives.

import type { Identity } from '../core/identity.ts'
import { peerIdOfPublicKey, publicKeyOfPeerId, signBytes, verifyBytes } from '../core/identity.ts'
import type { Store } from '../core/store.ts'
import type { Logger } from '../core/log.ts'
import type { Link, LinkId, LinkProvider } from './link.ts'
import { nodeIdOf } from './node-id.ts'
import type { NodeId } from './node-id.ts'
import { Router } from './router.ts'
import type { NeighbourView, RouteView, RouterOutput, RouterTiming, SourceView } from './router.ts'
import { decodeControl, encodeControl } from './control-messages.ts'
import { DEFAULT_FORWARDER_CONFIG, Forwarder } from './forwarder.ts'
import type { CustodyView, ForwarderConfig, ForwarderOutput, NextHop } from './forwarder.ts'
import { ACK_REQUESTED, BINDING, DEFAULT_TTL, DST_KEY, IS_ACK, LOCATION, decodeEnvelope, encodeEnvelope, newEnvelopeId, openEnvelope, sealEnvelope } from './envelope.ts'
import type { MeshEnvelope } from './envelope.ts'
import { FRAME_CONTROL, FRAME_DATA, frameOf, readFrame } from './frame.ts'
import { decodePayload, encodePayload } from './payload.ts'
import { ControlPacer } from './control-pacer.ts'
import { MESH_MIGRATIONS } from './schema.ts'
import { DAEMON_SCOPES } from './landmarks.ts'
import type { ScopeConfig } from './landmarks.ts'
import { comesFar, DEFAULT_LOCATION_CONFIG, LocationService, routeWithLocation } from './location.ts'
import type { LocationConfig, LocationCounters, LocationOutput } from './location.ts'
import { Outbox } from './outbox.ts'
import { restartSeqno, saveSeqno } from './router-state.ts'
import type { OutboxEntry, OutboxLimits } from './outbox.ts'
import { MeshError, UnknownPeerError } from './errors.ts'

const DEFAULT_SEND_TIMEOUT_MS = 10_000
/**
 * A gateway that could not reach a node beyond the mesh tries again after this long,
 * doubling per failure up to a minute, for as long as an envelope for it waits in
 * custody: a node that is down or gone costs a few DHT lookups, and one back after a
 * restart is found within seconds.
 */
const DEFAULT_BRIDGE_RETRY = { minMs: 5_000, maxMs: 60_000 }
/** Nodes beyond the mesh a gateway keeps retry state for at once. */
const BRIDGE_ENTRIES = 4096

/** A gateway's attempts to reach one node beyond the mesh. */
interface BridgeAttempt {
  /** Its public key (a peer id), to dial it by. */
  key: Uint8Array
  /** Wait after a failure of the current attempt (doubles per attempt). */
  wait: number
  /** When the next attempt may start; Infinity while one is under way. */
  next: number
}

export interface MeshServiceOptions {
  identity: Identity
  store: Store
  providers: LinkProvider[]
  logger: Logger
  /** This node reaches the Internet and offers it to the mesh. */
  gateway?: boolean
  /**
   * Reaches a node beyond the mesh (a gateway's job): dial it by peer id over the
   * Internet. Once connected, a link to it comes up and the envelopes held for it go.
   */
  dialBeyond?: (peerId: string) => Promise<void>
  now?: () => number
  timing?: Partial<RouterTiming>
  /**
   * Landmark scopes (landmarks.ts). Default DAEMON_SCOPES: scale-aware, a plain node's
   * routes reach the whole mesh until it knows 64 landmarks (a mesh of about 2,000 nodes
   * around it), as under NO_LANDMARKS; past that they narrow and the location service
   * (location.ts, wired here) gives the addresses of far nodes. Under DEFAULT_SCOPES (the
   * simulator's) a small mesh would split into scopes too: in the babeld benchmark's 4×5
   * grid the corners, 7 hops apart, had no route to each other, only the detour through a
   * home.
   */
  scopes?: Partial<ScopeConfig>
  location?: Partial<Omit<LocationConfig, 'self' | 'sign' | 'verify'>>
  forwarding?: Partial<ForwarderConfig>
  /** Bounds of the durable outbox of reliable sends. */
  outbox?: Partial<OutboxLimits>
  /** A gateway's retries of a node beyond the mesh it could not reach (tests shorten them). */
  bridgeRetry?: Partial<typeof DEFAULT_BRIDGE_RETRY>
}

export interface MeshMessage {
  /** Sender's peer id. */
  from: string
  id: string
  text: string
  receivedAt: number
  hops: number
}

export interface MeshSendResult {
  id: string
  /** The destination's acknowledgement came back within the wait. */
  acked: boolean
  rttMs: number | null
  /** Where the envelope went first: a neighbour link, or this node's custody store. */
  firstHop: 'link' | 'custody'
}

export interface MeshNeighbour extends NeighbourView {
  kind: string
  peerId: string
}

export interface MeshRoute extends RouteView {
  /** The destination's peer id, when this node knows its key. */
  peerId: string | null
}

export interface MeshStats {
  links: number
  controlBytesSent: number
  controlBytesReceived: number
  controlPacketsSent: number
  controlPacketsDropped: number
  dataBytesSent: number
  dataBytesReceived: number
  envelopesForwarded: number
  envelopesDelivered: number
  envelopesDropped: number
  malformedFrames: number
  forgedEnvelopes: number
  custody: number
}

export type MeshEvent =
  | { type: 'mesh:message', message: MeshMessage }
  | { type: 'mesh:neighbour', peerId: string, up: boolean, kind: string }

type StreamHandler = (srcKey: Uint8Array, bytes: Uint8Array) => void

interface OpenLink {
  link: Link
  pacer: ControlPacer
  nodeId: NodeId
  /** Envelopes sent on it in the last RECENT_MS, newest last (see onLinkClosed). */
  recent: Array<{ at: number, envelope: MeshEnvelope }>
}

/**
 * A link that closes because a send on it failed (the interface went down) took the
 * envelopes of the last moments with it. Those sent within this window are routed
 * again when it closes, instead of waiting for their senders' retransmission timers.
 */
const RECENT_MS = 500
const RECENT_MAX = 32

interface PendingSend { settle: (acked: boolean) => void }

export class MeshService {
  readonly self: NodeId
  private readonly identity: Identity
  private readonly store: Store
  private readonly providers: LinkProvider[]
  private readonly logger: Logger
  private readonly now: () => number
  private readonly router: Router
  private readonly forwarder: Forwarder
  /** Registers this node's address with its homes, and answers for the nodes whose home this is (location.ts). */
  private readonly location: LocationService
  /** Reliable sends not yet acknowledged, on disk: resent after a restart (see outbox.ts). */
  private readonly outboxTable: Outbox
  /** How long a reliable send is tried, across restarts: the forwarder's custody time. */
  private readonly outboxTtlMs: number
  /** The router seqno last written to the store. */
  private savedSeqno: number | undefined
  private readonly links = new Map<LinkId, OpenLink>()
  /** Public keys of nodes this node has heard of (neighbours, senders), by node id. */
  private readonly keys = new Map<NodeId, Uint8Array>()
  private readonly pending = new Map<string, PendingSend>()
  /** Reliable sends not yet acknowledged: envelope id → destination (an ack counts only from it). */
  private readonly unacked = new Map<string, NodeId>()
  private readonly listeners = new Set<(e: MeshEvent) => void>()
  private readonly routeListeners = new Set<() => void>()
  private streamHandler: StreamHandler | null = null
  private readonly gateway: boolean
  private readonly dialBeyond: ((peerId: string) => Promise<void>) | undefined
  /** This gateway's attempts to reach nodes beyond the mesh that have not connected yet, by node id. */
  private readonly bridged = new Map<NodeId, BridgeAttempt>()
  private readonly bridgeRetry: typeof DEFAULT_BRIDGE_RETRY
  /** Wakes the gateway to retry nodes beyond the mesh that envelopes in custody wait for. */
  /** When the earliest failed attempt to reach a node beyond the mesh may be tried again (the one timer waits for it too, see arm). */
  private nextBridgeAt = Infinity
  private timer: NodeJS.Timeout | null = null
  private timerAt = Infinity
  private stopped = false
  private readonly counters = {
    controlBytesSent: 0, controlBytesReceived: 0, controlPacketsSent: 0, dataBytesSent: 0, dataBytesReceived: 0,
    envelopesForwarded: 0, envelopesDelivered: 0, envelopesDropped: 0, malformedFrames: 0, forgedEnvelopes: 0
  }

  constructor (options: MeshServiceOptions) {
    this.identity = options.identity
    this.store = options.store
    this.providers = options.providers
    this.logger = options.logger
    this.now = options.now ?? Date.now
    this.self = nodeIdOf(options.identity.publicKey)
    this.gateway = options.gateway === true
    this.dialBeyond = options.dialBeyond
    this.bridgeRetry = { ...DEFAULT_BRIDGE_RETRY, ...options.bridgeRetry }
    this.keys.set(this.self, options.identity.publicKey)
    const now = this.now()
    this.store.migrate('mesh', MESH_MIGRATIONS)
    // The router's own seqno goes on from the last run's (router-state.ts).
    this.savedSeqno = restartSeqno(this.store)
    this.router = new Router({ self: this.self, gateway: options.gateway === true, timing: options.timing, scopes: options.scopes ?? DAEMON_SCOPES, random: Math.random, seqno: this.savedSeqno }, now)
    this.keepSeqno()
    const identity = options.identity
    this.location = new LocationService({ ...DEFAULT_LOCATION_CONFIG, ...options.location, self: this.self, sign: (b) => signBytes(identity, b), verify: verifyBytes })
    const meshRoute = routeWithLocation((dst, via) => this.router.route(dst, via), this.location, this.now)
    this.forwarder = new Forwarder({ ...DEFAULT_FORWARDER_CONFIG, ...options.forwarding, self: this.self }, {
      // No route in the mesh: toward a gateway, unless this node is one (it reaches
      // beyond by itself; handing the envelope to another gateway could loop).
      route: (dst, via) => meshRoute(dst, via) ?? this.towardGateway(via),
      links: () => [...this.links.keys()],
      // Beyond our routes' reach: by the destination's homes, which know its address.
      locate: (dst) => this.locate(dst)
    }, now)
    this.outboxTable = new Outbox(this.store, options.outbox)
    this.outboxTtlMs = options.forwarding?.custodyTtlMs ?? DEFAULT_FORWARDER_CONFIG.custodyTtlMs
  }

  async start (): Promise<void> {
    this.resendOutbox()
    for (const p of this.providers) await p.start((link) => { this.attach(link) })
    this.arm()
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    for (const p of this.pending.values()) p.settle(false)
    this.pending.clear()
    for (const p of this.providers) {
      try { await p.stop() } catch (err) { this.logger.debug('link provider stop failed', { kind: p.kind, err }) }
    }
    this.links.clear()
  }

  subscribe (listener: (e: MeshEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /**
   * Sends a text message to a node by its peer id, sealed to it. With `ack`, waits up to
   * `timeoutMs` for the destination's acknowledgement; the forwarder keeps retrying (and
   * custody keeps the envelope while no route exists) after the wait ends.
   */
  async send (peer: string, text: string, options: { ack?: boolean, timeoutMs?: number } = {}): Promise<MeshSendResult> {
    const dstKey = publicKeyOfPeer(peer)
    const ack = options.ack !== false
    const id = newEnvelopeId()
    const plain = encodePayload({ kind: 'text', text })
    const dst = nodeIdOf(dstKey)
    this.keys.set(dst, dstKey)
    const envelope = sealEnvelope(this.identity, dstKey, { id, flags: (ack ? ACK_REQUESTED : 0) | this.beyondFlag(dst), ttl: DEFAULT_TTL }, plain)
    const now = this.now()
    // Written before it goes out, so a crash from here on cannot lose it; a full outbox
    // refuses the send (OutboxFullError) before anything is sent.
    if (ack) this.outboxTable.add({ envelope, dstKey, text, expiresAt: now + this.outboxTtlMs }, now)
    this.bridge(envelope)
    if (!ack) {
      const out = this.forwarder.send(envelope, now, false)
      this.apply(out)
      return { id, acked: false, rttMs: null, firstHop: sentNow(out, id) ? 'link' : 'custody' }
    }
    const acked = new Promise<boolean>((resolve) => {
      const timeout = setTimeout(() => { this.pending.delete(id); resolve(false) }, options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS)
      timeout.unref()
      this.pending.set(id, { settle: (ok) => { clearTimeout(timeout); this.pending.delete(id); resolve(ok) } })
    })
    this.unacked.set(id, dst)
    const out = this.forwarder.send(envelope, now, true)
    const firstHop = sentNow(out, id) ? 'link' : 'custody'
    this.apply(out)
    const ok = await acked
    return { id, acked: ok, rttMs: ok ? this.now() - now : null, firstHop }
  }

  /** Sends one datagram of a stream (the libp2p-over-mesh transport) to a node, best effort. */
  sendStream (dstKey: Uint8Array, bytes: Uint8Array): void {
    const dst = nodeIdOf(dstKey)
    this.keys.set(dst, dstKey)
    const envelope = sealEnvelope(this.identity, dstKey, { id: newEnvelopeId(), flags: this.beyondFlag(dst), ttl: DEFAULT_TTL }, encodePayload({ kind: 'stream', bytes }))
    this.bridge(envelope)
    this.apply(this.forwarder.send(envelope, this.now(), false))
  }

  /** The landmarks for an envelope of ours: none with a route to dst, else its homes (or its address, if this node is its home). */
  private locate (dst: NodeId): readonly NodeId[] {
    if (this.router.route(dst, []) !== undefined) return []
    return this.location.locate(dst, this.router.wideLandmarks(), this.now())
  }

  /** Registrations due go to this node's homes, as LOCATION envelopes (not sealed: signed, see payload.ts). */
  private updateLocation (): void {
    const now = this.now()
    for (const o of this.location.update(this.router.address(), this.router.wideLandmarks(), now)) this.sendLocation(o, now)
  }

  /** A registration (to a home) or a binding update (to a peer): a LOCATION envelope, by the peer's homes if we have no route to it (the forwarder's locate). */
  private sendLocation (o: LocationOutput, now: number): void {
    const dst = o.kind === 'register' ? o.home : o.peer
    const flags = o.kind === 'register' ? LOCATION : LOCATION | BINDING
    const envelope: MeshEnvelope = { src: Uint8Array.from(this.identity.publicKey), dst, ttl: DEFAULT_TTL, id: newEnvelopeId(), flags, copies: 1, via: [], payload: o.record }
    this.apply(this.forwarder.send(envelope, now, false))
  }

  /** The next hop toward a gateway (none on a gateway itself), the envelope's landmarks left as they are. */
  private towardGateway (via: readonly NodeId[]): NextHop | undefined {
    const link = this.gateway ? undefined : this.router.gatewayHop()
    return link === undefined ? undefined : { link, via }
  }

  /** DST_KEY when the mesh has no route to `dst`: a gateway on the way needs the key to reach it. */
  private beyondFlag (dst: NodeId): number {
    return this.router.nextHop(dst, []) === undefined ? DST_KEY : 0
  }

  /**
   * On a gateway, an envelope for a node the mesh has no route to: dial that node over
   * the Internet. The envelope waits in custody; the link that the connection brings up
   * gives the route it waits for. The key is the one the envelope carries (DST_KEY), else
   * one this node knows: an envelope sent while its sender still had a route carries none,
   * and the node it is for was usually a neighbour here until a moment ago.
   */
  private bridge (envelope: MeshEnvelope): void {
    if (!this.gateway || this.dialBeyond === undefined || envelope.dst === this.self || (envelope.flags & LOCATION) !== 0) return
    const key = envelope.dstKey ?? this.keys.get(envelope.dst)
    if (key === undefined || this.router.nextHop(envelope.dst, envelope.via) !== undefined) return
    this.attemptBridge(envelope.dst, key, this.now())
  }

  /**
   * Dials a node beyond the mesh unless an attempt is under way or a failed one's wait
   * has not passed. A failure waits bridgeRetry.minMs, doubling per attempt; a dial that
   * connects clears the state, so a node whose connection later drops (it restarted, it
   * moved) is dialled again at the next envelope for it.
   */
  private attemptBridge (dst: NodeId, key: Uint8Array, now: number): void {
    const dialBeyond = this.dialBeyond
    const last = this.bridged.get(dst)
    if (dialBeyond === undefined || (last !== undefined && now < last.next)) return
    const attempt: BridgeAttempt = { key, wait: last === undefined ? this.bridgeRetry.minMs : Math.min(this.bridgeRetry.maxMs, last.wait * 2), next: Infinity }
    this.bridged.delete(dst) // re-inserted last: the oldest entry is the first to go
    this.bridged.set(dst, attempt)
    if (this.bridged.size > BRIDGE_ENTRIES) this.bridged.delete(this.bridged.keys().next().value as NodeId)
    const peer = peerIdOfPublicKey(key)
    dialBeyond(peer).then(
      () => { if (this.bridged.get(dst) === attempt) this.bridged.delete(dst) },
      (err: unknown) => {
        this.logger.debug('gateway could not reach a node beyond the mesh', { peer, err })
        attempt.next = this.now() + attempt.wait
        if (attempt.next < this.nextBridgeAt) { this.nextBridgeAt = attempt.next; this.arm() }
      }
    )
  }

  /**
   * Tries again the nodes beyond the mesh whose wait has passed and for which an envelope
   * still waits in custody with no route; forgets those nothing waits for any more. So a
   * gateway keeps trying for as long as its custody holds the envelope, not only when its
   * sender retransmits (an unacknowledged send is never retransmitted).
   */
  private retryBridges (now: number): void {
    this.nextBridgeAt = Infinity
    const waiting = new Set(this.forwarder.custody().map((c) => c.dst))
    let soonest = Infinity
    for (const [dst, attempt] of [...this.bridged]) {
      if (attempt.next > now) {
        soonest = Math.min(soonest, attempt.next)
      } else if (!waiting.has(dst) || this.router.nextHop(dst, []) !== undefined) {
        this.bridged.delete(dst)
      } else {
        this.attemptBridge(dst, attempt.key, now)
      }
    }
    this.nextBridgeAt = soonest
  }

  /** Calls `listener` whenever the selected routes change (new destinations reachable, or lost). */
  onRoutesChanged (listener: () => void): () => void {
    this.routeListeners.add(listener)
    return () => { this.routeListeners.delete(listener) }
  }

  onStream (handler: StreamHandler): void {
    this.streamHandler = handler
  }

  /** Whether the mesh has a route to this key now. */
  reachable (key: Uint8Array): boolean {
    const dst = nodeIdOf(key)
    if (this.router.nextHop(dst, []) !== undefined) return true
    // Beyond our routes' reach, through its homes (location.ts).
    const via = this.locate(dst)
    return via.length > 0 && this.router.nextHop(dst, via) !== undefined
  }

  neighbours (): MeshNeighbour[] {
    return this.router.neighbours().map((n) => {
      const open = this.links.get(n.link)
      return { ...n, kind: open?.link.kind ?? 'unknown', peerId: open === undefined ? '' : peerIdOfPublicKey(open.link.remoteKey) }
    })
  }

  routes (): MeshRoute[] {
    return this.router.routes().map((r) => {
      const key = this.keys.get(r.dst)
      return { ...r, peerId: key === undefined ? null : peerIdOfPublicKey(key) }
    })
  }

  /** The router's source table (feasibility distances, pending seqno requests), for diagnosis. */
  sources (): SourceView[] {
    return this.router.sources()
  }

  /** Reliable sends waiting for their acknowledgement, and the latest that failed. */
  outbox (): OutboxEntry[] {
    return this.outboxTable.list()
  }

  custody (): CustodyView[] {
    return this.forwarder.custody()
  }

  inbox (limit = 100): MeshMessage[] {
    const rows = this.store.db.prepare('SELECT src, id, text, received_at, hops FROM mesh_inbox ORDER BY received_at DESC, rowid DESC LIMIT ?').all(limit) as Array<{ src: Uint8Array, id: string, text: string, received_at: number, hops: number }>
    return rows.reverse().map((r) => ({ from: peerIdOfPublicKey(r.src), id: r.id, text: r.text, receivedAt: r.received_at, hops: r.hops }))
  }

  stats (): MeshStats {
    let dropped = 0
    for (const l of this.links.values()) dropped += l.pacer.dropped
    return { links: this.links.size, controlPacketsDropped: dropped, custody: this.forwarder.custody().length, ...this.counters }
  }

  /** The location service's counters: registrations, lookups, binding updates (location.ts), for diagnosis. */
  locationCounters (): LocationCounters {
    return { ...this.location.counters }
  }

  // --- durable outbox ----------------------------------------------------------

  /**
   * At start: the reliable sends a previous run left unacknowledged go to the forwarder
   * again (into custody until a route appears). The destination's inbox dedups by
   * (src, id), so one that did arrive before the restart is only acknowledged again.
   */
  private resendOutbox (): void {
    const now = this.now()
    const envelopes = this.outboxTable.pending(now)
    if (envelopes.length > 0) this.logger.debug('mesh outbox: resending unacknowledged messages', { count: envelopes.length })
    for (const envelope of envelopes) {
      this.unacked.set(envelope.id, envelope.dst)
      this.apply(this.forwarder.send(envelope, now, true))
    }
  }

  // --- links -----------------------------------------------------------------

  private attach (link: Link): void {
    if (this.stopped) { link.close(); return }
    const nodeId = nodeIdOf(link.remoteKey)
    this.keys.set(nodeId, link.remoteKey)
    const now = this.now()
    this.links.set(link.id, { link, pacer: new ControlPacer(link.bitrate, Math.max(link.mtu, 1500), now), nodeId, recent: [] })
    this.logger.debug('mesh link open', { link: link.id, kind: link.kind, neighbour: nodeId })
    this.emit({ type: 'mesh:neighbour', peerId: peerIdOfPublicKey(link.remoteKey), up: true, kind: link.kind })
    // The router knows the link before its first frame (a link may hand over frames it
    // held as soon as a handler is set) and before its close.
    this.apply(this.router.linkUp(link.id, now))
    link.onFrame((frame) => { this.onFrame(link.id, frame) })
    link.onClose((reason) => {
      const open = this.links.get(link.id)
      if (open === undefined) return
      this.links.delete(link.id)
      this.logger.debug('mesh link closed', { link: link.id, kind: link.kind, reason })
      this.emit({ type: 'mesh:neighbour', peerId: peerIdOfPublicKey(link.remoteKey), up: false, kind: link.kind })
      const now = this.now()
      this.apply(this.router.linkDown(link.id, now))
      // Route again what went out on it just before it closed: through the new route if
      // the router has one, else into custody (ttl given back: it was never relayed).
      for (const r of open.recent) {
        if (now - r.at <= RECENT_MS) this.apply(this.forwarder.receive(link.id, { ...r.envelope, ttl: Math.min(255, r.envelope.ttl + 1) }, now))
      }
    })
    this.apply(this.forwarder.retry(now, [link.id]))
  }

  private onFrame (linkId: LinkId, frame: Uint8Array): void {
    if (this.stopped || !this.links.has(linkId)) return
    const f = readFrame(frame)
    const now = this.now()
    try {
      if (f?.kind === FRAME_CONTROL) {
        this.counters.controlBytesReceived += frame.byteLength
        this.apply(this.router.receive(linkId, decodeControl(f.body), now))
      } else if (f?.kind === FRAME_DATA) {
        this.counters.dataBytesReceived += frame.byteLength
        const envelope = decodeEnvelope(f.body)
        this.apply(this.router.noteTraffic(linkId, now))
        this.bridge(envelope)
        this.apply(this.forwarder.receive(linkId, envelope, now))
      } else {
        this.counters.malformedFrames++
      }
    } catch (err) {
      if (!(err instanceof MeshError)) throw err
      this.counters.malformedFrames++
      this.logger.debug('dropped a malformed mesh frame', { link: linkId, err: err.message })
    }
  }

  // --- outputs of the cores ----------------------------------------------------

  private apply (outputs: Array<RouterOutput | ForwarderOutput>): void {
    if (this.stopped) return
    for (const o of outputs) {
      switch (o.kind) {
        case 'send':
          if ('packet' in o) this.sendControl(o.link, encodeControl(o.packet))
          else this.sendData(o.link, o.envelope)
          break
        case 'routes-changed':
          this.apply(this.forwarder.retry(this.now()))
          this.updateLocation()
          for (const l of this.routeListeners) l()
          break
        case 'deliver':
          this.deliver(o.envelope)
          break
        case 'duplicate':
          // Delivered before: the sender retransmitted, so our ack was lost. Ack again.
          if ((o.envelope.flags & ACK_REQUESTED) !== 0 && (o.envelope.flags & IS_ACK) === 0) this.acknowledge(o.envelope)
          break
        case 'acked':
          this.outboxTable.settle(o.id)
          this.pending.get(o.id)?.settle(true)
          break
        case 'failed':
          this.logger.debug('mesh envelope given up', { id: o.id, dst: o.dst, reason: o.reason })
          this.outboxTable.fail(o.id, o.reason, this.now())
          this.unacked.delete(o.id)
          this.pending.get(o.id)?.settle(false)
          break
        case 'drop':
          this.counters.envelopesDropped++
          this.logger.debug('mesh envelope dropped', { id: o.envelope.id, reason: o.reason })
          break
      }
    }
    this.keepSeqno()
    this.arm()
  }

  /** Writes the router's own seqno when it moved (rarely: on a seqno request for this node). */
  private keepSeqno (): void {
    const seqno = this.router.ownSeqno()
    if (seqno === this.savedSeqno) return
    saveSeqno(this.store, seqno)
    this.savedSeqno = seqno
  }

  private sendControl (linkId: LinkId, packet: Uint8Array): void {
    const open = this.links.get(linkId)
    if (open === undefined) return
    for (const p of open.pacer.offer(frameOf(FRAME_CONTROL, packet), this.now())) this.transmitControl(open, p)
  }

  private transmitControl (open: OpenLink, frame: Uint8Array): void {
    if (open.link.send(frame)) {
      this.counters.controlBytesSent += frame.byteLength
      this.counters.controlPacketsSent++
    }
  }

  private sendData (linkId: LinkId, envelope: MeshEnvelope): void {
    const open = this.links.get(linkId)
    if (open === undefined) return
    const frame = frameOf(FRAME_DATA, encodeEnvelope(envelope))
    const now = this.now()
    if (open.link.send(frame)) {
      this.counters.dataBytesSent += frame.byteLength
      if (nodeIdOf(envelope.src) !== this.self) this.counters.envelopesForwarded++
      const recent = open.recent
      while (recent.length > 0 && (recent.length >= RECENT_MAX || now - (recent[0]?.at ?? now) > RECENT_MS)) recent.shift()
      recent.push({ at: now, envelope })
    }
    this.apply(this.router.noteTraffic(linkId, now))
  }

  /** An envelope for this node: open it, act on what it holds, acknowledge it. */
  private deliver (envelope: MeshEnvelope): void {
    if ((envelope.flags & LOCATION) !== 0) {
      // A registration with this node as a home, or a binding update from a node we sent
      // to (location.ts): signed by its src, not sealed.
      const now = this.now()
      const verdict = this.location.receive(envelope.src, envelope.payload, now, (envelope.flags & BINDING) !== 0)
      if (verdict.accepted) this.apply(this.forwarder.retry(now))
      else this.logger.debug('mesh location record refused', { id: envelope.id, reason: verdict.reason })
      return
    }
    let plain: Uint8Array
    try {
      plain = openEnvelope(this.identity, envelope)
    } catch (err) {
      this.counters.forgedEnvelopes++
      this.logger.debug('mesh envelope does not open', { id: envelope.id, err: (err as Error).message })
      return
    }
    const src = nodeIdOf(envelope.src)
    this.keys.set(src, envelope.src)
    let payload
    try {
      payload = decodePayload(plain)
    } catch (err) {
      this.counters.malformedFrames++
      this.logger.debug('mesh payload malformed', { id: envelope.id, err: (err as Error).message })
      return
    }
    this.counters.envelopesDelivered++
    this.bindingUpdate(src, envelope)
    if ((envelope.flags & IS_ACK) !== 0) {
      // Only the node we sent to can seal an ack to us as itself.
      if (payload.kind === 'ack' && this.unacked.get(payload.id) === src) {
        this.unacked.delete(payload.id)
        this.apply(this.forwarder.acknowledge(payload.id, this.now()))
      }
      return
    }
    if (payload.kind === 'text') {
      const receivedAt = Date.now()
      // Links crossed: the first is free, each relay takes one off the ttl.
      const hops = DEFAULT_TTL - envelope.ttl + 1
      const inserted = this.store.db.prepare('INSERT OR IGNORE INTO mesh_inbox (src, id, text, received_at, hops) VALUES (?, ?, ?, ?, ?)')
        .run(envelope.src, envelope.id, payload.text, receivedAt, hops)
      if (inserted.changes > 0) this.emit({ type: 'mesh:message', message: { from: peerIdOfPublicKey(envelope.src), id: envelope.id, text: payload.text, receivedAt, hops } })
    } else if (payload.kind === 'stream') {
      this.streamHandler?.(envelope.src, payload.bytes)
    }
    if ((envelope.flags & ACK_REQUESTED) !== 0) this.acknowledge(envelope)
  }

  /**
   * Data (or an ack) arrived, authenticated, from `src`: if it likely came by our homes
   * (location.ts, comesFar), so will the rest of its flow unless we tell it our address
   * (a binding update; rate-limited per peer there).
   */
  private bindingUpdate (src: NodeId, envelope: MeshEnvelope): void {
    // Links crossed: the first is free, each relay takes one off the ttl (our senders start at DEFAULT_TTL).
    if (!comesFar(this.router.route(src, []) !== undefined, DEFAULT_TTL - envelope.ttl + 1, this.router.landmark().scope)) return
    const now = this.now()
    const o = this.location.bind(src, now)
    if (o !== undefined) this.sendLocation(o, now)
  }

  private acknowledge (envelope: MeshEnvelope): void {
    const ack = sealEnvelope(this.identity, envelope.src, { id: newEnvelopeId(), flags: IS_ACK, ttl: DEFAULT_TTL }, encodePayload({ kind: 'ack', id: envelope.id }))
    this.apply(this.forwarder.send(ack, this.now(), false))
  }

  private emit (event: MeshEvent): void {
    for (const l of this.listeners) {
      try { l(event) } catch (err) { this.logger.warn('mesh event listener failed', { err }) }
    }
  }

  // --- time --------------------------------------------------------------------

  /** Sets the one timer to the earliest deadline of the cores and the pacers. */
  private arm (): void {
    if (this.stopped) return
    let at = Math.min(this.router.nextDeadline(), this.forwarder.nextDeadline(), this.location.nextDeadline(), this.nextBridgeAt)
    for (const l of this.links.values()) at = Math.min(at, l.pacer.nextDeadline())
    if (at === this.timerAt && this.timer !== null) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.timerAt = at
    if (at === Infinity) return
    this.timer = setTimeout(() => { this.fire() }, Math.max(0, at - this.now()))
    this.timer.unref()
  }

  private fire (): void {
    this.timer = null
    this.timerAt = Infinity
    if (this.stopped) return
    const now = this.now()
    for (const open of this.links.values()) {
      for (const p of open.pacer.drain(now)) this.transmitControl(open, p)
    }
    if (this.location.nextDeadline() <= now) this.updateLocation()
    if (this.nextBridgeAt <= now) this.retryBridges(now)
    this.apply(this.router.tick(now))
    this.apply(this.forwarder.tick(now))
  }
}

/** Whether envelope `id` went out on a link in `out` (rather than into custody). */
function sentNow (out: ForwarderOutput[], id: string): boolean {
  return out.some((o) => o.kind === 'send' && o.envelope.id === id)
}

/** The Ed25519 public key inside a peer id, or a clear error. */
export function publicKeyOfPeer (peer: string): Uint8Array {
  const key = publicKeyOfPeerId(peer)
  if (key === undefined) {
    throw new UnknownPeerError(`"${peer}" is not the peer id of a Peernet node`, { hint: 'use the peer id that `peernet id` prints on that node (12D3KooW…)' })
  }
  return key
}
