// Log entries. Each member writes one append-only, hash-chained log per network and
// device. The signature covers the header — which holds the hash of the body, never the
// body — so bodies can be pruned while the chain stays verifiable. A fast writer may sign
// a whole batch once, over the Merkle root of the batch's entry hashes.

import { sign, verify } from '../core/identity.ts'
import type { Identity, SignatureDomain } from '../core/identity.ts'
import type { CanonicalValue } from '../core/encoding.ts'
import { bytesEqual } from '../core/encoding.ts'
import { hashCanonical, sha256 } from './hashing.ts'
import { InvalidRecordError } from './errors.ts'

export interface EntryHeader {
  v: 1
  net: Uint8Array
  /** The account the entry is written for. */
  author: Uint8Array
  /** The device key that signed it (the account key itself, or a delegated device). */
  device: Uint8Array
  /** 1, 2, 3… per (net, author, device). */
  seq: number
  /** Hash of the previous entry of this chain; null at seq 1. */
  prev: Uint8Array | null
  ts: number
  /** 'peernet/join', 'chat/message', … */
  type: string
  bodyHash: Uint8Array
  bodySize: number
}

/** One signature per entry, or one per batch over the Merkle root of its entry hashes. */
export type EntryAuth =
  | { sig: Uint8Array }
  | { batch: { root: Uint8Array, index: number, count: number, proof: Uint8Array[], sig: Uint8Array } }

export interface Entry {
  header: EntryHeader
  auth: EntryAuth
  /** Absent when the body was pruned or not fetched. */
  body?: Uint8Array
}

export const MAX_BODY_BYTES = 64 * 1024
export const MAX_BATCH = 1024
const ENTRY_DOMAIN: SignatureDomain = { purpose: 'networks/entry', version: 1 }
const BATCH_DOMAIN: SignatureDomain = { purpose: 'networks/entry-batch', version: 1 }

export function headerValue (h: EntryHeader): CanonicalValue {
  return { v: h.v, net: h.net, author: h.author, device: h.device, seq: h.seq, prev: h.prev, ts: h.ts, type: h.type, bodyHash: h.bodyHash, bodySize: h.bodySize }
}

export function entryHash (h: EntryHeader): Uint8Array {
  return hashCanonical(headerValue(h))
}

export interface NewEntry {
  type: string
  body: Uint8Array
  ts: number
}

export interface ChainHead {
  seq: number
  hash: Uint8Array
}

/** Builds the headers of consecutive entries after `head` (undefined for a new chain). */
export function buildHeaders (net: Uint8Array, author: Uint8Array, device: Uint8Array, head: ChainHead | undefined, items: NewEntry[]): EntryHeader[] {
  const out: EntryHeader[] = []
  let seq = head?.seq ?? 0
  let prev = head?.hash ?? null
  for (const item of items) {
    if (item.body.byteLength > MAX_BODY_BYTES) throw new InvalidRecordError(`entry body is ${item.body.byteLength} bytes; the limit is ${MAX_BODY_BYTES}`)
    const h: EntryHeader = { v: 1, net, author, device, seq: ++seq, prev, ts: item.ts, type: item.type, bodyHash: sha256(item.body), bodySize: item.body.byteLength }
    checkHeader(h)
    out.push(h)
    prev = entryHash(h)
  }
  return out
}

/** Signs headers: one signature each, or for more than one, one over their Merkle root. */
export function signHeaders (device: Identity, headers: EntryHeader[]): EntryAuth[] {
  if (headers.length === 0) return []
  if (headers.length === 1) return [{ sig: sign(device, ENTRY_DOMAIN, headerValue(headers[0] as EntryHeader)) }]
  if (headers.length > MAX_BATCH) throw new InvalidRecordError(`a batch holds at most ${MAX_BATCH} entries`)
  const leaves = headers.map(entryHash)
  const { root, proofs } = merkleProofs(leaves)
  const sig = sign(device, BATCH_DOMAIN, { root, count: leaves.length })
  return leaves.map((_l, index) => ({ batch: { root, index, count: leaves.length, proof: proofs[index] as Uint8Array[], sig } }))
}

