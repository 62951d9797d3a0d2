// Mesh data envelopes: what the forwarder carries hop by hop, addressed by NodeId, sealed
// end to end so relays can neither read nor forge them (issue 4, "Data"; mesh-spec.md,
// "Data plane").
//
// Sealing is static-static: the sender's X25519 key and the recipient's, both derived
// from their Ed25519 identities the way src/core/seal.ts does (RFC 7748 §4.1's map).
// Only the two of them can compute the shared secret, so an envelope that opens was made
// by its src for its dst: no signature is needed, and a relay that does not hold either
// key can neither read nor make one. The AEAD key comes from HKDF-SHA256 (RFC 5869) over
// that secret, salted with src‖dst Ed25519 keys (in that order, so the two directions of
// a pair use different keys), and seals with ChaCha20-Poly1305 (RFC 8439) under a random
// 96-bit nonce. The additional data is the immutable header (version, src, dst, id,
// flags); ttl, copies and via change in flight and are not covered (a relay that lies
// about them can only misroute or drop, which it could do anyway).
//
// Wire form, version 1 (all fixed-width, big-endian where it matters):
//   version u8 ‖ flags u8 ‖ ttl u8 ‖ copies u8 ‖ src (32) ‖ dst (8) ‖ id (8)
//   ‖ via count u8 ‖ via (8 each) ‖ payload (the rest of the frame)
// The link frame carries exactly one envelope, so the payload needs no length: 53 bytes
// of header plus 8 per landmark; the sealed payload adds 28 (nonce 12, tag 16).

import { createCipheriv, createDecipheriv, diffieHellman, hkdfSync, randomBytes } from 'node:crypto'
import type { Identity } from '../core/identity.ts'
import { x25519Key, x25519PrivateOf, x25519PublicOf } from '../core/seal.ts'
import { EnvelopeOpenError, MalformedPacketError, MeshError, OversizedPacketError, TruncatedPacketError, UnsupportedVersionError } from './errors.ts'
import { isNodeId, nodeIdAt, nodeIdOf, nodeIdToBytes, NODE_ID_BYTES } from './node-id.ts'
import type { NodeId } from './node-id.ts'

export const ENVELOPE_VERSION = 1

/** The destination asks for an end-to-end acknowledgement (the shell sends one back). */
export const ACK_REQUESTED = 0x01
/** This envelope is an acknowledgement; its sealed payload names the acknowledged id. */
export const IS_ACK = 0x02
/** Spray-and-wait: with no route, hand copies to neighbours met (binary spray). */
export const SPRAY = 0x04
/**
 * The destination's full Ed25519 key follows the landmark list. A sender sets it when it
 * has no mesh route and sends toward a gateway: the gateway needs the key (a peer id) to
 * find the destination beyond the mesh. Checked on decode: it must hash to `dst`.
 */
export const DST_KEY = 0x08
/**
 * A location registration (location.ts): the payload is not sealed but a record signed
 * by src (payload.ts, encodeLocationRecord), for the landmark in dst, which keeps it and
 * answers for src with it. A node sets it only on envelopes it sends its homes.
 */
export const LOCATION = 0x10
/**
 * With LOCATION: the record is a binding update (location.ts), src's address sent to a
 * node src got data from, for that node's cache, not a registration with a home. Not
 * sealed either: a relay that clears or sets it only shortens or lengthens how long the
 * record (still signed by src) is kept, no worse than dropping it.
 */
export const BINDING = 0x20

export const SRC_BYTES = 32
export const ID_BYTES = 8
/** Most landmarks an envelope carries in `via` (one per hierarchy level). */
export const MAX_VIA = 8
/** Largest encoded envelope: a frame a UDP datagram carries whole. */
export const MAX_ENVELOPE_BYTES = 65_507
/** Bytes the seal adds to the plaintext: nonce and tag. */
export const SEAL_OVERHEAD = 12 + 16
/** Hops an envelope may take by default. */
export const DEFAULT_TTL = 64
/** Most copies a spray may start with (the field is one byte). */
export const MAX_COPIES = 255

