// The mesh location service: how a sender learns the address (Router.address(), its
// nearest landmark of each level) of a node beyond its routing scope (landmarks.ts), so
// that landmark scopes can bound every node's routing state without making far nodes
// unreachable. Sans-IO (DESIGN.md): pure state, every input with `now`, signing and
// verification injected.
//
// Rendezvous at landmarks, in the data plane (after the home-agent idea of Landmark
// Routing, Tsuchiya 1988, and the consistent-hashing location servers of GLS, Li et al.
// 2000):
//   - Homes. The top-level landmarks reach the whole mesh (their scope is unlimited), so
//     every node knows the same set (Router.wideLandmarks()). A node's homes are the
//     `homes` of them that score highest for it by rendezvous hashing (HRW, Thaler and
//     Ravishankar 1998): a landmark that comes or goes moves only the nodes whose home it
//     is or becomes, not everyone's, and any node computes anyone's homes from its id.
//   - Registration. A node sends each home its address in a LOCATION envelope (a record
//     it signs, payload.ts): when its address or its homes change (at most every
//     minGapMs per home, which admits slow links) and before the home's copy expires
//     (refreshMs < lifetimeMs). A home keeps at most maxRecords, evicting the one that
//     expires first, so a landmark's table is bounded; with top-level landmarks one node
//     in 2^levelBits (DEFAULT_SCOPES: 1 in 1024) and two homes each, a home holds about
//     2 × 1024 records on average whatever the mesh's size.
//   - Forgery. The record is signed by the key in the envelope's src, whose NodeId is the
//     record's subject: nobody can register an address for another node. Its seq grows
//     (a node's clock in seconds, or one more than its last), so a replayed old record
//     does not displace a newer one, and one older than its lifetime (plus as much again
//     for clock skew) is refused outright.
//   - Resolution. A sender with no route to a destination sends its envelope with `via`
//     = the destination's homes (locate()); relays take it toward the first they reach
//     (Router.route). At a home, `via` names this node: routeWithLocation() rewrites it
//     to the registered address and routes on, toward the destination's own landmarks
//     and then the destination. `via` is not covered by the seal (envelope.ts), so any
//     relay may change it; a lying relay could only misroute, which it can anyway. A
//     home that holds no record for the destination yet holds the envelope in custody
//     (the forwarder's), retried when a registration comes in; lookups that miss are
//     counted.
// The packet's path is the sender's stretch to a home and the home's to the destination
// (a detour on first packets); a rewrite replaces `via` only at a home, once, and each
// stretch follows one destination's routes (Router.route), so it stays loop-free.
//
// Binding updates: the sender-side cache that removes that detour from the later packets
// of a flow (the route optimisation of Mobile IPv6, RFC 6275 §5.2 and §11.7.2; a LISP
// map-cache, RFC 9300 §4). A node that receives data from a node that likely reached it
// through its homes (comesFar(): it has no route to the sender, or the envelope crossed
// more links than its own scope) sends that node its own signed address record in a
// LOCATION | BINDING envelope (bind()): at most once per bindingGapMs per peer, and
// again when its address changes while the peer may still hold the old one (update()).
// The peers told are kept in a bounded table (maxTold, the oldest forgotten first).
// The receiver checks the record as a registration (signature by its subject, seq, age)
// and keeps it in a bounded cache (maxCached) for cacheMs, much shorter than a
// registration: locate() prefers a fresh cached address to the homes, and a wrong one
// (the destination moved and its new binding update was lost) sends packets toward its
// old landmarks for at most cacheMs before the homes are asked again. With bindingGapMs
// below cacheMs, a flow that goes on is told again before its entry expires.
// Registration or binding update: the same signed record; the sender says which by the
// envelope's BINDING flag (envelope.ts). Not by whether the receiver is one of the
// subject's homes by HRW over the landmarks it knows: that is what a registration means,
// but the sender's and the home's sets of landmarks differ while they converge (in the
// simulator about one registration in ten during warm-up), and a registration filed as
// a binding update would lapse after cacheMs, long before its refresh.

import type { NextHop } from './forwarder.ts'
import { nodeIdHash } from './landmarks.ts'
import { nodeIdOf } from './node-id.ts'
import type { NodeId } from './node-id.ts'
import { decodeLocationRecord, encodeLocationRecord, locationSigningBytes } from './payload.ts'
import type { LocationRecord } from './payload.ts'
import { MeshError } from './errors.ts'

