// The router's control packets on the wire: a version byte, a u16 packet counter, then a batch of TLVs in the
// manner of Babel (RFC 8966 §4.3), each `[type u8][length u8][body]`. A receiver skips a
// TLV whose type it does not know (§4.3: "unknown TLVs MUST be silently ignored") and
// ignores bytes past the fields it knows at the end of a known TLV body (room for
// sub-TLVs, §4.4), so later versions can add fields without breaking old readers.
//
// Compared to Babel's packets: links are point to point, so there are no addresses,
// next-hop or prefix TLVs; a destination is a NodeId (8 bytes, Babel's router-id §4.1.3)
// and the route's "prefix" at once. Metrics and seqnos are u16 (§4.6.9, §4.6.10), intervals
// are in centiseconds (§4.6.5), timestamps are the sender's clock in ms mod 2^32 (as in
// the Babel RTT extension, RFC 9616, formerly draft-ietf-babel-rtt-extension).

import { NODE_ID_BYTES, nodeIdAt, writeNodeId, type NodeId } from './node-id.ts'
import { MalformedPacketError, OversizedPacketError, TruncatedPacketError, UnsupportedVersionError } from './errors.ts'

export const CONTROL_VERSION = 1
/** Largest control packet a reader accepts; a sender keeps packets well under it. */
export const MAX_CONTROL_BYTES = 4096
/** Metric value meaning "unreachable" (RFC 8966 §2.1: infinity = 0xFFFF). */
export const INFINITY = 0xffff
/** Hop count / scope value meaning "no limit". */
export const UNLIMITED_SCOPE = 0xff

/** Hello flag: the sender carries data on this link and asks the peer to hello fast too. */
export const HELLO_FAST = 0x01
/** Update flag: the origin is a gateway (it has Internet connectivity). */
export const UPDATE_GATEWAY = 0x01
/**
 * Update flag on the sender's own update that closes a full update (sent last): the
 * receiver knows it has everything unless the packet counter showed a gap. Not part of
 * the route; receivers do not store or pass it on.
 */
export const UPDATE_FULL_END = 0x80

export interface HelloTlv {
  type: 'hello'
  /** The sender's NodeId, so the receiver learns who is at the other end of the link. */
  sender: NodeId
  flags: number
  /** RFC 8966 §4.6.5: increments by one with every hello on this link. */
  seqno: number
  /** Time until the sender's next hello on this link (ms, sent in centiseconds). */
  intervalMs: number
  /** Sender's clock when sent (ms mod 2^32); RFC 9616's transmit timestamp. */
  timestamp?: number
}

export interface IhuTlv {
  type: 'ihu'
  /** RFC 8966 §4.6.6: the sender's cost of receiving from the peer. */
  rxcost: number
  intervalMs: number
  /**
   * RFC 9616's IHU timestamps: the peer's last hello timestamp echoed back, and how long the sender
   * held it before this IHU went out (origin + held replaces the draft's receive
   * timestamp plus the Hello's transmit timestamp: same information, one TLV).
   */
  echo?: { origin: number, heldMs: number }
}

export interface UpdateTlv {
  type: 'update'
  /** The destination (Babel's prefix and router-id at once). */
  id: NodeId
  flags: number
  /** Hops from the origin (0 at the origin), saturating at 255. */
  hops: number
  /** Hops the origin lets this route travel (UNLIMITED_SCOPE = everywhere). */
  scope: number
  seqno: number
  /** INFINITY is a retraction (RFC 8966 §4.6.9). */
  metric: number
  /** The sender's update interval, for the hold time (§3.5.4). */
  intervalMs: number
}

export interface RouteRequestTlv {
  type: 'route-request'
  /** null is a wildcard request: send a full update (RFC 8966 §3.8.1.1). */
  id: NodeId | null
}

export interface SeqnoRequestTlv {
  type: 'seqno-request'
  id: NodeId
  seqno: number
  hopCount: number
}

export type ControlTlv = HelloTlv | IhuTlv | UpdateTlv | RouteRequestTlv | SeqnoRequestTlv

export interface ControlPacket {
  /**
   * Packet counter of the sender on this link (u16, wrapping). Not in Babel: with
   * periodic updates minutes apart a lost triggered update would linger, so a receiver
   * that sees a gap asks for a full update (a wildcard route request, §3.8.1.1).
   */
  seq: number
  tlvs: ControlTlv[]
}

