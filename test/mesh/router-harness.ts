// A tiny in-memory mesh for router tests: Router instances wired by virtual links, every
// control packet passed through encodeControl/decodeControl, virtual time. Links can be
// cut loudly (both ends get linkDown, as when a connection closes) or silently (frames
// are just lost, as when a radio goes out of range), and restored.

import { Router, type RouterConfig, type RouterOutput } from '../../src/mesh/router.ts'
import { decodeControl, encodeControl, type ControlPacket } from '../../src/mesh/control-messages.ts'
import type { NodeId } from '../../src/mesh/node-id.ts'
import { Random } from '../../src/sim/random.ts'

interface Frame { at: number, seq: number, from: NodeId, to: NodeId, bytes: Uint8Array }

export interface HarnessOptions {
  seed?: number
  latencyMs?: number
  /** Share of frames lost at random on every link. */
  loss?: number
  config?: (id: NodeId) => Partial<RouterConfig>
}

/** Node ids that are valid and distinct: 16 hex chars from a seeded generator. */
export function makeIds (n: number, seed = 1): NodeId[] {
  const r = new Random(seed)
  const ids = new Set<NodeId>()
  while (ids.size < n) ids.add(r.uint32().toString(16).padStart(8, '0') + r.uint32().toString(16).padStart(8, '0'))
  return [...ids]
}

export class Harness {
  now = 0
  readonly routers = new Map<NodeId, Router>()
  /** Open links by "a|b" (a < b): whether frames get through. */
  private readonly links = new Map<string, { up: boolean }>()
  private frames: Frame[] = []
  private seq = 0
  readonly latencyMs: number
  loss: number
  readonly random: Random
  private readonly lossRandom: Random
  bytesSent = 0
  packetsSent = 0
  routesChangedEvents = 0
  /** TLVs sent, by type. */
  readonly tlvsSent = new Map<string, number>()
  /** Drops the frames it returns true for (tests that need one packet lost). */
  drop: ((from: NodeId, to: NodeId, packet: ControlPacket) => boolean) | null = null
  /** Called after every event; tests hang their invariants here. */
  afterEvent: (() => void) | null = null

  constructor (ids: readonly NodeId[], edges: ReadonlyArray<readonly [NodeId, NodeId]>, opts: HarnessOptions = {}) {
    this.random = new Random(opts.seed ?? 1)
    this.latencyMs = opts.latencyMs ?? 5
    this.loss = opts.loss ?? 0
    this.lossRandom = new Random((opts.seed ?? 1) + 7919)
    for (const id of ids) {
      this.routers.set(id, new Router({ self: id, random: () => this.random.float(), ...opts.config?.(id) }, this.now))
    }
    for (const [a, b] of edges) this.connect(a, b)
  }

  static key (a: NodeId, b: NodeId): string { return a < b ? `${a}|${b}` : `${b}|${a}` }

  router (id: NodeId): Router {
    const r = this.routers.get(id)
    if (r === undefined) throw new Error(`no router ${id}`)
    return r
  }

  /** Opens a link: both ends get linkUp. The link id at each end is the peer's node id. */
  connect (a: NodeId, b: NodeId): void {
    this.links.set(Harness.key(a, b), { up: true })
    this.handle(a, this.router(a).linkUp(b, this.now))
    this.handle(b, this.router(b).linkUp(a, this.now))
  }

  /** Closes a link: both ends get linkDown, frames in flight are lost. */
  disconnect (a: NodeId, b: NodeId): void {
    this.links.delete(Harness.key(a, b))
    this.handle(a, this.router(a).linkDown(b, this.now))
    this.handle(b, this.router(b).linkDown(a, this.now))
  }

  /** Silently cuts (or restores) a link: frames are lost, nobody is told. */
  setSilent (a: NodeId, b: NodeId, up: boolean): void {
    const l = this.links.get(Harness.key(a, b))
    if (l !== undefined) l.up = up
  }

  linkUp (a: NodeId, b: NodeId): boolean {
    return this.links.get(Harness.key(a, b))?.up === true
  }

  isOpen (a: NodeId, b: NodeId): boolean {
    return this.links.has(Harness.key(a, b))
  }

  noteTraffic (a: NodeId, b: NodeId): void {
    this.handle(a, this.router(a).noteTraffic(b, this.now))
  }

  handle (from: NodeId, outputs: RouterOutput[]): void {
    for (const o of outputs) {
      if (o.kind === 'routes-changed') { this.routesChangedEvents++; continue }
      for (const t of o.packet.tlvs) this.tlvsSent.set(t.type, (this.tlvsSent.get(t.type) ?? 0) + 1)
      const bytes = encodeControl(o.packet)
      this.bytesSent += bytes.length
      this.packetsSent++
      if (!this.linkUp(from, o.link)) continue
      if (this.loss > 0 && this.lossRandom.float() < this.loss) continue
      if (this.drop?.(from, o.link, o.packet) === true) continue
      this.frames.push({ at: this.now + this.latencyMs, seq: this.seq++, from, to: o.link, bytes })
    }
  }

