// Network sync on loopback: Peernet against hypercore, measured in the same run, round
// by round and interleaved, so a busy shared machine slows both alike.
//
//   peernet    a fresh node joins the source's chat network by invite and syncs its
//              N chat messages of 1 KiB (bench/fixtures/peernet-sync-*.ts)
//   hypercore  a fresh Hypercore (pinned 11.37.1) with the source's key replicates
//              its N blocks of 1 KiB over a TCP socket (bench/fixtures/hypercore-*.ts)
//
// Every side is its own process on 127.0.0.1. The data is made once, untimed, in a
// template directory; each round starts a new source process on it (Peernet's on a copy,
// since the receiver's join entry syncs back into the source) and a receiver with an
// empty home. The receiver times itself from its connect call until
// all N items are stored locally (for Peernet: in its log, ingested and verified), then
// spot-checks items against what the source wrote. Node start-up, opening the stores
// and Peernet's join are outside the clock.

import { rmSync } from 'node:fs'
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { median } from './statistics.ts'
import { spawnTracked, spawnUntilReady, within } from './spawned-process.ts'
import type { SpawnedProcess } from './spawned-process.ts'
import { BenchmarkError, BenchmarkTimeoutError, ProcessStartError } from './errors.ts'
import { ITEM_BYTES } from './fixtures/payload.ts'
import { HYPERCORE_VERSION } from './fixtures/hypercore.ts'

export const SYNC_SUBJECTS = ['peernet', 'hypercore'] as const
export type SyncSubject = typeof SYNC_SUBJECTS[number]

export const SYNC_LABELS: Record<SyncSubject, string> = {
  peernet: 'Peernet network sync (createPeernet, chat network)',
  hypercore: `hypercore ${HYPERCORE_VERSION} replication`
}

/** The size the issue asks for; runs at another size say so in their report. */
export const ISSUE_ENTRIES = 100_000
/** Goal: hypercore's time / Peernet's time at least this. */
export const SYNC_GOAL_RATIO = 5

export interface SyncOptions {
  /** Entries (Peernet) and blocks (hypercore) to sync, 1 KiB each. */
  entries: number
  /** Measured rounds; each runs both subjects once. */
  rounds: number
  /** Peernet entries per logs.append call when making the source (one batch signature each). */
  batch: number
  /** Where to write CPU profiles of the source and receiver processes; null for none. */
  cpuProfDir: string | null
}

export const DEFAULT_SYNC_OPTIONS: Readonly<SyncOptions> = Object.freeze({
  entries: 40_000,
  rounds: 3,
  batch: 1024,
  cpuProfDir: null
})

interface SubjectSummary {
  /** Median of the rounds' sync times. */
  seconds: number
  entriesPerSecond: number
  /** Payload MB/s (10^6 bytes): entries × 1024 bytes over the median time. */
  mbPerSecond: number
}

export interface SyncResult {
  parameters: SyncOptions & {
    itemBytes: number
    payloadBytes: number
    issueEntries: number
    hypercoreVersion: string
    timing: string
    commands: Record<SyncSubject, string[]>
  }
  /** Untimed: making the source data once. */
  setupSeconds: Record<SyncSubject, number>
  samples: {
    /** Per subject, seconds from connect to all items stored, in round order. */
    seconds: Record<SyncSubject, number[]>
    /** Per subject, milliseconds of that spent connecting. */
    connectMs: Record<SyncSubject, number[]>
    /** Longest event-loop stall in the Peernet receiver while syncing, ms, per round. */
    peernetMaxEventLoopStallMs: number[]
    /** CPU time (user + system) the Peernet receiver used over the timed span, seconds, per round. */
    peernetReceiverCpuSeconds: number[]
    /** 1-minute load average before each round. */
    loadAverage: number[]
  }
  order: SyncSubject[][]
  medians: Record<SyncSubject, SubjectSummary>
  /** hypercore time / Peernet time: per round and their median; > 1 means Peernet was faster. */
  ratio: { samples: number[], median: number, ofMedians: number, goal: number, met: boolean }
}

const REPO = resolve(import.meta.dirname, '..')
const FIXTURES = join(REPO, 'bench', 'fixtures')
const PEERNET_SOURCE = join(FIXTURES, 'peernet-sync-source.ts')
const PEERNET_SINK = join(FIXTURES, 'peernet-sync-sink.ts')
const HYPERCORE_SOURCE = join(FIXTURES, 'hypercore-source.ts')
const HYPERCORE_SINK = join(FIXTURES, 'hypercore-sink.ts')

