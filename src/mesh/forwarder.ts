// The mesh data plane's forwarding core (issue 4 "Data"; mesh-spec.md "Data plane"):
// what a node does with each envelope it originates or receives. Sans-IO (DESIGN.md):
// no keys, no sockets, no clock. The shell passes `now`, carries out the outputs (frames
// to send, envelopes to open and hand up), and calls back with `acknowledge` when it opened
// an end-to-end ack. Routes come from a RouteLookup (the Babel router in a node, a fake in
// tests, the simulator's router in the simulator).
//
// Per envelope:
//   - dst is this node: deliver it the first time its (src, id) is seen; later copies are
//     reported as 'duplicate' (the shell acks again when ACK_REQUESTED: the first ack may
//     have been lost) and never delivered twice.
//   - otherwise take one hop off its ttl (drop at zero), and send it to the route's next
//     hop with the landmarks the route lookup leaves it (a relay narrows `via` to the
//     route it took, so the relays after it cannot pick one leading back), never straight back on the link it came from (split horizon: that route is
//     usually a moment stale upstream) unless the lookup rewrote `via` at a home (a new
//     leg, location.ts); with no such route, keep it in custody until a
//     route appears or changes (`retry`), or bounceHoldMs passes for one held by split
//     horizon alone, or its custody time is up.
//   - SPRAY envelopes in custody do binary spray-and-wait (Spyropoulos et al., "Spray and
//     Wait", 2005): a holder of c > 1 copies hands ⌊c/2⌋ to each neighbour link it meets
//     (never the one the envelope came from) and waits with the rest; with one copy left
//     it waits for a route to dst. Copies only split, merge or are consumed, so the copies
//     in the whole mesh never exceed the budget the sender gave.
//   - reliable sends are kept until acknowledged: retransmitted after ackTimeoutMs,
//     doubling each time, and reported 'failed' after maxRetries retransmissions. While
//     one waits in this node's own custody (never sent) no retransmission is used; it
//     fails if its custody time runs out first.

import { DuplicateFilter } from './duplicate-filter.ts'
import { CustodyStore } from './custody.ts'
import type { CustodyDrop } from './custody.ts'
import { ACK_REQUESTED, envelopeKey, envelopeSize, LOCATION, MAX_COPIES, SPRAY } from './envelope.ts'
import type { MeshEnvelope } from './envelope.ts'
import { MeshError } from './errors.ts'
import type { LinkId } from './link.ts'
import { nodeIdOf } from './node-id.ts'
import type { NodeId } from './node-id.ts'

export interface ForwarderConfig {
  self: NodeId
  /** Most bytes (encoded envelopes) held in custody. */
  custodyBytes: number
  /** How long an envelope stays in custody at one node, ms. */
  custodyTtlMs: number
  /** Copies a SPRAY envelope starts with when the sender did not set more than one. */
  sprayCopies: number
  /** First retransmission timeout of a reliable send, ms; doubles per retransmission. */
  ackTimeoutMs: number
  /** Retransmissions before a reliable send is reported failed. */
  maxRetries: number
  /** How long a delivered (src, id) is remembered to suppress duplicates, ms. */
  duplicateWindow: number
  /** Most (src, id) remembered at once (default 4096). */
  duplicateEntries?: number
  /** Longest retransmission timeout the backoff reaches, ms (default 32 × ackTimeoutMs). */
  maxAckTimeoutMs?: number
  /**
   * How long an envelope whose only route leads back where it came from waits in custody
   * before it may go back that way, ms (default 2000). Going straight back is refused
   * (split horizon) because it usually means the upstream's routes are a moment stale;
   * if the route still points back after this hold, it is a real route and ttl bounds
   * any loop.
   */
  bounceHoldMs?: number
}

export const DEFAULT_FORWARDER_CONFIG: Omit<ForwarderConfig, 'self'> = {
  custodyBytes: 1 << 20,
  custodyTtlMs: 10 * 60_000,
  sprayCopies: 8,
  ackTimeoutMs: 5_000,
  maxRetries: 4,
  // Outlasts the retransmissions (5 + 10 + 20 + 40 + 80 s) with room to spare.
  duplicateWindow: 10 * 60_000,
  duplicateEntries: 4096,
  bounceHoldMs: 2_000
}

