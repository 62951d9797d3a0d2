// Runs the benchmarks, writes one JSON per benchmark to bench/results/<name>.json and
// prints markdown tables for the README on stdout; progress goes to stderr.
//
//   node bench/run.ts [throughput] [startup] [sync] [idle] [rendezvous] [mesh-stream] [mesh-sim] [mesh-babeld] [social] [credit-sim] [credit-latency] [options]
//
// With no names it runs all of them. At their defaults throughput and startup take well
// under three minutes, sync about three more, idle about five (two idle minutes plus
// making and syncing 10,000 networks), mesh-babeld about thirteen per half (it needs root
// and the Debian packages babeld, nftables, iputils-ping), social about twenty (most of it
// making its million-post fixture); the options below make longer, steadier runs.

import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { DEFAULT_THROUGHPUT_OPTIONS, measureThroughput } from './throughput.ts'
import { DEFAULT_STARTUP_OPTIONS, measureStartup } from './startup.ts'
import { DEFAULT_SYNC_OPTIONS, measureSync } from './sync.ts'
import { DEFAULT_RENDEZVOUS_OPTIONS, measureRendezvous } from './rendezvous.ts'
import { DEFAULT_IDLE_OPTIONS, measureIdle } from './idle.ts'
import { DEFAULT_MESH_SIM_OPTIONS, measureMeshSim } from './mesh-sim.ts'
import { DEFAULT_MESH_BABELD_OPTIONS, MESH_SUBJECTS, measureMeshBabeld } from './mesh-babeld.ts'
import type { MeshSubject } from './mesh-babeld.ts'
import { creditSimTable, describeMachine, idleTable, machineLine, meshBabeldTable, meshSimTable, rendezvousTable, startupTable, syncTable, throughputTable } from './report.ts'
import { BenchmarkError } from './errors.ts'
import { DEFAULT_MESH_STREAM_OPTIONS, measureMeshStream, meshStreamTable } from './mesh-stream.ts'
import { DEFAULT_SOCIAL_OPTIONS, measureSocial, socialTable } from './social.ts'
import { DEFAULT_CREDIT_SIM_OPTIONS, measureCreditSim } from './credit-sim.ts'
import type { SocialOptions } from './social.ts'
import { DEFAULT_CREDIT_LATENCY_OPTIONS, creditLatencyTable, measureCreditLatency } from './credit-latency.ts'

const M = DEFAULT_MESH_BABELD_OPTIONS

const SO = DEFAULT_SOCIAL_OPTIONS

