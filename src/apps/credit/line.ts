// The trust line: a bilateral account between two accounts in one unit. Each side sets
// the credit it extends to the other; the balance moves only within those limits;
// conditional holds (Interledger's hashlocks, RFC 0027's prepare/fulfill/reject) reserve
// capacity until they are settled with the condition's preimage or released.
//
// This file is the pure state model: a state, the changes a side may propose, the rules
// that check them, and the signed form both sides keep. No I/O, no clock: `now` is passed
// in. Every new state is the old one with a batch of changes applied and `seq` + 1; it
// counts only when both sides' holder devices signed it (see line-channel.ts).

import { createHash } from 'node:crypto'
import { encodeCanonical, decodeCanonical, bytesEqual } from '../../core/encoding.ts'
import type { CanonicalValue } from '../../core/encoding.ts'
import { signBytes, signingBytes, verifyBytes } from '../../core/identity.ts'
import type { Identity, SignatureDomain } from '../../core/identity.ts'
import { MAX_AMOUNT, checkUnit, formatAmount } from './amount.ts'
import { InvalidLineStateError, LineRuleError } from './errors.ts'

/** The two ends of a line: `a` is the account whose key sorts first (bytewise), `b` the other. */
export type Side = 'a' | 'b'

/** A conditional hold (an ILP prepare's hashlock on this line): `payer` owes `amount` to the other side once the condition's preimage is shown. */
export interface Hold {
  /** 16 bytes, unique among the line's holds. */
  id: Uint8Array
  /** The side paying: its capacity is reserved until the hold is settled or released. */
  payer: Side
  amount: bigint
  /** SHA-256 of the fulfillment (32 bytes), as in the ILP prepare's executionCondition. */
  condition: Uint8Array
  /** Milliseconds since the epoch; the hold cannot be settled after this. */
  expiresAt: number
}

export interface LineState {
  a: Uint8Array
  b: Uint8Array
  /** The device of each account that holds this line and signs its states (one writer per side, so states never fork). */
  deviceA: Uint8Array
  deviceB: Uint8Array
  unit: string
  seq: number
  /** What `b` owes `a` (negative: `a` owes `b`). A payment from `b` to `a` raises it. */
  balance: bigint
  /** The credit `a` extends to `b`: `balance` may not exceed it. */
  limitA: bigint
  /** The credit `b` extends to `a`: `-balance` may not exceed it. */
  limitB: bigint
  /** Pending holds, ordered by id. */
  holds: Hold[]
}

export type LineChange =
  /** `side` sets the credit it extends (only that side may). */
  | { kind: 'limit', side: Side, limit: bigint }
  /** The payer places a hold (only the payer may). */
  | { kind: 'hold', hold: Hold }
  /** The payee shows the preimage before expiry: the amount moves (only the payee may). */
  | { kind: 'settle', id: Uint8Array, fulfillment: Uint8Array }
  /** The payee gives a hold up at any time, or the payer once it has expired. */
  | { kind: 'release', id: Uint8Array }

export interface SignedLineState {
  state: LineState
  /** `deviceA`'s signature over the state. */
  sigA: Uint8Array
  /** `deviceB`'s signature over the state. */
  sigB: Uint8Array
  /**
   * The side that proposed the state: its signature is a proposal's, the other's an
   * acceptance's (see `SignRole`). null for a state signed before roles existed, where
   * both signatures are acceptances.
   */
  proposer: Side | null
}

/**
 * What a signature over a state says. A proposal's signature offers the state; an
 * acceptance commits to it. Each is made under its own domain, so a fully signed state
 * shows who proposed it, and the line's dispute rule (`supersedes`) can tell a state both
 * sides committed to from one a side countersigned behind the other's back (a proposal
 * it refused, or lost in a collision).
 */
export type SignRole = 'propose' | 'accept'

/** At most this many holds at once on a line: the state (signed whole at each change) stays small. */
export const MAX_HOLDS = 512

/** Acceptances (and, before roles, both signatures). */
const LINE_STATE_DOMAIN: SignatureDomain = { purpose: 'peernet/credit/line-state', version: 1 }
/** Proposals. */
const LINE_PROPOSAL_DOMAIN: SignatureDomain = { purpose: 'peernet/credit/line-proposal', version: 1 }

export function other (side: Side): Side {
  return side === 'a' ? 'b' : 'a'
}

