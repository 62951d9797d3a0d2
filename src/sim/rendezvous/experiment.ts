// The rendezvous experiment (issue 3, benchmark 3) in the deterministic simulator: how many
// hops a member needs to find a network's members, how many provider records each DHT
// node holds, and how much rendezvous traffic each node carries per hour — with the
// announce bound (decideAnnounce) and without it (every member announces).
//
// What is simulated how:
//   - hops: message-level Kademlia lookups (k = 20, alpha = 3) on overlays of 1k–30k
//     nodes (kademlia/hop-survey.ts);
//   - who announces when, for every member of every network: the announce schedule
//     (rendezvous/announce-schedule.ts), each member checking once at a uniformly random
//     moment of the jitter window, with lookup durations drawn from message-level
//     lookups on the same overlay (calibration);
//   - records per node: exact given the schedule (the k nodes nearest each key hold
//     every live record of that key);
//   - traffic: a uniform random sample of all checks run message by message against the
//     schedule's provider state, per-node counts scaled by 1 / sample fraction;
//   - validation: a few whole networks run message by message (every member's check, real
//     record storage), compared with the schedule's provider counts.
// Same seed, same numbers. `npm run bench -- rendezvous` and `peernet sim rendezvous` run it.

import { RENDEZVOUS_PROVIDERS, RENDEZVOUS_SURPLUS } from '../../networks/rendezvous/announce-policy.ts'
import { buildOverlay } from '../kademlia/overlay.ts'
import { KAD_ALPHA, KAD_K } from '../kademlia/dht.ts'
import { surveyHops } from '../kademlia/hop-survey.ts'
import type { HopSurvey } from '../kademlia/hop-survey.ts'
import { MapProviderStore, PROVIDERS_VALIDITY_MS, REPROVIDE_INTERVAL_MS } from '../kademlia/provider-store.ts'
import type { ProviderStore } from '../kademlia/provider-store.ts'
import { PEER_ENTRY_BYTES, REQUEST_OVERHEAD_BYTES, RESPONSE_OVERHEAD_BYTES } from '../kademlia/messages.ts'
import { summarize } from '../metrics.ts'
import type { Summary } from '../metrics.ts'
import { Random } from '../random.ts'
import { durationSampler, liveCount, recordsPerNode, scheduleAnnouncements } from './announce-schedule.ts'
import type { AnnounceMode, ProviderSchedule } from './announce-schedule.ts'
import { runAnnounceRounds } from './announce-rounds.ts'
import { sampleJoins } from './join-sample.ts'
import { makePopulation, membersOf, networkSize, placeHolders } from './population.ts'
import type { Population } from './population.ts'
import { ScheduledProviders } from './scheduled-providers.ts'
import { ZipfSampler } from './zipf.ts'

export interface RendezvousOptions {
  nodes: number
  networks: number
  /** Zipf exponent of network sizes, and their bounds (the maximum is capped at the node count). */
  exponent: number
  minSize: number
  maxSize: number
  /** First checks are uniform over this window (seconds). */
  jitterS: number
  /** Check rounds, one per republish interval (24 h); 1 = the first hour only. */
  rounds: number
  /** Fraction of all checks simulated message by message for traffic and hops. */
  sample: number
  seed: number
  /** Overlay sizes of the hop survey. */
  hopNodes: number[]
  hopLookups: number
  /** Run the records-per-node scaling grid. */
  grid: boolean
  /** Whole networks run message by message to validate the schedule model. */
  validate: number
  /** Shorter jitter windows (seconds) to show what the jitter buys. */
  jitterSensitivityS: number[]
}

/** The size: 10,000 nodes, 1,000,000 networks. */
export const DEFAULT_RENDEZVOUS_OPTIONS: Readonly<RendezvousOptions> = Object.freeze({
  nodes: 10_000,
  networks: 1_000_000,
  exponent: 2,
  minSize: 2,
  maxSize: 10_000,
  jitterS: 3600,
  rounds: 1,
  sample: 0.005,
  seed: 1,
  hopNodes: [1000, 3000, 10_000, 30_000],
  hopLookups: 1000,
  grid: true,
  validate: 4,
  jitterSensitivityS: [60, 600]
})

interface RecordsByMode {
  /** Provider records held per node at the end of the run. */
  bounded: Summary
  everyone: Summary
  /** Σ live providers × k / nodes: what the mean must be. */
  predictedMeanBounded: number
  predictedMeanEveryone: number
}