const USAGE = `usage: node bench/run.ts [throughput] [startup] [sync] [idle] [rendezvous] [mesh-stream] [mesh-sim] [mesh-babeld] [social] [credit-sim] [credit-latency] [options]

  --results-dir D   write the results JSON there instead of bench/results (runs at
                    other settings that must not replace the committed results)

throughput options:
  --rounds N        measured rounds, each running every setup once (default ${DEFAULT_THROUGHPUT_OPTIONS.rounds})
  --mib N           MiB per measured transfer (default ${DEFAULT_THROUGHPUT_OPTIONS.mib})
  --warmup-mib N    MiB per warm-up transfer (default ${DEFAULT_THROUGHPUT_OPTIONS.warmupMib})
  --chunk-kib N     KiB per write (default ${DEFAULT_THROUGHPUT_OPTIONS.chunkKib})
startup options:
  --runs N          cold starts of each process (default ${DEFAULT_STARTUP_OPTIONS.runs})
  --idle-rounds N   idle-memory rounds (default ${DEFAULT_STARTUP_OPTIONS.idleRounds})
  --idle-s N        seconds idle before reading RSS (default ${DEFAULT_STARTUP_OPTIONS.idleMs / 1000})
  --ready-timeout-s N  bound on each start (default ${DEFAULT_STARTUP_OPTIONS.readyTimeoutMs / 1000})
sync options:
  --rounds N        measured rounds, each syncing with Peernet and hypercore once (default ${DEFAULT_SYNC_OPTIONS.rounds})
  --entries N       1 KiB entries / blocks to sync (default ${DEFAULT_SYNC_OPTIONS.entries}; the issue's size is 100000)
  --batch N         Peernet entries per append when making the source (default ${DEFAULT_SYNC_OPTIONS.batch})
  --cpu-prof-dir D  write CPU profiles of every source and receiver process to D
idle options:
  --idle-networks N networks (Peernet) and topics (gossipsub) of the loaded pair (default ${DEFAULT_IDLE_OPTIONS.networks}, the issue's size)
  --idle-period-s N seconds every process sits idle between its two snapshots (default ${DEFAULT_IDLE_OPTIONS.idleMs / 1000})
  --settle-s N      seconds between the end of the initial sync and the first snapshot (default ${DEFAULT_IDLE_OPTIONS.settleMs / 1000})
rendezvous options (simulated; the defaults are the issue's size, about 3 minutes):
  --nodes N         DHT nodes (default ${DEFAULT_RENDEZVOUS_OPTIONS.nodes})
  --networks N      networks (default ${DEFAULT_RENDEZVOUS_OPTIONS.networks})
  --zipf X          Zipf exponent of network sizes (default ${DEFAULT_RENDEZVOUS_OPTIONS.exponent})
  --min-size N, --max-size N  network size bounds (default ${DEFAULT_RENDEZVOUS_OPTIONS.minSize}, ${DEFAULT_RENDEZVOUS_OPTIONS.maxSize}; max capped at --nodes)
  --jitter-s N      window of the members' first checks, seconds (default ${DEFAULT_RENDEZVOUS_OPTIONS.jitterS})
  --announce-rounds N  check rounds, one per 24 h republish interval (default ${DEFAULT_RENDEZVOUS_OPTIONS.rounds})
  --sample F        fraction of checks simulated message by message (default ${DEFAULT_RENDEZVOUS_OPTIONS.sample})
  --seed N          simulation seed (default ${DEFAULT_RENDEZVOUS_OPTIONS.seed})
  --hop-nodes LIST  overlay sizes of the hop survey (default ${DEFAULT_RENDEZVOUS_OPTIONS.hopNodes.join(',')})
  --hop-lookups N   lookups per overlay size (default ${DEFAULT_RENDEZVOUS_OPTIONS.hopLookups})
  --validate N      whole networks run message by message (default ${DEFAULT_RENDEZVOUS_OPTIONS.validate})
  --no-grid         skip the records-per-node scaling grid
mesh-stream options (about a minute at the defaults):
  --rounds N        rounds, each running every loss/delay setting once (default ${DEFAULT_MESH_STREAM_OPTIONS.rounds})
  --mib N           MiB per transfer (default ${DEFAULT_MESH_STREAM_OPTIONS.mib})
mesh-sim options (simulated; each scenario a \`peernet sim mesh\` process):
  --mesh-nodes N    nodes of the static and flapping runs (default ${DEFAULT_MESH_SIM_OPTIONS.nodes})
  --mesh-duration D measured virtual time of those runs (default ${DEFAULT_MESH_SIM_OPTIONS.duration})
  --mesh-flap R     link failures per minute of the flapping run (default ${DEFAULT_MESH_SIM_OPTIONS.flap})
  --mesh-traffic N  packets per second over the mesh (default ${DEFAULT_MESH_SIM_OPTIONS.traffic})
  --mesh-large-nodes N     nodes of the large run (default ${DEFAULT_MESH_SIM_OPTIONS.largeNodes})
  --mesh-large-duration D  its measured virtual time (default ${DEFAULT_MESH_SIM_OPTIONS.largeDuration})
  --mesh-no-large   skip the large run (100,000 nodes by default: about 50 minutes and 9 GiB of heap)
  --mesh-large-timeout-min N  bound on the large run; past it the others are reported without it (default ${DEFAULT_MESH_SIM_OPTIONS.largeTimeoutMs / 60_000})
  --mesh-location-nodes N  nodes of the location-service pair (static, service against oracle addresses; default ${DEFAULT_MESH_SIM_OPTIONS.locationNodes}, 0 skips)
  (--seed N is shared with rendezvous)
mesh-babeld options (Peernet's mesh against babeld on a grid of network namespaces; root):
  --grid RxC        grid of R rows × C columns, 10–30 nodes (default ${M.rows}x${M.cols})
  --only WHICH      babeld or peernet: run one half only (default both)
  --cuts N          link cuts per cut method (carrier, silent) (default ${M.cuts})
  --mesh-idle-s N   idle seconds over which control bytes are counted (default ${M.idleMs / 1000})
  --mesh-settle-s N seconds after convergence before the idle count (default ${M.settleMs / 1000})
  --restore-settle-s N  seconds after restoring a cut link before the next cut (default ${M.restoreSettleMs / 1000})
  --cut-timeout-s N bound on each recovery (default ${M.cutTimeoutMs / 1000})
  --probe-interval-ms N  the probe stream's interval, the resolution of every recovery figure (default ${M.probeIntervalMs})
  --peernet-args S  flags for \`peernet daemon\` besides home, listen and API (space-separated;
                    default "${M.peernetArgs.join(' ')}": UDP mesh links only, as babeld has)
  --mesh-port N     the mesh's UDP port, given to the daemons and counted as their control traffic (default ${M.meshPort})
social options (Peernet's social app; the index half against ssb-db2):
  --social-only WHICH  index or timeline: run one half only (default both)
  --social-rounds N    interleaved index rounds (default ${SO.rounds})
  --index-posts N, --index-authors N  the index fixture (default ${SO.indexPosts}, ${SO.indexAuthors})
  --timeline-posts N, --timeline-authors N, --timeline-networks N  the timeline fixture
                       (default ${SO.timelinePosts}, ${SO.timelineAuthors}, ${SO.timelineNetworks})
  --follows LIST       accounts followed, rising, one row each (default ${SO.follows.join(',')})
  --reads N            timed first-page reads per row (default ${SO.reads})
credit-sim options (simulated, about two minutes; --seed N is shared):
  --credit-payments N  payments per workload (default ${DEFAULT_CREDIT_SIM_OPTIONS.payments})
  --credit-graph FILE  also run on this CREDIT_LINKS trace
credit-latency options (four daemons in a line on loopback; D pays A over three hops):
  --latency-payments N    payments timed one at a time (default ${DEFAULT_CREDIT_LATENCY_OPTIONS.payments})
  --latency-burst N       payments in the throughput run (default ${DEFAULT_CREDIT_LATENCY_OPTIONS.burst})
  --latency-concurrency N of those, in flight at once (default ${DEFAULT_CREDIT_LATENCY_OPTIONS.concurrency})
  --latency-burst-warmup N  untimed payments run the same way just before (default ${DEFAULT_CREDIT_LATENCY_OPTIONS.burstWarmup}, 0 for none)
`

