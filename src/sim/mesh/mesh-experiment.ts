// The mesh experiment (issue 4, "Simulator" and benchmark 2): N virtual nodes, each running
// the real routing core (src/mesh/router.ts) and data plane (src/mesh/forwarder.ts) — the
// very classes the daemon runs — over virtual links with latency and loss, in virtual time.
// Nothing about routing is reimplemented here: this file only moves their outputs.
//
// Timeline: every link comes up at a random moment of the first second; the run waits
// for initial convergence (all probe pairs routable), then measures for `durationMs`:
// traffic between random pairs, the events (file, flapping, churn; their times count
// from the start of the measurement), and periodic loop checks.
//
// Measured: delivery ratio (of packets whose destination was reachable when sent),
// stretch (hops taken / BFS shortest hops on the topology at send time), control bytes
// per node per second (each control packet's encodeControl size + the 1-byte frame
// type), data bytes, state per node (router.stateSize() + forwarder.stateSize()), time to
// reconverge after each event (until every probe pair around it is routable again, or
// correctly unroutable), loops (next hops followed for probe pairs after every event and
// every 10 s, each hop passing on the landmarks its router left the envelope: a node met
// again with the same landmarks is a loop; must be zero) and envelopes dropped at ttl 0,
// memory per virtual node (V8 heap before and after building them, after a full GC).
//
// Where a source gets its destination's address (`location`): 'service' runs the real
// location service (src/mesh/location.ts) on every node, registrations travelling as
// LOCATION envelopes (counted as control bytes) and senders with no route sending by the
// destination's homes; 'oracle' takes `via` from the destination's router.address().
//
// Assumptions, stated in the result: link failures are signalled to both ends (the Link's
// onClose; `silentFailures` turns that off so only hellos find them); no per-link pacing,
// MAC collisions or airtime; envelopes are not sealed and location records not signed
// (the forwarder never opens them; payload bytes are counted at their sealed or signed
// size).

import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import { createHash } from 'node:crypto'
import { Router } from '../../mesh/router.ts'
import type { RouterOutput } from '../../mesh/router.ts'
import { encodeControl, decodeControl } from '../../mesh/control-messages.ts'
import type { ControlPacket } from '../../mesh/control-messages.ts'
import { Forwarder, DEFAULT_FORWARDER_CONFIG } from '../../mesh/forwarder.ts'
import type { ForwarderOutput } from '../../mesh/forwarder.ts'
import { BINDING, envelopeSize, LOCATION, MAX_VIA, SEAL_OVERHEAD } from '../../mesh/envelope.ts'
import { comesFar, DEFAULT_LOCATION_CONFIG, LocationService, routeWithLocation } from '../../mesh/location.ts'
import type { LocationCounters, LocationOutput } from '../../mesh/location.ts'
import { LOCATION_SIGNATURE_BYTES } from '../../mesh/payload.ts'
import type { MeshEnvelope } from '../../mesh/envelope.ts'
import { nodeIdOf } from '../../mesh/node-id.ts'
import type { NodeId } from '../../mesh/node-id.ts'
import type { LinkId } from '../../mesh/link.ts'
import { Simulator } from '../simulator.ts'
import { summarize } from '../metrics.ts'
import type { Summary } from '../metrics.ts'
import { Random } from '../random.ts'
import { components, linkCount, nodeName, topologyLatency } from './topology.ts'
import type { Components, Topology } from './topology.ts'
import { churnEvents, flapEvents, sortEvents } from './events.ts'
import type { MeshEvent, MeshEventKind } from './events.ts'
import { runFloodingBaseline } from './managed-flooding.ts'
import type { FloodingResult } from './managed-flooding.ts'

export interface MeshExperimentOptions {
  seed: number
  /** Measured time after initial convergence (ms). */
  durationMs: number
  /** Events from a file (times from the start of the measurement). */
  events: MeshEvent[]
  /** Fraction of links failing per minute (0.01 = 1 %/min); each is down 5–60 s. */
  flapPerMinute: number
  /** Fraction of nodes leaving per minute; each is away 30–120 s. */
  churnPerMinute: number
  /** Traffic events (flows) per second over the whole mesh, between uniform random pairs. */
  trafficPerSecond: number
  /**
   * Packets per flow, FLOW_GAP_MS apart (1: one packet per pair, the traffic of old). The
   * later packets show what the sender-side address cache (binding updates, location.ts)
   * saves: the first packet of a flow to a far node detours through a home.
   */
  flowPackets: number
  /** Plaintext bytes per packet (the envelope adds its header and the seal). */
  payloadBytes: number
  /** Initial ttl of envelopes (the field is one byte). */
  ttl: number
  /** Longest wait for initial convergence (ms); the run goes on either way and says so. */
  warmupMaxMs: number
  /** Link failures reach the routers only through missed hellos. */
  silentFailures: boolean
  /** Random probe pairs for convergence and loop checks (all pairs when the mesh is small). */
  probePairs: number
  /** Managed-flooding baseline hop limits to run on the same topology (Infinity: unlimited); empty for none. */
  baselineHopLimits: number[]
  baselinePackets: number
  /** Where senders get their destination's address: the location service, or an oracle (the destination's router). */
  location: 'service' | 'oracle'
  /** Landmarks a plain node must know before it narrows its scope (ScopeConfig.narrowFrom; the daemon's 64); 0: scoped from the start. */
  narrowFrom: number
}

export const DEFAULT_MESH_OPTIONS: Readonly<MeshExperimentOptions> = Object.freeze({
  seed: 1,
  durationMs: 120_000,
  events: [],
  flapPerMinute: 0,
  churnPerMinute: 0,
  trafficPerSecond: 10,
  flowPackets: 1,
  payloadBytes: 64,
  ttl: 255,
  warmupMaxMs: 180_000,
  silentFailures: false,
  probePairs: 200,
  baselineHopLimits: [],
  baselinePackets: 100,
  location: 'service',
  narrowFrom: 0
})

export type Progress = (line: string) => void

interface Reconvergence {
  count: number
  converged: number
  ms: Summary
}

