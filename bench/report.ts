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
import { ISSUE_NETWORKS, ISSUE_NODES } from './rendezvous.ts'
import type { RendezvousResult } from './rendezvous.ts'
import { IDLE_LABELS, IDLE_PAIRS, IDLE_ROLES, IDLE_SUBJECTS } from './idle.ts'
import type { IdleResult } from './idle.ts'
import { MESH_GOALS } from './mesh-sim.ts'
import type { MeshSimResult } from './mesh-sim.ts'
import { isMeasured } from './mesh-babeld.ts'
import type { MeshBabeldResult } from './mesh-babeld.ts'
import type { MeshSideResult } from './mesh-babeld-side.ts'
import { max, min } from './statistics.ts'
import { CREDIT_GOAL } from './credit-sim.ts'
import type { CreditSimResult } from './credit-sim.ts'
import type { RouterResult } from '../src/sim/credit/credit-experiment.ts'

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

function count (value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a'
}

function bytes (value: number): string {
  if (!Number.isFinite(value)) return 'n/a'
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)} GB`
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)} MB`
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} kB`
  return `${value.toFixed(0)} B`
}

export function rendezvousTable (r: RendezvousResult): string {
  const p = r.parameters
  const pop = r.population
  const lines = [
    `**Rendezvous for ${count(p.networks)} networks over ${count(p.nodes)} DHT nodes (simulated)** — network sizes Zipf(${p.exponent}) on ${p.minSize}–${Math.min(p.maxSize, p.nodes).toLocaleString('en-US')} members (mean ${fixed(pop.meanSize, 1)}, largest ${count(pop.largestNetwork)}; ${fixed(pop.sizeShares['2–8'] ?? NaN, 3)} of networks have ≤ 8 members), members uniform among the nodes: ${count(pop.memberships)} memberships, each node in ${count(pop.networksPerNode.mean)} networks on average (max ${count(pop.networksPerNode.max)}). Kademlia k = ${p.k}, alpha = ${p.alpha}; records live ${p.validityH} h, republished every ${p.republishH} h. Every member checks each of its networks once at a uniformly random moment of a ${fixed(p.jitterS / 60, 0)}-minute window${p.rounds > 1 ? `, then every ${p.republishH} h (${p.rounds} rounds)` : ''}; bound: announce while fewer than ${p.providersBound} others are found, keep announcing up to ${p.surplus}; from ${p.surplus} on only the ${p.providersBound} providers closest to the key (XOR) keep theirs.`,
    '',
    '| Overlay nodes | log₂ N | FIND_NODE hops to nearest (median / p95 / max) | GET_PROVIDERS hops to first provider (median / p95 / max) | Requests per FIND_NODE (median) | Exact k nearest found |',
    '|---:|---:|---:|---:|---:|---:|'
  ]
  for (const h of r.hops) {
    lines.push(`| ${count(h.nodes)} | ${fixed(h.log2Nodes, 1)} | ${h.findNodeHops.median} / ${h.findNodeHops.p95} / ${h.findNodeHops.max} | ${h.providerHops.median} / ${h.providerHops.p95} / ${h.providerHops.max} | ${h.findNodeQueries.median} | ${fixed(h.exactClosest * 100, 1)} % |`)
  }
  const tb = r.traffic.bounded
  lines.push('', `Sampled member checks at ${count(p.nodes)} nodes (${count(tb.checks)} checks, ${(p.sample * 100).toFixed(2)} % of all, message by message): hops to the first provider median ${tb.hopsToProvider.median}, p95 ${tb.hopsToProvider.p95}, max ${tb.hopsToProvider.max}; GET_PROVIDERS requests per check median ${tb.getProvidersRequests.median}, max ${tb.getProvidersRequests.max}.`)
  lines.push('', '| Announcing | Live providers per network > 8 members (mean / p99 / max) | Networks above 16 | Records per node (mean / p99 / max) | Rendezvous traffic per node per hour (mean / p99 / max) | Messages per node per hour (mean / max) |', '|---|---:|---:|---:|---:|---:|')
  for (const mode of ['bounded', 'everyone'] as const) {
    const b = r.bound[mode]
    const rec = r.records[mode]
    const t = r.traffic[mode]
    const label = mode === 'bounded' ? `bounded (decideAnnounce), ${fixed(p.jitterS / 60, 0)} min jitter` : 'every member announces'
    lines.push(`| ${label} | ${fixed(b.providers.mean, 1)} / ${b.providers.p99} / ${count(b.providers.max)} | ${fixed(b.aboveSurplus * 100, 2)} % | ${count(rec.mean)} / ${count(rec.p99)} / ${count(rec.max)} | ${bytes(t.bytesPerNodePerHour.mean)} / ${bytes(t.bytesPerNodePerHour.p99)} / ${bytes(t.bytesPerNodePerHour.max)} | ${count(t.messagesPerNodePerHour.mean)} / ${count(t.messagesPerNodePerHour.max)} |`)
  }
  for (const j of r.jitterSensitivity) {
    lines.push(`| bounded, ${j.jitterS >= 60 ? `${fixed(j.jitterS / 60, 0)} min` : `${j.jitterS} s`} jitter | ${fixed(j.providers.mean, 1)} / ${j.providers.p99} / ${count(j.providers.max)} | ${fixed(j.aboveSurplus * 100, 2)} % | | | |`)
  }
  if (r.validation.length > 0) {
    lines.push('', `Schedule model against whole networks run message by message (live providers at the end): ${r.validation.map((v) => `${count(v.size)} members: ${v.messageLevel} vs ${v.schedule}`).join('; ')}.`)
  }
  if (r.scaling.length > 1) {
    lines.push('', '| Nodes | Networks | Networks per node | Records per node, bounded (mean / p99 / max) | Records per node, every member announces (mean / p99 / max) |', '|---:|---:|---:|---:|---:|')
    for (const s of r.scaling) {
      lines.push(`| ${count(s.nodes)} | ${count(s.networks)} | ${count(s.networksPerNode)} | ${count(s.bounded.mean)} / ${count(s.bounded.p99)} / ${count(s.bounded.max)} | ${count(s.everyone.mean)} / ${count(s.everyone.p99)} / ${count(s.everyone.max)} |`)
    }
  }
  const sampledAtMax = tb.messagesPerNodePerHour.max * p.sample * p.jitterS / 3600
  lines.push('', `Traffic counts every kad-dht request and answer a check causes (GET_PROVIDERS lookup; for announcers, provide()'s FIND_NODE lookup and ADD_PROVIDER to the ${p.k} nearest), sent plus received, with ~${p.requestOverheadBytes} B per request and ${p.peerEntryBytes} B per peer entry in answers; it covers the hour in which every member checks every network once (a cold start of the whole population), not routing-table upkeep; once a day per network (the republish interval) is about 1/24 of it per hour. Per-node traffic is the sampled checks' count × ${fixed(1 / p.sample, 0)}: the busiest node's figure rests on ~${count(sampledAtMax)} sampled messages (±${fixed(100 / Math.sqrt(Math.max(1, sampledAtMax)), 0)} % for one node; as the largest of ${count(p.nodes)} such estimates it leans high by a few times that). Alpha 3 is Kademlia's and go-libp2p's; js-libp2p 16 queries with alpha 10 over disjoint paths (fewer round trips, more messages).`)
  if (p.nodes !== ISSUE_NODES || p.networks !== ISSUE_NETWORKS) {
    lines.push('', `Note: run at ${count(p.nodes)} nodes and ${count(p.networks)} networks, not the issue's ${count(ISSUE_NODES)} and ${count(ISSUE_NETWORKS)}.`)
  }
  return lines.join('\n')
}

