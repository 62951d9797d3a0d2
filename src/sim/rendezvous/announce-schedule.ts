// Who announces when, for every member of every network, without sending each lookup's
// messages: the model that lets the benchmark cover a million networks. Each member runs
// the same check as member-check.ts at a random moment within the jitter window (and
// again every republish interval); instead of simulating its lookups hop by hop, the
// check takes a lookup duration drawn from durations measured on the message-level
// simulator of the same overlay (calibration), sees the provider records that have landed
// by then, and asks the committed policy, decideAnnounce (a provider that sees a surplus
// is ranked by XOR between the overlay's node ids and the key). An announcement lands after a
// second drawn lookup (provide()'s FIND_NODE) plus the link latency to the key's nearest
// node. What it abstracts away: that the answers of one lookup arrive over its duration
// (it sees the records as of its end) and that two lookups' durations are independent.
// The benchmark checks the model against the message-level rounds on sample networks.
//
// The result is, per network, the intervals during which each provider's record is live
// at the k nodes nearest the key.

import { decideAnnounce, rankMatters, xorCloser } from '../../networks/rendezvous/announce-policy.ts'
import { idBytes } from '../kademlia/key-space.ts'
import { PROVIDERS_VALIDITY_MS, REPROVIDE_INTERVAL_MS } from '../kademlia/provider-store.ts'
import type { LatencyModel } from '../latency.ts'
import type { Random } from '../random.ts'
import type { Population } from './population.ts'
import type { AnnouncePolicy } from './member-check.ts'

/** 'bounded': members follow decideAnnounce; 'everyone': every member announces (no bound). */
export type AnnounceMode = 'bounded' | 'everyone'

export interface ScheduleOptions {
  mode: AnnounceMode
  /** The policy of 'bounded' mode (default the committed decideAnnounce; tests pass older rules to compare). */
  policy?: AnnouncePolicy
  jitterMs: number
  rounds: number
  intervalMs: number
  validityMs: number
}

export const DEFAULT_SCHEDULE: ScheduleOptions = { mode: 'bounded', jitterMs: 3600_000, rounds: 1, intervalMs: REPROVIDE_INTERVAL_MS, validityMs: PROVIDERS_VALIDITY_MS }

export interface ProviderSchedule {
  mode: AnnounceMode
  /** Network j's provider records are entries offsets[j] .. offsets[j + 1]. */
  offsets: Uint32Array
  provider: Int32Array
  /** When the record landed at the holders, and when it expires there (ms). */
  from: Float64Array
  until: Float64Array
  /** Each membership's first check time (same layout as population.members). */
  firstCheck: Float64Array
  /** Checks run and announcements made. */
  checks: number
  announcements: number
}

/** Draws lookup durations (ms) from a calibration sample. */
export function durationSampler (durations: ArrayLike<number>): (random: Random) => number {
  if (durations.length === 0) throw new RangeError('the calibration sample of lookup durations is empty')
  return (random) => durations[random.int(durations.length)] ?? 0
}