/** Orders two distinct account keys into the line's sides. */
export function sidesOf (x: Uint8Array, y: Uint8Array): { a: Uint8Array, b: Uint8Array } {
  const c = Buffer.compare(x, y)
  if (c === 0) throw new LineRuleError('a trust line needs two different accounts', { hint: 'you cannot open a line with yourself' })
  return c < 0 ? { a: x, b: y } : { a: y, b: x }
}

/** Which side `account` is on, or undefined when it is on neither. */
export function sideOf (state: Pick<LineState, 'a' | 'b'>, account: Uint8Array): Side | undefined {
  if (bytesEqual(state.a, account)) return 'a'
  if (bytesEqual(state.b, account)) return 'b'
  return undefined
}

/** The line's id: one line per pair of accounts and unit. */
export function lineId (a: Uint8Array, b: Uint8Array, unit: string): Uint8Array {
  const s = sidesOf(a, b)
  return sha256(encodeCanonical(['peernet/credit/line', s.a, s.b, unit]))
}

/** The first state of a new line: no balance, no credit either way, no holds (seq 0). */
export function openLine (x: { account: Uint8Array, device: Uint8Array }, y: { account: Uint8Array, device: Uint8Array }, unit: string): LineState {
  checkUnit(unit)
  const xFirst = Buffer.compare(x.account, y.account) < 0
  const [first, second] = xFirst ? [x, y] : [y, x]
  sidesOf(x.account, y.account)
  return { a: first.account, b: second.account, deviceA: first.device, deviceB: second.device, unit, seq: 0, balance: 0n, limitA: 0n, limitB: 0n, holds: [] }
}

/** What `side` owns on the line: positive when the other side owes it. */
export function positionOf (state: LineState, side: Side): bigint {
  return side === 'a' ? state.balance : -state.balance
}

/** What `side` can still pay over the line now: the other side's credit plus what it is owed, less its own pending holds. */
export function availableToPay (state: LineState, side: Side): bigint {
  const held = state.holds.reduce((sum, h) => h.payer === side ? sum + h.amount : sum, 0n)
  const room = side === 'a' ? state.limitB + state.balance : state.limitA - state.balance
  const left = room - held
  return left > 0n ? left : 0n
}

export function findHold (state: LineState, id: Uint8Array): Hold | undefined {
  return state.holds.find((h) => bytesEqual(h.id, id))
}

/**
 * The state after `proposer` applies `changes` in order, with `seq` + 1. Throws
 * LineRuleError with the reason if any change breaks the rules; `state` is never
 * modified. Both sides run this: the proposer before signing, the other side (with its
 * own clock) before countersigning.
 */
export function applyChanges (state: LineState, proposer: Side, changes: readonly LineChange[], now: number): LineState {
  if (changes.length === 0) throw new LineRuleError('an update must change something')
  let balance = state.balance
  let limitA = state.limitA
  let limitB = state.limitB
  const holds = new Map<string, Hold>(state.holds.map((h) => [hex(h.id), h]))
  for (const change of changes) {
    switch (change.kind) {
      case 'limit': {
        if (change.side !== proposer) throw new LineRuleError('only a side may set the credit it extends')
        checkAmount(change.limit, 'a credit limit')
        if (change.side === 'a') limitA = change.limit
        else limitB = change.limit
        break
      }
      case 'hold': {
        const h = change.hold
        if (h.payer !== proposer) throw new LineRuleError('only the paying side may place a hold')
        if (h.id.byteLength !== 16) throw new LineRuleError('a hold id is 16 bytes')
        if (h.condition.byteLength !== 32) throw new LineRuleError('a hold condition is 32 bytes (a SHA-256 hash)')
        checkAmount(h.amount, 'a hold')
        if (h.amount === 0n) throw new LineRuleError('a hold of zero')
        if (!Number.isSafeInteger(h.expiresAt) || h.expiresAt <= now) throw new LineRuleError('the hold has already expired', { hint: 'give the payment a later expiry' })
        const key = hex(h.id)
        if (holds.has(key)) throw new LineRuleError('a hold with this id is already on the line (replayed?)')
        const view: LineState = { ...state, balance, limitA, limitB, holds: [...holds.values()] }
        const left = availableToPay(view, h.payer)
        if (h.amount > left) throw new LineRuleError(`the hold of ${formatAmount(h.amount)} ${state.unit} is over the line's capacity (${formatAmount(left)} left)`)
        if (holds.size >= MAX_HOLDS) throw new LineRuleError(`the line already has ${MAX_HOLDS} pending holds`, { hint: 'wait for some payments to finish' })
        holds.set(key, h)
        break
      }
      case 'settle': {
        const key = hex(change.id)
        const h = holds.get(key)
        if (h === undefined) throw new LineRuleError('no such hold to settle (settled, released or never placed)')
        if (h.payer === proposer) throw new LineRuleError('only the side paid may settle a hold')
        if (!bytesEqual(sha256(change.fulfillment), h.condition)) throw new LineRuleError('the fulfillment does not match the hold\'s condition')
        if (now > h.expiresAt) throw new LineRuleError('the hold expired before it was settled')
        balance = h.payer === 'a' ? balance - h.amount : balance + h.amount
        holds.delete(key)
        break
      }
      case 'release': {
        const key = hex(change.id)
        const h = holds.get(key)
        if (h === undefined) throw new LineRuleError('no such hold to release (settled, released or never placed)')
        if (h.payer === proposer && now < h.expiresAt) throw new LineRuleError('the payer may release a hold only once it has expired')
        holds.delete(key)
        break
      }
    }
  }
  const ordered = [...holds.values()].sort((x, y) => Buffer.compare(x.id, y.id))
  return { ...state, seq: state.seq + 1, balance, limitA, limitB, holds: ordered }
}