const READY_TIMEOUT_MS = 30_000
/** Making the data or syncing it may take this long per item (slower fails), and at least this long. */
const MS_PER_ITEM = 10
const MIN_BOUND_MS = 60_000
/** A receiver that stores nothing new for this long has stalled. */
const STALL_MS = 30_000
const EXIT_WAIT_MS = 10_000

function boundMs (entries: number): number {
  return Math.max(MIN_BOUND_MS, entries * MS_PER_ITEM)
}

export async function measureSync (options: SyncOptions, progress: (line: string) => void): Promise<SyncResult> {
  if (!Number.isSafeInteger(options.entries) || options.entries < 1) throw new BenchmarkError(`entries must be a positive whole number, got ${options.entries}`)
  const root = await mkdtemp(join(tmpdir(), 'peernet-bench-sync-'))
  // The data can run to hundreds of MB: remove it even when Ctrl-C exits the run early.
  const removeOnExit = (): void => { try { rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }) } catch { /* children still dying */ } }
  process.once('exit', removeOnExit)
  if (options.cpuProfDir !== null) await mkdir(options.cpuProfDir, { recursive: true })
  try {
    const templates = { peernet: join(root, 'peernet-template'), hypercore: join(root, 'hypercore-template') }
    const made = await makeTemplates(options, templates, progress)

    const seconds: Record<SyncSubject, number[]> = { peernet: [], hypercore: [] }
    const connectMs: Record<SyncSubject, number[]> = { peernet: [], hypercore: [] }
    const peernetStallMs: number[] = []
    const peernetCpuSeconds: number[] = []
    const loadAverage: number[] = []
    const order: SyncSubject[][] = []
    for (let round = 0; round < options.rounds; round++) {
      const roundOrder = round % 2 === 0 ? [...SYNC_SUBJECTS] : [...SYNC_SUBJECTS].reverse()
      order.push(roundOrder)
      loadAverage.push(Math.round((loadavg()[0] ?? NaN) * 100) / 100)
      for (const subject of roundOrder) {
        const dir = join(root, `round-${round + 1}-${subject}`)
        const r = subject === 'peernet'
          ? await peernetRound(options, templates.peernet, made.peernetAuthor, dir, round, progress)
          : await hypercoreRound(options, templates.hypercore, dir, round, progress)
        await rm(dir, { recursive: true, force: true })
        seconds[subject].push(r.ms / 1000)
        connectMs[subject].push(Math.round(r.connectedMs * 10) / 10)
        if (r.maxEventLoopStallMs !== undefined) peernetStallMs.push(r.maxEventLoopStallMs)
        if (r.cpuMs !== undefined) peernetCpuSeconds.push(r.cpuMs / 1000)
        const rate = options.entries / (r.ms / 1000)
        progress(`sync round ${round + 1}/${options.rounds}: ${subject.padEnd(9)} ${(r.ms / 1000).toFixed(2)} s, ${rate.toFixed(0)} entries/s, ${(rate * ITEM_BYTES / 1e6).toFixed(2)} MB/s${r.cpuMs === undefined ? '' : `, receiver CPU ${(r.cpuMs / 1000).toFixed(2)} s`}`)
      }
    }

    const summary = (subject: SyncSubject): SubjectSummary => {
      const s = median(seconds[subject])
      return { seconds: s, entriesPerSecond: options.entries / s, mbPerSecond: options.entries * ITEM_BYTES / 1e6 / s }
    }
    const medians = { peernet: summary('peernet'), hypercore: summary('hypercore') }
    const perRound = seconds.hypercore.map((h, i) => h / (seconds.peernet[i] ?? NaN))
    const ratioMedian = median(perRound)
    return {
      parameters: {
        ...options,
        itemBytes: ITEM_BYTES,
        payloadBytes: options.entries * ITEM_BYTES,
        issueEntries: ISSUE_ENTRIES,
        hypercoreVersion: HYPERCORE_VERSION,
        timing: 'in the receiving process, from its connect call until all entries/blocks are stored there; start-up, store opening and the Peernet join are not timed',
        commands: {
          peernet: [
            `node ${relative(PEERNET_SOURCE)} create --home TEMPLATE --entries ${options.entries} --batch ${options.batch}`,
            `node ${relative(PEERNET_SOURCE)} serve --home COPY_OF_TEMPLATE`,
            `node ${relative(PEERNET_SINK)} --home FRESH --invite INVITE --address ADDR --entries ${options.entries} --author HEX --timeout-ms T --stall-ms S`
          ],
          hypercore: [
            `node ${relative(HYPERCORE_SOURCE)} create --dir TEMPLATE --entries ${options.entries}`,
            `node ${relative(HYPERCORE_SOURCE)} serve --dir TEMPLATE`,
            `node ${relative(HYPERCORE_SINK)} --dir FRESH --key HEX --port PORT --entries ${options.entries} --timeout-ms T --stall-ms S`
          ]
        }
      },
      setupSeconds: made.setupSeconds,
      samples: { seconds, connectMs, peernetMaxEventLoopStallMs: peernetStallMs, peernetReceiverCpuSeconds: peernetCpuSeconds, loadAverage },
      order,
      medians,
      ratio: { samples: perRound, median: ratioMedian, ofMedians: medians.hypercore.seconds / medians.peernet.seconds, goal: SYNC_GOAL_RATIO, met: ratioMedian >= SYNC_GOAL_RATIO }
    }
  } finally {
    process.removeListener('exit', removeOnExit)
    await rm(root, { recursive: true, force: true })
  }
}

