// Mesh topologies for the simulator: who has a link to whom, and each link's one-way
// latency. Stored as compressed adjacency (CSR): node i's links are the directed edges
// offsets[i] .. offsets[i + 1], each to targets[e], with reverse[e] the edge back. Typed
// arrays only, so a 100,000-node random geometric graph takes a few megabytes and builds
// in well under a second (grid bucketing, no all-pairs distances).
//
// Kinds: line, ring, grid (row-major, about √n × √n), rgg (random geometric graph in the
// unit square, radius chosen for a target mean degree, then made connected by joining
// every smaller component to its nearest node outside it), scale-free (Barabási–Albert
// preferential attachment), and a file of `a b [latency-ms]` lines.

import { readFileSync } from 'node:fs'
import type { Random } from '../random.ts'
import { TopologyError } from './errors.ts'

export interface Topology {
  /** What made it: 'line', 'grid', 'rgg', …, or the file's path. */
  kind: string
  nodes: number
  /** Node names from a topology file; null when nodes are named by their index. */
  names: string[] | null
  offsets: Int32Array
  targets: Int32Array
  reverse: Int32Array
  /** One-way latency of each directed edge (ms); both directions of a link are equal. */
  latencyMs: Float32Array
  /** Positions in the unit square (rgg only). */
  x: Float64Array | null
  y: Float64Array | null
  /** Edges added to join components (rgg only). */
  joined: number
}

export const TOPOLOGY_KINDS = ['line', 'ring', 'grid', 'rgg', 'scale-free'] as const
export type TopologyKind = typeof TOPOLOGY_KINDS[number]

export interface TopologyOptions {
  /** Target mean degree of rgg and scale-free (default 10). */
  meanDegree?: number
  /** Link latency range for generated topologies (ms, default 8–12). */
  latencyMinMs?: number
  latencyMaxMs?: number
}

/** Number of undirected links. */
export function linkCount (t: Topology): number {
  return t.targets.length / 2
}

/** The directed edge from a to b, or -1 (binary search: each node's targets are sorted). */
export function edgeIndex (t: Topology, a: number, b: number): number {
  let lo = t.offsets[a] ?? 0
  let hi = (t.offsets[a + 1] ?? 0) - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const v = t.targets[mid] ?? 0
    if (v === b) return mid
    if (v < b) lo = mid + 1
    else hi = mid - 1
  }
  return -1
}

export function degree (t: Topology, i: number): number {
  return (t.offsets[i + 1] ?? 0) - (t.offsets[i] ?? 0)
}

/** The node named `name` (a file's name, or an index for generated topologies), or -1. */
export function nodeByName (t: Topology, name: string, index?: Map<string, number>): number {
  if (t.names !== null) return index?.get(name) ?? t.names.indexOf(name)
  if (!/^\d+$/.test(name)) return -1
  const i = Number(name)
  return i < t.nodes ? i : -1
}

export function nodeName (t: Topology, i: number): string {
  return t.names?.[i] ?? String(i)
}

/** Growable list of undirected edges (a, b, latency) before the CSR is built. */
class EdgeList {
  a = new Int32Array(1024)
  b = new Int32Array(1024)
  latency = new Float32Array(1024)
  length = 0

  add (a: number, b: number, latencyMs: number): void {
    if (this.length === this.a.length) {
      const grow = <T extends Int32Array | Float32Array>(x: T): T => {
        const y = new (x.constructor as new (n: number) => T)(x.length * 2)
        y.set(x)
        return y
      }
      this.a = grow(this.a)
      this.b = grow(this.b)
      this.latency = grow(this.latency)
    }
    this.a[this.length] = a
    this.b[this.length] = b
    this.latency[this.length] = latencyMs
    this.length++
  }
}