export function scheduleAnnouncements (
  pop: Population,
  holders: Int32Array,
  /** The overlay's node ids (its KeyTable's words): a provider's point in the key space. */
  ids: Uint32Array,
  k: number,
  lookupMs: (random: Random) => number,
  latency: LatencyModel,
  random: Random,
  options: ScheduleOptions
): ProviderSchedule {
  const firstCheck = new Float64Array(pop.members.length)
  const offsets = new Uint32Array(pop.networks + 1)
  let cap = options.mode === 'everyone' ? pop.members.length : Math.max(1024, pop.networks * 8)
  let provider = new Int32Array(cap)
  let from = new Float64Array(cap)
  let until = new Float64Array(cap)
  let used = 0
  let checks = 0
  let announcements = 0
  const policy = options.policy ?? decideAnnounce
  const order: number[] = []
  const observe: number[] = []
  let ownEntry = new Int32Array(0)
  // Whether the member's last check announced: as the real node's `providing`, which a
  // 'skip' clears at once (cancelReprovide) while its record lingers at the holders.
  let providingNow = new Uint8Array(0)
  for (let j = 0; j < pop.networks; j++) {
    offsets[j] = used
    const base = pop.offsets[j] ?? 0
    const size = (pop.offsets[j + 1] ?? 0) - base
    const nearest = holders[j * k] ?? 0
    for (let m = 0; m < size; m++) firstCheck[base + m] = random.between(0, options.jitterMs)
    const netStart = used
    if (ownEntry.length < size) {
      ownEntry = new Int32Array(size)
      providingNow = new Uint8Array(size)
    }
    ownEntry.fill(-1, 0, size)
    providingNow.fill(0, 0, size)
    for (let r = 0; r < options.rounds; r++) {
      order.length = 0
      observe.length = 0
      for (let m = 0; m < size; m++) {
        order.push(m)
        observe.push((firstCheck[base + m] ?? 0) + r * options.intervalMs + lookupMs(random))
      }
      order.sort((a, b) => (observe[a] ?? 0) - (observe[b] ?? 0) || a - b)
      for (const m of order) {
        const tau = observe[m] ?? 0
        const member = pop.members[base + m] ?? 0
        checks++
        const entry = ownEntry[m] ?? -1
        const own = entry >= 0 && (until[entry] ?? 0) > tau ? entry : -1
        let announce = true
        if (options.mode === 'bounded') {
          let others = 0
          for (let e = netStart; e < used; e++) {
            if (e !== own && (from[e] ?? 0) <= tau && tau < (until[e] ?? 0)) others++
          }
          const providing = own >= 0 && providingNow[m] === 1
          let closerOthers = 0
          if (rankMatters({ othersFound: others, providing })) {
            const seen: Uint8Array[] = []
            for (let e = netStart; e < used; e++) {
              if (e !== own && (from[e] ?? 0) <= tau && tau < (until[e] ?? 0)) seen.push(idBytes(ids, provider[e] ?? 0))
            }
            closerOthers = xorCloser(idBytes(ids, member), seen, idBytes(pop.keys.words, j))
          }
          announce = policy({ othersFound: others, providing, closerOthers }) === 'announce'
        }
        if (!announce) {
          providingNow[m] = 0
          continue
        }
        providingNow[m] = 1
        announcements++
        const land = tau + lookupMs(random) + latency.oneWay(member, nearest)
        if (own >= 0) {
          // A republish while the old record is still live: one continuous interval.
          until[own] = land + options.validityMs
          continue
        }
        if (used === cap) {
          cap *= 2
          provider = grow(provider, cap)
          from = grow(from, cap)
          until = grow(until, cap)
        }
        ownEntry[m] = used
        provider[used] = member
        from[used] = land
        until[used] = land + options.validityMs
        used++
      }
    }
  }
  offsets[pop.networks] = used
  return { mode: options.mode, offsets, provider: provider.slice(0, used), from: from.slice(0, used), until: until.slice(0, used), firstCheck, checks, announcements }
}

function grow<T extends Int32Array | Float64Array> (array: T, length: number): T {
  const out = new (array.constructor as new (n: number) => T)(length)
  out.set(array)
  return out
}

/** Live providers of network j at time t. */
export function liveCount (s: ProviderSchedule, j: number, t: number): number {
  let count = 0
  for (let e = s.offsets[j] ?? 0; e < (s.offsets[j + 1] ?? 0); e++) {
    if ((s.from[e] ?? 0) <= t && t < (s.until[e] ?? 0)) count++
  }
  return count
}

/**
 * Provider records each node holds at time t: every live record of a network is held by
 * each of the network's k nearest nodes (libp2p's provide() sends ADD_PROVIDER to the k
 * closest peers its lookup finds, which in a static overlay are the true k closest).
 */
export function recordsPerNode (s: ProviderSchedule, holders: Int32Array, k: number, nodes: number, t: number): Float64Array {
  const out = new Float64Array(nodes)
  const networks = s.offsets.length - 1
  for (let j = 0; j < networks; j++) {
    const live = liveCount(s, j, t)
    if (live === 0) continue
    for (let h = j * k; h < (j + 1) * k; h++) {
      const node = holders[h] ?? 0
      out[node] = (out[node] ?? 0) + live
    }
  }
  return out
}
