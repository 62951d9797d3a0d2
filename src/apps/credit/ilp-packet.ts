// ILPv4 packets (RFC 0027 "Interledger Protocol V4", §"Specification") in the Octet
// Encoding Rules as ILP uses them (RFC 0030 "Notes on OER Encoding"): the Prepare (type
// 12), Fulfill (13) and Reject (14) that travel as attachments of a trust line's hold,
// settle and release changes, and the ILP error codes the payment engine answers with.
//
// Decoding is strict: every length must be the shortest form OER allows, fixed-size
// fields must have their size, addresses and timestamps their syntax, and nothing may
// follow the packet. A packet that is not exactly one of ours is refused with
// InvalidIlpPacketError rather than half-read.

import { MAX_AMOUNT } from './amount.ts'
import { InvalidIlpPacketError } from './errors.ts'

/** RFC 0027 §"Packet Types". */
export const PacketType = { prepare: 12, fulfill: 13, reject: 14 } as const

/** RFC 0027 §"ILP Prepare": a conditional transfer of `amount` to `destination`, valid until `expiresAt`. */
export interface IlpPrepare {
  type: 'prepare'
  /** The local amount on this hop (UInt64, in the line's millionths). */
  amount: bigint
  /** Milliseconds since the epoch (the wire keeps millisecond precision, UTC). */
  expiresAt: number
  /** SHA-256 of the fulfillment, 32 bytes. */
  executionCondition: Uint8Array
  /** ILP address of the receiver (RFC 0015). */
  destination: string
  /** End-to-end data, at most 32,767 bytes. */
  data: Uint8Array
}

/** RFC 0027 §"ILP Fulfill": the preimage of the prepare's condition. */
export interface IlpFulfill {
  type: 'fulfill'
  /** 32 bytes whose SHA-256 is the condition. */
  fulfillment: Uint8Array
  data: Uint8Array
}

/** RFC 0027 §"ILP Reject": why a prepare was not fulfilled, and by whom. */
export interface IlpReject {
  type: 'reject'
  /** Three characters, e.g. `F02`; see ErrorCode. */
  code: string
  /** ILP address of the node that rejected (may be empty). */
  triggeredBy: string
  /** Human-readable, UTF-8. */
  message: string
  data: Uint8Array
}

export type IlpPacket = IlpPrepare | IlpFulfill | IlpReject

/**
 * The RFC 0027 §"ILP Error Codes" this implementation uses. F = final (retrying the same
 * payment will not help), T = temporary, R = relative (to the sender's parameters).
 */
export const ErrorCode = {
  /** F00 Bad Request: the prepare or its route is malformed. */
  badRequest: 'F00',
  /** F01 Invalid Packet: the ILP bytes do not decode or disagree with the hold. */
  invalidPacket: 'F01',
  /** F02 Unreachable: no line to the next hop, or no exchange into its unit. */
  unreachable: 'F02',
  /** F05 Wrong Condition: the receiver cannot fulfill this condition. */
  wrongCondition: 'F05',
  /** F06 Unexpected Payment: no open invoice for this condition (or wrong unit). */
  unexpectedPayment: 'F06',
  /** F08 Amount Too Large: over the ILP UInt64 amount. */
  amountTooLarge: 'F08',
  /** F99 Application Error. */
  applicationError: 'F99',
  /** T00 Internal Error. */
  internalError: 'T00',
  /** T04 Insufficient Liquidity: the next line has not the capacity. */
  insufficientLiquidity: 'T04',
  /** R00 Transfer Timed Out: the hold expired, or the receiver gave up waiting for the other parts. */
  transferTimedOut: 'R00',
  /** R01 Insufficient Source Amount: fees and rates make the payment cost more than the sender's cap. */
  insufficientSourceAmount: 'R01',
  /** R02 Insufficient Timeout: the expiry leaves no room for the next hop's margin. */
  insufficientTimeout: 'R02'
} as const

export type IlpErrorCode = typeof ErrorCode[keyof typeof ErrorCode]