// ---- the signed form --------------------------------------------------------------------

export function lineStateValue (s: LineState): CanonicalValue {
  return {
    a: s.a,
    b: s.b,
    deviceA: s.deviceA,
    deviceB: s.deviceB,
    unit: s.unit,
    seq: s.seq,
    balance: s.balance,
    limitA: s.limitA,
    limitB: s.limitB,
    holds: s.holds.map((h) => ({ id: h.id, payer: h.payer, amount: h.amount, condition: h.condition, expiresAt: h.expiresAt }))
  }
}

/**
 * A state's canonical encoding, kept per state object. Each update's state is signed by
 * one side, verified and countersigned by the other, the countersignature verified, and
 * the signed state stored on both sides: with many holds open, encoding the state is the
 * larger part of an update's cost, so it is done once and the signed forms are built
 * around it. States are never changed in place (`applyChanges` makes a new one), so the
 * bytes stay right.
 */
const encodedStates = new WeakMap<LineState, Uint8Array>()

/**
 * Each hold's encoding, kept per hold object: a hold lives on the line from its placing to
 * its settling, through every state in between (`applyChanges` carries the same objects
 * over), so a state with hundreds of holds open is assembled from bytes already made and
 * only the changed fields are encoded afresh.
 */
const encodedHolds = new WeakMap<Hold, Uint8Array>()

function encodedHold (h: Hold): Uint8Array {
  let bytes = encodedHolds.get(h)
  if (bytes === undefined) {
    bytes = encodeCanonical({ id: h.id, payer: h.payer, amount: h.amount, condition: h.condition, expiresAt: h.expiresAt })
    encodedHolds.set(h, bytes)
  }
  return bytes
}

/** A CBOR array head (major type 4, shortest form; RFC 8949 §3.1, §4.2.1) for `n` items. */
function arrayHead (n: number): Uint8Array {
  if (n < 24) return Uint8Array.of(0x80 | n)
  if (n < 0x100) return Uint8Array.of(0x98, n)
  if (n < 0x10000) return Uint8Array.of(0x99, n >> 8, n & 0xff)
  throw new InvalidLineStateError(`a line state with ${n} holds`)
}

/** The state's keys in canonical order (sorted by their encoded bytes), each with its encoding. */
const STATE_KEYS: ReadonlyArray<{ key: keyof LineState, bytes: Uint8Array }> = (['a', 'b', 'deviceA', 'deviceB', 'unit', 'seq', 'balance', 'limitA', 'limitB', 'holds'] as const)
  .map((key) => ({ key, bytes: encodeCanonical(key) }))
  .sort((x, y) => Buffer.compare(x.bytes, y.bytes))
/** A map of ten entries (major type 5). */
const STATE_HEAD = Uint8Array.of(0xa0 | STATE_KEYS.length)

/**
 * `encodeCanonical(lineStateValue(s))`, assembled: the map's head, then each key with its
 * value in key order, the holds from their kept encodings. The tests check it against
 * the whole value's encoding.
 */
