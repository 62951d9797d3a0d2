// A js-libp2p transport whose connections run over the mesh: each connection is a stream
// channel (stream-channel.ts) carried in mesh datagrams end to end, so Noise, yamux and
// every protocol above (identify, ping, sync, manifest exchange) work over any number of
// mesh hops unchanged. This file is the thin I/O shell: it owns the timers and the
// datagram service, and adapts channel outputs to libp2p's MultiaddrConnection.
//
// Addresses are `/peernet-mesh/p2p/<peerId>`: the mesh routes by node key, and a
// Peernet node's libp2p key is its Ed25519 identity key, so the peer id names the mesh
// destination. The remote end is authenticated twice over: the mesh seals datagrams
// between the two keys, and the Noise handshake in libp2p's upgrader checks that the
// remote's static key is the peer id in the address (inbound too: the address of an
// inbound connection carries the peer id of the key its SYN came from).

import { serviceCapabilities, transportSymbol } from '@libp2p/interface'
import type {
  AbortOptions, ComponentLogger, Connection, CreateListenerOptions, DialTransportOptions, Listener,
  ListenerEvents, Logger, Startable, Transport, Upgrader
} from '@libp2p/interface'
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import type { SendResult } from '@libp2p/utils'
import { peerIdOfPublicKey, publicKeyOfPeerId } from '../../core/identity.ts'
import { multiaddr, registry } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { MeshError, MeshUnreachableError } from '../errors.ts'
import { StreamChannel } from './stream-channel.ts'
import type { ChannelOutput, StreamChannelConfig } from './stream-channel.ts'
import { FLAG_ACK, FLAG_INIT, FLAG_RST, FLAG_SYN, MAX_SEGMENT_HEADER, decodeSegment, resetFor } from './stream-segment.ts'

/**
 * The mesh's end-to-end datagram service as this transport needs it. The integrator
 * implements it on the mesh service: sealed envelopes to the node with `peerKey`, with
 * the stream kind byte in the sealed plaintext, best effort (lost, duplicated or
 * reordered datagrams are this transport's problem).
 */
export interface MeshDatagrams {
  /** Largest payload `send` carries end to end, in bytes. */
  readonly mtu: number
  /** Sends one datagram to the node whose Ed25519 public key is `peerKey`. Never throws for loss. */
  send: (peerKey: Uint8Array, payload: Uint8Array) => void
  /** Registers the receiver of stream datagrams (at most one); returns its removal. */
  onReceive: (handler: (srcKey: Uint8Array, payload: Uint8Array) => void) => () => void
  /** Whether the mesh has (or can hold in custody toward) a route to that key now. */
  reachable: (peerKey: Uint8Array) => boolean
}

export const MESH_PROTOCOL_NAME = 'peernet-mesh'
/** From the multicodec table's private-use range (0x300000–0x3fffff). */
export const MESH_PROTOCOL_CODE = 0x3e5a01

registry.addProtocol({ code: MESH_PROTOCOL_CODE, name: MESH_PROTOCOL_NAME, size: 0 })

/** The mesh address of a peer: `/peernet-mesh/p2p/<peerId>`. */
export function meshAddress (peerId: string): Multiaddr {
  return multiaddr(`/${MESH_PROTOCOL_NAME}/p2p/${peerId}`)
}

export interface MeshTransportOptions {
  /** Channel settings; `maxDatagramBytes` defaults to the service's mtu. */
  channel?: Partial<StreamChannelConfig>
  /** Open connections (both directions) at most; SYNs beyond are reset. */
  maxConnections?: number
}

export interface MeshTransportComponents {
  logger: ComponentLogger
}

/** With the channel defaults (~256 KiB buffered at most per connection): ≤ 32 MiB in all. */
const DEFAULT_MAX_CONNECTIONS = 128
/**
 * SYN retries stop after this long: under libp2p's per-address dial timeout (6 s), so a
 * silent peer fails with the mesh's own error rather than a bare libp2p timeout.
 */
const CONNECT_TIMEOUT_MS = 5_000

/** The factory for libp2p's `transports: [...]`. */
export function meshTransport (datagrams: MeshDatagrams, options: MeshTransportOptions = {}): (components: MeshTransportComponents) => Transport {
  return (components) => new MeshTransport(components, datagrams, options)
}

