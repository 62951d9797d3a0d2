// Credit payments between real daemons on loopback (issue 6, "Benchmarks"): four
// `peernet daemon` processes in a line A–B–C–D with trust lines; D pays A over three
// hops through the local API, as `peernet credit pay` does.
//
//   latency     one payment at a time: p50 and p99 of the whole call (invoice from the
//               payee, route, holds out over three lines, settles back).
//   throughput  many payments at once on that one route: payments settled per second
//               (the line channels batch the changes queued behind an outstanding
//               proposal, one signature each way per batch).
//
// Goals from the issue: p50 under 20 ms, at least 1,000 payments/s.

import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { spawnUntilReady } from './spawned-process.ts'
import type { SpawnedProcess } from './spawned-process.ts'
import { percentile, median } from './statistics.ts'
import { BenchmarkError } from './errors.ts'
import { ApiClient, readApiInfo } from '../src/api/client.ts'

const REPO = resolve(import.meta.dirname, '..')
const MAIN = join(REPO, 'src', 'cli', 'main.ts')

export const CREDIT_LATENCY_GOALS = { p50Ms: 20, paymentsPerSecond: 1_000 }

export interface CreditLatencyOptions {
  /** Payments timed one at a time (after the warm-up). */
  payments: number
  warmup: number
  /** Payments in the throughput run, and how many are in flight at once. */
  burst: number
  concurrency: number
  /**
   * Payments run the same way just before the timed burst, not timed: the daemons' hot
   * paths under load (batched proposals, many holds per line) are other code than one
   * payment at a time, and V8 optimises them only after thousands of calls.
   */
  burstWarmup: number
}

export const DEFAULT_CREDIT_LATENCY_OPTIONS: CreditLatencyOptions = { payments: 300, warmup: 30, burst: 6_000, concurrency: 300, burstWarmup: 3_000 }

export interface CreditLatencyResult {
  options: CreditLatencyOptions
  hops: number
  latency: { p50Ms: number, p99Ms: number, meanMs: number, samples: number }
  throughput: { payments: number, ok: number, failed: number, seconds: number, perSecond: number, concurrency: number }
  /**
   * CPU time (user + system, from /proc/PID/stat) each daemon spent per payment during the
   * throughput run, A to D, in ms; null where there is no /proc. On a shared machine this,
   * not the wall rate, is the cost figure to compare across runs.
   */
  cpuMsPerPayment: number[] | null
  /** The same for this process, the API client that makes the payments (node:http, keep-alive). */
  clientCpuMsPerPayment: number
  /** The 1-minute load average when the throughput run started. */
  loadAverage: number
  goals: typeof CREDIT_LATENCY_GOALS
}

const api = (home: string): ApiClient => new ApiClient(home, readApiInfo(home))