export interface ScalePoint extends RecordsByMode {
  nodes: number
  networks: number
  memberships: number
  networksPerNode: number
}

interface TrafficByMode {
  /** Per node, sent + received, per hour of the check window. */
  bytesPerNodePerHour: Summary
  messagesPerNodePerHour: Summary
  checks: number
  hopsToProvider: Summary
  foundNone: number
  getProvidersRequests: Summary
  othersFound: Summary
  announced: number
  announcedInLargeNetworks: number
  events: number
}

export interface ProviderBound {
  /** Networks with more members than RENDEZVOUS_PROVIDERS (the bound can only act on them). */
  largeNetworks: number
  /** Live providers per large network at the end. */
  providers: Summary
  /** Share of large networks ending with more than RENDEZVOUS_SURPLUS providers. */
  aboveSurplus: number
  /** Announcements per large network (including ones that since lapsed). */
  announcers: Summary
}

export interface ValidationRow {
  size: number
  /** Live providers at the end, message-level run. */
  messageLevel: number
  /** The same network in the schedule model. */
  schedule: number
  checks: number
}

export interface RendezvousResult {
  parameters: RendezvousOptions & { k: number, alpha: number, providersBound: number, surplus: number, validityH: number, republishH: number, requestOverheadBytes: number, responseOverheadBytes: number, peerEntryBytes: number }
  population: { memberships: number, meanSize: number, expectedMeanSize: number, networksPerNode: Summary, largestNetwork: number, sizeShares: Record<string, number> }
  hops: HopSurvey[]
  calibration: { lookups: number, durationMs: Summary }
  bound: { bounded: ProviderBound, everyone: ProviderBound }
  jitterSensitivity: Array<{ jitterS: number } & ProviderBound>
  records: RecordsByMode
  traffic: { bounded: TrafficByMode, everyone: TrafficByMode }
  validation: ValidationRow[]
  scaling: ScalePoint[]
  phaseSeconds: Record<string, number>
}

export type Progress = (line: string) => void

