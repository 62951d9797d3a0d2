// Dialling a peer by its id alone, as a mesh gateway does for a node beyond the mesh.
// libp2p asks its peer routing (the DHT) for a peer's addresses only when the peer store
// holds none; a peer that restarted on another port, or moved, leaves its old addresses
// there, and every dial by id would go on failing on them while the DHT knows the new
// ones. So when the stored addresses fail, ask the peer routing afresh, past its cache.

import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import { DialError } from '../core/errors.ts'

export async function dialPeerId (libp2p: Libp2p, peer: PeerId, options: { signal: AbortSignal }): Promise<Connection> {
  const stored = await libp2p.peerStore.get(peer, options).then((p) => p.addresses.length, () => 0)
  let first: unknown
  try {
    return await libp2p.dial(peer, options)
  } catch (err) {
    // With nothing stored, libp2p's dial already asked the peer routing.
    if (stored === 0 || options.signal.aborted) throw err
    first = err
  }
  let found
  try {
    found = await libp2p.peerRouting.findPeer(peer, { ...options, useCache: false })
  } catch (err) {
    throw new DialError(`could not reach ${peer.toString()}: its known addresses failed (${(first as Error).message}) and the peer routing did not find it (${(err as Error).message})`, {
      hint: 'the node may be offline, or in no DHT this node reaches (give it a --bootstrap peer)',
      cause: err
    })
  }
  const suffix = `/p2p/${peer.toString()}`
  return await libp2p.dial(found.multiaddrs.map((a) => a.toString().endsWith(suffix) ? a : a.encapsulate(suffix)), options)
}
