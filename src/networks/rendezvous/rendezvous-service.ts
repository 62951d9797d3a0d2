// The rendezvous shell: for each network this node is in, look up the network's
// providers in the DHT on a slow, jittered schedule (schedule.ts), announce this node as
// one only when the bounded policy says so (announce-policy.ts), and dial a few of those
// found when the node is connected to few members of the network — the sync service then
// opens a session on identify, and peer exchange inside the network does the rest.
// It also joins an open network by its id alone: find providers, fetch the manifest from
// one of them (manifest-exchange.ts), join. The DHT and the dialling are injected
// (RendezvousNet), so this file never touches libp2p.
//
// Cost while idle: one provider lookup per network every ~12 h per member, plus, for the
// at most RENDEZVOUS_SURPLUS members that provide, kad-dht's own republish every 24 h.

import type { Logger } from '../../core/log.ts'
import { formatNetworkId, parseNetworkId } from '../manifest.ts'
import type { SignedManifest } from '../manifest.ts'
import type { Networks } from '../networks.ts'
import type { NetworkRecord } from '../log-store.ts'
import { toHex } from '../hashing.ts'
import { NotPermittedError, RendezvousError, UnknownNetworkError } from '../errors.ts'
import { DEFAULT_BOUND, decideAnnounce, rendezvousKey, xorCloser } from './announce-policy.ts'
import type { RendezvousBound } from './announce-policy.ts'
import { DEFAULT_TIMING, joinDelay, recheckDelay, startDelay } from './schedule.ts'
import type { RendezvousTiming } from './schedule.ts'

/** A peer found in the DHT, with the addresses its provider record carried. */
export interface ProviderInfo { id: string, addrs: string[] }

/** What rendezvous needs from the network below. */
export interface RendezvousNet {
  /** This node's peer id. */
  self: string
  findProviders: (key: Uint8Array, signal: AbortSignal) => AsyncIterable<ProviderInfo>
  /** Puts a provider record under our id; throws if no DHT node took it. */
  provide: (key: Uint8Array, signal: AbortSignal) => Promise<void>
  /** Stops republishing our record (the copies out there expire on their own). */
  cancelReprovide: (key: Uint8Array) => Promise<void>
  /**
   * A peer's id as a point of the DHT key space, computed the same way by every member
   * for every peer (kad-dht's own: sha256 of the peer id's multihash).
   */
  peerPoint: (peer: string) => Uint8Array
  /** The rendezvous key as a point of the same key space (where kad-dht looks it up). */
  keyPoint: (key: Uint8Array) => Uint8Array
  dial: (peer: ProviderInfo, signal: AbortSignal) => Promise<void>
  connected: (peer: string) => boolean
  /** Fetches a network's manifest from a peer; throws with the reason it was refused. */
  fetchManifest: (peer: ProviderInfo, net: Uint8Array, signal: AbortSignal) => Promise<SignedManifest>
}

export interface RendezvousOptions {
  /** Off: no lookups, no announcements; joining by id needs the manifest here already. */
  enabled: boolean
  net: RendezvousNet
  networks: Networks
  /** How many peers this node has a sync session with that share the network. */
  membersConnected: (net: Uint8Array) => number
  logger: Logger
  random?: () => number
  timing?: Partial<RendezvousTiming>
  bound?: RendezvousBound
}

export interface RendezvousStatus {
  enabled: boolean
  /** Whether this node announces itself as a provider of the network. */
  providing: boolean
  lastLookupAt: number | null
  /**
   * Providers (other than this node) the last lookup found: up to the bound's surplus, or
   * beyond it for a provider that had to learn whether it is among the closest.
   */
  providersFound: number | null
  nextLookupAt: number | null
  lastError: string | null
  /** Peers with a sync session that share the network. */
  membersConnected: number
}

export interface RendezvousJoin {
  id: string
  record: NetworkRecord
  /** Providers the lookup found (0 when the manifest was already held). */
  providersFound: number
  /** The peer the manifest came from, when it had to be fetched. */
  manifestFrom: string | null
}

/** Dial found members while connected to fewer members of the network than this. */
export const WANT_MEMBERS = 4
/** Providers asked for the manifest before giving up. */
const MANIFEST_TRIES = 4
const DIAL_TIMEOUT_MS = 15_000
/** First retry after a failed check (no DHT peers yet, say); doubles up to MAX_RETRY_MS. */
const RETRY_MS = 5 * 60_000
const MAX_RETRY_MS = 3600_000

