// A child process the startup benchmark spawns and times: started, watched on stdout
// until its ready line, measured, and always stopped — SIGTERM, then SIGKILL, each wait
// bounded. Every live child is also killed if this process exits first.

import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Interface } from 'node:readline'
import { ProcessStartError, BenchmarkTimeoutError } from './errors.ts'

export interface SpawnOptions {
  command: string
  args: readonly string[]
  cwd: string
  /** The stdout line that says the process is ready. */
  ready: RegExp
  timeoutMs: number
}

export interface SpawnedProcess {
  readonly pid: number
  /** Milliseconds from spawn() to the ready line. */
  readonly readyMs: number
  readonly readyLine: string
  /** VmRSS from /proc/PID/status, in KiB; null where there is no /proc. */
  rssKiB: () => number | null
  stop: () => Promise<void>
}

const STOP_GRACE_MS = 5_000
const KILL_WAIT_MS = 2_000
const STDERR_TAIL_LINES = 20

const live = new Set<ChildProcess>()
let exitHookInstalled = false

function installExitHook (): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL')
  })
}

export interface TrackedChild {
  child: ChildProcess
  /** Resolves once the process has exited (or failed to spawn). */
  exited: Promise<void>
  stdout: Interface
  /** The command line (as `shown`) and the last lines of its stderr, for error messages. */
  describe: () => string
}

/**
 * Spawns a child that is killed if this process exits first, and keeps the tail of its
 * stderr for error messages. The one way benchmarks start their helper processes.
 */
export function spawnTracked (command: string, args: readonly string[], cwd: string, shown = `${command} ${args.join(' ')}`): TrackedChild {
  installExitHook()
  const child = spawn(command, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] })
  live.add(child)
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => { live.delete(child); resolve() })
    child.once('error', () => { live.delete(child); resolve() })
  })
  const stderrTail: string[] = []
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderrTail.push(line)
    if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift()
  })
  const describe = (): string => `${shown}${stderrTail.length > 0 ? `\n  stderr: ${stderrTail.join('\n  stderr: ')}` : ''}`
  return { child, exited, stdout: createInterface({ input: child.stdout }), describe }
}

/** SIGTERM, then SIGKILL after a grace period; each wait bounded. */
export async function stopTracked ({ child, exited }: Pick<TrackedChild, 'child' | 'exited'>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  child.kill('SIGTERM')
  if (await within(exited, STOP_GRACE_MS)) return
  child.kill('SIGKILL')
  if (!await within(exited, KILL_WAIT_MS)) throw new BenchmarkTimeoutError(`process ${child.pid} did not exit after SIGKILL`)
}

export async function spawnUntilReady (options: SpawnOptions): Promise<SpawnedProcess> {
  const started = performance.now()
  const tracked = spawnTracked(options.command, options.args, options.cwd)
  const { child, stdout, describe } = tracked
  const stop = async (): Promise<void> => { await stopTracked(tracked) }

  let readyLine: string
  try {
    readyLine = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new BenchmarkTimeoutError(`no ready line (${String(options.ready)}) within ${options.timeoutMs} ms from ${describe()}`))
      }, options.timeoutMs)
      stdout.on('line', (line) => {
        if (options.ready.test(line)) { clearTimeout(timer); resolve(line) }
      })
      child.once('error', (err) => { clearTimeout(timer); reject(new ProcessStartError(`cannot spawn ${describe()}: ${err.message}`, { cause: err })) })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        // Let the last stderr lines arrive before describing the failure.
        setImmediate(() => { reject(new ProcessStartError(`exited (${signal ?? `code ${code}`}) before its ready line: ${describe()}`)) })
      })
    })
  } catch (err) {
    await stop()
    throw err
  }
  const readyMs = performance.now() - started
  const pid = child.pid
  if (pid === undefined) throw new ProcessStartError(`no pid for ${describe()}`)
  return { pid, readyMs, readyLine, rssKiB: () => readRssKiB(pid), stop }
}

/** A line `kind: {json}` from a fixture (see bench/fixtures/fixture-process.ts). */
export type ReportValue = Record<string, unknown>

export interface ReportingProcess {
  readonly pid: number
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>
  /** The command line and the tail of its stderr, for error messages. */
  describe: () => string
  /**
   * The next `kind: {…}` line whose value satisfies `accept`, from now on (earlier lines
   * are kept, so a line printed before the call is found too). Rejects on exit or timeout.
   */
  next: (kind: string, timeoutMs: number, accept?: (value: ReportValue) => boolean) => Promise<ReportValue>
  /** Writes one line on the process's stdin. */
  command: (line: string) => void
  /** `progress` lines, as they come. */
  onProgress: (listener: (value: ReportValue) => void) => void
  stop: () => Promise<void>
}

/**
 * Spawns a long-running fixture that reports on stdout with `kind: {json}` lines and
 * takes commands on stdin, for benchmarks that talk to their processes more than once.
 */
export function spawnReporting (command: string, args: readonly string[], cwd: string, shown?: string): ReportingProcess {
  const tracked = spawnTracked(command, args, cwd, shown)
  const { child, stdout, describe } = tracked
  const pid = child.pid
  if (pid === undefined) throw new ProcessStartError(`no pid for ${describe()}`)
  const unread: Array<{ kind: string, value: ReportValue }> = []
  const waiters = new Set<() => void>()
  const progressListeners: Array<(value: ReportValue) => void> = []
  let ended: string | null = null
  stdout.on('line', (line) => {
    const at = line.indexOf(': ')
    if (at < 0) return
    let value: ReportValue
    try {
      value = JSON.parse(line.slice(at + 2)) as ReportValue
    } catch {
      return // not a report line
    }
    const kind = line.slice(0, at)
    if (kind === 'progress') for (const l of progressListeners) l(value)
    unread.push({ kind, value })
    for (const w of [...waiters]) w()
  })
  child.once('exit', (code, signal) => {
    // Let the last stderr lines arrive before describing the failure.
    setImmediate(() => {
      ended = `exited (${signal ?? `code ${code}`}): ${describe()}`
      for (const w of [...waiters]) w()
    })
  })
  child.stdin?.on('error', () => {}) // a dead child's stdin: its exit is reported instead

  const next = async (kind: string, timeoutMs: number, accept: (value: ReportValue) => boolean = () => true): Promise<ReportValue> => {
    return await new Promise<ReportValue>((resolve, reject) => {
      const look = (): void => {
        const i = unread.findIndex((r) => r.kind === kind && accept(r.value))
        if (i >= 0) {
          const [found] = unread.splice(i, 1)
          done()
          resolve((found as { value: ReportValue }).value)
        } else if (ended !== null) {
          done()
          reject(new ProcessStartError(`no ${kind} line before it ${ended}`))
        }
      }
      const timer = setTimeout(() => { done(); reject(new BenchmarkTimeoutError(`no ${kind} line within ${timeoutMs} ms from ${describe()}`)) }, timeoutMs)
      const done = (): void => { clearTimeout(timer); waiters.delete(look) }
      waiters.add(look)
      look()
    })
  }
  return {
    pid,
    exited: tracked.exited,
    describe,
    next,
    command: (line) => { child.stdin?.write(`${line}\n`) },
    onProgress: (listener) => { progressListeners.push(listener) },
    stop: async () => { await stopTracked(tracked) }
  }
}

/** Whether `promise` settles within `ms`. */
export async function within (promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => { resolve(false) }, ms) })
  try {
    return await Promise.race([promise.then(() => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}

function readRssKiB (pid: number): number | null {
  let status: string
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return null
  }
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)
  return m === null ? null : Number(m[1])
}
