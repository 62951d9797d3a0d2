// What a benchmark run records besides its samples (the machine, the versions), and
// the markdown tables printed for the README.

import { cpus, loadavg, release, totalmem } from 'node:os'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { SETUP_LABELS, THROUGHPUT_SETUPS } from './throughput.ts'
import type { ThroughputResult } from './throughput.ts'
import { STARTUP_SUBJECTS, SUBJECT_LABELS } from './startup.ts'
import type { StartupResult } from './startup.ts'
import { SYNC_LABELS, SYNC_SUBJECTS } from './sync.ts'
import type { SyncResult } from './sync.ts'
import { IDLE_LABELS, IDLE_PAIRS, IDLE_ROLES, IDLE_SUBJECTS } from './idle.ts'
import type { IdleResult } from './idle.ts'
import { max, min } from './statistics.ts'

export interface Machine {
  node: string
  platform: string
  arch: string
  kernel: string
  cpuModel: string
  cpuCount: number
  totalMemoryMiB: number
  /** 1, 5 and 15 minute load averages when the run began: how busy the shared machine was. */
  loadAverage: number[]
  packages: Record<string, string>
}

const REPO = resolve(import.meta.dirname, '..')
const PACKAGES = ['libp2p', '@libp2p/tcp', '@chainsafe/libp2p-noise', '@chainsafe/libp2p-yamux', '@libp2p/gossipsub']

export function describeMachine (): Machine {
  const cpu = cpus()
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    kernel: release(),
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cpuCount: cpu.length,
    totalMemoryMiB: Math.round(totalmem() / 1024 / 1024),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    packages: Object.fromEntries(PACKAGES.map((name) => [name, packageVersion(name)]))
  }
}

function packageVersion (name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown'
  }
}

export function machineLine (m: Machine, date: string): string {
  return `Measured ${date.slice(0, 10)} on ${m.cpuModel} × ${m.cpuCount}, ${m.platform} ${m.kernel}, Node ${m.node}, libp2p ${m.packages.libp2p ?? '?'}; load average at start ${m.loadAverage.join(' / ')}.`
}

function fixed (value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a'
}

