// The babeld half of the mesh benchmark: one babeld (Debian package `babeld`, the
// reference Babel implementation, RFC 8966) per namespace of the grid, announcing the
// host's loopback /32, at its default timers. Probes are pings from corner A's loopback
// address to corner Z's, one every 50 ms.

import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Grid, GridHost } from './mesh-grid.ts'
import { inNetns, installCounters, readCounters } from './mesh-grid.ts'
import { CUT_METHODS, convergence, label, measureCuts } from './mesh-cuts.ts'
import type { CutMethod, CutSummary, Probe, ProbeReply } from './mesh-cuts.ts'
import { spawnTracked, stopTracked } from './spawned-process.ts'
import type { TrackedChild } from './spawned-process.ts'
import { summarizeIdle } from './mesh-idle.ts'
import type { IdleFigures } from './mesh-idle.ts'
import { BenchmarkError } from './errors.ts'

export const BABEL_PORT = 6696

/**
 * babeld 1.12's defaults for wired interfaces (veth is wired to it), which this benchmark
 * keeps: hello every 4 s, a full update every 16 s (4 × hello), IHU every 12 s (3 × hello);
 * a neighbour's link is dead once 2 of its last 3 expected hellos are missing ("2-out-of-3"
 * for wired links without link-quality estimation); link cost 96 per hop.
 */
export const BABELD_TIMERS = { helloIntervalS: 4, updateIntervalS: 16, ihuIntervalS: 12, wiredCost: 96 }

export interface MeshSideOptions {
  cuts: number
  idleMs: number
  settleMs: number
  probeIntervalMs: number
  convergeTimeoutMs: number
  cutTimeoutMs: number
  /** Wait after restoring a cut link before the next cut. */
  restoreSettleMs: number
}

export interface MeshSideResult {
  implementation: string
  /** From all links coming up at once (every router running) to the first probe answered A → Z (mesh-cuts.ts `convergence`). */
  convergenceMs: number
  cuts: Record<CutMethod, CutSummary>
  idle: IdleFigures
}

/** Why the babeld half cannot run here (one line), or undefined when it can. */
export function babeldUnavailable (): string | undefined {
  for (const [tool, pkg] of [['babeld', 'babeld'], ['nft', 'nftables'], ['ping', 'iputils-ping']] as const) {
    try {
      execFileSync('which', [tool], { stdio: 'ignore' })
    } catch {
      return `${tool} is not installed: run \`apt-get install -y ${pkg}\` (as root) for the babeld half of the mesh benchmark`
    }
  }
  return undefined
}

export function babeldVersion (): string {
  // babeld -V prints its version on stderr.
  const r = spawnSync('babeld', ['-V'], { encoding: 'utf8', timeout: 5_000 })
  return `${r.stdout}${r.stderr}`.trim() || 'babeld'
}

const PING_LINE = /^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=\d+ ttl=\d+ time=([\d.]+) ms/

/**
 * Pings `to`'s loopback from `from`'s, one every `intervalMs`. ping exits at once when the
 * host has no route yet (before convergence), so it is started again until stopped.
 */
export function pingProbe (from: GridHost, to: GridHost, intervalMs: number, cwd: string): Probe {
  const replies: ProbeReply[] = []
  let stopped = false
  let current: TrackedChild | undefined
  const start = (): void => {
    if (stopped) return
    const args = ['netns', 'exec', from.name, 'ping', '-n', '-D', '-i', String(intervalMs / 1000), '-I', from.loopback, to.loopback]
    const child = spawnTracked('ip', args, cwd)
    current = child
    child.stdout.on('line', (line) => {
      const m = PING_LINE.exec(line)
      if (m === null) return
      // -D stamps the reply's arrival (gettimeofday, the clock Date.now() reads).
      const receivedAt = Number(m[1]) * 1000
      replies.push({ sentAt: receivedAt - Number(m[2]), receivedAt })
    })
    void child.exited.then(() => { if (!stopped) setTimeout(start, intervalMs) })
  }
  start()
  return {
    replies,
    stop: async () => {
      stopped = true
      if (current !== undefined) await stopTracked(current)
    }
  }
}

