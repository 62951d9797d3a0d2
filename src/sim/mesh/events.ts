// What happens to a simulated mesh over time: links going down and up, nodes leaving and
// returning, partitions and their healing, lossy links. From an events file, or drawn by
// the generators below (random link flapping, node churn) from the run's seeded RNG.
//
// Events file: one event per line, `#` starts a comment, blank lines are ignored.
//
//   at 30s link-down a b        the link between a and b fails (both ends are told)
//   at 90s link-up a b          it comes back (only links of the topology)
//   at 2m node-down n           n stops: all its links go down, its state is lost
//   at 3m node-up n             n restarts with fresh router and forwarder state
//   at 4m partition 0..99 150   cut every link between these nodes and the rest
//   at 5m heal                  restore the links every partition cut
//   at 1m loss a b 0.2          the link a–b loses 20 % of frames (both directions)
//
// Times take ms, s, m or h. Node names are the topology file's names, or node indices
// for generated topologies; `x..y` is an index range.

import { readFileSync } from 'node:fs'
import type { Random } from '../random.ts'
import { EventsFileError } from './errors.ts'
import { edgeIndex, nodeByName } from './topology.ts'
import type { Topology } from './topology.ts'

export type MeshEvent =
  | { at: number, kind: 'link-down' | 'link-up', a: number, b: number }
  | { at: number, kind: 'node-down' | 'node-up', node: number }
  | { at: number, kind: 'partition', nodes: number[] }
  | { at: number, kind: 'heal' }
  | { at: number, kind: 'loss', a: number, b: number, loss: number }

export type MeshEventKind = MeshEvent['kind']

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 }

/** '30s', '1.5m', '200ms', '2h' → milliseconds; undefined when it does not parse. */
export function parseDuration (text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|min|h)$/.exec(text.trim())
  if (m === null) return undefined
  return Number(m[1]) * (UNITS[m[2] ?? 's'] ?? 1000)
}

/** '1%/min', '1%', '0.01' → fraction per minute; undefined when it does not parse or is outside [0, 1]. */
export function parseRatePerMinute (text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(%)?(?:\/min)?$/.exec(text.trim())
  if (m === null) return undefined
  const v = Number(m[1]) / (m[2] === '%' ? 100 : 1)
  return v >= 0 && v <= 1 ? v : undefined
}