const T_HELLO = 1
const T_IHU = 2
const T_UPDATE = 3
const T_ROUTE_REQUEST = 4
const T_SEQNO_REQUEST = 5

const HELLO_BODY = 5 + NODE_ID_BYTES
const IHU_BODY = 4
const UPDATE_BODY = 9 + NODE_ID_BYTES
const SEQNO_REQUEST_BODY = 3 + NODE_ID_BYTES

/** Encoded size of one TLV, header included (the router packs batches with it). */
export function tlvSize (t: ControlTlv): number {
  switch (t.type) {
    case 'hello': return 2 + HELLO_BODY + (t.timestamp === undefined ? 0 : 4)
    case 'ihu': return 2 + IHU_BODY + (t.echo === undefined ? 0 : 8)
    case 'update': return 2 + UPDATE_BODY
    case 'route-request': return 2 + (t.id === null ? 0 : NODE_ID_BYTES)
    case 'seqno-request': return 2 + SEQNO_REQUEST_BODY
  }
}

/** Bytes a packet adds around its TLVs: version, packet counter. */
export const PACKET_OVERHEAD = 3

const centis = (ms: number): number => Math.min(0xffff, Math.max(0, Math.ceil(ms / 10)))
const u8 = (n: number): number => Math.min(0xff, Math.max(0, Math.trunc(n)))
const u16 = (n: number): number => Math.trunc(n) & 0xffff
const u32 = (n: number): number => Math.trunc(n) >>> 0

/**
 * Encodes `p` into bytes that `allocate(size)` returns (zero-filled, its own; by default a
 * new array; the simulator hands out slices of larger buffers, one ArrayBuffer per packet
 * being most of what encoding a packet cost there).
 */
// Big-endian fields written and read byte by byte (as DataView would, without a DataView
// object per packet).
function set16 (b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8; b[at + 1] = v
}
function set32 (b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24; b[at + 1] = v >>> 16; b[at + 2] = v >>> 8; b[at + 3] = v
}
function get16 (b: Uint8Array, at: number): number {
  return (b[at] as number) << 8 | (b[at + 1] as number)
}
function get32 (b: Uint8Array, at: number): number {
  return ((b[at] as number) << 24 | (b[at + 1] as number) << 16 | (b[at + 2] as number) << 8 | (b[at + 3] as number)) >>> 0
}

export function encodeControl (p: ControlPacket, allocate: (size: number) => Uint8Array = newBytes): Uint8Array {
  let size = PACKET_OVERHEAD
  for (const t of p.tlvs) size += tlvSize(t)
  if (size > MAX_CONTROL_BYTES) throw new OversizedPacketError(`control packet of ${size} bytes is over ${MAX_CONTROL_BYTES}`, { hint: 'split the TLVs over several packets' })
  const out = allocate(size)
  out[0] = CONTROL_VERSION
  set16(out, 1, u16(p.seq))
  let o = PACKET_OVERHEAD
  const id = (n: NodeId): void => {
    if (!writeNodeId(n, out, o)) throw new MalformedPacketError(`not a node id: ${String(n)}`)
    o += NODE_ID_BYTES
  }
  for (const t of p.tlvs) {
    const len = tlvSize(t) - 2
    switch (t.type) {
      case 'hello':
        out[o] = T_HELLO; out[o + 1] = len; o += 2
        out[o] = u8(t.flags); set16(out, o + 1, u16(t.seqno)); set16(out, o + 3, centis(t.intervalMs)); o += 5
        id(t.sender)
        if (t.timestamp !== undefined) { set32(out, o, u32(t.timestamp)); o += 4 }
        break
      case 'ihu':
        out[o] = T_IHU; out[o + 1] = len; o += 2
        set16(out, o, u16(t.rxcost)); set16(out, o + 2, centis(t.intervalMs)); o += 4
        if (t.echo !== undefined) { set32(out, o, u32(t.echo.origin)); set32(out, o + 4, u32(t.echo.heldMs)); o += 8 }
        break
      case 'update':
        out[o] = T_UPDATE; out[o + 1] = len; o += 2
        out[o] = u8(t.flags); out[o + 1] = u8(t.hops); out[o + 2] = u8(t.scope)
        set16(out, o + 3, u16(t.seqno)); set16(out, o + 5, u16(t.metric)); set16(out, o + 7, centis(t.intervalMs)); o += 9
        id(t.id)
        break
      case 'route-request':
        out[o] = T_ROUTE_REQUEST; out[o + 1] = len; o += 2
        if (t.id !== null) id(t.id)
        break
      case 'seqno-request':
        out[o] = T_SEQNO_REQUEST; out[o + 1] = len; o += 2
        set16(out, o, u16(t.seqno)); out[o + 2] = u8(t.hopCount); o += 3
        id(t.id)
        break
    }
  }
  return out
}

