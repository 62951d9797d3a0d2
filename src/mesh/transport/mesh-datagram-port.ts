// The mesh transport's datagram service on a node's MeshService. libp2p is made before
// the mesh (the mesh's libp2p links need the host), and the transport is given to libp2p
// when it is made: so the transport gets this port first, and the mesh is attached to
// it once it runs. Until then nothing is reachable and sends are dropped — the stream
// channel retransmits, as it would over any lossy path.

import type { MeshDatagrams } from './mesh-transport.ts'
import type { MeshService } from '../mesh-service.ts'

/**
 * Bytes of stream payload per envelope: a 1200-byte UDP link frame, less the frame kind
 * (1), envelope header (53, two landmarks 16, destination key 32), seal (28) and payload
 * kind (1), rounded down. The same on every link, so a path never needs fragmentation.
 */
export const MESH_STREAM_MTU = 1024

export class MeshDatagramPort implements MeshDatagrams {
  readonly mtu = MESH_STREAM_MTU
  #mesh: MeshService | null = null
  #handler: ((srcKey: Uint8Array, payload: Uint8Array) => void) | null = null

  attach (mesh: MeshService): void {
    this.#mesh = mesh
    mesh.onStream((src, bytes) => { this.#handler?.(src, bytes) })
  }

  send (peerKey: Uint8Array, payload: Uint8Array): void {
    this.#mesh?.sendStream(peerKey, payload)
  }

  onReceive (handler: (srcKey: Uint8Array, payload: Uint8Array) => void): () => void {
    this.#handler = handler
    return () => { if (this.#handler === handler) this.#handler = null }
  }

  reachable (peerKey: Uint8Array): boolean {
    return this.#mesh?.reachable(peerKey) ?? false
  }
}