/** Builds the CSR from an edge list: drops self-links, keeps the first of duplicate links. */
function build (kind: string, nodes: number, edges: EdgeList, extra: Partial<Topology> = {}): Topology {
  const deg = new Int32Array(nodes + 1)
  for (let k = 0; k < edges.length; k++) {
    const a = edges.a[k] ?? 0
    const b = edges.b[k] ?? 0
    if (a === b) continue
    deg[a] = (deg[a] ?? 0) + 1
    deg[b] = (deg[b] ?? 0) + 1
  }
  const start = new Int32Array(nodes + 1)
  for (let i = 0; i < nodes; i++) start[i + 1] = (start[i] ?? 0) + (deg[i] ?? 0)
  const fill = start.slice(0, nodes)
  const rawTargets = new Int32Array(start[nodes] ?? 0)
  const rawLatency = new Float32Array(start[nodes] ?? 0)
  for (let k = 0; k < edges.length; k++) {
    const a = edges.a[k] ?? 0
    const b = edges.b[k] ?? 0
    if (a === b) continue
    const l = edges.latency[k] ?? 0
    const ea = fill[a] ?? 0
    rawTargets[ea] = b
    rawLatency[ea] = l
    fill[a] = ea + 1
    const eb = fill[b] ?? 0
    rawTargets[eb] = a
    rawLatency[eb] = l
    fill[b] = eb + 1
  }
  // Sort each node's neighbours (for binary search) and drop duplicates.
  const offsets = new Int32Array(nodes + 1)
  const targets = new Int32Array(rawTargets.length)
  const latencyMs = new Float32Array(rawTargets.length)
  let out = 0
  const order: number[] = []
  for (let i = 0; i < nodes; i++) {
    offsets[i] = out
    const s = start[i] ?? 0
    const e = start[i + 1] ?? 0
    order.length = 0
    for (let k = s; k < e; k++) order.push(k)
    order.sort((p, q) => (rawTargets[p] ?? 0) - (rawTargets[q] ?? 0) || p - q)
    let last = -1
    for (const k of order) {
      const v = rawTargets[k] ?? 0
      if (v === last) continue
      last = v
      targets[out] = v
      latencyMs[out] = rawLatency[k] ?? 0
      out++
    }
  }
  offsets[nodes] = out
  const t: Topology = {
    kind,
    nodes,
    names: null,
    offsets,
    targets: targets.slice(0, out),
    reverse: new Int32Array(out),
    latencyMs: latencyMs.slice(0, out),
    x: null,
    y: null,
    joined: 0,
    ...extra
  }
  for (let a = 0; a < nodes; a++) {
    for (let e = offsets[a] ?? 0; e < (offsets[a + 1] ?? 0); e++) {
      const r = edgeIndex(t, t.targets[e] ?? 0, a)
      t.reverse[e] = r
      // Duplicates with different latencies: both directions take the kept forward one.
      if (r >= 0 && a < (t.targets[e] ?? 0)) t.latencyMs[r] = t.latencyMs[e] ?? 0
    }
  }
  return t
}

function latencyDrawer (random: Random, options: TopologyOptions): () => number {
  const lo = options.latencyMinMs ?? 8
  const hi = options.latencyMaxMs ?? 12
  return () => Math.round(random.between(lo, hi) * 10) / 10
}

export function lineTopology (nodes: number, random: Random, options: TopologyOptions = {}): Topology {
  const lat = latencyDrawer(random, options)
  const edges = new EdgeList()
  for (let i = 0; i + 1 < nodes; i++) edges.add(i, i + 1, lat())
  return build('line', nodes, edges)
}

export function ringTopology (nodes: number, random: Random, options: TopologyOptions = {}): Topology {
  const lat = latencyDrawer(random, options)
  const edges = new EdgeList()
  for (let i = 0; i + 1 < nodes; i++) edges.add(i, i + 1, lat())
  if (nodes > 2) edges.add(nodes - 1, 0, lat())
  return build('ring', nodes, edges)
}

/** Row-major grid `width = ⌈√n⌉` wide; the last row may be partial (still connected). */
export function gridTopology (nodes: number, random: Random, options: TopologyOptions = {}): Topology {
  const lat = latencyDrawer(random, options)
  const width = Math.ceil(Math.sqrt(nodes))
  const edges = new EdgeList()
  for (let i = 0; i < nodes; i++) {
    if ((i % width) + 1 < width && i + 1 < nodes) edges.add(i, i + 1, lat())
    if (i + width < nodes) edges.add(i, i + width, lat())
  }
  return build('grid', nodes, edges)
}

/**
 * Random geometric graph: n points uniform in the unit square, a link between any two
 * closer than r, with π r² n = the target mean degree (border nodes end a little lower).
 * Points are bucketed in cells of side r, so only the 9 cells around a point are searched.
 * Then every component but the largest is joined to its nearest node outside it, so the
 * graph is connected and keeps all n nodes.
 */
