// The I/O shell of the direct app-message channel: apps' services send request-free
// messages to another account's device (credit's line updates), over one long-lived
// libp2p stream per pair of peers (see frames.ts for the wire format and the hello).
//
// Who is who: libp2p's Noise handshake authenticates the peer's node key; the hello on
// the stream binds that key to an account and the key that signs for it. A message is
// handed to an app only from a peer whose hello verified, whose device is not revoked in
// any network held here, and whose account is a member of a network this node is in;
// anything else is dropped (and counted).
//
// How a device is reached: through a stream already open to its node; else by dialling
// the node — known from an earlier hello (kept in a table, since an account's home has a
// node key of its own that no log names) or, for a linked device, its own key — over
// any transport libp2p has addresses for, and over the mesh transport when the mesh has
// a route (as sync reaches members three hops away).

import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeernetLibp2p } from '../../host/host.ts'
import type { Logger } from '../../core/log.ts'
import type { Clock } from '../../core/clock.ts'
import type { Store } from '../../core/store.ts'
import { peerIdOfPublicKey, publicKeyOfPeerId } from '../../core/identity.ts'
import type { Identity } from '../../core/identity.ts'
import { bytesEqual } from '../../core/encoding.ts'
import type { AccountKeys } from '../account.ts'
import type { AppDefinition, AppPeer, AppService } from '../app.ts'
import type { Networks } from '../networks.ts'
import { toHex } from '../hashing.ts'
import { AppMessageError } from '../errors.ts'
import { FrameReader } from '../sync/messages.ts'
import { APP_MSG_PROTOCOL, MAX_APP_FRAME_BYTES, checkHello, decodeAppFrame, encodeAppFrame, makeHello } from './frames.ts'
import type { AppHello } from './frames.ts'

const MIGRATIONS = [{
  version: 1,
  description: 'the node (peer id) each account device last spoke from on the app-message channel',
  sql: `CREATE TABLE app_msg_peers (
    account BLOB NOT NULL,
    device BLOB NOT NULL,
    peer TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (account, device)
  ) STRICT, WITHOUT ROWID;`
}]

/** How long "this account is a member of a network here" is trusted before it is asked again. */
const KNOWN_TTL_MS = 5_000
const DIAL_TIMEOUT_MS = 15_000
/** How long a full stream may take to take more before its senders stop waiting on it. */
const DRAIN_TIMEOUT_MS = 30_000

/** What the mesh offers the channel: whether it has a route to a node key, and the address to dial it at. */
export interface AppMessageMesh {
  reachable: (key: Uint8Array) => boolean
  address: (peer: string) => Parameters<PeernetLibp2p['dial']>[0]
}

export interface AppMessageOptions {
  libp2p: PeernetLibp2p
  networks: Networks
  store: Store
  /** This node's libp2p identity (its Noise key). */
  node: Identity
  keys: AccountKeys
  apps: readonly AppDefinition[]
  clock: Clock
  logger: Logger
  mesh: AppMessageMesh | null
}

export interface AppMessageService {
  /** Peers whose hello verified, with the account and device each speaks for. */
  peers: () => Array<{ peer: string, account: string, device: string }>
  /** The node (peer id) each device's hello last came from, by device key (hex): how a device key that is not a node key is found on the network. */
  nodesOfDevices: () => Map<string, string>
  /** Frames dropped so far: before a hello, from an unknown account, for an app with no service, malformed. */
  dropped: () => number
  /** The running service of an app, if it has one. */
  service: (app: string) => AppService | undefined
  stop: () => Promise<void>
}

interface Session {
  peer: string
  stream: Stream
  connection: Connection
  /** Set once the peer's hello verified. */
  remote: AppPeer | null
  /** Frames waiting for the end of this turn, written then as one (see `enqueue`). */
  out: Uint8Array[]
  flushing: NodeJS.Immediate | null
  /** Set while the stream's buffer is full: senders wait on it. */
  drained: Promise<void> | null
}

const deviceKey = (p: AppPeer): string => toHex(p.account) + toHex(p.device)