const BENCHMARKS = ['throughput', 'startup', 'sync', 'idle', 'rendezvous', 'mesh-stream', 'mesh-sim', 'mesh-babeld', 'social', 'credit-sim', 'credit-latency'] as const
type BenchmarkName = typeof BENCHMARKS[number]

const RESULTS_DIR = join(resolve(import.meta.dirname), 'results')

class UsageError extends BenchmarkError { override name = 'UsageError' }

function positive (value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got "${value}"`)
  return n
}

function parse (argv: string[]): { names: BenchmarkName[], resultsDir: string, run: Record<BenchmarkName, () => Promise<unknown>>, tables: Record<BenchmarkName, (r: unknown) => string> } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      rounds: { type: 'string' },
      mib: { type: 'string' },
      'warmup-mib': { type: 'string' },
      'chunk-kib': { type: 'string' },
      runs: { type: 'string' },
      'idle-rounds': { type: 'string' },
      'idle-s': { type: 'string' },
      'ready-timeout-s': { type: 'string' },
      entries: { type: 'string' },
      batch: { type: 'string' },
      'cpu-prof-dir': { type: 'string' },
      nodes: { type: 'string' },
      networks: { type: 'string' },
      zipf: { type: 'string' },
      'min-size': { type: 'string' },
      'max-size': { type: 'string' },
      'jitter-s': { type: 'string' },
      'announce-rounds': { type: 'string' },
      sample: { type: 'string' },
      seed: { type: 'string' },
      'hop-nodes': { type: 'string' },
      'hop-lookups': { type: 'string' },
      validate: { type: 'string' },
      'no-grid': { type: 'boolean' },
      'idle-networks': { type: 'string' },
      'idle-period-s': { type: 'string' },
      'settle-s': { type: 'string' },
      'results-dir': { type: 'string' },
      'mesh-nodes': { type: 'string' },
      'mesh-duration': { type: 'string' },
      'mesh-flap': { type: 'string' },
      'mesh-traffic': { type: 'string' },
      'mesh-large-nodes': { type: 'string' },
      'mesh-large-duration': { type: 'string' },
      'mesh-no-large': { type: 'boolean' },
      'mesh-large-timeout-min': { type: 'string' },
      'mesh-location-nodes': { type: 'string' },
      grid: { type: 'string' },
      only: { type: 'string' },
      cuts: { type: 'string' },
      'mesh-idle-s': { type: 'string' },
      'mesh-settle-s': { type: 'string' },
      'restore-settle-s': { type: 'string' },
      'cut-timeout-s': { type: 'string' },
      'probe-interval-ms': { type: 'string' },
      'peernet-args': { type: 'string' },
      'mesh-port': { type: 'string' },
      'social-only': { type: 'string' },
      'social-rounds': { type: 'string' },
      'index-posts': { type: 'string' },
      'index-authors': { type: 'string' },
      'timeline-posts': { type: 'string' },
      'timeline-authors': { type: 'string' },
      'timeline-networks': { type: 'string' },
      follows: { type: 'string' },
      'latency-payments': { type: 'string' },
      'latency-burst': { type: 'string' },
      'latency-concurrency': { type: 'string' },
      'latency-burst-warmup': { type: 'string' },
      reads: { type: 'string' },
      'credit-payments': { type: 'string' },
      'credit-graph': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) {
    process.stdout.write(USAGE)
    process.exit(0)
  }
  for (const p of positionals) {
    if (!(BENCHMARKS as readonly string[]).includes(p)) throw new UsageError(`unknown benchmark "${p}"; known: ${BENCHMARKS.join(', ')}`)
  }
  const names = positionals.length === 0 ? [...BENCHMARKS] : BENCHMARKS.filter((b) => positionals.includes(b))
  const d = DEFAULT_THROUGHPUT_OPTIONS
  const throughput = {
    rounds: Math.round(positive(values.rounds, '--rounds', d.rounds)),
    mib: positive(values.mib, '--mib', d.mib),
    warmupMib: positive(values['warmup-mib'], '--warmup-mib', d.warmupMib),
    chunkKib: positive(values['chunk-kib'], '--chunk-kib', d.chunkKib)
  }
  const s = DEFAULT_STARTUP_OPTIONS
  const startup = {
    runs: Math.round(positive(values.runs, '--runs', s.runs)),
    idleRounds: Math.round(positive(values['idle-rounds'], '--idle-rounds', s.idleRounds)),
    idleMs: positive(values['idle-s'], '--idle-s', s.idleMs / 1000) * 1000,
    readyTimeoutMs: positive(values['ready-timeout-s'], '--ready-timeout-s', s.readyTimeoutMs / 1000) * 1000
  }
  const y = DEFAULT_SYNC_OPTIONS
  const sync = {
    rounds: Math.round(positive(values.rounds, '--rounds', y.rounds)),
    entries: Math.round(positive(values.entries, '--entries', y.entries)),
    batch: Math.round(positive(values.batch, '--batch', y.batch)),
    cpuProfDir: values['cpu-prof-dir'] === undefined ? y.cpuProfDir : resolve(values['cpu-prof-dir'])
  }
  const z = DEFAULT_RENDEZVOUS_OPTIONS
  const sample = positive(values.sample, '--sample', z.sample)
  if (sample > 1) throw new UsageError(`--sample is a fraction in (0, 1], got ${sample}`)
  const rendezvous = {
    nodes: Math.round(positive(values.nodes, '--nodes', z.nodes)),
    networks: Math.round(positive(values.networks, '--networks', z.networks)),
    exponent: positive(values.zipf, '--zipf', z.exponent),
    minSize: Math.round(positive(values['min-size'], '--min-size', z.minSize)),
    maxSize: Math.round(positive(values['max-size'], '--max-size', z.maxSize)),
    jitterS: positive(values['jitter-s'], '--jitter-s', z.jitterS),
    rounds: Math.round(positive(values['announce-rounds'], '--announce-rounds', z.rounds)),
    sample,
    seed: values.seed === undefined ? z.seed : Math.round(Number(values.seed)),
    hopNodes: values['hop-nodes'] === undefined ? [...z.hopNodes] : values['hop-nodes'].split(',').map((v) => Math.round(positive(v, '--hop-nodes', 1))),
    hopLookups: Math.round(positive(values['hop-lookups'], '--hop-lookups', z.hopLookups)),
    grid: values['no-grid'] !== true,
    validate: values.validate === undefined ? z.validate : Math.max(0, Math.round(Number(values.validate))),
    jitterSensitivityS: [...z.jitterSensitivityS]
  }
  if (!Number.isFinite(rendezvous.seed) || !Number.isFinite(rendezvous.validate)) throw new UsageError('--seed and --validate must be numbers')
  const i = DEFAULT_IDLE_OPTIONS
  const idle = {
    networks: Math.round(positive(values['idle-networks'], '--idle-networks', i.networks)),
    idleMs: positive(values['idle-period-s'], '--idle-period-s', i.idleMs / 1000) * 1000,
    settleMs: positive(values['settle-s'], '--settle-s', i.settleMs / 1000) * 1000
  }
  const meshStream = {
    rounds: Math.round(positive(values.rounds, '--rounds', DEFAULT_MESH_STREAM_OPTIONS.rounds)),
    mib: positive(values.mib, '--mib', DEFAULT_MESH_STREAM_OPTIONS.mib)
  }
  const ms = DEFAULT_MESH_SIM_OPTIONS
  const meshSim = {
    ...ms,
    nodes: Math.round(positive(values['mesh-nodes'], '--mesh-nodes', ms.nodes)),
    duration: values['mesh-duration'] ?? ms.duration,
    flap: values['mesh-flap'] ?? ms.flap,
    traffic: positive(values['mesh-traffic'], '--mesh-traffic', ms.traffic),
    largeNodes: Math.round(positive(values['mesh-large-nodes'], '--mesh-large-nodes', ms.largeNodes)),
    largeDuration: values['mesh-large-duration'] ?? ms.largeDuration,
    large: values['mesh-no-large'] === true ? false : ms.large,
    largeTimeoutMs: positive(values['mesh-large-timeout-min'], '--mesh-large-timeout-min', ms.largeTimeoutMs / 60_000) * 60_000,
    locationNodes: values['mesh-location-nodes'] === '0' ? 0 : Math.round(positive(values['mesh-location-nodes'], '--mesh-location-nodes', ms.locationNodes)),
    seed: values.seed === undefined ? ms.seed : Math.round(Number(values.seed))
  }
  const gridMatch = /^(\d+)x(\d+)$/.exec(values.grid ?? `${M.rows}x${M.cols}`)
  if (gridMatch === null) throw new UsageError(`--grid must be RxC, e.g. 4x5, got "${values.grid ?? ''}"`)
  const [rows, cols] = [Number(gridMatch[1]), Number(gridMatch[2])]
  if (rows < 2 || cols < 2 || rows * cols < 10 || rows * cols > 30) throw new UsageError(`--grid must have 10–30 nodes and at least 2 rows and 2 columns, got ${rows}x${cols}`)
  if (values.only !== undefined && !(MESH_SUBJECTS as readonly string[]).includes(values.only)) throw new UsageError(`--only must be one of ${MESH_SUBJECTS.join(', ')}, got "${values.only}"`)
  const meshBabeld = {
    ...M,
    rows,
    cols,
    only: values.only === undefined ? [...MESH_SUBJECTS] : [values.only as MeshSubject],
    cuts: Math.round(positive(values.cuts, '--cuts', M.cuts)),
    idleMs: positive(values['mesh-idle-s'], '--mesh-idle-s', M.idleMs / 1000) * 1000,
    settleMs: positive(values['mesh-settle-s'], '--mesh-settle-s', M.settleMs / 1000) * 1000,
    restoreSettleMs: positive(values['restore-settle-s'], '--restore-settle-s', M.restoreSettleMs / 1000) * 1000,
    cutTimeoutMs: positive(values['cut-timeout-s'], '--cut-timeout-s', M.cutTimeoutMs / 1000) * 1000,
    probeIntervalMs: Math.round(positive(values['probe-interval-ms'], '--probe-interval-ms', M.probeIntervalMs)),
    peernetArgs: values['peernet-args'] === undefined ? M.peernetArgs : values['peernet-args'].split(' ').filter((a) => a !== ''),
    meshPort: Math.round(positive(values['mesh-port'], '--mesh-port', M.meshPort))
  }
  const socialOnly = values['social-only']
  if (socialOnly !== undefined && socialOnly !== 'index' && socialOnly !== 'timeline') throw new UsageError(`--social-only must be index or timeline, got "${socialOnly}"`)
  const social: SocialOptions = {
    rounds: Math.round(positive(values['social-rounds'], '--social-rounds', SO.rounds)),
    indexPosts: Math.round(positive(values['index-posts'], '--index-posts', SO.indexPosts)),
    indexAuthors: Math.round(positive(values['index-authors'], '--index-authors', SO.indexAuthors)),
    timelinePosts: Math.round(positive(values['timeline-posts'], '--timeline-posts', SO.timelinePosts)),
    timelineAuthors: Math.round(positive(values['timeline-authors'], '--timeline-authors', SO.timelineAuthors)),
    timelineNetworks: Math.round(positive(values['timeline-networks'], '--timeline-networks', SO.timelineNetworks)),
    follows: values.follows === undefined ? [...SO.follows] : values.follows.split(',').map((v) => Math.round(positive(v, '--follows', 1))),
    reads: Math.round(positive(values.reads, '--reads', SO.reads)),
    only: socialOnly ?? null
  }
  const creditSim = {
    ...DEFAULT_CREDIT_SIM_OPTIONS,
    payments: Math.round(positive(values['credit-payments'], '--credit-payments', DEFAULT_CREDIT_SIM_OPTIONS.payments)),
    seed: values.seed === undefined ? DEFAULT_CREDIT_SIM_OPTIONS.seed : Math.round(Number(values.seed)),
    graphFile: values['credit-graph'] === undefined ? null : resolve(values['credit-graph'])
  }
  const CL = DEFAULT_CREDIT_LATENCY_OPTIONS
  const creditLatency = {
    ...CL,
    payments: Math.round(positive(values['latency-payments'], '--latency-payments', CL.payments)),
    burst: Math.round(positive(values['latency-burst'], '--latency-burst', CL.burst)),
    concurrency: Math.round(positive(values['latency-concurrency'], '--latency-concurrency', CL.concurrency)),
    burstWarmup: values['latency-burst-warmup'] === '0' ? 0 : Math.round(positive(values['latency-burst-warmup'], '--latency-burst-warmup', CL.burstWarmup))
  }
  return {
    names,
    resultsDir: values['results-dir'] === undefined ? RESULTS_DIR : resolve(values['results-dir']),
    run: {
      throughput: async () => await measureThroughput(throughput, progress),
      startup: async () => await measureStartup(startup, progress),
      sync: async () => await measureSync(sync, progress),
      idle: async () => await measureIdle(idle, progress),
      rendezvous: async () => await measureRendezvous(rendezvous, progress),
      'mesh-stream': async () => await measureMeshStream(meshStream, progress),
      'mesh-sim': async () => await measureMeshSim(meshSim, progress),
      'mesh-babeld': async () => await measureMeshBabeld(meshBabeld, progress),
      social: async () => await measureSocial(social, progress),
      'credit-sim': async () => await measureCreditSim(creditSim, progress),
      'credit-latency': async () => await measureCreditLatency(creditLatency, progress)
    },
    tables: {
      throughput: (r) => throughputTable(r as Awaited<ReturnType<typeof measureThroughput>>),
      startup: (r) => startupTable(r as Awaited<ReturnType<typeof measureStartup>>),
      sync: (r) => syncTable(r as Awaited<ReturnType<typeof measureSync>>),
      idle: (r) => idleTable(r as Awaited<ReturnType<typeof measureIdle>>),
      rendezvous: (r) => rendezvousTable(r as Awaited<ReturnType<typeof measureRendezvous>>),
      'mesh-stream': (r) => meshStreamTable(r as Awaited<ReturnType<typeof measureMeshStream>>),
      'mesh-sim': (r) => meshSimTable(r as Awaited<ReturnType<typeof measureMeshSim>>),
      'mesh-babeld': (r) => meshBabeldTable(r as Awaited<ReturnType<typeof measureMeshBabeld>>),
      social: (r) => socialTable(r as Awaited<ReturnType<typeof measureSocial>>),
      'credit-sim': (r) => creditSimTable(r as Awaited<ReturnType<typeof measureCreditSim>>),
      'credit-latency': (r) => creditLatencyTable(r as Awaited<ReturnType<typeof measureCreditLatency>>)
    }
  }
}

function progress (line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`)
}