export function rggTopology (nodes: number, random: Random, options: TopologyOptions = {}): Topology {
  const meanDegree = options.meanDegree ?? 10
  const lat = latencyDrawer(random, options)
  const x = new Float64Array(nodes)
  const y = new Float64Array(nodes)
  for (let i = 0; i < nodes; i++) {
    x[i] = random.float()
    y[i] = random.float()
  }
  const r = Math.min(Math.SQRT2, Math.sqrt(meanDegree / (Math.PI * Math.max(1, nodes))))
  const grid = new CellGrid(x, y, r)
  const edges = new EdgeList()
  const r2 = r * r
  for (let i = 0; i < nodes; i++) {
    const xi = x[i] ?? 0
    const yi = y[i] ?? 0
    grid.around(xi, yi, 1, (j) => {
      if (j <= i) return
      const dx = xi - (x[j] ?? 0)
      const dy = yi - (y[j] ?? 0)
      if (dx * dx + dy * dy < r2) edges.add(i, j, lat())
    })
  }
  let joined = 0
  for (;;) {
    const t = build('rgg', nodes, edges)
    const comp = components(t)
    if (comp.count <= 1) return { ...t, x, y, joined }
    // Join each smaller component, by its closest pair, to a node outside it.
    for (let c = 0; c < comp.count; c++) {
      if (c === comp.largest) continue
      let bestA = -1
      let bestB = -1
      let bestD = Infinity
      for (let i = 0; i < nodes; i++) {
        if (comp.of[i] !== c) continue
        const found = grid.nearest(x[i] ?? 0, y[i] ?? 0, (j) => comp.of[j] !== c)
        if (found.node >= 0 && found.distance < bestD) {
          bestD = found.distance
          bestA = i
          bestB = found.node
        }
      }
      if (bestA >= 0) {
        edges.add(bestA, bestB, lat())
        joined++
      }
    }
  }
}

/** Barabási–Albert: each new node links to m existing nodes chosen proportionally to degree. */
export function scaleFreeTopology (nodes: number, random: Random, options: TopologyOptions = {}): Topology {
  const m = Math.max(1, Math.round((options.meanDegree ?? 10) / 2))
  const lat = latencyDrawer(random, options)
  const edges = new EdgeList()
  // Every edge end, so a uniform pick from it is a degree-proportional pick of a node.
  const ends = new Int32Array(2 * m * nodes + 2 * m * m + 2)
  let used = 0
  const seed = Math.min(nodes, m + 1)
  for (let i = 0; i < seed; i++) {
    for (let j = i + 1; j < seed; j++) {
      edges.add(i, j, lat())
      ends[used++] = i
      ends[used++] = j
    }
  }
  const chosen = new Set<number>()
  for (let v = seed; v < nodes; v++) {
    chosen.clear()
    const want = Math.min(m, v)
    while (chosen.size < want) chosen.add(used === 0 ? random.int(v) : (ends[random.int(used)] ?? 0))
    for (const u of chosen) {
      edges.add(v, u, lat())
      ends[used++] = v
      ends[used++] = u
    }
  }
  return build('scale-free', nodes, edges)
}

/**
 * A topology file: one link per line, `a b [latency-ms]` (names are any tokens without
 * spaces; latency defaults to 10 ms), `#` starts a comment. Nodes are numbered in order
 * of first appearance.
 */