/** The path babeld's kernel routes take from `from` to `to`'s loopback, hop by hop. */
export function kernelPath (grid: Grid, from: GridHost, to: GridHost): GridHost[] {
  const path = [from]
  let at = from
  while (at !== to) {
    const out = inNetns(at.name, 'ip', 'route', 'get', to.loopback)
    const via = /\bvia (\S+)/.exec(out)?.[1]
    const next = via === undefined ? undefined : grid.hostByAddress(via)
    if (next === undefined) throw new BenchmarkError(`no route from ${label(at)} to ${to.loopback}: ${out.trim()}`)
    path.push(next)
    at = next
    if (path.length > grid.hosts.length) throw new BenchmarkError(`routing loop from ${label(from)}: ${path.map(label).join(' ')}`)
  }
  return path
}

export async function runBabeldSide (grid: Grid, options: MeshSideOptions, cwd: string, progress: (line: string) => void): Promise<MeshSideResult> {
  const dir = mkdtempSync(join(tmpdir(), 'peernet-babeld-'))
  const routers: TrackedChild[] = []
  const from = grid.at(0, 0)
  const to = grid.at(grid.rows - 1, grid.cols - 1)
  let probe: Probe | undefined
  try {
    await grid.lab.setAllSilent(true)
    for (const h of grid.hosts) {
      routers.push(spawnTracked('ip', [
        'netns', 'exec', h.name, 'babeld',
        '-I', join(dir, `${h.name}.pid`), '-S', join(dir, `${h.name}.state`),
        '-c', '/dev/null', '-d', '0',
        // Announce the host's own /32 (its loopback) and no other local address: the
        // veth /24s are neighbours' business, not the grid's.
        '-C', 'redistribute local ip 10.255.0.0/16 ge 32 allow',
        '-C', 'redistribute local deny',
        ...h.devices
      ], cwd))
    }
    const alive = (): boolean => routers.every((r) => r.child.exitCode === null)
    const converged = await convergence(grid, () => pingProbe(from, to, options.probeIntervalMs, cwd), alive, `the first ping from ${label(from)} to ${label(to)}`, options.convergeTimeoutMs).catch((err: unknown) => {
      const dead = routers.find((r) => r.child.exitCode !== null)
      throw dead === undefined ? err : new BenchmarkError(`babeld exited: ${dead.describe()}`)
    })
    const convergenceMs = converged.ms
    probe = converged.probe
    progress(`babeld: ${label(from)} reached ${label(to)} ${convergenceMs} ms after the links of ${grid.hosts.length} running babelds came up; path ${kernelPath(grid, from, to).map(label).join(' ')}`)

    // Idle: nothing but babeld sends (the probe is paused) for the whole period.
    await probe.stop()
    progress(`babeld: settling ${options.settleMs / 1000} s, then ${options.idleMs / 1000} s idle`)
    await new Promise((resolve) => setTimeout(resolve, options.settleMs))
    installCounters(grid, BABEL_PORT)
    const idleFrom = Date.now()
    await new Promise((resolve) => setTimeout(resolve, options.idleMs))
    const idle = summarizeIdle(grid.hosts.map((h) => ({ host: label(h), counters: readCounters(h) })), (Date.now() - idleFrom) / 1000)
    progress(`babeld: idle ${idle.perNode.portBytesPerSecond.toFixed(1)} B/s per node on UDP ${BABEL_PORT} (IP bytes), ${idle.perNode.portPayloadBytesPerSecond.toFixed(1)} B/s of UDP payload`)

    probe = pingProbe(from, to, options.probeIntervalMs, cwd)
    const cuts = {} as Record<CutMethod, CutSummary>
    for (const method of CUT_METHODS) {
      progress(`babeld: ${options.cuts} ${method} cuts`)
      cuts[method] = await measureCuts({
        grid,
        from,
        to,
        method,
        cuts: options.cuts,
        path: () => Promise.resolve(kernelPath(grid, from, to)),
        probe,
        timeoutMs: options.cutTimeoutMs,
        settleMs: options.restoreSettleMs,
        steadyReplies: Math.floor(1000 / options.probeIntervalMs / 2),
        progress
      })
    }
    return { implementation: babeldVersion(), convergenceMs, cuts, idle }
  } finally {
    await probe?.stop()
    await Promise.all(routers.map(async (r) => { await stopTracked(r) }))
    rmSync(dir, { recursive: true, force: true })
  }
}