interface Entry {
  peerKey: Uint8Array
  channel: StreamChannel
  connection: MeshConnection
  /** Settles a dial waiting for the channel to open. */
  onOpen?: (error?: Error) => void
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

function keyOf (peerKey: Uint8Array, connectionId: number, weOpened: boolean): string {
  return `${hex(peerKey)}/${connectionId}/${weOpened ? 'out' : 'in'}`
}

class MeshTransport implements Transport, Startable {
  readonly [transportSymbol] = true
  readonly [Symbol.toStringTag] = '@peernet/mesh-transport'
  readonly [serviceCapabilities]: string[] = ['@libp2p/transport']

  private readonly log: Logger
  private readonly datagrams: MeshDatagrams
  private readonly channelConfig: Partial<StreamChannelConfig>
  private readonly maxConnections: number
  private readonly entries = new Map<string, Entry>()
  private readonly listeners = new Set<MeshListener>()
  private unsubscribe: (() => void) | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private timerAt = Infinity

  constructor (components: MeshTransportComponents, datagrams: MeshDatagrams, options: MeshTransportOptions) {
    this.log = components.logger.forComponent('peernet:mesh-transport')
    if (datagrams.mtu <= MAX_SEGMENT_HEADER) throw new MeshError(`the mesh carries ${datagrams.mtu}-byte datagrams; a stream needs more than ${MAX_SEGMENT_HEADER}`)
    this.datagrams = datagrams
    this.channelConfig = { maxDatagramBytes: datagrams.mtu, connectTimeoutMs: CONNECT_TIMEOUT_MS, ...options.channel }
    this.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  }

  start (): void {
    this.unsubscribe ??= this.datagrams.onReceive((src, payload) => {
      // The mesh service calls in here: whatever libp2p does with the bytes must not throw into it.
      try {
        this.onDatagram(src, payload)
      } catch (err) {
        this.log.error('failed to handle a stream datagram - %e', err)
      }
    })
  }

  stop (): void {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    for (const entry of [...this.entries.values()]) {
      entry.connection.abort(new MeshError('the mesh transport stopped'))
    }
    this.entries.clear()
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = Infinity
  }

  listenFilter (addrs: Multiaddr[]): Multiaddr[] {
    return addrs.filter((ma) => {
      const parts = ma.getComponents()
      return parts.length === 1 && parts[0]?.code === MESH_PROTOCOL_CODE
    })
  }

  dialFilter (addrs: Multiaddr[]): Multiaddr[] {
    return addrs.filter((ma) => {
      const parts = ma.getComponents()
      return parts.length === 2 && parts[0]?.code === MESH_PROTOCOL_CODE && parts[1]?.name === 'p2p'
    })
  }

  createListener (options: CreateListenerOptions): Listener {
    return new MeshListener(this, options.upgrader)
  }

  addListener (listener: MeshListener): void { this.listeners.add(listener) }
  removeListener (listener: MeshListener): void { this.listeners.delete(listener) }

