// Cold start and idle memory of the Peernet daemon, against a bare libp2p process
// (bench/fixtures/bare-libp2p-node.ts: TCP + Noise + Yamux) measured in the same run.
//
// Cold start: spawn() to the ready line on stdout — `api: http://…` for the daemon,
// `address: /…` for the bare node — each run with a fresh temp home, the two kinds
// alternating. Idle RSS: VmRSS of each process after it has sat idle for `idleMs`
// past its ready line.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { median, percentile } from './statistics.ts'
import { spawnUntilReady } from './spawned-process.ts'
import type { SpawnedProcess } from './spawned-process.ts'
import { BenchmarkError } from './errors.ts'

export const STARTUP_SUBJECTS = ['bare-libp2p', 'peernet-daemon'] as const
export type StartupSubject = typeof STARTUP_SUBJECTS[number]

export const SUBJECT_LABELS: Record<StartupSubject, string> = {
  'bare-libp2p': 'bare libp2p process (TCP + Noise + Yamux)',
  'peernet-daemon': 'Peernet daemon'
}

export interface StartupOptions {
  /** Measured cold starts of each kind. */
  runs: number
  /** Rounds of the idle-memory measurement (both kinds each round). */
  idleRounds: number
  idleMs: number
  readyTimeoutMs: number
}

export const DEFAULT_STARTUP_OPTIONS: Readonly<StartupOptions> = Object.freeze({
  runs: 9,
  idleRounds: 2,
  idleMs: 5_000,
  readyTimeoutMs: 30_000
})

interface Summary { median: number, p90: number }

export interface StartupResult {
  parameters: StartupOptions & { commands: Record<StartupSubject, string> }
  samples: {
    coldStartMs: Record<StartupSubject, number[]>
    idleRssKiB: Record<StartupSubject, number[]>
  }
  coldStartMs: Record<StartupSubject, Summary>
  idleRssKiB: Record<StartupSubject, { median: number }>
  /** peernet-daemon / bare-libp2p: of the medians and p90s, and per run (the two kinds start back to back). */
  ratios: { coldStartMedian: number, coldStartP90: number, idleRssMedian: number, coldStartPerRun: { samples: number[], median: number } }
}

const REPO = resolve(import.meta.dirname, '..')
const BARE_FIXTURE = join(REPO, 'bench', 'fixtures', 'bare-libp2p-node.ts')
const DAEMON_MAIN = join(REPO, 'src', 'cli', 'main.ts')

/** One subject's process together with whatever it needs removed afterwards. */
interface Running { process: SpawnedProcess, cleanup: () => Promise<void> }

async function start (subject: StartupSubject, timeoutMs: number): Promise<Running> {
  if (subject === 'bare-libp2p') {
    const child = await spawnUntilReady({ command: nodeBinary(), args: [BARE_FIXTURE], cwd: REPO, ready: /^address: \//, timeoutMs })
    return { process: child, cleanup: async () => { await child.stop() } }
  }
  const home = await mkdtemp(join(tmpdir(), 'peernet-bench-daemon-'))
  const removeHome = async (): Promise<void> => { await rm(home, { recursive: true, force: true }) }
  try {
    const child = await spawnUntilReady({ command: nodeBinary(), args: daemonArgs(home), cwd: REPO, ready: /^api: http:\/\/127\.0\.0\.1:\d+/, timeoutMs })
    return { process: child, cleanup: async () => { try { await child.stop() } finally { await removeHome() } } }
  } catch (err) {
    await removeHome()
    throw err
  }
}

function nodeBinary (): string {
  return process.execPath
}

function daemonArgs (home: string): string[] {
  return [DAEMON_MAIN, 'daemon', '--home', home, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns']
}

export async function measureStartup (options: StartupOptions, progress: (line: string) => void): Promise<StartupResult> {
  const coldStartMs: Record<StartupSubject, number[]> = { 'bare-libp2p': [], 'peernet-daemon': [] }
  const idleRssKiB: Record<StartupSubject, number[]> = { 'bare-libp2p': [], 'peernet-daemon': [] }

  // One unrecorded start of each, so the first measured run does not pay for cold
  // file caches alone.
  for (const subject of STARTUP_SUBJECTS) {
    progress(`startup warm-up: ${subject}`)
    const r = await start(subject, options.readyTimeoutMs)
    await r.cleanup()
  }

  for (let run = 0; run < options.runs; run++) {
    const order = run % 2 === 0 ? STARTUP_SUBJECTS : [...STARTUP_SUBJECTS].reverse()
    for (const subject of order) {
      const r = await start(subject, options.readyTimeoutMs)
      await r.cleanup()
      coldStartMs[subject].push(r.process.readyMs)
      progress(`startup cold run ${run + 1}/${options.runs}: ${subject.padEnd(14)} ${r.process.readyMs.toFixed(0)} ms`)
    }
  }

  for (let round = 0; round < options.idleRounds; round++) {
    const running: Running[] = []
    try {
      for (const subject of STARTUP_SUBJECTS) running.push(await start(subject, options.readyTimeoutMs))
      progress(`startup idle round ${round + 1}/${options.idleRounds}: both ready, idling ${options.idleMs} ms`)
      await new Promise((resolve) => setTimeout(resolve, options.idleMs))
      STARTUP_SUBJECTS.forEach((subject, i) => {
        const rss = running[i]?.process.rssKiB() ?? null
        if (rss === null) throw new BenchmarkError(`cannot read VmRSS of the ${subject} process (no /proc/PID/status?)`)
        idleRssKiB[subject].push(rss)
        progress(`startup idle round ${round + 1}/${options.idleRounds}: ${subject.padEnd(14)} ${(rss / 1024).toFixed(1)} MiB RSS`)
      })
    } finally {
      await Promise.allSettled(running.map(async (r) => { await r.cleanup() }))
    }
  }

  const perRun = coldStartMs['peernet-daemon'].map((ms, i) => ms / (coldStartMs['bare-libp2p'][i] ?? NaN))
  const summary = (samples: number[]): Summary => ({ median: median(samples), p90: percentile(samples, 90) })
  const cold = { 'bare-libp2p': summary(coldStartMs['bare-libp2p']), 'peernet-daemon': summary(coldStartMs['peernet-daemon']) }
  const rss = { 'bare-libp2p': { median: median(idleRssKiB['bare-libp2p']) }, 'peernet-daemon': { median: median(idleRssKiB['peernet-daemon']) } }
  return {
    parameters: {
      ...options,
      commands: {
        'bare-libp2p': `node ${relative(BARE_FIXTURE)}`,
        'peernet-daemon': `node ${daemonArgs('TMP_HOME').map((a) => a === DAEMON_MAIN ? relative(a) : a).join(' ')}`
      }
    },
    samples: { coldStartMs, idleRssKiB },
    coldStartMs: cold,
    idleRssKiB: rss,
    ratios: {
      coldStartMedian: cold['peernet-daemon'].median / cold['bare-libp2p'].median,
      coldStartP90: cold['peernet-daemon'].p90 / cold['bare-libp2p'].p90,
      idleRssMedian: rss['peernet-daemon'].median / rss['bare-libp2p'].median,
      coldStartPerRun: { samples: perRun, median: median(perRun) }
    }
  }
}

function relative (path: string): string {
  return path.startsWith(REPO + '/') ? path.slice(REPO.length + 1) : path
}
