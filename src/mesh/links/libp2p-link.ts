// Mesh links over libp2p: one stream of `/peernet/mesh/1.0.0` per connected peer that
// speaks it, whatever transport the connection runs on. Frames are length-prefixed on the
// stream; the far side's key is the Ed25519 key its PeerId embeds, which Noise has
// authenticated. The stream is reliable and ordered, but a mesh link is best effort:
// when the stream cannot keep up, `send` drops (returns false) instead of blocking.
//
// Who opens: the peer with the smaller peer id, once identify says the other side speaks
// the protocol (as sync does). The other side only accepts. A new stream from a peer
// replaces the link it had: the opener only opens when it holds no usable link, so the
// newest stream is the one both sides agree on.
//
// Relayed connections: not used (`runOnLimitedConnection: false`). A circuit relay v2
// connection is limited to 128 KiB and 2 minutes by default, meant for signalling: a mesh
// link on it would die under traffic or on a timer and make the router chase a flapping
// neighbour. The relay node itself is one real hop (it holds a direct connection to both
// ends; if it runs Peernet it is a mesh neighbour of both), and DCUtR upgrades the pair to
// a direct connection, whose identify opens the link. A relay that applies no limits
// gives an unlimited connection, and the link opens on it like on any other.

import type { Connection, IdentifyResult, Libp2p, PeerId, Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import type { Link, LinkProvider } from '../link.ts'
import type { Logger } from '../../core/log.ts'
import { BaseLink } from './base-link.ts'
import { LengthPrefixedReader, encodeLengthPrefixed, LENGTH_PREFIX_BYTES } from './length-prefix.ts'

export const MESH_PROTOCOL = '/peernet/mesh/1.0.0'
/** Largest frame: big enough for any mesh packet, small enough not to hog a muxed connection. */
export const LIBP2P_LINK_MTU = 64 * 1024
/** Bytes a link may have waiting in the stream's send buffer while the stream is full. */
const DEFAULT_QUEUE_BYTES = 256 * 1024
/** A guess for "any libp2p transport": 10 Mbit/s. The router measures the truth. */
const DEFAULT_BITRATE = 1_250_000
const OPEN_TIMEOUT_MS = 10_000
/** After a local close, how long the far side has to close its end before we reset the stream. */
const CLOSE_GRACE_MS = 5_000

export interface Libp2pLinkOptions {
  protocol?: string
  mtu?: number
  bitrate?: number
  /** Send buffer bound per link, in bytes, past which `send` drops. */
  queueBytes?: number
  logger?: Logger
}

let linkCount = 0

class Libp2pLink extends BaseLink {
  readonly stream: Stream
  readonly connection: Connection
  readonly #queueBytes: number

  constructor (stream: Stream, connection: Connection, remoteKey: Uint8Array, options: { mtu: number, bitrate: number, queueBytes: number, logger?: Logger }) {
    const peer = connection.remotePeer.toString()
    super({ id: `libp2p:${peer.slice(-8)}:${++linkCount}`, kind: 'libp2p', remoteKey, mtu: options.mtu, bitrate: options.bitrate, ...(options.logger === undefined ? {} : { logger: options.logger }) })
    this.stream = stream
    this.connection = connection
    this.#queueBytes = options.queueBytes
    // The stream is ours alone for its whole life: it may stay quiet for minutes while the
    // router's hellos back off.
    const reader = new LengthPrefixedReader(options.mtu)
    stream.addEventListener('message', (evt: StreamMessageEvent) => {
      let frames: Uint8Array[]
      try {
        frames = reader.push(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray())
      } catch (err) {
        this.ended(`protocol error: ${(err as Error).message}`)
        stream.abort(err as Error)
        return
      }
      for (const f of frames) this.received(f)
    })
    stream.addEventListener('remoteCloseWrite', () => {
      // The far side closed its link: close ours, and our half of the stream.
      if (this.closed) return
      this.ended('closed by the far side')
      this.release()
    })
    stream.addEventListener('close', (evt: StreamCloseEvent) => {
      this.ended(evt.error === undefined ? 'stream closed' : `stream closed: ${evt.error.message}`)
    })
  }

  /** The stream and its connection can still carry frames. */
  get usable (): boolean {
    return !this.closed && this.stream.status === 'open' && this.connection.status === 'open'
  }

  /** Closes the link because the medium under it went away (connection closed, replaced). */
  drop (reason: string): void {
    if (this.closed) return
    this.ended(reason)
    this.stream.abort(new Error(reason))
  }

  protected transmit (frame: Uint8Array): boolean {
    const s = this.stream
    // Back-pressure: the stream's own buffer is the link's small queue; past it, drop.
    if (s.writableNeedsDrain && s.writeBufferLength + LENGTH_PREFIX_BYTES + frame.byteLength > this.#queueBytes) return false
    try {
      s.send(encodeLengthPrefixed(frame))
      return true
    } catch (err) {
      // Closed for writing under us (the far side reset it, the connection died).
      this.drop(`send failed: ${(err as Error).message}`)
      return false
    }
  }

  protected release (): void {
    const s = this.stream
    // Graceful: the far side sees the end of our half and closes its link and its half.
    // A far side that never does is reset after a grace period.
    const timer = setTimeout(() => { if (s.status !== 'closed') s.abort(new Error('mesh link closed')) }, CLOSE_GRACE_MS)
    timer.unref()
    s.close({ signal: AbortSignal.timeout(CLOSE_GRACE_MS) }).catch((err: unknown) => { s.abort(err instanceof Error ? err : new Error(String(err))) })
  }
}

/** The peer's raw Ed25519 public key, or undefined for another key type (RSA, secp256k1). */
function ed25519KeyOf (peer: PeerId): Uint8Array | undefined {
  return peer.type === 'Ed25519' ? peer.publicKey.raw : undefined
}

/**
 * A connection a link may run on: open, unlimited, and not itself carried by the mesh (a
 * libp2p connection over the mesh transport is already many hops; a link on it would
 * make the mesh route through itself).
 */
const usableConnection = (c: Connection): boolean => c.status === 'open' && c.limits === undefined && !c.remoteAddr.toString().startsWith('/peernet-mesh')

/**
 * A LinkProvider over a running libp2p node: a link to every connected peer that speaks
 * the mesh protocol (over unlimited connections).
 */
export function libp2pLinks (libp2p: Libp2p, options: Libp2pLinkOptions = {}): LinkProvider {
  const protocol = options.protocol ?? MESH_PROTOCOL
  const mtu = options.mtu ?? LIBP2P_LINK_MTU
  const bitrate = options.bitrate ?? DEFAULT_BITRATE
  const queueBytes = options.queueBytes ?? DEFAULT_QUEUE_BYTES
  const log = options.logger
  const self = libp2p.peerId.toString()
  /** The link to each peer, by peer id. */
  const links = new Map<string, Libp2pLink>()
  /** Peers we are opening a stream to right now. */
  const opening = new Set<string>()
  let announce: ((link: Link) => void) | null = null

  const attach = (stream: Stream, connection: Connection): void => {
    const id = connection.remotePeer.toString()
    const remoteKey = ed25519KeyOf(connection.remotePeer)
    if (!usableConnection(connection)) {
      stream.abort(new Error('no mesh link over this connection'))
      return
    }
    if (announce === null || remoteKey === undefined) {
      stream.abort(new Error(announce === null ? 'mesh links stopped' : 'mesh links need an Ed25519 peer id'))
      return
    }
    const link = new Libp2pLink(stream, connection, remoteKey, { mtu, bitrate, queueBytes, ...(log === undefined ? {} : { logger: log }) })
    // Whatever link we had to this peer is replaced (see the top of the file); the new one
    // is in place first, so the old one's close handler does not try to reopen.
    const previous = links.get(id)
    links.set(id, link)
    previous?.drop('replaced by a new stream')
    link.onClose((reason) => {
      if (links.get(id) === link) links.delete(id)
      log?.debug('mesh link closed', { peer: id, link: link.id, reason })
      // The connection under it closed but the peer is still connected another way.
      if (announce !== null && link.connection.status !== 'open') openTo(connection.remotePeer)
    })
    log?.debug('mesh link open', { peer: id, link: link.id, direction: stream.direction })
    announce(link)
  }

  const openTo = (peer: PeerId, preferred?: Connection): void => {
    const id = peer.toString()
    if (announce === null || !(self < id) || opening.has(id) || links.get(id)?.usable === true) return
    const connection = preferred !== undefined && usableConnection(preferred) ? preferred : libp2p.getConnections(peer).find(usableConnection)
    if (connection === undefined) return
    opening.add(id)
    connection.newStream(protocol, { signal: AbortSignal.timeout(OPEN_TIMEOUT_MS) })
      .then((stream) => {
        if (announce === null) stream.abort(new Error('mesh links stopped'))
        else attach(stream, connection)
      })
      .catch((err: unknown) => { log?.debug('could not open a mesh stream', { peer: id, err: (err as Error).message }) })
      .finally(() => { opening.delete(id) })
  }

  const onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    if (evt.detail.protocols.includes(protocol)) openTo(evt.detail.peerId, evt.detail.connection)
  }
  const onDisconnect = (evt: CustomEvent<PeerId>): void => {
    links.get(evt.detail.toString())?.drop('peer disconnected')
  }
  const onConnectionClose = (evt: CustomEvent<Connection>): void => {
    const link = links.get(evt.detail.remotePeer.toString())
    if (link?.connection === evt.detail) link.drop('connection closed')
  }

  return {
    kind: 'libp2p',
    start: async (onLink) => {
      if (announce !== null) return
      announce = onLink
      await libp2p.handle(protocol, (stream, connection) => { attach(stream, connection) }, { runOnLimitedConnection: false })
      libp2p.addEventListener('peer:identify', onIdentify)
      libp2p.addEventListener('peer:disconnect', onDisconnect)
      libp2p.addEventListener('connection:close', onConnectionClose)
      // Peers connected and identified before we started.
      for (const connection of libp2p.getConnections()) {
        if (!usableConnection(connection)) continue
        const stored = await libp2p.peerStore.get(connection.remotePeer).catch(() => undefined)
        if (stored?.protocols.includes(protocol) === true) openTo(connection.remotePeer, connection)
      }
    },
    stop: async () => {
      if (announce === null) return
      announce = null
      libp2p.removeEventListener('peer:identify', onIdentify)
      libp2p.removeEventListener('peer:disconnect', onDisconnect)
      libp2p.removeEventListener('connection:close', onConnectionClose)
      for (const link of [...links.values()]) link.close()
      links.clear()
      // libp2p may be stopping already: its registrar then has nothing left to unhandle.
      await libp2p.unhandle(protocol).catch(() => {})
    }
  }
}