function exactBytes (value: number): string {
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
  lines.push('', `Goals: at most ${exactBytes(g.memoryBytesPerNetwork)} of memory per network — Peernet ${exactBytes(pn.perNetwork.restRssBytes.max)} RSS at rest (**${g.restMemoryMet ? 'met' : 'not met'}**), ${exactBytes(pn.perNetwork.rssBytes.max)} RSS after the first sync and the idle period (**${g.memoryMet ? 'met' : 'not met'}**; ${exactBytes(pn.perNetwork.heapBytes.max)} of it live V8 heap); zero bytes per idle network — Peernet's sync streams sent ${fixed(pn.perNetwork.protocolBytesPerMinute * p.networks * p.idleMs / 60_000, 0)} bytes in the idle period (**${g.idleBytesMet ? 'met' : 'not met'}**). TCP bytes while idle also carry libp2p's own keep-alive pings and services, which do not depend on the number of networks, so their loaded − baseline difference is near zero and can come out slightly either way. Making the Peernet homes (untimed): ${fixed(r.setupSeconds.loaded, 1)} s for ${n} networks.`)
  if (p.networks !== p.issueNetworks) {
    lines.push('', `Note: run at ${n} networks, not the issue's ${p.issueNetworks.toLocaleString('en-US')} (\`--idle-networks ${p.issueNetworks}\` runs that size).`)
  }
  return lines.join('\n')
}

