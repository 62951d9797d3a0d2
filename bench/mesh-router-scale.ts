// A quick scale check of the mesh router alone (not registered in run.ts: the mesh
// simulator in src/sim is the real benchmark). N routers on a random geometric graph
// (unit square, mean degree about 8), 5 ms links, every router ticked at its own
// deadline, for T ms of virtual time; then state per node, control bytes, memory, and
// a sample of source/destination pairs walked hop by hop with nextHop and the
// destination's address (delivery over connected pairs, loops).
//
//   node --expose-gc bench/mesh-router-scale.ts [nodes=1000] [virtual ms=60000] [seed=1]

import { Router, type RouterOutput } from '../src/mesh/router.ts'
import { encodeControl, type ControlPacket } from '../src/mesh/control-messages.ts'
import type { NodeId } from '../src/mesh/node-id.ts'
import { EventQueue } from '../src/sim/event-queue.ts'
import { Random } from '../src/sim/random.ts'

const N = Number(process.argv[2] ?? 1000)
const T = Number(process.argv[3] ?? 60_000)
const SEED = Number(process.argv[4] ?? 1)
const DEGREE = 8
const LATENCY_MS = 5

const rnd = new Random(SEED)
const idSet = new Set<NodeId>()
while (idSet.size < N) idSet.add(rnd.uint32().toString(16).padStart(8, '0') + rnd.uint32().toString(16).padStart(8, '0'))
const ids = [...idSet]
const pos = ids.map(() => [rnd.float(), rnd.float()] as const)
const radius = Math.sqrt(DEGREE / (Math.PI * N))
const adj = new Map<NodeId, NodeId[]>(ids.map(i => [i, []]))
const cells = new Map<string, number[]>()
pos.forEach(([x, y], i) => {
  const k = `${Math.floor(x / radius)},${Math.floor(y / radius)}`
  const c = cells.get(k)
  if (c === undefined) cells.set(k, [i]); else c.push(i)
})
let edges = 0
pos.forEach(([x, y], i) => {
  const cx = Math.floor(x / radius)
  const cy = Math.floor(y / radius)
  for (let dx = -1; dx <= 1; dx++) {
    for (let dy = -1; dy <= 1; dy++) {
      for (const j of cells.get(`${cx + dx},${cy + dy}`) ?? []) {
        if (j <= i) continue
        const [u, v] = pos[j] as readonly [number, number]
        if ((u - x) ** 2 + (v - y) ** 2 >= radius * radius) continue
        adj.get(ids[i] as NodeId)?.push(ids[j] as NodeId)
        adj.get(ids[j] as NodeId)?.push(ids[i] as NodeId)
        edges++
      }
    }
  }
})

const routers = new Map(ids.map(id => [id, new Router({ self: id, random: () => rnd.float() }, 0)]))
const router = (id: NodeId): Router => routers.get(id) as Router
type Event = { kind: 'packet', to: NodeId, from: NodeId, packet: ControlPacket } | { kind: 'tick', id: NodeId, at: number }
const queue = new EventQueue<Event>()
const scheduled = new Map<NodeId, number>()
let bytes = 0
let packets = 0
let bytesAtHalf = -1

function handle (id: NodeId, outputs: RouterOutput[], now: number): void {
  for (const o of outputs) {
    if (o.kind !== 'send') continue
    packets++
    bytes += encodeControl(o.packet).length
    queue.push(now + LATENCY_MS, { kind: 'packet', to: o.link, from: id, packet: o.packet })
  }
  const d = router(id).nextDeadline()
  if (d < Infinity && d !== scheduled.get(id)) { scheduled.set(id, d); queue.push(d, { kind: 'tick', id, at: d }) }
}

const started = performance.now()
for (const id of ids) for (const nb of adj.get(id) ?? []) handle(id, router(id).linkUp(nb, 0), 0)
let events = 0
for (let e = queue.pop(); e !== undefined && e.time <= T; e = queue.pop()) {
  const now = e.time
  events++
  if (bytesAtHalf < 0 && now >= T / 2) bytesAtHalf = bytes
  const v = e.value
  if (v.kind === 'packet') {
    handle(v.to, router(v.to).receive(v.from, v.packet, now), now)
  } else if (scheduled.get(v.id) === v.at) {
    scheduled.delete(v.id)
    handle(v.id, router(v.id).tick(now), now)
  }
}
const wallMs = performance.now() - started

const component = new Map<NodeId, number>()
let components = 0
for (const id of ids) {
  if (component.has(id)) continue
  components++
  const stack = [id]
  component.set(id, components)
  while (stack.length > 0) {
    const x = stack.pop() as NodeId
    for (const y of adj.get(x) ?? []) if (!component.has(y)) { component.set(y, components); stack.push(y) }
  }
}
let pairs = 0
let delivered = 0
let loops = 0
let hopsTaken = 0
for (let s = 0; s < 1000; s++) {
  const a = ids[rnd.int(N)] as NodeId
  const b = ids[rnd.int(N)] as NodeId
  if (a === b || component.get(a) !== component.get(b)) continue
  pairs++
  const via = router(b).address()
  const seen = new Set([a])
  let at = a
  while (at !== b) {
    const next = router(at).nextHop(b, via)
    if (next === undefined) break
    if (seen.has(next)) { loops++; break }
    seen.add(next); at = next
  }
  if (at === b) { delivered++; hopsTaken += seen.size - 1 }
}

const state = ids.map(id => router(id).stateSize()).sort((x, y) => x - y)
const levels = ids.map(id => router(id).landmark())
;(globalThis as { gc?: () => void }).gc?.()
console.log(JSON.stringify({
  nodes: N,
  edges,
  meanDegree: +(2 * edges / N).toFixed(2),
  components,
  virtualMs: T,
  wallMs: Math.round(wallMs),
  events,
  packets,
  controlBytesPerNodePerS: +(bytes / (T / 1000) / N).toFixed(2),
  secondHalfBytesPerNodePerS: +((bytes - bytesAtHalf) / (T / 2000) / N).toFixed(2),
  stateMedian: state[N >> 1],
  stateP99: state[Math.floor(N * 0.99)],
  stateMax: state[N - 1],
  landmarksL1: levels.filter(l => l.level >= 1).length,
  landmarksL2: levels.filter(l => l.level >= 2).length,
  heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
  sampledConnectedPairs: pairs,
  delivered,
  loops,
  meanHops: +(hopsTaken / Math.max(1, delivered)).toFixed(2)
}, null, 1))
