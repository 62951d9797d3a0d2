// Mesh node ids: the routing layer names a node by the first 8 bytes of SHA-256 of its
// Ed25519 public key, written as 16 hex characters. Eight bytes is Babel's router-id
// (RFC 8966 §4.1.3) and keeps route updates small on slow links; the full public key
// travels only in data envelopes, where the destination needs it to open the seal.
// A collision between two honest nodes needs about 2^32 of them; making a key that
// collides with a chosen node is a 2^64 search.

import { createHash } from 'node:crypto'

/** A mesh node id: 16 lowercase hex characters. */
export type NodeId = string

export const NODE_ID_BYTES = 8

export function nodeIdOf (publicKey: Uint8Array): NodeId {
  return createHash('sha256').update(publicKey).digest().subarray(0, NODE_ID_BYTES).toString('hex')
}

export function nodeIdToBytes (id: NodeId): Uint8Array {
  return Uint8Array.from(Buffer.from(id, 'hex'))
}

export function nodeIdFromBytes (bytes: Uint8Array): NodeId {
  return Buffer.from(bytes.buffer, bytes.byteOffset, NODE_ID_BYTES).toString('hex')
}

export function isNodeId (value: unknown): value is NodeId {
  return typeof value === 'string' && /^[0-9a-f]{16}$/.test(value)
}
