// Rendezvous: how members of a network find each other by its id alone. The network's
// rendezvous key is a hash of its id, so the DHT nodes that hold the records learn the
// key but cannot tell which network it names (only those who know the id can compute it).
//
// Not every member announces itself: a network of a hundred thousand members would put a
// hundred thousand provider records on the handful of DHT nodes closest to its key. A
// member announces only while fewer than RENDEZVOUS_PROVIDERS live providers are found;
// once there is a clear surplus (RENDEZVOUS_SURPLUS others), the providers closest to the
// key keep their records and the rest stop republishing. Everyone else finds the network
// through those few and then learns the rest by peer exchange inside the network.
// This file is the pure decision: the node's DHT shell and the simulator both call it.

import { createHash } from 'node:crypto'

/** Providers per network a member tries to keep in the DHT (the bound). */
export const RENDEZVOUS_PROVIDERS = 8
/** From this many others seen, a provider not among the RENDEZVOUS_PROVIDERS closest to the key stops republishing. */
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
  /**
   * How many of the found providers are closer to the rendezvous key than we are, under
   * the XOR metric on ids in the DHT key space (count it with xorCloser). Only read when
   * a provider sees a surplus (rankMatters); a caller that did not count it may pass 0.
   */
  closerOthers: number
}

/** Whether decideAnnounce reads closerOthers for this input: only a provider that sees a surplus is ranked. */
export function rankMatters (input: Pick<AnnounceInput, 'othersFound' | 'providing'>, bound: RendezvousBound = DEFAULT_BOUND): boolean {
  return input.providing && input.othersFound >= bound.surplus
}

/**
 * Whether a member should announce itself as a provider after a lookup:
 *
 *   othersFound < providers                              → announce (too few: join in)
 *   providing ∧ othersFound < surplus                    → announce (keep our record)
 *   providing ∧ othersFound ≥ surplus ∧ closerOthers < providers → announce (among the closest)
 *   providing ∧ othersFound ≥ surplus ∧ closerOthers ≥ providers → skip (trimmed)
 *   ¬providing ∧ othersFound ≥ providers                 → skip
 *
 * Between the two thresholds nothing changes, so the set does not flap when members come
 * and go. The surplus is trimmed by rank, not by count: which providers are the
 * `providers` closest to the key is the same answer for every provider that sees them
 * all, so when a whole surplus checks at once (a short jitter window and daily rounds
 * line their checks up) exactly the closest `providers` keep announcing and the rest
 * drop out. A trim by count alone made every one of them see the surplus and skip, all
 * records expired together 48 h later, and every member re-announced at once — the
 * surplus came back each cycle, and if the others' records were still lingering when
 * each looked, all could stop and leave none.
 *
 * It cannot drop to zero through trimming: a provider among the `providers` closest of
 * the records out there counts fewer than `providers` closer ones in any subset it finds
 * (a lookup capped at k answers, say), so it keeps announcing; seeing fewer records only
 * errs towards keeping one, which later checks trim. What it cannot tell is a departed
 * provider's record from a live one: such a record may hold a live provider back until it
 * expires (48 h at most), and then the members' 12 h re-checks see the gap and re-announce.
 *
 * A member that does not provide skips once it finds `providers` others, however close it
 * is: were the closer newcomers to announce, every join near the key would push an
 * incumbent out at its next check — churn in the provider set and a transient surplus for
 * no gain, since the network is already findable. Incumbents change only when they leave.
 */
export function decideAnnounce (input: AnnounceInput, bound: RendezvousBound = DEFAULT_BOUND): AnnounceDecision {
  if (input.othersFound < bound.providers) return 'announce'
  if (!input.providing) return 'skip'
  if (input.othersFound < bound.surplus) return 'announce'
  return input.closerOthers < bound.providers ? 'announce' : 'skip'
}

/**
 * How many of `others` are strictly closer to `key` than `self` under the XOR metric
 * (Kademlia §2.1): compare self ⊕ key with other ⊕ key as big-endian numbers. All ids and
 * the key are points of one key space, of the same length. An id equal to ours (ourselves,
 * found again) is not closer.
 */
export function xorCloser (self: Uint8Array, others: Uint8Array[], key: Uint8Array): number {
  if (self.length !== key.length) throw new RangeError(`ids of ${self.length} bytes against a key of ${key.length}`)
  let count = 0
  for (const other of others) {
    if (other.length !== key.length) throw new RangeError(`ids of ${other.length} bytes against a key of ${key.length}`)
    for (let i = 0; i < key.length; i++) {
      const k = key[i] ?? 0
      const a = ((other[i] ?? 0) ^ k)
      const b = ((self[i] ?? 0) ^ k)
      if (a === b) continue
      if (a < b) count++
      break
    }
  }
  return count
}
