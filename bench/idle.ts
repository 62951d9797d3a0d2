// One node in N networks, idle: memory per network and bytes sent per network while
// nothing happens, Peernet against libp2p gossipsub measured in the same run.
//
//   peernet    two Peernet nodes (createPeernet, each its own process) in the same N
//              invite-only chat networks: one created them, the other joined each with
//              its invite (bench/fixtures/idle-peernet.ts). They connect over TCP on
//              127.0.0.1 and sync the N join entries; then they sit idle.
//   gossipsub  two stock libp2p nodes (the same TCP + Noise + Yamux stack, identify,
//              @libp2p/gossipsub pinned in package.json) subscribed to the same N topics
//              (bench/fixtures/idle-gossipsub.ts), connected, meshes grafted; then idle.
//
// Each subject runs as two pairs at once: a loaded pair in N networks and a baseline
// pair in one. Every process is snapshotted (bench/fixtures/idle-probe.ts) once started
// and before connecting ("at rest"); then each pair connects, syncs and settles, and
// every process is snapshotted, left idle for the idle period, and snapshotted again.
//
//   memory per network     (loaded − baseline) / (N − 1), from RSS and from V8 heap used,
//                          each read after two forced full GCs: at rest, and at the end
//                          of the idle period (after the first sync)
//   idle bytes per network  bytes sent on the subject's own protocol streams (Peernet's
//                          sync stream; gossipsub's meshsub streams) during the idle
//                          period, / N, per minute; and bytes written to the connection's
//                          TCP socket, (loaded − baseline) / (N − 1), per minute, which
//                          takes in everything (Noise, Yamux, pings, identify, DHT)
//   idle CPU per network   process CPU time during the idle period, (loaded − baseline) / (N − 1)
//   first sync per network  TCP bytes sent from connecting until the idle period began,
//                          (loaded − baseline) / (N − 1): what joining the pair cost

import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { spawnReporting, within } from './spawned-process.ts'
import type { ReportValue, ReportingProcess } from './spawned-process.ts'
import { BenchmarkError, BenchmarkTimeoutError } from './errors.ts'
import type { Snapshot } from './fixtures/idle-probe.ts'

export const IDLE_SUBJECTS = ['peernet', 'gossipsub'] as const
export type IdleSubject = typeof IDLE_SUBJECTS[number]
export const IDLE_PAIRS = ['loaded', 'baseline'] as const
export type IdlePair = typeof IDLE_PAIRS[number]
/** `first` listens (Peernet: created the networks); `second` dials it (Peernet: joined). */
export const IDLE_ROLES = ['first', 'second'] as const
export type IdleRole = typeof IDLE_ROLES[number]

/** Pinned in package.json's devDependencies. */
export const GOSSIPSUB_VERSION = '17.1.1'

export const IDLE_LABELS: Record<IdleSubject, string> = {
  peernet: 'Peernet (networks)',
  gossipsub: `libp2p gossipsub ${GOSSIPSUB_VERSION} (topics)`
}

/** The size the issue asks for; runs at another size say so in their report. */
export const ISSUE_NETWORKS = 10_000
/** The issue's goals: memory per network at most this, and no bytes per idle network. */
export const MEMORY_GOAL_BYTES = 2048
/** Networks (topics) of the baseline pair. */
export const BASELINE_NETWORKS = 1

export interface IdleOptions {
  /** Networks (Peernet) and topics (gossipsub) of the loaded pair; at least 2. */
  networks: number
  /** How long every process sits idle between the two snapshots. */
  idleMs: number
  /** Wait between the end of the initial sync and the first snapshot. */
  settleMs: number
}

export const DEFAULT_IDLE_OPTIONS: Readonly<IdleOptions> = Object.freeze({
  networks: ISSUE_NETWORKS,
  idleMs: 60_000,
  settleMs: 10_000
})

type PerRole<T> = Record<IdleRole, T>
type PerPair<T> = Record<IdlePair, T>

export interface NodeSamples {
  /** Started, not connected. */
  rest: Snapshot
  /** Synced and settled: the idle period begins. */
  start: Snapshot
  /** The idle period ends. */
  end: Snapshot
}

/** What one process did while idle, scaled to one minute. */
export interface IdleTotals {
  protocolBytesSentPerMinute: number
  tcpBytesSentPerMinute: number
  cpuMsPerMinute: number
  /** At the end of the idle period. */
  rssMiB: number
  heapUsedMiB: number
  /** Before connecting. */
  restRssMiB: number
  /** The highest RSS the process reached, by the end of the idle period. */
  peakRssMiB: number
}