export function checkHeader (h: EntryHeader): void {
  const is32 = (b: unknown): boolean => b instanceof Uint8Array && b.byteLength === 32
  if (h.v !== 1) throw new InvalidRecordError(`unknown entry version ${String(h.v)}`)
  if (!is32(h.net) || !is32(h.author) || !is32(h.device) || !is32(h.bodyHash)) throw new InvalidRecordError('entry keys and hashes must be 32 bytes')
  if (!Number.isSafeInteger(h.seq) || h.seq < 1) throw new InvalidRecordError('entry seq must be a positive integer')
  if (h.seq === 1 ? h.prev !== null : !is32(h.prev)) throw new InvalidRecordError(h.seq === 1 ? 'the first entry of a chain has no prev' : 'entry prev must be a 32-byte hash')
  if (!Number.isSafeInteger(h.ts) || h.ts < 0) throw new InvalidRecordError('entry ts must be a timestamp')
  if (typeof h.type !== 'string' || !/^[a-z][a-z0-9-]*\/[a-z][a-z0-9-]*$/.test(h.type) || h.type.length > 64) throw new InvalidRecordError(`invalid entry type "${String(h.type)}"`)
  if (!Number.isSafeInteger(h.bodySize) || h.bodySize < 0 || h.bodySize > MAX_BODY_BYTES) throw new InvalidRecordError(`entry body size must be 0–${MAX_BODY_BYTES}`)
}

/**
 * Batch signatures already verified, keyed by device‖root‖count‖sig: the entries of one
 * batch arrive together and share one signature, so it is checked once, not per entry.
 */
const verifiedBatches = new Map<string, true>()
const VERIFIED_BATCH_CACHE = 4096

function batchVerified (device: Uint8Array, root: Uint8Array, count: number, sig: Uint8Array): boolean {
  const key = `${Buffer.from(device).toString('base64')}${Buffer.from(root).toString('base64')}${count}${Buffer.from(sig).toString('base64')}`
  if (verifiedBatches.has(key)) return true
  if (!verify(device, BATCH_DOMAIN, { root, count }, sig)) return false
  if (verifiedBatches.size >= VERIFIED_BATCH_CACHE) verifiedBatches.delete(verifiedBatches.keys().next().value as string)
  verifiedBatches.set(key, true)
  return true
}

/** Verifies header shape, the device signature (single or batch), and body against bodyHash. */
export function verifyEntry (e: Entry): Uint8Array {
  checkHeader(e.header)
  const hash = entryHash(e.header)
  if ('sig' in e.auth) {
    if (!verify(e.header.device, ENTRY_DOMAIN, headerValue(e.header), e.auth.sig)) throw new InvalidRecordError('entry signature does not verify')
  } else {
    const { root, index, count, proof, sig } = e.auth.batch
    if (!Number.isSafeInteger(count) || count < 2 || count > MAX_BATCH || !Number.isSafeInteger(index) || index < 0 || index >= count) throw new InvalidRecordError('malformed batch position')
    if (!bytesEqual(rootFromProof(hash, index, count, proof), root)) throw new InvalidRecordError('entry is not in the signed batch')
    if (!batchVerified(e.header.device, root, count, sig)) throw new InvalidRecordError('batch signature does not verify')
  }
  if (e.body !== undefined) {
    if (e.body.byteLength !== e.header.bodySize || !bytesEqual(sha256(e.body), e.header.bodyHash)) throw new InvalidRecordError('entry body does not match its hash')
  }
  return hash
}

// ---- Merkle tree (RFC 6962 §2.1 hashing: leaves 0x00‖h, nodes 0x01‖l‖r) ----------------

function leafHash (h: Uint8Array): Uint8Array {
  return sha256(concat(new Uint8Array([0]), h))
}

function nodeHash (l: Uint8Array, r: Uint8Array): Uint8Array {
  return sha256(concat(new Uint8Array([1]), l, r))
}

function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let off = 0
  for (const p of parts) { out.set(p, off); off += p.byteLength }
  return out
}

