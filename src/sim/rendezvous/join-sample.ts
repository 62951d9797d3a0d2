// Rendezvous traffic, hop counts and lookup costs measured message by message for a
// uniform random sample of all (member, network) first checks. Each sampled check runs at
// the same moment the announce schedule gave that member, against the schedule's provider
// state, so what it finds is what it would have found in the full run. Traffic counters
// then estimate the full population's by scaling with 1 / fraction: every check is equally
// likely to be sampled, so the scaled count is an unbiased estimate for every node.

import { decideAnnounce, RENDEZVOUS_PROVIDERS } from '../../networks/rendezvous/announce-policy.ts'
import type { Overlay } from '../kademlia/overlay.ts'
import { summarize } from '../metrics.ts'
import type { Summary } from '../metrics.ts'
import type { Random } from '../random.ts'
import type { ProviderSchedule } from './announce-schedule.ts'
import { EVERY_MEMBER_ANNOUNCES, rendezvousCheck } from './member-check.ts'
import type { Population } from './population.ts'

export interface JoinSample {
  fraction: number
  checks: number
  /** Hops until the first answer carrying a provider record (checks that found one). */
  hopsToProvider: Summary
  /** Checks that found no provider at all (only when nobody had announced yet). */
  foundNone: number
  /** GET_PROVIDERS requests per check. */
  findQueries: Summary
  /** Providers a check saw (capped at RENDEZVOUS_SURPLUS by the early stop). */
  othersFound: Summary
  /** Checks that decided to announce, and thereby ran provide(). */
  announced: number
  /** Share of sampled checks in networks above RENDEZVOUS_PROVIDERS members that announced. */
  announcedInLargeNetworks: number
  /** Per-node totals over the run, scaled by 1 / fraction (bytes, messages; sent + received). */
  bytesPerNode: Float64Array
  messagesPerNode: Float64Array
  events: number
}

export function sampleJoins (overlay: Overlay, pop: Population, schedule: ProviderSchedule, fraction: number, random: Random): JoinSample {
  const policy = schedule.mode === 'everyone' ? EVERY_MEMBER_ANNOUNCES : decideAnnounce
  const hops: number[] = []
  const queries: number[] = []
  const found: number[] = []
  let checks = 0
  let foundNone = 0
  let announced = 0
  let largeChecks = 0
  let largeAnnounced = 0
  for (let j = 0; j < pop.networks; j++) {
    const base = pop.offsets[j] ?? 0
    const size = (pop.offsets[j + 1] ?? 0) - base
    const target = pop.keys.words.subarray(j * 8, j * 8 + 8)
    for (let m = 0; m < size; m++) {
      if (random.float() >= fraction) continue
      const member = pop.members[base + m] ?? 0
      checks++
      overlay.sim.at(schedule.firstCheck[base + m] ?? 0, () => {
        rendezvousCheck(overlay.dht, member, j, target, false, (outcome) => {
          if (outcome.find.hopsToFirstProvider >= 0) hops.push(outcome.find.hopsToFirstProvider)
          else foundNone++
          queries.push(outcome.find.queries)
          found.push(outcome.othersFound)
          const isAnnounce = outcome.decision === 'announce'
          if (isAnnounce) announced++
          if (size > RENDEZVOUS_PROVIDERS) {
            largeChecks++
            if (isAnnounce) largeAnnounced++
          }
        }, policy)
      })
    }
  }
  const before = overlay.sim.processed
  overlay.sim.run()
  const scale = 1 / fraction
  const bytesPerNode = overlay.sim.traffic.totalBytes().map((b) => b * scale)
  const messagesPerNode = overlay.sim.traffic.totalMessages().map((m) => m * scale)
  return {
    fraction,
    checks,
    hopsToProvider: summarize(hops),
    foundNone,
    findQueries: summarize(queries),
    othersFound: summarize(found),
    announced,
    announcedInLargeNetworks: largeChecks === 0 ? NaN : largeAnnounced / largeChecks,
    bytesPerNode,
    messagesPerNode,
    events: overlay.sim.processed - before
  }
}
