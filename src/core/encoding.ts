// Canonical encoding for everything Peernet signs or hashes: deterministic CBOR
// (RFC 8949 §4.2.1 "Core Deterministic Encoding Requirements"): shortest-form integers
// and lengths, definite lengths only, map keys sorted by their encoded bytes, no
// duplicate keys. Decoding is strict and rejects any input that would not re-encode to
// the very same bytes, so one value has exactly one encoding and a signature over the
// encoding is a signature over the value.

import { encode, decode, rfc8949EncodeOptions } from 'cborg'
import { EncodingError } from './errors.ts'

/** Values the canonical encoding carries. No floats beyond what CBOR gives, no undefined. */
export type CanonicalValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | CanonicalValue[]
  | { [key: string]: CanonicalValue }

const decodeOptions = {
  strict: true,
  rejectDuplicateMapKeys: true,
  allowUndefined: false,
  allowIndefinite: false,
  allowNaN: false,
  allowInfinity: false,
  allowBigInt: true,
  useMaps: false
} as const

export function encodeCanonical (value: CanonicalValue): Uint8Array {
  const w = new CanonicalWriter()
  if (writeCommon(w, value, 0)) return w.finish()
  checkEncodable(value, '$')
  try {
    return encode(value, rfc8949EncodeOptions)
  } catch (err) {
    throw new EncodingError(`cannot encode value canonically: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Refuses what CBOR could encode but a strict decoder would refuse or read back as
 * something else: undefined, NaN and infinities, strings with lone surrogates (which
 * UTF-8 encoding silently replaces, so two strings would share one signature), and
 * objects other than plain objects, arrays and Uint8Array (Maps, other typed arrays).
 */
function checkEncodable (value: unknown, at: string): void {
  switch (typeof value) {
    case 'boolean':
    case 'bigint':
      return
    case 'number':
      if (!Number.isFinite(value)) throw new EncodingError(`${at}: ${value} cannot be encoded; only finite numbers can`)
      return
    case 'string':
      if (!value.isWellFormed()) throw new EncodingError(`${at}: string holds a lone surrogate, which is not valid Unicode`)
      return
    case 'object': {
      if (value === null || value instanceof Uint8Array && value.constructor === Uint8Array) return
      if (Array.isArray(value)) {
        value.forEach((v, i) => { checkEncodable(v, `${at}[${i}]`) })
        return
      }
      const proto: unknown = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        throw new EncodingError(`${at}: ${value.constructor?.name ?? 'object'} cannot be encoded; use plain objects, arrays and Uint8Array`)
      }
      for (const [k, v] of Object.entries(value)) {
        if (!k.isWellFormed()) throw new EncodingError(`${at}: map key holds a lone surrogate`)
        checkEncodable(v, `${at}.${k}`)
      }
      return
    }
    default:
      throw new EncodingError(`${at}: ${typeof value} cannot be encoded`)
  }
}

export function decodeCanonical (bytes: Uint8Array): CanonicalValue {
  const fast = decodeCommon(bytes, true)
  if (fast !== FALLBACK) return fast
  let value: CanonicalValue
  try {
    value = decode(bytes, decodeOptions) as CanonicalValue
  } catch (err) {
    throw new EncodingError(`not valid CBOR: ${(err as Error).message}`, { cause: err })
  }
  const again = encodeCanonical(value)
  if (!bytesEqual(again, bytes)) {
    throw new EncodingError('CBOR is valid but not in canonical (deterministic) form')
  }
  return value
}

// ---- the common case, encoded directly -----------------------------------------------------

const MAX_COMMON_DEPTH = 64
const TWO_64 = 2n ** 64n

/** Map keys' encodings, kept: a node encodes the same few dozen keys over and over. */
const KEY_CACHE_MAX = 4096
const keyCache = new Map<string, Uint8Array>()

function encodedKey (k: string): Uint8Array | null {
  let b = keyCache.get(k)
  if (b === undefined) {
    if (!k.isWellFormed()) return null
    b = new CanonicalWriter(k.length + 9).text(k).finish().slice()
    if (keyCache.size < KEY_CACHE_MAX) keyCache.set(k, b)
  }
  return b
}

/**
 * Writes what Peernet's values almost always are — null, booleans, safe integers, bigints
 * within 64 bits, well-formed text, plain Uint8Arrays, arrays and plain objects of these —
 * in deterministic form (RFC 8949 §4.2.1: shortest heads, definite lengths, map keys in
 * the order of their encoded bytes), the same bytes cborg's rfc8949 encoder makes (a
 * property test checks it), at a fraction of its cost. Anything else (floats, -0, larger
 * integers, Buffers, undefined, lone surrogates, other objects) returns false, and the
 * general path encodes it or says why it cannot; `w` is then abandoned.
 */
function writeCommon (w: CanonicalWriter, v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'boolean':
      w.raw(v ? TRUE : FALSE)
      return true
    case 'number':
      if (!Number.isSafeInteger(v) || Object.is(v, -0)) return false
      w.int(v)
      return true
    case 'bigint':
      if (v >= 0n) {
        if (v >= TWO_64) return false
        writeBigHead(w, 0, v)
      } else {
        if (v < -TWO_64) return false
        writeBigHead(w, 1, -1n - v)
      }
      return true
    case 'string':
      if (!v.isWellFormed()) return false
      w.text(v)
      return true
    case 'object': {
      if (v === null) { w.null(); return true }
      if (depth >= MAX_COMMON_DEPTH) return false
      if (v instanceof Uint8Array) {
        if (v.constructor !== Uint8Array) return false
        w.bytes(v)
        return true
      }
      if (Array.isArray(v)) {
        w.array(v.length)
        for (let i = 0; i < v.length; i++) {
          if (!(i in v) || !writeCommon(w, v[i], depth + 1)) return false
        }
        return true
      }
      const proto: unknown = Object.getPrototypeOf(v)
      if (proto !== Object.prototype && proto !== null) return false
      const keys = Object.keys(v)
      const encoded: Array<{ key: string, bytes: Uint8Array }> = []
      for (const key of keys) {
        const bytes = encodedKey(key)
        if (bytes === null) return false
        encoded.push({ key, bytes })
      }
      encoded.sort((x, y) => compareKeys(x.bytes, y.bytes))
      w.map(encoded.length)
      const obj = v as Record<string, unknown>
      for (const { key, bytes } of encoded) {
        w.raw(bytes)
        if (!writeCommon(w, obj[key], depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}

const TRUE = Uint8Array.of(0xf5)
const FALSE = Uint8Array.of(0xf4)

function writeBigHead (w: CanonicalWriter, major: number, n: bigint): void {
  if (n <= BigInt(Number.MAX_SAFE_INTEGER)) { w.head(major, Number(n)); return }
  const b = new Uint8Array(9)
  b[0] = (major << 5) | 27
  new DataView(b.buffer).setBigUint64(1, n)
  w.raw(b)
}

/** Bytewise order (RFC 8949 §4.2.1's order of map keys). */
function compareKeys (x: Uint8Array, y: Uint8Array): number {
  const n = Math.min(x.byteLength, y.byteLength)
  for (let i = 0; i < n; i++) {
    const d = (x[i] as number) - (y[i] as number)
    if (d !== 0) return d
  }
  return x.byteLength - y.byteLength
}

// ---- the common case, decoded and proven canonical in one pass ---------------------------

/** `decodeCommon` could not vouch for the input: let the general path decide. */
const FALLBACK: unique symbol = Symbol('fallback')

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Decodes input made only of what Peernet's values almost always are — safe integers,
 * byte and text strings, arrays, maps with text keys, booleans and null — proving on the
 * way that it is canonical (RFC 8949 §4.2.1: shortest-form heads, definite lengths, map
 * keys strictly ascending by their encoded bytes, so no duplicates) and that text is
 * UTF-8 that re-encodes to itself. Such input is exactly what decoding and re-encoding
 * would accept, without the re-encoding. Anything else (floats, tags, big integers, a
 * non-canonical form, malformed bytes) returns FALLBACK, and the general path decides —
 * so this never accepts what that path refuses, nor reads anything differently.
 * `copy`: byte strings as copies (else views into `bytes`).
 */
function decodeCommon (input: Uint8Array, copy: boolean): CanonicalValue | typeof FALLBACK {
  // A plain Uint8Array view, so byte strings come out as Uint8Array (a Buffer's slice is a Buffer).
  const bytes = input.constructor === Uint8Array ? input : new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
  const r = { pos: 0 }
  try {
    const v = readItem(bytes, r, copy, 0)
    return v === FALLBACK || r.pos !== bytes.byteLength ? FALLBACK : v
  } catch {
    return FALLBACK
  }
}

const MAX_DEPTH = 256

/** The argument of the head at r.pos (advancing past it), or -1 if not in shortest form or indefinite. */
function readArg (b: Uint8Array, r: { pos: number }, info: number): number {
  if (info < 24) return info
  const p = r.pos
  if (info === 24) {
    if (p + 1 > b.byteLength) return -1
    r.pos = p + 1
    const n = b[p] as number
    return n < 24 ? -1 : n
  }
  if (info === 25) {
    if (p + 2 > b.byteLength) return -1
    r.pos = p + 2
    const n = ((b[p] as number) << 8) | (b[p + 1] as number)
    return n < 0x100 ? -1 : n
  }
  if (info === 26) {
    if (p + 4 > b.byteLength) return -1
    r.pos = p + 4
    const n = (b[p] as number) * 0x1000000 + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number))
    return n < 0x10000 ? -1 : n
  }
  if (info === 27) {
    if (p + 8 > b.byteLength) return -1
    r.pos = p + 8
    const hi = (b[p] as number) * 0x1000000 + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number))
    const lo = (b[p + 4] as number) * 0x1000000 + (((b[p + 5] as number) << 16) | ((b[p + 6] as number) << 8) | (b[p + 7] as number))
    // Past 2^53 - 1 is a bigint: the general path's business.
    if (hi === 0 || hi >= 0x200000) return -1
    return hi * 0x100000000 + lo
  }
  return -1
}

function readItem (b: Uint8Array, r: { pos: number }, copy: boolean, depth: number): CanonicalValue | typeof FALLBACK {
  if (r.pos >= b.byteLength || depth > MAX_DEPTH) return FALLBACK
  const ib = b[r.pos++] as number
  const major = ib >> 5
  const info = ib & 0x1f
  if (major === 7) {
    if (info === 20) return false
    if (info === 21) return true
    if (info === 22) return null
    return FALLBACK
  }
  const n = readArg(b, r, info)
  if (n < 0) return FALLBACK
  switch (major) {
    case 0:
      return n
    case 1:
      // -1 - n must stay a safe integer to be read back as a number and re-encoded alike.
      return n >= Number.MAX_SAFE_INTEGER ? FALLBACK : -1 - n
    case 2: {
      const end = r.pos + n
      if (end > b.byteLength) return FALLBACK
      const v = copy ? b.slice(r.pos, end) : b.subarray(r.pos, end)
      r.pos = end
      return v
    }
    case 3: {
      const end = r.pos + n
      if (end > b.byteLength) return FALLBACK
      const v = readText(b, r.pos, end)
      r.pos = end
      return v
    }
    case 4: {
      const out: CanonicalValue[] = []
      for (let i = 0; i < n; i++) {
        const v = readItem(b, r, copy, depth + 1)
        if (v === FALLBACK) return FALLBACK
        out.push(v)
      }
      return out
    }
    case 5: {
      const out: Record<string, CanonicalValue> = {}
      let prevStart = -1
      let prevEnd = -1
      for (let i = 0; i < n; i++) {
        const keyStart = r.pos
        if (keyStart >= b.byteLength || (b[keyStart] as number) >> 5 !== 3) return FALLBACK
        const key = readItem(b, r, copy, depth + 1)
        if (typeof key !== 'string' || key === '__proto__') return FALLBACK
        const keyEnd = r.pos
        if (prevStart >= 0 && compareBytes(b, prevStart, prevEnd, keyStart, keyEnd) >= 0) return FALLBACK
        prevStart = keyStart
        prevEnd = keyEnd
        const v = readItem(b, r, copy, depth + 1)
        if (v === FALLBACK) return FALLBACK
        out[key] = v
      }
      return out
    }
    default:
      return FALLBACK
  }
}

function readText (b: Uint8Array, start: number, end: number): string {
  // ASCII, the usual case, without a decoder; anything else must be valid UTF-8 (fatal).
  if (end - start <= 32) {
    let ascii = true
    for (let i = start; i < end; i++) if ((b[i] as number) > 0x7f) { ascii = false; break }
    if (ascii) return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[])
  }
  // A leading BOM is text like any other to canonical CBOR, but the general path's
  // decoder drops it (and then refuses the input): leave that case to it.
  if (end - start >= 3 && b[start] === 0xef && b[start + 1] === 0xbb && b[start + 2] === 0xbf) throw new EncodingError('leading BOM')
  return fatalUtf8.decode(b.subarray(start, end))
}

/** Bytewise order of two byte ranges of one buffer. */
function compareBytes (b: Uint8Array, aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const la = aEnd - aStart
  const lb = bEnd - bStart
  const n = Math.min(la, lb)
  for (let i = 0; i < n; i++) {
    const d = (b[aStart + i] as number) - (b[bStart + i] as number)
    if (d !== 0) return d
  }
  return la - lb
}

/**
 * Decodes CBOR with the strict decoder's checks (shortest-form integers and lengths,
 * definite lengths, no duplicate keys, no undefined, NaN or infinities) but without
 * proving that the input is *the* canonical encoding of what it holds (map key order,
 * float forms, UTF-8 that would not re-encode alike). Only for bytes that are never
 * signed or hashed as they are — a sync frame, whose entries are re-encoded canonically
 * before they are hashed or stored — and where re-encoding everything just to compare
 * would double the cost of reading.
 */
export function decodeStructural (bytes: Uint8Array): CanonicalValue {
  // Byte strings as views into the frame: they live as long as the batch they arrive in.
  const fast = decodeCommon(bytes, false)
  if (fast !== FALLBACK) return fast
  try {
    return decode(bytes, decodeOptions) as CanonicalValue
  } catch (err) {
    throw new EncodingError(`not valid CBOR: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Writes canonical CBOR by hand, item by item, for the few hot shapes (entry headers,
 * stored entries, sync frames) whose layout is fixed: shortest-form heads, definite
 * lengths. The caller writes map keys in canonical order (RFC 8949 §4.2.1: bytewise on
 * the encoded keys, so shorter text keys first); tests hold each such writer to
 * `encodeCanonical` byte for byte.
 */
export class CanonicalWriter {
  #buf: Uint8Array
  #pos = 0

  constructor (capacity = 256) {
    this.#buf = new Uint8Array(capacity)
  }

  #room (n: number): void {
    if (this.#pos + n <= this.#buf.byteLength) return
    const next = new Uint8Array(Math.max(this.#buf.byteLength * 2, this.#pos + n))
    next.set(this.#buf.subarray(0, this.#pos))
    this.#buf = next
  }

  /** An item head: major type and argument in shortest form (RFC 8949 §3, §4.2.1). */
  head (major: number, n: number): this {
    const m = major << 5
    this.#room(9)
    const b = this.#buf
    if (n < 24) b[this.#pos++] = m | n
    else if (n < 0x100) { b[this.#pos++] = m | 24; b[this.#pos++] = n }
    else if (n < 0x10000) { b[this.#pos++] = m | 25; b[this.#pos++] = n >>> 8; b[this.#pos++] = n & 0xff }
    else if (n < 0x100000000) {
      b[this.#pos++] = m | 26
      b[this.#pos++] = n >>> 24; b[this.#pos++] = (n >>> 16) & 0xff; b[this.#pos++] = (n >>> 8) & 0xff; b[this.#pos++] = n & 0xff
    } else {
      b[this.#pos++] = m | 27
      const hi = Math.floor(n / 0x100000000)
      const lo = n >>> 0
      b[this.#pos++] = hi >>> 24; b[this.#pos++] = (hi >>> 16) & 0xff; b[this.#pos++] = (hi >>> 8) & 0xff; b[this.#pos++] = hi & 0xff
      b[this.#pos++] = lo >>> 24; b[this.#pos++] = (lo >>> 16) & 0xff; b[this.#pos++] = (lo >>> 8) & 0xff; b[this.#pos++] = lo & 0xff
    }
    return this
  }

  /** A safe integer (the caller has checked it is one). */
  int (n: number): this {
    return n >= 0 ? this.head(0, n) : this.head(1, -1 - n)
  }

  bytes (b: Uint8Array): this {
    this.head(2, b.byteLength)
    return this.raw(b)
  }

  /** A text string; `key` is the same thing, named for readability at map keys. */
  text (s: string): this {
    if (!s.isWellFormed()) throw new EncodingError('string holds a lone surrogate, which is not valid Unicode')
    const ascii = isAscii(s)
    const len = ascii ? s.length : Buffer.byteLength(s, 'utf8')
    this.head(3, len)
    this.#room(len)
    if (ascii) {
      for (let i = 0; i < len; i++) this.#buf[this.#pos + i] = s.charCodeAt(i)
    } else {
      textEncoder.encodeInto(s, this.#buf.subarray(this.#pos, this.#pos + len))
    }
    this.#pos += len
    return this
  }

  key (s: string): this { return this.text(s) }

  map (entries: number): this { return this.head(5, entries) }

  array (items: number): this { return this.head(4, items) }

  null (): this {
    this.#room(1)
    this.#buf[this.#pos++] = 0xf6
    return this
  }

  /** Bytes that are already one or more canonical items. */
  raw (b: Uint8Array): this {
    this.#room(b.byteLength)
    this.#buf.set(b, this.#pos)
    this.#pos += b.byteLength
    return this
  }

  get length (): number { return this.#pos }

  /** The bytes written: a view when it fills most of the buffer, else a copy that does. */
  finish (): Uint8Array {
    return this.#pos * 8 >= this.#buf.byteLength * 7 ? this.#buf.subarray(0, this.#pos) : this.#buf.slice(0, this.#pos)
  }
}

const textEncoder = new TextEncoder()

/**
 * Reads canonical CBOR of a known layout item by item, for the hot shapes `CanonicalWriter`
 * writes. Every head must be in shortest form; any surprise (another major type, a
 * longer form, running out of bytes) returns null from the method asked, and the caller
 * then hands the whole input to the general decoder.
 */
export class CanonicalReader {
  readonly bytes: Uint8Array
  pos: number
  readonly #r: { pos: number }

  constructor (bytes: Uint8Array, pos = 0) {
    this.bytes = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.pos = pos
    this.#r = { pos }
  }

  /** The argument of a head of this major type, or -1. */
  head (major: number): number {
    const b = this.bytes
    if (this.pos >= b.byteLength) return -1
    const ib = b[this.pos] as number
    if (ib >> 5 !== major) return -1
    this.#r.pos = this.pos + 1
    const n = readArg(b, this.#r, ib & 0x1f)
    if (n >= 0) this.pos = this.#r.pos
    return n
  }

  /** Consumes these exact bytes (a key, a fixed head) if they come next. */
  expect (literal: Uint8Array): boolean {
    const b = this.bytes
    if (this.pos + literal.byteLength > b.byteLength) return false
    for (let i = 0; i < literal.byteLength; i++) if (b[this.pos + i] !== literal[i]) return false
    this.pos += literal.byteLength
    return true
  }

  /** A byte string, as a view into the input; null if not one. */
  bytesView (): Uint8Array | null {
    const n = this.head(2)
    if (n < 0 || this.pos + n > this.bytes.byteLength) return null
    const v = this.bytes.subarray(this.pos, this.pos + n)
    this.pos += n
    return v
  }

  /** An unsigned integer (a safe one), or -1. */
  uint (): number {
    return this.head(0)
  }

  /** A text string of ASCII only (anything else: null, for the general decoder to judge). */
  ascii (): string | null {
    const n = this.head(3)
    if (n < 0 || this.pos + n > this.bytes.byteLength) return null
    const b = this.bytes
    for (let i = this.pos; i < this.pos + n; i++) if ((b[i] as number) > 0x7f) return null
    const s = String.fromCharCode.apply(null, b.subarray(this.pos, this.pos + n) as unknown as number[])
    this.pos += n
    return s
  }

  /** Consumes null if it comes next. */
  null (): boolean {
    if (this.bytes[this.pos] !== 0xf6) return false
    this.pos++
    return true
  }
}

/** The canonical encoding of a text key, for `CanonicalReader.expect`. */
export function keyBytes (key: string): Uint8Array {
  return new CanonicalWriter(key.length + 9).key(key).finish().slice()
}

/**
 * Where the CBOR item starting at `pos` ends, for definite-length items (all that
 * canonical CBOR has). Lets a writer splice stored canonical items without decoding them.
 */
export function itemEnd (bytes: Uint8Array, pos: number): number {
  let pending = 1
  while (pending > 0) {
    if (pos >= bytes.byteLength) throw new EncodingError('CBOR item runs past the end of its bytes')
    const ib = bytes[pos] as number
    const major = ib >> 5
    const info = ib & 0x1f
    pos++
    let arg: number
    if (info < 24) arg = info
    else if (info === 24) { arg = bytes[pos] as number; pos += 1 } else if (info === 25) { arg = ((bytes[pos] as number) << 8) | (bytes[pos + 1] as number); pos += 2 } else if (info === 26) { arg = new DataView(bytes.buffer, bytes.byteOffset + pos, 4).getUint32(0); pos += 4 } else if (info === 27) { arg = Number(new DataView(bytes.buffer, bytes.byteOffset + pos, 8).getBigUint64(0)); pos += 8 } else throw new EncodingError('indefinite or reserved CBOR length')
    pending--
    if (major === 2 || major === 3) pos += arg
    else if (major === 4) pending += arg
    else if (major === 5) pending += 2 * arg
    else if (major === 6) pending += 1
    else if (major === 7 && info >= 25) { /* floats: their bytes are the argument */ }
  }
  if (pos > bytes.byteLength) throw new EncodingError('CBOR item runs past the end of its bytes')
  return pos
}

function isAscii (s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
