// Where a big mesh simulation's start-up goes (issue 4, the 100,000-node run): one
// `peernet sim mesh`-like run (random geometric graph, oracle addresses, 10 packets/s)
// with the router's inputs counted per virtual second: packets received, hellos, IHUs,
// seqno requests, router ticks, and updates and retractions by the landmark level of
// their destination (0 plain, 1, 2). The counting wraps Router.receive and Router.tick
// from outside (the router itself is unchanged); it adds a few per cent of CPU.
//
//   node bench/mesh-sim-counts.ts NODES [DURATION_MS]
//
// Prints the run's figures as one JSON line (events, CPU seconds, µs per event, heap per
// node, delivery, stretch, state, loops), then a tab-separated table, one row per virtual
// second. Progress goes to stderr.

import { Router } from '../src/mesh/router.ts'
import { DEFAULT_SCOPES, landmarkLevel } from '../src/mesh/landmarks.ts'
import { INFINITY } from '../src/mesh/control-messages.ts'
import type { ControlPacket } from '../src/mesh/control-messages.ts'
import type { LinkId } from '../src/mesh/link.ts'
import { DEFAULT_MESH_OPTIONS, runMeshExperiment } from '../src/sim/mesh/mesh-experiment.ts'
import { makeTopology } from '../src/sim/mesh/topology.ts'
import { Random } from '../src/sim/random.ts'

const nodes = Number(process.argv[2] ?? 2000)
const durationMs = Number(process.argv[3] ?? 1000)
if (!(Number.isInteger(nodes) && nodes >= 2 && durationMs > 0)) {
  process.stderr.write('usage: node bench/mesh-sim-counts.ts NODES [DURATION_MS]\n')
  process.exit(2)
}

const perSecond = new Map<number, Record<string, number>>()
const levels = new Map<string, number>()
const count = (now: number, key: string): void => {
  const s = Math.floor(now / 1000)
  let row = perSecond.get(s)
  if (row === undefined) { row = {}; perSecond.set(s, row) }
  row[key] = (row[key] ?? 0) + 1
}

// eslint-disable-next-line @typescript-eslint/unbound-method -- called with its router below
const receive = Router.prototype.receive
Router.prototype.receive = function (this: Router, link: LinkId, packet: ControlPacket, now: number) {
  count(now, 'packets')
  for (const t of packet.tlvs) {
    if (t.type !== 'update') { count(now, t.type); continue }
    let level = levels.get(t.id)
    if (level === undefined) { level = landmarkLevel(t.id, DEFAULT_SCOPES); levels.set(t.id, level) }
    count(now, `${t.metric >= INFINITY ? 'retract' : 'update'}${level}`)
  }
  return receive.call(this, link, packet, now)
}
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with its router below
const tick = Router.prototype.tick
Router.prototype.tick = function (this: Router, now: number) {
  count(now, 'ticks')
  return tick.call(this, now)
}

const cpuBefore = process.cpuUsage()
const topology = makeTopology('rgg', nodes, new Random(1), { meanDegree: 10 })
const r = await runMeshExperiment(topology, { ...DEFAULT_MESH_OPTIONS, seed: 1, durationMs, trafficPerSecond: 10, location: 'oracle' }, (line) => { process.stderr.write(`${line}\n`) })
const cpu = process.cpuUsage(cpuBefore)
const cpuSeconds = (cpu.user + cpu.system) / 1e6
process.stdout.write(JSON.stringify({
  nodes,
  convergedMs: r.convergence.initialMs,
  events: r.run.simEvents,
  cpuSeconds: Math.round(cpuSeconds),
  usPerEvent: Math.round(cpuSeconds / r.run.simEvents * 1e7) / 10,
  heapBytesPerNode: r.memory.heapBytesPerNode,
  delivery: r.delivery.ratio,
  stretch: r.stretch.mean,
  stateMean: r.state.total.mean,
  controlBytesPerNodePerSecond: r.control.bytesPerNodePerSecond.mean,
  loops: r.loops.loops
}) + '\n')
const keys = [...new Set([...perSecond.values()].flatMap((row) => Object.keys(row)))].sort()
process.stdout.write(['second', ...keys].join('\t') + '\n')
for (const [s, row] of [...perSecond].sort((a, b) => a[0] - b[0])) process.stdout.write([s, ...keys.map((k) => row[k] ?? 0)].join('\t') + '\n')