/** RFC 0027: data fields are at most 32,767 bytes; addresses at most 1,023 characters (RFC 0015). */
export const MAX_DATA_LENGTH = 32_767
export const MAX_ADDRESS_LENGTH = 1023
const TIMESTAMP_LENGTH = 17

// RFC 0015 §"Address Requirements": a scheme, then one or more segments of [A-Za-z0-9_~-].
const ADDRESS = /^(g|private|example|peer|self|test[1-3]?|local)([.][a-zA-Z0-9_~-]+)+$/
const CODE = /^[FTR][0-9A-Z]{2}$/

/** The ILP address of a Peernet account: a private-scheme address under `peernet`, the key in hex. */
export function ilpAddressOf (account: Uint8Array): string {
  return `private.peernet.${Buffer.from(account).toString('hex')}`
}

/** The account an address from ilpAddressOf names, or undefined for any other address. */
export function accountOfIlpAddress (address: string): Uint8Array | undefined {
  const m = /^private\.peernet\.([0-9a-f]{64})$/.exec(address)
  return m === null ? undefined : new Uint8Array(Buffer.from(m[1] as string, 'hex'))
}

export function isIlpAddress (address: string): boolean {
  return address.length <= MAX_ADDRESS_LENGTH && ADDRESS.test(address)
}

// ---- encoding ---------------------------------------------------------------------------

export function encodePrepare (p: Omit<IlpPrepare, 'type'>): Uint8Array {
  if (p.amount < 0n || p.amount > MAX_AMOUNT) throw new InvalidIlpPacketError('prepare: amount is not a UInt64')
  if (p.executionCondition.byteLength !== 32) throw new InvalidIlpPacketError('prepare: the condition is not 32 bytes')
  if (!isIlpAddress(p.destination)) throw new InvalidIlpPacketError(`prepare: "${p.destination}" is not an ILP address`)
  const w = new Writer()
  w.uint64(p.amount)
  w.ascii(timestampOf(p.expiresAt))
  w.bytes(p.executionCondition)
  w.varBytes(asciiBytes(p.destination))
  w.varBytes(checkData(p.data))
  return envelope(PacketType.prepare, w.finish())
}

export function encodeFulfill (f: Omit<IlpFulfill, 'type'>): Uint8Array {
  if (f.fulfillment.byteLength !== 32) throw new InvalidIlpPacketError('fulfill: the fulfillment is not 32 bytes')
  const w = new Writer()
  w.bytes(f.fulfillment)
  w.varBytes(checkData(f.data))
  return envelope(PacketType.fulfill, w.finish())
}

export function encodeReject (r: Omit<IlpReject, 'type'>): Uint8Array {
  if (!CODE.test(r.code)) throw new InvalidIlpPacketError(`reject: "${r.code}" is not an ILP error code`)
  if (r.triggeredBy !== '' && !isIlpAddress(r.triggeredBy)) throw new InvalidIlpPacketError(`reject: "${r.triggeredBy}" is not an ILP address`)
  const w = new Writer()
  w.ascii(r.code)
  w.varBytes(asciiBytes(r.triggeredBy))
  w.varBytes(new TextEncoder().encode(r.message))
  w.varBytes(checkData(r.data))
  return envelope(PacketType.reject, w.finish())
}

export function encodePacket (p: IlpPacket): Uint8Array {
  switch (p.type) {
    case 'prepare': return encodePrepare(p)
    case 'fulfill': return encodeFulfill(p)
    case 'reject': return encodeReject(p)
  }
}

// ---- decoding ---------------------------------------------------------------------------