export interface SubjectFigures {
  /** Per pair, seconds from telling the second node to connect until both nodes had synced. */
  syncSeconds: PerPair<number>
  totals: PerPair<PerRole<IdleTotals>>
  perNetwork: {
    /** After the first sync, at the end of the idle period. */
    rssBytes: PerRole<number> & { max: number }
    heapBytes: PerRole<number> & { max: number }
    /** Started in N networks, before connecting. */
    restRssBytes: PerRole<number> & { max: number }
    restHeapBytes: PerRole<number> & { max: number }
    /** Own-protocol bytes sent while idle, per network per minute, summed over both nodes. */
    protocolBytesPerMinute: number
    /** TCP bytes sent while idle, loaded − baseline, per network per minute, summed over both nodes. */
    tcpBytesPerMinute: number
    /** CPU while idle, loaded − baseline, per network per minute, summed over both nodes (µs). */
    cpuMicrosPerMinute: number
    /** TCP bytes sent from connecting until the idle period began (the first sync), loaded − baseline, per network, summed over both nodes. */
    firstSyncTcpBytes: number
  }
}

export interface IdleResult {
  parameters: IdleOptions & {
    baselineNetworks: number
    issueNetworks: number
    memoryGoalBytes: number
    gossipsubVersion: string
    method: string
    commands: Record<IdleSubject, string[]>
  }
  /** Untimed: making the Peernet homes (the networks, invites and joins). */
  setupSeconds: PerPair<number>
  /** 1-minute load average when each subject's idle period began. */
  loadAverage: Record<IdleSubject, number>
  samples: Record<IdleSubject, PerPair<PerRole<NodeSamples>>>
  figures: Record<IdleSubject, SubjectFigures>
  /** gossipsub / Peernet memory per network (> 1: Peernet uses less). */
  ratios: { rssPerNetwork: number, heapPerNetwork: number }
  goals: {
    memoryBytesPerNetwork: number
    /** Peernet's RSS per network after the first sync and the idle period, the worse of its two nodes, within the goal. */
    memoryMet: boolean
    /** The same at rest, before connecting. */
    restMemoryMet: boolean
    /** Not one byte on Peernet's sync streams while idle. */
    idleBytesMet: boolean
  }
}

const REPO = resolve(import.meta.dirname, '..')
const FIXTURES = join(REPO, 'bench', 'fixtures')
const PEERNET_FIXTURE = join(FIXTURES, 'idle-peernet.ts')
const GOSSIPSUB_FIXTURE = join(FIXTURES, 'idle-gossipsub.ts')

const READY_TIMEOUT_MS = 60_000
const SNAPSHOT_TIMEOUT_MS = 60_000
const EXIT_WAIT_MS = 30_000
/** Making the networks, or syncing them, may take this long per network (slower fails), and at least this long. */
const MS_PER_NETWORK = 30
const MIN_BOUND_MS = 120_000

function boundMs (networks: number): number {
  return Math.max(MIN_BOUND_MS, networks * MS_PER_NETWORK)
}