interface NetworkState {
  net: Uint8Array
  providing: boolean
  lastLookupAt: number | null
  providersFound: number | null
  nextLookupAt: number | null
  lastError: string | null
  failures: number
  timer: ReturnType<typeof setTimeout> | undefined
  /** Joined or created since the node started: its first check always looks (and may announce). */
  fresh: boolean
}

export class RendezvousService {
  readonly #o: RendezvousOptions
  readonly #timing: RendezvousTiming
  readonly #bound: RendezvousBound
  readonly #random: () => number
  readonly #states = new Map<string, NetworkState>()
  readonly #stopping = new AbortController()
  /** Checks run one at a time: a node in many networks never floods the DHT. */
  #queue: Promise<void> = Promise.resolve()
  #unwatch: () => void = () => {}

  constructor (options: RendezvousOptions) {
    this.#o = options
    this.#timing = { ...DEFAULT_TIMING, ...options.timing }
    this.#bound = options.bound ?? DEFAULT_BOUND
    this.#random = options.random ?? Math.random
  }

  get enabled (): boolean { return this.#o.enabled }

  start (): void {
    if (!this.#o.enabled) return
    // kad-dht keeps provider records in the node's datastore and republishes them across
    // restarts: drop ours for networks left while the node was off, or before a crash.
    // (Ids only: decoding every manifest at start cost a node in 10,000 networks ~70 MiB of RSS.)
    for (const id of this.#o.networks.logs.leftNetworkIds()) void this.#o.net.cancelReprovide(rendezvousKey(id)).catch(() => {})
    this.#unwatch = this.#o.networks.watchMembership((net) => { if (net === null) this.#reconcile(false); else this.#reconcileOne(net) })
    this.#reconcile(true)
  }

  stop (): void {
    this.#unwatch()
    this.#stopping.abort()
    for (const s of this.#states.values()) clearTimeout(s.timer)
    this.#states.clear()
  }

  status (net: Uint8Array): RendezvousStatus {
    const s = this.#states.get(toHex(net))
    return {
      enabled: this.#o.enabled,
      providing: s?.providing ?? false,
      lastLookupAt: s?.lastLookupAt ?? null,
      providersFound: s?.providersFound ?? null,
      nextLookupAt: s?.nextLookupAt ?? null,
      lastError: s?.lastError ?? null,
      membersConnected: this.#o.membersConnected(net)
    }
  }

  /**
   * Finds the network's providers (not this node): until `enough` says so — by default
   * once the bound's surplus is found — or the lookup ends.
   */
  async findMembers (net: Uint8Array, signal?: AbortSignal, enough = (found: ProviderInfo[]): boolean => found.length >= this.#bound.surplus): Promise<ProviderInfo[]> {
    const key = rendezvousKey(net)
    const found = new Map<string, ProviderInfo>()
    const outer = signal === undefined ? this.#stopping.signal : AbortSignal.any([signal, this.#stopping.signal])
    const bounded = AbortSignal.any([outer, AbortSignal.timeout(this.#timing.lookupTimeoutMs)])
    try {
      for await (const p of this.#o.net.findProviders(key, bounded)) {
        if (p.id === this.#o.net.self) continue
        const known = found.get(p.id)
        found.set(p.id, { id: p.id, addrs: [...new Set([...(known?.addrs ?? []), ...p.addrs])] })
        if (known === undefined && enough([...found.values()])) break
      }
    } catch (err) {
      // Running out of time ends the lookup with what it found; being told to stop does not.
      if (outer.aborted || !bounded.aborted) throw err
    }
    return [...found.values()]
  }

  /**
   * Joins a network by id. Open networks whose manifest is not held here are found
   * through the DHT: their manifest is fetched from a provider and checked against the id.
   */
  async joinById (text: string, options: { signal?: AbortSignal, progress?: (line: string) => void } = {}): Promise<RendezvousJoin> {
    // A network held here (by id, prefix or name, as everywhere): no lookup needed.
    let id: Uint8Array
    try {
      id = this.#o.networks.resolve(text)
      const joined = this.#o.networks.join(formatNetworkId(id))
      return { id: joined.id, record: joined.record, providersFound: 0, manifestFrom: null }
    } catch (err) {
      if (!(err instanceof UnknownNetworkError)) throw err
      try { id = parseNetworkId(text) } catch { throw err }
    }
    const printable = formatNetworkId(id)
    if (!this.#o.enabled) {
      throw new RendezvousError(`this node does not hold network ${printable} and rendezvous is off`, { hint: 'join with an invite, or set "rendezvous": true in config.json' })
    }
    const signal = options.signal ?? AbortSignal.timeout(this.#timing.lookupTimeoutMs + MANIFEST_TRIES * DIAL_TIMEOUT_MS)
    options.progress?.(`looking up members of ${printable} in the DHT…`)
    const providers = await this.findMembers(id, signal)
    if (providers.length === 0) {
      throw new RendezvousError(`no member of ${printable} found through the DHT`, { hint: 'check that this node has peers (`peernet peers`), or ask a member for an invite' })
    }
    options.progress?.(`found ${providers.length} member(s); fetching the manifest`)
    const reasons: string[] = []
    let manifest: SignedManifest | undefined
    let from: ProviderInfo | undefined
    for (const p of providers.slice(0, MANIFEST_TRIES)) {
      try {
        manifest = await this.#o.net.fetchManifest(p, id, AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]))
        from = p
        break
      } catch (err) {
        reasons.push(`${p.id.slice(0, 16)}…: ${(err as Error).message}`)
        this.#o.logger.debug('manifest fetch failed', { peer: p.id, err })
      }
    }
    if (manifest === undefined || from === undefined) {
      throw new RendezvousError(`could not get the manifest of ${printable} from ${providers.length} member(s): ${reasons.join('; ')}`, { hint: 'try again later, or ask a member for an invite' })
    }
    if (manifest.manifest.policy !== 'open') {
      throw new NotPermittedError(`network "${manifest.manifest.name}" (${printable}) is invite-only`, { hint: 'ask an admin for an invite (`peernet net invite` on their node)' })
    }
    const joined = this.#o.networks.joinOpen(manifest)
    // The member we fetched from is connected already; sync starts on identify. Dial a
    // few more so the new member is not hanging on one peer.
    this.#dialSome(id, providers.filter((p) => p.id !== from.id), WANT_MEMBERS - 1)
    return { id: joined.id, record: joined.record, providersFound: providers.length, manifestFrom: from.id }
  }

  /** Brings the per-network schedule in line with the networks this node is in. */
  #reconcile (starting: boolean): void {
    if (this.#stopping.signal.aborted) return
    const current = this.#o.networks.logs.memberNetworkIds()
    const keep = new Set(current.map(toHex))
    for (const [k, s] of [...this.#states]) {
      if (keep.has(k)) continue
      clearTimeout(s.timer)
      this.#states.delete(k)
      // Left the network: stop republishing our record for it (a local operation).
      void this.#o.net.cancelReprovide(rendezvousKey(s.net)).catch(() => {})
    }
    for (const net of current) {
      const k = toHex(net)
      if (this.#states.has(k)) continue
      const s: NetworkState = { net, providing: false, lastLookupAt: null, providersFound: null, nextLookupAt: null, lastError: null, failures: 0, timer: undefined, fresh: !starting }
      this.#states.set(k, s)
      this.#schedule(s, starting ? startDelay(this.#random, current.length, this.#timing) : joinDelay(this.#random, this.#timing))
    }
  }

  /** The same for one network that changed (a join or leave): no pass over all the others. */
  #reconcileOne (net: Uint8Array): void {
    if (this.#stopping.signal.aborted) return
    const k = toHex(net)
    const logs = this.#o.networks.logs
    const member = logs.hasNetwork(net) && logs.network(net).status === 'member'
    const s = this.#states.get(k)
    if (!member && s !== undefined) {
      clearTimeout(s.timer)
      this.#states.delete(k)
      void this.#o.net.cancelReprovide(rendezvousKey(s.net)).catch(() => {})
    } else if (member && s === undefined) {
      const fresh: NetworkState = { net, providing: false, lastLookupAt: null, providersFound: null, nextLookupAt: null, lastError: null, failures: 0, timer: undefined, fresh: true }
      this.#states.set(k, fresh)
      this.#schedule(fresh, joinDelay(this.#random, this.#timing))
    }
  }

  #schedule (s: NetworkState, delay: number): void {
    clearTimeout(s.timer)
    s.nextLookupAt = Date.now() + delay
    s.timer = setTimeout(() => {
      s.timer = undefined
      this.#queue = this.#queue.then(async () => { await this.#check(s) })
    }, delay)
    s.timer.unref?.()
  }

  /** One rendezvous round for one network: look up, decide, announce or not, dial. */
  async #check (s: NetworkState): Promise<void> {
    if (this.#stopping.signal.aborted || this.#states.get(toHex(s.net)) !== s) return
    const key = rendezvousKey(s.net)
    try {
      // Connected to every other member already: there is no one to find, so no lookup. A
      // node idle in many small networks whose members it is connected to sends nothing
      // for them but kad-dht's daily republish of its own records. A provider in a network
      // with at least as many other members as the bound still looks, to keep the bound; so does a member's
      // first check after joining or creating, which may announce.
      const others = this.#o.networks.logs.members(s.net).length - 1
      if (!s.fresh && others > 0 && this.#o.membersConnected(s.net) >= others && (!s.providing || others < this.#bound.providers)) {
        this.#schedule(s, recheckDelay(this.#random, this.#timing))
        return
      }
      // Closeness to the key ranks the providers when there is a surplus: XOR of kad-dht's
      // points, sha256(peer id multihash) against sha256(the key's CID multihash), the
      // metric of the DHT itself. Any metric every member computes alike would do.
      const target = this.#o.net.keyPoint(key)
      const self = this.#o.net.peerPoint(this.#o.net.self)
      const points = new Map<string, Uint8Array>()
      const closerOthers = (found: ProviderInfo[]): number => xorCloser(self, found.map((p) => {
        let point = points.get(p.id)
        if (point === undefined) points.set(p.id, point = this.#o.net.peerPoint(p.id))
        return point
      }), target)
      // A provider that sees a surplus skips only once `providers` closer ones are known;
      // until then a closer record may still turn up, so its lookup runs on (kad-dht ends
      // it at k providers). Seeing fewer only errs towards keeping its record.
      const enough = s.providing
        ? (found: ProviderInfo[]): boolean => found.length >= this.#bound.surplus && closerOthers(found) >= this.#bound.providers
        : undefined
      const found = await this.findMembers(s.net, undefined, enough)
      const lookedUpAt = Date.now()
      const decision = decideAnnounce({ othersFound: found.length, providing: s.providing, closerOthers: closerOthers(found) }, this.#bound)
      if (decision === 'announce') {
        // Already providing: kad-dht republishes our record itself every 24 h.
        if (!s.providing) {
          await this.#o.net.provide(key, AbortSignal.any([this.#stopping.signal, AbortSignal.timeout(this.#timing.provideTimeoutMs)]))
          s.providing = true
        }
      } else {
        // Also clears a record persisted by an earlier run of this node.
        await this.#o.net.cancelReprovide(key)
        s.providing = false
      }
      // Recorded once the decision is carried out, so a status never shows half a round.
      s.lastLookupAt = lookedUpAt
      s.providersFound = found.length
      this.#o.logger.debug('rendezvous check', { net: formatNetworkId(s.net), found: found.length, decision })
      this.#dialSome(s.net, found, WANT_MEMBERS - this.#o.membersConnected(s.net))
      s.lastError = null
      s.failures = 0
      s.fresh = false
      this.#schedule(s, recheckDelay(this.#random, this.#timing))
    } catch (err) {
      if (this.#stopping.signal.aborted) return
      s.lastError = (err as Error).message
      s.failures++
      this.#o.logger.debug('rendezvous check failed', { net: formatNetworkId(s.net), err })
      const backoff = Math.min(this.#timing.recheckMs, MAX_RETRY_MS, RETRY_MS * 2 ** (s.failures - 1))
      this.#schedule(s, recheckDelay(this.#random, { ...this.#timing, recheckMs: backoff }))
    }
  }

  /** Dials up to `count` of `found` that are not connected yet, in the background. */
  #dialSome (net: Uint8Array, found: ProviderInfo[], count: number): void {
    const targets = found.filter((p) => !this.#o.net.connected(p.id)).slice(0, Math.max(0, count))
    for (const p of targets) {
      this.#o.net.dial(p, AbortSignal.any([this.#stopping.signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]))
        .catch((err: unknown) => { this.#o.logger.debug('could not dial a member found by rendezvous', { net: formatNetworkId(net), peer: p.id, err }) })
    }
  }
}
