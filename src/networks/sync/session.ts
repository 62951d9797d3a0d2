// SyncSession: the sans-IO core of the sync protocol for one pair of peers. It takes
// what arrives (a message, a local append, a finished ingest) and returns what to do:
// messages to send, entries to ingest, chains to stream. It reads local heads through
// the injected `SyncLocal` and never touches a socket or the clock.
//
// Protocol: each side says hello with tags for the networks it is in; for every network
// both are in, each sends its chain heads; whoever is behind on a chain asks for the rest
// (`want`), and the other streams it in batches. New local entries are pushed at once to
// peers that share the network. Nothing is sent per network while nothing changes.

import { createHash } from 'node:crypto'
import { bytesEqual } from '../../core/encoding.ts'
import type { CanonicalValue } from '../../core/encoding.ts'
import { toHex } from '../hashing.ts'
import { HEADS_DIGEST_BYTES } from './messages.ts'
import type { ChainPosition, SyncMessage } from './messages.ts'

export interface SyncLocal {
  /** Ids of the networks this node is in. */
  networks: () => Uint8Array[]
  heads: (net: Uint8Array) => ChainPosition[]
  /**
   * The heads this node offers the peer (in heads messages and digests): all of `heads`
   * but the chains of authors it refuses to pass on. Without it, `heads`.
   */
  offered?: (net: Uint8Array) => ChainPosition[]
}

export type SyncAction =
  | { do: 'send', message: SyncMessage }
  | { do: 'ingest', entries: CanonicalValue[] }
  /** Stream the chain's entries after `after` to the peer, in batches. */
  | { do: 'serve', net: Uint8Array, author: Uint8Array, device: Uint8Array, after: number }
  /** The session started sharing this network: offer the peer other members (peer exchange). */
  | { do: 'offer-peers', net: Uint8Array }
  /** The peer offered members of a shared network; the shell decides whom to dial. */
  | { do: 'dial-peers', net: Uint8Array, peers: Array<{ id: string, addrs: string[] }> }

/** A network's tag for one pair of peers: only those who know the network id can compute it. */
export function networkTag (net: Uint8Array, peerA: string, peerB: string): Uint8Array {
  const [lo, hi] = peerA < peerB ? [peerA, peerB] : [peerB, peerA]
  return new Uint8Array(createHash('sha256').update('peernet/sync-tag/1').update(net).update(lo).update('\0').update(hi).digest())
}

/** A digest of a network's chain heads, the same on two nodes that hold the same heads (in any order). */
export function headsDigest (heads: ChainPosition[]): Uint8Array {
  const lines = heads.map((h) => `${toHex(h.author)}${toHex(h.device)}${h.seq}`).sort()
  return new Uint8Array(createHash('sha256').update('peernet/heads-digest/1\0').update(lines.join('\n')).digest().subarray(0, HEADS_DIGEST_BYTES))
}

export interface ChainRef { net: Uint8Array, author: Uint8Array, device: Uint8Array }

/** What an ingest did, as the session needs to know it. */
export interface IngestOutcome {
  /** Networks in which at least one entry was accepted. */
  acceptedNets: Uint8Array[]
  rejected: Array<{ chain: ChainRef | null, reason: string }>
}

/** The entry came ahead of the chain we hold. */
export function isGap (reason: string): boolean {
  return reason.startsWith('gap:')
}

/** The entry may become valid once another chain's entries arrive. */
export function isDependency (reason: string): boolean {
  // A body sealed with a key this node lacks: the rekey carrying it may not be here yet.
  // A rekey by a non-admin: the role entry making its author one may not be here yet.
  return /the author is not a member|not issued by an admin|network key this node does not hold|rekey's author is not an admin/.test(reason)
}

/**
 * How many of an ingest's refusals are the sending peer's fault: everything but gaps and
 * missing dependencies — and the gaps that follow a faulty entry of the same chain in the
 * same message, since the peer sent the rest of a chain whose start it had just forged (a
 * forged chain would otherwise cost one point for any number of entries checked).
 */
export function peerFaults (rejected: Array<{ chain: ChainRef | null, reason: string }>): number {
  const spoiled = new Set<string>()
  let faults = 0
  for (const r of rejected) {
    const k = r.chain === null ? null : chainKey(r.chain)
    if (!isGap(r.reason) && !isDependency(r.reason)) {
      faults++
      if (k !== null) spoiled.add(k)
    } else if (isGap(r.reason) && k !== null && spoiled.has(k)) {
      faults++
    }
  }
  return faults
}