export interface MeshResult {
  parameters: Omit<MeshExperimentOptions, 'events' | 'baselineHopLimits'> & { baselineHopLimits: Array<number | 'unlimited'>, eventsFromFile: number, assumptions: string[] }
  topology: { kind: string, nodes: number, links: number, meanDegree: number, maxDegree: number, joinedComponents: number }
  convergence: { initialMs: number, converged: boolean }
  delivery: {
    sent: number
    /** Sent while the destination was reachable (same component, both alive). */
    reachable: number
    delivered: number
    /** delivered (of reachable) / reachable. */
    ratio: number
    deliveredUnreachable: number
    drops: Record<string, number>
    failed: number
    /** Copies of an already delivered envelope that reached the destination again. */
    duplicates: number
    lostOnLinks: number
    latencyMs: Summary
  }
  stretch: Summary
  /** Stretch of the first packet of each flow, and of the later ones (empty when flowPackets is 1). */
  flowStretch: { first: Summary, later: Summary, /** Mean stretch of the packets at each place in their flow (0: first). */ meanByIndex: number[], gapMs: number }
  pathHops: Summary
  shortestHops: Summary
  control: {
    /** Per node, sent, over the measured period. */
    bytesPerNodePerSecond: Summary
    packetsPerNodePerSecond: number
    /** Mean during initial convergence. */
    warmupBytesPerNodePerSecond: number
    /** Mean control packet size. */
    meanPacketBytes: number
    /** TLVs sent by type, per node per second, over the measured period and the warm-up. */
    tlvsPerNodePerSecond: Record<string, number>
    warmupTlvsPerNodePerSecond: Record<string, number>
  }
  data: { bytesPerNodePerSecond: number }
  state: { total: Summary, router: Summary, forwarder: Summary, location: Summary }
  /** The location service (location: 'service'): registrations and lookups over the whole run, summed over nodes. */
  location: LocationCounters & {
    mode: 'service' | 'oracle'
    /** Registration bytes sent (every hop) per node per second, over the measured period and the warm-up. */
    bytesPerNodePerSecond: number
    warmupBytesPerNodePerSecond: number
    /** Bytes one registration cost on average, summed over the hops it crossed. */
    bytesPerRegistration: number
    /**
     * What the refreshes cost once addresses are settled: each node registers with each
     * home once per refreshMs, at bytesPerRegistration each (the measured period is
     * usually shorter than one refresh).
     */
    steadyBytesPerNodePerSecond: number
    /** Binding update bytes sent (every hop) per node per second, over the measured period (not in bytesPerNodePerSecond; in control bytes). */
    bindingBytesPerNodePerSecond: number
    recordsPerHome: Summary
  }
  reconvergence: Reconvergence & { byKind: Partial<Record<MeshEventKind, Reconvergence>> }
  /** revisits: nodes a walk met again after moving on from a landmark (bounded detours, not loops). */
  loops: { walks: number, loops: number, revisits: number, examples: Array<{ atMs: number, src: string, dst: string, path: string[] }>, ttlExpired: number }
  events: { total: number, byKind: Partial<Record<MeshEventKind, number>> }
  /**
   * Memory the nodes took, measured after initial convergence: the V8 heap plus array
   * buffers (outside the heap, where the routers' route tables keep their columns:
   * route-table.ts).
   */
  memory: { heapBytesPerNode: number, heapBytes: number, gc: boolean }
  series: { second: number[], controlBytesPerNodePerSecond: number[], dataBytesPerNodePerSecond: number[], deliveryRatio: number[], measureStartS: number, eventSeconds: number[] }
  baseline: FloodingResult[]
  /** Wall-clock facts: not part of the seeded result. */
  run: { wallSeconds: number, simEvents: number, controlPackets: number }
}

/** A frame on a virtual link: a control packet's bytes or a data envelope. */
interface Frame {
  /** Directed edge it travels on (sender → receiver). */
  edge: number
  /** The edge's epoch when sent: a frame in flight when its link went down is lost. */
  epoch: number
  bytes: Uint8Array | null
  envelope: MeshEnvelope | null
}

const WALK_REACHED = 0
const WALK_NO_ROUTE = 1
const WALK_LOOP = 2
const WALK_BLACKHOLE = 3

const PROBE_INTERVAL_MS = 500
/** Virtual time between the packets of a flow (MeshExperimentOptions.flowPackets). */
export const FLOW_GAP_MS = 1000
const LOOP_CHECK_INTERVAL_MS = 10_000
const RECONVERGE_CAP_MS = 300_000

/**
 * CPU time and heap so far, for the progress lines (wall-clock facts, not part of the
 * seeded result): a big run that will not finish within its bound says from these how far
 * it got and at what cost per event.
 */
function runFacts (): string {
  const cpu = process.cpuUsage()
  return `; cpu ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s, heap ${(heapBytes() / 2 ** 30).toFixed(2)} GiB`
}

/** The V8 heap in use plus array buffers (what the memory figures count; see MeshResult.memory). */
function heapBytes (): number {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

export async function runMeshExperiment (topology: Topology, options: MeshExperimentOptions, progress: Progress = () => {}): Promise<MeshResult> {
  const started = performance.now()
  const run = new MeshRun(topology, options, progress)
  const result = await run.execute()
  result.run.wallSeconds = Math.round((performance.now() - started) / 100) / 10
  return result
}

function fullGc (): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc
  if (g !== undefined) return g
  try {
    setFlagsFromString('--expose-gc')
    return runInNewContext('gc') as () => void
  } catch {
    return undefined
  }
}

class MeshRun {
  private readonly t: Topology
  private readonly o: MeshExperimentOptions
  private readonly progress: Progress
  private readonly sim: Simulator<Frame>
  private readonly n: number
  private readonly random: Random
  private readonly trafficRandom: Random
  private readonly routers: Array<Router | null>
  private readonly forwarders: Array<Forwarder | null>
  private readonly locations: Array<LocationService | null>
  /** Per node, the route lookup its forwarder uses (the router's, resolving at homes in service mode). */
  private readonly lookups: Array<((dst: NodeId, via: readonly NodeId[]) => { link: LinkId, via: readonly NodeId[] } | undefined) | null>
  /** Per node: its routes changed since its location service last looked (it looks at most once a second). */
  private readonly locationDirty: Uint8Array
  /** Own seqnos of nodes that went down, kept for their restart (as the daemon's store keeps it). */
  private readonly savedSeqno = new Map<number, number>()
  private readonly locationAt: Float64Array
  private readonly locationTotals: LocationCounters = { registrationsSent: 0, accepted: 0, refused: 0, misses: 0, rewrites: 0, evicted: 0, bindingsSent: 0, cached: 0, cacheHits: 0 }
  private locationBytes = 0
  private registrations = 0
  private bindings = 0
  /** LOCATION bytes of binding updates (of locationBytes). */
  private bindingBytes = 0
  private readonly ids: NodeId[]
  private readonly keys: Uint8Array[]
  private readonly idIndex = new Map<NodeId, number>()
  private readonly alive: Uint8Array
  /** Per directed edge: effectively up, its epoch, cut by link-down / partition, loss. */
  private readonly up: Uint8Array
  private readonly epoch: Uint32Array
  private readonly cut: Uint8Array
  private readonly parted: Uint8Array
  private readonly loss: Float32Array
  private readonly linkNames: Array<string | undefined>
  private readonly tickAt: Float64Array
  private readonly routesChanged: Uint8Array
  private readonly controlBytes: Float64Array
  private readonly visited: Int32Array
  /** How many landmarks the walk carried at the node's last visit (see walk). */
  private readonly visitedVia: Int8Array
  private stamp = 0
  private topologyVersion = 0
  private comp: Components | null = null
  private compVersion = -1
  private readonly emptyPayload: Uint8Array
  /**
   * Control packets' bytes, cut from 1 MiB slabs: a packet lives only until it arrives, and
   * an ArrayBuffer of its own each cost more than encoding it. A slab is freed once no
   * packet cut from it is in flight.
   */
  private slab = new ArrayBuffer(0)
  private slabUsed = 0
  private readonly allocate = (size: number): Uint8Array => {
    if (this.slabUsed + size > this.slab.byteLength) {
      this.slab = new ArrayBuffer(Math.max(1 << 20, size))
      this.slabUsed = 0
    }
    const bytes = new Uint8Array(this.slab, this.slabUsed, size)
    this.slabUsed += size
    return bytes
  }

