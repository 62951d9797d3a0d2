// The libp2p side of rendezvous: Peernet's own Kademlia DHT (/peernet/kad/1.0.0, the
// host's `dht` service) for provider records, dialling members, and the manifest
// exchange protocol. The rendezvous service gets these as an injected RendezvousNet, so
// it never imports libp2p itself.

import { createHash } from 'node:crypto'
import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import type { PeernetLibp2p } from '../../host/host.ts'
import type { Logger } from '../../core/log.ts'
import type { SignedManifest } from '../manifest.ts'
import { InvalidRecordError, RendezvousError } from '../errors.ts'
import { MANIFEST_PROTOCOL, MAX_MANIFEST_FRAME, answerRequest, checkAnswer, frame, parseRequest, requestValue, unframe } from './manifest-exchange.ts'
import type { ProviderInfo, RendezvousNet } from './rendezvous-service.ts'

/** Bound on serving one manifest request. */
const SERVE_TIMEOUT_MS = 10_000

/** The rendezvous key as a DHT key: a CIDv1, raw codec, sha2-256 multihash of the key. */
export function rendezvousCid (key: Uint8Array): CID {
  return CID.createV1(raw.code, createDigest(sha256.code, key))
}

/**
 * A peer as a point of the DHT key space: sha256 of its peer id's multihash bytes, as
 * kad-dht places peers (convertPeerId in its utils.ts, not exported by the package).
 */
export function peerPoint (peer: string): Uint8Array {
  return sha256Bytes(peerIdFromString(peer).toMultihash().bytes)
}

/** The rendezvous key as a point of the DHT key space: sha256 of its CID's multihash, the target kad-dht looks up. */
export function keyPoint (key: Uint8Array): Uint8Array {
  return sha256Bytes(rendezvousCid(key).multihash.bytes)
}

function sha256Bytes (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

export function libp2pRendezvousNet (libp2p: PeernetLibp2p): RendezvousNet {
  const dht = libp2p.services.dht
  const dial = async (peer: ProviderInfo, signal: AbortSignal): Promise<Connection> => {
    const id = peerIdFromString(peer.id)
    const addrs = peer.addrs.flatMap((a) => { try { return [multiaddr(a)] } catch { return [] } })
    if (addrs.length > 0) await libp2p.peerStore.merge(id, { multiaddrs: addrs })
    return await libp2p.dial(id, { signal })
  }
  return {
    self: libp2p.peerId.toString(),
    findProviders: async function * (key, signal) {
      for await (const event of dht.findProviders(rendezvousCid(key), { signal })) {
        if (event.name !== 'PROVIDER') continue
        for (const p of event.providers) yield { id: p.id.toString(), addrs: p.multiaddrs.map((m) => m.toString()) }
      }
    },
    provide: async (key, signal) => {
      let stored = 0
      for await (const event of dht.provide(rendezvousCid(key), { signal })) {
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') stored++
      }
      if (stored === 0) throw new RendezvousError('no DHT node took the provider record', { hint: 'the node has no DHT peers yet; it retries later' })
    },
    cancelReprovide: async (key) => { await dht.cancelReprovide(rendezvousCid(key)) },
    peerPoint,
    keyPoint,
    dial: async (peer, signal) => { await dial(peer, signal) },
    connected: (peer) => libp2p.getConnections(peerIdFromString(peer)).length > 0,
    fetchManifest: async (peer, net, signal) => {
      const connection = await dial(peer, signal)
      const stream = await connection.newStream(MANIFEST_PROTOCOL, { signal })
      try {
        stream.send(frame(requestValue(net)))
        await stream.close({ signal })
        return checkAnswer(net, unframe(await readAll(stream, signal)))
      } catch (err) {
        stream.abort(err instanceof Error ? err : new Error(String(err)))
        throw err
      }
    }
  }
}

/** Answers manifest requests for the networks `held` gives. Returns the unregister function. */
export async function serveManifests (libp2p: PeernetLibp2p, held: (net: Uint8Array) => SignedManifest | undefined, logger: Logger): Promise<() => Promise<void>> {
  await libp2p.handle(MANIFEST_PROTOCOL, (stream: Stream, connection: Connection) => {
    void (async () => {
      const signal = AbortSignal.timeout(SERVE_TIMEOUT_MS)
      try {
        const request = parseRequest(unframe(await readAll(stream, signal)))
        stream.send(frame(answerRequest(request, held)))
        await stream.close({ signal })
      } catch (err) {
        logger.debug('manifest request failed', { peer: connection.remotePeer.toString(), err })
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    })()
  }, { runOnLimitedConnection: false })
  return async () => { await libp2p.unhandle(MANIFEST_PROTOCOL) }
}

/**
 * Reads one message: up to the end of its frame (the 4-byte length says where that is),
 * or to the stream's end if that comes first, within a size bound. Not waiting for the
 * other side to close its writing half once the frame is whole: an answer is not held up
 * by a half-close that is slow to arrive (a test once waited its whole 15 s for one under
 * load), and unframe() still refuses a message cut short or with bytes past its frame.
 */
export async function readAll (stream: Stream, signal: AbortSignal): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let size = 0
  let want = Infinity
  const onAbort = (): void => { stream.abort(new Error('timed out reading')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const chunk of stream) {
      const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
      size += bytes.byteLength
      if (size > 4 + MAX_MANIFEST_FRAME) throw new InvalidRecordError('manifest exchange message too large')
      chunks.push(bytes)
      if (want === Infinity && size >= 4) want = 4 + new DataView(concat(chunks, size).buffer).getUint32(0)
      if (size >= want) break
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
  signal.throwIfAborted()
  return concat(chunks, size)
}

function concat (chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) { out.set(c, at); at += c.byteLength }
  return out
}