function chainKey (c: ChainRef): string {
  return `${toHex(c.net)}/${toHex(c.author)}/${toHex(c.device)}`
}

export class SyncSession {
  readonly #local: SyncLocal
  readonly #self: string
  readonly #peer: string
  /** Networks both sides are in, by hex id (only the hex: a node may share 10,000 of them). */
  readonly #shared = new Set<string>()
  /**
   * Chains we asked for and have not caught up on: network (hex) → author‖device (hex) →
   * the seq we asked after. Entries go once our head passes that seq.
   */
  readonly #wanted = new Map<string, Map<string, number>>()
  /** Chains refused for want of an entry in another chain, waiting for progress. */
  readonly #deferred = new Map<string, ChainRef>()
  /** Networks whose peer exchange offer we took: one per session, so a peer cannot make us dial on and on. */
  readonly #offersTaken = new Set<string>()

  constructor (local: SyncLocal, self: string, peer: string) {
    this.#local = local
    this.#self = self
    this.#peer = peer
  }

  get sharedNetworks (): Uint8Array[] { return [...this.#shared].map((k) => new Uint8Array(Buffer.from(k, 'hex'))) }

  shares (net: Uint8Array): boolean { return this.#shared.has(toHex(net)) }

  start (): SyncAction[] {
    return [this.#hello(true)]
  }



  /** The local node joined or left a network: tell the peer. */
  networksChanged (): SyncAction[] {
    const mine = new Set(this.#local.networks().map(toHex))
    for (const k of [...this.#shared]) if (!mine.has(k)) { this.#shared.delete(k); this.#wanted.delete(k) }
    return [this.#hello()]
  }

  receive (m: SyncMessage): SyncAction[] {
    switch (m.t) {
      case 'hello': {
        const theirs = new Map(m.tags.map((t, i) => [toHex(t), m.digests?.[i]]))
        const out: SyncAction[] = []
        let added = false
        for (const net of this.#local.networks()) {
          const k = toHex(net)
          const tag = toHex(networkTag(net, this.#self, this.#peer))
          if (!theirs.has(tag)) { this.#shared.delete(k); continue }
          if (this.#shared.has(k)) continue
          this.#shared.add(k)
          added = true
          const heads = this.#offered(net)
          const digest = theirs.get(tag)
          // Same heads on both sides: nothing to reconcile in this network.
          if (digest === undefined || !bytesEqual(digest, headsDigest(heads))) out.push({ do: 'send', message: { t: 'heads', net, heads } })
          out.push({ do: 'offer-peers', net })
        }
        // A hello that made us share something new is answered with ours, so the peer
        // learns the same. Shared sets only grow through this, and a hello that adds
        // nothing gets no answer, so hellos never ping-pong.
        if (added) out.unshift(this.#hello())
        return out
      }
      case 'heads': {
        let newlyShared = false
        if (!this.shares(m.net)) {
          // Heads for a network we are in: the peer computed its tag from our hello, so it
          // is in it too (we may have joined after its hello reached us).
          const mine = this.#local.networks().find((n) => bytesEqual(n, m.net))
          if (mine === undefined) return []
          this.#shared.add(toHex(mine))
          newlyShared = true
        }
        const local = this.#local.heads(m.net)
        const out: SyncAction[] = newlyShared ? [{ do: 'offer-peers', net: m.net }] : []
        for (const h of m.heads) {
          const mine = local.find((l) => bytesEqual(l.author, h.author) && bytesEqual(l.device, h.device))?.seq ?? 0
          if (h.seq > mine) out.push(...this.#want(m.net, h.author, h.device, mine))
        }
        return out
      }
      case 'want':
        return this.shares(m.net) ? [{ do: 'serve', net: m.net, author: m.author, device: m.device, after: m.after }] : []
      case 'entries':
        return [{ do: 'ingest', entries: m.entries }]
      case 'peers': {
        // Only from a peer that shares the network, once; never ourselves or the sender.
        if (!this.shares(m.net) || this.#offersTaken.has(toHex(m.net))) return []
        this.#offersTaken.add(toHex(m.net))
        const peers = m.peers.filter((p) => p.id !== this.#self && p.id !== this.#peer)
        return peers.length > 0 ? [{ do: 'dial-peers', net: m.net, peers }] : []
      }
    }
  }

  /**
   * After an ingest. A chain that arrived with a gap (a push ahead of what we hold) is
   * asked for from our head at once. A chain refused for want of another chain's entry
   * (its account's join, the promotion of its inviter) is asked for again as soon as
   * anything new lands in that network — progress must come first, so this never loops.
   */
  ingested (outcome: IngestOutcome): SyncAction[] {
    const out: SyncAction[] = []
    for (const r of outcome.rejected) {
      if (r.chain === null || !this.shares(r.chain.net)) continue
      if (isGap(r.reason)) out.push(...this.#wantFromHead(r.chain))
      else if (isDependency(r.reason)) this.#deferred.set(chainKey(r.chain), r.chain)
    }
    const progressed = new Map(outcome.acceptedNets.map((n) => [toHex(n), n]))
    // Requests we have caught up on are forgotten, so the map does not grow with every
    // chain ever synced.
    for (const [k, net] of progressed) {
      const wanted = this.#wanted.get(k)
      if (wanted === undefined) continue
      for (const h of this.#local.heads(net)) {
        const ck = toHex(h.author) + toHex(h.device)
        const after = wanted.get(ck)
        if (after !== undefined && h.seq > after) wanted.delete(ck)
      }
      if (wanted.size === 0) this.#wanted.delete(k)
    }
    for (const [key, chain] of [...this.#deferred]) {
      if (!progressed.has(toHex(chain.net))) continue
      this.#deferred.delete(key)
      this.#wanted.get(toHex(chain.net))?.delete(toHex(chain.author) + toHex(chain.device))
      out.push(...this.#wantFromHead(chain))
    }
    return out
  }

  /**
   * Asks the peer again for chains whose bodies this node dropped (an author it refused
   * and no longer does), from `after` on — the bodies fill in the entries held without
   * them — and offers its heads again, so the peer asks for the chains it was not offered.
   */
  refetch (net: Uint8Array, chains: Array<{ author: Uint8Array, device: Uint8Array, after: number }>): SyncAction[] {
    if (!this.shares(net)) return []
    const out: SyncAction[] = []
    for (const c of chains) {
      // A fresh request even if one from the same point is remembered: that one was answered.
      this.#wanted.get(toHex(net))?.delete(toHex(c.author) + toHex(c.device))
      out.push(...this.#want(net, c.author, c.device, c.after))
    }
    out.push({ do: 'send', message: { t: 'heads', net, heads: this.#offered(net) } })
    return out
  }

  #offered (net: Uint8Array): ChainPosition[] {
    return this.#local.offered?.(net) ?? this.#local.heads(net)
  }

  #wantFromHead (c: ChainRef): SyncAction[] {
    const mine = this.#local.heads(c.net).find((l) => bytesEqual(l.author, c.author) && bytesEqual(l.device, c.device))?.seq ?? 0
    return this.#want(c.net, c.author, c.device, mine)
  }

  /** New local entries: push them if the peer shares the network. */
  appended (net: Uint8Array, entries: CanonicalValue[]): SyncAction[] {
    return this.shares(net) && entries.length > 0 ? [{ do: 'send', message: { t: 'entries', entries } }] : []
  }

  #want (net: Uint8Array, author: Uint8Array, device: Uint8Array, after: number): SyncAction[] {
    const k = toHex(net)
    const ck = toHex(author) + toHex(device)
    // One outstanding request per chain and starting point.
    let wanted = this.#wanted.get(k)
    if (wanted?.get(ck) === after) return []
    if (wanted === undefined) { wanted = new Map(); this.#wanted.set(k, wanted) }
    wanted.set(ck, after)
    return [{ do: 'send', message: { t: 'want', net, author, device, after } }]
  }

  #hello (withDigests = false): SyncAction {
    const nets = this.#local.networks()
    const tags = nets.map((n) => networkTag(n, this.#self, this.#peer))
    // Digests only in the session's first hello: later ones (a network joined, an answer)
    // matter only for the few networks they add, whose heads are worth sending anyway,
    // and a digest costs a read of every network's heads.
    return { do: 'send', message: withDigests ? { t: 'hello', v: 1, tags, digests: nets.map((n) => headsDigest(this.#offered(n))) } : { t: 'hello', v: 1, tags } }
  }
}
