// How a surplus of rendezvous providers is trimmed over daily rounds: live providers per
// network (> 8 members) at moments of a 3-round run with a 60 s jitter, under the ranked
// trim (decideAnnounce: the 8 closest to the key keep announcing) and under the
// count-only trim it replaced (every provider that sees 16 others skips). Same population,
// overlay and seed as the rendezvous benchmark; the schedule model only (about a minute
// at the size). Prints a Markdown table; writes nothing.
//
//   node bench/rendezvous-trim.ts [--nodes N] [--networks M] [--jitter-s S]

import { parseArgs } from 'node:util'
import { decideAnnounce, RENDEZVOUS_PROVIDERS, RENDEZVOUS_SURPLUS } from '../src/networks/rendezvous/announce-policy.ts'
import type { AnnounceInput } from '../src/networks/rendezvous/announce-policy.ts'
import { buildOverlay } from '../src/sim/kademlia/overlay.ts'
import { KAD_K } from '../src/sim/kademlia/dht.ts'
import { PROVIDERS_VALIDITY_MS, REPROVIDE_INTERVAL_MS } from '../src/sim/kademlia/provider-store.ts'
import { summarize } from '../src/sim/metrics.ts'
import { Random } from '../src/sim/random.ts'
import { durationSampler, liveCount, recordsPerNode, scheduleAnnouncements } from '../src/sim/rendezvous/announce-schedule.ts'
import { DEFAULT_RENDEZVOUS_OPTIONS as o } from '../src/sim/rendezvous/experiment.ts'
import type { AnnouncePolicy } from '../src/sim/rendezvous/member-check.ts'
import { makePopulation, networkSize, placeHolders } from '../src/sim/rendezvous/population.ts'

const { values } = parseArgs({ options: { nodes: { type: 'string' }, networks: { type: 'string' }, 'jitter-s': { type: 'string' } } })
const nodes = Number(values.nodes ?? o.nodes)
const networks = Number(values.networks ?? o.networks)
const jitterMs = Number(values['jitter-s'] ?? 60) * 1000
const H = 3600_000

// The population and calibration exactly as experiment.ts draws them.
const random = new Random(o.seed)
const pop = makePopulation(nodes, networks, { exponent: o.exponent, min: o.minSize, max: Math.min(o.maxSize, nodes) }, random.fork())
const overlay = buildOverlay(nodes, o.seed, { providers: () => [], add: () => {} })
const calRandom = random.fork()
const durations: number[] = []
for (let i = 0; i < 2000; i++) overlay.dht.findNode(calRandom.int(nodes), calRandom.fill(new Uint32Array(8)), (out) => { durations.push(out.durationMs) })
overlay.sim.run()
const holders = placeHolders(pop, (t, c) => overlay.sorted.closest(t, c), KAD_K)
const large: number[] = []
for (let j = 0; j < pop.networks; j++) if (networkSize(pop, j) > RENDEZVOUS_PROVIDERS) large.push(j)

const countOnly: AnnouncePolicy = (input: AnnounceInput) => decideAnnounce({ ...input, closerOthers: Infinity })
const rules: Array<[string, AnnouncePolicy]> = [['ranked (decideAnnounce)', decideAnnounce], ['count-only (before)', countOnly]]
const times = [jitterMs + 60_000, 24 * H + jitterMs + 60_000, 47 * H, 48 * H + jitterMs + 60_000, 49 * H, 60 * H, 71 * H]
const scheduleSeed = random.fork().uint32()

console.log(`${networks.toLocaleString('en-US')} networks over ${nodes.toLocaleString('en-US')} nodes, ${large.length.toLocaleString('en-US')} with more than ${RENDEZVOUS_PROVIDERS} members; 3 rounds 24 h apart, ${jitterMs / 1000} s jitter.\n`)
console.log(`| Trim | Time | Providers per network (mean / p99 / max) | Networks above ${RENDEZVOUS_SURPLUS} | Below ${RENDEZVOUS_PROVIDERS} | Records per node (mean / p99 / max) |`)
console.log('|---|---:|---:|---:|---:|---:|')
for (const [name, policy] of rules) {
  const s = scheduleAnnouncements(pop, holders, overlay.ids.words, KAD_K, durationSampler(durations), overlay.latency, new Random(scheduleSeed),
    { mode: 'bounded', jitterMs, rounds: 3, intervalMs: REPROVIDE_INTERVAL_MS, validityMs: PROVIDERS_VALIDITY_MS, policy })
  for (const t of times) {
    const live = large.map((j) => liveCount(s, j, t))
    const p = summarize(live)
    const above = live.filter((c) => c > RENDEZVOUS_SURPLUS).length / live.length
    const below = live.filter((c) => c < RENDEZVOUS_PROVIDERS).length
    const r = summarize(recordsPerNode(s, holders, KAD_K, pop.nodes, t))
    console.log(`| ${name} | ${(t / H).toFixed(2)} h | ${p.mean.toFixed(2)} / ${p.p99} / ${p.max} | ${(above * 100).toFixed(2)} % | ${below} | ${Math.round(r.mean)} / ${r.p99} / ${r.max} |`)
  }
}
