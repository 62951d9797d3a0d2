// The wire format of one mesh stream datagram (a "segment"), carried end to end inside a
// sealed mesh envelope. TCP's header (RFC 9293 §3.1) reduced to what a datagram service
// between two keys needs: no ports (the connection id names the stream between two node
// keys), sequence numbers count segments rather than bytes (a segment is never split or
// merged in flight, so per-segment numbers are exact and 32 bits never wrap in practice),
// SACK blocks (RFC 2018) are part of the header rather than an option.
//
//   0      version (1)
//   1      flags: SYN 0x01, ACK 0x02, FIN 0x04, RST 0x08, INIT 0x10 (sender opened the stream)
//   2..5   connection id (u32, chosen by the opener)
//   6..9   sequence number of this segment (u32); in a segment that occupies no sequence
//          number (no payload, no FIN) it is the sender's next sequence number
//   10..13 cumulative ack: the next sequence number the sender expects (valid with ACK)
//   14..15 advertised receive window in segments beyond the cumulative ack (u16)
//   16..19 timestamp: the sender's clock in ms, mod 2^32, never 0 (RFC 7323 §3, TSval)
//   20..23 echo: the timestamp of the segment this one acknowledges, 0 if none (TSecr)
//   24     number of SACK blocks (≤ MAX_SACK_BLOCKS)
//   25..   SACK blocks, each [start, end) as two u32
//   ..     payload

import { MalformedSegmentError } from '../errors.ts'

export const SEGMENT_VERSION = 1
export const FLAG_SYN = 0x01
export const FLAG_ACK = 0x02
export const FLAG_FIN = 0x04
export const FLAG_RST = 0x08
export const FLAG_INIT = 0x10
const KNOWN_FLAGS = FLAG_SYN | FLAG_ACK | FLAG_FIN | FLAG_RST | FLAG_INIT

export const MAX_SACK_BLOCKS = 6
const FIXED_HEADER = 25
/** Largest header: the payload of a segment may use the rest of the datagram. */
export const MAX_SEGMENT_HEADER = FIXED_HEADER + 8 * MAX_SACK_BLOCKS

export interface SackBlock { start: number, end: number }

export interface Segment {
  flags: number
  connectionId: number
  seq: number
  ack: number
  window: number
  timestamp: number
  echo: number
  sacks: SackBlock[]
  payload: Uint8Array
}

/** Whether the segment takes a sequence number (carries data or a FIN). */
export function occupiesSequence (s: Segment): boolean {
  return s.payload.byteLength > 0 || (s.flags & FLAG_FIN) !== 0
}

export function encodeSegment (s: Segment): Uint8Array {
  if (s.sacks.length > MAX_SACK_BLOCKS) throw new MalformedSegmentError(`at most ${MAX_SACK_BLOCKS} SACK blocks fit a segment, got ${s.sacks.length}`)
  const header = FIXED_HEADER + 8 * s.sacks.length
  const out = new Uint8Array(header + s.payload.byteLength)
  const view = new DataView(out.buffer)
  out[0] = SEGMENT_VERSION
  out[1] = s.flags
  view.setUint32(2, s.connectionId)
  view.setUint32(6, s.seq)
  view.setUint32(10, s.ack)
  view.setUint16(14, Math.min(s.window, 0xffff))
  view.setUint32(16, s.timestamp)
  view.setUint32(20, s.echo)
  out[24] = s.sacks.length
  let at = FIXED_HEADER
  for (const b of s.sacks) {
    view.setUint32(at, b.start)
    view.setUint32(at + 4, b.end)
    at += 8
  }
  out.set(s.payload, header)
  return out
}

/** Decodes a segment; throws MalformedSegmentError on anything that is not one. */
export function decodeSegment (bytes: Uint8Array): Segment {
  if (bytes.byteLength < FIXED_HEADER) throw new MalformedSegmentError(`a stream segment has at least ${FIXED_HEADER} bytes, got ${bytes.byteLength}`)
  if (bytes[0] !== SEGMENT_VERSION) throw new MalformedSegmentError(`unknown stream segment version ${bytes[0]}`)
  const flags = bytes[1] ?? 0
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new MalformedSegmentError(`unknown stream segment flags 0x${flags.toString(16)}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const count = bytes[24] ?? 0
  if (count > MAX_SACK_BLOCKS) throw new MalformedSegmentError(`at most ${MAX_SACK_BLOCKS} SACK blocks fit a segment, got ${count}`)
  const header = FIXED_HEADER + 8 * count
  if (bytes.byteLength < header) throw new MalformedSegmentError('stream segment truncated in its SACK blocks')
  const sacks: SackBlock[] = []
  for (let i = 0; i < count; i++) {
    const start = view.getUint32(FIXED_HEADER + 8 * i)
    const end = view.getUint32(FIXED_HEADER + 8 * i + 4)
    if (end <= start) throw new MalformedSegmentError(`empty or inverted SACK block [${start}, ${end})`)
    sacks.push({ start, end })
  }
  return {
    flags,
    connectionId: view.getUint32(2),
    seq: view.getUint32(6),
    ack: view.getUint32(10),
    window: view.getUint16(14),
    timestamp: view.getUint32(16),
    echo: view.getUint32(20),
    sacks,
    payload: bytes.slice(header)
  }
}

/**
 * The RST answering a segment for a connection this side does not have (RFC 9293 §3.10.7.1,
 * "CLOSED" state): none answers an RST, so two sides can never ping-pong resets.
 */
export function resetFor (s: Segment): Uint8Array | undefined {
  if ((s.flags & FLAG_RST) !== 0) return undefined
  // The reset names the connection as the receiver knows it: it flips the opener bit.
  const init = (s.flags & FLAG_INIT) !== 0 ? 0 : FLAG_INIT
  return encodeSegment({ flags: FLAG_RST | init, connectionId: s.connectionId, seq: 0, ack: 0, window: 0, timestamp: 1, echo: s.timestamp, sacks: [], payload: new Uint8Array(0) })
}
