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
const PACKAGES = ['libp2p', '@libp2p/tcp', '@chainsafe/libp2p-noise', '@chainsafe/libp2p-yamux']

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
