// An in-memory mesh of Forwarders for tests: nodes joined by links that can be cut and
// healed, frames that cross the real envelope codec, and a shell that does what a node's
// shell does (opens nothing, but acks ACK_REQUESTED deliveries and feeds acks back).
// Routes are shortest paths over the links that are up, recomputed on every lookup: the
// forwarder is what is under test, the route lookup is just its input. Frames are
// delivered with zero latency but in a seeded random order, optionally duplicated.

import { createHash } from 'node:crypto'
import { Forwarder } from '../../src/mesh/forwarder.ts'
import type { ForwarderConfig, ForwarderOutput } from '../../src/mesh/forwarder.ts'
import { decodeEnvelope, encodeEnvelope, IS_ACK, ACK_REQUESTED } from '../../src/mesh/envelope.ts'
import type { MeshEnvelope } from '../../src/mesh/envelope.ts'
import { nodeIdOf } from '../../src/mesh/node-id.ts'
import type { NodeId } from '../../src/mesh/node-id.ts'
import { seededFloats } from '../../src/sim/random.ts'

export interface NetNode {
  index: number
  key: Uint8Array
  id: NodeId
  fwd: Forwarder
  /** Delivered (first time) envelopes, in order. */
  delivered: MeshEnvelope[]
  duplicates: MeshEnvelope[]
  acked: string[]
  failed: Array<{ id: string, reason: string }>
  drops: Array<{ envelope: MeshEnvelope, reason: string }>
}

interface Frame { to: number, link: string, bytes: Uint8Array }

export interface NetOptions {
  config?: Partial<Omit<ForwarderConfig, 'self'>>
  /** Probability that a frame is sent twice. */
  duplicate?: number
  /** Probability that a frame is lost. */
  loss?: number
  seed?: number
}

export class ForwarderNet {
  readonly nodes: NetNode[] = []
  readonly #up = new Set<string>() // "a-b" with a < b
  readonly #edges: Array<[number, number]> = []
  #frames: Frame[] = []
  now = 0
  #random: () => number
  readonly #options: NetOptions
  /** Every frame sent, for counting. */
  sent = 0

  constructor (count: number, edges: Array<[number, number]>, options: NetOptions = {}) {
    this.#options = options
    this.#random = seededFloats(options.seed ?? 1)
    for (let i = 0; i < count; i++) {
      const key = createHash('sha256').update(`node ${i}`).digest()
      const id = nodeIdOf(key)
      const index = i
      const fwd = new Forwarder({
        self: id,
        custodyBytes: 1 << 20,
        custodyTtlMs: 10 * 60_000,
        sprayCopies: 8,
        ackTimeoutMs: 1000,
        maxRetries: 4,
        duplicateWindow: 10 * 60_000,
        ...options.config
      }, {
        route: (dst, via) => { const link = this.nextHop(index, dst); return link === undefined ? undefined : { link, via } },
        links: () => this.linksAt(index)
      }, 0)
      this.nodes.push({ index, key: new Uint8Array(key), id, fwd, delivered: [], duplicates: [], acked: [], failed: [], drops: [] })
    }
    for (const [a, b] of edges) {
      this.#edges.push([a, b])
      this.#up.add(edgeName(a, b))
    }
  }

  static line (count: number, options?: NetOptions): ForwarderNet {
    return new ForwarderNet(count, Array.from({ length: count - 1 }, (_, i) => [i, i + 1] as [number, number]), options)
  }

