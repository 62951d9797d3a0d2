// Provider records as DHT nodes hold them: key → provider → expiry. libp2p's kad-dht keeps
// a record 48 h (PROVIDERS_VALIDITY) and a provider republishes when its record is within
// 24 h of expiry (REPROVIDE_THRESHOLD), checked hourly: so in effect every 24 h.
// The store is an interface because the million-network benchmark does not keep tens of
// millions of record objects: it answers from the announce schedule instead
// (rendezvous/scheduled-providers.ts). The map store here is the straightforward one.

export const PROVIDERS_VALIDITY_MS = 48 * 3600_000
export const REPROVIDE_INTERVAL_MS = 24 * 3600_000

export interface ProviderStore {
  /** Live providers `holder` has for `key` at time `now`. */
  providers: (holder: number, key: number, now: number) => ArrayLike<number>
  /** `holder` receives an ADD_PROVIDER for `key` from `provider` at time `now`. */
  add: (holder: number, key: number, provider: number, now: number) => void
}

export class MapProviderStore implements ProviderStore {
  private readonly records = new Map<number, Map<number, Map<number, number>>>()

  private readonly validityMs: number

  constructor (validityMs = PROVIDERS_VALIDITY_MS) {
    this.validityMs = validityMs
  }

  providers (holder: number, key: number, now: number): number[] {
    const byProvider = this.records.get(holder)?.get(key)
    if (byProvider === undefined) return []
    const out: number[] = []
    for (const [provider, expiry] of byProvider) {
      if (expiry > now) out.push(provider)
      else byProvider.delete(provider)
    }
    return out
  }

  add (holder: number, key: number, provider: number, now: number): void {
    let byKey = this.records.get(holder)
    if (byKey === undefined) this.records.set(holder, byKey = new Map<number, Map<number, number>>())
    let byProvider = byKey.get(key)
    if (byProvider === undefined) byKey.set(key, byProvider = new Map<number, number>())
    byProvider.set(provider, now + this.validityMs)
  }

  /** Live records `holder` holds over all keys (the per-node state the benchmark measures). */
  recordsHeld (holder: number, now: number): number {
    let count = 0
    for (const byProvider of this.records.get(holder)?.values() ?? []) {
      for (const expiry of byProvider.values()) if (expiry > now) count++
    }
    return count
  }
}