export async function measureCreditLatency (options: CreditLatencyOptions, progress: (line: string) => void): Promise<CreditLatencyResult> {
  const dir = await mkdtemp(join(tmpdir(), 'peernet-bench-credit-'))
  const homes = ['a', 'b', 'c', 'd'].map((n) => join(dir, n))
  const daemons: SpawnedProcess[] = []
  try {
    progress('credit: starting four daemons')
    for (const home of homes) {
      daemons.push(await spawnUntilReady({
        command: process.execPath,
        args: [MAIN, 'daemon', '--home', home, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns', '--no-mesh-udp'],
        cwd: REPO,
        ready: /^api: /,
        timeoutMs: 60_000
      }))
    }
    const [homeA, homeB, homeC, homeD] = homes as [string, string, string, string]
    const created = await api(homeA).post<{ id: string, invite: string }>('/v1/networks', { name: 'bench', app: 'credit', policy: 'invite', private: false })
    for (const h of [homeB, homeC, homeD]) await api(h).post('/v1/networks/join', { invite: created.invite })
    const addresses = await Promise.all(homes.map(async (h) => (await api(h).get<{ addresses: string[] }>('/v1/status')).addresses.find((a) => a.startsWith('/ip4/127.0.0.1/tcp/')) ?? ''))
    for (const [i, h] of homes.entries()) {
      for (const [j, addr] of addresses.entries()) if (i !== j) await api(h).post('/v1/connect', { address: addr })
    }
    const accounts = await Promise.all(homes.map(async (h) => (await api(h).get<{ account: string }>('/v1/account')).account))
    const [alice, bob, carol, dave] = accounts as [string, string, string, string]
    const deadline = Date.now() + 60_000
    for (;;) {
      const counts = await Promise.all(homes.map(async (h) => (await api(h).get<{ members: unknown[] }>(`/v1/networks/${created.id}/members`)).members.length))
      if (counts.every((n) => n === 4)) break
      if (Date.now() > deadline) throw new BenchmarkError('the four daemons did not learn of each other within 60 s')
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    // Room for every payment of the run: 1 unit each way down the line.
    const room = String(options.payments + options.warmup + options.burstWarmup + options.burst + 10)
    await api(homeA).post('/v1/apps/credit/trust', { account: bob, limit: room, unit: 'USD' })
    await api(homeB).post('/v1/apps/credit/trust', { account: carol, limit: room, unit: 'USD' })
    await api(homeC).post('/v1/apps/credit/trust', { account: dave, limit: room, unit: 'USD' })
    // Each payment is its own API call, as `peernet credit pay` makes, over node:http with
    // keep-alive: the CLI's fetch-based client costs as much CPU per call as the payer
    // daemon itself, and on two shared cores the load generator's CPU is the daemons' loss.
    const pay = payer(readApiInfo(homeD), JSON.stringify({ account: alice, amount: '1', unit: 'USD' }), options.concurrency)

    progress(`credit: ${options.warmup} warm-up payments, then ${options.payments} timed one at a time`)
    for (let i = 0; i < options.warmup; i++) await pay()
    const samples: number[] = []
    for (let i = 0; i < options.payments; i++) {
      const t0 = performance.now()
      await pay()
      samples.push(performance.now() - t0)
    }

    const flood = async (n: number): Promise<{ ok: number, failed: number }> => {
      let next = 0
      let ok = 0
      let failed = 0
      await Promise.all(Array.from({ length: options.concurrency }, async () => {
        while (next < n) {
          next++
          try { await pay(); ok++ } catch { failed++ }
        }
      }))
      return { ok, failed }
    }
    let paid = options.warmup + options.payments
    if (options.burstWarmup > 0) {
      progress(`credit: ${options.burstWarmup} warm-up payments, ${options.concurrency} at a time`)
      paid += (await flood(options.burstWarmup)).ok
    }
    progress(`credit: ${options.burst} payments, ${options.concurrency} at a time`)
    const cpu0 = daemons.map((d) => cpuMs(d.pid))
    const load = loadAverage()
    const client0 = process.cpuUsage()
    const t0 = performance.now()
    const { ok, failed } = await flood(options.burst)
    const seconds = (performance.now() - t0) / 1000
    const cpu1 = daemons.map((d) => cpuMs(d.pid))
    const client = process.cpuUsage(client0)
    const cpuMsPerPayment = cpu0.every((c) => c !== null) && cpu1.every((c) => c !== null)
      ? cpu1.map((c, i) => Math.round(((c ?? 0) - (cpu0[i] ?? 0)) / Math.max(1, ok) * 100) / 100)
      : null
    // Every payment counted as paid moved A's line with B by its 1 USD, once: the figure
    // counts settled payments, not answered calls.
    paid += ok
    const settleBy = Date.now() + 30_000
    for (;;) {
      const line = (await api(homeA).get<Array<{ account: string, balance: string, holds: number }>>('/v1/apps/credit/lines')).find((l) => l.account === bob)
      if (line !== undefined && line.holds === 0 && Number(line.balance) === paid) break
      if (Date.now() > settleBy) throw new BenchmarkError(`A's line with B shows ${line?.balance ?? 'nothing'} USD with ${line?.holds ?? 0} holds, not the ${paid} USD of the payments counted as paid`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return {
      options,
      hops: 3,
      latency: { p50Ms: round(median(samples)), p99Ms: round(percentile(samples, 99)), meanMs: round(samples.reduce((s, x) => s + x, 0) / samples.length), samples: samples.length },
      throughput: { payments: options.burst, ok, failed, seconds: round(seconds), perSecond: round(ok / seconds), concurrency: options.concurrency },
      cpuMsPerPayment,
      clientCpuMsPerPayment: Math.round((client.user + client.system) / 1000 / Math.max(1, ok) * 100) / 100,
      loadAverage: load,
      goals: CREDIT_LATENCY_GOALS
    }
  } finally {
    await Promise.all(daemons.map(async (d) => { await d.stop() }))
    await rm(dir, { recursive: true, force: true })
  }
}

const round = (x: number): number => Math.round(x * 10) / 10

/** POST /v1/apps/credit/pay with a fixed body; resolves on 200, rejects with the daemon's error otherwise. */
function payer (info: { url: string, token: string }, body: string, sockets: number): () => Promise<void> {
  const url = new URL('/v1/apps/credit/pay', info.url)
  const agent = new Agent({ keepAlive: true, maxSockets: sockets })
  const headers = { authorization: `Bearer ${info.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
  return async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request(url, { method: 'POST', agent, headers, signal: AbortSignal.timeout(60_000) }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => { chunks.push(c) })
        res.on('end', () => {
          if (res.statusCode === 200) resolve()
          else reject(new BenchmarkError(`payment refused: HTTP ${res.statusCode ?? '?'} ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`))
        })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(body)
    })
  }
}

/** User + system CPU time of a process in ms (fields 14 and 15 of /proc/PID/stat, in clock ticks of 10 ms). */
function cpuMs (pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch { return null }
}

function loadAverage (): number {
  try { return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]) } catch { return -1 }
}

export function creditLatencyTable (r: CreditLatencyResult): string {
  const g = r.goals
  return [
    '| credit, 4 daemons on loopback, D pays A over 3 hops | measured | goal |',
    '|---|---|---|',
    `| latency p50 (one at a time, ${r.latency.samples} payments) | ${r.latency.p50Ms} ms | < ${g.p50Ms} ms |`,
    `| latency p99 | ${r.latency.p99Ms} ms | |`,
    `| payments/s on one route (${r.throughput.payments} payments, ${r.throughput.concurrency} in flight, after ${r.options.burstWarmup ?? 0} untimed; ${r.throughput.failed} failed; load ${r.loadAverage}) | ${r.throughput.perSecond} | ≥ ${g.paymentsPerSecond} |`,
    `| CPU ms per payment in that run, daemons A B C D | ${r.cpuMsPerPayment?.join(' / ') ?? 'n/a'} | |`,
    `| CPU ms per payment in that run, the API client | ${r.clientCpuMsPerPayment} | |`
  ].join('\n')
}
