// When a member looks up a network's providers: once soon after it joins (or after the
// node starts), then again every RECHECK_MS, each time at a random offset so that the
// members of a network — and the networks of one node — never look up all at once.
// Pure: the caller passes the random source and gets delays back.
//
// Why these numbers (kad-dht 16, node_modules/@libp2p/kad-dht/src/constants.ts): a
// provider record is valid for PROVIDERS_VALIDITY = 48 h on the DHT nodes that store it;
// the provider's own reprovider republishes it once it is within REPROVIDE_THRESHOLD =
// 24 h of expiry (so every 24 h), scanning hourly. A re-check every 12 h ± 25 % (9–15 h)
// always decides before the next republish, so a 'skip' (cancelReprovide) takes effect
// before the record is renewed, and a lost provider is noticed well within its record's life.

export interface RendezvousTiming {
  /** Mean time between two lookups of one network by one member. */
  recheckMs: number
  /** Each delay is scaled by a uniform factor in [1 − jitter, 1 + jitter]. */
  jitter: number
  /** A network just created or joined is looked up within this window. */
  joinSpreadMs: number
  /** At start, the first lookups spread over this much time per network held… */
  startSpreadPerNetworkMs: number
  /** …but over at least this window, and never more than one recheck period. */
  startSpreadMinMs: number
  /** Bound on one provider lookup. */
  lookupTimeoutMs: number
  /** Bound on one announce (the DHT walk plus the ADD_PROVIDER messages). */
  provideTimeoutMs: number
}

export const DEFAULT_TIMING: Readonly<RendezvousTiming> = Object.freeze({
  recheckMs: 12 * 3600_000,
  jitter: 0.25,
  joinSpreadMs: 10_000,
  startSpreadPerNetworkMs: 2_000,
  startSpreadMinMs: 30_000,
  lookupTimeoutMs: 30_000,
  provideTimeoutMs: 60_000
})

/** Delay until the next lookup of a network already checked. */
export function recheckDelay (random: () => number, t: RendezvousTiming = DEFAULT_TIMING): number {
  return Math.round(t.recheckMs * (1 - t.jitter + 2 * t.jitter * random()))
}

/** Delay until the first lookup of a network just created or joined. */
export function joinDelay (random: () => number, t: RendezvousTiming = DEFAULT_TIMING): number {
  return Math.round(t.joinSpreadMs * random())
}

/**
 * Delay until the first lookup of one of `networks` networks held when the node starts:
 * spread evenly so that a node in 10 000 networks makes one lookup every 2 s, not 10 000
 * at once.
 */
export function startDelay (random: () => number, networks: number, t: RendezvousTiming = DEFAULT_TIMING): number {
  const window = Math.min(t.recheckMs, Math.max(t.startSpreadMinMs, networks * t.startSpreadPerNetworkMs))
  return Math.round(window * random())
}