  // Counters.
  private controlPackets = 0
  private controlBytesTotal = 0
  private dataBytesTotal = 0
  private lostOnLinks = 0
  private failed = 0
  private ttlExpired = 0
  private duplicates = 0
  private tlvCounts: Record<string, number> = {}
  private readonly drops: Record<string, number> = {}
  private walks = 0
  private revisits = 0
  private loops = 0
  private readonly loopExamples: Array<{ atMs: number, src: string, dst: string, path: string[] }> = []
  private readonly secControl: number[] = []
  private readonly secData: number[] = []
  private readonly secSent: number[] = []
  private readonly secDelivered: number[] = []

  // Packets: per packet id (its index), typed columns.
  private packets = 0
  private pSentAt = new Float64Array(1024)
  private pShortest = new Int32Array(1024)
  private pDelivered = new Uint8Array(1024)
  /** The packet's place in its flow (0: first), capped at 255. */
  private pIndex = new Uint8Array(1024)
  private readonly pathHops: number[] = []
  private readonly stretch: number[] = []
  private readonly stretchFirst: number[] = []
  private readonly stretchLater: number[] = []
  /** Per place in a flow: stretch sum and count. */
  private readonly stretchByIndex: Array<{ sum: number, count: number }> = []
  private readonly shortest: number[] = []
  private readonly latency: number[] = []
  private deliveredReachable = 0
  private deliveredUnreachable = 0
  private reachableSent = 0

  // Reconvergence.
  private readonly pending: Array<{ at: number, kind: MeshEventKind, pairs: number[] }> = []
  private probeScheduled = false
  private readonly reconverge: Array<{ kind: MeshEventKind, ms: number }> = []

  constructor (t: Topology, o: MeshExperimentOptions, progress: Progress) {
    this.t = t
    this.o = o
    this.progress = progress
    this.n = t.nodes
    this.random = new Random(o.seed)
    this.trafficRandom = this.random.fork()
    this.sim = new Simulator<Frame>(t.nodes, topologyLatency(t))
    this.routers = new Array<Router | null>(t.nodes).fill(null)
    this.forwarders = new Array<Forwarder | null>(t.nodes).fill(null)
    this.locations = new Array<LocationService | null>(t.nodes).fill(null)
    this.lookups = new Array<MeshRun['lookups'][number]>(t.nodes).fill(null)
    this.locationDirty = new Uint8Array(t.nodes)
    this.locationAt = new Float64Array(t.nodes).fill(-Infinity)
    this.ids = []
    this.keys = []
    // Each virtual node gets a key drawn from the seeded RNG and the real id derivation.
    const key = new Uint32Array(8)
    for (let i = 0; i < t.nodes; i++) {
      const k = new Uint8Array(this.random.fill(key).buffer.slice(0))
      this.keys.push(k)
      let id = nodeIdOf(k)
      // An 8-byte collision between seeded keys is astronomically unlikely; rehash to be safe.
      while (this.idIndex.has(id)) id = createHash('sha256').update(id).digest('hex').slice(0, 16)
      this.ids.push(id)
      this.idIndex.set(id, i)
    }
    const edges = t.targets.length
    this.alive = new Uint8Array(t.nodes).fill(1)
    this.up = new Uint8Array(edges)
    this.epoch = new Uint32Array(edges)
    this.cut = new Uint8Array(edges)
    this.parted = new Uint8Array(edges)
    this.loss = new Float32Array(edges)
    this.linkNames = new Array<string | undefined>(edges)
    this.tickAt = new Float64Array(t.nodes).fill(Infinity)
    this.routesChanged = new Uint8Array(t.nodes)
    this.controlBytes = new Float64Array(t.nodes)
    this.visited = new Int32Array(t.nodes)
    this.visitedVia = new Int8Array(t.nodes)
    this.emptyPayload = new Uint8Array(o.payloadBytes + SEAL_OVERHEAD)
    this.sim.onDeliver((to, _from, frame) => { this.onFrame(to, frame) })
  }

  private linkName (e: number): string {
    let s = this.linkNames[e]
    if (s === undefined) {
      s = String(e)
      this.linkNames[e] = s
    }
    return s
  }

  private source (e: number): number {
    return this.t.targets[this.t.reverse[e] ?? 0] ?? 0
  }

  private startNode (i: number, now: number): void {
    // A node that comes back goes on from its last seqno, as the daemon does (router-state.ts).
    const seqno = this.savedSeqno.get(i)
    const router = new Router({ self: this.ids[i] as NodeId, random: () => this.random.float(), ...(seqno === undefined ? {} : { seqno }), ...(this.o.narrowFrom > 0 ? { scopes: { narrowFrom: this.o.narrowFrom } } : {}) }, now)
    const links = (): LinkId[] => {
      const out: LinkId[] = []
      for (let e = this.t.offsets[i] ?? 0; e < (this.t.offsets[i + 1] ?? 0); e++) if (this.up[e] === 1) out.push(this.linkName(e))
      return out
    }
    let route = (dst: NodeId, via: readonly NodeId[]): { link: LinkId, via: readonly NodeId[] } | undefined => router.route(dst, via)
    let locate: ((dst: NodeId) => readonly NodeId[]) | undefined
    this.locations[i] = null
    if (this.o.location === 'service') {
      // Records are not signed here (as envelopes are not sealed): a zero signature of the
      // real size, accepted as is. The signature check itself is tested in location.test.ts.
      const location = new LocationService({ ...DEFAULT_LOCATION_CONFIG, self: this.ids[i] as NodeId, sign: () => new Uint8Array(LOCATION_SIGNATURE_BYTES), verify: () => true })
      route = routeWithLocation(route, location, () => this.sim.now)
      locate = (dst) => router.route(dst, []) !== undefined ? [] : location.locate(dst, router.wideLandmarks(), this.sim.now)
      this.locations[i] = location
      this.locationDirty[i] = 1
    }
    const forwarder = new Forwarder({ ...DEFAULT_FORWARDER_CONFIG, self: this.ids[i] as NodeId }, { route, links, ...(locate === undefined ? {} : { locate }) }, now)
    this.routers[i] = router
    this.forwarders[i] = forwarder
    this.lookups[i] = route
    this.tickAt[i] = Infinity
  }

  // ---- moving outputs ------------------------------------------------------------------

  private routerOut (i: number, outs: RouterOutput[]): void {
    for (const out of outs) {
      if (out.kind === 'send') this.sendControl(i, out.link, out.packet)
      else this.routesChanged[i] = 1
    }
  }

  private forwarderOut (i: number, outs: ForwarderOutput[]): void {
    for (const out of outs) {
      switch (out.kind) {
        case 'send': this.sendData(i, out.link, out.envelope); break
        case 'deliver':
          if ((out.envelope.flags & LOCATION) !== 0) this.registered(i, out.envelope)
          else { this.delivered(i, out.envelope); this.bindingUpdate(i, out.envelope) }
          break
        case 'failed': if (!out.id.startsWith('f') && !out.id.startsWith('e')) this.failed++; break
        case 'drop':
          if ((out.envelope.flags & LOCATION) !== 0) {
            this.drops[`location: ${out.reason}`] = (this.drops[`location: ${out.reason}`] ?? 0) + 1
            break
          }
          this.drops[out.reason] = (this.drops[out.reason] ?? 0) + 1
          if (/ttl/i.test(out.reason)) this.ttlExpired++
          break
        case 'duplicate': this.duplicates++; break
        case 'acked': break
      }
    }
  }

