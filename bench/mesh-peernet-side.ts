// The Peernet half of the mesh benchmark: one `peernet daemon` per namespace of the grid,
// driven through the mesh API (issue 4's contract: POST /v1/mesh/send, GET
// /v1/mesh/routes, /v1/mesh/neighbours, /v1/mesh/stats) by an agent process inside each
// namespace (fixtures/mesh-agent.ts). Same grid, probes, cuts and counters as babeld's
// half; the probe is an acknowledged mesh send from corner A to corner Z every 50 ms.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { nodeIdOf } from '../src/mesh/node-id.ts'
import { DEFAULT_MESH_PORT } from '../src/core/config.ts'
import type { NodeId } from '../src/mesh/node-id.ts'
import type { Grid, GridHost } from './mesh-grid.ts'
import { installCounters, readCounters } from './mesh-grid.ts'
import { CUT_METHODS, convergence, label, measureCuts } from './mesh-cuts.ts'
import type { CutMethod, CutSummary, Probe, ProbeReply } from './mesh-cuts.ts'
import { spawnReporting, spawnTracked, stopTracked } from './spawned-process.ts'
import type { ReportingProcess, TrackedChild } from './spawned-process.ts'
import { summarizeIdle } from './mesh-idle.ts'
import type { MeshSideOptions, MeshSideResult } from './mesh-babeld-side.ts'
import { BenchmarkError, BenchmarkTimeoutError, ProcessStartError } from './errors.ts'

/** The mesh's UDP link port (the daemon's default, `--mesh-port`). */
export const MESH_PORT = DEFAULT_MESH_PORT

/**
 * Daemon flags by default: no DHT rendezvous (no Internet here) and no mDNS, so that, as
 * with babeld, the only links between neighbours are the mesh's UDP links on the veths
 * and the UDP port counter sees all mesh control traffic. With mDNS on, neighbours also
 * connect over libp2p and the mesh opens libp2p links in those connections too; that
 * control traffic rides TCP (counted under "other" and in the daemons' own count).
 */
export const DEFAULT_PEERNET_ARGS: readonly string[] = ['--no-rendezvous', '--no-mdns']
const MESH_API = '/v1/mesh'
const READY_TIMEOUT_MS = 120_000
const CALL_TIMEOUT_MS = 30_000

export interface PeernetSideResult extends MeshSideResult {
  /** The daemons' own count of mesh control bytes over the idle period (GET /v1/mesh/stats), per node per second. */
  selfReportedIdle: { controlBytesSentPerNodePerSecond: number, controlBytesReceivedPerNodePerSecond: number } | null
  daemonArgs: string[]
  /** From spawning the daemons to every one serving its API (not part of convergence). */
  startupMs: number
}

/** Why the Peernet half cannot run yet (one line), or undefined when it can. */
export function peernetUnavailable (): string | undefined {
  // The daemon serves the mesh once some API route file carries the send route.
  const dir = join(import.meta.dirname, '..', 'src', 'api')
  const hasMesh = readdirSync(dir).some((f) => f.endsWith('.ts') && readFileSync(join(dir, f), 'utf8').includes(`${MESH_API}/send`))
  return hasMesh ? undefined : `the daemon has no mesh API yet (no route ${MESH_API}/send in src/api); the Peernet half runs once it has`
}

export interface Node {
  host: GridHost
  home: string
  peerId: string
  nodeId: NodeId
  daemon: TrackedChild
  agent: ReportingProcess
}

/** Starts `peernet daemon` inside the host's namespace; `slot` holds it at once, so a failed start is still stopped. */
async function startDaemon (host: GridHost, home: string, extraArgs: string[], cwd: string, slot: { daemon?: TrackedChild }): Promise<{ daemon: TrackedChild, peerId: string }> {
  const argv = ['netns', 'exec', host.name, process.execPath, join(cwd, 'src', 'cli', 'main.ts'), 'daemon', '--home', home,
    '--listen', '/ip4/0.0.0.0/tcp/0', '--api', '127.0.0.1:0', '--log-level', 'warn', ...extraArgs]
  const daemon = spawnTracked('ip', argv, cwd)
  slot.daemon = daemon
  let peerId = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new BenchmarkTimeoutError(`daemon in ${host.name} not ready within ${READY_TIMEOUT_MS} ms: ${daemon.describe()}`)) }, READY_TIMEOUT_MS)
    daemon.stdout.on('line', (line) => {
      const id = /^peer id: (\S+)$/.exec(line)?.[1]
      if (id !== undefined) peerId = id
      if (line.startsWith('api: ')) { clearTimeout(timer); resolve() }
    })
    void daemon.exited.then(() => { clearTimeout(timer); reject(new ProcessStartError(`daemon in ${host.name} exited before it was ready: ${daemon.describe()}`)) })
  })
  return { daemon, peerId }
}

let callIds = 0

