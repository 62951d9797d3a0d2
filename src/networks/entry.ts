// Log entries. Each member writes one append-only, hash-chained log per network and
// device. The signature covers the header — which holds the hash of the body, never the
// body — so bodies can be pruned while the chain stays verifiable. A fast writer may sign
// a whole batch once, over the Merkle root of the batch's entry hashes.

import { hash as oneShotHash } from 'node:crypto'
import { sign, verify } from '../core/identity.ts'
import type { Identity, SignatureDomain } from '../core/identity.ts'
import type { CanonicalValue , CanonicalReader} from '../core/encoding.ts'
import { CanonicalWriter, bytesEqual, encodeCanonical, keyBytes } from '../core/encoding.ts'
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
  return sha256(encodeHeader(h))
}

/**
 * SHA-256 in one call (no Hash object per digest: entries take a dozen digests each),
 * as a plain Uint8Array, which is what the canonical encoder accepts.
 */
export function sha256 (bytes: Uint8Array): Uint8Array {
  const d = oneShotHash('sha256', bytes, 'buffer')
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
}

const is32 = (b: unknown): b is Uint8Array => b instanceof Uint8Array && b.byteLength === 32
const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0

/**
 * The canonical CBOR of a header, `encodeCanonical(headerValue(h))` byte for byte, written
 * directly: keys in RFC 8949 §4.2.1 order (shorter first, then bytewise): v, ts, net,
 * seq, prev, type, author, device, bodyHash, bodySize. A header of unexpected shape goes
 * through the general encoder, which then decides.
 */
export function encodeHeader (h: EntryHeader): Uint8Array {
  const w = new CanonicalWriter(320)
  if (!writeHeader(w, h)) return encodeCanonical(headerValue(h))
  return w.finish()
}

function writeHeader (w: CanonicalWriter, h: EntryHeader): boolean {
  if (h.v !== 1 || !isCount(h.ts) || !is32(h.net) || !isCount(h.seq) || !(h.prev === null || is32(h.prev)) ||
    typeof h.type !== 'string' || !is32(h.author) || !is32(h.device) || !is32(h.bodyHash) || !isCount(h.bodySize)) return false
  if (h.net.constructor !== Uint8Array || h.author.constructor !== Uint8Array || h.device.constructor !== Uint8Array ||
    h.bodyHash.constructor !== Uint8Array || (h.prev !== null && h.prev.constructor !== Uint8Array)) return false
  w.map(10)
  w.key('v').head(0, 1)
  w.key('ts').head(0, h.ts)
  w.key('net').bytes(h.net)
  w.key('seq').head(0, h.seq)
  w.key('prev')
  if (h.prev === null) w.null()
  else w.bytes(h.prev)
  w.key('type').text(h.type)
  w.key('author').bytes(h.author)
  w.key('device').bytes(h.device)
  w.key('bodyHash').bytes(h.bodyHash)
  w.key('bodySize').head(0, h.bodySize)
  return true
}

/** Auth as canonical CBOR: {sig} or {batch: {sig, root, count, index, proof}} (§4.2.1 key order). */
function writeAuth (w: CanonicalWriter, a: EntryAuth): boolean {
  if ('sig' in a) {
    if (!(a.sig instanceof Uint8Array) || a.sig.constructor !== Uint8Array) return false
    w.map(1).key('sig').bytes(a.sig)
    return true
  }
  const b = a.batch
  if (!(b.sig instanceof Uint8Array) || b.sig.constructor !== Uint8Array || !(b.root instanceof Uint8Array) || b.root.constructor !== Uint8Array ||
    !isCount(b.count) || !isCount(b.index) || !Array.isArray(b.proof) || !b.proof.every((p) => p instanceof Uint8Array && p.constructor === Uint8Array)) return false
  w.map(1).key('batch').map(5)
  w.key('sig').bytes(b.sig)
  w.key('root').bytes(b.root)
  w.key('count').head(0, b.count)
  w.key('index').head(0, b.index)
  w.key('proof').array(b.proof.length)
  for (const p of b.proof) w.bytes(p)
  return true
}