const HEADER_BYTES = 4 + SRC_BYTES + NODE_ID_BYTES + ID_BYTES + 1
const NONCE = 12
const TAG = 16
const INFO = 'peernet/mesh-envelope/v1'
const ID_PATTERN = /^[0-9a-f]{16}$/

export interface MeshEnvelope {
  /** The sender's Ed25519 public key (32 bytes). */
  src: Uint8Array
  dst: NodeId
  /** Hops left; each relay takes one. */
  ttl: number
  /** 16 hex chars (8 random bytes), unique per src. */
  id: string
  /** ACK_REQUESTED | IS_ACK | SPRAY; other bits are carried and authenticated. */
  flags: number
  /** Spray-and-wait copies this holder carries. */
  copies: number
  /**
   * dst's landmarks, lowest level first; may be empty. Relays narrow it (Router.route):
   * to the landmarks up to the one the packet heads for, empty once it follows a route
   * to dst itself.
   */
  via: NodeId[]
  /** dst's Ed25519 key, present exactly when flags has DST_KEY. */
  dstKey?: Uint8Array
  /** The sealed payload. */
  payload: Uint8Array
}

export interface EnvelopeHeader {
  id: string
  flags: number
  ttl: number
  copies?: number
  via?: NodeId[]
}

/** A fresh envelope id: 8 random bytes as 16 hex chars. */
export function newEnvelopeId (): string {
  return randomBytes(ID_BYTES).toString('hex')
}

/** The key that names one envelope everywhere: its src and id (duplicates share it). */
export function envelopeKey (e: MeshEnvelope): string {
  return Buffer.from(e.src.buffer, e.src.byteOffset, e.src.byteLength).toString('hex') + e.id
}

/** The encoded size of `e`, without encoding it. */
export function envelopeSize (e: MeshEnvelope): number {
  return HEADER_BYTES + NODE_ID_BYTES * e.via.length + ((e.flags & DST_KEY) !== 0 ? SRC_BYTES : 0) + e.payload.byteLength
}

// ---- codec ------------------------------------------------------------------------------

export function encodeEnvelope (e: MeshEnvelope): Uint8Array {
  checkEnvelope(e)
  const size = envelopeSize(e)
  if (size > MAX_ENVELOPE_BYTES) throw new OversizedPacketError(`envelope of ${size} bytes is over the ${MAX_ENVELOPE_BYTES}-byte limit`)
  const out = new Uint8Array(size)
  out[0] = ENVELOPE_VERSION
  out[1] = e.flags
  out[2] = e.ttl
  out[3] = e.copies
  out.set(e.src, 4)
  let at = 4 + SRC_BYTES
  out.set(nodeIdToBytes(e.dst), at); at += NODE_ID_BYTES
  out.set(Buffer.from(e.id, 'hex'), at); at += ID_BYTES
  out[at++] = e.via.length
  for (const v of e.via) { out.set(nodeIdToBytes(v), at); at += NODE_ID_BYTES }
  if (e.dstKey !== undefined) { out.set(e.dstKey, at); at += SRC_BYTES }
  out.set(e.payload, at)
  return out
}