function newBytes (size: number): Uint8Array {
  return new Uint8Array(size)
}

export function decodeControl (b: Uint8Array): ControlPacket {
  if (b.length === 0) throw new TruncatedPacketError('empty control packet')
  if (b.length > MAX_CONTROL_BYTES) throw new OversizedPacketError(`control packet of ${b.length} bytes is over ${MAX_CONTROL_BYTES}`)
  if (b[0] !== CONTROL_VERSION) throw new UnsupportedVersionError(`control packet version ${b[0]} is not ${CONTROL_VERSION}`, { hint: 'the neighbour runs another Peernet version' })
  if (b.length < PACKET_OVERHEAD) throw new TruncatedPacketError(`control packet of ${b.length} bytes has no room for its header`)
  const seq = get16(b, 1)
  const tlvs: ControlTlv[] = []
  let o = PACKET_OVERHEAD
  while (o < b.length) {
    if (o + 2 > b.length) throw new TruncatedPacketError(`control packet ends inside a TLV header at byte ${o}`)
    const type = b[o] as number
    const len = b[o + 1] as number
    const s = o + 2
    const end = s + len
    if (end > b.length) throw new TruncatedPacketError(`TLV type ${type} at byte ${o} needs ${len} bytes, ${b.length - s} left`)
    // (No closures here: this loop runs per TLV received, and each would be allocated per TLV.)
    switch (type) {
      case T_HELLO: {
        if (len < HELLO_BODY) tooShort(type, o, len, HELLO_BODY)
        const t: HelloTlv = { type: 'hello', sender: nodeIdAt(b, s + 5), flags: b[s] as number, seqno: get16(b, s + 1), intervalMs: get16(b, s + 3) * 10 }
        if (len >= HELLO_BODY + 4) t.timestamp = get32(b, s + HELLO_BODY)
        tlvs.push(t)
        break
      }
      case T_IHU: {
        if (len < IHU_BODY) tooShort(type, o, len, IHU_BODY)
        const t: IhuTlv = { type: 'ihu', rxcost: get16(b, s), intervalMs: get16(b, s + 2) * 10 }
        if (len >= IHU_BODY + 8) t.echo = { origin: get32(b, s + 4), heldMs: get32(b, s + 8) }
        tlvs.push(t)
        break
      }
      case T_UPDATE:
        if (len < UPDATE_BODY) tooShort(type, o, len, UPDATE_BODY)
        tlvs.push({
          type: 'update',
          flags: b[s] as number,
          hops: b[s + 1] as number,
          scope: b[s + 2] as number,
          seqno: get16(b, s + 3),
          metric: get16(b, s + 5),
          intervalMs: get16(b, s + 7) * 10,
          id: nodeIdAt(b, s + 9)
        })
        break
      case T_ROUTE_REQUEST:
        if (len !== 0 && len < NODE_ID_BYTES) tooShort(type, o, len, NODE_ID_BYTES)
        tlvs.push({ type: 'route-request', id: len === 0 ? null : nodeIdAt(b, s) })
        break
      case T_SEQNO_REQUEST:
        if (len < SEQNO_REQUEST_BODY) tooShort(type, o, len, SEQNO_REQUEST_BODY)
        tlvs.push({ type: 'seqno-request', seqno: get16(b, s), hopCount: b[s + 2] as number, id: nodeIdAt(b, s + 3) })
        break
      default:
        // RFC 8966 §4.3: unknown TLV types are skipped.
        break
    }
    o = end
  }
  return { seq, tlvs }
}

function tooShort (type: number, at: number, len: number, n: number): never {
  throw new MalformedPacketError(`TLV type ${type} at byte ${at} is ${len} bytes, under its ${n}`)
}