export async function call<T> (agent: ReportingProcess, method: 'GET' | 'POST', path: string, body?: Record<string, unknown>): Promise<T> {
  const id = callIds++
  agent.command(JSON.stringify({ id, method, path, body }))
  const r = await agent.next('result', CALL_TIMEOUT_MS, (v) => v.id === id) as { ok: boolean, value?: unknown, error?: string }
  if (!r.ok) throw new BenchmarkError(`${method} ${path}: ${r.error ?? 'failed'}`)
  return r.value as T
}

interface RouteView { dst: NodeId, nextHop: NodeId | null, selected: boolean, metric: number }

/** Babel's infinite metric (RFC 8966 §2.1): a retracted route, kept a while but unusable. */
const INFINITE_METRIC = 0xffff

function agentProbe (agent: ReportingProcess, peer: string, intervalMs: number, timeoutMs: number): Probe {
  const replies: ProbeReply[] = []
  let on = true
  agent.onProgress((v) => {
    if (on && typeof v.sentAt === 'number' && typeof v.receivedAt === 'number') replies.push({ sentAt: v.sentAt, receivedAt: v.receivedAt })
  })
  agent.command(JSON.stringify({ probe: { peer, intervalMs, timeoutMs } }))
  return {
    replies,
    stop: async () => {
      on = false
      agent.command(JSON.stringify({ stopProbe: true }))
      await Promise.resolve()
    }
  }
}

interface MeshStats { controlBytesSent?: number, controlBytesReceived?: number }

/** Peernet daemons with their agents, one per host of the grid; `stop` ends them all and removes their homes. */
export interface PeernetNodes {
  nodes: Node[]
  stop: () => Promise<void>
}