  async dial (ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    options.signal.throwIfAborted()
    const peerIdText = ma.getComponents().find((c) => c.name === 'p2p')?.value
    if (peerIdText === undefined) throw new MeshError(`a mesh address names a peer: ${ma.toString()} has no /p2p/ part`, { hint: 'use /peernet-mesh/p2p/<peer id>' })
    const peerKey = publicKeyOfPeerId(peerIdText)
    if (peerKey === undefined) throw new MeshError(`peer ${peerIdText} has no Ed25519 key, so the mesh cannot reach it`)
    if (!this.datagrams.reachable(peerKey)) {
      throw new MeshUnreachableError(`no mesh route to ${peerIdText}`, { hint: 'the peer is not in the mesh right now; `peernet mesh routes` lists reachable nodes' })
    }
    if (this.openConnections() >= this.maxConnections) throw new MeshError(`too many mesh connections (${this.maxConnections})`, { hint: 'close some connections or raise maxConnections' })

    let connectionId: number
    do connectionId = Math.floor(Math.random() * 0x1_0000_0000)
    while (this.entries.has(keyOf(peerKey, connectionId, true)))
    const now = performance.now()
    const channel = new StreamChannel(connectionId, true, this.channelConfig, now)
    const connection = new MeshConnection(this, channel, peerKey, {
      remoteAddr: meshAddress(peerIdText),
      direction: 'outbound',
      log: this.log.newScope(`outbound:${connectionId}`)
    })
    const entry: Entry = { peerKey, channel, connection }
    const key = keyOf(peerKey, connectionId, true)
    this.entries.set(key, entry)

    const opened = new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { entry.onOpen?.(options.signal.reason instanceof Error ? options.signal.reason : new MeshError('the mesh dial was aborted')) }
      options.signal.addEventListener('abort', onAbort, { once: true })
      entry.onOpen = (error) => {
        entry.onOpen = undefined
        options.signal.removeEventListener('abort', onAbort)
        if (error === undefined) resolve()
        else reject(error)
      }
    })
    this.apply(key, entry, channel.connect(now))
    try {
      await opened
    } catch (err) {
      connection.abort(err as Error)
      throw err
    }
    try {
      return await options.upgrader.upgradeOutbound(connection, options)
    } catch (err) {
      connection.abort(err as Error)
      throw err
    }
  }

  /** Connections that hold buffers: those lingering after a clean close hold none. */
  private openConnections (): number {
    let n = 0
    for (const entry of this.entries.values()) if (entry.channel.status !== 'time-wait') n++
    return n
  }

  /** Runs a channel operation now and applies its outputs. */
  run (connection: MeshConnection, op: (channel: StreamChannel, now: number) => ChannelOutput[]): void {
    const key = keyOf(connection.peerKey, connection.channel.connectionId, connection.channel.initiator)
    const entry = this.entries.get(key)
    const outputs = op(connection.channel, performance.now())
    if (entry === undefined) {
      // Already forgotten: only datagrams (a final RST) still go out.
      for (const o of outputs) if (o.kind === 'send') this.datagrams.send(connection.peerKey, o.datagram)
      return
    }
    this.apply(key, entry, outputs)
  }

  private onDatagram (src: Uint8Array, payload: Uint8Array): void {
    let segment
    try {
      segment = decodeSegment(payload)
    } catch (err) {
      this.log.trace('dropping a malformed stream datagram - %e', err)
      return
    }
    const remoteOpened = (segment.flags & FLAG_INIT) !== 0
    const key = keyOf(src, segment.connectionId, !remoteOpened)
    let entry = this.entries.get(key)
    if (entry === undefined) {
      const isSyn = (segment.flags & (FLAG_SYN | FLAG_ACK | FLAG_RST)) === FLAG_SYN && remoteOpened
      const listener = [...this.listeners][0]
      if (!isSyn || listener === undefined || this.openConnections() >= this.maxConnections || src.byteLength !== 32) {
        const reset = resetFor(segment)
        if (reset !== undefined) this.datagrams.send(src, reset)
        return
      }
      entry = this.accept(key, src, segment.connectionId, listener)
      if (entry === undefined) return
    }
    this.apply(key, entry, entry.channel.receive(segment, performance.now()))
  }

  private accept (key: string, src: Uint8Array, connectionId: number, listener: MeshListener): Entry | undefined {
    let peerId: string
    try {
      peerId = peerIdOfPublicKey(src)
    } catch {
      return undefined
    }
    const channel = new StreamChannel(connectionId, false, this.channelConfig, performance.now())
    const connection = new MeshConnection(this, channel, src, {
      remoteAddr: meshAddress(peerId),
      direction: 'inbound',
      log: this.log.newScope(`inbound:${connectionId}`)
    })
    const entry: Entry = { peerKey: src, channel, connection }
    this.entries.set(key, entry)
    listener.upgrade(connection)
    return entry
  }

  private apply (key: string, entry: Entry, outputs: ChannelOutput[]): void {
    for (const o of outputs) {
      switch (o.kind) {
        case 'send':
          this.datagrams.send(entry.peerKey, o.datagram)
          break
        case 'open':
          entry.onOpen?.()
          break
        case 'data':
          entry.connection.deliver(o.bytes)
          break
        case 'end':
          entry.connection.remoteEnded()
          break
        case 'drained':
          entry.connection.drained()
          break
        case 'closed':
          entry.onOpen?.(o.error ?? new MeshError('the mesh stream closed while opening'))
          entry.connection.channelClosed(o.error)
          break
      }
    }
    if (entry.channel.finished) this.entries.delete(key)
    this.schedule()
  }

  /** Keeps one timer, at the earliest channel deadline. */
  private schedule (): void {
    let next = Infinity
    for (const entry of this.entries.values()) next = Math.min(next, entry.channel.nextDeadline())
    if (next === this.timerAt) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = next
    if (next === Infinity) return
    this.timer = setTimeout(() => {
      try {
        this.onTimer()
      } catch (err) {
        this.log.error('failed to run the stream timers - %e', err)
        this.schedule()
      }
    }, Math.max(0, Math.ceil(next - performance.now())))
  }

  private onTimer (): void {
    this.timer = undefined
    this.timerAt = Infinity
    const now = performance.now()
    for (const [key, entry] of [...this.entries]) {
      if (entry.channel.nextDeadline() <= now) this.apply(key, entry, entry.channel.tick(now))
    }
    this.schedule()
  }
}