async function main (): Promise<number> {
  let plan: ReturnType<typeof parse>
  try {
    plan = parse(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  // Ctrl-C: exit through process.exit so the spawned processes are killed on the way out.
  process.once('SIGINT', () => { process.exit(130) })
  process.once('SIGTERM', () => { process.exit(143) })

  const machine = describeMachine()
  const sections: string[] = []
  let failed = 0
  mkdirSync(plan.resultsDir, { recursive: true })
  for (const name of plan.names) {
    const date = new Date().toISOString()
    const started = performance.now()
    progress(`${name}: starting`)
    try {
      const result = await plan.run[name]()
      const seconds = (performance.now() - started) / 1000
      const file = join(plan.resultsDir, `${name}.json`)
      writeFileSync(file, JSON.stringify({ benchmark: name, date, durationSeconds: Math.round(seconds * 10) / 10, machine, ...result as object }, null, 2) + '\n')
      progress(`${name}: done in ${seconds.toFixed(1)} s, wrote ${file}`)
      sections.push(`${plan.tables[name](result)}\n\n${machineLine(machine, date)}`)
    } catch (err) {
      failed++
      const e = err as Error
      progress(`${name}: FAILED: ${e.name}: ${e.message}`)
      sections.push(`**${name}**: failed — ${e.name}: ${e.message.split('\n')[0] ?? ''}`)
    }
  }
  process.stdout.write(sections.join('\n\n') + '\n')
  return failed === 0 ? 0 : 1
}

process.exit(await main())