/**
 * `encodeCanonical(entryValue(e, withBody))` byte for byte: {a, h} or {a, b, h}. This is
 * what the store keeps (`signed`, without the body) and what sync sends (with it).
 * `header`: `encodeHeader(e.header)` when the caller has it already.
 */
export function encodeEntry (e: Entry, withBody = true, header: Uint8Array | null = null): Uint8Array {
  const body = withBody ? e.body : undefined
  const received = e instanceof ReceivedEntry ? e : null
  header ??= received?.encodedHeader ?? null
  const w = new CanonicalWriter((received === null ? 1024 : received.encodedAuth.byteLength + (header?.byteLength ?? 320) + 16) + (body?.byteLength ?? 0))
  w.map(body === undefined ? 2 : 3).key('a')
  if (received !== null) w.raw(received.encodedAuth)
  else if (!writeAuth(w, e.auth)) return encodeCanonical(entryValue(e, withBody))
  if (body !== undefined) {
    if (!(body instanceof Uint8Array) || body.constructor !== Uint8Array) return encodeCanonical(entryValue(e, withBody))
    w.key('b').bytes(body)
  }
  w.key('h')
  if (header !== null) w.raw(header)
  else if (!writeHeader(w, e.header)) return encodeCanonical(entryValue(e, withBody))
  return w.finish()
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
  const key = batchKey(device, root, count, sig)
  if (verifiedBatches.has(key)) return true
  if (!verify(device, BATCH_DOMAIN, { root, count }, sig)) return false
  if (verifiedBatches.size >= VERIFIED_BATCH_CACHE) verifiedBatches.delete(verifiedBatches.keys().next().value as string)
  verifiedBatches.set(key, true)
  return true
}

/** Verifies header shape, the device signature (single or batch), and body against bodyHash. */
export function verifyEntry (e: Entry): Uint8Array {
  return verifyEntryEncoded(e).hash
}

/** `verifyEntry`, also giving the header's canonical bytes it hashed (for `encodeEntry`). */
export function verifyEntryEncoded (e: Entry): { hash: Uint8Array, header: Uint8Array } {
  checkHeader(e.header)
  const header = e instanceof ReceivedEntry ? e.encodedHeader : encodeHeader(e.header)
  const hash = sha256(header)
  if ('sig' in e.auth) {
    if (!verify(e.header.device, ENTRY_DOMAIN, headerValue(e.header), e.auth.sig)) throw new InvalidRecordError('entry signature does not verify')
  } else {
    const { root, index, count, proof, sig } = e.auth.batch
    if (!Number.isSafeInteger(count) || count < 2 || count > MAX_BATCH || !Number.isSafeInteger(index) || index < 0 || index >= count) throw new InvalidRecordError('malformed batch position')
    const tree = verifiedTree(e.header.device, root, count, sig)
    if (tree === undefined) {
      // Signature not (yet) known good: check the path first, so a forged entry costs
      // no signature verification, then the signature.
      if (!bytesEqual(rootFromProof(hash, index, count, proof), root)) throw new InvalidRecordError('entry is not in the signed batch')
      if (!batchVerified(e.header.device, root, count, sig)) throw new InvalidRecordError('batch signature does not verify')
      rememberPath(treeFor(e.header.device, root, count, sig), hash, index, count, proof)
    } else if (!inVerifiedTree(tree, hash, index, count, proof)) {
      throw new InvalidRecordError('entry is not in the signed batch')
    }
  }
  if (e.body !== undefined) {
    if (e.body.byteLength !== e.header.bodySize || !bytesEqual(sha256(e.body), e.header.bodyHash)) throw new InvalidRecordError('entry body does not match its hash')
  }
  return { hash, header }
}

// ---- Merkle tree (RFC 6962 §2.1 hashing: leaves 0x00‖h, nodes 0x01‖l‖r) ----------------