export async function runRendezvousExperiment (options: RendezvousOptions, progress: Progress): Promise<RendezvousResult> {
  const o = { ...options, maxSize: Math.min(options.maxSize, options.nodes) }
  const phaseSeconds: Record<string, number> = {}
  let t = performance.now()
  const lap = (phase: string): void => {
    const now = performance.now()
    phaseSeconds[phase] = Math.round((now - t) / 100) / 10
    progress(`rendezvous: ${phase} done in ${phaseSeconds[phase]} s (rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB)`)
    t = now
  }
  const yieldToLoop = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }
  const random = new Random(o.seed)
  const k = KAD_K
  const jitterMs = o.jitterS * 1000
  const endMs = (o.rounds - 1) * REPROVIDE_INTERVAL_MS + jitterMs + 60_000

  // 1. Hops against overlay size.
  const hops: HopSurvey[] = []
  for (const n of o.hopNodes) {
    hops.push(surveyHops(n, o.hopLookups, o.seed + n))
    await yieldToLoop()
  }
  lap('hop survey')

  // 2. The population and where its records live.
  const pop = makePopulation(o.nodes, o.networks, { exponent: o.exponent, min: o.minSize, max: o.maxSize }, random.fork())
  lap('population')
  const calibration = buildOverlay(o.nodes, o.seed, emptyStore)
  const durations: number[] = []
  const calRandom = random.fork()
  const calLookups = 2000
  for (let i = 0; i < calLookups; i++) {
    calibration.dht.findNode(calRandom.int(o.nodes), calRandom.fill(new Uint32Array(8)), (out) => { durations.push(out.durationMs) })
  }
  calibration.sim.run()
  const lookupMs = durationSampler(durations)
  const latency = calibration.latency
  const holders = placeHolders(pop, (target, count) => calibration.sorted.closest(target, count), k)
  lap('overlay, calibration and record placement')

  // 3. Who announces: with the bound and without.
  const scheduleOptions = { jitterMs, rounds: o.rounds, intervalMs: REPROVIDE_INTERVAL_MS, validityMs: PROVIDERS_VALIDITY_MS }
  const schedule = (mode: AnnounceMode, jitter = jitterMs): ProviderSchedule =>
    scheduleAnnouncements(pop, holders, calibration.ids.words, k, lookupMs, latency, random.fork(), { ...scheduleOptions, jitterMs: jitter, mode })
  const bounded = schedule('bounded')
  const everyone = schedule('everyone')
  const records: RecordsByMode = recordsOf(pop, bounded, everyone, holders, k, endMs)
  const bound = { bounded: providerBound(pop, bounded, endMs), everyone: providerBound(pop, everyone, endMs) }
  lap('announce schedules and records')
  const jitterSensitivity: Array<{ jitterS: number } & ProviderBound> = []
  for (const s of o.jitterSensitivityS) {
    const ms = s * 1000
    jitterSensitivity.push({ jitterS: s, ...providerBound(pop, schedule('bounded', ms), (o.rounds - 1) * REPROVIDE_INTERVAL_MS + ms + 60_000) })
    await yieldToLoop()
  }
  lap('jitter sensitivity')

  // 4. Traffic and hops of a sample of checks, message by message.
  const traffic = {
    bounded: joinTraffic(o, pop, bounded, holders, random.fork()),
    everyone: joinTraffic(o, pop, everyone, holders, random.fork())
  }
  lap('sampled checks (message level)')

  // 5. Whole networks message by message against the schedule model.
  const validation = validate(o, pop, bounded, random.fork(), endMs)
  lap('validation networks (message level)')

  // 6. How records per node scale with networks, and with networks and nodes together.
  const scaling: ScalePoint[] = [scalePoint(pop, records)]
  if (o.grid) {
    const points: Array<[number, number]> = [
      [o.nodes, Math.round(o.networks / 10)], [o.nodes, Math.round(o.networks * 3 / 10)],
      [Math.round(o.nodes / 10), Math.round(o.networks / 10)], [Math.round(o.nodes * 3 / 10), Math.round(o.networks * 3 / 10)]
    ]
    for (const [n, m] of points) {
      if (n < 2 * k || m < 1) continue
      const r = new Random(o.seed + n + m)
      const p = makePopulation(n, m, { exponent: o.exponent, min: o.minSize, max: Math.min(o.maxSize, n) }, r.fork())
      const overlay = buildOverlay(n, o.seed + n, emptyStore)
      const h = placeHolders(p, (target, count) => overlay.sorted.closest(target, count), k)
      const lat = overlay.latency
      const b = scheduleAnnouncements(p, h, overlay.ids.words, k, lookupMs, lat, r.fork(), { ...scheduleOptions, mode: 'bounded' })
      const e = scheduleAnnouncements(p, h, overlay.ids.words, k, lookupMs, lat, r.fork(), { ...scheduleOptions, mode: 'everyone' })
      scaling.push(scalePoint(p, recordsOf(p, b, e, h, k, endMs)))
      progress(`rendezvous: scaling point ${n} nodes × ${m} networks done`)
      await yieldToLoop()
    }
    scaling.sort((a, b) => a.nodes - b.nodes || a.networks - b.networks)
  }
  lap('scaling grid')

  const memberships = pop.members.length
  const perNode = new Float64Array(o.nodes)
  for (let i = 0; i < memberships; i++) perNode[pop.members[i] ?? 0] = (perNode[pop.members[i] ?? 0] ?? 0) + 1
  let largest = 0
  const shares = { '2–8': 0, '9–100': 0, '101–1000': 0, '>1000': 0 }
  for (let j = 0; j < pop.networks; j++) {
    const s = networkSize(pop, j)
    largest = Math.max(largest, s)
    if (s <= 8) shares['2–8']++
    else if (s <= 100) shares['9–100']++
    else if (s <= 1000) shares['101–1000']++
    else shares['>1000']++
  }
  for (const key of Object.keys(shares) as Array<keyof typeof shares>) shares[key] /= pop.networks

  return {
    parameters: {
      ...o,
      k,
      alpha: KAD_ALPHA,
      providersBound: RENDEZVOUS_PROVIDERS,
      surplus: RENDEZVOUS_SURPLUS,
      validityH: PROVIDERS_VALIDITY_MS / 3600_000,
      republishH: REPROVIDE_INTERVAL_MS / 3600_000,
      requestOverheadBytes: REQUEST_OVERHEAD_BYTES,
      responseOverheadBytes: RESPONSE_OVERHEAD_BYTES,
      peerEntryBytes: PEER_ENTRY_BYTES
    },
    population: {
      memberships,
      meanSize: memberships / pop.networks,
      expectedMeanSize: new ZipfSampler(pop.sizes).mean(),
      networksPerNode: summarize(perNode),
      largestNetwork: largest,
      sizeShares: shares
    },
    hops,
    calibration: { lookups: calLookups, durationMs: summarize(durations) },
    bound,
    jitterSensitivity,
    records,
    traffic,
    validation,
    scaling,
    phaseSeconds
  }
}

