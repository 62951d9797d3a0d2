// `peernet sim …`: experiments in the deterministic simulator (src/sim). They run in this
// process, need no daemon and touch no home directory.

import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from '../command.ts'
import { positiveIntFlag } from '../command.ts'
import { UsageError } from '../../core/errors.ts'
import type { MeshResult } from '../../sim/mesh/mesh-experiment.ts'

export const simRendezvousCommand: Command = {
  name: 'sim rendezvous',
  summary: 'Simulate rendezvous (DHT provider records) for many networks over many virtual nodes.',
  usage: 'sim rendezvous [--nodes N] [--networks M] [--seed S] [--sample F] [--jitter-s N] [--json]',
  help: `Builds a Kademlia overlay of N virtual nodes (k = 20, alpha = 3), gives M networks
Zipf(2)-distributed sizes, lets every member check each of its networks once within the
jitter window under the announce bound and without it, and reports hops per lookup,
provider records per node and rendezvous traffic per node. Same seed, same numbers.
\`npm run bench -- rendezvous\` runs the full benchmark (scaling grid, 1k–30k node hop survey).

  --nodes N          virtual DHT nodes (default 10000)
  --networks M       networks (default 100000; the issue's size is 1000000, about two minutes)
  --seed S           simulation seed (default 1)
  --sample F         fraction of checks simulated message by message (default 0.005)
  --jitter-s N       window of the members' first checks in seconds (default 3600)`,
  options: { nodes: { type: 'string' }, networks: { type: 'string' }, seed: { type: 'string' }, sample: { type: 'string' }, 'jitter-s': { type: 'string' } },
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const nodes = positiveIntFlag(ctx, 'nodes', 10_000, 1_000_000)
    if (nodes < 64) throw new UsageError(`--nodes must be at least 64, got ${nodes}`)
    const networks = positiveIntFlag(ctx, 'networks', 100_000, 100_000_000)
    const seed = positiveIntFlag(ctx, 'seed', 1, 0xffffffff)
    const jitterS = positiveIntFlag(ctx, 'jitter-s', 3600, 7 * 24 * 3600)
    // Loaded on use: the simulator has no business in the daemon's start-up.
    const { DEFAULT_RENDEZVOUS_OPTIONS, runRendezvousExperiment } = await import('../../sim/rendezvous/experiment.ts')
    const sample = fractionFlag(ctx.values.sample, DEFAULT_RENDEZVOUS_OPTIONS.sample)
    const r = await runRendezvousExperiment({
      ...DEFAULT_RENDEZVOUS_OPTIONS,
      nodes, networks, seed, sample, jitterS,
      hopNodes: [nodes],
      grid: false,
      validate: 0,
      jitterSensitivityS: []
    }, (line) => { if (!ctx.json) process.stderr.write(`${line}\n`) })
    const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`
    ctx.print(r, () => {
      const h = r.hops[0]
      const lines = [
        `${nodes} nodes, ${networks} networks (${r.population.memberships} memberships, ${Math.round(r.population.networksPerNode.mean)} networks per node, largest ${r.population.largestNetwork} members)`,
        h === undefined ? '' : `hops: FIND_NODE to nearest median ${h.findNodeHops.median} / p95 ${h.findNodeHops.p95} / max ${h.findNodeHops.max}; to first provider median ${r.traffic.bounded.hopsToProvider.median} / max ${r.traffic.bounded.hopsToProvider.max}`
      ]
      for (const mode of ['bounded', 'everyone'] as const) {
        const rec = r.records[mode]
        const t = r.traffic[mode]
        const b = r.bound[mode]
        lines.push(`${mode === 'bounded' ? 'bounded' : 'everyone announces'}: providers per network > 8 members mean ${b.providers.mean.toFixed(1)} / max ${b.providers.max}; records per node mean ${Math.round(rec.mean)} / p99 ${Math.round(rec.p99)} / max ${Math.round(rec.max)}; traffic per node per hour mean ${mb(t.bytesPerNodePerHour.mean)} / max ${mb(t.bytesPerNodePerHour.max)}`)
      }
      return lines.filter((l) => l !== '')
    })
  }
}

function fractionFlag (raw: string | boolean | string[] | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!(typeof raw === 'string' && Number.isFinite(n) && n > 0 && n <= 1)) throw new UsageError(`--sample must be a fraction in (0, 1], got "${String(raw)}"`)
  return n
}

export const simMeshCommand: Command = {
  name: 'sim mesh',
  summary: 'Simulate the mesh (router and forwarder cores) on a virtual topology: delivery, stretch, control bytes, loops.',
  usage: 'sim mesh [--nodes N] [--topology T] [--seed S] [--events FILE] [--duration D] [--flap R] [--baseline flooding] [--location service|oracle] [--flow-packets K] [--narrow-from N] [--out DIR] [--json]',
  help: `Runs N virtual nodes, each with the real mesh router and forwarder, over virtual links with
latency and loss in virtual time. Waits for initial convergence, then measures for the
duration: random traffic, the events, link flapping and churn. Prints a table, writes
mesh-sim.json and mesh-sim.svg into --out (default: the current directory). Same seed,
same result. \`npm run bench -- mesh-sim\` runs the 10,000- and 100,000-node benchmark.

  --nodes N          virtual nodes (default 100; ignored for a topology file)
  --topology T       line, ring, grid, rgg (random geometric), scale-free, or a file of
                     "a b [latency-ms]" lines (default rgg)
  --degree K         target mean degree of rgg and scale-free (default 10)
  --seed S           simulation seed (default 1)
  --events FILE      events, one per line: "at 30s link-down a b", link-up, node-down n,
                     node-up n, partition n…, heal, loss a b 0.2 (times from the end of
                     initial convergence)
  --duration D       measured virtual time, e.g. 90s, 10m (default 2m)
  --flap R           fraction of links failing per minute, e.g. 1%/min (default 0)
  --churn R          fraction of nodes leaving per minute, e.g. 0.5%/min (default 0)
  --traffic N        flows per second over the whole mesh, each between a random pair
                     (default 10)
  --flow-packets K   packets per flow, 1 s of virtual time apart (default 1: one packet
                     per pair); the table then gives the stretch of first packets and of
                     the later ones apart (later ones use the address a binding update
                     gave the sender, instead of a detour through the destination's home)
  --silent           link failures are not signalled; routers find them by missed hellos
  --baseline flooding  also run Meshtastic-style managed flooding (hop limit 7 and unlimited)
  --location L       how senders learn a far destination's address: service (the location
                     service: registrations at landmark homes, default) or oracle (taken
                     from the destination's router); with service, a node that gets
                     data from a far node sends it its address (a binding update)
  --narrow-from N    scale-aware scopes, as the daemon runs them: a plain node routes to
                     the whole mesh until it knows N landmarks (the daemon's 64); default
                     0, scoped from the start
  --out DIR          where to write mesh-sim.json and mesh-sim.svg (default .)`,
  options: {
    nodes: { type: 'string' },
    topology: { type: 'string' },
    degree: { type: 'string' },
    seed: { type: 'string' },
    events: { type: 'string' },
    duration: { type: 'string' },
    flap: { type: 'string' },
    churn: { type: 'string' },
    traffic: { type: 'string' },
    silent: { type: 'boolean' },
    baseline: { type: 'string' },
    location: { type: 'string' },
    'flow-packets': { type: 'string' },
    'narrow-from': { type: 'string' },
    out: { type: 'string' }
  },
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const nodes = positiveIntFlag(ctx, 'nodes', 100, 1_000_000)
    if (nodes < 2) throw new UsageError(`--nodes must be at least 2, got ${nodes}`)
    const seed = positiveIntFlag(ctx, 'seed', 1, 0xffffffff)
    const degree = positiveIntFlag(ctx, 'degree', 10, 1000)
    const { parseDuration, parseRatePerMinute, readEventsFile } = await import('../../sim/mesh/events.ts')
    const { makeTopology } = await import('../../sim/mesh/topology.ts')
    const { DEFAULT_MESH_OPTIONS, runMeshExperiment } = await import('../../sim/mesh/mesh-experiment.ts')
    const { meshChart } = await import('../../sim/mesh/mesh-chart.ts')
    const { Random } = await import('../../sim/random.ts')
    const str = (name: string): string | undefined => typeof ctx.values[name] === 'string' ? ctx.values[name] : undefined
    const durationText = str('duration') ?? '2m'
    const durationMs = parseDuration(durationText)
    if (durationMs === undefined || durationMs <= 0) throw new UsageError(`--duration must be a time like 90s or 10m, got "${durationText}"`)
    const rate = (name: string): number => {
      const raw = str(name)
      if (raw === undefined) return 0
      const v = parseRatePerMinute(raw)
      if (v === undefined) throw new UsageError(`--${name} must be a fraction per minute like 1%/min or 0.01, got "${raw}"`)
      return v
    }
    const flapPerMinute = rate('flap')
    const churnPerMinute = rate('churn')
    const trafficRaw = str('traffic')
    const trafficPerSecond = trafficRaw === undefined ? DEFAULT_MESH_OPTIONS.trafficPerSecond : Number(trafficRaw)
    if (!(Number.isFinite(trafficPerSecond) && trafficPerSecond >= 0)) throw new UsageError(`--traffic must be packets per second ≥ 0, got "${trafficRaw ?? ''}"`)
    const baseline = str('baseline')
    if (baseline !== undefined && baseline !== 'flooding') throw new UsageError(`--baseline must be "flooding", got "${baseline}"`)
    const location = str('location') ?? DEFAULT_MESH_OPTIONS.location
    if (location !== 'service' && location !== 'oracle') throw new UsageError(`--location must be "service" or "oracle", got "${location}"`)
    const flowPackets = positiveIntFlag(ctx, 'flow-packets', DEFAULT_MESH_OPTIONS.flowPackets, 1000)
    const narrowFrom = str('narrow-from') === undefined ? 0 : positiveIntFlag(ctx, 'narrow-from', 0, 100_000)
    const topology = makeTopology(str('topology') ?? 'rgg', nodes, new Random(seed), { meanDegree: degree })
    const eventsPath = str('events')
    const events = eventsPath === undefined ? [] : readEventsFile(eventsPath, topology)
    const outDir = str('out') ?? '.'
    const r = await runMeshExperiment(topology, {
      ...DEFAULT_MESH_OPTIONS,
      seed,
      durationMs,
      events,
      flapPerMinute,
      churnPerMinute,
      trafficPerSecond,
      silentFailures: ctx.values.silent === true,
      location,
      flowPackets,
      narrowFrom,
      baselineHopLimits: baseline === 'flooding' ? [7, Infinity] : []
    }, (line) => { if (!ctx.json) process.stderr.write(`${line}\n`) })
    mkdirSync(outDir, { recursive: true })
    const jsonPath = join(outDir, 'mesh-sim.json')
    const svgPath = join(outDir, 'mesh-sim.svg')
    writeFileSync(jsonPath, JSON.stringify(r, null, 2) + '\n')
    writeFileSync(svgPath, meshChart(r))
    ctx.print(r, () => meshTable(r, jsonPath, svgPath))
  }
}