export function startAppMessages (o: AppMessageOptions): AppMessageService {
  const { libp2p, networks, logger } = o
  o.store.migrate('app-messages', MIGRATIONS)
  const db = o.store.db
  const self = libp2p.peerId.toString()
  const sessions = new Set<Session>()
  /** Verified sessions by account+device. */
  const byDevice = new Map<string, Set<Session>>()
  const known = new Map<string, number>()
  /** Woken whenever a session verifies (senders waiting for a peer). */
  let waiters: Array<() => void> = []
  let dropped = 0
  let stopped = false
  const hello = encodeAppFrame(makeHello(o.keys, o.node.publicKey))

  const knows = (account: Uint8Array): boolean => {
    const k = toHex(account)
    if ((known.get(k) ?? 0) > o.clock.now()) return true
    const member = networks.logs.memberNetworkIds().some((net) => networks.logs.isMember(net, account))
    if (member) known.set(k, o.clock.now() + KNOWN_TTL_MS)
    return member
  }

  const revokedStmt = db.prepare('SELECT 1 FROM chains WHERE author = ? AND device = ? AND revoked_after IS NOT NULL LIMIT 1')
  const rememberStmt = db.prepare('INSERT INTO app_msg_peers (account, device, peer, seen_at) VALUES (?, ?, ?, ?) ON CONFLICT (account, device) DO UPDATE SET peer = excluded.peer, seen_at = excluded.seen_at')
  const recallStmt = db.prepare('SELECT peer FROM app_msg_peers WHERE account = ? AND device = ?')
  const nodesStmt = db.prepare('SELECT device, peer FROM app_msg_peers ORDER BY seen_at')
  const devicesStmt = db.prepare('SELECT device FROM app_msg_peers WHERE account = ? ORDER BY seen_at DESC')
  // An account's devices, newest hello first, kept until the next hello from that account
  // (apps ask per message; the table changes only on a hello).
  const devicesOf = new Map<string, Uint8Array[]>()
  const devices = (account: Uint8Array): Uint8Array[] => {
    const k = toHex(account)
    let list = devicesOf.get(k)
    if (list === undefined) {
      list = (devicesStmt.all(account) as Array<{ device: Uint8Array }>).map((r) => new Uint8Array(r.device))
      if (devicesOf.size >= 4096) devicesOf.clear()
      devicesOf.set(k, list)
    }
    return [...list]
  }
  const members = (): Uint8Array[] => {
    const seen = new Map<string, Uint8Array>()
    for (const net of networks.logs.memberNetworkIds()) {
      for (const m of networks.logs.members(net)) if (!bytesEqual(m.account, o.keys.publicKey)) seen.set(toHex(m.account), m.account)
    }
    return [...seen.values()]
  }

  // The apps' services, each with its context.
  const services = new Map<string, AppService>()
  const send = async (app: string, to: AppPeer, data: Uint8Array, signal: AbortSignal): Promise<void> => {
    const frame = encodeAppFrame({ t: 'm', app, data })
    const s = await sessionFor(to, signal)
    await enqueue(s, frame, signal)
  }

  /**
   * Queues a frame and writes everything queued for the stream at the end of the turn in
   * one send: a burst of app messages (a busy credit line sends hundreds a turn) then costs
   * one muxer frame, one Noise encryption and one socket write, not one each. Frames keep
   * their order, and the reader splits them again by their length prefix. A sender waits
   * only while the stream's buffer is full.
   */
  const enqueue = async (s: Session, frame: Uint8Array, signal: AbortSignal): Promise<void> => {
    s.out.push(frame)
    s.flushing ??= setImmediate(() => { flush(s) })
    if (s.drained !== null) await Promise.race([s.drained, new Promise<void>((resolve) => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })])
    signal.throwIfAborted()
  }

  const flush = (s: Session): void => {
    s.flushing = null
    const frames = s.out
    s.out = []
    if (frames.length === 0) return
    let bytes: Uint8Array
    if (frames.length === 1) bytes = frames[0] as Uint8Array
    else {
      bytes = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0))
      let at = 0
      for (const f of frames) { bytes.set(f, at); at += f.byteLength }
    }
    try {
      if (!s.stream.send(bytes) && s.drained === null) {
        s.drained = s.stream.onDrain({ signal: AbortSignal.timeout(DRAIN_TIMEOUT_MS) })
          .catch((err: unknown) => { logger.debug('app-message stream did not drain', { peer: s.peer, err }) })
          .finally(() => { s.drained = null })
      }
    } catch (err) {
      // The stream ended: what was queued is lost, as a message in flight on it would be
      // (apps re-send what matters, e.g. credit proposals and syncs on reconnect).
      dropped += frames.length
      logger.debug('app messages not sent', { peer: s.peer, frames: frames.length, err })
    }
  }
  for (const app of o.apps) {
    if (app.service === undefined) continue
    services.set(app.name, app.service({
      db,
      self: { account: o.keys.publicKey, device: o.keys.signer.publicKey },
      signer: o.keys.signer,
      clock: o.clock,
      logger: logger.child(app.name),
      send: async (to, bytes, { signal }) => { await send(app.name, to, bytes, signal) },
      knows,
      members,
      devices,
      networks: () => networks.logs.memberNetworkIdsOf(app.name)
    }))
  }

  const pick = (to: AppPeer): Session | undefined => {
    for (const s of byDevice.get(deviceKey(to)) ?? []) {
      if (s.stream.status === 'open' && s.connection.status === 'open') return s
    }
    return undefined
  }

  /** The nodes `to` may be on: where its hello last came from, and its own key when it is a device key. */
  const candidates = (to: AppPeer): string[] => {
    const out: string[] = []
    const row = recallStmt.get(to.account, to.device) as { peer: string } | undefined
    if (row !== undefined) out.push(row.peer)
    if (!bytesEqual(to.account, to.device)) {
      const p = peerIdOfPublicKey(to.device)
      if (!out.includes(p)) out.push(p)
    }
    return out.filter((p) => p !== self)
  }

  const connectTo = async (peer: string, signal: AbortSignal): Promise<void> => {
    const id = peerIdFromString(peer)
    let connection = libp2p.getConnections(id).find((c) => c.status === 'open')
    if (connection === undefined) {
      const dialSignal = AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)])
      const key = publicKeyOfPeerId(peer)
      const viaMesh = o.mesh !== null && key !== undefined && o.mesh.reachable(key)
      try {
        connection = await libp2p.dial(id, { signal: dialSignal })
      } catch (err) {
        if (!viaMesh || o.mesh === null) throw err
        connection = await libp2p.dial(o.mesh.address(peer), { signal: dialSignal })
      }
    }
    // A session already open on this connection serves; else open one.
    for (const s of sessions) if (s.connection === connection && s.stream.status === 'open') return
    const stream = await connection.newStream(APP_MSG_PROTOCOL, { signal })
    attach(stream, connection)
  }

  const sessionFor = async (to: AppPeer, signal: AbortSignal): Promise<Session> => {
    let s = pick(to)
    if (s !== undefined) return s
    const tried = new Set<string>()
    for (;;) {
      if (stopped) throw new AppMessageError('the node is stopping')
      // Dial each candidate once per send; their hellos wake us.
      for (const peer of candidates(to)) {
        if (tried.has(peer)) continue
        tried.add(peer)
        connectTo(peer, signal).catch((err: unknown) => { logger.debug('could not open an app-message stream', { peer, err }) })
      }
      await new Promise<void>((resolve) => {
        const done = (): void => { signal.removeEventListener('abort', done); resolve() }
        waiters.push(done)
        signal.addEventListener('abort', done, { once: true })
      })
      s = pick(to)
      if (s !== undefined) return s
      if (signal.aborted) {
        throw new AppMessageError(`cannot reach account ${toHex(to.account).slice(0, 16)}… (device ${toHex(to.device).slice(0, 16)}…)`, {
          hint: tried.size === 0 ? 'no node of it has been seen here yet: connect to it (or a common network\'s member) first' : 'its node is offline or out of reach; try again later'
        })
      }
    }
  }

  const verified = (s: Session, h: AppHello): void => {
    try {
      checkHello(h, publicKeyOfPeerId(s.peer) ?? new Uint8Array(0))
    } catch (err) {
      logger.debug('app-msg hello refused', { peer: s.peer, err })
      s.stream.abort(err as Error)
      return
    }
    if (!bytesEqual(h.device, h.account) && revokedStmt.get(h.account, h.device) !== undefined) {
      logger.debug('app-msg hello from a revoked device', { peer: s.peer })
      s.stream.abort(new AppMessageError('revoked device'))
      return
    }
    s.remote = { account: h.account, device: h.device }
    const k = deviceKey(s.remote)
    const set = byDevice.get(k) ?? new Set()
    set.add(s)
    byDevice.set(k, set)
    rememberStmt.run(h.account, h.device, s.peer, o.clock.now())
    devicesOf.delete(toHex(h.account))
    const w = waiters
    waiters = []
    for (const wake of w) wake()
    // Only a member may hear of it, as only a member's messages are delivered.
    if (!knows(h.account)) return
    for (const [app, svc] of services) {
      try { svc.connected?.(s.remote) } catch (err) { logger.warn('app service failed on a connect', { app, err }) }
    }
  }

  const deliver = (s: Session, received: Uint8Array): void => {
    // A plain Uint8Array copy: what the network gives may be a Buffer, and the bytes (and
    // the values decoded from them) go on to apps that re-encode them canonically.
    const body = Object.getPrototypeOf(received) === Uint8Array.prototype ? received : new Uint8Array(received)
    let frame
    try { frame = decodeAppFrame(body) } catch (err) {
      dropped++
      logger.debug('malformed app message', { peer: s.peer, err })
      return
    }
    if (frame.t === 'hello') {
      if (s.remote === null) verified(s, frame)
      return
    }
    const from = s.remote
    if (from === null || !knows(from.account)) {
      dropped++
      logger.debug('app message from an unknown peer dropped', { peer: s.peer, app: frame.app })
      return
    }
    const svc = services.get(frame.app)
    if (svc === undefined) { dropped++; return }
    try { svc.receive(from, frame.data) } catch (err) { logger.warn('app service failed on a message', { app: frame.app, err }) }
  }

  const detach = (s: Session): void => {
    sessions.delete(s)
    if (s.flushing !== null) { clearImmediate(s.flushing); s.flushing = null }
    if (s.remote !== null) {
      const remote = s.remote
      const set = byDevice.get(deviceKey(remote))
      set?.delete(s)
      if (set?.size === 0) {
        byDevice.delete(deviceKey(remote))
        if (!stopped && knows(remote.account)) {
          for (const [app, svc] of services) {
            try { svc.disconnected?.(remote) } catch (err) { logger.warn('app service failed on a disconnect', { app, err }) }
          }
        }
      }
    }
  }

  const attach = (stream: Stream, connection: Connection): void => {
    if (stopped) { stream.abort(new Error('node stopping')); return }
    const s: Session = { peer: connection.remotePeer.toString(), stream, connection, remote: null, out: [], flushing: null, drained: null }
    sessions.add(s)
    stream.send(hello)
    const reader = new FrameReader()
    void (async () => {
      try {
        for await (const chunk of stream) {
          for (const f of reader.push(chunk instanceof Uint8Array ? chunk : chunk.subarray())) {
            if (f.byteLength > MAX_APP_FRAME_BYTES) { dropped++; continue }
            deliver(s, f)
          }
        }
      } catch (err) {
        logger.debug('app-message stream ended', { peer: s.peer, err })
      } finally {
        detach(s)
      }
    })()
  }

  void libp2p.handle(APP_MSG_PROTOCOL, (stream: Stream, connection: Connection) => { attach(stream, connection) }, { runOnLimitedConnection: false })

  // Open a stream to every peer that speaks the protocol (the smaller peer id opens, as
  // sync does), so the peer's account is known here before anyone needs to message it.
  const onIdentify = (evt: CustomEvent<{ peerId: { toString: () => string }, protocols: string[] }>): void => {
    const peer = evt.detail.peerId.toString()
    if (!evt.detail.protocols.includes(APP_MSG_PROTOCOL) || self >= peer) return
    connectTo(peer, AbortSignal.timeout(DIAL_TIMEOUT_MS)).catch((err: unknown) => { logger.debug('could not open an app-message stream', { peer, err }) })
  }
  libp2p.addEventListener('peer:identify', onIdentify)

  return {
    peers: () => [...sessions].flatMap((s) => s.remote === null ? [] : [{ peer: s.peer, account: toHex(s.remote.account), device: toHex(s.remote.device) }]),
    dropped: () => dropped,
    nodesOfDevices: () => new Map((nodesStmt.all() as Array<{ device: Uint8Array, peer: string }>).map((r) => [toHex(r.device), r.peer])),
    service: (app) => services.get(app),
    stop: async () => {
      stopped = true
      libp2p.removeEventListener('peer:identify', onIdentify)
      for (const wake of waiters) wake()
      waiters = []
      for (const svc of services.values()) {
        try { await svc.stop() } catch (err) { logger.warn('app service failed to stop', { err }) }
      }
      for (const s of sessions) s.stream.abort(new Error('node stopping'))
      sessions.clear()
      byDevice.clear()
    }
  }
}
