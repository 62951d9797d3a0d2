// `peernet sim …`: experiments in the deterministic simulator (src/sim). They run in this
// process, need no daemon and touch no home directory.

import type { Command } from '../command.ts'
import { positiveIntFlag } from '../command.ts'
import { UsageError } from '../../core/errors.ts'

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