function percent (value: number): string {
  return Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)} %` : 'n/a'
}

export function throughputTable (r: ThroughputResult): string {
  const p = r.parameters
  const lines = [
    `**Stream throughput on loopback** — ${p.mib} MiB per transfer in ${p.chunkKib} KiB chunks, writer and sink in one process, ${p.rounds} rounds with the setups interleaved.`,
    '',
    '| Setup | Median MB/s | Range MB/s | × raw socket | × bare libp2p |',
    '|---|---:|---:|---:|---:|'
  ]
  const toRaw: Record<string, number> = { 'raw-socket': 1, 'bare-libp2p': r.ratios.bareToRaw.median, peernet: r.ratios.peernetToRaw.median }
  const toBare: Record<string, number> = { 'raw-socket': NaN, 'bare-libp2p': 1, peernet: r.ratios.peernetToBare.median }
  for (const setup of THROUGHPUT_SETUPS) {
    const s = r.samples[setup]
    lines.push(`| ${SETUP_LABELS[setup]} | ${fixed(r.medians[setup], 1)} | ${fixed(min(s), 0)}–${fixed(max(s), 0)} | ${fixed(toRaw[setup] ?? NaN, 3)} | ${setup === 'raw-socket' ? '—' : fixed(toBare[setup] ?? NaN, 3)} |`)
  }
  lines.push('', `Peernet overhead over bare libp2p (1 − median of the per-round Peernet/bare ratios): **${percent(r.peernetOverhead)}** (goal: at most +5.0 %; negative means Peernet was faster). MB = 10⁶ bytes.`)
  return lines.join('\n')
}

export function startupTable (r: StartupResult): string {
  const p = r.parameters
  const lines = [
    `**Daemon cold start and idle memory** — ${p.runs} cold starts of each (spawn to ready line, fresh home each time), idle RSS after ${p.idleMs / 1000} s idle (${p.idleRounds} rounds).`,
    '',
    '| Process | Cold start median | Cold start p90 | Idle RSS (median) |',
    '|---|---:|---:|---:|'
  ]
  for (const subject of STARTUP_SUBJECTS) {
    lines.push(`| ${SUBJECT_LABELS[subject]} | ${fixed(r.coldStartMs[subject].median, 0)} ms | ${fixed(r.coldStartMs[subject].p90, 0)} ms | ${fixed(r.idleRssKiB[subject].median / 1024, 1)} MiB |`)
  }
  lines.push(`| Peernet daemon / bare libp2p | ${fixed(r.ratios.coldStartMedian, 2)}× | ${fixed(r.ratios.coldStartP90, 2)}× | ${fixed(r.ratios.idleRssMedian, 2)}× |`)
  return lines.join('\n')
}

export function syncTable (r: SyncResult): string {
  const p = r.parameters
  const n = p.entries.toLocaleString('en-US')
  const lines = [
    `**Network sync on loopback** — ${n} entries of ${p.itemBytes} bytes from one process to a fresh one over TCP on 127.0.0.1, ${p.rounds} round${p.rounds === 1 ? '' : 's'} with Peernet and hypercore ${p.hypercoreVersion} interleaved; timed in the receiver from its connect call until all entries are stored.`,
    '',
    '| Sync | Median time | Range | Entries/s | MB/s | Source setup (untimed) |',
    '|---|---:|---:|---:|---:|---:|'
  ]
  for (const subject of SYNC_SUBJECTS) {
    const s = r.samples.seconds[subject]
    const m = r.medians[subject]
    lines.push(`| ${SYNC_LABELS[subject]} | ${fixed(m.seconds, 2)} s | ${fixed(min(s), 2)}–${fixed(max(s), 2)} s | ${fixed(m.entriesPerSecond, 0)} | ${fixed(m.mbPerSecond, 2)} | ${fixed(r.setupSeconds[subject], 1)} s |`)
  }
  lines.push('', `hypercore time / Peernet time (median of the per-round ratios): **${fixed(r.ratio.median, 3)}×** (goal: at least ${r.ratio.goal}×; ${r.ratio.met ? 'met' : 'not met'}). MB = 10⁶ bytes of payload.`)
  if (p.entries !== p.issueEntries) {
    lines.push('', `Note: run at ${n} entries, not the issue's ${p.issueEntries.toLocaleString('en-US')} (\`--entries ${p.issueEntries}\` runs that size).`)
  }
  return lines.join('\n')
}

function bytes (value: number): string {
  return Number.isFinite(value) ? `${Math.round(value).toLocaleString('en-US')} B` : 'n/a'
}

function times (value: number): string {
  return Number.isFinite(value) && value !== 0 ? `${value.toFixed(2)}×` : '—'
}

