// The datagrams of the UDP mesh link. The first byte says what a datagram is, so a
// beacon never reaches a link's frame handler; its high nibble (0xA) marks version 1 of
// this format, and anything else on the port is ignored.
//
//   beacon  0xA1 | flags u8 | Ed25519 public key (32) | timestamp ms u48 | IPv4 (4) | port u16 | signature (64)   = 110 bytes
//   sealed  0xA4 | a frame or a bye, encrypted and authenticated for one neighbour (udp-frame-seal.ts)
//
// (0xA2 and 0xA3, the unsealed frame and bye of the first version, are no longer sent
// nor accepted.)
//
// A beacon says "this key is at this address and port now": the signature (over flags,
// key, timestamp, address and port) proves the sender holds the key, the address and port
// must be the datagram's source, and the timestamp must be recent and newer than the last one heard
// from that address — so nobody can claim another node's key, and an old beacon replayed
// is refused. Frames and byes are sealed between the two neighbours' keys, so only the
// neighbour the beacon proved can send them, and none can be replayed.

import { sign, verify } from '../../core/identity.ts'
import type { Identity, SignatureDomain } from '../../core/identity.ts'
import { intToIpv4, ipv4ToInt } from './lan-interfaces.ts'

export const BEACON = 0xa1

export const BEACON_BYTES = 110
/** The sender is looking for neighbours (it saw a change): answer with a unicast beacon. */
export const SOLICIT = 0x01

const BEACON_DOMAIN: SignatureDomain = { purpose: 'mesh/udp-beacon', version: 1 }
/** The address a sender puts in a beacon when it does not know which of its own it leaves from. */
export const UNKNOWN_ADDRESS = '0.0.0.0'

export interface Beacon {
  flags: number
  publicKey: Uint8Array
  /** When the sender made it, ms since the epoch (its clock). */
  timestamp: number
  /** The sender's IPv4 address on the segment the beacon was sent to. */
  address: string
  /** The sender's UDP port. */
  port: number
  signature: Uint8Array
}

const signedValue = (flags: number, publicKey: Uint8Array, timestamp: number, address: Uint8Array, port: number): [number, Uint8Array, number, Uint8Array, number] => [flags, publicKey, timestamp, address, port]

function addressBytes (address: string): Uint8Array {
  const n = ipv4ToInt(address)
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
}

export function encodeBeacon (identity: Identity, flags: number, timestamp: number, address: string, port: number): Uint8Array {
  const addr = addressBytes(address)
  const signature = sign(identity, BEACON_DOMAIN, signedValue(flags, identity.publicKey, timestamp, addr, port))
  const out = new Uint8Array(BEACON_BYTES)
  const view = new DataView(out.buffer)
  out[0] = BEACON
  out[1] = flags & 0xff
  out.set(identity.publicKey, 2)
  view.setUint16(34, Math.floor(timestamp / 2 ** 32))
  view.setUint32(36, timestamp >>> 0)
  out.set(addr, 40)
  view.setUint16(44, port)
  out.set(signature, 46)
  return out
}

/** Reads a beacon's fields (as plain Uint8Arrays, even from a Buffer), or returns undefined when the bytes are not one. Does not verify. */
export function decodeBeacon (bytes: Uint8Array): Beacon | undefined {
  if (bytes.byteLength !== BEACON_BYTES || bytes[0] !== BEACON) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return {
    flags: bytes[1] as number,
    publicKey: new Uint8Array(bytes.subarray(2, 34)),
    timestamp: view.getUint16(34) * 2 ** 32 + view.getUint32(36),
    address: intToIpv4(view.getUint32(40)),
    port: view.getUint16(44),
    signature: new Uint8Array(bytes.subarray(46, BEACON_BYTES))
  }
}

export function verifyBeacon (b: Beacon): boolean {
  return verify(b.publicKey, BEACON_DOMAIN, signedValue(b.flags, b.publicKey, b.timestamp, addressBytes(b.address), b.port), b.signature)
}