  /** A LOCATION envelope reached its home: the registration is kept, and envelopes held for its node go on. */
  private registered (i: number, e: MeshEnvelope): void {
    const location = this.locations[i]
    const forwarder = this.forwarders[i]
    if (location == null || forwarder == null) return
    if (location.receive(e.src, e.payload, this.sim.now, (e.flags & BINDING) !== 0).accepted) this.forwarderOut(i, forwarder.retry(this.sim.now))
  }

  /** Data from `src` reached node i: if src likely came by i's homes, i sends it a binding update (location.ts, comesFar), as the daemon does. */
  private bindingUpdate (i: number, e: MeshEnvelope): void {
    const location = this.locations[i]
    const router = this.routers[i]
    const src = nodeIdOf(e.src)
    if (location == null || router == null || !comesFar(router.route(src, []) !== undefined, this.o.ttl - e.ttl + 1, router.landmark().scope)) return
    const o = location.bind(src, this.sim.now)
    if (o !== undefined) this.sendLocation(i, o, this.sim.now)
  }

  /** Registrations the location service asks for, sent as LOCATION envelopes. */
  private locationUpdate (i: number, now: number): void {
    const location = this.locations[i]
    const router = this.routers[i]
    const forwarder = this.forwarders[i]
    if (location == null || router == null || forwarder == null) return
    this.locationDirty[i] = 0
    this.locationAt[i] = now
    for (const o of location.update(router.address(), router.wideLandmarks(), now)) this.sendLocation(i, o, now)
  }

  /** A registration or a binding update as a LOCATION envelope (ids 'f…' and 'e…': not counted as packets). */
  private sendLocation (i: number, o: LocationOutput, now: number): void {
    const forwarder = this.forwarders[i]
    if (forwarder == null) return
    const id = o.kind === 'register' ? 'f' + (this.registrations++).toString(16).padStart(15, '0') : 'e' + (this.bindings++).toString(16).padStart(15, '0')
    const envelope: MeshEnvelope = { src: this.keys[i] as Uint8Array, dst: o.kind === 'register' ? o.home : o.peer, ttl: this.o.ttl, id, flags: o.kind === 'register' ? LOCATION : LOCATION | BINDING, copies: 0, via: [], payload: o.record }
    this.forwarderOut(i, forwarder.send(envelope, now, false))
  }

  /** When the node's location service next wants to run: its own deadline, or a second after the last look if routes changed since. */
  private locationDue (i: number): number {
    const location = this.locations[i]
    if (location == null) return Infinity
    const dirty = this.locationDirty[i] === 1 ? (this.locationAt[i] ?? -Infinity) + 1000 : Infinity
    return Math.min(location.nextDeadline(), dirty)
  }

  /** After a node took input: custody moves on if its routes changed; its next tick is scheduled. */
  private settle (i: number): void {
    const now = this.sim.now
    const router = this.routers[i]
    const forwarder = this.forwarders[i]
    if (router == null || forwarder == null) return
    if (this.routesChanged[i] === 1) {
      this.routesChanged[i] = 0
      if (this.locations[i] != null) this.locationDirty[i] = 1
      this.forwarderOut(i, forwarder.retry(now))
    }
    if (this.locationDue(i) <= now) this.locationUpdate(i, now)
    const due = Math.min(router.nextDeadline(), forwarder.nextDeadline(), this.locationDue(i))
    if (due < (this.tickAt[i] ?? Infinity)) {
      this.tickAt[i] = due
      this.sim.at(due, () => { this.onTick(i, due) })
    }
  }

  private onTick (i: number, due: number): void {
    if (this.tickAt[i] !== due) return // superseded by an earlier deadline, or the node restarted
    this.tickAt[i] = Infinity
    const router = this.routers[i]
    const forwarder = this.forwarders[i]
    if (router == null || forwarder == null) return
    const now = this.sim.now
    if (router.nextDeadline() <= now) this.routerOut(i, router.tick(now))
    if (forwarder.nextDeadline() <= now) this.forwarderOut(i, forwarder.tick(now))
    if (this.locationDue(i) <= now) this.locationUpdate(i, now)
    this.settle(i)
  }

  private sendControl (i: number, link: LinkId, packet: ControlPacket): void {
    const e = Number(link)
    // The router makes a packet per link (its packet counter is per link), so each is
    // encoded once, here: the bytes that cross the link and are decoded at the other end.
    const bytes = encodeControl(packet, this.allocate)
    const size = bytes.byteLength + 1 // + the frame type byte (frame.ts)
    this.controlPackets++
    for (const tlv of packet.tlvs) this.tlvCounts[tlv.type] = (this.tlvCounts[tlv.type] ?? 0) + 1
    this.controlBytesTotal += size
    this.controlBytes[i] = (this.controlBytes[i] ?? 0) + size
    this.addSecond(this.secControl, size)
    this.transmit(i, e, { edge: e, epoch: this.epoch[e] ?? 0, bytes, envelope: null }, size)
  }

  private sendData (i: number, link: LinkId, envelope: MeshEnvelope): void {
    const e = Number(link)
    const size = envelopeSize(envelope) + 1
    if ((envelope.flags & LOCATION) !== 0) {
      // Registrations are the location service's control traffic.
      this.locationBytes += size
      if ((envelope.flags & BINDING) !== 0) this.bindingBytes += size
      this.controlBytesTotal += size
      this.controlBytes[i] = (this.controlBytes[i] ?? 0) + size
      this.tlvCounts.location = (this.tlvCounts.location ?? 0) + 1
      this.addSecond(this.secControl, size)
    } else {
      this.dataBytesTotal += size
      this.addSecond(this.secData, size)
    }
    const router = this.routers[i]
    if (router != null && this.up[e] === 1) this.routerOut(i, router.noteTraffic(link, this.sim.now))
    // A copy per hop, as a real receiver decodes its own (the sender's object stays the sender's).
    this.transmit(i, e, { edge: e, epoch: this.epoch[e] ?? 0, bytes: null, envelope: { ...envelope, via: [...envelope.via] } }, size)
  }

  private transmit (i: number, e: number, frame: Frame, size: number): void {
    if (this.up[e] !== 1 || this.source(e) !== i) {
      this.lostOnLinks++
      return
    }
    const loss = this.loss[e] ?? 0
    if (loss > 0 && this.random.float() < loss) {
      this.lostOnLinks++
      return
    }
    this.sim.send(i, this.t.targets[e] ?? 0, frame, size)
  }

  private onFrame (to: number, frame: Frame): void {
    const e = frame.edge
    if (this.up[e] !== 1 || this.epoch[e] !== frame.epoch) {
      this.lostOnLinks++
      return
    }
    const router = this.routers[to]
    const forwarder = this.forwarders[to]
    if (router == null || forwarder == null) return
    const link = this.linkName(this.t.reverse[e] ?? 0)
    const now = this.sim.now
    if (frame.bytes !== null) {
      this.routerOut(to, router.receive(link, decodeControl(frame.bytes), now))
    } else if (frame.envelope !== null) {
      this.routerOut(to, router.noteTraffic(link, now))
      this.forwarderOut(to, forwarder.receive(link, frame.envelope, now))
    }
    this.settle(to)
  }

  private addSecond (series: number[], value: number): void {
    const s = Math.floor(this.sim.now / 1000)
    while (series.length <= s) series.push(0)
    series[s] = (series[s] ?? 0) + value
  }

