// What the sealed payload of an envelope holds, once the destination has opened it: one
// kind byte, then the kind's bytes. Acks are sealed like everything else, so a relay
// cannot forge one and make the sender stop retrying.

import { MalformedPayloadError } from './errors.ts'

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