/** Where an envelope goes next: the link, and the landmarks it carries on (Router.route). */
export interface NextHop {
  link: LinkId
  via: readonly NodeId[]
}

/** The routing table, as the forwarder sees it. */
export interface RouteLookup {
  /**
   * The next hop of an envelope for `dst` that carries the landmarks `via`, or undefined
   * to hold it. The envelope goes on with the returned `via`: the router narrows it to the
   * route it chose, so the hops after it cannot choose one that leads back (Router.route).
   */
  route: (dst: NodeId, via: readonly NodeId[]) => NextHop | undefined
  /** Links open now (spray-and-wait hands copies to these). */
  links: () => LinkId[]
  /**
   * The landmarks for an envelope originated here that carries none, when there is no
   * route to its dst: the destination's homes (location.ts). Asked each time such an
   * envelope is routed (its retransmissions too), so a later try uses what is known then.
   */
  locate?: (dst: NodeId) => readonly NodeId[]
}

export type ForwarderOutput =
  | { kind: 'send', link: LinkId, envelope: MeshEnvelope }
  /** dst is this node and this (src, id) is new: open it and hand it up. */
  | { kind: 'deliver', envelope: MeshEnvelope }
  /** dst is this node but this (src, id) was delivered already: do not hand it up; ack again if ACK_REQUESTED. */
  | { kind: 'duplicate', envelope: MeshEnvelope }
  | { kind: 'acked', id: string }
  | { kind: 'failed', id: string, dst: NodeId, reason: string }
  | { kind: 'drop', envelope: MeshEnvelope, reason: string }

export interface CustodyView {
  id: string
  /** NodeId of the sender. */
  src: NodeId
  dst: NodeId
  bytes: number
  copies: number
  ttl: number
  since: number
  expiresAt: number
  /** Originated here (not relayed). */
  local: boolean
}

interface Held {
  envelope: MeshEnvelope
  local: boolean
  /** Links it arrived on (split horizon; never sprayed back). */
  arrivedOn: Set<LinkId>
  /** Links it was sprayed to already. */
  sprayedTo: Set<LinkId>
}

interface Pending {
  envelope: MeshEnvelope
  retransmissions: number
  nextAt: number
  /** The link it last went out on (undefined while it waits in custody). */
  hop?: LinkId | undefined
}

export class Forwarder {
  readonly #config: Required<ForwarderConfig>
  readonly #routes: RouteLookup
  // Made on first use: the simulator holds a Forwarder per virtual node, and most never
  // hold anything (an idle Forwarder measured 310 bytes this way, 1.6 KB otherwise).
  #deliveredStore: DuplicateFilter | undefined
  #custodyStore: CustodyStore<Held> | undefined
  #pendingMap: Map<string, Pending> | undefined
  /** Custody keys held only by split horizon, and when they may go back. */
  #bounceMap: Map<string, number> | undefined

  constructor (config: ForwarderConfig, routes: RouteLookup, _now: number) {
    this.#config = { ...DEFAULT_FORWARDER_CONFIG, ...config } as Required<ForwarderConfig>
    this.#config.maxAckTimeoutMs = config.maxAckTimeoutMs ?? 32 * this.#config.ackTimeoutMs
    this.#routes = routes
  }

  get #delivered (): DuplicateFilter {
    return (this.#deliveredStore ??= new DuplicateFilter(this.#config.duplicateEntries, this.#config.duplicateWindow))
  }

  get #custody (): CustodyStore<Held> {
    return (this.#custodyStore ??= new CustodyStore<Held>(this.#config.custodyBytes, this.#config.custodyTtlMs))
  }

  get #pending (): Map<string, Pending> {
    return (this.#pendingMap ??= new Map())
  }

  get #bounce (): Map<string, number> {
    return (this.#bounceMap ??= new Map())
  }