// ---- the data, made once ---------------------------------------------------------------

async function makeTemplates (options: SyncOptions, dirs: Record<SyncSubject, string>, progress: (line: string) => void): Promise<{ setupSeconds: Record<SyncSubject, number>, peernetAuthor: string }> {
  const n = options.entries
  progress(`sync setup: hypercore source, ${n} blocks of ${ITEM_BYTES} bytes`)
  const hc = await runToLine({
    args: [HYPERCORE_SOURCE, 'create', '--dir', dirs.hypercore, '--entries', String(n)],
    line: 'ready',
    timeoutMs: boundMs(n),
    progress: (p) => { progress(`sync setup: hypercore ${JSON.stringify(p)}`) }
  })
  progress(`sync setup: hypercore source ready in ${(num(hc, 'setupMs') / 1000).toFixed(1)} s`)
  progress(`sync setup: Peernet source, ${n} chat messages of ${ITEM_BYTES} bytes in appends of ${options.batch} (untimed; bound ${boundMs(n) / 1000} s)`)
  const pn = await runToLine({
    args: [PEERNET_SOURCE, 'create', '--home', dirs.peernet, '--entries', String(n), '--batch', String(options.batch)],
    line: 'ready',
    timeoutMs: boundMs(n),
    progress: (p) => { progress(`sync setup: Peernet ${JSON.stringify(p)}`) }
  })
  const peernetSetup = num(pn, 'setupMs') / 1000
  progress(`sync setup: Peernet source ready in ${peernetSetup.toFixed(1)} s (${(n / peernetSetup).toFixed(0)} entries/s written)`)
  return { setupSeconds: { peernet: peernetSetup, hypercore: num(hc, 'setupMs') / 1000 }, peernetAuthor: str(pn, 'author') }
}

// ---- one round of each ----------------------------------------------------------------

interface SinkResult { ms: number, connectedMs: number, maxEventLoopStallMs?: number, cpuMs?: number }

async function peernetRound (options: SyncOptions, template: string, author: string, dir: string, round: number, progress: (line: string) => void): Promise<SinkResult> {
  const sourceHome = join(dir, 'source')
  await cp(template, sourceHome, { recursive: true })
  const source = await spawnUntilReady({ command: process.execPath, args: [...profileArgs(options, `peernet-source-round-${round + 1}`), PEERNET_SOURCE, 'serve', '--home', sourceHome], cwd: REPO, ready: /^ready: /, timeoutMs: READY_TIMEOUT_MS })
  try {
    const ready = readyValue(source)
    const entries = num(ready, 'entries')
    if (entries !== options.entries) throw new BenchmarkError(`the Peernet source holds ${entries} entries, expected ${options.entries}`)
    progress(`sync round ${round + 1}: Peernet receiving ${entries} entries (bound ${boundMs(entries) / 1000} s)`)
    const result = await runToLine({
      args: [...profileArgs(options, `peernet-sink-round-${round + 1}`), PEERNET_SINK, '--home', join(dir, 'sink'), '--invite', str(ready, 'invite'), '--address', str(ready, 'address'),
        '--entries', String(entries), '--author', author, '--timeout-ms', String(boundMs(entries)), '--stall-ms', String(STALL_MS)],
      line: 'result',
      timeoutMs: boundMs(entries) + READY_TIMEOUT_MS,
      progress: (p) => { progress(`sync round ${round + 1}: Peernet ${JSON.stringify(p)}`) }
    })
    return { ms: num(result, 'ms'), connectedMs: num(result, 'connectedMs'), maxEventLoopStallMs: num(result, 'maxEventLoopStallMs'), cpuMs: num(result, 'cpuMs') }
  } finally {
    await source.stop()
  }
}