function meshTable (r: MeshResult, jsonPath: string, svgPath: string): string[] {
  const f = (v: number, d = 1): string => Number.isFinite(v) ? v.toFixed(d) : 'n/a'
  const pct = (v: number): string => Number.isFinite(v) ? `${(v * 100).toFixed(2)} %` : 'n/a'
  const t = r.topology
  const d = r.delivery
  const rows: Array<[string, string]> = [
    ['topology', `${t.kind}: ${t.nodes} nodes, ${t.links} links, mean degree ${f(t.meanDegree, 2)}, max ${t.maxDegree}`],
    ['initial convergence', r.convergence.converged ? `${f(r.convergence.initialMs / 1000)} s` : 'not reached'],
    ['events', `${r.events.total} (${Object.entries(r.events.byKind).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'})`],
    ['delivery', `${pct(d.ratio)} (${d.delivered} of ${d.reachable} reachable; ${d.sent} sent)`],
    ['stretch (hops / shortest)', `mean ${f(r.stretch.mean, 3)}, p99 ${f(r.stretch.p99, 3)}, max ${f(r.stretch.max, 3)}`],
    ...(r.parameters.flowPackets > 1 ? [['stretch, flows', `first packets mean ${f(r.flowStretch.first.mean, 3)}, p99 ${f(r.flowStretch.first.p99, 3)}; later packets mean ${f(r.flowStretch.later.mean, 3)}, p99 ${f(r.flowStretch.later.p99, 3)} (${r.parameters.flowPackets} packets per flow, ${r.flowStretch.gapMs} ms apart; mean by place ${r.flowStretch.meanByIndex.map((v) => f(v, 3)).join(', ')})`] as [string, string]] : []),
    ['path hops', `mean ${f(r.pathHops.mean)}, max ${f(r.pathHops.max, 0)}; latency median ${f(r.delivery.latencyMs.median, 0)} ms`],
    ['control bytes/node/s', `mean ${f(r.control.bytesPerNodePerSecond.mean)}, p99 ${f(r.control.bytesPerNodePerSecond.p99)}, max ${f(r.control.bytesPerNodePerSecond.max)} (warm-up ${f(r.control.warmupBytesPerNodePerSecond)})`],
    ['data bytes/node/s', f(r.data.bytesPerNodePerSecond, 2)],
    ['state per node', `mean ${f(r.state.total.mean)}, max ${f(r.state.total.max, 0)} (router mean ${f(r.state.router.mean)}, forwarder ${f(r.state.forwarder.mean)}, location mean ${f(r.state.location.mean)} max ${f(r.state.location.max, 0)})`],
    ['location', r.location.mode === 'oracle'
      ? 'oracle (via from the destination\'s router)'
      : `service: registrations ${f(r.location.bytesPerNodePerSecond, 2)} bytes/node/s (warm-up ${f(r.location.warmupBytesPerNodePerSecond, 2)}, steady refresh ${f(r.location.steadyBytesPerNodePerSecond, 2)}; ${f(r.location.bytesPerRegistration, 0)} bytes each over its hops), ${r.location.registrationsSent} sent, ${r.location.accepted} kept, ${r.location.refused} refused; binding updates ${r.location.bindingsSent} sent (${f(r.location.bindingBytesPerNodePerSecond, 2)} bytes/node/s), ${r.location.cached} cached, ${r.location.cacheHits} lookups answered from the cache; records per home mean ${f(r.location.recordsPerHome.mean)}, max ${f(r.location.recordsPerHome.max, 0)}`],
    ['reconvergence', r.reconvergence.count === 0 ? 'no events' : `median ${f(r.reconvergence.ms.median, 0)} ms, p95 ${f(r.reconvergence.ms.p95, 0)} ms, max ${f(r.reconvergence.ms.max, 0)} ms (${r.reconvergence.converged} of ${r.reconvergence.count} events)`],
    ['loops', `${r.loops.loops} in ${r.loops.walks} next-hop walks (${r.loops.revisits} nodes met again after leaving a landmark behind); ${r.loops.ttlExpired} envelopes dropped at ttl 0`],
    ['memory per node', `${f(r.memory.heapBytesPerNode / 1024)} KiB of V8 heap and array buffers`]
  ]
  for (const b of r.baseline) {
    rows.push([`flooding, hop limit ${b.hopLimit}`, `delivery ${pct(b.deliveryRatio)}, ${f(b.transmissionsPerPacket, 0)} transmissions per packet, data ${f(b.dataBytesPerNodePerSecond, 2)} bytes/node/s, ${f(b.duplicatesPerPacket, 0)} duplicates per packet`])
  }
  const width = Math.max(...rows.map(([k]) => k.length))
  return [...rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`), `wrote ${jsonPath} and ${svgPath} (${r.run.wallSeconds} s, ${r.run.simEvents} events)`]
}

export const simCreditCommand: Command = {
  name: 'sim credit',
  summary: 'Simulate credit payments over a trust-line graph: success, volume and messages per router.',
  usage: 'sim credit [--graph FILE | --nodes N --links L] [--payments N] [--payment-min X] [--capacity-sigma S] [--degree-exponent B] [--single-line-fraction Q] [--one-way-fraction F] [--seed S] [--router R] [--radius r] [--max-radius R] [--pull-share K] [--trees L] [--out FILE] [--json]',
  help: `Runs payments one after another over a credit network; each is routed by the router, and
settled only if its paths carry the whole amount (lines move, later payments see them
depleted). Reports success ratio, successful volume, messages per payment (mean, p50,
p99), paths and hops per router, and checks that no credit was created or destroyed.
Same seed, same result. \`npm run bench -- credit-sim\` runs the benchmark.

  --graph FILE       a CREDIT_LINKS trace ("u v lower balance upper" per line, the
                     SpeedyMurmurs/Flash format: u can pay v upper − balance, v can pay
                     u balance − lower); without it a graph is generated (a STAND-IN for
                     the Ripple trace, which is not available here)
  --decimals D       decimals of the trace's amounts kept (default 6)
  --nodes N          generated graph: nodes (default 1870, the Ripple topology's size in Flash)
  --links L          generated graph: links (default 8708; with --nodes alone: 4.66 per node)
  --payments N       payments (default 10000; generated, heavy-tailed, also on a trace)
  --payment-min X    smallest payment in units (Pareto scale; default 15)
  --capacity-sigma S generated graph: σ of each direction's log-normal capacity, in ln
                     units (default 1.5; median 100 units)
  --degree-exponent B
                     generated graph: scale both directions of a line u–v by
                     (deg u · deg v / mean degree²)^B, the hubs holding the big lines
                     (default 0: capacities independent of degree)
  --single-line-fraction Q
                     generated graph: that fraction of the joining nodes join with one
                     line (the link count stays; default 0)
  --one-way-fraction F
                     generated graph: that fraction of the lines extend credit one way
                     only, the way a fair coin (default 0: every line both ways)
                     The calibrated Ripple stand-in of \`npm run bench -- credit-sim\`:
                     --degree-exponent 1 --single-line-fraction 0.5 --capacity-sigma 0.5
                     --payment-min 40
  --seed S           seed (default 1)
  --router R         peernet, speedymurmurs, shortest, maxflow or all (default all)
  --radius r         neighbourhood radius of the peernet router (default 2)
  --max-radius R     the peernet router widens to R when r falls short (default 2)
  --pull-share K     the peernet router asks only friends whose line carries more than
                     1/K of the amount (default 0: every friend whose line carries anything)
  --trees L          spanning trees of the embedding routers (default 3)
  --small X          peernet tries one tree path only for payments up to X units
                     (default 0: no limit, any payment both ends' lines can carry)
  --out FILE         also write the JSON result to FILE`,
  options: {
    graph: { type: 'string' },
    decimals: { type: 'string' },
    nodes: { type: 'string' },
    links: { type: 'string' },
    payments: { type: 'string' },
    'payment-min': { type: 'string' },
    'capacity-sigma': { type: 'string' },
    'degree-exponent': { type: 'string' },
    'single-line-fraction': { type: 'string' },
    'one-way-fraction': { type: 'string' },
    seed: { type: 'string' },
    router: { type: 'string' },
    radius: { type: 'string' },
    'max-radius': { type: 'string' },
    'pull-share': { type: 'string' },
    trees: { type: 'string' },
    small: { type: 'string' },
    out: { type: 'string' }
  },
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const { DEFAULT_CREDIT_SIMULATION, creditTable, runCreditSimulation } = await import('../../sim/credit/credit-simulation.ts')
    const { ROUTERS } = await import('../../apps/credit/paths/router.ts')
    const d = DEFAULT_CREDIT_SIMULATION
    const str = (name: string): string | undefined => typeof ctx.values[name] === 'string' ? ctx.values[name] : undefined
    const routerName = str('router') ?? 'all'
    if (routerName !== 'all' && !(ROUTERS as readonly string[]).includes(routerName)) throw new UsageError(`--router must be one of ${ROUTERS.join(', ')} or all, got "${routerName}"`)
    const nodes = positiveIntFlag(ctx, 'nodes', d.generator.nodes, 1_000_000)
    if (nodes < 3) throw new UsageError(`--nodes must be at least 3, got ${nodes}`)
    const defaultLinks = str('nodes') === undefined ? d.generator.links : Math.round(nodes * d.generator.links / d.generator.nodes)
    const links = positiveIntFlag(ctx, 'links', defaultLinks, 100_000_000)
    if (links < nodes - 1 || links > nodes * (nodes - 1) / 2) throw new UsageError(`--links must be from ${nodes - 1} to ${nodes * (nodes - 1) / 2} for ${nodes} nodes, got ${links}`)
    const positiveNumber = (name: string, fallback: number): number => {
      const raw = str(name)
      if (raw === undefined) return fallback
      const n = Number(raw)
      if (!(Number.isFinite(n) && n > 0)) throw new UsageError(`--${name} must be a positive number, got "${raw}"`)
      return n
    }
    const paymentMin = positiveNumber('payment-min', d.generator.paymentMin)
    if (paymentMin >= d.generator.paymentMax) throw new UsageError(`--payment-min must be below ${d.generator.paymentMax}, got ${paymentMin}`)
    const number = (name: string, fallback: number, ok: (n: number) => boolean, what: string): number => {
      const raw = str(name)
      if (raw === undefined) return fallback
      const n = Number(raw)
      if (raw.trim() === '' || !Number.isFinite(n) || !ok(n)) throw new UsageError(`--${name} must be ${what}, got "${raw}"`)
      return n
    }
    const capacitySigma = number('capacity-sigma', d.generator.capacitySigma, (n) => n >= 0 && n <= 10, 'a number from 0 to 10')
    const capacityDegreeExponent = number('degree-exponent', d.generator.capacityDegreeExponent, (n) => n >= -4 && n <= 4, 'a number from -4 to 4')
    const singleLineFraction = number('single-line-fraction', d.generator.singleLineFraction, (n) => n >= 0 && n < 1, 'a fraction from 0 to below 1')
    const oneWayFraction = number('one-way-fraction', d.generator.oneWayFraction, (n) => n >= 0 && n <= 1, 'a fraction from 0 to 1')
    const r = runCreditSimulation({
      graphFile: str('graph') ?? null,
      decimals: positiveIntFlag(ctx, 'decimals', d.decimals, 18),
      payments: positiveIntFlag(ctx, 'payments', d.payments, 10_000_000),
      seed: positiveIntFlag(ctx, 'seed', d.seed, 0xffffffff),
      routers: routerName === 'all' ? [...ROUTERS] : [routerName as typeof ROUTERS[number]],
      radius: positiveIntFlag(ctx, 'radius', d.radius, 6),
      maxRadius: positiveIntFlag(ctx, 'max-radius', d.maxRadius, 6),
      pullShare: str('pull-share') === undefined ? d.pullShare : str('pull-share') === '0' ? 0 : positiveIntFlag(ctx, 'pull-share', 1, 1_000_000),
      trees: positiveIntFlag(ctx, 'trees', d.trees, 64),
      smallUnits: str('small') === '0' ? 0 : positiveNumber('small', d.smallUnits),
      generator: { ...d.generator, nodes, links, paymentMin, capacitySigma, capacityDegreeExponent, singleLineFraction, oneWayFraction }
    }, (line) => { if (!ctx.json) process.stderr.write(`${line}\n`) })
    const out = str('out')
    if (out !== undefined) writeFileSync(out, JSON.stringify(r, null, 2) + '\n')
    ctx.print(r, () => [...creditTable(r), ...(out === undefined ? [] : [`wrote ${out}`])])
  }
}