export async function measureIdle (options: IdleOptions, progress: (line: string) => void): Promise<IdleResult> {
  if (!Number.isSafeInteger(options.networks) || options.networks <= BASELINE_NETWORKS) throw new BenchmarkError(`networks must be a whole number above ${BASELINE_NETWORKS}, got ${options.networks}`)
  const root = await mkdtemp(join(tmpdir(), 'peernet-bench-idle-'))
  try {
    const counts: PerPair<number> = { loaded: options.networks, baseline: BASELINE_NETWORKS }
    const setupSeconds = { loaded: 0, baseline: 0 }
    const expected = { loaded: 0, baseline: 0 }
    for (const pair of IDLE_PAIRS) {
      progress(`idle setup: Peernet ${pair} pair, ${counts[pair]} networks created on one home and joined by invite on the other (untimed; bound ${boundMs(counts[pair]) / 1000} s)`)
      const made = await setupPeernet(root, pair, counts[pair], progress)
      setupSeconds[pair] = made.seconds
      expected[pair] = made.entries
      progress(`idle setup: Peernet ${pair} pair ready in ${made.seconds.toFixed(1)} s`)
    }

    const samples = {} as Record<IdleSubject, PerPair<PerRole<NodeSamples>>>
    const syncSeconds = {} as Record<IdleSubject, PerPair<number>>
    const load = {} as Record<IdleSubject, number>
    for (const subject of IDLE_SUBJECTS) {
      const args = (pair: IdlePair, role: IdleRole): string[] => subject === 'peernet'
        ? ['--expose-gc', PEERNET_FIXTURE, 'serve', '--home', home(root, pair, role), '--expect-entries', String(expected[pair])]
        : ['--expose-gc', GOSSIPSUB_FIXTURE, '--topics', String(counts[pair])]
      const r = await runSubject(subject, options, counts, args, (l) => { load[subject] = l }, progress)
      samples[subject] = r.samples
      syncSeconds[subject] = r.syncSeconds
    }

    const figures = {
      peernet: figuresOf(samples.peernet, syncSeconds.peernet, options),
      gossipsub: figuresOf(samples.gossipsub, syncSeconds.gossipsub, options)
    }
    const pn = figures.peernet.perNetwork
    const gs = figures.gossipsub.perNetwork
    const idleSyncBytes = IDLE_ROLES.reduce((sum, role) => sum + sentWhileIdle(samples.peernet.loaded[role], 'streams'), 0)
    return {
      parameters: {
        ...options,
        baselineNetworks: BASELINE_NETWORKS,
        issueNetworks: ISSUE_NETWORKS,
        memoryGoalBytes: MEMORY_GOAL_BYTES,
        gossipsubVersion: GOSSIPSUB_VERSION,
        method: 'a loaded pair (N networks/topics) and a baseline pair (1) of each subject run at once; each process is snapshotted (two forced GCs, then memory, CPU time, TCP socket bytes, protocol stream bytes) once started and before connecting, then after its pair has synced and settled, and again after the idle period. Memory per network = (loaded − baseline) / (N − 1), at rest and at the end of the idle period; protocol bytes per network = the loaded pair\'s idle bytes / N; TCP bytes and CPU per network = (loaded − baseline) / (N − 1); idle CPU leaves out the snapshots\' own GCs; bytes and CPU scaled to one minute',
        commands: {
          peernet: [
            `node ${relative(PEERNET_FIXTURE)} setup --creator HOME_1 --joiner HOME_2 --networks N`,
            `node --expose-gc ${relative(PEERNET_FIXTURE)} serve --home HOME_1 --expect-entries E`,
            `node --expose-gc ${relative(PEERNET_FIXTURE)} serve --home HOME_2 --expect-entries E   (then "connect ADDR_1" on its stdin)`
          ],
          gossipsub: [
            `node --expose-gc ${relative(GOSSIPSUB_FIXTURE)} --topics N`,
            `node --expose-gc ${relative(GOSSIPSUB_FIXTURE)} --topics N   (then "connect ADDR_1" on its stdin)`
          ]
        }
      },
      setupSeconds,
      loadAverage: load,
      samples,
      figures,
      ratios: { rssPerNetwork: gs.rssBytes.max / pn.rssBytes.max, heapPerNetwork: gs.heapBytes.max / pn.heapBytes.max },
      goals: { memoryBytesPerNetwork: MEMORY_GOAL_BYTES, memoryMet: pn.rssBytes.max <= MEMORY_GOAL_BYTES, restMemoryMet: pn.restRssBytes.max <= MEMORY_GOAL_BYTES, idleBytesMet: idleSyncBytes === 0 }
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

function home (root: string, pair: IdlePair, role: IdleRole): string {
  return join(root, `peernet-${pair}-${role}`)
}

async function setupPeernet (root: string, pair: IdlePair, networks: number, progress: (line: string) => void): Promise<{ seconds: number, entries: number }> {
  const p = spawnReporting(process.execPath, [PEERNET_FIXTURE, 'setup', '--creator', home(root, pair, 'first'), '--joiner', home(root, pair, 'second'), '--networks', String(networks)], REPO)
  try {
    p.onProgress((v) => { progress(`idle setup: Peernet ${pair} ${JSON.stringify(v)}`) })
    const ready = await p.next('ready', boundMs(networks))
    if (!await within(p.exited, EXIT_WAIT_MS)) throw new BenchmarkTimeoutError(`did not exit within ${EXIT_WAIT_MS} ms of its ready line: ${p.describe()}`)
    const entries = ready.entries as { creator?: unknown, joiner?: unknown } | undefined
    if (typeof entries?.creator !== 'number' || typeof entries.joiner !== 'number') throw new BenchmarkError(`setup reported no entry counts: ${JSON.stringify(ready)}`)
    // The two homes' chains are disjoint: after sync each holds both.
    return { seconds: num(ready, 'setupMs') / 1000, entries: entries.creator + entries.joiner }
  } finally {
    await p.stop()
  }
}

async function runSubject (
  subject: IdleSubject,
  options: IdleOptions,
  counts: PerPair<number>,
  args: (pair: IdlePair, role: IdleRole) => string[],
  loadAtIdle: (load: number) => void,
  progress: (line: string) => void
): Promise<{ samples: PerPair<PerRole<NodeSamples>>, syncSeconds: PerPair<number> }> {
  const running: Array<{ pair: IdlePair, role: IdleRole, process: ReportingProcess }> = []
  const spawn = (pair: IdlePair, role: IdleRole): ReportingProcess => {
    const argv = args(pair, role)
    const p = spawnReporting(process.execPath, argv, REPO, `node ${argv.map(relative).join(' ')}`)
    p.onProgress((v) => { if (v.synced !== true) progress(`idle ${subject} ${pair} ${role}: ${JSON.stringify(v)}`) })
    running.push({ pair, role, process: p })
    return p
  }
  try {
    const addresses = { loaded: '', baseline: '' }
    for (const pair of IDLE_PAIRS) {
      progress(`idle ${subject}: starting the ${pair} pair (${counts[pair]} ${subject === 'peernet' ? 'networks' : 'topics'})`)
      for (const role of IDLE_ROLES) {
        const ready = await spawn(pair, role).next('ready', READY_TIMEOUT_MS)
        if (role === 'first') addresses[pair] = str(ready, 'address')
      }
    }
    const rests = await snapshotAll(running.map((r) => r.process))
    const syncing: Array<Promise<{ pair: IdlePair, seconds: number }>> = []
    for (const pair of IDLE_PAIRS) {
      const both = running.filter((r) => r.pair === pair).map((r) => r.process)
      const second = running.find((r) => r.pair === pair && r.role === 'second')?.process
      if (second === undefined) throw new BenchmarkError(`no second node in the ${pair} pair`)
      const started = performance.now()
      second.command(`connect ${addresses[pair]}`)
      const synced = (v: ReportValue): boolean => v.synced === true
      syncing.push(Promise.all([second.next('progress', READY_TIMEOUT_MS, (v) => v.connected === true), ...both.map(async (p) => await p.next('progress', boundMs(counts[pair]), synced))])
        .then(() => ({ pair, seconds: (performance.now() - started) / 1000 })))
    }
    const syncSeconds = { loaded: NaN, baseline: NaN }
    for (const s of await Promise.all(syncing)) syncSeconds[s.pair] = s.seconds
    progress(`idle ${subject}: synced (loaded pair in ${syncSeconds.loaded.toFixed(1)} s); settling ${options.settleMs / 1000} s`)
    await sleep(options.settleMs)

    const starts = await snapshotAll(running.map((r) => r.process))
    loadAtIdle(Math.round((loadavg()[0] ?? NaN) * 100) / 100)
    progress(`idle ${subject}: idle for ${options.idleMs / 1000} s`)
    await sleep(options.idleMs)
    const ends = await snapshotAll(running.map((r) => r.process))

    const samples = { loaded: {}, baseline: {} } as PerPair<PerRole<NodeSamples>>
    running.forEach((r, i) => {
      const rest = rests[i] as Snapshot
      const start = starts[i] as Snapshot
      const end = ends[i] as Snapshot
      const what = `${subject} ${r.pair} ${r.role}`
      if (start.connections !== 1 || end.connections !== 1) throw new BenchmarkError(`${what}: expected one connection throughout, had ${start.connections} then ${end.connections}`)
      if (start.streamIds.length === 0) throw new BenchmarkError(`${what}: no ${subject === 'peernet' ? 'sync' : 'meshsub'} stream open after sync`)
      if (start.streamIds.join() !== end.streamIds.join()) throw new BenchmarkError(`${what}: its protocol streams changed while idle (${start.streamIds.join(', ')} → ${end.streamIds.join(', ')}), so their byte counts do not cover the idle period`)
      const node = { rest, start, end }
      samples[r.pair][r.role] = node
      progress(`idle ${subject} ${r.pair} ${r.role}: sent ${sentWhileIdle(node, 'streams')} protocol bytes, ${sentWhileIdle(node, 'tcp')} TCP bytes while idle; RSS ${mib(rest.rss)} MiB at rest, ${mib(end.rss)} MiB after (peak ${mib(end.peakRss ?? NaN)}), heap ${mib(rest.heapUsed)} → ${mib(end.heapUsed)} MiB`)
    })
    return { samples, syncSeconds }
  } finally {
    await Promise.allSettled(running.map(async (r) => { await r.process.stop() }))
  }
}

async function snapshotAll (processes: ReportingProcess[]): Promise<Snapshot[]> {
  return await Promise.all(processes.map(async (p) => {
    const answer = p.next('snapshot', SNAPSHOT_TIMEOUT_MS)
    p.command('snapshot')
    return (await answer) as unknown as Snapshot
  }))
}

function sentWhileIdle (s: Pick<NodeSamples, 'start' | 'end'>, counter: 'streams' | 'tcp'): number {
  return s.end[counter].sent - s.start[counter].sent
}

/** TCP bytes both nodes of a pair sent before the idle period: the socket counts from the connection's start. */
function firstSync (pair: PerRole<NodeSamples>): number {
  return pair.first.start.tcp.sent + pair.second.start.tcp.sent
}

function figuresOf (samples: PerPair<PerRole<NodeSamples>>, syncSeconds: PerPair<number>, options: IdleOptions): SubjectFigures {
  const perMinute = 60_000 / options.idleMs
  const extra = options.networks - BASELINE_NETWORKS
  const totalsOf = (s: NodeSamples): IdleTotals => ({
    protocolBytesSentPerMinute: sentWhileIdle(s, 'streams') * perMinute,
    tcpBytesSentPerMinute: sentWhileIdle(s, 'tcp') * perMinute,
    // From after the first snapshot's GCs to before the second's: the snapshots' own work left out.
    cpuMsPerMinute: (s.end.cpuMicrosBeforeGc - s.start.cpuMicros) / 1000 * perMinute,
    rssMiB: s.end.rss / 2 ** 20,
    heapUsedMiB: s.end.heapUsed / 2 ** 20,
    restRssMiB: s.rest.rss / 2 ** 20,
    peakRssMiB: (s.end.peakRss ?? NaN) / 2 ** 20
  })
  const totals = {
    loaded: { first: totalsOf(samples.loaded.first), second: totalsOf(samples.loaded.second) },
    baseline: { first: totalsOf(samples.baseline.first), second: totalsOf(samples.baseline.second) }
  }
  const memory = (key: 'rss' | 'heapUsed', when: 'rest' | 'end'): PerRole<number> & { max: number } => {
    const first = (samples.loaded.first[when][key] - samples.baseline.first[when][key]) / extra
    const second = (samples.loaded.second[when][key] - samples.baseline.second[when][key]) / extra
    return { first, second, max: Math.max(first, second) }
  }
  const sum = (pair: IdlePair, f: (t: IdleTotals) => number): number => f(totals[pair].first) + f(totals[pair].second)
  return {
    syncSeconds,
    totals,
    perNetwork: {
      rssBytes: memory('rss', 'end'),
      heapBytes: memory('heapUsed', 'end'),
      restRssBytes: memory('rss', 'rest'),
      restHeapBytes: memory('heapUsed', 'rest'),
      protocolBytesPerMinute: sum('loaded', (t) => t.protocolBytesSentPerMinute) / options.networks,
      tcpBytesPerMinute: (sum('loaded', (t) => t.tcpBytesSentPerMinute) - sum('baseline', (t) => t.tcpBytesSentPerMinute)) / extra,
      cpuMicrosPerMinute: (sum('loaded', (t) => t.cpuMsPerMinute) - sum('baseline', (t) => t.cpuMsPerMinute)) * 1000 / extra,
      firstSyncTcpBytes: (firstSync(samples.loaded) - firstSync(samples.baseline)) / extra
    }
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

function mib (bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1)
}

function num (r: ReportValue, key: string): number {
  const v = r[key]
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new BenchmarkError(`report has no number "${key}": ${JSON.stringify(r)}`)
  return v
}

function str (r: ReportValue, key: string): string {
  const v = r[key]
  if (typeof v !== 'string') throw new BenchmarkError(`report has no string "${key}": ${JSON.stringify(r)}`)
  return v
}

function relative (path: string): string {
  return path.startsWith(REPO + '/') ? path.slice(REPO.length + 1) : path
}