  // ---- links and nodes -----------------------------------------------------------------

  /** Brings directed edge e and its reverse to the state the flags say, telling both routers. */
  private refresh (e: number): void {
    const r = this.t.reverse[e] ?? 0
    const a = this.source(e)
    const b = this.t.targets[e] ?? 0
    const c = Math.min(e, r)
    const want = this.alive[a] === 1 && this.alive[b] === 1 && this.cut[c] === 0 && this.parted[c] === 0 ? 1 : 0
    if (this.up[e] === want) return
    this.up[e] = want
    this.up[r] = want
    this.topologyVersion++
    const now = this.sim.now
    if (want === 0) {
      this.epoch[e] = (this.epoch[e] ?? 0) + 1
      this.epoch[r] = (this.epoch[r] ?? 0) + 1
      if (this.o.silentFailures) return
      for (const [node, edge] of [[a, e], [b, r]] as const) {
        const router = this.routers[node]
        if (router == null || this.alive[node] === 0) continue
        this.routerOut(node, router.linkDown(this.linkName(edge), now))
        this.settle(node)
      }
    } else {
      for (const [node, edge] of [[a, e], [b, r]] as const) {
        const router = this.routers[node]
        const forwarder = this.forwarders[node]
        if (router == null || forwarder == null) continue
        const link = this.linkName(edge)
        this.routerOut(node, router.linkUp(link, now))
        this.forwarderOut(node, forwarder.retry(now, [link]))
        this.settle(node)
      }
    }
  }

  private apply (ev: MeshEvent): void {
    const t = this.t
    switch (ev.kind) {
      case 'link-down':
      case 'link-up': {
        const e = this.edge(ev.a, ev.b)
        if (e < 0) return
        const c = Math.min(e, t.reverse[e] ?? 0)
        this.cut[c] = ev.kind === 'link-down' ? 1 : 0
        this.refresh(e)
        break
      }
      case 'loss': {
        const e = this.edge(ev.a, ev.b)
        if (e < 0) return
        this.loss[e] = ev.loss
        this.loss[t.reverse[e] ?? 0] = ev.loss
        break
      }
      case 'node-down': {
        if (this.alive[ev.node] === 0) return
        this.alive[ev.node] = 0
        for (let e = t.offsets[ev.node] ?? 0; e < (t.offsets[ev.node + 1] ?? 0); e++) this.refresh(e)
        this.addLocationCounters(ev.node)
        const was = this.routers[ev.node]
        if (was != null) this.savedSeqno.set(ev.node, was.ownSeqno())
        this.routers[ev.node] = null
        this.forwarders[ev.node] = null
        this.locations[ev.node] = null
        this.lookups[ev.node] = null
        this.tickAt[ev.node] = Infinity
        break
      }
      case 'node-up': {
        if (this.alive[ev.node] === 1) return
        this.alive[ev.node] = 1
        this.startNode(ev.node, this.sim.now)
        for (let e = t.offsets[ev.node] ?? 0; e < (t.offsets[ev.node + 1] ?? 0); e++) this.refresh(e)
        this.settle(ev.node)
        break
      }
      case 'partition': {
        const inside = new Uint8Array(this.n)
        for (const v of ev.nodes) inside[v] = 1
        for (const v of ev.nodes) {
          for (let e = t.offsets[v] ?? 0; e < (t.offsets[v + 1] ?? 0); e++) {
            if (inside[t.targets[e] ?? 0] === 1) continue
            this.parted[Math.min(e, t.reverse[e] ?? 0)] = 1
            this.refresh(e)
          }
        }
        break
      }
      case 'heal':
        for (let e = 0; e < t.targets.length; e++) {
          if (this.parted[e] === 0) continue
          this.parted[e] = 0
          this.refresh(e)
        }
        break
    }
  }

  private edge (a: number, b: number): number {
    for (let e = this.t.offsets[a] ?? 0; e < (this.t.offsets[a + 1] ?? 0); e++) if (this.t.targets[e] === b) return e
    return -1
  }

  // ---- probes: following next hops ----------------------------------------------------

  private components (): Components {
    if (this.comp === null || this.compVersion !== this.topologyVersion) {
      this.comp = components(this.t, (e) => this.up[e] === 1, this.alive)
      this.compVersion = this.topologyVersion
    }
    return this.comp
  }

  /**
   * Follows the routers' next hops from s towards d, as an envelope would go: each hop
   * passes on the landmarks its router left it (Router.route).
   */
  private walk (s: number, d: number): number {
    this.walks++
    let via = this.firstVia(s, d)
    const dst = this.ids[d] as NodeId
    const stamp = ++this.stamp
    // Legs: a home rewrites via to the destination's address (location.ts); the walk
    // after it is a new leg, which may cross nodes of the leg before (the detour back
    // from the home), each leg loop-free on its own.
    let leg = 0
    let cur = s
    while (cur !== d) {
      // A loop is a node met again with the same landmarks: from there on the envelope
      // would go round for ever. Met with fewer (it moved on from a landmark meanwhile)
      // it is a detour, and a bounded one: the landmarks only ever shrink.
      const mark = leg * (MAX_VIA + 1) + via.length
      if (this.visited[cur] === stamp) {
        if (this.visitedVia[cur] === mark) return WALK_LOOP
        this.revisits++
      }
      this.visited[cur] = stamp
      this.visitedVia[cur] = mark
      const lookup = this.lookups[cur]
      if (lookup == null) return WALK_BLACKHOLE
      const hop = lookup(dst, via)
      if (hop === undefined) return WALK_NO_ROUTE
      if (!narrows(via, hop.via)) leg = Math.min(leg + 1, 12)
      via = hop.via
      const e = Number(hop.link)
      if (!(e >= 0 && e < this.t.targets.length) || this.source(e) !== cur || this.up[e] !== 1) return WALK_BLACKHOLE
      cur = this.t.targets[e] ?? 0
    }
    return WALK_REACHED
  }

  /**
   * The walk of a loop, for the report: each node, and whether it forwarded on a route to
   * the destination itself ('direct') or towards one of its landmarks ('via <landmark>').
   */
  private loopPath (s: number, d: number): string[] {
    let via = this.firstVia(s, d)
    const dst = this.ids[d] as NodeId
    const out: string[] = []
    const seen = new Set<string>()
    let cur = s
    while (!seen.has(`${cur}/${via.length}`) && out.length < 200) {
      seen.add(`${cur}/${via.length}`)
      const lookup = this.lookups[cur]
      if (lookup == null) break
      const hop = lookup(dst, via)
      if (hop === undefined) break
      // The route taken: to dst itself (via emptied), or to the landmark now last in via.
      const landmark = hop.via[hop.via.length - 1]
      via = hop.via
      out.push(`${nodeName(this.t, cur)} (${landmark === undefined ? 'direct' : `via ${nodeName(this.t, this.idIndex.get(landmark) ?? -1)}`})`)
      cur = this.t.targets[Number(hop.link)] ?? 0
    }
    out.push(nodeName(this.t, cur))
    return out
  }

  /**
   * The landmarks an envelope from s to d starts with: none (the forwarder asks the
   * location service when it has no route, as the walk does here) or, with the oracle,
   * d's address.
   */
  private firstVia (s: number, d: number): readonly NodeId[] {
    if (this.o.location === 'oracle') return this.routers[d]?.address() ?? []
    const router = this.routers[s]
    const location = this.locations[s]
    const dst = this.ids[d] as NodeId
    if (router == null || location == null || router.route(dst, []) !== undefined) return []
    return location.locate(dst, router.wideLandmarks(), this.sim.now)
  }