export async function startPeernetNodes (grid: Grid, daemonArgs: string[], cwd: string): Promise<PeernetNodes> {
  const temp = mkdtempSync(join(tmpdir(), 'peernet-mesh-bench-'))
  const nodes: Node[] = []
  const started: Array<{ daemon?: TrackedChild, agent?: ReportingProcess }> = []
  const stop = async (): Promise<void> => {
    await Promise.all(started.map(async (s) => {
      if (s.agent !== undefined) await s.agent.stop()
      if (s.daemon !== undefined) await stopTracked(s.daemon)
    }))
    rmSync(temp, { recursive: true, force: true })
  }
  try {
    // Every start settles before a failure is thrown, so `stop` finds all that began.
    const outcomes = await Promise.allSettled(grid.hosts.map(async (host) => {
      const slot: { daemon?: TrackedChild, agent?: ReportingProcess } = {}
      started.push(slot)
      const home = join(temp, label(host))
      mkdirSync(home, { mode: 0o700 })
      const { daemon, peerId } = await startDaemon(host, home, daemonArgs, cwd, slot)
      const agent = spawnReporting('ip', ['netns', 'exec', host.name, process.execPath, join(cwd, 'bench', 'fixtures', 'mesh-agent.ts'), '--home', home], cwd)
      slot.agent = agent
      await agent.next('ready', READY_TIMEOUT_MS)
      const key = peerIdFromString(peerId).publicKey?.raw
      if (key === undefined) throw new BenchmarkError(`peer id ${peerId} carries no public key`)
      nodes.push({ host, home, peerId, nodeId: nodeIdOf(key), daemon, agent })
    }))
    const failed = outcomes.find((o) => o.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  } catch (err) {
    await stop()
    throw err
  }
  // In grid order, whatever order they came up in.
  nodes.sort((x, y) => grid.hosts.indexOf(x.host) - grid.hosts.indexOf(y.host))
  return { nodes, stop }
}

export async function runPeernetSide (grid: Grid, options: MeshSideOptions & { peernetArgs: string[], meshPort: number }, cwd: string, progress: (line: string) => void): Promise<PeernetSideResult> {
  progress(`peernet: starting ${grid.hosts.length} daemons, links silent`)
  await grid.lab.setAllSilent(true)
  const startingAt = Date.now()
  const { nodes, stop } = await startPeernetNodes(grid, [...options.peernetArgs, '--mesh-port', String(options.meshPort)], cwd)
  let probe: Probe | undefined
  try {
    const startupMs = Date.now() - startingAt
    const byHost = new Map(nodes.map((n) => [n.host, n]))
    const byNodeId = new Map(nodes.map((n) => [n.nodeId, n]))
    const nodeAt = (h: GridHost): Node => byHost.get(h) as Node
    const from = nodeAt(grid.at(0, 0))
    const to = nodeAt(grid.at(grid.rows - 1, grid.cols - 1))

    const path = async (): Promise<GridHost[]> => {
      const hops = [from.host]
      let at = from
      while (at !== to) {
        const { routes } = await call<{ routes: RouteView[] }>(at.agent, 'GET', `${MESH_API}/routes`)
        const route = routes.find((r) => r.dst === to.nodeId && r.selected && r.metric < INFINITE_METRIC)
        const next = route?.nextHop == null ? undefined : byNodeId.get(route.nextHop)
        if (next === undefined) throw new BenchmarkError(`no mesh route from ${label(at.host)} to ${label(to.host)}`)
        hops.push(next.host)
        at = next
        if (hops.length > grid.hosts.length) throw new BenchmarkError(`routing loop from ${label(from.host)}: ${hops.map(label).join(' ')}`)
      }
      return hops
    }

    const alive = (): boolean => nodes.every((n) => n.daemon.child.exitCode === null)
    const converged = await convergence(grid, () => agentProbe(from.agent, to.peerId, options.probeIntervalMs, 3_000), alive, `the first acked mesh send from ${label(from.host)} to ${label(to.host)}`, options.convergeTimeoutMs).catch(async (err: unknown) => {
      const dead = nodes.find((n) => n.daemon.child.exitCode !== null)
      if (dead !== undefined) throw new ProcessStartError(`daemon in ${dead.host.name} exited: ${dead.daemon.describe()}`)
      // Not converged: say what the corners know, for whoever looks into it.
      const known = await Promise.all([from, to].map(async (n) => {
        try {
          const { routes } = await call<{ routes: RouteView[] }>(n.agent, 'GET', `${MESH_API}/routes`)
          const { neighbours } = await call<{ neighbours: unknown[] }>(n.agent, 'GET', `${MESH_API}/neighbours`)
          const other = n === from ? to : from
          const usable = routes.filter((r) => r.dst === other.nodeId && r.selected && r.metric < INFINITE_METRIC).length
          return `${label(n.host)}: ${neighbours.length} neighbours, ${routes.length} route entries, ${usable} usable to ${label(other.host)}`
        } catch (e) {
          return `${label(n.host)}: ${(e as Error).message}`
        }
      }))
      throw new BenchmarkError(`${(err as Error).message} (${known.join('; ')})`, { cause: err })
    })
    const convergenceMs = converged.ms
    probe = converged.probe
    progress(`peernet: ${label(from.host)} reached ${label(to.host)} ${convergenceMs} ms after the links of ${grid.hosts.length} running daemons came up (the daemons took ${(startupMs / 1000).toFixed(1)} s to start); path ${(await path()).map(label).join(' ')}`)

    await probe.stop()
    progress(`peernet: settling ${options.settleMs / 1000} s, then ${options.idleMs / 1000} s idle`)
    await new Promise((resolve) => setTimeout(resolve, options.settleMs))
    const stats = async (): Promise<MeshStats[]> => await Promise.all(nodes.map(async (n) => await call<MeshStats>(n.agent, 'GET', `${MESH_API}/stats`)))
    const statsBefore = await stats()
    installCounters(grid, options.meshPort)
    const idleFrom = Date.now()
    await new Promise((resolve) => setTimeout(resolve, options.idleMs))
    const idle = summarizeIdle(nodes.map((n) => ({ host: label(n.host), counters: readCounters(n.host) })), (Date.now() - idleFrom) / 1000)
    const seconds = (Date.now() - idleFrom) / 1000
    const statsAfter = await stats()
    const delta = (f: (s: MeshStats) => number | undefined): number => statsAfter.reduce((sum, s, i) => sum + ((f(s) ?? NaN) - (f(statsBefore[i] as MeshStats) ?? NaN)), 0) / nodes.length / seconds
    const sent = delta((s) => s.controlBytesSent)
    const received = delta((s) => s.controlBytesReceived)
    const selfReportedIdle = Number.isFinite(sent) ? { controlBytesSentPerNodePerSecond: sent, controlBytesReceivedPerNodePerSecond: received } : null
    progress(`peernet: idle ${idle.perNode.portBytesPerSecond.toFixed(1)} B/s per node on UDP ${options.meshPort} (IP bytes), ${idle.perNode.otherBytesPerSecond.toFixed(1)} B/s of other (libp2p) traffic; the daemons count ${sent.toFixed(1)} B/s of mesh control sent`)

    probe = agentProbe(from.agent, to.peerId, options.probeIntervalMs, 3_000)
    const cuts = {} as Record<CutMethod, CutSummary>
    for (const method of CUT_METHODS) {
      progress(`peernet: ${options.cuts} ${method} cuts`)
      cuts[method] = await measureCuts({
        grid,
        from: from.host,
        to: to.host,
        method,
        cuts: options.cuts,
        path,
        probe,
        timeoutMs: options.cutTimeoutMs,
        settleMs: options.restoreSettleMs,
        steadyReplies: Math.floor(1000 / options.probeIntervalMs / 2),
        progress
      })
    }
    return { implementation: 'peernet daemon (src/mesh)', convergenceMs, startupMs, cuts, idle, selfReportedIdle, daemonArgs: options.peernetArgs }
  } finally {
    await probe?.stop()
    await stop()
  }
}