  /**
   * Sends an envelope originated here. `reliable` keeps it until `acknowledge(id)`,
   * retransmitting meanwhile; it must then carry ACK_REQUESTED (the flag is sealed, so
   * only the shell can set it).
   */
  send (e: MeshEnvelope, now: number, reliable: boolean): ForwarderOutput[] {
    if (reliable && (e.flags & ACK_REQUESTED) === 0) throw new MeshError('a reliable send needs the ACK_REQUESTED flag', { hint: 'seal the envelope with ACK_REQUESTED' })
    const sent: MeshEnvelope = (e.flags & SPRAY) !== 0 && e.copies <= 1
      ? { ...e, copies: Math.min(MAX_COPIES, Math.max(1, this.#config.sprayCopies)) }
      : { ...e }
    const out: ForwarderOutput[] = []
    if (reliable) this.#pending.set(e.id, { envelope: sent, retransmissions: 0, nextAt: now + this.#config.ackTimeoutMs })
    if (sent.dst === this.#config.self) {
      out.push(this.#deliver(sent, now))
      return out
    }
    this.#route({ envelope: { ...sent }, local: true, arrivedOn: new Set(), sprayedTo: new Set() }, now, out)
    const p = this.#pending.get(e.id)
    if (p !== undefined) p.hop = sentOn(out, e.id)
    return out
  }

  /** An envelope arrived on `link`. */
  receive (link: LinkId, e: MeshEnvelope, now: number): ForwarderOutput[] {
    if (e.dst === this.#config.self) return [this.#deliver(e, now)]
    // The ttl counts hops still allowed: this relay uses one to pass it on.
    if (e.ttl <= 1) return [{ kind: 'drop', envelope: e, reason: 'ttl exhausted' }]
    const out: ForwarderOutput[] = []
    this.#route({ envelope: { ...e, ttl: e.ttl - 1 }, local: false, arrivedOn: new Set([link]), sprayedTo: new Set() }, now, out)
    return out
  }

  /** The shell opened an ack for our envelope `id`. */
  acknowledge (id: string, _now: number): ForwarderOutput[] {
    const p = this.#pendingMap?.get(id)
    if (p === undefined) return []
    this.#pending.delete(id)
    // Spray copies still waiting here are of no use any more.
    this.#forget(envelopeKey(p.envelope))
    return [{ kind: 'acked', id }]
  }

  /**
   * Routes changed or links came up: envelopes in custody that now have a route go on,
   * and SPRAY envelopes still without one hand copies to links they have not met yet.
   */
  retry (now: number, newLinks: LinkId[] = []): ForwarderOutput[] {
    const out: ForwarderOutput[] = []
    this.#expire(now, out)
    const held = this.#custodyStore === undefined || this.#custodyStore.size === 0 ? [] : [...this.#custodyStore.entries()]
    const links = held.length === 0 ? [] : [...new Set([...newLinks, ...this.#routes.links()])]
    for (const { key, value } of held) {
      this.#locate(value)
      const hop = this.#routes.route(value.envelope.dst, value.envelope.via)
      // Split horizon is not applied here: the routes changed since the envelope came,
      // so a route back the way it came is a new decision, not a stale upstream.
      if (hop !== undefined) {
        this.#forget(key)
        out.push({ kind: 'send', link: hop.link, envelope: onward(value.envelope, hop) })
      } else {
        this.#spray(value, links, out)
      }
    }
    // A reliable send whose route moved to another link went out on a link that is dead
    // or worse: send it again now on the new route, instead of waiting out its timer
    // (no retry used; the destination delivers it once whichever copy arrives).
    const pending = this.#pendingMap
    if (pending === undefined || pending.size === 0) return out
    for (const o of out) {
      const p = o.kind === 'send' ? pending.get(o.envelope.id) : undefined
      if (p !== undefined && o.kind === 'send' && envelopeKey(p.envelope) === envelopeKey(o.envelope)) p.hop = o.link
    }
    for (const p of pending.values()) {
      if (p.hop === undefined || p.envelope.dst === this.#config.self) continue
      const hop = this.#routes.route(p.envelope.dst, p.envelope.via)
      if (hop === undefined || hop.link === p.hop) continue
      p.hop = hop.link
      out.push({ kind: 'send', link: hop.link, envelope: onward({ ...p.envelope }, hop) })
    }
    return out
  }

  /** Custody expiry, split-horizon holds that are up, and retransmissions due. */
  tick (now: number): ForwarderOutput[] {
    const out: ForwarderOutput[] = []
    this.#expire(now, out)
    for (const [key, at] of [...this.#bounceMap ?? []]) {
      if (at > now) continue
      this.#bounce.delete(key)
      const held = this.#custody.get(key)
      if (held === undefined) continue
      const hop = this.#routes.route(held.envelope.dst, held.envelope.via)
      if (hop === undefined) continue
      this.#forget(key)
      out.push({ kind: 'send', link: hop.link, envelope: onward(held.envelope, hop) })
    }
    for (const [id, p] of [...this.#pendingMap ?? []]) {
      if (p.nextAt > now) continue
      const key = envelopeKey(p.envelope)
      // Still in our own custody, never sent: nothing to retransmit and no retry used. It
      // goes when a route appears, or fails when its custody time is up.
      if (this.#custodyStore?.get(key)?.local === true) {
        p.nextAt = now + this.#config.ackTimeoutMs
        continue
      }
      if (p.retransmissions >= this.#config.maxRetries) {
        this.#pending.delete(id)
        this.#forget(key)
        out.push({ kind: 'failed', id, dst: p.envelope.dst, reason: `no acknowledgement after ${p.retransmissions} retransmissions` })
        continue
      }
      p.retransmissions++
      p.nextAt = now + Math.min(this.#config.maxAckTimeoutMs, this.#config.ackTimeoutMs * 2 ** p.retransmissions)
      if (p.envelope.dst === this.#config.self) continue
      this.#route({ envelope: { ...p.envelope }, local: true, arrivedOn: new Set(), sprayedTo: new Set() }, now, out)
      p.hop = sentOn(out, id) ?? p.hop
    }
    return out
  }

  /** When `tick` next has something to do; Infinity when nothing is due. */
  nextDeadline (): number {
    let next = this.#custodyStore?.nextExpiry() ?? Infinity
    for (const at of this.#bounceMap?.values() ?? []) next = Math.min(next, at)
    for (const p of this.#pendingMap?.values() ?? []) next = Math.min(next, p.nextAt)
    return next
  }

  custody (): CustodyView[] {
    return [...this.#custodyStore?.entries() ?? []].map(({ value, bytes, since, expiresAt }) => ({
      id: value.envelope.id,
      src: nodeIdOf(value.envelope.src),
      dst: value.envelope.dst,
      bytes,
      copies: value.envelope.copies,
      ttl: value.envelope.ttl,
      since,
      expiresAt,
      local: value.local
    }))
  }

  /** Reliable sends waiting for their ack. */
  pending (): Array<{ id: string, dst: NodeId, retransmissions: number, nextAt: number }> {
    return [...this.#pendingMap ?? []].map(([id, p]) => ({ id, dst: p.envelope.dst, retransmissions: p.retransmissions, nextAt: p.nextAt }))
  }

  /** Entries held: custody, pending sends, remembered deliveries. */
  stateSize (): number {
    return (this.#custodyStore?.size ?? 0) + (this.#pendingMap?.size ?? 0) + (this.#deliveredStore?.size ?? 0)
  }

  #deliver (e: MeshEnvelope, now: number): ForwarderOutput {
    // A location registration is not remembered: its record's seq already refuses a copy
    // (location.ts), and a home receives thousands of them.
    if ((e.flags & LOCATION) !== 0) return { kind: 'deliver', envelope: e }
    if (this.#delivered.check(envelopeKey(e), now)) return { kind: 'duplicate', envelope: e }
    return { kind: 'deliver', envelope: e }
  }

  /** Sends `held` toward its dst, or keeps it in custody. */
  #route (held: Held, now: number, out: ForwarderOutput[]): void {
    const e = held.envelope
    this.#locate(held)
    const hop = this.#routes.route(e.dst, e.via)
    // Split horizon spares a new leg: a lookup that rewrote `via` (at the destination's
    // home, location.ts) instead of narrowing it starts a route from here, and going back
    // the way the envelope came is then the detour to the destination, not a stale route
    // upstream; holding it bounceHoldMs would only delay it (2 s on most first packets).
    if (hop !== undefined && (!held.arrivedOn.has(hop.link) || !narrows(e.via, hop.via))) {
      out.push({ kind: 'send', link: hop.link, envelope: onward(e, hop) })
      return
    }
    const key = envelopeKey(e)
    const there = this.#custodyStore?.get(key)
    if (there !== undefined) {
      // Another copy of one we hold: spray copies merge (the budget is kept), anything
      // else is the same envelope twice.
      for (const l of held.arrivedOn) there.arrivedOn.add(l)
      if ((e.flags & SPRAY) !== 0) {
        there.envelope.copies = Math.min(MAX_COPIES, there.envelope.copies + e.copies)
        there.envelope.ttl = Math.max(there.envelope.ttl, e.ttl)
        if (hop === undefined) this.#spray(there, this.#routes.links(), out)
      } else if (!held.local) {
        out.push({ kind: 'drop', envelope: e, reason: 'already in custody' })
      }
      return
    }
    for (const d of this.#custody.add(key, held, envelopeSize(e), now)) out.push(this.#dropped(d))
    if (!this.#custody.has(key)) return
    if (hop !== undefined) this.#bounce.set(key, now + this.#config.bounceHoldMs)
    else this.#spray(held, this.#routes.links(), out)
  }

  /** An envelope of ours with no landmarks takes its destination's from the location service, if there is one. */
  #locate (held: Held): void {
    const e = held.envelope
    if (!held.local || e.via.length > 0 || this.#routes.locate === undefined) return
    const via = this.#routes.locate(e.dst)
    if (via.length > 0) e.via = [...via]
  }

  /** Binary spray: half the copies to each link not met yet, until one is left. */
  #spray (held: Held, links: readonly LinkId[], out: ForwarderOutput[]): void {
    const e = held.envelope
    if ((e.flags & SPRAY) === 0) return
    for (const link of links) {
      if (e.copies <= 1) return
      if (held.arrivedOn.has(link) || held.sprayedTo.has(link)) continue
      const give = Math.floor(e.copies / 2)
      e.copies -= give
      held.sprayedTo.add(link)
      out.push({ kind: 'send', link, envelope: { ...e, copies: give } })
    }
  }

  #expire (now: number, out: ForwarderOutput[]): void {
    for (const d of this.#custodyStore?.expire(now) ?? []) out.push(this.#dropped(d))
  }

  #forget (key: string): void {
    this.#custodyStore?.take(key)
    this.#bounceMap?.delete(key)
  }

  #dropped (d: CustodyDrop<Held>): ForwarderOutput {
    this.#bounceMap?.delete(d.key)
    const e = d.value.envelope
    // Our own send never left: it has failed, reliable or not.
    if (d.value.local) {
      this.#pendingMap?.delete(e.id)
      return { kind: 'failed', id: e.id, dst: e.dst, reason: d.reason }
    }
    return { kind: 'drop', envelope: e, reason: d.reason }
  }
}

/** The envelope as it goes on by `hop`: with the landmarks the router left it (the same object if unchanged). */
/** Whether `next` is `via` narrowed (a prefix of it, or empty), rather than rewritten. */
function narrows (via: readonly NodeId[], next: readonly NodeId[]): boolean {
  if (next.length > via.length) return false
  for (let k = 0; k < next.length; k++) if (next[k] !== via[k]) return false
  return true
}

function onward (e: MeshEnvelope, hop: NextHop): MeshEnvelope {
  return hop.via === e.via ? e : { ...e, via: [...hop.via] }
}

/** The link an envelope of ours went out on in `out`, if it went. */
function sentOn (out: ForwarderOutput[], id: string): LinkId | undefined {
  for (let i = out.length - 1; i >= 0; i--) {
    const o = out[i]
    if (o?.kind === 'send' && o.envelope.id === id) return o.link
  }
  return undefined
}