export function meshSimTable (r: MeshSimResult): string {
  const p = r.parameters
  const pct = (v: number): string => Number.isFinite(v) ? `${(v * 100).toFixed(2)} %` : 'n/a'
  const ms = (v: number): string => Number.isFinite(v) ? `${(v / 1000).toFixed(1)} s` : 'n/a'
  const met = (ok: boolean): string => ok ? 'met' : 'not met'
  const lines = [
    `**Mesh in the simulator** — random geometric graphs (unit square, mean degree 10, made connected), the real Router and Forwarder on every virtual node, link latency 8–12 ms, ${p.traffic} packets/s between uniform random pairs, measured ${p.duration} after initial convergence${p.large ? ` (large run: ${p.largeDuration})` : ''}; link failures signalled to both ends; ${(r.static.parameters as { location?: string }).location === 'service' ? 'sources learn far destinations\' addresses from the location service (registrations at landmark homes, counted as control bytes)' : 'sources know the destination\'s landmarks (oracle location)'}. Seed ${p.seed}.`,
    '',
    '| Run | Nodes | Links | Converged in | Delivery | Stretch mean / p99 | Control B/node/s mean / p99 | State per node mean / max | Reconvergence median / p95 | Loops (walks) | Heap per node | Wall time |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
  ]
  const row = (label: string, m: MeshSimResult['static']): string =>
    `| ${label} | ${count(m.topology.nodes)} | ${count(m.topology.links)} | ${ms(m.convergence.initialMs)} | ${pct(m.delivery.ratio)} (${count(m.delivery.delivered)}/${count(m.delivery.reachable)}) | ${fixed(m.stretch.mean, 3)} / ${fixed(m.stretch.p99, 2)} | ${fixed(m.control.bytesPerNodePerSecond.mean, 1)} / ${fixed(m.control.bytesPerNodePerSecond.p99, 1)} | ${fixed(m.state.total.mean, 0)} / ${count(m.state.total.max)} | ${m.reconvergence.count === 0 ? '—' : `${ms(m.reconvergence.ms.median)} / ${ms(m.reconvergence.ms.p95)} (${m.reconvergence.converged}/${m.reconvergence.count})`} | ${m.loops.loops} (${count(m.loops.walks)}) | ${bytes(m.memory.heapBytesPerNode)} | ${fixed(m.run.wallSeconds, 0)} s |`
  lines.push(row('static', r.static))
  lines.push(row(`${p.flap} of links flapping`, r.flapping))
  if (r.large !== null) lines.push(row('large, static', r.large))
  else if (r.largeError !== null) lines.push(`| large, static | ${count(p.largeNodes)} | — | did not complete: ${r.largeError.split('\n')[0] ?? ''} | | | | | | | | |`)
  lines.push('', '| Same topology, static | Delivery | Data B/node/s | Transmissions per packet | Duplicates per packet | State per node (max) |', '|---|---:|---:|---:|---:|---:|')
  lines.push(`| Peernet mesh (routed) | ${pct(r.static.delivery.ratio)} | ${fixed(r.static.data.bytesPerNodePerSecond, 2)} + control ${fixed(r.static.control.bytesPerNodePerSecond.mean, 1)} | ${fixed(r.static.pathHops.mean, 1)} | ${r.static.delivery.duplicates} | ${count(r.static.state.total.max)} |`)
  for (const b of r.static.baseline) {
    lines.push(`| Managed flooding, hop limit ${b.hopLimit} | ${pct(b.deliveryRatio)} | ${fixed(b.dataBytesPerNodePerSecond, 2)} | ${fixed(b.transmissionsPerPacket, 0)} | ${fixed(b.duplicatesPerPacket, 0)} | ${count(b.maxState)} |`)
  }
  if (r.location !== null && r.location !== undefined) {
    const l = r.location
    lines.push('', `**Finding addresses** (${count(l.service.topology.nodes)} nodes, static, same seed): the location service — each node registers its address with two landmark homes, a sender with no route to a far destination sends via its homes, which fill in the address — against oracle addresses.`, '',
      '| Addresses from | Delivery | Stretch mean / median / p99 | Latency median | Control B/node/s mean | State per node mean / max |', '|---|---:|---:|---:|---:|---:|')
    for (const [label, m] of [['the location service', l.service], ['an oracle', l.oracle]] as const) {
      lines.push(`| ${label} | ${pct(m.delivery.ratio)} | ${fixed(m.stretch.mean, 3)} / ${fixed(m.stretch.median, 2)} / ${fixed(m.stretch.p99, 2)} | ${fixed(m.delivery.latencyMs.median, 0)} ms | ${fixed(m.control.bytesPerNodePerSecond.mean, 1)} | ${fixed(m.state.total.mean, 0)} / ${count(m.state.total.max)} |`)
    }
    lines.push('', 'Every packet of this traffic goes to a new random pair: each one whose destination lies beyond the sender\'s routes takes the detour through a home (a sender caches an address only from a binding update, which the next packet to the same pair would use; \`peernet sim mesh --flow-packets K\` measures that), so the stretch shown is a first packet\'s.')
  }
  lines.push('', `Goals: delivery ≥ ${pct(MESH_GOALS.staticDelivery)} static (**${met(r.goals.staticDelivery)}**), ≥ ${pct(MESH_GOALS.flappingDelivery)} with flapping (**${met(r.goals.flappingDelivery)}**), stretch ≤ ${MESH_GOALS.stretch} (**${met(r.goals.stretch)}**). Delivery counts packets whose destination was reachable when sent; stretch = hops taken / BFS shortest hops at send time; control bytes = encoded control packets + 1 frame byte, per link sent; reconvergence = time until every probe pair around an event is routable again (500 ms resolution); loops = next hops followed for probe pairs after every event and every 10 s. Flooding runs ${r.static.parameters.baselinePackets} packets one at a time (no collisions or airtime modelled, which favours it); its bytes are at the same offered load.`)
  if (p.nodes !== 10_000 || !p.large || p.largeNodes !== 100_000) {
    const missing = [p.nodes === 10_000 ? '' : `${count(p.nodes)} nodes, not the issue's 10,000`, p.large && p.largeNodes === 100_000 ? '' : 'without the issue\'s 100,000-node run'].filter((x) => x !== '')
    lines.push('', `Note: run ${missing.join(', ')} (\`node bench/run.ts mesh-sim\` at its defaults runs both).`)
  }
  return lines.join('\n')
}

