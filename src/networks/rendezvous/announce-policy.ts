// Rendezvous: how members of a network find each other by its id alone. The network's
// rendezvous key is a hash of its id, so the DHT nodes that hold the records learn the
// key but cannot tell which network it names (only those who know the id can compute it).
//
// Not every member announces itself: a network of a hundred thousand members would put a
// hundred thousand provider records on the handful of DHT nodes closest to its key. A
// member announces only while fewer than RENDEZVOUS_PROVIDERS live providers are found,
// and stops republishing once there are well over that many. Everyone else finds the
// network through those few and then learns the rest by peer exchange inside the network.
// This file is the pure decision: the node's DHT shell and the simulator both call it.

import { createHash } from 'node:crypto'

/** Providers per network a member tries to keep in the DHT (the bound). */
export const RENDEZVOUS_PROVIDERS = 8
/** A provider stops republishing once it sees more than this many others. */
export const RENDEZVOUS_SURPLUS = 2 * RENDEZVOUS_PROVIDERS

/** The DHT key under which a network's providers are announced: sha256(domain ‖ id). */
export function rendezvousKey (net: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update('peernet/rendezvous/1\0').update(net).digest())
}

export type AnnounceDecision =
  /** Put (or keep) a provider record for this network under our id. */
  | 'announce'
  /** Enough others announce it: do not add one (or let ours expire). */
  | 'skip'

/** The two thresholds of the policy; tests and experiments may pass smaller ones. */
export interface RendezvousBound {
  providers: number
  surplus: number
}

export const DEFAULT_BOUND: Readonly<RendezvousBound> = Object.freeze({ providers: RENDEZVOUS_PROVIDERS, surplus: RENDEZVOUS_SURPLUS })

export interface AnnounceInput {
  /** Distinct live providers a lookup found, not counting ourselves. */
  othersFound: number
  /** Whether we currently hold a provider record for it. */
  providing: boolean
}

/**
 * Whether a member should announce itself as a provider after a lookup. Hysteresis keeps
 * the count between RENDEZVOUS_PROVIDERS and RENDEZVOUS_SURPLUS: newcomers join in below
 * the bound, existing providers keep their records until there is a clear surplus, so
 * the set does not flap when members come and go.
 */
export function decideAnnounce (input: AnnounceInput, bound: RendezvousBound = DEFAULT_BOUND): AnnounceDecision {
  if (input.othersFound < bound.providers) return 'announce'
  if (input.providing && input.othersFound < bound.surplus) return 'announce'
  return 'skip'
}