  private addLocationCounters (i: number): void {
    const l = this.locations[i]
    if (l == null) return
    for (const k of Object.keys(this.locationTotals) as Array<keyof LocationCounters>) this.locationTotals[k] += l.counters[k]
  }

  /** Whether the pair is routed as it should be now (reached if connected, no loop either way); counts loops. */
  private pairOk (s: number, d: number, comp: Components): boolean {
    if (this.alive[s] === 0 || this.alive[d] === 0 || s === d) return true
    const w = this.walk(s, d)
    if (w === WALK_LOOP) {
      this.loops++
      if (this.loopExamples.length < 10) this.loopExamples.push({ atMs: Math.round(this.sim.now), src: nodeName(this.t, s), dst: nodeName(this.t, d), path: this.loopPath(s, d) })
      return false
    }
    const connected = comp.of[s] === comp.of[d] && comp.of[s] !== -1
    return connected ? w === WALK_REACHED : true
  }

  private randomPairs (count: number, random: Random): number[] {
    const out: number[] = []
    if (this.n * (this.n - 1) <= count) {
      for (let s = 0; s < this.n; s++) for (let d = 0; d < this.n; d++) if (s !== d) out.push(s, d)
      return out
    }
    for (let k = 0; k < count; k++) {
      const s = random.int(this.n)
      let d = random.int(this.n - 1)
      if (d >= s) d++
      out.push(s, d)
    }
    return out
  }

  /** Probe pairs around an event: its nodes to and from a few random nodes, and random pairs. */
  private eventPairs (ev: MeshEvent): number[] {
    const involved: number[] = []
    switch (ev.kind) {
      case 'link-down': case 'link-up': case 'loss': involved.push(ev.a, ev.b); break
      case 'node-down': case 'node-up':
        for (let e = this.t.offsets[ev.node] ?? 0; e < (this.t.offsets[ev.node + 1] ?? 0) && involved.length < 4; e++) involved.push(this.t.targets[e] ?? 0)
        if (ev.kind === 'node-up') involved.push(ev.node)
        break
      case 'partition': for (let k = 0; k < Math.min(4, ev.nodes.length); k++) involved.push(ev.nodes[this.random.int(ev.nodes.length)] ?? 0); break
      case 'heal': break
    }
    const pairs: number[] = []
    if (involved.length === 2) pairs.push(involved[0] ?? 0, involved[1] ?? 0, involved[1] ?? 0, involved[0] ?? 0)
    const others = Math.min(this.n, 8)
    for (let k = 0; k < others; k++) {
      const r = this.random.int(this.n)
      for (const v of involved) if (v !== r) pairs.push(v, r, r, v)
    }
    pairs.push(...this.randomPairs(Math.min(16, this.o.probePairs), this.random))
    return pairs
  }

  private scheduleProbe (at: number): void {
    if (this.probeScheduled) return
    this.probeScheduled = true
    this.sim.at(at, () => { this.probe() })
  }

  private probe (): void {
    this.probeScheduled = false
    const comp = this.components()
    const now = this.sim.now
    for (let k = 0; k < this.pending.length;) {
      const p = this.pending[k] as { at: number, kind: MeshEventKind, pairs: number[] }
      let ok = true
      for (let j = 0; j + 1 < p.pairs.length; j += 2) {
        if (!this.pairOk(p.pairs[j] ?? 0, p.pairs[j + 1] ?? 0, comp)) { ok = false; break }
      }
      if (ok || now - p.at >= RECONVERGE_CAP_MS) {
        this.reconverge.push({ kind: p.kind, ms: ok ? now - p.at : NaN })
        this.pending.splice(k, 1)
      } else {
        k++
      }
    }
    if (this.pending.length > 0) this.scheduleProbe(now + PROBE_INTERVAL_MS)
  }

  // ---- traffic -------------------------------------------------------------------------

  /** Hops on a shortest path over the links up now; -1 when d is unreachable (BFS, early exit). */
  private shortestHops (s: number, d: number): number {
    if (s === d) return 0
    const stamp = ++this.stamp
    const t = this.t
    let frontier = [s]
    this.visited[s] = stamp
    for (let hops = 1; frontier.length > 0; hops++) {
      const next: number[] = []
      for (const a of frontier) {
        for (let e = t.offsets[a] ?? 0; e < (t.offsets[a + 1] ?? 0); e++) {
          if (this.up[e] !== 1) continue
          const b = t.targets[e] ?? 0
          if (b === d) return hops
          if (this.visited[b] === stamp) continue
          this.visited[b] = stamp
          next.push(b)
        }
      }
      frontier = next
    }
    return -1
  }

  /** A traffic event: a random pair, its first packet now and the rest of its flow FLOW_GAP_MS apart (until `until`). */
  private sendFlow (until: number): void {
    const r = this.trafficRandom
    let s = r.int(this.n)
    let d = r.int(this.n)
    for (let tries = 0; tries < 20 && (s === d || this.alive[s] === 0 || this.alive[d] === 0); tries++) {
      s = r.int(this.n)
      d = r.int(this.n)
    }
    if (s === d || this.alive[s] === 0 || this.alive[d] === 0) return
    this.sendPacket(s, d, 0)
    for (let j = 1; j < this.o.flowPackets; j++) {
      const at = this.sim.now + j * FLOW_GAP_MS
      if (at >= until) break
      // A node that left meanwhile sends nothing more, and nothing is sent to it.
      this.sim.at(at, () => { if (this.alive[s] === 1 && this.alive[d] === 1) this.sendPacket(s, d, j) })
    }
  }

  private sendPacket (s: number, d: number, index: number): void {
    const k = this.packets++
    if (k === this.pSentAt.length) {
      const grow = <T extends Float64Array | Int32Array | Uint8Array>(x: T): T => {
        const y = new (x.constructor as new (n: number) => T)(x.length * 2)
        y.set(x)
        return y
      }
      this.pSentAt = grow(this.pSentAt)
      this.pShortest = grow(this.pShortest)
      this.pDelivered = grow(this.pDelivered)
      this.pIndex = grow(this.pIndex)
    }
    this.pIndex[k] = Math.min(255, index)
    const now = this.sim.now
    this.pSentAt[k] = now
    const hops = this.shortestHops(s, d)
    this.pShortest[k] = hops
    if (hops >= 0) this.reachableSent++
    this.addSecond(this.secSent, hops >= 0 ? 1 : 0)
    const envelope: MeshEnvelope = {
      src: this.keys[s] as Uint8Array,
      dst: this.ids[d] as NodeId,
      ttl: this.o.ttl,
      id: k.toString(16).padStart(16, '0'),
      flags: 0,
      copies: 0,
      // With the location service the forwarder fills it in (RouteLookup.locate).
      via: this.o.location === 'oracle' ? (this.routers[d] as Router).address() : [],
      payload: this.emptyPayload
    }
    this.forwarderOut(s, (this.forwarders[s] as Forwarder).send(envelope, now, false))
    this.settle(s)
  }