/** One scratch buffer for the 33- and 65-byte hash inputs: hashing copies what it reads. */
const scratch = new Uint8Array(65)

function leafHash (h: Uint8Array): Uint8Array {
  if (h.byteLength !== 32) return sha256(Uint8Array.of(0, ...h))
  scratch[0] = 0
  scratch.set(h, 1)
  return sha256(scratch.subarray(0, 33))
}

function nodeHash (l: Uint8Array, r: Uint8Array): Uint8Array {
  if (l.byteLength !== 32 || r.byteLength !== 32) return sha256(Uint8Array.of(1, ...l, ...r))
  scratch[0] = 1
  scratch.set(l, 1)
  scratch.set(r, 33)
  return sha256(scratch)
}

/**
 * Nodes of signed batch trees already proven to hash up to a verified signed root, by
 * subtree position: the entries of one batch arrive together, and each entry's audit path
 * mostly repeats its neighbour's. An entry whose path meets a proven node at an equal
 * hash is in the batch (collision resistance), once the rest of its path is byte-equal to
 * the proven siblings — so what gets stored is a valid proof, not just a valid entry.
 * Keyed like `verifiedBatches`. A tree holds at most 2 × MAX_BATCH - 1 nodes; a few trees
 * cover the batches being synced at once, so the cache stays a few megabytes at most.
 */
interface VerifiedTree { nodes: Map<number, Uint8Array> }
const verifiedTrees = new Map<string, VerifiedTree>()
const VERIFIED_TREE_CACHE = 16

/** device‖root‖count‖sig, with separators that occur in neither base64 nor a number. */
function batchKey (device: Uint8Array, root: Uint8Array, count: number, sig: Uint8Array): string {
  const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
  return `${b64(device)}|${b64(root)}|${count}|${b64(sig)}`
}

/** The tree found last, compared by bytes: consecutive entries nearly always share one. */
let lastTree: { device: Uint8Array, root: Uint8Array, count: number, sig: Uint8Array, key: string, tree: VerifiedTree } | null = null

function verifiedTree (device: Uint8Array, root: Uint8Array, count: number, sig: Uint8Array): VerifiedTree | undefined {
  const last = lastTree
  if (last !== null && last.count === count && bytesEqual(last.root, root) && bytesEqual(last.sig, sig) && bytesEqual(last.device, device) && verifiedTrees.get(last.key) === last.tree) return last.tree
  const key = batchKey(device, root, count, sig)
  const tree = verifiedTrees.get(key)
  if (tree !== undefined) lastTree = { device: device.slice(), root: root.slice(), count, sig: sig.slice(), key, tree }
  return tree
}

/** The proven-node map of a batch whose signature has just verified. */
function treeFor (device: Uint8Array, root: Uint8Array, count: number, sig: Uint8Array): VerifiedTree {
  const key = batchKey(device, root, count, sig)
  let tree = verifiedTrees.get(key)
  if (tree === undefined) {
    if (verifiedTrees.size >= VERIFIED_TREE_CACHE) verifiedTrees.delete(verifiedTrees.keys().next().value as string)
    tree = { nodes: new Map([[nodeKey(0, count), root.slice()]]) }
    verifiedTrees.set(key, tree)
  }
  return tree
}

/** Subtree [lo, hi) of a batch of at most MAX_BATCH leaves. */
function nodeKey (lo: number, hi: number): number {
  return lo * (MAX_BATCH + 1) + hi
}

/**
 * The path from the root down to leaf `index`: for each level, top first, the node's and
 * its sibling's subtree keys. Null when the proof has the wrong length for the position.
 */
function pathKeys (index: number, count: number, proofLength: number): Array<{ node: number, sibling: number }> | null {
  const path: Array<{ node: number, sibling: number }> = []
  let lo = 0
  let hi = count
  while (hi - lo > 1) {
    const mid = lo + split(hi - lo)
    if (index < mid) { path.push({ node: nodeKey(lo, mid), sibling: nodeKey(mid, hi) }); hi = mid } else { path.push({ node: nodeKey(mid, hi), sibling: nodeKey(lo, mid) }); lo = mid }
  }
  return path.length === proofLength ? path : null
}

