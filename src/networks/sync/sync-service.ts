// The I/O shell of sync: one libp2p stream per pair of peers, framed CBOR, back-pressure
// on every send, and a SyncSession core deciding what to say. Entries a peer sends wait
// in the peer's inbox and are ingested in one transaction per message (or per several
// small ones); while the inbox is full we stop reading, so a fast sender waits instead
// of filling our memory. Invalid entries are rejected with a reason and cost the peer;
// past a limit the peer is disconnected and ignored for a while.

import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { dropPeer } from '../../host/host.ts'
import type { PeernetLibp2p } from '../../host/host.ts'
import type { Logger } from '../../core/log.ts'
import { ReceivedEntry, entryFrom, entryValue } from '../entry.ts'
import type { Entry } from '../entry.ts'
import type { Networks } from '../networks.ts'
import { toHex } from '../hashing.ts'
import { FrameReader, MAX_ENTRIES_BYTES, MAX_MESSAGE_ENTRIES, SYNC_BATCH, SYNC_PROTOCOL, decodeMessage, encodeEntriesFrame, encodeMessage, entriesFrameCount, readEntriesFrame } from './messages.ts'
import type { SyncMessage } from './messages.ts'
import type { CanonicalValue } from '../../core/encoding.ts'
import { SyncSession, isDependency, isGap, peerFaults } from './session.ts'
import type { SyncAction } from './session.ts'
import { peersToDial, peersToOffer } from './peer-exchange.ts'
import type { ExchangedPeer } from './peer-exchange.ts'
import { multiaddr } from '@multiformats/multiaddr'

const PENALTY_LIMIT = 50
/** Entries ingested per transaction at most (several messages' worth, when they queue up). */
const INGEST_BATCH = 1024
/**
 * Stop reading from a peer with this many entries, or about this many bytes, waiting to
 * be ingested; read on below half of each.
 */
const INBOX_PAUSE_ENTRIES = 4096
const INBOX_PAUSE_BYTES = 32 * 1024 * 1024
const BAN_MS = 10 * 60_000

export interface SyncService {
  stop: () => void
  /** Number of open sync sessions. */
  sessions: () => number
  /** Peers with an open session that shares the network. */
  sharing: (net: Uint8Array) => string[]
  /** The latest peer exchanges (offers sent and received), newest last. */
  exchanges: () => PeerExchangeRecord[]
}

export interface PeerExchangeRecord {
  direction: 'sent' | 'received'
  /** The other side of the session. */
  peer: string
  net: string
  /** The members offered, with the addresses offered for them. */
  peers: ExchangedPeer[]
  /** Those of them this node dialled (received offers only). */
  dialled: string[]
  at: number
}

/** Peer exchange records kept for `exchanges()`. */
const EXCHANGES_KEPT = 64
const PEX_DIAL_TIMEOUT_MS = 15_000

interface Peer {
  id: string
  stream: Stream
  connection: Connection
  session: SyncSession
  /** Serialises sends and serves to this peer, so they keep their order. */
  queue: Promise<void>
  /** Received entries not yet ingested, in arrival order. */
  inbox: InboxItem[]
  inboxEntries: number
  /** About how many bytes the inbox holds (bodies, and a kilobyte for each header and auth). */
  inboxBytes: number
  ingesting: boolean
  /** Resumes the paused reader. */
  resume: (() => void) | null
}

/**
 * Received entries waiting to be ingested: a whole `entries` frame, read only when its
 * turn comes (so the entries of frames still waiting are not objects yet, for the
 * garbage collector to copy about), or values an `ingest` action of the core gave.
 */
interface InboxItem { frame: Uint8Array | null, values: unknown[], entries: number, bytes: number }

/** Over the limits, or over 1/`fraction` of them. */
function inboxFull (peer: Peer, fraction: number): boolean {
  return peer.inboxEntries * fraction > INBOX_PAUSE_ENTRIES || peer.inboxBytes * fraction > INBOX_PAUSE_BYTES
}

function approximateBytes (values: unknown[]): number {
  let n = 0
  for (const v of values) {
    const body = v instanceof ReceivedEntry ? v.body : (v as { b?: unknown } | null)?.b
    n += 1024 + (body instanceof Uint8Array ? body.byteLength : 0)
  }
  return n
}

