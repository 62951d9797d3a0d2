// Sync protocol messages (/peernet/sync/1.0.0), each one canonical CBOR in a frame with a
// 4-byte big-endian length. One session per pair of peers covers every shared network.
//
// The hot message, `entries`, is also written and read without the general encoder:
// `encodeEntriesFrame` splices stored entries into a frame, `readEntriesFrame` reads one
// back straight into entries. Both produce and accept exactly the bytes the general
// encoder makes of the same message, so the wire format is unchanged and readers of
// 1.0.0 keep working both ways; a frame in any other layout goes the general way.

import { CanonicalReader, CanonicalWriter, decodeStructural, encodeCanonical, keyBytes } from '../../core/encoding.ts'
import { readEntry } from '../entry.ts'
import type { ReceivedEntry } from '../entry.ts'
import type { CanonicalValue } from '../../core/encoding.ts'
import { InvalidRecordError } from '../errors.ts'

export const SYNC_PROTOCOL = '/peernet/sync/1.0.0'
export const MAX_FRAME_BYTES = 4 * 1024 * 1024
/** Entries per `entries` message when streaming a chain (fewer if they would overflow a frame). */
export const SYNC_BATCH = 1024
/** Entries a received `entries` message may hold (what every 1.0.0 reader accepts). */
export const MAX_MESSAGE_ENTRIES = 1024

/** Bytes of a heads digest in a hello (64 bits: a collision only costs a missed exchange until the next change). */
export const HEADS_DIGEST_BYTES = 8

export interface ChainPosition { author: Uint8Array, device: Uint8Array, seq: number }

export type SyncMessage =
  /** Networks the sender is in, as tags only members of each network can compute. */
  | {
    t: 'hello', v: 1, tags: Uint8Array[],
    /**
     * Optional, one per tag: a digest of the sender's chain heads in that network. A peer
     * whose heads digest the same sends no heads for it, so reconnecting two nodes that
     * are in sync costs a hello, not a heads message per shared network. Readers that do
     * not know the field ignore it and exchange heads as before.
     */
    digests?: Uint8Array[]
  }
  /** The sender's chain heads in one shared network. */
  | { t: 'heads', net: Uint8Array, heads: ChainPosition[] }
  /** Please send the entries of this chain after `after`. */
  | { t: 'want', net: Uint8Array, author: Uint8Array, device: Uint8Array, after: number }
  /** Entries (with bodies), as `entryValue` gives them. */
  | { t: 'entries', entries: CanonicalValue[] }
  /** Other members of a shared network the sender is connected to (peer exchange). */
  | { t: 'peers', net: Uint8Array, peers: Array<{ id: string, addrs: string[] }> }

export function encodeMessage (m: SyncMessage): Uint8Array {
  const body = encodeCanonical(m as unknown as CanonicalValue)
  if (body.byteLength > MAX_FRAME_BYTES) throw new InvalidRecordError('sync message too large')
  const frame = new Uint8Array(4 + body.byteLength)
  new DataView(frame.buffer).setUint32(0, body.byteLength)
  frame.set(body, 4)
  return frame
}

/** Room for the frame prefix and the `entries` message around its entries. */
const ENTRIES_OVERHEAD = 32

/** Entry bytes that fit in one `entries` frame. */
export const MAX_ENTRIES_BYTES = MAX_FRAME_BYTES - ENTRIES_OVERHEAD

/**
 * The frame of an `entries` message whose entries are already canonical CBOR, whole or
 * in parts to concatenate (as the store gives them): `encodeMessage({t: 'entries',
 * entries})` byte for byte, without decoding and re-encoding each entry. Keys in §4.2.1
 * order: "t" before "entries".
 */
export function encodeEntriesFrame (entries: Array<Uint8Array | { parts: Uint8Array[], byteLength: number }>): Uint8Array {
  const size = entries.reduce((n, e) => n + e.byteLength, 0)
  if (size > MAX_ENTRIES_BYTES) throw new InvalidRecordError('sync message too large')
  const w = new CanonicalWriter(4 + size + ENTRIES_OVERHEAD)
  w.raw(new Uint8Array(4)).map(2).key('t').text('entries').key('entries').array(entries.length)
  for (const e of entries) {
    if (e instanceof Uint8Array) w.raw(e)
    else for (const p of e.parts) w.raw(p)
  }
  const frame = w.finish()
  new DataView(frame.buffer, frame.byteOffset).setUint32(0, frame.byteLength - 4)
  return frame
}

const ENTRIES_PREFIX = Uint8Array.of(0xa2, ...keyBytes('t'), ...keyBytes('entries'), ...keyBytes('entries'))

/**
 * Reads an `entries` frame laid out exactly as `encodeEntriesFrame` writes it straight
 * into entries (no intermediate values; byte strings are views into the frame). Null for
 * any other frame, or any surprise in it: `decodeMessage` then reads it the general way.
 */
export function readEntriesFrame (bytes: Uint8Array): ReceivedEntry[] | null {
  const r = new CanonicalReader(bytes)
  if (!r.expect(ENTRIES_PREFIX)) return null
  const n = r.head(4)
  if (n < 0 || n > MAX_MESSAGE_ENTRIES) return null
  const entries: ReceivedEntry[] = []
  for (let i = 0; i < n; i++) {
    const e = readEntry(r)
    if (e === null) return null
    entries.push(e)
  }
  return r.pos === r.bytes.byteLength ? entries : null
}

/**
 * How many entries an `entries` frame laid out as `encodeEntriesFrame` writes it holds,
 * from its first bytes alone; -1 for any other frame.
 */
