// The baseline the mesh is measured against: Meshtastic-style managed flooding. No routing
// state at all: every packet is broadcast; a node that hears a packet for the first time
// rebroadcasts it once, after a contention delay, with its hop limit one lower, unless it
// hears a neighbour rebroadcast the same packet first (then it cancels, as Meshtastic's
// FloodingRouter does); packets are deduplicated by id; the destination delivers and does
// not rebroadcast; a hop limit of 0 is not rebroadcast, so a packet sent with hop limit H
// reaches H + 1 hops. Meshtastic's default hop limit is 3 and its maximum 7.
//
// The contention delay follows Meshtastic's idea that the farther receiver (weaker signal)
// should rebroadcast first: with positions (rgg) the delay shrinks with the distance to
// the sender, plus a random slot; without, it is a random slot. One transmission reaches
// every neighbour (a broadcast medium) and is counted once. Not modelled: collisions and
// airtime (both of which only make flooding worse).
//
// `FloodingNode` is the per-node core (pure, time passed in); `runFloodingBaseline`
// drives one per node in the discrete-event simulator over the same topology.

import { Simulator } from '../simulator.ts'
import { summarize } from '../metrics.ts'
import type { Summary } from '../metrics.ts'
import { Random } from '../random.ts'
import { components, topologyLatency } from './topology.ts'
import type { Topology } from './topology.ts'

export interface FloodPacket {
  id: number
  src: number
  dst: number
  /** Rebroadcasts left. */
  hopLimit: number
  /** Hops travelled so far. */
  hops: number
}

export type FloodOutput =
  | { kind: 'broadcast', packet: FloodPacket }
  | { kind: 'deliver', packet: FloodPacket }

/** Meshtastic keeps a short history of recently seen packet ids; so do we. */
export const FLOOD_HISTORY = 1024

export class FloodingNode {
  readonly self: number
  private readonly seen = new Set<number>()
  private readonly order: number[] = []
  /** Rebroadcasts waiting out their contention delay: id → packet to send. */
  private readonly pending = new Map<number, FloodPacket>()

  constructor (self: number) {
    this.self = self
  }

  private remember (id: number): void {
    this.seen.add(id)
    this.order.push(id)
    if (this.order.length > FLOOD_HISTORY) this.seen.delete(this.order.shift() ?? -1)
  }

  originate (packet: FloodPacket): FloodOutput[] {
    this.remember(packet.id)
    return [{ kind: 'broadcast', packet }]
  }

  /**
   * A packet heard from a neighbour. Returns what to do now; when it returns `schedule`
   * true the shell calls `fire(id)` after the contention delay.
   */
  receive (packet: FloodPacket): { out: FloodOutput[], schedule: boolean, duplicate: boolean } {
    if (this.seen.has(packet.id)) {
      // Someone else rebroadcast it: ours is not needed (managed flooding's cancellation).
      this.pending.delete(packet.id)
      return { out: [], schedule: false, duplicate: true }
    }
    this.remember(packet.id)
    if (packet.dst === this.self) return { out: [{ kind: 'deliver', packet }], schedule: false, duplicate: false }
    if (packet.hopLimit <= 0) return { out: [], schedule: false, duplicate: false }
    this.pending.set(packet.id, { ...packet, hopLimit: packet.hopLimit - 1 })
    return { out: [], schedule: true, duplicate: false }
  }

  /** The contention delay ran out: rebroadcast unless cancelled meanwhile. */
  fire (id: number): FloodOutput[] {
    const p = this.pending.get(id)
    if (p === undefined) return []
    this.pending.delete(id)
    return [{ kind: 'broadcast', packet: p }]
  }

  /** Entries held (seen ids and pending rebroadcasts): flooding's whole state. */
  stateSize (): number {
    return this.seen.size + this.pending.size
  }
}

export interface FloodingOptions {
  /** Hop limit of each packet; Infinity for unlimited. */
  hopLimit: number
  packets: number
  /** Offered load (packets per second over the whole mesh) the byte rate is reported at. */
  packetsPerSecond: number
  /** Bytes per transmission: the same payload as the routed run plus Meshtastic's 16-byte header. */
  packetBytes: number
  /** Contention window (ms): rebroadcast delays fall in [0, window]. */
  contentionMs: number
  seed: number
}