/** Decodes any of the three packets; throws InvalidIlpPacketError saying what is wrong. */
export function decodePacket (bytes: Uint8Array): IlpPacket {
  // Read through a plain view, so the fields returned are Uint8Arrays even from a Buffer.
  const outer = new Reader(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'packet')
  const type = outer.uint8()
  const contents = outer.varBytes()
  outer.end()
  const r = new Reader(contents, nameOf(type))
  switch (type) {
    case PacketType.prepare: {
      const amount = r.uint64()
      const expiresAt = timestampValue(r.ascii(TIMESTAMP_LENGTH))
      const executionCondition = r.bytes(32)
      const destination = r.address()
      if (destination === '') throw new InvalidIlpPacketError('prepare: empty destination address')
      const data = r.data()
      r.end()
      return { type: 'prepare', amount, expiresAt, executionCondition, destination, data }
    }
    case PacketType.fulfill: {
      const fulfillment = r.bytes(32)
      const data = r.data()
      r.end()
      return { type: 'fulfill', fulfillment, data }
    }
    case PacketType.reject: {
      const code = r.ascii(3)
      if (!CODE.test(code)) throw new InvalidIlpPacketError(`reject: "${code}" is not an ILP error code`)
      const triggeredBy = r.address()
      const message = r.utf8()
      const data = r.data()
      r.end()
      return { type: 'reject', code, triggeredBy, message, data }
    }
    default:
      throw new InvalidIlpPacketError(`packet type ${type} is not an ILPv4 prepare, fulfill or reject`)
  }
}

export function decodePrepare (bytes: Uint8Array): IlpPrepare {
  const p = decodePacket(bytes)
  if (p.type !== 'prepare') throw new InvalidIlpPacketError(`expected an ILP prepare, got a ${p.type}`)
  return p
}

/** A fulfill or a reject: what comes back for a prepare. */
export function decodeReply (bytes: Uint8Array): IlpFulfill | IlpReject {
  const p = decodePacket(bytes)
  if (p.type === 'prepare') throw new InvalidIlpPacketError('expected an ILP fulfill or reject, got a prepare')
  return p
}

// ---- OER pieces (RFC 0030) --------------------------------------------------------------

function nameOf (type: number): string {
  return type === PacketType.prepare ? 'prepare' : type === PacketType.fulfill ? 'fulfill' : type === PacketType.reject ? 'reject' : 'packet'
}

function envelope (type: number, contents: Uint8Array): Uint8Array {
  const w = new Writer()
  w.uint8(type)
  w.varBytes(contents)
  return w.finish()
}

function checkData (data: Uint8Array): Uint8Array {
  if (data.byteLength > MAX_DATA_LENGTH) throw new InvalidIlpPacketError(`data of ${data.byteLength} bytes is over ILP's ${MAX_DATA_LENGTH}`)
  return data
}

function asciiBytes (text: string): Uint8Array {
  const out = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c > 0x7e || c < 0x20) throw new InvalidIlpPacketError('not printable ASCII (an IA5String of ILP)')
    out[i] = c
  }
  return out
}

/** RFC 0027 §"Timestamp" (asn1/InterledgerTypes.asn): `YYYYMMDDHHmmSSfff`, UTC, 17 digits. */
function timestampOf (ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new InvalidIlpPacketError('an expiry that is not a time')
  const d = new Date(ms)
  const year = d.getUTCFullYear()
  if (year > 9999) throw new InvalidIlpPacketError('an expiry past the year 9999')
  const p2 = (n: number): string => String(n).padStart(2, '0')
  return `${String(year).padStart(4, '0')}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}${String(d.getUTCMilliseconds()).padStart(3, '0')}`
}

function timestampValue (text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})$/.exec(text)
  if (m === null) throw new InvalidIlpPacketError(`"${text}" is not an ILP timestamp (YYYYMMDDHHmmSSfff)`)
  const [year, month, day, hour, minute, second, milli] = m.slice(1).map(Number) as [number, number, number, number, number, number, number]
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, milli)
  // Date.UTC rolls 2026-02-31 over into March: a timestamp must round-trip to itself.
  if (Number.isNaN(ms) || ms < 0 || timestampOf(ms) !== text) throw new InvalidIlpPacketError(`"${text}" is not a valid UTC time`)
  return ms
}

class Writer {
  private readonly parts: Uint8Array[] = []

  uint8 (n: number): void { this.parts.push(Uint8Array.of(n)) }

  uint64 (n: bigint): void {
    const b = new Uint8Array(8)
    new DataView(b.buffer).setBigUint64(0, n)
    this.parts.push(b)
  }