/** Largest power of two strictly less than n (RFC 6962 §2.1 "k"). */
function split (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

export function merkleRoot (leaves: Uint8Array[]): Uint8Array {
  // RFC 6962 §2.1: the hash of an empty list is SHA-256 of nothing.
  if (leaves.length === 0) return sha256(new Uint8Array(0))
  return subtree(leaves.map(leafHash), 0, leaves.length, undefined)
}

/**
 * Root of leaf hashes [lo, hi), recording on the way the audit path of `target` (the
 * sibling subtree roots, deepest first) into `proof` when given. One pass: O(n) hashes.
 */
function subtree (hashes: Uint8Array[], lo: number, hi: number, proof: { target: number, path: Uint8Array[] } | undefined): Uint8Array {
  if (hi - lo === 1) return hashes[lo] as Uint8Array
  const mid = lo + split(hi - lo)
  const inLeft = proof !== undefined && proof.target < mid
  const left = subtree(hashes, lo, mid, inLeft ? proof : undefined)
  const right = subtree(hashes, mid, hi, proof !== undefined && !inLeft ? proof : undefined)
  if (proof !== undefined && proof.target >= lo && proof.target < hi) proof.path.push(inLeft ? right : left)
  return nodeHash(left, right)
}

/** Audit path for leaf `index` (RFC 6962 §2.1.1), deepest sibling first. */
export function merkleProof (leaves: Uint8Array[], index: number): Uint8Array[] {
  const proof = { target: index, path: [] as Uint8Array[] }
  subtree(leaves.map(leafHash), 0, leaves.length, proof)
  return proof.path
}

/** The root and every leaf's audit path, in O(n log n) hashes. */
export function merkleProofs (leaves: Uint8Array[]): { root: Uint8Array, proofs: Uint8Array[][] } {
  const hashes = leaves.map(leafHash)
  const proofs: Uint8Array[][] = leaves.map(() => [])
  const build = (lo: number, hi: number): Uint8Array => {
    if (hi - lo === 1) return hashes[lo] as Uint8Array
    const mid = lo + split(hi - lo)
    const left = build(lo, mid)
    const right = build(mid, hi)
    for (let i = lo; i < mid; i++) proofs[i]?.push(right)
    for (let i = mid; i < hi; i++) proofs[i]?.push(left)
    return nodeHash(left, right)
  }
  return { root: build(0, leaves.length), proofs }
}

function rootFromProof (leaf: Uint8Array, index: number, count: number, proof: Uint8Array[]): Uint8Array {
  // Walk down to find which side the leaf is on at each level, then fold back up.
  const sides: boolean[] = []
  let n = count
  let i = index
  while (n > 1) {
    const k = split(n)
    if (i < k) { sides.push(true); n = k } else { sides.push(false); i -= k; n -= k }
  }
  if (sides.length !== proof.length) return new Uint8Array(32)
  let h = leafHash(leaf)
  for (let level = sides.length - 1, p = 0; level >= 0; level--, p++) {
    const sibling = proof[p] as Uint8Array
    h = sides[level] === true ? nodeHash(h, sibling) : nodeHash(sibling, h)
  }
  return h
}

// ---- wire form ----------------------------------------------------------------------

export function entryValue (e: Entry, withBody = true): CanonicalValue {
  const auth: CanonicalValue = 'sig' in e.auth
    ? { sig: e.auth.sig }
    : { batch: { root: e.auth.batch.root, index: e.auth.batch.index, count: e.auth.batch.count, proof: e.auth.batch.proof, sig: e.auth.batch.sig } }
  return withBody && e.body !== undefined ? { h: headerValue(e.header), a: auth, b: e.body } : { h: headerValue(e.header), a: auth }
}

export function entryFrom (value: unknown): Entry {
  const v = value as { h?: Record<string, unknown>, a?: Record<string, unknown>, b?: unknown }
  if (typeof v?.h !== 'object' || v.h === null || typeof v.a !== 'object' || v.a === null) throw new InvalidRecordError('malformed entry')
  const h = v.h
  const header = { v: h.v, net: h.net, author: h.author, device: h.device, seq: h.seq, prev: h.prev, ts: h.ts, type: h.type, bodyHash: h.bodyHash, bodySize: h.bodySize } as EntryHeader
  let auth: EntryAuth
  if (v.a.sig instanceof Uint8Array) auth = { sig: v.a.sig }
  else {
    const b = v.a.batch as { root?: unknown, index?: unknown, count?: unknown, proof?: unknown, sig?: unknown } | undefined
    if (b === undefined || !(b.root instanceof Uint8Array) || !(b.sig instanceof Uint8Array) || !Array.isArray(b.proof) || !b.proof.every((p) => p instanceof Uint8Array && p.byteLength === 32)) throw new InvalidRecordError('malformed entry signature')
    auth = { batch: { root: b.root, index: b.index as number, count: b.count as number, proof: b.proof as Uint8Array[], sig: b.sig } }
  }
  if (v.b !== undefined && !(v.b instanceof Uint8Array)) throw new InvalidRecordError('malformed entry body')
  return v.b === undefined ? { header, auth } : { header, auth, body: v.b }
}