interface MeshConnectionInit {
  remoteAddr: Multiaddr
  direction: 'inbound' | 'outbound'
  log: Logger
}

/** One libp2p connection over one stream channel. */
class MeshConnection extends AbstractMultiaddrConnection {
  readonly channel: StreamChannel
  readonly peerKey: Uint8Array
  private readonly transport: MeshTransport

  constructor (transport: MeshTransport, channel: StreamChannel, peerKey: Uint8Array, init: MeshConnectionInit) {
    super(init)
    this.transport = transport
    this.channel = channel
    this.peerKey = peerKey
  }

  sendData (data: Parameters<AbstractMultiaddrConnection['sendData']>[0]): SendResult {
    let sentBytes = 0
    for (const buf of data) {
      const n = Math.min(buf.byteLength, this.channel.writableBytes())
      if (n === 0) break
      this.transport.run(this, (channel, now) => channel.write(buf.subarray(0, n), now))
      sentBytes += n
      if (n < buf.byteLength) break
    }
    return { sentBytes, canSendMore: this.channel.writableBytes() > 0 }
  }

  sendReset (_err: Error): void {
    this.transport.run(this, (channel, now) => channel.reset(now))
  }

  sendPause (): void {
    this.transport.run(this, (channel, now) => channel.setReading(false, now))
  }

  sendResume (): void {
    this.transport.run(this, (channel, now) => channel.setReading(true, now))
  }

  /**
   * Queues our FIN and returns, like close(2) on a TCP socket: the channel stays with the
   * transport until the remote acknowledged every byte and the FIN and sent its own (or
   * its response timeout ends it), so nothing written is lost. Waiting for that here
   * would hold libp2p's connection in 'closing' for a round trip, and the muxer's late
   * frames in that window would abort it.
   */
  async sendClose (_options?: AbortOptions): Promise<void> {
    this.transport.run(this, (channel, now) => channel.close(now))
    await Promise.resolve()
  }

  deliver (bytes: Uint8Array): void {
    this.onData(bytes)
  }

  /** The remote closed its side: like TCP without half-open sockets, close ours too. */
  remoteEnded (): void {
    this.onRemoteCloseWrite()
    this.transport.run(this, (channel, now) => channel.close(now))
  }

  drained (): void {
    this.safeDispatchEvent('drain')
  }

  channelClosed (error: Error | undefined): void {
    if (this.status === 'open' || this.status === 'closing') this.onTransportClosed(error)
  }
}

class MeshListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  private readonly transport: MeshTransport
  private readonly upgrader: Upgrader
  private readonly shutdown = new AbortController()
  private listening = false

  constructor (transport: MeshTransport, upgrader: Upgrader) {
    super()
    this.transport = transport
    this.upgrader = upgrader
  }

  async listen (_ma: Multiaddr): Promise<void> {
    this.listening = true
    this.transport.addListener(this)
    this.safeDispatchEvent('listening')
    await Promise.resolve()
  }

  getAddrs (): Multiaddr[] {
    return this.listening ? [multiaddr(`/${MESH_PROTOCOL_NAME}`)] : []
  }

  updateAnnounceAddrs (_addrs: Multiaddr[]): void {}

  async close (): Promise<void> {
    this.listening = false
    this.transport.removeListener(this)
    this.shutdown.abort()
    this.safeDispatchEvent('close')
    await Promise.resolve()
  }

  upgrade (connection: MeshConnection): void {
    const signal = this.upgrader.createInboundAbortSignal(this.shutdown.signal)
    this.upgrader.upgradeInbound(connection, { signal })
      .catch((err: unknown) => {
        connection.log('inbound mesh connection failed to upgrade - %e', err)
        connection.abort(err instanceof Error ? err : new MeshError(String(err)))
      })
      .finally(() => { signal.clear() })
  }
}
