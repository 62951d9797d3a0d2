// What the sealed payload of an envelope holds, once the destination has opened it: one
// kind byte, then the kind's bytes. Acks are sealed like everything else, so a relay
// cannot forge one and make the sender stop retrying.

import { MalformedPayloadError } from './errors.ts'
import { isNodeId, nodeIdFromBytes, nodeIdToBytes, NODE_ID_BYTES } from './node-id.ts'
import type { NodeId } from './node-id.ts'

export const PAYLOAD_TEXT = 0x01
export const PAYLOAD_ACK = 0x02
/** A segment of a libp2p connection carried over the mesh (src/mesh/transport). */
export const PAYLOAD_STREAM = 0x03

/** Longest text message, in bytes of UTF-8. */
export const MAX_TEXT_BYTES = 4096

export type MeshPayload =
  | { kind: 'text', text: string }
  | { kind: 'ack', id: string }
  | { kind: 'stream', bytes: Uint8Array }

export function encodePayload (p: MeshPayload): Uint8Array {
  switch (p.kind) {
    case 'text': {
      const text = new TextEncoder().encode(p.text)
      if (text.byteLength > MAX_TEXT_BYTES) throw new MalformedPayloadError(`a mesh message is at most ${MAX_TEXT_BYTES} bytes; this one is ${text.byteLength}`)
      return withKind(PAYLOAD_TEXT, text)
    }
    case 'ack':
      return withKind(PAYLOAD_ACK, Uint8Array.from(Buffer.from(p.id, 'hex')))
    case 'stream':
      return withKind(PAYLOAD_STREAM, p.bytes)
  }
}

export function decodePayload (bytes: Uint8Array): MeshPayload {
  const body = bytes.subarray(1)
  switch (bytes[0]) {
    case PAYLOAD_TEXT:
      if (body.byteLength > MAX_TEXT_BYTES) throw new MalformedPayloadError('text message over the size limit')
      try {
        return { kind: 'text', text: new TextDecoder('utf-8', { fatal: true }).decode(body) }
      } catch {
        throw new MalformedPayloadError('text message is not valid UTF-8')
      }
    case PAYLOAD_ACK:
      if (body.byteLength !== 8) throw new MalformedPayloadError('an ack names one 8-byte envelope id')
      return { kind: 'ack', id: Buffer.from(body).toString('hex') }
    case PAYLOAD_STREAM:
      return { kind: 'stream', bytes: body }
    default:
      throw new MalformedPayloadError(`unknown payload kind ${String(bytes[0])}`)
  }
}

function withKind (kind: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.byteLength + 1)
  out[0] = kind
  out.set(body, 1)
  return out
}

// ---- location records (location.ts) ------------------------------------------------------
//
// The payload of a LOCATION envelope (envelope.ts), not sealed: the landmark it goes to
// cannot be sealed to (a node knows its homes by NodeId only, not by key), so the node
// signs it instead, with the key in the envelope's src; the record names no node, its
// signer is its subject. Wire form, version 1:
//   version u8 ‖ seq u32 ‖ lifetime u16 (seconds) ‖ count u8 ‖ address (8 each)
//   ‖ signature (64, Ed25519 over LOCATION_SIGNING_CONTEXT ‖ src NodeId ‖ the bytes before it)
// 8 + 8·count + 64 bytes: 88 for a two-level address.

export const LOCATION_RECORD_VERSION = 1
export const LOCATION_SIGNATURE_BYTES = 64
/** Most landmarks in an address (envelope.ts's MAX_VIA). */
const MAX_ADDRESS = 8
const LOCATION_SIGNING_CONTEXT = new TextEncoder().encode('peernet/mesh-location/v1')

export interface LocationRecord {
  /** Grows with every registration of the same node (seconds of its clock, or one more than the last). */
  seq: number
  /** Seconds the record stays valid from `seq`. */
  lifetimeS: number
  /** The node's address (Router.address()), lowest level first. */
  address: NodeId[]
}

/** The bytes of `r` that the signature covers, for the node `subject`. */
export function locationSigningBytes (subject: NodeId, r: LocationRecord): Uint8Array {
  const body = locationBody(r)
  const out = new Uint8Array(LOCATION_SIGNING_CONTEXT.byteLength + NODE_ID_BYTES + body.byteLength)
  out.set(LOCATION_SIGNING_CONTEXT, 0)
  out.set(nodeIdToBytes(subject), LOCATION_SIGNING_CONTEXT.byteLength)
  out.set(body, LOCATION_SIGNING_CONTEXT.byteLength + NODE_ID_BYTES)
  return out
}

export function encodeLocationRecord (r: LocationRecord, signature: Uint8Array): Uint8Array {
  if (signature.byteLength !== LOCATION_SIGNATURE_BYTES) throw new MalformedPayloadError(`a location signature is ${LOCATION_SIGNATURE_BYTES} bytes, not ${signature.byteLength}`)
  const body = locationBody(r)
  const out = new Uint8Array(body.byteLength + LOCATION_SIGNATURE_BYTES)
  out.set(body, 0)
  out.set(signature, body.byteLength)
  return out
}

/** The record and its signature; throws MalformedPayloadError on bad bytes (the signature is checked by location.ts). */
export function decodeLocationRecord (bytes: Uint8Array): { record: LocationRecord, signature: Uint8Array } {
  if (bytes.byteLength < 8 + LOCATION_SIGNATURE_BYTES) throw new MalformedPayloadError('location record truncated')
  if (bytes[0] !== LOCATION_RECORD_VERSION) throw new MalformedPayloadError(`location record version ${String(bytes[0])} is not ${LOCATION_RECORD_VERSION}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const count = bytes[7] as number
  if (count > MAX_ADDRESS) throw new MalformedPayloadError(`location record names ${count} landmarks, at most ${MAX_ADDRESS}`)
  if (bytes.byteLength !== 8 + NODE_ID_BYTES * count + LOCATION_SIGNATURE_BYTES) throw new MalformedPayloadError('location record length does not match its address count')
  const address: NodeId[] = []
  for (let i = 0; i < count; i++) address.push(nodeIdFromBytes(bytes.subarray(8 + NODE_ID_BYTES * i)))
  return {
    record: { seq: view.getUint32(1), lifetimeS: view.getUint16(5), address },
    signature: bytes.slice(8 + NODE_ID_BYTES * count)
  }
}

function locationBody (r: LocationRecord): Uint8Array {
  if (!Number.isInteger(r.seq) || r.seq < 0 || r.seq > 0xffffffff) throw new MalformedPayloadError(`location seq ${r.seq} is not a u32`)
  if (!Number.isInteger(r.lifetimeS) || r.lifetimeS < 0 || r.lifetimeS > 0xffff) throw new MalformedPayloadError(`location lifetime ${r.lifetimeS} is not a u16`)
  if (r.address.length > MAX_ADDRESS || !r.address.every(isNodeId)) throw new MalformedPayloadError('a location address is at most 8 node ids')
  const out = new Uint8Array(8 + NODE_ID_BYTES * r.address.length)
  const view = new DataView(out.buffer)
  out[0] = LOCATION_RECORD_VERSION
  view.setUint32(1, r.seq)
  view.setUint16(5, r.lifetimeS)
  out[7] = r.address.length
  r.address.forEach((id, i) => { out.set(nodeIdToBytes(id), 8 + NODE_ID_BYTES * i) })
  return out
}