export interface LocationConfig {
  self: NodeId
  /** Homes each node registers with. */
  homes: number
  /** How long a home keeps a registration, ms (the record's lifetime, in whole seconds on the wire). */
  lifetimeMs: number
  /** A node registers again with a home this long after its last registration there. */
  refreshMs: number
  /** A node registers with one home at most this often (a changed address waits for it). */
  minGapMs: number
  /** Most registrations a home keeps. */
  maxRecords: number
  /** Most binding updates cached (records of nodes this node is no home of). */
  maxCached: number
  /** How long a cached binding update is used, ms (shorter than lifetimeMs: a node that moved is not chased for long). */
  cacheMs: number
  /** A node sends the same peer a binding update at most this often, ms (below cacheMs, so a flow that goes on keeps its entry fresh). */
  bindingGapMs: number
  /** Most peers a node remembers having sent a binding update (to re-tell them a changed address). */
  maxTold: number
  /** Signs the bytes of a record with this node's key (Ed25519, 64 bytes). */
  sign: (bytes: Uint8Array) => Uint8Array
  /** Checks a record's signature against the key in its envelope's src. */
  verify: (publicKey: Uint8Array, bytes: Uint8Array, signature: Uint8Array) => boolean
}

export const DEFAULT_LOCATION_CONFIG: Omit<LocationConfig, 'self' | 'sign' | 'verify'> = {
  homes: 2,
  lifetimeMs: 30 * 60_000,
  refreshMs: 10 * 60_000,
  minGapMs: 5_000,
  maxRecords: 8192,
  maxCached: 1024,
  cacheMs: 2 * 60_000,
  bindingGapMs: 60_000,
  maxTold: 1024
}

export type LocationOutput =
  /** Send `record` to `home` in a LOCATION envelope (envelope.ts) from this node. */
  | { kind: 'register', home: NodeId, record: Uint8Array }
  /** Send `record` to `peer` in a LOCATION | BINDING envelope: a binding update (our address, so that it skips our homes). */
  | { kind: 'bind', peer: NodeId, record: Uint8Array }

export type LocationVerdict =
  /** cached: kept as a binding update (BINDING), not as a registration. */
  | { accepted: true, subject: NodeId, cached: boolean }
  | { accepted: false, reason: 'malformed' | 'forged' | 'stale' | 'expired' }

export interface LocationCounters {
  registrationsSent: number
  accepted: number
  refused: number
  /** Envelopes whose via named this node, for a destination it held no record of. */
  misses: number
  rewrites: number
  evicted: number
  /** Binding updates sent (bind() and re-tells of a changed address). */
  bindingsSent: number
  /** Records accepted into the cache (of those counted in accepted). */
  cached: number
  /** locate() answers from a cached address rather than the homes (envelopes of ours, and diagnostic lookups such as reachability). */
  cacheHits: number
}

interface Registration { seq: number, address: NodeId[], expiresAt: number }
interface HomeState { at: number, key: string }
/** A peer told our address: when, and which address. */
interface Told { at: number, key: string }

/**
 * The homes of `id` among `landmarks`: the `count` with the highest rendezvous score
 * (highest random weight), best first. Depends only on the id and the set, not on its order.
 */
export function homesOf (id: NodeId, landmarks: readonly NodeId[], count: number): NodeId[] {
  const scored = landmarks.map((l) => ({ l, s: rendezvousScore(id, l) }))
  scored.sort((a, b) => b.s - a.s || (a.l < b.l ? -1 : a.l > b.l ? 1 : 0))
  const out: NodeId[] = []
  for (const { l } of scored) {
    if (out.length >= count) break
    if (!out.includes(l)) out.push(l)
  }
  return out
}