export function idleTable (r: IdleResult): string {
  const p = r.parameters
  const n = p.networks.toLocaleString('en-US')
  const pn = r.figures.peernet
  const gs = r.figures.gossipsub
  const ratio = (a: number, b: number): string => times(b === 0 ? NaN : a / b)
  const row = (what: string, a: number, b: number, show: (v: number) => string): string => `| ${what} | ${show(a)} | ${show(b)} | ${ratio(b, a)} |`
  const perMinute = (digits: number, unit: string) => (v: number): string => `${fixed(v, digits)} ${unit}`
  const lines = [
    `**One node in ${n} networks, idle** — two nodes in the same ${n} networks (Peernet: created on one, joined by invite on the other) or subscribed to the same ${n} topics (gossipsub), each node its own process, connected over TCP on 127.0.0.1 and idle ${p.idleMs / 1000} s after their first sync and ${p.settleMs / 1000} s of settling. A baseline pair in ${p.baselineNetworks} network ran alongside: per network = (loaded − baseline) / (N − 1), except own-protocol bytes (loaded pair / N). Memory after two forced GCs; "worse node" is the larger of the pair's two.`,
    '',
    `| Per network | ${IDLE_LABELS.peernet} | ${IDLE_LABELS.gossipsub} | gossipsub / Peernet |`,
    '|---|---:|---:|---:|',
    row('Memory at rest (started, not connected): RSS, worse node', pn.perNetwork.restRssBytes.max, gs.perNetwork.restRssBytes.max, bytes),
    row('Memory at rest: V8 heap used, worse node', pn.perNetwork.restHeapBytes.max, gs.perNetwork.restHeapBytes.max, bytes),
    row('Memory after the first sync and the idle period: RSS, worse node', pn.perNetwork.rssBytes.max, gs.perNetwork.rssBytes.max, bytes),
    row('Memory after the first sync and the idle period: V8 heap used, worse node', pn.perNetwork.heapBytes.max, gs.perNetwork.heapBytes.max, bytes),
    row('Sent on its own protocol while idle, per minute, both nodes (Peernet sync / gossipsub meshsub)', pn.perNetwork.protocolBytesPerMinute, gs.perNetwork.protocolBytesPerMinute, perMinute(3, 'B')),
    row('Sent on the TCP connection while idle, per minute, both nodes', pn.perNetwork.tcpBytesPerMinute, gs.perNetwork.tcpBytesPerMinute, perMinute(3, 'B')),
    row('CPU while idle, per minute, both nodes', pn.perNetwork.cpuMicrosPerMinute, gs.perNetwork.cpuMicrosPerMinute, perMinute(2, 'µs')),
    row('Sent on the TCP connection in the first sync (connect to settled), both nodes', pn.perNetwork.firstSyncTcpBytes, gs.perNetwork.firstSyncTcpBytes, bytes),
    '',
    '| Process | Networks | RSS at rest | RSS after | Peak RSS | Heap used after | Connect to synced | TCP bytes sent / idle min | Own-protocol bytes sent / idle min | CPU / idle min |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
  ]
  for (const subject of IDLE_SUBJECTS) {
    const f = r.figures[subject]
    for (const pair of IDLE_PAIRS) {
      for (const role of IDLE_ROLES) {
        const t = f.totals[pair][role]
        const who = subject === 'peernet' ? (role === 'first' ? 'creator' : 'joiner') : (role === 'first' ? 'listener' : 'dialer')
        lines.push(`| ${IDLE_LABELS[subject]}, ${who} | ${pair === 'loaded' ? n : p.baselineNetworks} | ${fixed(t.restRssMiB, 1)} MiB | ${fixed(t.rssMiB, 1)} MiB | ${fixed(t.peakRssMiB, 1)} MiB | ${fixed(t.heapUsedMiB, 1)} MiB | ${fixed(f.syncSeconds[pair], 1)} s | ${fixed(t.tcpBytesSentPerMinute, 0)} | ${fixed(t.protocolBytesSentPerMinute, 0)} | ${fixed(t.cpuMsPerMinute, 0)} ms |`)
      }
    }
  }
  const g = r.goals
  lines.push('', `Goals: at most ${bytes(g.memoryBytesPerNetwork)} of memory per network — Peernet ${bytes(pn.perNetwork.restRssBytes.max)} RSS at rest (**${g.restMemoryMet ? 'met' : 'not met'}**), ${bytes(pn.perNetwork.rssBytes.max)} RSS after the first sync and the idle period (**${g.memoryMet ? 'met' : 'not met'}**; ${bytes(pn.perNetwork.heapBytes.max)} of it live V8 heap); zero bytes per idle network — Peernet's sync streams sent ${fixed(pn.perNetwork.protocolBytesPerMinute * p.networks * p.idleMs / 60_000, 0)} bytes in the idle period (**${g.idleBytesMet ? 'met' : 'not met'}**). TCP bytes while idle also carry libp2p's own keep-alive pings and services, which do not depend on the number of networks, so their loaded − baseline difference is near zero and can come out slightly either way. Making the Peernet homes (untimed): ${fixed(r.setupSeconds.loaded, 1)} s for ${n} networks.`)
  if (p.networks !== p.issueNetworks) {
    lines.push('', `Note: run at ${n} networks, not the issue's ${p.issueNetworks.toLocaleString('en-US')} (\`--networks ${p.issueNetworks}\` runs that size).`)
  }
  return lines.join('\n')
}