export function startSync (libp2p: PeernetLibp2p, networks: Networks, logger: Logger): SyncService {
  const self = libp2p.peerId.toString()
  const peers = new Map<string, Peer>()
  const penalties = new Map<string, number>()
  const bannedUntil = new Map<string, number>()
  const local = {
    networks: () => networks.logs.memberNetworkIds(),
    heads: (net: Uint8Array) => networks.logs.heads(net).map((h) => ({ author: h.author, device: h.device, seq: h.seq })),
    offered: (net: Uint8Array) => networks.offeredHeads(net).map((h) => ({ author: h.author, device: h.device, seq: h.seq }))
  }

  const send = async (peer: Peer, m: SyncMessage): Promise<void> => {
    if (!peer.stream.send(encodeMessage(m))) await peer.stream.onDrain({ signal: AbortSignal.timeout(60_000) })
  }

  const sendFrame = async (peer: Peer, frame: Uint8Array): Promise<void> => {
    if (!peer.stream.send(frame)) await peer.stream.onDrain({ signal: AbortSignal.timeout(60_000) })
  }

  const serve = async (peer: Peer, a: Extract<SyncAction, { do: 'serve' }>): Promise<void> => {
    // An author this node refuses is not passed on, not even when asked for by name.
    if (networks.logs.refusesAuthors && networks.logs.refusedAuthor(a.net, a.author) !== undefined) return
    let after = a.after
    for (;;) {
      // The stored bytes as they are: no decode and re-encode per entry.
      const batch = networks.logs.chainAfterEncoded(a.net, a.author, a.device, after, SYNC_BATCH, MAX_ENTRIES_BYTES)
      if (batch.length === 0) return
      await sendFrame(peer, encodeEntriesFrame(batch))
      await new Promise((resolve) => setImmediate(resolve))
      after = batch[batch.length - 1]?.seq ?? after
    }
  }

  const ingest = (peer: Peer, values: unknown[]): SyncAction[] => {
    const entries: Entry[] = []
    let malformed = 0
    for (const v of values) {
      if (v instanceof ReceivedEntry) entries.push(v)
      else {
        try { entries.push(entryFrom(v)) } catch { malformed++ }
      }
    }
    const result = networks.ingestRemote(entries)
    // Gaps and missing dependencies are the session's to chase; anything else is the peer's fault.
    const bad = malformed + peerFaults(result.rejected)
    for (const r of result.rejected) logger.debug('rejected entry from peer', { peer: peer.id, reason: r.reason })
    if (bad > 0) penalise(peer, bad, result.rejected.find((r) => !isGap(r.reason) && !isDependency(r.reason))?.reason ?? 'malformed entries')
    // Pass what was new to us on to the other peers in the network (flooding; each node
    // forwards an entry once, when it first accepts it, so it never loops).
    forward(peer.id, result.accepted, entries)
    return peer.session.ingested({ acceptedNets: [...result.accepted, ...result.withheld].map((e) => e.net), rejected: result.rejected })
  }

  /**
   * `received`: the entries as they arrived, when they came from a peer — then what is
   * passed on is taken from them rather than read back from the store one by one.
   */
  const forward = (from: string | null, accepted: Array<{ net: Uint8Array, author: Uint8Array, device: Uint8Array, seq: number, hash: Uint8Array }>, received: Entry[] = []): void => {
    const others = [...peers.values()].filter((p) => p.id !== from)
    if (others.length === 0 || accepted.length === 0) return
    if (networks.logs.refusesAuthors) {
      // Nothing of an author this node refuses is passed on (their membership entries neither).
      const refused = new Map<string, boolean>()
      accepted = accepted.filter((e) => {
        const k = toHex(e.net) + toHex(e.author)
        let r = refused.get(k)
        if (r === undefined) { r = networks.logs.refusedAuthor(e.net, e.author) !== undefined; refused.set(k, r) }
        return !r
      })
      if (accepted.length === 0) return
    }
    const arrived = new Map<string, Entry>()
    for (const e of received) {
      const h = e.header
      // Only accepted entries are looked up, and those are well formed; skip the rest.
      if (!(h.net instanceof Uint8Array) || !(h.author instanceof Uint8Array) || !(h.device instanceof Uint8Array)) continue
      arrived.set(`${toHex(h.net)}/${toHex(h.author)}/${toHex(h.device)}/${h.seq}`, e)
    }
    // Messages per network, each within a frame's limits (bodies may be up to 64 KiB).
    const byNet = new Map<string, { net: Uint8Array, groups: Array<{ values: CanonicalValue[], bytes: number }> }>()
    for (const e of accepted) {
      const entry = arrived.get(`${toHex(e.net)}/${toHex(e.author)}/${toHex(e.device)}/${e.seq}`) ?? networks.logs.chainAfter(e.net, e.author, e.device, e.seq - 1, 1)[0]?.entry
      if (entry === undefined) continue
      const k = toHex(e.net)
      const net = byNet.get(k) ?? { net: e.net, groups: [] }
      byNet.set(k, net)
      // A header and its auth take well under a kilobyte.
      const size = (entry.body?.byteLength ?? 0) + 1024
      let group = net.groups[net.groups.length - 1]
      if (group === undefined || group.values.length >= MAX_MESSAGE_ENTRIES || group.bytes + size > MAX_ENTRIES_BYTES) {
        group = { values: [], bytes: 0 }
        net.groups.push(group)
      }
      group.values.push(entryValue(entry))
      group.bytes += size
    }
    for (const { net, groups } of byNet.values()) {
      for (const peer of others) {
        if (!peer.session.shares(net)) {
          // A network we just created or joined: tell the peer; the heads exchange follows.
          run(peer, peer.session.networksChanged())
        } else {
          for (const g of groups) run(peer, peer.session.appended(net, g.values))
        }
      }
    }
  }

  const exchanges: PeerExchangeRecord[] = []
  const record = (r: PeerExchangeRecord): void => {
    exchanges.push(r)
    if (exchanges.length > EXCHANGES_KEPT) exchanges.shift()
  }
  const sharing = (net: Uint8Array): Peer[] => [...peers.values()].filter((p) => p.session.shares(net))

  // Peer exchange: offer the members we have sessions with in the network, with the
  // addresses they listen on (from identify), never their ephemeral inbound ports.
  const offerPeers = async (peer: Peer, net: Uint8Array): Promise<void> => {
    const members: ExchangedPeer[] = []
    for (const p of sharing(net)) {
      if (p.id === peer.id) continue
      const stored = await libp2p.peerStore.get(p.connection.remotePeer).catch(() => undefined)
      members.push({ id: p.id, addrs: (stored?.addresses ?? []).map((a) => a.multiaddr.toString()) })
    }
    const offer = peersToOffer(members, peer.id)
    if (offer.length === 0) return
    await send(peer, { t: 'peers', net, peers: offer })
    record({ direction: 'sent', peer: peer.id, net: toHex(net), peers: offer, dialled: [], at: Date.now() })
  }

  const dialPeers = (peer: Peer, net: Uint8Array, offered: ExchangedPeer[]): void => {
    const chosen = peersToDial(offered, {
      self,
      from: peer.id,
      membersConnected: sharing(net).length,
      connected: (id) => { try { return libp2p.getConnections(peerIdFromString(id)).length > 0 } catch { return true } }
    })
    record({ direction: 'received', peer: peer.id, net: toHex(net), peers: offered, dialled: chosen.map((p) => p.id), at: Date.now() })
    for (const p of chosen) {
      void (async () => {
        const id = peerIdFromString(p.id)
        const addrs = p.addrs.flatMap((a) => { try { return [multiaddr(a)] } catch { return [] } })
        await libp2p.peerStore.merge(id, { multiaddrs: addrs })
        await libp2p.dial(id, { signal: AbortSignal.timeout(PEX_DIAL_TIMEOUT_MS) })
      })().catch((err: unknown) => { logger.debug('could not dial a member learnt by peer exchange', { peer: p.id, err }) })
    }
  }

  const penalise = (peer: Peer, points: number, reason: string): void => {
    const total = (penalties.get(peer.id) ?? 0) + points
    penalties.set(peer.id, total)
    logger.warn('peer sent invalid data', { peer: peer.id, reason, penalty: total })
    if (total >= PENALTY_LIMIT) {
      bannedUntil.set(peer.id, Date.now() + BAN_MS)
      logger.warn('disconnecting misbehaving peer', { peer: peer.id })
      peer.stream.abort(new Error('too many invalid entries'))
      // Untagged too: the host redials known peers the moment they drop.
      dropPeer(libp2p, peerIdFromString(peer.id)).catch((err: unknown) => { logger.debug('could not drop peer', { peer: peer.id, err }) })
    }
  }

  const fail = (peer: Peer, err: unknown): void => {
    logger.debug('sync session failed', { peer: peer.id, err })
    peer.stream.abort(err instanceof Error ? err : new Error(String(err)))
    peer.inbox.length = 0
    peer.inboxEntries = 0
    peer.inboxBytes = 0
    wake(peer)
  }

  /**
   * Carries out a core's actions. Sends and serves go out in order on the peer's send
   * queue (they may wait for the peer to read); received entries go to its inbox, which
   * never waits on the network — so pausing our reads while the inbox is full cannot
   * deadlock two peers that both serve each other.
   */
  const run = (peer: Peer, actions: SyncAction[]): void => {
    const out: SyncAction[] = []
    for (const a of actions) {
      if (a.do === 'ingest') {
        enqueue(peer, { frame: null, values: a.entries, entries: a.entries.length, bytes: approximateBytes(a.entries) })
      } else {
        out.push(a)
      }
    }
    if (out.length === 0) return
    peer.queue = peer.queue.then(async () => {
      for (const a of out) {
        if (a.do === 'send') await send(peer, a.message)
        else if (a.do === 'serve') await serve(peer, a)
        else if (a.do === 'offer-peers') await offerPeers(peer, a.net)
        else if (a.do === 'dial-peers') dialPeers(peer, a.net, a.peers)
      }
    }).catch((err: unknown) => { fail(peer, err) })
  }

  /**
   * Ingests what the inbox holds, several messages per transaction (a commit costs about
   * as much as a thousand inserts), and wakes the reader once there is room again.
   */
  const drain = async (peer: Peer): Promise<void> => {
    peer.ingesting = true
    try {
      while (peer.inbox.length > 0) {
        // Give the event loop a turn between batches: a long sync must not starve
        // libp2p's keep-alive pings (which would drop the connection) or the API; and
        // the reader gets to add what has arrived meanwhile to this batch.
        await new Promise((resolve) => setImmediate(resolve))
        const values: unknown[] = []
        let count = 0
        while (peer.inbox.length > 0 && (count === 0 || count + (peer.inbox[0] as InboxItem).entries <= INGEST_BATCH)) {
          const next = peer.inbox.shift() as InboxItem
          count += next.entries
          peer.inboxEntries -= next.entries
          peer.inboxBytes -= next.bytes
          for (const v of next.frame === null ? next.values : readFrame(peer, next.frame)) values.push(v)
        }
        if (values.length === 0) continue
        const actions = ingest(peer, values)
        if (!inboxFull(peer, 2)) wake(peer)
        run(peer, actions)
      }
    } catch (err) {
      fail(peer, err)
    } finally {
      peer.ingesting = false
      wake(peer)
    }
  }

  const enqueue = (peer: Peer, item: InboxItem): void => {
    peer.inbox.push(item)
    peer.inboxEntries += item.entries
    peer.inboxBytes += item.bytes
    if (!peer.ingesting) void drain(peer)
  }

  /** An entries frame's entries: read straight from the bytes, or the general way. */
  const readFrame = (peer: Peer, frame: Uint8Array): unknown[] => {
    const received = readEntriesFrame(frame)
    if (received !== null) return received
    let m: SyncMessage
    try { m = decodeMessage(frame) } catch (err) { penalise(peer, 10, (err as Error).message); return [] }
    // Its first bytes said `entries`; decodeMessage agrees or refuses.
    return m.t === 'entries' ? m.entries : []
  }

  const wake = (peer: Peer): void => {
    const resume = peer.resume
    peer.resume = null
    resume?.()
  }

  const attach = (stream: Stream, connection: Connection): void => {
    const remote = connection.remotePeer
    const id = remote.toString()
    if ((bannedUntil.get(id) ?? 0) > Date.now()) { stream.abort(new Error('banned')); return }
    const existing = peers.get(id)
    if (existing !== undefined && (existing.stream.status !== 'open' || existing.connection.status !== 'open')) {
      // A session left over from a connection that died (the peer crashed and came back).
      existing.stream.abort(new Error('superseded'))
      peers.delete(id)
    } else if (existing !== undefined) {
      // Both sides opened at once: keep the stream opened by the smaller peer id.
      const keepNew = (stream.direction === 'outbound') === (self < id)
      if (!keepNew) { stream.abort(new Error('duplicate sync session')); return }
      existing.stream.abort(new Error('duplicate sync session'))
    }
    const peer: Peer = { id, stream, connection, session: new SyncSession(local, self, id), queue: Promise.resolve(), inbox: [], inboxEntries: 0, inboxBytes: 0, ingesting: false, resume: null }
    peers.set(id, peer)
    const reader = new FrameReader()
    void (async () => {
      try {
        for await (const chunk of stream) {
          const frames = reader.push(chunk instanceof Uint8Array ? chunk : chunk.subarray())
          for (const f of frames) {
            // An `entries` message asks nothing of the core but to be ingested (its
            // `receive` hands it straight back as an ingest action): its frame goes to
            // the inbox as it is, to be read when its turn comes.
            const count = entriesFrameCount(f)
            if (count >= 0) {
              enqueue(peer, { frame: f, values: [], entries: count, bytes: f.byteLength })
              continue
            }
            let m: SyncMessage
            try { m = decodeMessage(f) } catch (err) { penalise(peer, 10, (err as Error).message); continue }
            run(peer, peer.session.receive(m))
          }
          // Back-pressure: stop reading while the inbox is full, so the peer's sends
          // wait (libp2p's stream windows) instead of piling up here.
          if (inboxFull(peer, 1) && peer.ingesting) await new Promise<void>((resolve) => { peer.resume = resolve })
        }
      } catch (err) {
        logger.debug('sync stream ended', { peer: id, err })
      } finally {
        if (peers.get(id) === peer) peers.delete(id)
      }
    })()
    run(peer, peer.session.start())
  }

  void libp2p.handle(SYNC_PROTOCOL, (stream: Stream, connection: Connection) => { attach(stream, connection) }, { runOnLimitedConnection: false })

  const open = async (remote: PeerId): Promise<void> => {
    const id = remote.toString()
    const existing = peers.get(id)
    if ((existing !== undefined && existing.connection.status === 'open') || (bannedUntil.get(id) ?? 0) > Date.now()) return
    try {
      const connection = await libp2p.dial(remote, { signal: AbortSignal.timeout(15_000) })
      const stream = await connection.newStream(SYNC_PROTOCOL, { signal: AbortSignal.timeout(15_000) })
      attach(stream, connection)
    } catch (err) {
      logger.debug('could not open sync stream', { peer: id, err })
    }
  }

  const onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    // The smaller peer id opens the session; the other side waits for it.
    if (evt.detail.protocols.includes(SYNC_PROTOCOL) && self < evt.detail.peerId.toString()) void open(evt.detail.peerId)
  }
  libp2p.addEventListener('peer:identify', onIdentify)
  // The last connection to a peer closed: its session is over.
  const onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = peers.get(evt.detail.toString())
    if (peer === undefined) return
    peers.delete(peer.id)
    peer.stream.abort(new Error('peer disconnected'))
  }
  libp2p.addEventListener('peer:disconnect', onDisconnect)

  const unsubscribe = networks.subscribe((event) => {
    if (event.local) forward(null, event.entries)
  })
  const unsubscribeRefetch = networks.onRefetch((net, chains) => {
    for (const p of sharing(net)) run(p, p.session.refetch(net, chains))
  })

  return {
    sessions: () => peers.size,
    sharing: (net) => sharing(net).map((p) => p.id),
    exchanges: () => [...exchanges],
    stop: () => {
      unsubscribe()
      unsubscribeRefetch()
      libp2p.removeEventListener('peer:identify', onIdentify)
      libp2p.removeEventListener('peer:disconnect', onDisconnect)
      for (const p of peers.values()) p.stream.abort(new Error('node stopping'))
      peers.clear()
    }
  }
}