  static grid (w: number, h: number, options?: NetOptions): ForwarderNet {
    const edges: Array<[number, number]> = []
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (x + 1 < w) edges.push([y * w + x, y * w + x + 1])
        if (y + 1 < h) edges.push([y * w + x, (y + 1) * w + x])
      }
    }
    return new ForwarderNet(w * h, edges, options)
  }

  get edges (): ReadonlyArray<[number, number]> { return this.#edges }

  isUp (a: number, b: number): boolean { return this.#up.has(edgeName(a, b)) }

  linksAt (i: number): string[] {
    const out: string[] = []
    for (const [a, b] of this.#edges) {
      if (!this.isUp(a, b)) continue
      if (a === i) out.push(linkName(a, b))
      if (b === i) out.push(linkName(b, a))
    }
    return out
  }

  /** First link of a shortest path from `from` to `dst` over links that are up. */
  nextHop (from: number, dst: NodeId): string | undefined {
    const target = this.nodes.findIndex((n) => n.id === dst)
    if (target < 0 || target === from) return undefined
    const firstHop = new Map<number, number>([[from, -1]])
    let frontier = [from]
    while (frontier.length > 0) {
      const next: number[] = []
      for (const n of frontier) {
        for (const m of this.#neighbours(n)) {
          if (firstHop.has(m)) continue
          const first = n === from ? m : firstHop.get(n) as number
          if (m === target) return linkName(from, first)
          firstHop.set(m, first)
          next.push(m)
        }
      }
      frontier = next
    }
    return undefined
  }

  #neighbours (n: number): number[] {
    const out: number[] = []
    for (const [a, b] of this.#edges) {
      if (!this.isUp(a, b)) continue
      if (a === n) out.push(b)
      if (b === n) out.push(a)
    }
    return out
  }

  /** Cuts a link: frames on it are lost; every node retries (its routes changed). */
  cut (a: number, b: number): void {
    this.#up.delete(edgeName(a, b))
    this.#frames = this.#frames.filter((f) => !(f.link === linkName(a, b) || f.link === linkName(b, a)))
    for (const n of this.nodes) this.#handle(n, n.fwd.retry(this.now))
  }

  heal (a: number, b: number): void {
    this.#up.add(edgeName(a, b))
    for (const n of this.nodes) {
      const newLinks = n.index === a ? [linkName(a, b)] : n.index === b ? [linkName(b, a)] : []
      this.#handle(n, n.fwd.retry(this.now, newLinks))
    }
  }

  /** Originates an envelope at node `from`, its payload plain bytes (the forwarder never looks inside). */
  send (from: number, to: number, options: { reliable?: boolean, flags?: number, ttl?: number, copies?: number, payload?: Uint8Array } = {}): MeshEnvelope {
    const e: MeshEnvelope = {
      src: this.nodes[from]!.key,
      dst: this.nodes[to]!.id,
      ttl: options.ttl ?? 64,
      id: this.#newId(),
      flags: (options.flags ?? 0) | (options.reliable === true ? ACK_REQUESTED : 0),
      copies: options.copies ?? 1,
      via: [],
      payload: options.payload ?? new TextEncoder().encode(`${from}→${to}`)
    }
    this.#handle(this.nodes[from]!, this.nodes[from]!.fwd.send(e, this.now, options.reliable === true))
    return e
  }

  /** Delivers every frame in flight (and what they cause), then runs timers up to `until`. */
  run (until: number): void {
    for (;;) {
      this.#drain()
      let next = Infinity
      for (const n of this.nodes) next = Math.min(next, n.fwd.nextDeadline())
      if (next > until) break
      this.now = Math.max(this.now, next)
      for (const n of this.nodes) if (n.fwd.nextDeadline() <= this.now) this.#handle(n, n.fwd.tick(this.now))
    }
    this.now = Math.max(this.now, until)
  }

  /** Copies of the envelope (src, id) held in custody anywhere, plus in flight. */
  copiesOf (e: MeshEnvelope): number {
    let total = 0
    for (const n of this.nodes) for (const c of n.fwd.custody()) if (c.id === e.id && c.src === nodeIdOf(e.src)) total += c.copies
    for (const f of this.#frames) {
      const d = decodeEnvelope(f.bytes)
      if (d.id === e.id) total += d.copies
    }
    return total
  }

  get inFlight (): number { return this.#frames.length }

  /** Delivers one frame in flight (a random one); false when none is. */
  step (): boolean {
    if (this.#frames.length === 0) return false
    const i = Math.floor(this.#random() * this.#frames.length)
    const [f] = this.#frames.splice(i, 1) as [Frame]
    const node = this.nodes[f.to]!
    this.#handle(node, node.fwd.receive(f.link, decodeEnvelope(f.bytes), this.now))
    return true
  }

  #drain (): void {
    while (this.step()) { /* until quiet */ }
  }

  #handle (node: NetNode, outputs: ForwarderOutput[]): void {
    for (const o of outputs) {
      switch (o.kind) {
        case 'send': this.#transmit(node.index, o.link, o.envelope); break
        case 'deliver':
          node.delivered.push(o.envelope)
          if ((o.envelope.flags & IS_ACK) !== 0) {
            this.#handle(node, node.fwd.acknowledge(new TextDecoder().decode(o.envelope.payload), this.now))
          } else if ((o.envelope.flags & ACK_REQUESTED) !== 0) {
            this.#ack(node, o.envelope)
          }
          break
        case 'duplicate':
          node.duplicates.push(o.envelope)
          if ((o.envelope.flags & ACK_REQUESTED) !== 0 && (o.envelope.flags & IS_ACK) === 0) this.#ack(node, o.envelope)
          break
        case 'acked': node.acked.push(o.id); break
        case 'failed': node.failed.push({ id: o.id, reason: o.reason }); break
        case 'drop': node.drops.push({ envelope: o.envelope, reason: o.reason }); break
      }
    }
  }

  #ack (node: NetNode, e: MeshEnvelope): void {
    const ack: MeshEnvelope = { src: node.key, dst: nodeIdOf(e.src), ttl: 64, id: this.#newId(), flags: IS_ACK, copies: 1, via: [], payload: new TextEncoder().encode(e.id) }
    this.#handle(node, node.fwd.send(ack, this.now, false))
  }

  #transmit (from: number, link: string, e: MeshEnvelope): void {
    this.sent++
    const [a, b] = link.slice(1).split('>').map(Number) as [number, number]
    if (a !== from) throw new Error(`node ${from} sent on ${link}, not its link`)
    if (!this.isUp(a, b)) return
    if (this.#random() < (this.#options.loss ?? 0)) return
    const frame = { to: b, link: linkName(b, a), bytes: encodeEnvelope(e) }
    this.#frames.push(frame)
    if (this.#random() < (this.#options.duplicate ?? 0)) this.#frames.push({ ...frame })
  }

  #newId (): string {
    return Array.from({ length: 8 }, () => Math.floor(this.#random() * 256).toString(16).padStart(2, '0')).join('')
  }
}

export function linkName (from: number, to: number): string { return `L${from}>${to}` }
function edgeName (a: number, b: number): string { return a < b ? `${a}-${b}` : `${b}-${a}` }