/** Records the nodes of a path that has just been proven against the tree's root. */
function rememberPath (tree: VerifiedTree, leaf: Uint8Array, index: number, count: number, proof: Uint8Array[]): void {
  const path = pathKeys(index, count, proof.length)
  if (path === null) return
  let h = leafHash(leaf)
  for (let level = path.length - 1, p = 0; level >= 0; level--, p++) {
    const { node, sibling } = path[level] as { node: number, sibling: number }
    const s = proof[p] as Uint8Array
    tree.nodes.set(node, h)
    // A copy: proofs may be views into a received frame, which the cache must not keep.
    tree.nodes.set(sibling, s.slice())
    h = isLeftChild(node, sibling) ? nodeHash(h, s) : nodeHash(s, h)
  }
}

function isLeftChild (node: number, sibling: number): boolean {
  return node < sibling
}

/** Whether `leaf` at `index` with `proof` is in a tree whose root and some nodes are proven. */
function inVerifiedTree (tree: VerifiedTree, leaf: Uint8Array, index: number, count: number, proof: Uint8Array[]): boolean {
  const path = pathKeys(index, count, proof.length)
  if (path === null) return false
  let h = leafHash(leaf)
  const fresh: Array<[number, Uint8Array]> = []
  for (let level = path.length - 1, p = 0; level >= -1; level--, p++) {
    // Level -1 is the root itself, always proven.
    const node = level >= 0 ? (path[level] as { node: number }).node : nodeKey(0, count)
    const known = tree.nodes.get(node)
    if (known !== undefined) {
      if (!bytesEqual(known, h)) return false
      // Proven from here up: the rest of the proof must be the proven siblings.
      for (let l = level, q = p; l >= 0; l--, q++) {
        const sib = tree.nodes.get((path[l] as { sibling: number }).sibling)
        if (sib === undefined || !bytesEqual(sib, proof[q] as Uint8Array)) return false
      }
      for (const [k, v] of fresh) tree.nodes.set(k, v)
      return true
    }
    if (level < 0) return false
    const { sibling } = path[level] as { sibling: number }
    const s = proof[p] as Uint8Array
    fresh.push([node, h], [sibling, s.slice()])
    h = isLeftChild(node, sibling) ? nodeHash(h, s) : nodeHash(s, h)
  }
  return false
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

/**
 * An entry read straight from the canonical bytes sync carries, keeping the bytes of its
 * header and auth as they came. They are exactly `encodeHeader(header)` and the auth's
 * canonical encoding — the reader accepts only that layout, head by head in shortest
 * form — so hashing and storing need not encode them again. Only `readEntry` makes one.
 */
export class ReceivedEntry implements Entry {
  readonly header: EntryHeader
  readonly auth: EntryAuth
  readonly body?: Uint8Array
  readonly encodedHeader: Uint8Array
  readonly encodedAuth: Uint8Array

  private constructor (header: EntryHeader, auth: EntryAuth, body: Uint8Array | undefined, encodedHeader: Uint8Array, encodedAuth: Uint8Array) {
    this.header = header
    this.auth = auth
    if (body !== undefined) this.body = body
    this.encodedHeader = encodedHeader
    this.encodedAuth = encodedAuth
  }

  /** For `readEntry` only. Header and auth are frozen: they must stay what the bytes say. */
  static of (header: EntryHeader, auth: EntryAuth, body: Uint8Array | undefined, encodedHeader: Uint8Array, encodedAuth: Uint8Array): ReceivedEntry {
    Object.freeze(header)
    if ('batch' in auth) {
      Object.freeze(auth.batch.proof)
      Object.freeze(auth.batch)
    }
    Object.freeze(auth)
    return Object.freeze(new ReceivedEntry(header, auth, body, encodedHeader, encodedAuth))
  }
}

const K = {
  a: keyBytes('a'),
  b: keyBytes('b'),
  h: keyBytes('h'),
  sig: keyBytes('sig'),
  batch: keyBytes('batch'),
  root: keyBytes('root'),
  count: keyBytes('count'),
  index: keyBytes('index'),
  proof: keyBytes('proof'),
  v1: Uint8Array.of(...keyBytes('v'), 0x01),
  ts: keyBytes('ts'),
  net: keyBytes('net'),
  seq: keyBytes('seq'),
  prev: keyBytes('prev'),
  type: keyBytes('type'),
  author: keyBytes('author'),
  device: keyBytes('device'),
  bodyHash: keyBytes('bodyHash'),
  bodySize: keyBytes('bodySize')
}

/**
 * Reads one entry in exactly the layout `encodeEntry` writes ({a, b, h} or {a, h}), with
 * byte strings as views into the input. Null, with the reader anywhere, if the bytes are
 * laid out any other way: the caller then decodes them the general way, which accepts
 * or refuses them on its own terms. Field values are not checked here (that is
 * `verifyEntry`'s job), only the encoding.
 */
export function readEntry (r: CanonicalReader): ReceivedEntry | null {
  const fields = r.head(5)
  if ((fields !== 2 && fields !== 3) || !r.expect(K.a)) return null
  const authStart = r.pos
  let auth: EntryAuth
  if (r.head(5) !== 1) return null
  if (r.expect(K.sig)) {
    const sig = r.bytesView()
    if (sig === null) return null
    auth = { sig }
  } else {
    if (!r.expect(K.batch) || r.head(5) !== 5 || !r.expect(K.sig)) return null
    const sig = r.bytesView()
    if (sig === null || !r.expect(K.root)) return null
    const root = r.bytesView()
    if (root === null || !r.expect(K.count)) return null
    const count = r.uint()
    if (count < 0 || !r.expect(K.index)) return null
    const index = r.uint()
    if (index < 0 || !r.expect(K.proof)) return null
    const n = r.head(4)
    if (n < 0 || n > 64) return null
    const proof: Uint8Array[] = []
    for (let i = 0; i < n; i++) {
      const p = r.bytesView()
      if (p === null || p.byteLength !== 32) return null
      proof.push(p)
    }
    auth = { batch: { root, index, count, proof, sig } }
  }
  const encodedAuth = r.bytes.subarray(authStart, r.pos)
  let body: Uint8Array | undefined
  if (fields === 3) {
    if (!r.expect(K.b)) return null
    const b = r.bytesView()
    if (b === null) return null
    body = b
  }
  if (!r.expect(K.h)) return null
  const headerStart = r.pos
  if (r.head(5) !== 10 || !r.expect(K.v1) || !r.expect(K.ts)) return null
  const ts = r.uint()
  if (ts < 0 || !r.expect(K.net)) return null
  const net = r.bytesView()
  if (net === null || !r.expect(K.seq)) return null
  const seq = r.uint()
  if (seq < 0 || !r.expect(K.prev)) return null
  let prev: Uint8Array | null = null
  if (!r.null()) {
    prev = r.bytesView()
    if (prev === null) return null
  }
  if (!r.expect(K.type)) return null
  const type = r.ascii()
  if (type === null || !r.expect(K.author)) return null
  const author = r.bytesView()
  if (author === null || !r.expect(K.device)) return null
  const device = r.bytesView()
  if (device === null || !r.expect(K.bodyHash)) return null
  const bodyHash = r.bytesView()
  if (bodyHash === null || !r.expect(K.bodySize)) return null
  const bodySize = r.uint()
  if (bodySize < 0) return null
  const header: EntryHeader = { v: 1, net, author, device, seq, prev, ts, type, bodyHash, bodySize }
  return ReceivedEntry.of(header, auth, body, r.bytes.subarray(headerStart, r.pos), encodedAuth)
}

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