export function meshBabeldTable (r: MeshBabeldResult): string {
  const p = r.parameters
  const t = p.babeldTimers
  const lines = [
    `**Mesh against babeld on ${p.nodes} network namespaces** — a ${p.rows}×${p.cols} grid, ${p.links} veth links, each host reaching only its grid neighbours; probes from corner r0c0 to corner r${p.rows - 1}c${p.cols - 1} every ${p.probeIntervalMs} ms (babeld: ping between the hosts' loopback /32s, which babeld routes; Peernet: acknowledged \`POST /v1/mesh/send\`). ${p.cuts} cuts per method on the current path, each restored ${p.restoreSettleMs / 1000} s before the next; carrier = both veth ends set down (the kernel tells the router), silent = every frame dropped on both ends, carrier up (only missing hellos tell). Recovery = from the cut complete (its commands returned, a few ms) to the first answer to a probe sent after it; outage = last answer to a probe sent before the cut began to that first answer (the gap a user saw, at least one probe interval); both routers are probed at the same interval, so both recoveries hold the same wait for the next probe (0 to one interval), but each also holds its own probe's round trip (shown: median over the second before each cut), microseconds for a ping, milliseconds for a mesh send through the daemon's API, sealed, acknowledged end to end. First A → Z = every router running with all links silent for 5 s, then all links speak at once: the time to the first answer to a probe sent after that, one sample. Idle = bytes each host sent over ${p.idleMs / 1000} s after ${p.settleMs / 1000} s of settling, counted by nftables, whole IP packets. babeld at its defaults: hello ${t.helloIntervalS} s, update ${t.updateIntervalS} s, IHU ${t.ihuIntervalS} s.`,
    '',
    '| Router | First A → Z after links up | Carrier cut: recovery median / max | Silent cut: recovery median / max | Idle control, per node (IP bytes/s) | Idle control, UDP payload B/s | Other traffic, per node B/s |',
    '|---|---:|---:|---:|---:|---:|---:|'
  ]
  const cut = (s: MeshSideResult, m: 'carrier' | 'silent'): string => {
    const c = s.cuts[m]
    const rtt = c.probeRttMedianMs === undefined ? '' : `, probe round trip ${fixed(c.probeRttMedianMs, 1)} ms`
    return `${fixed(c.medianMs, 0)} / ${fixed(c.maxMs, 0)} ms (outage ${fixed(c.outageMedianMs, 0)} / ${fixed(c.outageMaxMs, 0)} ms${rtt})${c.unrecovered > 0 ? ` (${c.unrecovered} of ${c.count} not through within ${p.cutTimeoutMs / 1000} s)` : ''}`
  }
  for (const [name, half, port] of [['babeld', r.babeld, p.babelPort], ['Peernet mesh', r.peernet, p.meshPort]] as const) {
    if (!isMeasured<MeshSideResult>(half)) {
      lines.push(`| ${name} | ${'skipped' in half ? `skipped: ${half.skipped}` : `failed: ${half.failed}`} | | | | | |`)
      continue
    }
    const i = half.idle.perNode
    lines.push(`| ${half.implementation} (UDP ${port}) | ${fixed(half.convergenceMs, 0)} ms | ${cut(half, 'carrier')} | ${cut(half, 'silent')} | ${fixed(i.portBytesPerSecond, 1)} | ${fixed(i.portPayloadBytesPerSecond, 1)} | ${fixed(i.otherBytesPerSecond, 1)} |`)
  }
  const g = r.goals
  const word = (met: boolean | null): string => met === null ? 'not measured' : met ? 'met' : 'not met'
  const probes = (met: boolean | null | undefined, median: boolean | null): string => met === undefined ? `**${word(median)}**` : `**${word(met)}** by probes lost or held up after the cut, **${word(median)}** by median recovery`
  lines.push('', `Goals: recovery no slower than babeld — carrier cuts ${probes(g.recoveryCarrierProbesMet, g.recoveryCarrierMet)}, silent cuts ${probes(g.recoverySilentProbesMet, g.recoverySilentMet)}; idle control traffic at most half of babeld's — **${word(g.idleMet)}**. Recovery resolution is the probe interval (${p.probeIntervalMs} ms). "Other traffic" is everything else a host sent on its links (for Peernet: libp2p — mDNS, DHT, identify, pings), not mesh control traffic.`)
  if (isMeasured(r.babeld) && isMeasured(r.peernet) && r.peernet.cuts.carrier.lostAfterCuts !== undefined && r.babeld.cuts.carrier.lostAfterCuts !== undefined) {
    const lost = (s: MeshSideResult, m: 'carrier' | 'silent'): string => {
      const c = s.cuts[m]
      return `${c.lostAfterCuts} lost or held up, the first probe after the cut through promptly after ${c.atOnce} of ${c.count} cuts; the first prompt one sent ${fixed(c.sentAfterMedianMs, 0)} ms after the cut (median)`
    }
    lines.push('', `Probes sent after the cut was complete that were lost or held up by it (kept in custody, retransmitted) before the first one through promptly (round trip at most twice the one before the cut plus one interval); free of each probe's phase and round trip, resolution one probe interval: carrier cuts babeld ${lost(r.babeld, 'carrier')}; Peernet ${lost(r.peernet, 'carrier')} (**${word(g.recoveryCarrierProbesMet ?? null)}**); silent cuts babeld ${lost(r.babeld, 'silent')}; Peernet ${lost(r.peernet, 'silent')} (**${word(g.recoverySilentProbesMet ?? null)}**).`)
  }
  if (isMeasured(r.babeld) && isMeasured(r.peernet) && r.peernet.cuts.carrier.netMedianMs !== undefined) {
    const net = (s: MeshSideResult, m: 'carrier' | 'silent'): string => `${fixed(s.cuts[m].netMedianMs, 0)} ms`
    lines.push('', `Recovery less each probe's own round trip before the cut (median; the router's part, whatever its probe costs): carrier cuts babeld ${net(r.babeld, 'carrier')}, Peernet ${net(r.peernet, 'carrier')} (**${word(g.recoveryCarrierNetMet ?? null)}**); silent cuts babeld ${net(r.babeld, 'silent')}, Peernet ${net(r.peernet, 'silent')} (**${word(g.recoverySilentNetMet ?? null)}**).`)
  }
  if (isMeasured(r.babeld) && isMeasured(r.peernet)) {
    const b = r.babeld.idle.perNode
    const q = r.peernet.idle.perNode
    lines.push('', `Idle control traffic, Peernet / babeld: ${times(q.portBytesPerSecond / b.portBytesPerSecond)} in IP bytes, ${times(q.portPayloadBytesPerSecond / b.portPayloadBytesPerSecond)} in UDP payload (goal: at most 0.50× in IP bytes).`)
  }
  if (isMeasured(r.peernet) && r.peernet.selfReportedIdle !== null) {
    lines.push('', `The Peernet daemons' own count (GET /v1/mesh/stats) of mesh control bytes while idle: ${fixed(r.peernet.selfReportedIdle.controlBytesSentPerNodePerSecond, 1)} B/s sent per node.`)
  }
  return lines.join('\n')
}