export interface FloodingResult {
  hopLimit: number | 'unlimited'
  packets: number
  /** Packets whose destination was reachable (connected) when sent. */
  reachable: number
  delivered: number
  deliveryRatio: number
  /** Transmissions per packet (each heard by every neighbour). */
  transmissionsPerPacket: number
  /** Receptions of an already seen copy, per packet. */
  duplicatesPerPacket: number
  /** Data bytes sent per node per second at the offered load. */
  dataBytesPerNodePerSecond: number
  hops: Summary
  latencyMs: Summary
  /** Largest per-node state (seen ids + pending) at the end. */
  maxState: number
}

/**
 * Sends `packets` packets between uniform random pairs, one at a time spaced so floods do
 * not overlap in time (no collisions are modelled, so overlap would change nothing but the
 * run's memory), and measures delivery and cost.
 */
export function runFloodingBaseline (t: Topology, o: FloodingOptions): FloodingResult {
  const random = new Random(o.seed)
  const sim = new Simulator<FloodPacket>(t.nodes, topologyLatency(t))
  const nodes: FloodingNode[] = []
  for (let i = 0; i < t.nodes; i++) nodes.push(new FloodingNode(i))
  const comp = components(t)
  let transmissions = 0
  let duplicates = 0
  let delivered = 0
  const hops: number[] = []
  const latency: number[] = []
  const sentAt = new Map<number, number>()
  const broadcast = (from: number, packet: FloodPacket): void => {
    transmissions++
    const next = { ...packet, hops: packet.hops + 1 }
    for (let e = t.offsets[from] ?? 0; e < (t.offsets[from + 1] ?? 0); e++) sim.send(from, t.targets[e] ?? 0, next, o.packetBytes)
  }
  const handle = (node: number, out: FloodOutput[]): void => {
    for (const x of out) {
      if (x.kind === 'broadcast') broadcast(node, x.packet)
      else {
        delivered++
        hops.push(x.packet.hops)
        latency.push(sim.now - (sentAt.get(x.packet.id) ?? sim.now))
      }
    }
  }
  sim.onDeliver((to, from, packet) => {
    const r = (nodes[to] as FloodingNode).receive(packet)
    if (r.duplicate) duplicates++
    handle(to, r.out)
    if (r.schedule) {
      let delay = random.between(0, o.contentionMs / 2)
      // Farther receivers first (weaker signal, shorter wait), as Meshtastic weights by SNR.
      if (t.x !== null && t.y !== null) {
        const d = Math.hypot((t.x[to] ?? 0) - (t.x[from] ?? 0), (t.y[to] ?? 0) - (t.y[from] ?? 0))
        const radius = Math.sqrt(10 / (Math.PI * t.nodes))
        delay += (o.contentionMs / 2) * Math.max(0, 1 - d / radius)
      } else {
        delay += random.between(0, o.contentionMs / 2)
      }
      const id = packet.id
      sim.after(delay, () => { handle(to, (nodes[to] as FloodingNode).fire(id)) })
    }
  })
  let reachable = 0
  for (let k = 0; k < o.packets; k++) {
    const src = random.int(t.nodes)
    let dst = random.int(t.nodes - 1)
    if (dst >= src) dst++
    if (comp.of[src] === comp.of[dst]) reachable++
    sentAt.set(k, sim.now)
    const hopLimit = Number.isFinite(o.hopLimit) ? o.hopLimit : Number.MAX_SAFE_INTEGER
    handle(src, (nodes[src] as FloodingNode).originate({ id: k, src, dst, hopLimit, hops: 0 }))
    sim.run()
  }
  let maxState = 0
  for (const n of nodes) maxState = Math.max(maxState, n.stateSize())
  const perPacket = transmissions / Math.max(1, o.packets)
  return {
    hopLimit: Number.isFinite(o.hopLimit) ? o.hopLimit : 'unlimited',
    packets: o.packets,
    reachable,
    delivered,
    deliveryRatio: reachable === 0 ? NaN : delivered / reachable,
    transmissionsPerPacket: perPacket,
    duplicatesPerPacket: duplicates / Math.max(1, o.packets),
    dataBytesPerNodePerSecond: perPacket * o.packetBytes * o.packetsPerSecond / t.nodes,
    hops: summarize(hops),
    latencyMs: summarize(latency),
    maxState
  }
}