export function entriesFrameCount (bytes: Uint8Array): number {
  const r = new CanonicalReader(bytes)
  if (!r.expect(ENTRIES_PREFIX)) return -1
  return r.head(4)
}

const is32 = (b: unknown): b is Uint8Array => b instanceof Uint8Array && b.byteLength === 32

/**
 * Reads one message. Structurally strict (shortest forms, definite lengths, no
 * duplicate keys) but not re-encoded to prove it canonical: nothing in a frame is signed
 * or hashed as it came — every entry's header is re-encoded canonically to be hashed and
 * checked against its signature, and stored as re-encoded — so a frame's own form does
 * not matter, and proving it would cost as much as decoding it.
 */
export function decodeMessage (bytes: Uint8Array): SyncMessage {
  const v = decodeStructural(bytes) as Record<string, unknown>
  const bad = (why: string): never => { throw new InvalidRecordError(`malformed sync message: ${why}`) }
  if (typeof v !== 'object' || v === null) return bad('not a map')
  switch (v.t) {
    case 'hello':
      if (v.v !== 1) return bad(`unsupported version ${String(v.v)}`)
      if (!Array.isArray(v.tags) || v.tags.length > 100_000 || !v.tags.every(is32)) return bad('tags')
      if (v.digests === undefined) return { t: 'hello', v: 1, tags: v.tags }
      if (!Array.isArray(v.digests) || v.digests.length !== v.tags.length || !v.digests.every((d) => d instanceof Uint8Array && d.byteLength === HEADS_DIGEST_BYTES)) return bad('digests')
      return { t: 'hello', v: 1, tags: v.tags, digests: v.digests }
    case 'heads': {
      if (!is32(v.net) || !Array.isArray(v.heads)) return bad('heads')
      const heads = (v.heads as Array<Record<string, unknown> | null>).map((h) => {
        if (typeof h !== 'object' || h === null || !is32(h.author) || !is32(h.device) || !Number.isSafeInteger(h.seq)) return bad('head')
        return { author: h.author, device: h.device, seq: h.seq as number }
      })
      return { t: 'heads', net: v.net, heads }
    }
    case 'want':
      if (!is32(v.net) || !is32(v.author) || !is32(v.device) || !Number.isSafeInteger(v.after) || (v.after as number) < 0) return bad('want')
      return { t: 'want', net: v.net, author: v.author, device: v.device, after: v.after as number }
    case 'entries':
      if (!Array.isArray(v.entries) || v.entries.length > MAX_MESSAGE_ENTRIES) return bad('entries')
      return { t: 'entries', entries: v.entries as CanonicalValue[] }
    case 'peers': {
      if (!is32(v.net) || !Array.isArray(v.peers) || v.peers.length > 64) return bad('peers')
      const peers = (v.peers as Array<Record<string, unknown> | null>).map((p) => {
        if (typeof p !== 'object' || p === null || typeof p.id !== 'string' || p.id.length > 128 || !Array.isArray(p.addrs) || p.addrs.length > 16) return bad('peer')
        if (!p.addrs.every((a): a is string => typeof a === 'string' && a.length <= 512)) return bad('peer address')
        return { id: p.id, addrs: p.addrs }
      })
      return { t: 'peers', net: v.net, peers }
    }
    default:
      return bad(`unknown type ${String(v.t)}`)
  }
}

/** Splits a byte stream into frames; throws on an oversized frame. */
export class FrameReader {
  /** Unconsumed chunks, and how far into the first one we have read. */
  readonly #chunks: Uint8Array[] = []
  #offset = 0
  #length = 0

  push (chunk: Uint8Array): Uint8Array[] {
    if (chunk.byteLength > 0) {
      this.#chunks.push(chunk)
      this.#length += chunk.byteLength
    }
    const frames: Uint8Array[] = []
    for (;;) {
      if (this.#length < 4) break
      const head = this.#peek(4)
      const len = new DataView(head.buffer, head.byteOffset, 4).getUint32(0)
      if (len > MAX_FRAME_BYTES) throw new InvalidRecordError(`sync frame of ${len} bytes is over the limit`)
      if (this.#length < 4 + len) break
      this.#take(4)
      frames.push(this.#take(len))
    }
    return frames
  }

  /** The next n buffered bytes, without consuming them. */
  #peek (n: number): Uint8Array {
    const first = this.#chunks[0] as Uint8Array
    if (first.byteLength - this.#offset >= n) return first.subarray(this.#offset, this.#offset + n)
    return this.#copy(n, false)
  }

  #take (n: number): Uint8Array {
    const first = this.#chunks[0]
    if (n === 0) return new Uint8Array(0)
    if (first !== undefined && first.byteLength - this.#offset >= n) {
      const out = first.slice(this.#offset, this.#offset + n)
      this.#offset += n
      this.#length -= n
      if (this.#offset === first.byteLength) { this.#chunks.shift(); this.#offset = 0 }
      return out
    }
    return this.#copy(n, true)
  }

  /** Copies n bytes spanning several chunks; consumes them if asked. */
  #copy (n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n)
    let filled = 0
    let index = 0
    let offset = this.#offset
    while (filled < n) {
      const c = this.#chunks[index] as Uint8Array
      const part = Math.min(n - filled, c.byteLength - offset)
      out.set(c.subarray(offset, offset + part), filled)
      filled += part
      offset += part
      if (offset === c.byteLength) { index++; offset = 0 }
    }
    if (consume) {
      this.#chunks.splice(0, index)
      this.#offset = offset
      this.#length -= n
    }
    return out
  }
}