  private delivered (_at: number, e: MeshEnvelope): void {
    const k = parseInt(e.id, 16)
    if (!(k >= 0 && k < this.packets) || this.pDelivered[k] === 1) return
    this.pDelivered[k] = 1
    const shortest = this.pShortest[k] ?? -1
    if (shortest < 0) {
      this.deliveredUnreachable++
      return
    }
    this.deliveredReachable++
    const sentAt = this.pSentAt[k] ?? 0
    const second = Math.floor(sentAt / 1000)
    while (this.secDelivered.length <= second) this.secDelivered.push(0)
    this.secDelivered[second] = (this.secDelivered[second] ?? 0) + 1
    // Relays take one off the ttl each (forwarder.ts); the source and destination do not.
    const hops = this.o.ttl - e.ttl + 1
    this.pathHops.push(hops)
    this.shortest.push(shortest)
    if (shortest > 0) {
      this.stretch.push(hops / shortest)
      const index = this.pIndex[k] ?? 0
      if (index === 0) this.stretchFirst.push(hops / shortest)
      else this.stretchLater.push(hops / shortest)
      while (this.stretchByIndex.length <= index) this.stretchByIndex.push({ sum: 0, count: 0 })
      const at = this.stretchByIndex[index] as { sum: number, count: number }
      at.sum += hops / shortest
      at.count++
    }
    this.latency.push(this.sim.now - sentAt)
  }

  // ---- the run -------------------------------------------------------------------------