export function parseTopologyFile (text: string, source: string): Topology {
  const names: string[] = []
  const index = new Map<string, number>()
  const id = (name: string): number => {
    let i = index.get(name)
    if (i === undefined) {
      i = names.length
      names.push(name)
      index.set(name, i)
    }
    return i
  }
  const edges = new EdgeList()
  const lines = text.split('\n')
  for (let k = 0; k < lines.length; k++) {
    const line = (lines[k] ?? '').replace(/#.*$/, '').trim()
    if (line === '') continue
    const f = line.split(/\s+/)
    const where = `${source}:${k + 1}`
    if (f.length < 2 || f.length > 3) throw new TopologyError(`${where}: expected "a b [latency-ms]", got "${line}"`)
    if (f[0] === f[1]) throw new TopologyError(`${where}: a link from "${f[0] ?? ''}" to itself`)
    const latency = f[2] === undefined ? 10 : Number(f[2])
    if (!Number.isFinite(latency) || latency < 0) throw new TopologyError(`${where}: latency must be a number of ms ≥ 0, got "${f[2] ?? ''}"`)
    edges.add(id(f[0] ?? ''), id(f[1] ?? ''), latency)
  }
  if (names.length < 2) throw new TopologyError(`${source}: no links (expected lines "a b [latency-ms]")`)
  return build(source, names.length, edges, { names })
}

export function readTopologyFile (path: string): Topology {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new TopologyError(`cannot read topology file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: `use one of ${TOPOLOGY_KINDS.join(', ')} or a file of "a b [latency-ms]" lines` })
  }
  return parseTopologyFile(text, path)
}

/** A generated topology of a known kind, or a topology file when `kind` is none of them. */
export function makeTopology (kind: string, nodes: number, random: Random, options: TopologyOptions = {}): Topology {
  switch (kind) {
    case 'line': return lineTopology(nodes, random, options)
    case 'ring': return ringTopology(nodes, random, options)
    case 'grid': return gridTopology(nodes, random, options)
    case 'rgg': return rggTopology(nodes, random, options)
    case 'scale-free': return scaleFreeTopology(nodes, random, options)
    default:
      if (!kind.includes('/') && !kind.includes('.')) throw new TopologyError(`unknown topology "${kind}"`, { hint: `use one of ${TOPOLOGY_KINDS.join(', ')} or a file path` })
      return readTopologyFile(kind)
  }
}

export interface Components {
  /** Component number of each node (-1: left out by the edge filter's dead nodes). */
  of: Int32Array
  count: number
  /** The largest component's number, and its size. */
  largest: number
  largestSize: number
}

/** Connected components over the edges `up` admits (all when omitted); iterative BFS. */
export function components (t: Topology, up?: (e: number) => boolean, alive?: Uint8Array): Components {
  const of = new Int32Array(t.nodes).fill(-1)
  const queue = new Int32Array(t.nodes)
  let count = 0
  let largest = -1
  let largestSize = 0
  for (let s = 0; s < t.nodes; s++) {
    if (of[s] !== -1 || (alive !== undefined && alive[s] === 0)) continue
    let head = 0
    let tail = 0
    queue[tail++] = s
    of[s] = count
    while (head < tail) {
      const a = queue[head++] ?? 0
      for (let e = t.offsets[a] ?? 0; e < (t.offsets[a + 1] ?? 0); e++) {
        const b = t.targets[e] ?? 0
        if (of[b] !== -1 || (up !== undefined && !up(e))) continue
        of[b] = count
        queue[tail++] = b
      }
    }
    if (tail > largestSize) {
      largestSize = tail
      largest = count
    }
    count++
  }
  return { of, count, largest, largestSize }
}

/** Points bucketed in square cells of side `cell` over the unit square. */
class CellGrid {
  private readonly side: number
  private readonly start: Int32Array
  private readonly items: Int32Array
  private readonly x: Float64Array
  private readonly y: Float64Array

  constructor (x: Float64Array, y: Float64Array, cell: number) {
    this.x = x
    this.y = y
    this.side = Math.max(1, Math.min(4096, Math.floor(1 / cell)))
    const cells = this.side * this.side
    const count = new Int32Array(cells + 1)
    for (let i = 0; i < x.length; i++) {
      const c = this.cellOf(x[i] ?? 0, y[i] ?? 0) + 1
      count[c] = (count[c] ?? 0) + 1
    }
    for (let c = 0; c < cells; c++) count[c + 1] = (count[c + 1] ?? 0) + (count[c] ?? 0)
    this.start = count.slice()
    const fill = count.slice(0, cells)
    this.items = new Int32Array(x.length)
    for (let i = 0; i < x.length; i++) {
      const c = this.cellOf(x[i] ?? 0, y[i] ?? 0)
      this.items[fill[c] ?? 0] = i
      fill[c] = (fill[c] ?? 0) + 1
    }
  }

  private cellOf (x: number, y: number): number {
    const cx = Math.min(this.side - 1, Math.floor(x * this.side))
    const cy = Math.min(this.side - 1, Math.floor(y * this.side))
    return cy * this.side + cx
  }

  /** Calls `visit` for every point in cells within `ring` cells of (x, y)'s cell (a square ring when `only` is set). */
  around (x: number, y: number, ring: number, visit: (i: number) => void, only = false): void {
    const cx = Math.min(this.side - 1, Math.floor(x * this.side))
    const cy = Math.min(this.side - 1, Math.floor(y * this.side))
    for (let gy = Math.max(0, cy - ring); gy <= Math.min(this.side - 1, cy + ring); gy++) {
      for (let gx = Math.max(0, cx - ring); gx <= Math.min(this.side - 1, cx + ring); gx++) {
        if (only && Math.abs(gx - cx) !== ring && Math.abs(gy - cy) !== ring) continue
        const c = gy * this.side + gx
        for (let k = this.start[c] ?? 0; k < (this.start[c + 1] ?? 0); k++) visit(this.items[k] ?? 0)
      }
    }
  }

  /** The nearest point that `accept`s, searching outward ring by ring. */
  nearest (x: number, y: number, accept: (i: number) => boolean): { node: number, distance: number } {
    let node = -1
    let best = Infinity
    for (let ring = 0; ring <= this.side; ring++) {
      // Points in ring k are at least (k - 1) cells away: stop once that exceeds the best.
      if (node >= 0 && (ring - 1) / this.side > best) break
      this.around(x, y, ring, (j) => {
        if (!accept(j)) return
        const d = Math.hypot(x - (this.x[j] ?? 0), y - (this.y[j] ?? 0))
        if (d < best) {
          best = d
          node = j
        }
      }, ring > 0)
    }
    return { node, distance: best }
  }
}

/** The simulator's latency model over a topology: each link's own one-way latency. */
export function topologyLatency (t: Topology): { oneWay: (a: number, b: number) => number } {
  return {
    oneWay: (a, b) => {
      const e = edgeIndex(t, a, b)
      return e < 0 ? 0 : (t.latencyMs[e] ?? 0)
    }
  }
}