/** Decodes one envelope; throws a MeshError subclass (and nothing else) on bad bytes. */
export function decodeEnvelope (b: Uint8Array): MeshEnvelope {
  if (b.byteLength > MAX_ENVELOPE_BYTES) throw new OversizedPacketError(`envelope of ${b.byteLength} bytes is over the ${MAX_ENVELOPE_BYTES}-byte limit`)
  if (b.byteLength === 0) throw new TruncatedPacketError('empty envelope')
  if (b[0] !== ENVELOPE_VERSION) throw new UnsupportedVersionError(`envelope version ${b[0]} is not ${ENVELOPE_VERSION}`, { hint: 'the sender runs another Peernet version' })
  if (b.byteLength < HEADER_BYTES) throw new TruncatedPacketError(`envelope truncated: ${b.byteLength} bytes, the header alone is ${HEADER_BYTES}`)
  const viaCount = b[HEADER_BYTES - 1] as number
  if (viaCount > MAX_VIA) throw new MalformedPacketError(`envelope names ${viaCount} landmarks, at most ${MAX_VIA}`)
  const flags = b[1] as number
  const keyAt = HEADER_BYTES + NODE_ID_BYTES * viaCount
  const payloadAt = keyAt + ((flags & DST_KEY) !== 0 ? SRC_BYTES : 0)
  if (b.byteLength < payloadAt) throw new TruncatedPacketError(`envelope truncated in its landmark list or destination key: ${b.byteLength} bytes, need ${payloadAt}`)
  let at = 4 + SRC_BYTES
  const dst = nodeIdAt(b, at); at += NODE_ID_BYTES
  const id = Buffer.from(b.buffer, b.byteOffset + at, ID_BYTES).toString('hex'); at += ID_BYTES + 1
  const via: NodeId[] = []
  for (let i = 0; i < viaCount; i++) { via.push(nodeIdAt(b, at)); at += NODE_ID_BYTES }
  const e: MeshEnvelope = {
    src: b.slice(4, 4 + SRC_BYTES),
    dst,
    ttl: b[2] as number,
    id,
    flags,
    copies: b[3] as number,
    via,
    payload: b.slice(payloadAt)
  }
  if ((flags & DST_KEY) !== 0) {
    e.dstKey = b.slice(keyAt, payloadAt)
    if (nodeIdOf(e.dstKey) !== dst) throw new MalformedPacketError('envelope destination key does not match its destination id')
  }
  return e
}

function checkEnvelope (e: MeshEnvelope): void {
  const bad = (what: string): never => { throw new MalformedPacketError(`cannot encode envelope: ${what}`) }
  if (e.src.byteLength !== SRC_BYTES) bad(`src is ${e.src.byteLength} bytes, not ${SRC_BYTES}`)
  if (!isNodeId(e.dst)) bad(`dst ${String(e.dst)} is not a node id`)
  if (!ID_PATTERN.test(e.id)) bad(`id ${String(e.id)} is not 16 hex chars`)
  if (!isByte(e.flags)) bad(`flags ${e.flags} is not a byte`)
  if (!isByte(e.ttl)) bad(`ttl ${e.ttl} is not 0..255`)
  if (!isByte(e.copies)) bad(`copies ${e.copies} is not 0..255`)
  if (e.via.length > MAX_VIA) bad(`${e.via.length} landmarks, at most ${MAX_VIA}`)
  for (const v of e.via) if (!isNodeId(v)) bad(`landmark ${String(v)} is not a node id`)
  if (((e.flags & DST_KEY) !== 0) !== (e.dstKey !== undefined)) bad('the DST_KEY flag and the destination key go together')
  if (e.dstKey !== undefined && (e.dstKey.byteLength !== SRC_BYTES || nodeIdOf(e.dstKey) !== e.dst)) bad('the destination key does not match dst')
}

function isByte (n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 255
}

// ---- seal -------------------------------------------------------------------------------