  async execute (): Promise<MeshResult> {
    const t = this.t
    const o = this.o
    const sim = this.sim
    const gc = fullGc()
    gc?.()
    const heapBefore = heapBytes()
    for (let i = 0; i < this.n; i++) this.startNode(i, 0)
    // Links come up at random moments of the first second.
    for (let e = 0; e < t.targets.length; e++) {
      const r = t.reverse[e] ?? 0
      if (r < e) continue
      sim.at(this.random.between(0, 1000), () => { this.refresh(e) })
    }
    this.progress(`${this.n} nodes, ${linkCount(t)} links: converging`)
    // Initial convergence: every probe pair routable.
    const probes = this.randomPairs(o.probePairs, this.random)
    let converged = false
    let checkAt = 1000
    while (checkAt <= o.warmupMaxMs) {
      sim.run(checkAt)
      const comp = this.components()
      let ok = true
      for (let j = 0; j + 1 < probes.length; j += 2) {
        if (!this.pairOk(probes[j] ?? 0, probes[j + 1] ?? 0, comp)) { ok = false; break }
      }
      if (ok) { converged = true; break }
      this.progress(`  t = ${checkAt / 1000} s, ${sim.processed} events, ${this.controlPackets} control packets, not yet converged${runFacts()}`)
      await new Promise((resolve) => setImmediate(resolve))
      checkAt += 1000
    }
    const initialMs = converged ? checkAt : NaN
    const warmupEnd = sim.now
    this.progress(converged ? `converged at ${checkAt / 1000} s (${sim.processed} events${runFacts()})` : `not converged after ${o.warmupMaxMs / 1000} s; measuring anyway${runFacts()}`)
    gc?.()
    const heapAfter = heapBytes()
    const warmupControl = this.controlBytesTotal
    const warmupLocation = this.locationBytes
    const warmupBinding = this.bindingBytes
    const controlAtStart = Float64Array.from(this.controlBytes)
    const controlPacketsAtStart = this.controlPackets
    const dataAtStart = this.dataBytesTotal
    const warmupTlvs = this.tlvCounts
    this.tlvCounts = {}

    // The measured period.
    const start = sim.now
    const end = start + o.durationMs
    const events = sortEvents([
      ...o.events.map((e) => ({ ...e, at: e.at + start })),
      ...flapEvents(t, this.random.fork(), { ratePerMinute: o.flapPerMinute, from: start, until: end, downMinMs: 5000, downMaxMs: 60_000 }),
      ...churnEvents(this.n, this.random.fork(), { ratePerMinute: o.churnPerMinute, from: start, until: end, downMinMs: 30_000, downMaxMs: 120_000 })
    ]).filter((e) => e.at < end)
    const byKind: Partial<Record<MeshEventKind, number>> = {}
    for (const ev of events) {
      byKind[ev.kind] = (byKind[ev.kind] ?? 0) + 1
      sim.at(ev.at, () => {
        this.apply(ev)
        this.pending.push({ at: sim.now, kind: ev.kind, pairs: this.eventPairs(ev) })
        this.scheduleProbe(sim.now)
      })
    }
    // Traffic stops a little before the end so the last packets can arrive.
    const trafficEnd = end - Math.min(10_000, o.durationMs / 4)
    if (o.trafficPerSecond > 0) {
      const gap = (): number => -Math.log(1 - this.trafficRandom.float()) * 1000 / o.trafficPerSecond
      const next = (): void => {
        if (sim.now >= trafficEnd) return
        this.sendFlow(trafficEnd)
        sim.after(gap(), next)
      }
      sim.at(start + gap(), next)
    }
    const loopPairs = Math.min(o.probePairs, 100)
    const loopCheck = (): void => {
      const comp = this.components()
      const pairs = this.randomPairs(loopPairs, this.random)
      for (let j = 0; j + 1 < pairs.length; j += 2) this.pairOk(pairs[j] ?? 0, pairs[j + 1] ?? 0, comp)
      if (sim.now + LOOP_CHECK_INTERVAL_MS < end) sim.after(LOOP_CHECK_INTERVAL_MS, loopCheck)
    }
    sim.at(start + LOOP_CHECK_INTERVAL_MS, loopCheck)
    for (let at = start + 10_000; ; at += 10_000) {
      sim.run(Math.min(at, end))
      this.progress(`  t = ${Math.round((sim.now - start) / 1000)} s of ${o.durationMs / 1000}, ${sim.processed} events, ${this.packets} packets, ${this.deliveredReachable} delivered${runFacts()}`)
      await new Promise((resolve) => setImmediate(resolve))
      if (at >= end) break
    }
    // Events still pending reconvergence at the end count as not converged.
    for (const p of this.pending) this.reconverge.push({ kind: p.kind, ms: NaN })

    // ---- summaries ---------------------------------------------------------------------
    const seconds = o.durationMs / 1000
    const perNode = new Float64Array(this.n)
    for (let i = 0; i < this.n; i++) perNode[i] = ((this.controlBytes[i] ?? 0) - (controlAtStart[i] ?? 0)) / seconds
    const stateTotal: number[] = []
    const stateRouter: number[] = []
    const stateForwarder: number[] = []
    const stateLocation: number[] = []
    const recordsPerHome: number[] = []
    for (let i = 0; i < this.n; i++) {
      const r = this.routers[i]
      const f = this.forwarders[i]
      if (r == null || f == null) continue
      const rs = r.stateSize()
      const fs = f.stateSize()
      const l = this.locations[i]
      const ls = l?.stateSize() ?? 0
      stateRouter.push(rs)
      stateForwarder.push(fs)
      stateLocation.push(ls)
      stateTotal.push(rs + fs + ls)
      if (l != null && l.records() > 0) recordsPerHome.push(l.records())
      this.addLocationCounters(i)
    }
    const recon = (list: Array<{ ms: number }>): Reconvergence => {
      const ok = list.filter((x) => Number.isFinite(x.ms)).map((x) => x.ms)
      return { count: list.length, converged: ok.length, ms: summarize(ok) }
    }
    const reconByKind: Partial<Record<MeshEventKind, Reconvergence>> = {}
    for (const kind of Object.keys(byKind) as MeshEventKind[]) reconByKind[kind] = recon(this.reconverge.filter((x) => x.kind === kind))
    let maxDegree = 0
    for (let i = 0; i < this.n; i++) maxDegree = Math.max(maxDegree, (t.offsets[i + 1] ?? 0) - (t.offsets[i] ?? 0))

    // Time series, in buckets of at least a second, about 120 of them.
    const totalS = Math.ceil(end / 1000)
    const bucket = Math.max(1, Math.ceil(totalS / 120))
    const series: MeshResult['series'] = { second: [], controlBytesPerNodePerSecond: [], dataBytesPerNodePerSecond: [], deliveryRatio: [], measureStartS: Math.round(start / 1000), eventSeconds: [] }
    for (let s = 0; s < totalS; s += bucket) {
      let c = 0
      let dbytes = 0
      let sent = 0
      let got = 0
      for (let k = s; k < Math.min(totalS, s + bucket); k++) {
        c += this.secControl[k] ?? 0
        dbytes += this.secData[k] ?? 0
        sent += this.secSent[k] ?? 0
        got += this.secDelivered[k] ?? 0
      }
      const width = Math.min(totalS, s + bucket) - s
      series.second.push(s)
      series.controlBytesPerNodePerSecond.push(round(c / width / this.n, 3))
      series.dataBytesPerNodePerSecond.push(round(dbytes / width / this.n, 3))
      series.deliveryRatio.push(sent === 0 ? NaN : round(got / sent, 5))
    }
    if (events.length <= 500) series.eventSeconds = events.map((e) => round(e.at / 1000, 3))

    // The flooding baseline, on the same topology.
    const baseline: FloodingResult[] = []
    for (const hopLimit of o.baselineHopLimits) {
      this.progress(`flooding baseline, hop limit ${Number.isFinite(hopLimit) ? hopLimit : 'unlimited'}`)
      baseline.push(runFloodingBaseline(t, {
        hopLimit,
        packets: o.baselinePackets,
        packetsPerSecond: o.trafficPerSecond * o.flowPackets,
        packetBytes: o.payloadBytes + SEAL_OVERHEAD + 16,
        contentionMs: 200,
        seed: o.seed
      }))
    }

    const deliveryRatio = this.reachableSent === 0 ? NaN : this.deliveredReachable / this.reachableSent
    const assumptions = [
      o.silentFailures ? 'link failures are found by the routers only through missed hellos' : 'link failures are signalled to both ends (the Link closes), as libp2p and UDP links do',
      o.location === 'oracle'
        ? "sources know the destination's address (via = its router.address()): an oracle location service"
        : 'sources learn the destination\'s address from the location service (registrations at its homes, and binding updates from the nodes they send to, counted as control bytes)',
      'no per-link pacing, MAC collisions or airtime; envelopes are not sealed, location records not signed (counted at their sealed or signed size)',
      'control bytes = encodeControl(packet) + 1 frame byte, per link a packet is sent on'
    ]
    const { events: _events, baselineHopLimits, ...params } = o
    return {
      parameters: { ...params, baselineHopLimits: baselineHopLimits.map((h) => Number.isFinite(h) ? h : 'unlimited'), eventsFromFile: o.events.length, assumptions },
      topology: { kind: t.kind, nodes: this.n, links: linkCount(t), meanDegree: round(t.targets.length / this.n, 3), maxDegree, joinedComponents: t.joined },
      convergence: { initialMs, converged },
      delivery: {
        sent: this.packets,
        reachable: this.reachableSent,
        delivered: this.deliveredReachable,
        ratio: deliveryRatio,
        deliveredUnreachable: this.deliveredUnreachable,
        drops: Object.fromEntries(Object.entries(this.drops).sort()),
        failed: this.failed,
        duplicates: this.duplicates,
        lostOnLinks: this.lostOnLinks,
        latencyMs: summarize(this.latency)
      },
      stretch: summarize(this.stretch),
      flowStretch: { first: summarize(this.stretchFirst), later: summarize(this.stretchLater), meanByIndex: this.stretchByIndex.map((x) => x.count === 0 ? NaN : round(x.sum / x.count, 4)), gapMs: FLOW_GAP_MS },
      pathHops: summarize(this.pathHops),
      shortestHops: summarize(this.shortest),
      control: {
        bytesPerNodePerSecond: summarize(perNode),
        packetsPerNodePerSecond: (this.controlPackets - controlPacketsAtStart) / seconds / this.n,
        warmupBytesPerNodePerSecond: warmupEnd === 0 ? NaN : warmupControl / (warmupEnd / 1000) / this.n,
        meanPacketBytes: this.controlPackets === 0 ? NaN : this.controlBytesTotal / this.controlPackets,
        tlvsPerNodePerSecond: perSecondPerNode(this.tlvCounts, seconds, this.n),
        warmupTlvsPerNodePerSecond: perSecondPerNode(warmupTlvs, warmupEnd / 1000, this.n)
      },
      data: { bytesPerNodePerSecond: (this.dataBytesTotal - dataAtStart) / seconds / this.n },
      state: { total: summarize(stateTotal), router: summarize(stateRouter), forwarder: summarize(stateForwarder), location: summarize(stateLocation) },
      location: {
        mode: o.location,
        ...this.locationTotals,
        bytesPerNodePerSecond: (this.locationBytes - this.bindingBytes - (warmupLocation - warmupBinding)) / seconds / this.n,
        warmupBytesPerNodePerSecond: warmupEnd === 0 ? NaN : (warmupLocation - warmupBinding) / (warmupEnd / 1000) / this.n,
        bytesPerRegistration: this.registrations === 0 ? NaN : (this.locationBytes - this.bindingBytes) / this.registrations,
        steadyBytesPerNodePerSecond: this.registrations === 0 ? 0 : DEFAULT_LOCATION_CONFIG.homes * ((this.locationBytes - this.bindingBytes) / this.registrations) / (DEFAULT_LOCATION_CONFIG.refreshMs / 1000),
        bindingBytesPerNodePerSecond: (this.bindingBytes - warmupBinding) / seconds / this.n,
        recordsPerHome: summarize(recordsPerHome)
      },
      reconvergence: { ...recon(this.reconverge), byKind: reconByKind },
      loops: { walks: this.walks, loops: this.loops, revisits: this.revisits, examples: this.loopExamples, ttlExpired: this.ttlExpired },
      events: { total: events.length, byKind },
      memory: { heapBytesPerNode: Math.round((heapAfter - heapBefore) / this.n), heapBytes: heapAfter - heapBefore, gc: gc !== undefined },
      series,
      baseline,
      run: { wallSeconds: 0, simEvents: sim.processed, controlPackets: this.controlPackets }
    }
  }
}

function perSecondPerNode (counts: Record<string, number>, seconds: number, nodes: number): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort().map(([k, v]) => [k, round(v / seconds / nodes, 3)]))
}

function round (v: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

/** Whether `next` is `via` narrowed (a prefix of it, or empty), rather than rewritten at a home. */
function narrows (via: readonly NodeId[], next: readonly NodeId[]): boolean {
  if (next.length > via.length) return false
  for (let k = 0; k < next.length; k++) if (next[k] !== via[k]) return false
  return true
}