  ascii (text: string): void { this.parts.push(asciiBytes(text)) }

  bytes (b: Uint8Array): void { this.parts.push(b) }

  /** RFC 0030 §"Variable-Length Octet Strings": a length determinant, then the bytes. */
  varBytes (b: Uint8Array): void {
    this.parts.push(lengthPrefix(b.byteLength))
    this.parts.push(b)
  }

  finish (): Uint8Array {
    const size = this.parts.reduce((s, p) => s + p.byteLength, 0)
    const out = new Uint8Array(size)
    let at = 0
    for (const p of this.parts) { out.set(p, at); at += p.byteLength }
    return out
  }
}

/** RFC 0030 §"Length Prefix": below 128 one byte; else 0x80 | count, then the length in the fewest big-endian bytes. */
function lengthPrefix (n: number): Uint8Array {
  if (n < 128) return Uint8Array.of(n)
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256)
  return Uint8Array.of(0x80 | bytes.length, ...bytes)
}

class Reader {
  private at = 0
  private readonly buf: Uint8Array
  private readonly what: string

  constructor (buf: Uint8Array, what: string) {
    this.buf = buf
    this.what = what
  }

  private need (n: number, field: string): void {
    if (this.at + n > this.buf.byteLength) throw new InvalidIlpPacketError(`${this.what}: truncated in ${field}`)
  }

  uint8 (): number {
    this.need(1, 'type')
    return this.buf[this.at++] as number
  }

  uint64 (): bigint {
    this.need(8, 'amount')
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.at, 8).getBigUint64(0)
    this.at += 8
    return v
  }

  bytes (n: number): Uint8Array {
    this.need(n, `a ${n}-byte field`)
    const out = this.buf.slice(this.at, this.at + n)
    this.at += n
    return out
  }

  ascii (n: number): string {
    const b = this.bytes(n)
    for (const c of b) if (c < 0x20 || c > 0x7e) throw new InvalidIlpPacketError(`${this.what}: a non-printable byte in an ASCII field`)
    return String.fromCharCode(...b)
  }

  /** RFC 0030: the length determinant, refusing non-minimal (non-canonical) forms. */
  private length (): number {
    this.need(1, 'a length')
    const first = this.buf[this.at++] as number
    if (first < 0x80) return first
    const count = first & 0x7f
    if (count === 0 || count > 4) throw new InvalidIlpPacketError(`${this.what}: a length of ${count} bytes`)
    this.need(count, 'a length')
    let n = 0
    for (let i = 0; i < count; i++) n = n * 256 + (this.buf[this.at++] as number)
    if (n < 128 || (count > 1 && n < 256 ** (count - 1))) throw new InvalidIlpPacketError(`${this.what}: a length not in its shortest form`)
    return n
  }

  varBytes (): Uint8Array {
    const n = this.length()
    return this.bytes(n)
  }

  data (): Uint8Array {
    const d = this.varBytes()
    if (d.byteLength > MAX_DATA_LENGTH) throw new InvalidIlpPacketError(`${this.what}: data of ${d.byteLength} bytes is over ILP's ${MAX_DATA_LENGTH}`)
    return d
  }

  /** An ILP address, or the empty string (allowed only where the caller says). */
  address (): string {
    const n = this.length()
    if (n > MAX_ADDRESS_LENGTH) throw new InvalidIlpPacketError(`${this.what}: an address over ${MAX_ADDRESS_LENGTH} characters`)
    const text = this.ascii(n)
    if (text !== '' && !ADDRESS.test(text)) throw new InvalidIlpPacketError(`${this.what}: "${text}" is not an ILP address`)
    return text
  }

  utf8 (): string {
    const b = this.varBytes()
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b)
    } catch {
      throw new InvalidIlpPacketError(`${this.what}: the message is not UTF-8`)
    }
  }

  end (): void {
    if (this.at !== this.buf.byteLength) throw new InvalidIlpPacketError(`${this.what}: ${this.buf.byteLength - this.at} bytes after its end`)
  }
}