  /** Runs every event up to `until` (packets and router deadlines, in time order). */
  runUntil (until: number): void {
    for (;;) {
      let nextFrame: Frame | undefined
      for (const f of this.frames) if (nextFrame === undefined || f.at < nextFrame.at || (f.at === nextFrame.at && f.seq < nextFrame.seq)) nextFrame = f
      let nextRouter: NodeId | undefined
      let routerAt = Infinity
      for (const [id, r] of this.routers) {
        const d = r.nextDeadline()
        if (d < routerAt) { routerAt = d; nextRouter = id }
      }
      const frameAt = nextFrame?.at ?? Infinity
      const at = Math.min(frameAt, routerAt)
      if (at > until) break
      this.now = Math.max(this.now, at)
      if (nextFrame !== undefined && frameAt <= routerAt) {
        const f = nextFrame
        this.frames.splice(this.frames.indexOf(f), 1)
        // A frame on a link cut meanwhile is lost.
        if (this.linkUp(f.from, f.to)) this.handle(f.to, this.router(f.to).receive(f.from, decodeControl(f.bytes), this.now))
      } else if (nextRouter !== undefined) {
        this.handle(nextRouter, this.router(nextRouter).tick(this.now))
      }
      this.afterEvent?.()
    }
    this.now = Math.max(this.now, until)
  }

  run (ms: number): void { this.runUntil(this.now + ms) }

  /**
   * Follows selected next hops from `src` to `dst` as an envelope goes: starting with
   * `via` (by default the destination's own address(), as a sender would put in the
   * envelope), each hop passing on the landmarks its router left it (Router.route).
   * Returns the path, whether it reached dst, and whether it looped: met a node again
   * carrying the same landmarks (met again with fewer, it only passes back on its way
   * down the address, which happens a bounded number of times).
   */
  walk (src: NodeId, dst: NodeId, via: readonly NodeId[] = this.router(dst).address()): { path: NodeId[], loop: boolean, reached: boolean } {
    const path = [src]
    const seen = new Set([`${src}/${via.length}`])
    let at = src
    while (at !== dst) {
      const hop = this.router(at).route(dst, via)
      if (hop === undefined) return { path, loop: false, reached: false }
      const next = hop.link
      via = hop.via
      const state = `${next}/${via.length}`
      if (seen.has(state)) { path.push(next); return { path, loop: true, reached: false } }
      seen.add(state); path.push(next); at = next
    }
    return { path, loop: false, reached: true }
  }

  /**
   * Any loop in the selected next hops? Per destination (Babel's guarantee, RFC 8966
   * §3.5.1) strictly, even across links that are silently down; and through landmarks
   * (nextHop with the destination's address), where a silently dead link ends the walk
   * because a packet would be lost there, not looped. Returns the first loop found.
   */
  findLoop (perDestinationOnly = false): NodeId[] | null {
    const ids = [...this.routers.keys()]
    for (const dst of ids) {
      const via = this.router(dst).address()
      for (const src of ids) {
        if (src === dst) continue
        const w = this.walk(src, dst, [])
        if (w.loop) return w.path
        if (via.length > 0 && !perDestinationOnly) {
          const v = this.walk(src, dst, via)
          if (v.loop) {
            // It only counts if a packet could get round it: no dead link on the way.
            if (v.path.every((x, i) => i === 0 || this.linkUp(v.path[i - 1] as NodeId, x))) return v.path
          }
        }
      }
    }
    return null
  }

  /** Whether every node reaches every other over links that are up. */
  allReach (): boolean {
    const ids = [...this.routers.keys()]
    for (const dst of ids) {
      for (const src of ids) {
        if (src === dst) continue
        if (!this.reachesOverUpLinks(src, dst)) return false
      }
    }
    return true
  }

  reachesOverUpLinks (src: NodeId, dst: NodeId, via: readonly NodeId[] = this.router(dst).address()): boolean {
    const w = this.walk(src, dst, via)
    if (!w.reached) return false
    for (let i = 1; i < w.path.length; i++) if (!this.linkUp(w.path[i - 1] as NodeId, w.path[i] as NodeId)) return false
    return true
  }
}

// ---- topologies -----------------------------------------------------------------------

export function line (ids: readonly NodeId[]): Array<[NodeId, NodeId]> {
  return ids.slice(1).map((b, i) => [ids[i] as NodeId, b])
}

export function ring (ids: readonly NodeId[]): Array<[NodeId, NodeId]> {
  return [...line(ids), [ids[ids.length - 1] as NodeId, ids[0] as NodeId]]
}

export function grid (ids: readonly NodeId[], width: number): Array<[NodeId, NodeId]> {
  const edges: Array<[NodeId, NodeId]> = []
  for (let i = 0; i < ids.length; i++) {
    if ((i + 1) % width !== 0 && i + 1 < ids.length) edges.push([ids[i] as NodeId, ids[i + 1] as NodeId])
    if (i + width < ids.length) edges.push([ids[i] as NodeId, ids[i + width] as NodeId])
  }
  return edges
}