/** Seals `plain` from `identity` to the holder of Ed25519 key `dstKey`. */
export function sealEnvelope (identity: Identity, dstKey: Uint8Array, header: EnvelopeHeader, plain: Uint8Array): MeshEnvelope {
  const e: MeshEnvelope = {
    src: Uint8Array.from(identity.publicKey),
    dst: nodeIdOf(dstKey),
    ttl: header.ttl,
    id: header.id,
    flags: header.flags,
    copies: header.copies ?? 1,
    via: header.via ?? [],
    payload: new Uint8Array(0)
  }
  if ((header.flags & DST_KEY) !== 0) e.dstKey = Uint8Array.from(dstKey)
  checkEnvelope(e)
  const key = pairKey(identity, dstKey, identity.publicKey, dstKey, MeshError)
  const nonce = randomBytes(NONCE)
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG })
  c.setAAD(additionalData(e), { plaintextLength: plain.byteLength })
  e.payload = new Uint8Array(Buffer.concat([nonce, c.update(plain), c.final(), c.getAuthTag()]))
  const size = envelopeSize(e)
  if (size > MAX_ENVELOPE_BYTES) throw new OversizedPacketError(`sealed envelope of ${size} bytes is over the ${MAX_ENVELOPE_BYTES}-byte limit`, { hint: 'send less in one envelope' })
  return e
}

/**
 * Opens an envelope sealed to `identity`. Throws EnvelopeOpenError when it was sealed to
 * another node, or when anything authenticated (src, dst, id, flags, payload) was changed
 * or forged on the way.
 */
export function openEnvelope (identity: Identity, e: MeshEnvelope): Uint8Array {
  if (e.dst !== nodeIdOf(identity.publicKey)) throw new EnvelopeOpenError(`envelope is for ${e.dst}, not this node`)
  if (e.payload.byteLength < NONCE + TAG) throw new EnvelopeOpenError('envelope payload is too short to be sealed')
  if (e.src.byteLength !== SRC_BYTES) throw new EnvelopeOpenError('envelope src is not an Ed25519 public key')
  if (!ID_PATTERN.test(e.id) || !isByte(e.flags)) throw new EnvelopeOpenError('envelope header is malformed')
  const key = pairKey(identity, e.src, e.src, identity.publicKey, EnvelopeOpenError)
  const nonce = e.payload.subarray(0, NONCE)
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG })
  d.setAuthTag(e.payload.subarray(e.payload.byteLength - TAG))
  const cipher = e.payload.subarray(NONCE, e.payload.byteLength - TAG)
  try {
    d.setAAD(additionalData(e), { plaintextLength: cipher.byteLength })
    return new Uint8Array(Buffer.concat([d.update(cipher), d.final()]))
  } catch {
    throw new EnvelopeOpenError('envelope does not open: forged, damaged, or sealed by another key than its src')
  }
}

/** version ‖ src ‖ dst ‖ id ‖ flags: the part of the header no relay may change. */
function additionalData (e: MeshEnvelope): Buffer {
  return Buffer.concat([Uint8Array.of(ENVELOPE_VERSION), e.src, nodeIdToBytes(e.dst), Buffer.from(e.id, 'hex'), Uint8Array.of(e.flags)])
}

// The shared secret needs an X25519 agreement (and the Ed25519 → X25519 map, a modular
// inversion): too slow to redo per envelope on a busy relay's own traffic, so derived keys
// are kept per (src, dst) pair. A key is a function of the pair alone (either end computes
// the same one), so the cache cannot hand one identity's key to another pair.
const KEY_CACHE_MAX = 1024
const keyCache = new Map<string, Buffer>()

function pairKey (identity: Identity, peer: Uint8Array, src: Uint8Array, dst: Uint8Array, Err: typeof MeshError): Buffer {
  const name = Buffer.from(src).toString('hex') + Buffer.from(dst).toString('hex')
  const cached = keyCache.get(name)
  if (cached !== undefined) return cached
  let shared: Buffer
  try {
    shared = diffieHellman({ privateKey: x25519PrivateOf(identity), publicKey: x25519Key(x25519PublicOf(peer)) })
  } catch (err) {
    throw new Err('the peer key is not a usable Ed25519 public key', { cause: err })
  }
  if (shared.every((b) => b === 0)) throw new Err('the peer key is a low-order point')
  const key = Buffer.from(hkdfSync('sha256', shared, Buffer.concat([src, dst]), INFO, 32))
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value as string)
  keyCache.set(name, key)
  return key
}
