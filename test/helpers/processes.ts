// Real processes for end-to-end tests: the daemon and the CLI, each as its own Node
// process on loopback, with its own temporary home.

import assert from 'node:assert/strict'
import { after } from 'node:test'
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readApiInfo } from '../../src/api/client.ts'

export const REPO = fileURLToPath(new URL('../..', import.meta.url))
const MAIN = join(REPO, 'src', 'cli', 'main.ts')

export function tempHome (label = 'home'): string {
  return mkdtempSync(join(tmpdir(), `peernet-${label}-`))
}

export function removeHome (dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface ProcessOptions {
  /** Run inside this network namespace (see netns.ts). */
  netns?: string
}

/** The command line that runs the peernet CLI, inside a namespace if asked. */
function command (args: string[], options: ProcessOptions): [string, string[]] {
  return options.netns === undefined
    ? [process.execPath, [MAIN, ...args]]
    : ['ip', ['netns', 'exec', options.netns, process.execPath, MAIN, ...args]]
}

/** Runs `peernet ARGS…` as a separate process and collects its output. */
export async function cli (args: string[], options: ProcessOptions & { timeoutMs?: number, env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const [file, argv] = command(args, options)
  const child = spawn(file, argv, { cwd: REPO, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const out = collect(child)
  const code = await exited(child, options.timeoutMs ?? 30_000)
  return { code, stdout: out.stdout(), stderr: out.stderr() }
}

export interface Daemon {
  home: string
  peerId: string
  /** Listen multiaddrs with /p2p/ suffix, as printed. */
  addresses: string[]
  apiUrl: string
  process: ChildProcess
  stdout: () => string
  stderr: () => string
  /** `peernet stop`, then waits for the process to exit; SIGKILL after a bound. */
  stop: () => Promise<void>
  /** SIGKILL, no cleanup. */
  kill: () => Promise<void>
}

export const LOOPBACK_ARGS = ['--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns', '--no-mesh-udp']

/** Starts `peernet daemon` and resolves once it has printed its API URL. */
export async function startDaemon (home: string, args: string[] = LOOPBACK_ARGS, options: ProcessOptions & { timeoutMs?: number } = {}): Promise<Daemon> {
  const timeoutMs = options.timeoutMs ?? 30_000
  const [file, argv] = command(['daemon', '--home', home, ...args], options)
  const child = spawn(file, argv, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  const out = collect(child)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { fail(new Error(`daemon did not start within ${timeoutMs} ms\nstdout:\n${out.stdout()}\nstderr:\n${out.stderr()}`)) }, timeoutMs)
    const check = (): void => { if (/^api: /m.test(out.stdout())) done() }
    const onExit = (code: number | null): void => { fail(new Error(`daemon exited with ${code} before it was ready\nstderr:\n${out.stderr()}`)) }
    const cleanup = (): void => { clearTimeout(timer); child.stdout?.off('data', check); child.off('exit', onExit) }
    const done = (): void => { cleanup(); resolve() }
    const fail = (err: Error): void => { cleanup(); child.kill('SIGKILL'); reject(err) }
    child.stdout?.on('data', check)
    child.on('exit', onExit)
    check()
  })
  const text = out.stdout()
  const peerId = /^peer id: (\S+)$/m.exec(text)?.[1] ?? ''
  const apiUrl = /^api: (\S+)$/m.exec(text)?.[1] ?? ''
  const addresses = [...text.matchAll(/^listening: (\S+)$/gm)].map((m) => m[1] ?? '')
  const daemon: Daemon = {
    home,
    peerId,
    addresses,
    apiUrl,
    process: child,
    stdout: out.stdout,
    stderr: out.stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exit = exited(child, 20_000)
      await cli(['stop', '--home', home], { ...options, timeoutMs: 20_000 })
      await exit
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exit = exited(child, 10_000)
      child.kill('SIGKILL')
      await exit
    }
  }
  return daemon
}

function collect (child: ChildProcess): { stdout: () => string, stderr: () => string } {
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  return { stdout: () => stdout, stderr: () => stderr }
}

/** Resolves with the exit code once the process has exited; kills it past the bound. */
export async function exited (child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
    child.once('close', (code) => { clearTimeout(timer); resolve(code) })
  })
}

/** Polls `fn` until it returns a value that is not undefined, or fails after the bound. */
export async function eventually<T> (fn: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** The one line a failed CLI command prints on stderr. */
export function oneErrorLine (result: CliResult): string {
  const lines = result.stderr.trimEnd().split('\n')
  if (lines.length !== 1 || !lines[0]?.startsWith('peernet: ')) {
    throw new Error(`expected one "peernet: …" line on stderr, got:\n${result.stderr}`)
  }
  return lines[0]
}

/** Runs a read command with --json; asserts it succeeded and returns what it printed. */
export async function cliJson<T> (args: string[], options: ProcessOptions = {}): Promise<T> {
  const r = await cli([...args, '--json'], options)
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

/**
 * GET on a daemon's API by curl (inside its namespace, if any): a read in milliseconds
 * where the CLI takes a second to start, for tests that poll. Rejects on a non-2xx answer.
 */
export async function apiGet<T> (home: string, path: string, options: ProcessOptions = {}): Promise<T> {
  const { url, token } = readApiInfo(home)
  const curl = ['curl', '-sS', '--fail-with-body', '--max-time', '10', '-H', `authorization: Bearer ${token}`, `${url}${path}`]
  const [file, argv] = options.netns === undefined ? [curl[0] as string, curl.slice(1)] : ['ip', ['netns', 'exec', options.netns, ...curl]]
  const body = await new Promise<string>((resolve, reject) => {
    execFile(file, argv, { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout)
      else reject(new Error(`GET ${path}: ${err.message} ${stderr} ${stdout}`, { cause: err }))
    })
  })
  return JSON.parse(body) as T
}

/**
 * Homes for a test file's daemons (`label-a`, `label-b`, …) and the list the file puts its
 * daemons in: after the file's tests every daemon still in it is stopped and every home
 * removed, pass or fail.
 */
export function daemonGroup (label: string, names: string[]): { homes: string[], daemons: Daemon[] } {
  const group = { homes: names.map((n) => tempHome(`${label}-${n}`)), daemons: [] as Daemon[] }
  after(async () => {
    await Promise.all(group.daemons.map(async (d) => { await d.stop() }))
    for (const h of group.homes) removeHome(h)
  })
  return group
}