function encodedState (s: LineState): Uint8Array {
  let bytes = encodedStates.get(s)
  if (bytes === undefined) {
    const parts: Uint8Array[] = [STATE_HEAD]
    for (const { key, bytes: k } of STATE_KEYS) {
      parts.push(k)
      if (key === 'holds') {
        parts.push(arrayHead(s.holds.length))
        for (const h of s.holds) parts.push(encodedHold(h))
      } else {
        parts.push(encodeCanonical(s[key]))
      }
    }
    bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
    let at = 0
    for (const p of parts) { bytes.set(p, at); at += p.byteLength }
    encodedStates.set(s, bytes)
  }
  return bytes
}

/**
 * `encodeCanonical(container)` with the state's bytes in place of the null that is the
 * container's last item. Canonical CBOR encodes an item the same wherever it sits
 * (RFC 8949 §4.2.1: definite lengths, no context), so splicing gives the very bytes the
 * whole value would encode to; the tests check that it does.
 */
function withStateLast (container: Uint8Array, s: LineState): Uint8Array {
  if (container[container.byteLength - 1] !== 0xf6) throw new InvalidLineStateError('line state splice: the container does not end with its null')
  const state = encodedState(s)
  const out = new Uint8Array(container.byteLength - 1 + state.byteLength)
  out.set(container.subarray(0, container.byteLength - 1))
  out.set(state, container.byteLength - 1)
  return out
}

/** The signing bytes' heads: [context, purpose, version, null] — the state goes last. */
const SIGNING_HEAD: Record<SignRole, Uint8Array> = { accept: signingBytes(LINE_STATE_DOMAIN, null), propose: signingBytes(LINE_PROPOSAL_DOMAIN, null) }
const signingBytesOf: Record<SignRole, WeakMap<LineState, Uint8Array>> = { accept: new WeakMap(), propose: new WeakMap() }

/** `signingBytes(domain of role, lineStateValue(s))`, from the state's kept encoding. */
export function lineSigningBytes (s: LineState, role: SignRole): Uint8Array {
  let bytes = signingBytesOf[role].get(s)
  if (bytes === undefined) {
    bytes = withStateLast(SIGNING_HEAD[role], s)
    signingBytesOf[role].set(s, bytes)
  }
  return bytes
}

/** SHA-256 of the state's canonical encoding: what an update names as its base. */
export function lineStateHash (s: LineState): Uint8Array {
  return sha256(encodedState(s))
}

/** This device's signature over the state, as its proposal or its acceptance (it must be the state's holder device of one side). */
export function signLineState (device: Identity, s: LineState, role: SignRole): Uint8Array {
  return signBytes(device, lineSigningBytes(s, role))
}

/** Whether `signature` is `side`'s holder device's signature over the state in `role`. */
export function verifyLineSignature (s: LineState, side: Side, signature: Uint8Array, role: SignRole): boolean {
  return verifyBytes(side === 'a' ? s.deviceA : s.deviceB, lineSigningBytes(s, role), signature)
}

/** Checks a signed state: shape and both signatures, each in its role. Throws InvalidLineStateError saying which failed. */
export function checkSignedLineState (signed: SignedLineState): void {
  for (const side of ['a', 'b'] as const) {
    const role: SignRole = signed.proposer === side ? 'propose' : 'accept'
    if (!verifyLineSignature(signed.state, side, side === 'a' ? signed.sigA : signed.sigB, role)) {
      throw new InvalidLineStateError(`line state ${signed.state.seq}: side ${side}'s signature${signed.proposer === null ? '' : ` (as its ${role === 'propose' ? 'proposal' : 'acceptance'})`} does not verify (forged or damaged)`)
    }
  }
}

/**
 * The line's dispute rule: whether fully signed state `x` stands over `y` (both checked).
 * The higher seq stands. Honest sides never sign two states at one seq, but a dishonest
 * side can countersign a proposal it refused or ignored, making a second: then the state
 * side a proposed stands (a wins collisions, so it never accepts while its own proposal
 * is out); and between two that one side proposed, neither stands over the other here —
 * the acceptor signed both (it equivocated), and the proposer's copy is the one to hold
 * to. States from before roles (proposer null) compare by seq only.
 */
export function supersedes (x: SignedLineState, y: SignedLineState): boolean {
  if (x.state.seq !== y.state.seq) return x.state.seq > y.state.seq
  return x.proposer === 'a' && y.proposer === 'b'
}

export function encodeSignedLineState (signed: SignedLineState): Uint8Array {
  // Keys sort by their encoded bytes, shorter first: by, sigA, sigB, then state, last.
  const head: Record<string, CanonicalValue> = { state: null, sigA: signed.sigA, sigB: signed.sigB }
  if (signed.proposer !== null) head.by = signed.proposer
  return withStateLast(encodeCanonical(head), signed.state)
}