export function parseEvents (text: string, topology: Topology, source: string): MeshEvent[] {
  const index = topology.names === null ? undefined : new Map(topology.names.map((n, i) => [n, i]))
  const events: MeshEvent[] = []
  const lines = text.split('\n')
  for (let k = 0; k < lines.length; k++) {
    const line = (lines[k] ?? '').replace(/#.*$/, '').trim()
    if (line === '') continue
    const where = `${source}:${k + 1}`
    const fail = (why: string): EventsFileError => new EventsFileError(`${where}: ${why} in "${line}"`, { hint: 'lines look like "at 30s link-down a b"' })
    const f = line.split(/\s+/)
    if (f[0] !== 'at' || f.length < 3) throw fail('expected "at TIME EVENT …"')
    const at = parseDuration(f[1] ?? '')
    if (at === undefined) throw fail(`bad time "${f[1] ?? ''}" (use e.g. 30s, 2m, 500ms)`)
    const kind = f[2] ?? ''
    const args = f.slice(3)
    const node = (name: string): number => {
      const i = nodeByName(topology, name, index)
      if (i < 0) throw fail(`unknown node "${name}"`)
      return i
    }
    const link = (a: string, b: string): [number, number] => {
      const x = node(a)
      const y = node(b)
      if (edgeIndex(topology, x, y) < 0) throw fail(`no link between "${a}" and "${b}"`)
      return [x, y]
    }
    const arity = (n: number): void => {
      if (args.length !== n) throw fail(`${kind} takes ${n} argument${n === 1 ? '' : 's'}`)
    }
    switch (kind) {
      case 'link-down':
      case 'link-up':
        arity(2)
        {
          const [a, b] = link(args[0] ?? '', args[1] ?? '')
          events.push({ at, kind, a, b })
        }
        break
      case 'node-down':
      case 'node-up':
        arity(1)
        events.push({ at, kind, node: node(args[0] ?? '') })
        break
      case 'partition': {
        if (args.length === 0) throw fail('partition needs the nodes of one side')
        const nodes = new Set<number>()
        for (const a of args) {
          const range = /^(\d+)\.\.(\d+)$/.exec(a)
          if (range !== null && topology.names === null) {
            const lo = node(range[1] ?? '')
            const hi = node(range[2] ?? '')
            for (let i = Math.min(lo, hi); i <= Math.max(lo, hi); i++) nodes.add(i)
          } else {
            nodes.add(node(a))
          }
        }
        events.push({ at, kind, nodes: [...nodes].sort((p, q) => p - q) })
        break
      }
      case 'heal':
        arity(0)
        events.push({ at, kind })
        break
      case 'loss': {
        arity(3)
        const loss = Number(args[2])
        if (!(Number.isFinite(loss) && loss >= 0 && loss <= 1)) throw fail(`loss must be a fraction in [0, 1], got "${args[2] ?? ''}"`)
        const [a, b] = link(args[0] ?? '', args[1] ?? '')
        events.push({ at, kind, a, b, loss })
        break
      }
      default:
        throw fail(`unknown event "${kind}" (link-down, link-up, node-down, node-up, partition, heal, loss)`)
    }
  }
  return sortEvents(events)
}

export function readEventsFile (path: string, topology: Topology): MeshEvent[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new EventsFileError(`cannot read events file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  return parseEvents(text, topology, path)
}

/** Stable sort by time: events at the same time keep their order. */
export function sortEvents (events: MeshEvent[]): MeshEvent[] {
  return events.map((e, i) => ({ e, i })).sort((p, q) => p.e.at - q.e.at || p.i - q.i).map((p) => p.e)
}

export interface FlapOptions {
  /** Fraction of all links that fail per minute (0.01 = 1 %/min). */
  ratePerMinute: number
  from: number
  until: number
  /** Each failed link comes back after a downtime uniform in [min, max] ms. */
  downMinMs: number
  downMaxMs: number
}

/**
 * Random link flapping: failures arrive as a Poisson process of rate `ratePerMinute` ×
 * links per minute, each on a link drawn uniformly among those up at that moment; each
 * comes back after its downtime (the up event may fall after `until`, and is kept).
 */
export function flapEvents (t: Topology, random: Random, o: FlapOptions): MeshEvent[] {
  const links = t.targets.length / 2
  const perMs = o.ratePerMinute * links / 60_000
  const out: MeshEvent[] = []
  if (perMs <= 0 || links === 0) return out
  const downUntil = new Float64Array(t.targets.length)
  let now = o.from
  for (;;) {
    now += -Math.log(1 - random.float()) / perMs
    if (now >= o.until) break
    // A uniform link: a uniform directed edge, then its lower-numbered direction.
    let e = random.int(t.targets.length)
    const r = t.reverse[e] ?? e
    if (r < e) e = r
    if ((downUntil[e] ?? 0) > now) continue // already down: this failure is absorbed
    const back = now + random.between(o.downMinMs, o.downMaxMs)
    downUntil[e] = back
    const b = t.targets[e] ?? 0
    const a = t.targets[t.reverse[e] ?? 0] ?? 0
    out.push({ at: Math.round(now), kind: 'link-down', a, b }, { at: Math.round(back), kind: 'link-up', a, b })
  }
  return sortEvents(out)
}

export interface ChurnOptions {
  /** Fraction of nodes that leave per minute. */
  ratePerMinute: number
  from: number
  until: number
  downMinMs: number
  downMaxMs: number
}

/** Node churn: departures as a Poisson process over the nodes present; each returns after its downtime. */
export function churnEvents (nodes: number, random: Random, o: ChurnOptions): MeshEvent[] {
  const perMs = o.ratePerMinute * nodes / 60_000
  const out: MeshEvent[] = []
  if (perMs <= 0) return out
  const downUntil = new Float64Array(nodes)
  let now = o.from
  for (;;) {
    now += -Math.log(1 - random.float()) / perMs
    if (now >= o.until) break
    const n = random.int(nodes)
    if ((downUntil[n] ?? 0) > now) continue
    const back = now + random.between(o.downMinMs, o.downMaxMs)
    downUntil[n] = back
    out.push({ at: Math.round(now), kind: 'node-down', node: n }, { at: Math.round(back), kind: 'node-up', node: n })
  }
  return sortEvents(out)
}