async function hypercoreRound (options: SyncOptions, template: string, dir: string, round: number, progress: (line: string) => void): Promise<SinkResult> {
  // Served from the template itself: hypercore's storage refuses a copied directory
  // ("device file was moved unsafely"), and replicating to a reader leaves its blocks as they were.
  const source = await spawnUntilReady({ command: process.execPath, args: [...profileArgs(options, `hypercore-source-round-${round + 1}`), HYPERCORE_SOURCE, 'serve', '--dir', template], cwd: REPO, ready: /^ready: /, timeoutMs: READY_TIMEOUT_MS })
  try {
    const ready = readyValue(source)
    const entries = num(ready, 'entries')
    if (entries !== options.entries) throw new BenchmarkError(`the hypercore source holds ${entries} blocks, expected ${options.entries}`)
    progress(`sync round ${round + 1}: hypercore receiving ${entries} blocks (bound ${boundMs(entries) / 1000} s)`)
    const result = await runToLine({
      args: [...profileArgs(options, `hypercore-sink-round-${round + 1}`), HYPERCORE_SINK, '--dir', join(dir, 'sink'), '--key', str(ready, 'key'), '--port', String(num(ready, 'port')),
        '--entries', String(entries), '--timeout-ms', String(boundMs(entries)), '--stall-ms', String(STALL_MS)],
      line: 'result',
      timeoutMs: boundMs(entries) + READY_TIMEOUT_MS,
      progress: (p) => { progress(`sync round ${round + 1}: hypercore ${JSON.stringify(p)}`) }
    })
    return { ms: num(result, 'ms'), connectedMs: num(result, 'connectedMs') }
  } finally {
    await source.stop()
  }
}

function profileArgs (options: SyncOptions, name: string): string[] {
  return options.cpuProfDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir, '--cpu-prof-name', `${name}.cpuprofile`]
}

// ---- child processes that run to a report line ----------------------------------------

type Report = Record<string, unknown>

/**
 * Runs a fixture until it prints `LINE: {json}`, forwarding its `progress:` lines, then
 * waits (bounded) for it to exit on its own. Killed on timeout, on failure, and if this
 * process exits first.
 */
async function runToLine (options: { args: string[], line: 'ready' | 'result', timeoutMs: number, progress: (value: Report) => void }): Promise<Report> {
  // Invites run to a kilobyte: cut long arguments short in messages.
  const shown = `node ${options.args.map((arg) => arg.length > 100 ? `${arg.slice(0, 40)}…` : relative(arg)).join(' ')}`
  const { child, exited, stdout, describe } = spawnTracked(process.execPath, options.args, REPO, shown)
  try {
    const value = await new Promise<Report>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new BenchmarkTimeoutError(`no ${options.line} line within ${options.timeoutMs} ms from ${describe()}`)) }, options.timeoutMs)
      const settle = (): void => { clearTimeout(timer) }
      stdout.on('line', (l) => {
        const at = l.indexOf(': ')
        if (at < 0) return
        const kind = l.slice(0, at)
        if (kind !== 'progress' && kind !== options.line) return
        let parsed: Report
        try {
          parsed = JSON.parse(l.slice(at + 2)) as Report
        } catch {
          settle()
          reject(new BenchmarkError(`unreadable ${kind} line "${l}" from ${describe()}`))
          return
        }
        if (kind === 'progress') options.progress(parsed)
        else { settle(); resolve(parsed) }
      })
      child.once('error', (err) => { settle(); reject(new ProcessStartError(`cannot spawn ${describe()}: ${err.message}`, { cause: err })) })
      child.once('exit', (code, signal) => {
        // Let the last lines arrive before describing the failure.
        setImmediate(() => { settle(); reject(new ProcessStartError(`exited (${signal ?? `code ${code}`}) before its ${options.line} line: ${describe()}`)) })
      })
    })
    if (!await within(exited, EXIT_WAIT_MS)) throw new BenchmarkTimeoutError(`did not exit within ${EXIT_WAIT_MS} ms of its ${options.line} line: ${describe()}`)
    return value
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await within(exited, EXIT_WAIT_MS)
    }
  }
}

function readyValue (p: SpawnedProcess): Report {
  try {
    return JSON.parse(p.readyLine.slice('ready: '.length)) as Report
  } catch {
    throw new BenchmarkError(`unreadable ready line "${p.readyLine}"`)
  }
}

function num (r: Report, key: string): number {
  const v = r[key]
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new BenchmarkError(`report has no number "${key}": ${JSON.stringify(r)}`)
  return v
}

function str (r: Report, key: string): string {
  const v = r[key]
  if (typeof v !== 'string') throw new BenchmarkError(`report has no string "${key}": ${JSON.stringify(r)}`)
  return v
}

function relative (path: string): string {
  return path.startsWith(REPO + '/') ? path.slice(REPO.length + 1) : path
}
