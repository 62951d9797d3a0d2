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

export async function spawnUntilReady (options: SpawnOptions): Promise<SpawnedProcess> {
  const started = performance.now()
  const { child, exited, stdout, describe } = spawnTracked(options.command, options.args, options.cwd)

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
    child.kill('SIGTERM')
    if (await within(exited, STOP_GRACE_MS)) return
    child.kill('SIGKILL')
    if (!await within(exited, KILL_WAIT_MS)) throw new BenchmarkTimeoutError(`process ${child.pid} did not exit after SIGKILL`)
  }

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