export function decodeSignedLineState (bytes: Uint8Array): SignedLineState {
  let value: CanonicalValue
  try {
    value = decodeCanonical(bytes)
  } catch (err) {
    throw new InvalidLineStateError(`a signed line state that is not canonical CBOR: ${(err as Error).message}`)
  }
  const m = record(value, 'signed line state')
  return { state: decodeLineState(m.state), sigA: bytesField(m, 'sigA', 64), sigB: bytesField(m, 'sigB', 64), proposer: proposerField(m.by) }
}

/** Checks a decoded value's shape and returns the state; throws InvalidLineStateError with the field at fault. */
export function decodeLineState (value: CanonicalValue | undefined): LineState {
  const m = record(value, 'line state')
  const holdsValue = m.holds
  if (!Array.isArray(holdsValue) || holdsValue.length > MAX_HOLDS) throw new InvalidLineStateError('line state: holds is not a list of at most 512')
  const holds = holdsValue.map((v): Hold => {
    const h = record(v, 'hold')
    const payer = h.payer
    if (payer !== 'a' && payer !== 'b') throw new InvalidLineStateError('hold: payer is not "a" or "b"')
    return { id: bytesField(h, 'id', 16), payer, amount: amountField(h, 'amount'), condition: bytesField(h, 'condition', 32), expiresAt: intField(h, 'expiresAt') }
  })
  for (let i = 1; i < holds.length; i++) {
    if (Buffer.compare((holds[i - 1] as Hold).id, (holds[i] as Hold).id) >= 0) throw new InvalidLineStateError('line state: holds are not ordered by id without repeats')
  }
  const unit = m.unit
  if (typeof unit !== 'string') throw new InvalidLineStateError('line state: unit is not a string')
  try { checkUnit(unit) } catch { throw new InvalidLineStateError(`line state: "${unit}" is not a unit name`) }
  const balance = m.balance
  if (typeof balance !== 'bigint' && typeof balance !== 'number') throw new InvalidLineStateError('line state: balance is not an integer')
  const state: LineState = {
    a: bytesField(m, 'a', 32),
    b: bytesField(m, 'b', 32),
    deviceA: bytesField(m, 'deviceA', 32),
    deviceB: bytesField(m, 'deviceB', 32),
    unit,
    seq: intField(m, 'seq'),
    balance: BigInt(balance),
    limitA: amountField(m, 'limitA'),
    limitB: amountField(m, 'limitB'),
    holds
  }
  if (Buffer.compare(state.a, state.b) >= 0) throw new InvalidLineStateError('line state: side a\'s account does not sort before side b\'s')
  const bound = BigInt.asIntN(66, MAX_AMOUNT * 2n)
  if (state.balance > bound || state.balance < -bound) throw new InvalidLineStateError('line state: balance out of range')
  return state
}

// ---- helpers ----------------------------------------------------------------------------

function sha256 (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

function checkAmount (value: bigint, what: string): void {
  if (typeof value !== 'bigint' || value < 0n || value > MAX_AMOUNT) throw new LineRuleError(`${what} must be an amount from 0 to ${formatAmount(MAX_AMOUNT)}`)
}

function record (value: CanonicalValue | undefined, what: string): Record<string, CanonicalValue> {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || Array.isArray(value)) throw new InvalidLineStateError(`${what} is not a map`)
  return value
}

function bytesField (m: Record<string, CanonicalValue>, key: string, length: number): Uint8Array {
  const v = m[key]
  if (!(v instanceof Uint8Array) || v.byteLength !== length) throw new InvalidLineStateError(`${key} is not ${length} bytes`)
  return v
}

/** A signed state's `by`: "a", "b", or absent (a state from before roles). */
export function proposerField (v: CanonicalValue | undefined): Side | null {
  if (v === undefined) return null
  if (v !== 'a' && v !== 'b') throw new InvalidLineStateError('by is not "a" or "b"')
  return v
}

function intField (m: Record<string, CanonicalValue>, key: string): number {
  const v = m[key]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new InvalidLineStateError(`${key} is not a non-negative integer`)
  return v
}

function amountField (m: Record<string, CanonicalValue>, key: string): bigint {
  const v = m[key]
  if (typeof v !== 'bigint' && typeof v !== 'number') throw new InvalidLineStateError(`${key} is not an amount`)
  const n = BigInt(v)
  if (n < 0n || n > MAX_AMOUNT) throw new InvalidLineStateError(`${key} is out of range`)
  return n
}