/** HRW's weight of landmark `l` for node `id`: the landmarks.ts hash of their XOR. */
function rendezvousScore (id: NodeId, l: NodeId): number {
  const hi = (Number.parseInt(id.slice(0, 8), 16) ^ Number.parseInt(l.slice(0, 8), 16)) >>> 0
  const lo = (Number.parseInt(id.slice(8, 16), 16) ^ Number.parseInt(l.slice(8, 16), 16)) >>> 0
  return nodeIdHash(hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0'))
}

const sameIds = (a: readonly NodeId[], b: readonly NodeId[]): boolean => a.length === b.length && a.every((x, i) => x === b[i])

export class LocationService {
  readonly self: NodeId
  readonly #config: LocationConfig
  /** As a home: registrations by subject. */
  readonly #records = new Map<NodeId, Registration>()
  /** As a node: per current home, when we last registered there and the address we sent. */
  #homes = new Map<NodeId, HomeState>()
  /** As a sender: binding updates received, by subject (Map order: oldest first). */
  readonly #cache = new Map<NodeId, Registration>()
  /** Peers sent a binding update, by peer (Map order: least recently told first). */
  readonly #told = new Map<NodeId, Told>()
  /** Our last signed record and the address it holds, reused by binding updates while the address stands. */
  #signed: { key: string, bytes: Uint8Array, expiresAt: number } | null = null
  #seq = 0
  #address: NodeId[] = []
  #deadline = Infinity
  readonly counters: LocationCounters = { registrationsSent: 0, accepted: 0, refused: 0, misses: 0, rewrites: 0, evicted: 0, bindingsSent: 0, cached: 0, cacheHits: 0 }

  constructor (config: LocationConfig) {
    if (config.refreshMs >= config.lifetimeMs) throw new MeshError('location refresh must come before the lifetime ends', { hint: 'set refreshMs below lifetimeMs' })
    this.self = config.self
    this.#config = config
  }

  // ---- as a node: registering ----------------------------------------------------------

  /**
   * This node's address and the landmarks known mesh-wide now (call after routes change,
   * and at nextDeadline): registrations due go out. With this node among its own homes
   * it keeps its record itself.
   */
  update (address: readonly NodeId[], landmarks: readonly NodeId[], now: number): LocationOutput[] {
    this.#sweep(now)
    this.#address = [...address]
    const homes = homesOf(this.self, landmarks, this.#config.homes)
    const key = address.join(',')
    const next = new Map<NodeId, HomeState>()
    const due: NodeId[] = []
    let deadline = Infinity
    for (const h of homes) {
      const st = this.#homes.get(h) ?? { at: -Infinity, key: '' }
      next.set(h, st)
      const changed = st.key !== key
      const at = changed ? st.at + this.#config.minGapMs : st.at + this.#config.refreshMs
      if (at <= now) due.push(h)
      else deadline = Math.min(deadline, at)
    }
    this.#homes = next
    const out: LocationOutput[] = []
    if (due.length > 0) {
      const record: LocationRecord = { seq: this.#nextSeq(now), lifetimeS: Math.floor(this.#config.lifetimeMs / 1000), address: [...address] }
      const bytes = encodeLocationRecord(record, this.#config.sign(locationSigningBytes(this.self, record)))
      this.#signed = { key, bytes, expiresAt: now + record.lifetimeS * 1000 }
      for (const h of due) {
        next.set(h, { at: now, key })
        deadline = Math.min(deadline, now + this.#config.refreshMs)
        if (h === this.self) this.#keep(this.self, record, now)
        else { out.push({ kind: 'register', home: h, record: bytes }); this.counters.registrationsSent++ }
      }
    }
    deadline = Math.min(deadline, this.#retell(key, now, out))
    this.#deadline = Math.min(deadline, this.#nextExpiry())
    return out
  }

  /**
   * Peers told an address that is no longer ours, recently enough that they may still
   * use it (within cacheMs), are told the new one, each at most every minGapMs; returns
   * when the next such one is due.
   */
  #retell (key: string, now: number, out: LocationOutput[]): number {
    let due = Infinity
    if (key === '') return due
    for (const [peer, t] of [...this.#told]) {
      if (t.key === key || t.at + this.#config.cacheMs <= now) continue
      if (t.at + this.#config.minGapMs > now) { due = Math.min(due, t.at + this.#config.minGapMs); continue }
      out.push(this.#bind(peer, key, now))
    }
    return due
  }

  // ---- binding updates ---------------------------------------------------------------------

  /**
   * Data from `peer` arrived and likely came through our homes (comesFar(); call only
   * then): our address for it, unless we told it within bindingGapMs (the same address)
   * or have no address yet.
   */
  bind (peer: NodeId, now: number): LocationOutput | undefined {
    const key = this.#address.join(',')
    if (key === '' || peer === this.self) return undefined
    const t = this.#told.get(peer)
    if (t !== undefined && t.key === key && t.at + this.#config.bindingGapMs > now) return undefined
    return this.#bind(peer, key, now)
  }

  #bind (peer: NodeId, key: string, now: number): LocationOutput {
    // The record registered with the homes serves while the address stands and it has
    // more than a cache lifetime left; else a fresh one (seq still grows: #nextSeq).
    if (this.#signed === null || this.#signed.key !== key || this.#signed.expiresAt - this.#config.cacheMs <= now) {
      const record: LocationRecord = { seq: this.#nextSeq(now), lifetimeS: Math.floor(this.#config.lifetimeMs / 1000), address: [...this.#address] }
      this.#signed = { key, bytes: encodeLocationRecord(record, this.#config.sign(locationSigningBytes(this.self, record))), expiresAt: now + record.lifetimeS * 1000 }
    }
    this.#told.delete(peer) // re-inserted last: the least recently told goes first
    this.#told.set(peer, { at: now, key })
    if (this.#told.size > this.#config.maxTold) this.#told.delete(this.#told.keys().next().value as NodeId)
    this.counters.bindingsSent++
    return { kind: 'bind', peer, record: this.#signed.bytes }
  }

  /** When update() next has a registration to send or a record to expire; Infinity if none. */
  nextDeadline (): number {
    return this.#deadline
  }

  /** The homes this node registers with now. */
  homes (): NodeId[] {
    return [...this.#homes.keys()]
  }

  #nextSeq (now: number): number {
    this.#seq = Math.min(0xffffffff, Math.max(this.#seq + 1, Math.floor(now / 1000)))
    return this.#seq
  }

  // ---- as a home: keeping registrations --------------------------------------------------

  /**
   * A LOCATION envelope for this node arrived from `srcKey` (its src) with `bytes`: a
   * registration with this node as a home, or with `binding` (the envelope's BINDING
   * flag) a binding update for the cache. The same checks either way.
   */
  receive (srcKey: Uint8Array, bytes: Uint8Array, now: number, binding = false): LocationVerdict {
    let decoded
    try {
      decoded = decodeLocationRecord(bytes)
    } catch {
      return this.#refuse('malformed')
    }
    const { record, signature } = decoded
    const subject = nodeIdOf(srcKey)
    if (!this.#config.verify(srcKey, locationSigningBytes(subject, record), signature)) return this.#refuse('forged')
    // Older than its lifetime, with as much again for the two clocks' skew: a replay.
    if ((record.seq + 2 * record.lifetimeS) * 1000 <= now) return this.#refuse('expired')
    if (binding) return this.#cacheRecord(subject, record, now)
    const had = this.#records.get(subject)
    if (had !== undefined && had.seq >= record.seq) return this.#refuse('stale')
    this.#keep(subject, record, now)
    this.counters.accepted++
    this.#deadline = Math.min(this.#deadline, this.#nextExpiry())
    return { accepted: true, subject, cached: false }
  }

  /**
   * A checked binding update into the cache. A record older than the one cached is a
   * replay (stale); the same one again only renews the entry (the sender re-tells a flow
   * that goes on with the record it already sent). Full: the oldest entry goes (nearly
   * the one that expires first: every entry lives cacheMs, unless its record ends sooner).
   */
  #cacheRecord (subject: NodeId, record: LocationRecord, now: number): LocationVerdict {
    const had = this.#cache.get(subject)
    const live = had !== undefined && had.expiresAt > now
    if (live && had.seq > record.seq) return this.#refuse('stale')
    this.#cache.delete(subject) // re-inserted last: Map order is oldest first
    if (!live && this.#cache.size >= this.#config.maxCached) {
      this.#cache.delete(this.#cache.keys().next().value as NodeId)
      this.counters.evicted++
    }
    const ends = (record.seq + record.lifetimeS) * 1000
    // The record's own lifetime bounds the entry as well, when the sender's clock says it ends sooner.
    this.#cache.set(subject, { seq: record.seq, address: record.address, expiresAt: now + Math.max(0, Math.min(this.#config.cacheMs, ends - now)) })
    this.counters.accepted++
    this.counters.cached++
    return { accepted: true, subject, cached: true }
  }

  /** The address registered here for `dst`, else a fresh binding update's, if any. */
  lookup (dst: NodeId, now: number): readonly NodeId[] | undefined {
    const r = this.#records.get(dst)
    if (r !== undefined && r.expiresAt > now) return r.address
    return this.cachedAddress(dst, now)
  }

  /** The address of a fresh cached binding update for `dst`, if any (an expired one is dropped). */
  cachedAddress (dst: NodeId, now: number): readonly NodeId[] | undefined {
    const c = this.#cache.get(dst)
    if (c === undefined) return undefined
    if (c.expiresAt > now) return c.address
    this.#cache.delete(dst)
    return undefined
  }

  #keep (subject: NodeId, record: LocationRecord, now: number): void {
    if (!this.#records.has(subject) && this.#records.size >= this.#config.maxRecords) {
      // Full: the registration that would expire first goes (its node refreshes it soon).
      let victim: NodeId | undefined
      let soonest = Infinity
      for (const [id, r] of this.#records) if (r.expiresAt < soonest) { soonest = r.expiresAt; victim = id }
      if (victim !== undefined) { this.#records.delete(victim); this.counters.evicted++ }
    }
    this.#records.set(subject, { seq: record.seq, address: record.address, expiresAt: now + Math.min(this.#config.lifetimeMs, record.lifetimeS * 1000) })
  }

  #refuse (reason: 'malformed' | 'forged' | 'stale' | 'expired'): LocationVerdict {
    this.counters.refused++
    return { accepted: false, reason }
  }

  #sweep (now: number): void {
    for (const [id, r] of this.#records) if (r.expiresAt <= now) this.#records.delete(id)
    for (const [id, r] of this.#cache) if (r.expiresAt <= now) this.#cache.delete(id)
  }

  #nextExpiry (): number {
    let at = Infinity
    for (const r of this.#records.values()) at = Math.min(at, r.expiresAt)
    return at
  }

  // ---- as a sender -------------------------------------------------------------------------

  /**
   * The landmarks to send an envelope for `dst` with, when this node has no route to it:
   * its address if registered here or cached from a fresh binding update, else its homes
   * among `landmarks` (empty if none is known yet: the envelope waits in custody).
   */
  locate (dst: NodeId, landmarks: readonly NodeId[], now: number): NodeId[] {
    const r = this.#records.get(dst)
    if (r !== undefined && r.expiresAt > now) return [...r.address]
    const cached = this.cachedAddress(dst, now)
    if (cached !== undefined) { this.counters.cacheHits++; return [...cached] }
    return homesOf(dst, landmarks, this.#config.homes)
  }

  /** Registrations held (as a home), homes tracked (as a node), binding updates cached and peers told. */
  stateSize (): number {
    return this.#records.size + this.#homes.size + this.#cache.size + this.#told.size
  }

  /** Binding updates cached (fresh or not yet swept). */
  cachedRecords (): number {
    return this.#cache.size
  }

  /** Registrations held as a home. */
  records (): number {
    return this.#records.size
  }

  /** The address this node last registered (for diagnosis). */
  address (): NodeId[] {
    return [...this.#address]
  }
}

/**
 * Whether data from a node likely came through our homes, so that a binding update to
 * it saves the rest of its flow the detour: we have no route to it (it is beyond our
 * scope, so we are beyond its routes too, as a rule), or the envelope crossed more
 * links (`hops`) than our own routes travel (`ownScope`, Router.landmark().scope): a
 * sender within our scope has a route to us and takes about as many. The second covers
 * the asymmetric case, a sender with a wide scope (a landmark) that we route to while it
 * has no route to us. A wrong guess costs one rate-limited record.
 */
export function comesFar (hasRoute: boolean, hops: number, ownScope: number): boolean {
  return !hasRoute || hops > ownScope
}

type RouteFn = (dst: NodeId, via: readonly NodeId[]) => NextHop | undefined

/**
 * A route lookup that resolves at homes: an envelope whose `via` names this node, for a
 * destination registered here, goes on with `via` rewritten to the registered address
 * (and by a route to the destination itself, if this node has one). Otherwise `route`
 * decides alone; an envelope that reached the home of a destination it holds no record of
 * is held (undefined) and counted.
 */
export function routeWithLocation (route: RouteFn, location: LocationService, now: () => number): RouteFn {
  return (dst, via) => {
    if (!via.includes(location.self)) return route(dst, via)
    const address = location.lookup(dst, now())
    if (address === undefined) {
      const hop = route(dst, via)
      if (hop === undefined) location.counters.misses++
      return hop
    }
    if (sameIds(address, via)) return route(dst, via)
    const hop = route(dst, address)
    if (hop !== undefined) location.counters.rewrites++
    return hop
  }
}