const emptyStore: ProviderStore = { providers: () => [], add: () => {} }

function recordsOf (pop: Population, bounded: ProviderSchedule, everyone: ProviderSchedule, holders: Int32Array, k: number, at: number): RecordsByMode {
  let liveB = 0
  let liveE = 0
  for (let j = 0; j < pop.networks; j++) {
    liveB += liveCount(bounded, j, at)
    liveE += liveCount(everyone, j, at)
  }
  return {
    bounded: summarize(recordsPerNode(bounded, holders, k, pop.nodes, at)),
    everyone: summarize(recordsPerNode(everyone, holders, k, pop.nodes, at)),
    predictedMeanBounded: liveB * k / pop.nodes,
    predictedMeanEveryone: liveE * k / pop.nodes
  }
}

function scalePoint (pop: Population, records: RecordsByMode): ScalePoint {
  return { nodes: pop.nodes, networks: pop.networks, memberships: pop.members.length, networksPerNode: pop.members.length / pop.nodes, ...records }
}

function providerBound (pop: Population, s: ProviderSchedule, at: number): ProviderBound {
  const live: number[] = []
  const announcers: number[] = []
  let above = 0
  for (let j = 0; j < pop.networks; j++) {
    if (networkSize(pop, j) <= RENDEZVOUS_PROVIDERS) continue
    const c = liveCount(s, j, at)
    live.push(c)
    announcers.push((s.offsets[j + 1] ?? 0) - (s.offsets[j] ?? 0))
    if (c > RENDEZVOUS_SURPLUS) above++
  }
  return { largeNetworks: live.length, providers: summarize(live), aboveSurplus: live.length === 0 ? 0 : above / live.length, announcers: summarize(announcers) }
}

function joinTraffic (o: RendezvousOptions, pop: Population, schedule: ProviderSchedule, holders: Int32Array, random: Random): TrafficByMode {
  const overlay = buildOverlay(o.nodes, o.seed, new ScheduledProviders(schedule, holders, KAD_K))
  const sample = sampleJoins(overlay, pop, schedule, o.sample, random)
  const perHour = 3600 / o.jitterS
  return {
    bytesPerNodePerHour: summarize(sample.bytesPerNode.map((b) => b * perHour)),
    messagesPerNodePerHour: summarize(sample.messagesPerNode.map((m) => m * perHour)),
    checks: sample.checks,
    hopsToProvider: sample.hopsToProvider,
    foundNone: sample.foundNone,
    getProvidersRequests: sample.findQueries,
    othersFound: sample.othersFound,
    announced: sample.announced,
    announcedInLargeNetworks: sample.announcedInLargeNetworks,
    events: sample.events
  }
}

function validate (o: RendezvousOptions, pop: Population, schedule: ProviderSchedule, random: Random, at: number): ValidationRow[] {
  if (o.validate <= 0) return []
  // The largest network, then random ones above the surplus.
  const chosen: number[] = []
  let largest = 0
  for (let j = 1; j < pop.networks; j++) if (networkSize(pop, j) > networkSize(pop, largest)) largest = j
  chosen.push(largest)
  for (let tries = 0; chosen.length < o.validate && tries < 100_000; tries++) {
    const j = random.int(pop.networks)
    if (networkSize(pop, j) > RENDEZVOUS_SURPLUS && !chosen.includes(j)) chosen.push(j)
  }
  const store = new MapProviderStore()
  const overlay = buildOverlay(o.nodes, o.seed, store)
  const nets = chosen.map((j) => ({ network: j, members: membersOf(pop, j), target: pop.keys.key(j) }))
  const result = runAnnounceRounds(overlay, store, nets, random, { jitterMs: o.jitterS * 1000, rounds: o.rounds, intervalMs: REPROVIDE_INTERVAL_MS, settleMs: 60_000 })
  const last = result.liveAfterRound[result.liveAfterRound.length - 1] ?? []
  return chosen.map((j, i) => ({ size: networkSize(pop, j), messageLevel: last[i] ?? 0, schedule: liveCount(schedule, j, at), checks: networkSize(pop, j) * o.rounds }))
}