export function creditSimTable (r: CreditSimResult): string {
  const f = (v: number, d: number): string => Number.isFinite(v) ? v.toFixed(d) : 'n/a'
  const signed = (v: number): string => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}`
  const met = (ok: boolean): string => ok ? 'met' : 'not met'
  const first = r.workloads[0]?.result
  const lines = [
    `**Credit path finding in the simulator** — ${r.parameters.payments.toLocaleString('en-US')} payments in sequence per workload, seed ${r.parameters.seed}, every router on the same payments from the same initial lines; a payment settles only whole (atomic), and moves its lines for the payments after it. ${first?.graph.note ?? ''}. Payments: ${first?.payments.note ?? ''}. Messages: discovery (neighbourhood pulled, probes forward and back) plus a prepare and a fulfill per hop; the oracle baselines (shortest, maxflow) see the true graph for free. Published anchors on the real Ripple trace at 1× capacity (Flash, CoNEXT 2019): Flash ${r.anchors.flash}, SpeedyMurmurs ${r.anchors.speedymurmurs}, shortest path ${r.anchors.shortest}.`
  ]
  for (const w of r.workloads) {
    const p = w.result.payments
    const note = w.result.graph.note === first?.graph.note ? '' : ` ${w.result.graph.note}.`
    lines.push('', `*${w.name}* (payment mean ${f(p.meanAmount, 1)}, median ${f(p.medianAmount, 1)}, p99 ${f(p.p99Amount, 0)} units; \`${w.command}\`; the widened row: \`${w.widened.command}\`)${note}`, '',
      '| Router | Success ratio | Volume ratio | Messages/payment mean | p50 | p99 | Messages/success | Paths | Hops | Failed at the ends\' cut | Routed by | Invariant |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|')
    const rows: Array<[string, RouterResult]> = w.result.routers.map((x) => [x.router, x])
    if (w.widened.result !== undefined) rows.splice(1, 0, ['peernet, widening to r = 3 (friends with > 1/4 of the amount)', w.widened.result])
    for (const [label, x] of rows) {
      lines.push(`| ${label} | ${f(x.successRatio, 3)} | ${f(x.volume.ratio, 3)} | ${f(x.messages.mean, 1)} | ${f(x.messages.p50, 0)} | ${f(x.messages.p99, 0)} | ${f(x.messagesPerSuccess, 1)} | ${f(x.paths.mean, 2)} | ${f(x.hops.mean, 2)} | ${x.failedAtEndpoints ?? 'n/a'} | ${Object.entries(x.methods).map(([k, v]) => `${k} ${v}`).join(', ')} | ${x.invariant.linesConserved && x.invariant.positionsMatch && x.settlementFailures === 0 ? 'holds' : 'BROKEN'} |`)
    }
    const peernet = w.result.routers.find((x) => x.router === 'peernet')
    const sm = w.result.routers.find((x) => x.router === 'speedymurmurs')
    const sp = w.result.routers.find((x) => x.router === 'shortest')
    if (sm !== undefined && sp !== undefined) lines.push('', `Against the published anchors: SpeedyMurmurs ${f(sm.successRatio, 3)} (published ${r.anchors.speedymurmurs}, ${signed(sm.successRatio - r.anchors.speedymurmurs)}), shortest path ${f(sp.successRatio, 3)} (published ${r.anchors.shortest}, ${signed(sp.successRatio - r.anchors.shortest)}).`)
    lines.push('', `Goal (Peernet > ${CREDIT_GOAL.successRatio} success with fewer messages per payment than SpeedyMurmurs): success **${met(w.goal.successAbove)}**, messages **${met(w.goal.fewerMessagesThanSpeedyMurmurs)}**.${peernet === undefined ? '' : ` Keeping the neighbourhood views pushed instead of pulled would cost ${f(peernet.pushMessagesPerPayment, 0)} messages per payment.`}`)
  }
  return lines.join('\n')
}
