// The mesh router: Babel (RFC 8966) over point-to-point links, by NodeId, as a pure state
// machine. Every method takes `now` (ms) and returns what to send; it never reads a clock,
// draws randomness only from `config.random`, and does no I/O, so the daemon's shell and
// the simulator drive the very same code.
//
// What it follows from RFC 8966, section by section:
// - §3.4 neighbour acquisition: hellos with a seqno and an interval, IHUs carrying the
//   receive cost; Appendix A.1 hello history, A.2.2 ETX link cost (see link-quality.ts),
//   plus the RTT term of the Babel RTT extension (RFC 9616).
// - §3.2.5 the source table (feasibility distance per destination), §3.5.1 the
//   feasibility condition, §3.5.3 route acquisition, §3.5.4 hold time and expiry.
// - §3.6 route selection (smallest metric among feasible routes, with hysteresis).
// - §3.7.2 triggered updates, §3.7.3 updating the feasibility distance when an update is
//   sent, §3.7.4 split horizon on point-to-point links.
// - §3.8.1 route requests and seqno requests (forwarding, duplicate suppression, resends),
//   §3.8.2.1 a seqno request when the last feasible route is lost, §3.8.2.2 when an
//   unfeasible route would do better.
//
// Where it departs, on purpose: hellos back off (doubling up to helloMaxMs) while a link
// is idle and unchanged, and go fast while data flows on it, so idle meshes are quiet
// and busy links notice failure in 2–3 s; full periodic updates are rare (minutes) and
// triggered updates carry changes; routes are scoped by hop count with landmarks beyond
// (landmarks.ts), so state stays bounded in big meshes.

import type { LinkId } from './link.ts'
import { isNodeId, type NodeId } from './node-id.ts'
import {
  HELLO_FAST, INFINITY, PACKET_OVERHEAD, UNLIMITED_SCOPE, UPDATE_FULL_END, UPDATE_GATEWAY, tlvSize,
  type ControlPacket, type ControlTlv, type HelloTlv, type IhuTlv, type SeqnoRequestTlv, type UpdateTlv
} from './control-messages.ts'
import { LinkQuality, type LinkCostParams } from './link-quality.ts'
import { DEFAULT_SCOPES, landmarkLevel, ownScope, type ScopeConfig } from './landmarks.ts'
import { NO_ROUTE, REMOVED_ROUTE, RouteTable } from './route-table.ts'

/** An envelope's landmarks once it follows a route to its destination itself (see route()). */
const NO_VIA: readonly NodeId[] = Object.freeze([])

/** While only unfeasible routes to a destination are on offer, its seqno request is repeated this often. */
const UNFEASIBLE_RETRY_MS = 5000

/**
 * Scale awareness: an undecided node whose table has stopped growing for this long (no new
 * destination) decides, rather than wait out widenAfterMs. A mesh starting together keeps
 * bringing new destinations for as long as it is converging (and a node of a big one knows
 * narrowFrom landmarks by then), while a small one's tables are complete within a second:
 * its corners, past the plain scope from each other, waited 10 s for a route.
 */
const SETTLED_MS = 2000

export interface RouterTiming extends LinkCostParams {
  /** Hello interval on a link that changed or carries data. */
  helloMinMs: number
  /** Longest hello interval on an idle, unchanged link (hellos double up to it). */
  helloMaxMs: number
  /**
   * Interval of full periodic updates; routes are held 3.5 times it (§3.5.4). Long (10
   * minutes, about the most a u16 of centiseconds carries): triggered updates carry the
   * changes and a gap in a neighbour's packet counter asks it for a full update, so the
   * periodic one is only a safety net, and in a big mesh it is most of the idle traffic
   * (routes × neighbours × 19 bytes per interval).
   */
  updateIntervalMs: number
  /** How long after the last noteTraffic (or a peer's fast hello) a link stays fast. */
  trafficHoldMs: number
  /** A seqno request is resent after this, up to seqnoRequestResends times (§3.8.1.1). */
  seqnoRequestTimeoutMs: number
  seqnoRequestResends: number
  /** Hop count of a seqno request we originate (§3.8.1.1). */
  seqnoRequestHops: number
  /** How often expired routes and unused sources are swept. */
  sweepIntervalMs: number
  /** Source entries are kept this long after their last route went (§3.2.5: 3 minutes). */
  sourceGcMs: number
  /** Hysteresis of route selection (§3.6): another route must be this much better. */
  hysteresis: number
  /** A metric change smaller than this is not worth a triggered update (§3.7.2). */
  significantChange: number
  /** Most routes (one per neighbour) kept per destination; the worst are dropped. */
  maxRoutesPerDest: number
  /**
   * A gap in a neighbour's packet counter (a lost packet) makes us ask it for a full
   * update, at most this often per link.
   */
  resyncMinMs: number
  /** Control packets are cut at this many bytes. */
  maxPacketBytes: number
  /**
   * Triggered updates go out at most this often (§3.7.2 allows delaying and aggregating
   * them): the state at send time is what goes out, so a burst of changes for one
   * destination (routes improving hop by hop while a mesh starts) is one update, and the
   * changes for many destinations share packets. The first change after a quiet spell
   * waits only urgentDelayMs, so news crosses a quiet mesh at link speed rather than this
   * much per hop (80 hops across 10,000 nodes). Retractions go at once, other urgent
   * updates after urgentDelayMs. 0 sends at once.
   */
  triggeredDelayMs: number
  /**
   * Urgent updates (much worse routes, answers to seqno requests; not retractions) are held
   * this long, as babeld holds its urgent updates (about 20 ms): long enough that the
   * changes one event sets off in a big mesh, arriving packet after packet, go out as
   * one packet per link instead of one per packet received; short next to the hellos
   * that would otherwise find the failure. 0 sends at once.
   */
  urgentDelayMs: number
  /**
   * For this long after it starts, a node widens its own scope at once (it must reach
   * its nearest landmark of the next level, landmarks.ts) but does not narrow it; then it
   * narrows to what it has learnt. A starting mesh learns its landmarks in waves, nearest
   * last; narrowing with each one retracted our routes, and re-advertised them on the next
   * widening, over thousands of nodes at a time (a wider scope is only more state for a
   * while). Only at start-up: held after every change, under 1 %/min of links flapping it
   * cost a third more control traffic (scopes ratcheted wide, then narrowed en masse).
   * Nodes that start together (a simulated mesh) all narrow at the same moment. Spreading
   * that moment per node (0.5–1.5 × the delay) was measured and backed out: at 2,000
   * nodes it flattened the peak but took half as many events again, the changes no
   * longer sharing packets; what made the burst dear was a seqno request from every node
   * a narrowing left outside, now not sent (see select).
   */
  scopeShrinkDelayMs: number
  /**
   * A seqno request for a destination we still have a route to (§3.8.2.2, an optimisation:
   * an unfeasible route would be better) is sent at most this often per destination. Each
   * one makes the source bump its seqno, and a new seqno is an update to every node within
   * its scope, so unthrottled these requests were most of a big mesh's start-up traffic.
   */
  seqnoRequestMinGapMs: number
  /**
   * For this long after it starts, a node sends hellos and IHUs and learns routes, but
   * sends no updates; then it sends its whole table to every neighbour at once. About one
   * hello interval: by then it has heard the neighbours that are up. Without it, the
   * routes of a mesh starting together (links up at random moments of its first second)
   * spread first over the few links found so far, longer than the ones the other links
   * brought a moment later, and every improvement went out again, hop after hop. A node
   * joining a running mesh is reachable one hold later. 0: no hold. Measured with the
   * first-news rule of select (5,000 nodes, rgg): updates received per node 3,899 → 2,220,
   * improvements sent for plain nodes' routes 41 → 0 per node; 10,000 nodes: CPU 126 →
   * 84 s, converged at 8 → 4 s of virtual time.
   */
  startHoldMs: number
}

export const DEFAULT_TIMING: RouterTiming = {
  helloMinMs: 1000,
  helloMaxMs: 30_000,
  updateIntervalMs: 600_000,
  trafficHoldMs: 10_000,
  seqnoRequestTimeoutMs: 1000,
  seqnoRequestResends: 2,
  seqnoRequestHops: 127,
  sweepIntervalMs: 30_000,
  sourceGcMs: 180_000,
  nominalCost: 96,
  deadAfterMisses: 2,
  rttMinMs: 20,
  rttMaxMs: 500,
  maxRttPenalty: 96,
  hysteresis: 24,
  significantChange: 48,
  maxRoutesPerDest: 4,
  resyncMinMs: 30_000,
  maxPacketBytes: 512,
  triggeredDelayMs: 200,
  urgentDelayMs: 20,
  scopeShrinkDelayMs: 30_000,
  seqnoRequestMinGapMs: 10_000,
  startHoldMs: 1000
}

export interface RouterConfig {
  self: NodeId
  gateway?: boolean
  timing?: Partial<RouterTiming>
  /** Landmark levels and hop scopes (landmarks.ts); missing fields take DEFAULT_SCOPES'. */
  scopes?: Partial<ScopeConfig>
  /** Uniform in [0, 1); the simulator passes its seeded generator. Used for jitter and, without `seqno`, the first seqno. */
  random?: () => number
  /**
   * This node's own seqno to start from. A daemon keeps it across restarts (as babeld's
   * state file does): a neighbour remembers the feasibility distance of this node's last
   * life for minutes (§3.2.5), and a random restart seqno older than it makes every
   * update unfeasible there (§3.5.1) until that source entry is collected, since a seqno
   * request only moves the seqno on by one (§3.8.1.2). Default: random.
   */
  seqno?: number
}

export type RouterOutput =
  | { kind: 'send', link: LinkId, packet: ControlPacket }
  | { kind: 'routes-changed' }

export interface RouteView {
  dst: NodeId
  nextHop: NodeId | null
  link: LinkId
  metric: number
  seqno: number
  hops: number
  gateway: boolean
  feasible: boolean
  selected: boolean
}

export interface SourceView {
  dst: NodeId
  fdSeqno: number | null
  fdMetric: number | null
  /** The seqno of our pending seqno request for it, or null. */
  requesting: number | null
}

export interface NeighbourView {
  link: LinkId
  id: NodeId | null
  cost: number
  rttMs: number | null
  loss: number
  helloIntervalMs: number
}

interface Neighbour {
  link: LinkId
  /** Its link went down (linkDown); it is no longer in neighbours_. */
  down: boolean
  /** Its index in Router.byIndex, unique among the neighbours up: what the route table holds (RouteTable.nb). */
  index: number
  id: NodeId | null
  q: LinkQuality
  /** Cost used for routes (updated on significant change only). */
  cost: number
  helloSeqno: number
  /** Interval our next hello will announce when idle (doubles up to helloMaxMs). */
  helloIntervalMs: number
  /** Interval our last hello announced. */
  announcedMs: number
  nextHelloAt: number
  trafficUntil: number
  peerFastUntil: number
  /** The neighbour's last hello timestamp and when it arrived, echoed in our IHU (RFC 9616). */
  echoOrigin: number
  echoAt: number
  /** Our packet counter on this link and the neighbour's last one. */
  packetSeq: number
  peerSeq: number
  /**
   * Resynchronisation after lost packets: 0 nothing to do, 1 a full update is wanted
   * (asked for at resyncAt, rate-limited), 2 asked, waiting for its end (asked again at
   * retryAt, backing off by retryGapMs).
   */
  resync: 0 | 1 | 2
  resyncAt: number
  retryAt: number
  retryGapMs: number
  /** When we first asked for the full update now awaited. */
  askedAt: number
}

interface PendingRequest { seqno: number, resendsLeft: number, nextAt: number }

/** Work collected during one call: TLVs per link, and whether the selected routes changed. */
class Output {
  readonly tlvs = new Map<LinkId, ControlTlv[]>()
  routesChanged = false
  push (link: LinkId, t: ControlTlv): void {
    const list = this.tlvs.get(link)
    if (list === undefined) this.tlvs.set(link, [t]); else list.push(t)
  }
}

const TLV_ORDER: Record<string, number> = { hello: 0, ihu: 1, update: 2, 'route-request': 3, 'seqno-request': 4 }
const order = (t: unknown): number => TLV_ORDER[(t as { type?: unknown } | null)?.type as string] ?? 5
/** A packet of `tlvs` to the neighbour, numbered with its link's packet counter. */
function emitPacket (result: RouterOutput[], nb: Neighbour, tlvs: ControlTlv[]): void {
  result.push({ kind: 'send', link: nb.link, packet: { seq: nb.packetSeq, tlvs } })
  nb.packetSeq = (nb.packetSeq + 1) & 0xffff
}
const inOrder = (tlvs: readonly unknown[]): boolean => {
  for (let k = 1; k < tlvs.length; k++) if (order(tlvs[k - 1]) > order(tlvs[k])) return false
  return true
}
const seqnoNewer = (a: number, b: number): boolean => a !== b && ((a - b) & 0xffff) < 0x8000
const addMetric = (a: number, b: number): number => (a >= INFINITY || b >= INFINITY) ? INFINITY : Math.min(INFINITY - 1, a + b)
const u16ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff
const u8ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xff
const u32ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff
/** The metric of a route through `nb` whose neighbour advertised `refMetric`. */
const metricVia = (nb: Neighbour, refMetric: number): number => nb.down ? INFINITY : addMetric(refMetric, nb.cost)

export class Router {
  readonly self: NodeId
  private readonly t: RouterTiming
  private readonly scopeConfig: ScopeConfig
  private readonly random: () => number
  private readonly level: number
  private gateway: boolean
  private seqno: number
  private readonly neighbours_ = new Map<LinkId, Neighbour>()
  /**
   * The neighbours by index (Neighbour.index; the route table names a route's neighbour
   * by it), and the indices free again: a neighbour's index is freed when its link goes
   * down, with every route through it.
   */
  private readonly byIndex: Array<Neighbour | undefined> = []
  private readonly freeIndices: number[] = []
  /** Destinations and routes (route-table.ts); a destination is an index into it. */
  private readonly table: RouteTable
  /**
   * Node id → destination index. Its order (first insertion, a destination dropped and
   * learnt again goes last) is the order of full updates and of every scan of the table,
   * so of which route wins a tie.
   */
  private readonly dests = new Map<NodeId, number>()
  /**
   * The destinations that are landmarks (level > 0), in the order of `dests`: what
   * refreshDerived scans, a few percent of the table, unless gatewaysSeen.
   */
  private readonly landmarkDests = new Map<NodeId, number>()
  /** An update with the gateway flag came in: refreshDerived must scan every destination for gateway routes. */
  private gatewaysSeen = false
  /** Pending seqno requests we originated (§3.2.7). */
  private readonly pending = new Map<NodeId, PendingRequest>()
  /** Recently forwarded seqno requests (§3.8.1.2 duplicate suppression): id → seqno, time. */
  private readonly forwarded = new Map<NodeId, { seqno: number, at: number }>()
  /**
   * When we last asked for a newer seqno for a destination while still holding a route
   * (§3.8.2.2), for the rate limit; absent = never. Rare, so not a column of the route table.
   */
  private readonly askedAt = new Map<NodeId, number>()
  /** Destinations whose advertisement may need a triggered update. */
  /**
   * Destinations whose advertisement may need a triggered update, in the order they first
   * became so since the last flush (the order the updates go out), and their ids;
   * RouteTable.dirty marks them.
   */
  private readonly dirty: number[] = []
  private readonly dirtyIds: NodeId[] = []
  private selfDirty = true
  /** When the held triggered updates go out (Infinity: none held), and whether one must go now. */
  private triggerAt = Infinity
  /** When triggered updates last went out (they go out at most every triggeredDelayMs). */
  private flushedAt = -Infinity
  private urgent = false
  /** A route was lost: the retraction goes out at once (see select). */
  private retracting = false
  /** nextDeadline()'s cached value, recomputed only after something that may bring it earlier. */
  private deadline = -Infinity
  private deadlineStale = true
  private selfAdv = { seqno: -1, scope: -1, flags: -1 }
  private scope: number
  /**
   * Scale awareness (ScopeConfig.narrowFrom, plain nodes only): 'off'; 'undecided' until
   * it knows narrowFrom landmarks, or the whole table of a plain neighbour that routes to
   * its whole mesh has come in, or widenAfterMs has passed; scoped meanwhile,
   * so a node joining a big mesh never floods it with an unlimited route; then 'small'
   * (fewer landmarks known than narrowFrom: routes unlimited) or 'big' (scoped), moving
   * between the two with hysteresis.
   */
  private scale: 'off' | 'undecided' | 'small' | 'big'
  /** Landmarks (level 1 and up) with a usable route (refreshDerived). */
  private landmarksKnown = 0
  /** The whole table (a full update to its end) of a plain neighbour with an unlimited scope has come in since scale awareness became undecided. */
  private tableHeard = false
  /** When an undecided scale is decided without a whole table (widenAfterMs after the first neighbour); Infinity: not set. */
  private decideAt = Infinity
  /** The latest decideAt may be (widenAfterMs after the first neighbour); SETTLED_MS after the last new destination brings it earlier. */
  private decideBy = Infinity
  private nextFullUpdateAt: number
  private nextSweepAt: number
  /** Caches of address() and gatewayHop(), rebuilt after the selected routes change. */
  private derivedStale = true
  private address_: NodeId[] = []
  private wide_: NodeId[] = []
  private gatewayLink: LinkId | undefined
  private readonly startedAt: number
  /** Until when start-up holds our updates back (startHoldMs); -Infinity once they went out. */
  private holdUntil: number
  /** When our scope may next widen for want of landmarks (landmarks.ts), or Infinity. */
  private nextWidenAt: number
  /** When our scope may narrow (the end of start-up, see scopeShrinkDelayMs), or Infinity when no narrowing waits. */
  private shrinkAt = Infinity
  /** Set while onUpdate selects after a route fell outside its origin's scope. */
  private scopeLoss = false
  /** Hops to the nearest landmark of each level (index = level), from the same rebuild. */
  private nearestHops: Array<number | undefined> = []

  constructor (config: RouterConfig, now: number) {
    if (!isNodeId(config.self)) throw new TypeError(`not a node id: ${String(config.self)}`)
    this.self = config.self
    this.t = { ...DEFAULT_TIMING, ...config.timing }
    this.scopeConfig = { ...DEFAULT_SCOPES, ...config.scopes }
    this.random = config.random ?? (() => 0.5)
    this.gateway = config.gateway === true
    this.level = landmarkLevel(this.self, this.scopeConfig)
    this.seqno = config.seqno !== undefined ? config.seqno & 0xffff : Math.floor(this.random() * 0x10000) & 0xffff
    this.startedAt = now
    this.holdUntil = this.t.startHoldMs > 0 ? now + this.t.startHoldMs : -Infinity
    this.scale = this.level === 0 && (this.scopeConfig.narrowFrom ?? 0) > 0 ? 'undecided' : 'off'
    this.scope = ownScope(this.level, this.scopeConfig, () => undefined, 0)
    this.nextWidenAt = this.scopeConfig.levelBits.length > this.level ? now + this.scopeConfig.widenAfterMs : Infinity
    this.nextFullUpdateAt = now + this.jittered(this.t.updateIntervalMs)
    this.nextSweepAt = now + this.t.sweepIntervalMs
    this.table = new RouteTable(this.t.maxRoutesPerDest)
  }

  // ---- events ------------------------------------------------------------------------

  linkUp (link: LinkId, now: number): RouterOutput[] {
    this.deadlineStale = true
    const out = new Output()
    if (!this.neighbours_.has(link)) this.addNeighbour(link, now, out)
    return this.finish(out, now)
  }

  linkDown (link: LinkId, now: number): RouterOutput[] {
    this.deadlineStale = true
    const out = new Output()
    const nb = this.neighbours_.get(link)
    if (nb !== undefined) {
      this.neighbours_.delete(link)
      nb.down = true
      if (this.neighbours_.size === 0 && this.scale !== 'off') {
        // Alone: what this node finds next (a big mesh, or a small one) decides again,
        // before its routes go anywhere unlimited.
        this.scale = 'undecided'; this.tableHeard = false; this.decideAt = this.decideBy = Infinity; this.derivedStale = true
      }
      this.dropRoutesVia(nb, now, out)
      // No route refers to its index any more.
      this.byIndex[nb.index] = undefined
      this.freeIndices.push(nb.index)
    }
    return this.finish(out, now)
  }

  /** A control packet from the neighbour on `link` (call linkUp first; packets on other links are ignored). */
  receive (link: LinkId, packet: ControlPacket, now: number): RouterOutput[] {
    // A packet on a link that is not up (one still in flight when the link went down)
    // is ignored: it would bring back a neighbour that is gone.
    const nb = this.neighbours_.get(link)
    if (nb === undefined) return []
    const out = new Output()
    const tlvs = Array.isArray(packet?.tlvs) ? packet.tlvs : []
    // Hellos and IHUs first, then updates, then requests: a request that comes with a
    // retraction (as after a lost route) is then forwarded along the route that remains.
    // (Most packets come in that order already: then the stable sort would change nothing.)
    for (const t of inOrder(tlvs) ? tlvs : [...tlvs].sort((x, y) => order(x) - order(y))) {
      // Only hellos, IHUs and requests move timers; updates alone (most packets) leave
      // nextDeadline's cache alone unless they start a seqno request.
      if (t?.type !== 'update') this.deadlineStale = true
      switch (t?.type) {
        case 'hello': this.onHello(nb, t, now, out); break
        case 'ihu': this.onIhu(nb, t, now, out); break
        case 'update': this.onUpdate(nb, t, now, out); break
        case 'route-request':
          // §3.8.1.1: a wildcard request gets a full update, a specific one that route.
          if (t.id === null) this.fullUpdate(nb.link, now, out)
          else if (isNodeId(t.id)) this.updateTo(nb.link, t.id, now, out)
          break
        case 'seqno-request': this.onSeqnoRequest(nb, t, now, out); break
        default: break
      }
    }
    // After the TLVs, so that the end of a full update in this very packet does not hide
    // a gap just before it.
    if (u16ok(packet?.seq)) {
      if (seqnoNewer(packet.seq, nb.peerSeq) && packet.seq !== ((nb.peerSeq + 1) & 0xffff) && nb.resync === 0) {
        // A packet from it went missing, maybe with an update in it: ask for everything.
        nb.resync = 1
        this.deadlineStale = true
      }
      if (seqnoNewer(packet.seq, nb.peerSeq)) nb.peerSeq = packet.seq
    }
    this.resyncDue(nb, now, out)
    return this.finish(out, now)
  }

  tick (now: number): RouterOutput[] {
    this.deadlineStale = true
    const out = new Output()
    for (const nb of this.neighbours_.values()) {
      // Appendix A.1: a hello overdue counts as missed; several in a row take the link down.
      let n = 0
      while (nb.q.helloDueAt <= now && n++ < 16) nb.q.onHelloMissed(nb.q.helloDueAt)
      if (n > 0) this.updateCost(nb, now, out)
      if (nb.nextHelloAt <= now) this.sendHello(nb, now, out)
      this.resyncDue(nb, now, out)
    }
    if (this.nextFullUpdateAt <= now) {
      // §3.7.1 periodic updates, rare here: triggered updates carry the changes.
      for (const link of this.neighbours_.keys()) this.fullUpdate(link, now, out)
      this.nextFullUpdateAt = now + this.jittered(this.t.updateIntervalMs)
    }
    for (const [id, p] of this.pending) {
      if (p.nextAt > now) continue
      if (p.resendsLeft <= 0) {
        const d = this.dests.get(id)
        if (d !== undefined && this.table.selected[d] === NO_ROUTE && this.anyOffered(d)) {
          // Still no usable route, but a neighbour offers one we may not take (unfeasible):
          // only a newer seqno from the source can make it feasible (§3.5.1), and nothing
          // else will ask for one while the neighbours stay quiet. Keep asking, slowly,
          // rather than stay cut off until the next full update.
          p.resendsLeft = this.t.seqnoRequestResends
          p.nextAt = now + UNFEASIBLE_RETRY_MS
          this.requestSeqno(id, p.seqno, null, out)
          continue
        }
        this.pending.delete(id)
        // nextHop may now fall back to the destination's landmarks.
        out.routesChanged = true
        continue
      }
      p.resendsLeft--
      p.nextAt = now + this.t.seqnoRequestTimeoutMs
      this.requestSeqno(id, p.seqno, null, out)
    }
    if (this.nextSweepAt <= now) this.sweep(now, out)
    return this.finish(out, now)
  }

  nextDeadline (): number {
    // Called after every input in the simulator: scanning every neighbour each time was
    // its largest cost. A cached value too early only costs an idle tick.
    if (!this.deadlineStale) return this.deadline
    this.deadlineStale = false
    let at = Math.min(this.nextFullUpdateAt, this.nextSweepAt, this.nextWidenAt, this.triggerAt, this.shrinkAt, this.decideAt)
    for (const nb of this.neighbours_.values()) {
      at = Math.min(at, nb.nextHelloAt, nb.q.helloDueAt, nb.resync === 1 ? nb.resyncAt : nb.resync === 2 ? nb.retryAt : Infinity)
    }
    for (const p of this.pending.values()) at = Math.min(at, p.nextAt)
    this.deadline = at
    return at
  }

  noteTraffic (link: LinkId, now: number): RouterOutput[] {
    const nb = this.neighbours_.get(link)
    if (nb === undefined) return []
    const wasFast = now < nb.trafficUntil
    nb.trafficUntil = now + this.t.trafficHoldMs
    // Only the switch from idle to busy costs anything: a hello now, flagged so the peer
    // hellos fast too (a dead link is noticed from the hellos we stop getting).
    if (wasFast || nb.announcedMs <= this.t.helloMinMs) return []
    this.deadlineStale = true
    const out = new Output()
    nb.helloIntervalMs = this.t.helloMinMs
    this.sendHello(nb, now, out)
    nb.q.expectFast(this.t.helloMinMs, now)
    return this.finish(out, now)
  }

  setGateway (on: boolean, now: number): RouterOutput[] {
    const out = new Output()
    if (this.gateway !== on) {
      this.gateway = on
      this.selfDirty = true
      this.derivedStale = true
      out.routesChanged = true
    }
    return this.finish(out, now)
  }

  // ---- queries -----------------------------------------------------------------------

  /** The link an envelope for `dst` carrying landmarks `via` leaves by (see route()). */
  nextHop (dst: NodeId, via?: readonly NodeId[]): LinkId | undefined {
    return this.route(dst, via ?? NO_VIA)?.link
  }

  /**
   * Where an envelope for `dst` that carries the landmarks `via` (the destination's
   * address, lowest level first, as the sender put it or the last hop left it) goes next,
   * and the landmarks it carries on: by the route to `dst` itself, with `via` emptied, or
   * else by the route to the first landmark of `via` that we have one to, with the
   * landmarks above it dropped. Undefined: hold it (no route yet).
   *
   * Babel's feasibility condition (§3.5.1) keeps the routes to each destination loop-free
   * on their own, not a path that hops between the routes to different destinations.
   * Choosing afresh at every hop, a node whose route to landmark A went through a
   * neighbour that had just lost its own (a link failed, a scope narrowed; the retraction
   * still on its way) got the packet back from that neighbour on its route to the
   * higher landmark B, and round again: 3 loops in the 10,000-node flapping run, every
   * one switching landmarks mid-path. So a hop's choice binds the hops after it: a packet
   * moves only down the destination's address (from a landmark to a lower one, or to the
   * destination itself), never back up, so it switches finitely often and each stretch
   * follows one destination's routes, loop-free by themselves. A relay that lost its route
   * to the landmark the packet heads for holds it (custody) until a route comes back, as
   * Babel has no route to offer it either.
   */
  route (dst: NodeId, via: readonly NodeId[]): { link: LinkId, via: readonly NodeId[] } | undefined {
    if (dst === this.self) return undefined
    const d = this.dests.get(dst)
    const direct = this.usable(d)
    if (direct !== undefined) return { link: direct, via: NO_VIA }
    // While we are asking for a new seqno for a route we just lost (§3.8.2.1), a
    // neighbour may still hold our old route through us: a packet sent on by another
    // route could come back through it. Hold the packet (the forwarder keeps custody)
    // until the repair succeeds or gives up; both end in routes-changed. The same for a
    // landmark of the address: a higher one is another route.
    if (d !== undefined && this.pending.has(dst)) return undefined
    for (let k = 0; k < via.length; k++) {
      const v = via[k] as NodeId
      // The packet has reached this landmark of the address: only the lower ones (none
      // routable here) or dst itself may take it on, not a higher one.
      if (v === this.self) return undefined
      const dv = this.dests.get(v)
      const l = this.usable(dv)
      if (l !== undefined) return { link: l, via: k === via.length - 1 ? via : via.slice(0, k + 1) }
      if (dv !== undefined && this.pending.has(v)) return undefined
    }
    return undefined
  }

  gatewayHop (): LinkId | undefined {
    this.refreshDerived()
    return this.gatewayLink
  }

  routes (): RouteView[] {
    const views: RouteView[] = []
    const tb = this.table
    for (const [dst, d] of this.dests) {
      for (let r = tb.first(d); r < tb.end(d); r++) {
        const link = this.linkOf(r)
        views.push({
          dst,
          nextHop: this.neighbours_.get(link)?.id ?? null,
          link,
          metric: this.metricOf(r),
          seqno: tb.seqno[r] as number,
          hops: tb.hops[r] as number,
          gateway: ((tb.flags[r] as number) & UPDATE_GATEWAY) !== 0,
          feasible: this.feasible(d, tb.seqno[r] as number, tb.refMetric[r] as number),
          selected: tb.selected[d] === r
        })
      }
    }
    return views
  }

  /**
   * The source table (§3.2.5): per destination, its feasibility distance (null before any
   * update was sent for it) and the seqno of our pending request for it, if any (§3.2.7).
   * For diagnosis: why a route on offer is not feasible here.
   */
  sources (): SourceView[] {
    const views: SourceView[] = []
    const tb = this.table
    for (const [dst, d] of this.dests) {
      const fdMetric = tb.fdMetric[d] as number
      views.push({
        dst,
        fdSeqno: fdMetric >= INFINITY ? null : tb.fdSeqno[d] as number,
        fdMetric: fdMetric >= INFINITY ? null : fdMetric,
        requesting: this.pending.get(dst)?.seqno ?? null
      })
    }
    return views
  }

  neighbours (): NeighbourView[] {
    return [...this.neighbours_.values()].map(nb => ({
      link: nb.link,
      id: nb.id,
      cost: nb.cost,
      rttMs: Number.isNaN(nb.q.rttMs) ? null : nb.q.rttMs,
      loss: nb.q.loss(),
      helloIntervalMs: nb.announcedMs
    }))
  }

  /** This node's own seqno now (what a daemon keeps across restarts; see RouterConfig.seqno). */
  ownSeqno (): number {
    return this.seqno
  }

  address (): NodeId[] {
    this.refreshDerived()
    return [...this.address_]
  }

  /**
   * The landmarks known mesh-wide: those of the highest level among the landmarks whose
   * routes reach everywhere (scope UNLIMITED_SCOPE), this node included if it is one. Every
   * node of a converged mesh sees the same set, so the location service (location.ts)
   * picks a node's home among them.
   */
  wideLandmarks (): NodeId[] {
    this.refreshDerived()
    return this.wide_
  }

  stateSize (): number {
    let n = this.neighbours_.size + this.dests.size
    for (const d of this.dests.values()) n += this.table.routeCount[d] as number
    return n
  }

  /** This node's landmark level (0 = plain) and the scope its own updates carry. */
  landmark (): { level: number, scope: number } {
    return { level: this.level, scope: this.scope }
  }

  // ---- neighbours, hellos, IHUs (§3.4) -----------------------------------------------

  /** Asks the neighbour for a full update (a wildcard route request, §3.8.1.1) when one is wanted and allowed. */
  private resyncDue (nb: Neighbour, now: number, out: Output): void {
    if (nb.resync === 1 && now >= nb.resyncAt) {
      nb.resync = 2
      nb.askedAt = now
      nb.resyncAt = now + this.t.resyncMinMs
      nb.retryGapMs = 2 * this.t.helloMinMs
    } else if (!(nb.resync === 2 && now >= nb.retryAt)) {
      return
    }
    out.push(nb.link, { type: 'route-request', id: null })
    nb.retryAt = now + nb.retryGapMs
    nb.retryGapMs = Math.min(this.t.resyncMinMs, nb.retryGapMs * 2)
  }

  /** An index for a new neighbour: the last one freed, else a new one. */
  private newIndex (): number {
    const index = this.freeIndices.pop() ?? this.byIndex.length
    // RouteTable.nb holds it in 16 bits.
    if (index > 0xffff) throw new RangeError('more than 65,536 neighbours up at once')
    return index
  }

  private addNeighbour (link: LinkId, now: number, out: Output): Neighbour {
    const nb: Neighbour = {
      link,
      down: false,
      index: this.newIndex(),
      id: null,
      q: new LinkQuality(),
      cost: INFINITY,
      helloSeqno: Math.floor(this.random() * 0x10000) & 0xffff,
      helloIntervalMs: this.t.helloMinMs,
      announcedMs: this.t.helloMinMs,
      nextHelloAt: now,
      trafficUntil: -Infinity,
      peerFastUntil: -Infinity,
      echoOrigin: -1,
      echoAt: 0,
      // Counters start at 0 on a new link, so a lost first packet (our full update) shows as a gap too.
      packetSeq: 0,
      peerSeq: 0xffff,
      resync: 0,
      resyncAt: now,
      retryAt: Infinity,
      retryGapMs: 0,
      askedAt: 0
    }
    this.neighbours_.set(link, nb)
    this.byIndex[nb.index] = nb
    if (this.scale === 'undecided' && this.decideAt === Infinity) { this.decideAt = this.decideBy = now + this.scopeConfig.widenAfterMs; this.deadlineStale = true }
    this.sendHello(nb, now, out)
    // A new neighbour gets everything we know at once (as babeld does on a new neighbour).
    this.fullUpdate(link, now, out)
    return nb
  }

  private sendHello (nb: Neighbour, now: number, out: Output): void {
    const busy = now < nb.trafficUntil || now < nb.peerFastUntil
    const interval = busy ? this.t.helloMinMs : nb.helloIntervalMs
    const hello: HelloTlv = {
      type: 'hello',
      sender: this.self,
      flags: now < nb.trafficUntil ? HELLO_FAST : 0,
      seqno: nb.helloSeqno,
      intervalMs: interval,
      timestamp: now >>> 0
    }
    nb.helloSeqno = (nb.helloSeqno + 1) & 0xffff
    out.push(nb.link, hello)
    if (nb.q.heard()) {
      const ihu: IhuTlv = { type: 'ihu', rxcost: nb.q.rxcost(this.t), intervalMs: interval }
      if (nb.echoOrigin >= 0) ihu.echo = { origin: nb.echoOrigin, heldMs: Math.max(0, Math.round(now - nb.echoAt)) }
      out.push(nb.link, ihu)
    }
    nb.announcedMs = interval
    // Early rather than late: the peer counts a hello missed 1.5 intervals on.
    nb.nextHelloAt = now + interval * (1 - 0.1 * this.random())
    nb.helloIntervalMs = busy ? this.t.helloMinMs : Math.min(this.t.helloMaxMs, interval * 2)
  }

  private onHello (nb: Neighbour, t: HelloTlv, now: number, out: Output): void {
    if (!isNodeId(t.sender) || t.sender === this.self || !u16ok(t.seqno) || !u8ok(t.flags) ||
      typeof t.intervalMs !== 'number' || !(t.intervalMs >= 0 && t.intervalMs <= 655_350)) return
    if (nb.id !== null && nb.id !== t.sender) {
      // Another node now answers on this link: forget what the old one told us.
      this.dropRoutesVia(nb, now, out)
      nb.q = new LinkQuality()
      nb.cost = INFINITY
    }
    nb.id = t.sender
    const firstOrRevived = !nb.q.heard() || nb.q.misses >= this.t.deadAfterMisses
    if (!nb.q.onHello(t.seqno, t.intervalMs, now)) return
    if (t.timestamp !== undefined && u32ok(t.timestamp)) { nb.echoOrigin = t.timestamp; nb.echoAt = now }
    let helloNow = firstOrRevived
    if ((t.flags & HELLO_FAST) !== 0) {
      nb.peerFastUntil = now + this.t.trafficHoldMs
      if (nb.nextHelloAt > now + this.t.helloMinMs) helloNow = true
    }
    if (helloNow) {
      // So the peer gets our IHU (and its cost) within a round trip.
      nb.helloIntervalMs = this.t.helloMinMs
      this.sendHello(nb, now, out)
    }
    this.updateCost(nb, now, out)
  }

  private onIhu (nb: Neighbour, t: IhuTlv, now: number, out: Output): void {
    if (!u16ok(t.rxcost) || t.rxcost === 0 || typeof t.intervalMs !== 'number' || !(t.intervalMs >= 0)) return
    nb.q.onIhu(t.rxcost, t.intervalMs, now)
    if (t.echo !== undefined && u32ok(t.echo.origin) && u32ok(t.echo.heldMs)) nb.q.onEcho(t.echo.origin, t.echo.heldMs, now)
    this.updateCost(nb, now, out)
  }

  /** Recomputes the link cost; a significant change re-runs route selection through it. */
  private updateCost (nb: Neighbour, now: number, out: Output): void {
    const c = nb.q.cost(this.t, now)
    const old = nb.cost
    if (c === old) return
    const crossed = (c >= INFINITY) !== (old >= INFINITY)
    if (!crossed && Math.abs(c - old) * 8 < Math.max(old, this.t.nominalCost)) return
    nb.cost = c
    this.derivedStale = true
    // A link that changed hellos fast for a while, so a flapping link is watched closely.
    if (nb.helloIntervalMs > this.t.helloMinMs) {
      nb.helloIntervalMs = this.t.helloMinMs
      if (nb.nextHelloAt > now + this.t.helloMinMs) nb.nextHelloAt = now + this.t.helloMinMs
    }
    for (const [id, d] of this.dests) {
      if (this.table.routeVia(d, nb.index) !== NO_ROUTE) this.select(id, d, now, out)
    }
  }

  // ---- updates (§3.5.3, §3.5.4) ------------------------------------------------------

  private onUpdate (nb: Neighbour, t: UpdateTlv, now: number, out: Output): void {
    if (!isNodeId(t.id) || !u16ok(t.seqno) || !u16ok(t.metric) || !u8ok(t.hops) || !u8ok(t.scope) ||
      !u8ok(t.flags) || typeof t.intervalMs !== 'number' || !(t.intervalMs >= 0)) return
    if ((t.flags & UPDATE_FULL_END) !== 0) {
      t = { ...t, flags: t.flags & ~UPDATE_FULL_END }
      // Scale awareness decides once it has seen what a neighbour knows (refreshScope), if
      // that neighbour is a plain node that routes to its whole mesh (its own route, which
      // ends the table, is unlimited): it settled in a small mesh, and its table is that
      // mesh. A table from a scoped neighbour (or a top landmark, unlimited in any mesh)
      // says nothing yet: in a mesh that starts all at once every neighbour's first table
      // is nearly empty, and deciding 'small' on it sent every route everywhere (3,000
      // nodes: 3.1 M events in the second virtual second, against 0.5 M in the first).
      if (this.scale === 'undecided' && !this.tableHeard && t.scope >= UNLIMITED_SCOPE && landmarkLevel(t.id, this.scopeConfig) === 0) {
        this.tableHeard = true
        this.derivedStale = true
      }
      if (nb.resync === 2) {
        // The end of the full update we asked for. It is the neighbour's whole table, so
        // a route through it that the update did not refresh is one whose retraction we
        // lost: drop it (a refreshed route expires a hold time after the refresh).
        nb.resync = 0; nb.retryAt = Infinity
        const refreshedAfter = nb.askedAt + this.holdTime(t.intervalMs)
        const tb = this.table
        for (const [id, d] of this.dests) {
          if (id === t.id) continue
          const r = tb.routeVia(d, nb.index)
          if (r !== NO_ROUTE && (tb.expiresAt[r] as number) < refreshedAfter) { tb.remove(d, r); this.select(id, d, now, out) }
        }
      }
    }
    if (t.id === this.self) return
    if ((t.flags & UPDATE_GATEWAY) !== 0) this.gatewaysSeen = true
    const hops = Math.min(UNLIMITED_SCOPE, t.hops + 1)
    // Landmark scoping: past the origin's scope the route does not exist for us.
    const metric = t.scope < UNLIMITED_SCOPE && hops > t.scope ? INFINITY : t.metric
    let d = this.dests.get(t.id)
    const tb = this.table
    const found = d === undefined ? NO_ROUTE : tb.routeVia(d, nb.index)
    if (d === undefined || found === NO_ROUTE) {
      // §3.5.3: a retraction for a route we do not have is ignored; so is (we MAY) an
      // unfeasible update, but §3.8.2.2 asks its source for a newer seqno if it would help.
      if (metric >= INFINITY) return
      if (d !== undefined && !this.feasible(d, t.seqno, metric)) {
        const sel = tb.selected[d] as number
        if (sel === NO_ROUTE) {
          this.startSeqnoRequest(t.id, ((tb.fdSeqno[d] as number) + 1) & 0xffff, nb.link, now, out)
        } else if (addMetric(metric, nb.cost) + this.t.hysteresis < this.metricOf(sel) &&
          now - (this.askedAt.get(t.id) ?? -Infinity) >= this.t.seqnoRequestMinGapMs && !this.pending.has(t.id)) {
          // §3.8.2.2 is an optimisation (we still have a route): rate-limited per destination.
          this.askedAt.set(t.id, now)
          this.startSeqnoRequest(t.id, ((tb.fdSeqno[d] as number) + 1) & 0xffff, nb.link, now, out)
        }
        return
      }
      if (d === undefined) {
        const level = landmarkLevel(t.id, this.scopeConfig)
        d = tb.addDest(level, now)
        this.dests.set(t.id, d)
        if (level > 0) this.landmarkDests.set(t.id, d)
        if (this.scale === 'undecided' && this.decideBy !== Infinity) {
          const at = Math.min(this.decideBy, now + SETTLED_MS)
          if (at < this.decideAt) this.deadlineStale = true
          this.decideAt = at
        }
      }
      if (!this.admit(d, nb, t.seqno, metric, hops, t.scope, t.flags, Math.ceil(now + this.holdTime(t.intervalMs)))) return
    } else {
      const r = found
      // gatewayHop(), address() and wideLandmarks() depend on the flags, metrics and (for
      // landmarks) scopes of selected routes to gateways and landmarks.
      const level = tb.level[d] as number
      if (r === tb.selected[d] && (tb.flags[r] !== t.flags || ((level > 0 || (t.flags & UPDATE_GATEWAY) !== 0) && (tb.refMetric[r] !== metric || tb.hops[r] !== hops)) || (level > 0 && tb.scope[r] !== t.scope))) {
        this.derivedStale = true
        out.routesChanged = true
      }
      if (metric >= INFINITY) {
        tb.remove(d, r)
      } else {
        tb.set(r, nb.index, t.seqno, metric, hops, t.scope, t.flags, Math.ceil(now + this.holdTime(t.intervalMs)))
      }
    }
    // Past the origin's scope (a neighbour at the edge retracts with the hops and scope
    // that put us outside): the route is lost to the scope (see select).
    this.scopeLoss = t.scope < UNLIMITED_SCOPE && hops > t.scope
    this.select(t.id, d, now, out)
    this.scopeLoss = false
    // A pending seqno request is answered once a feasible route with that seqno is in.
    const p = this.pending.get(t.id)
    const sel = tb.selected[d] as number
    if (p !== undefined && sel !== NO_ROUTE && !seqnoNewer(p.seqno, tb.seqno[sel] as number)) this.pending.delete(t.id)
  }

  /**
   * Keeps at most maxRoutesPerDest routes: a new one (through `nb`, the rest as
   * RouteTable.set takes them) replaces the worst if it is better.
   */
  private admit (d: number, nb: Neighbour, seqno: number, refMetric: number, hops: number, scope: number, flags: number, expiresAt: number): boolean {
    const tb = this.table
    if ((tb.routeCount[d] as number) < tb.width) { tb.append(d, nb.index, seqno, refMetric, hops, scope, flags, expiresAt); return true }
    let worst = NO_ROUTE
    let worstMetric = -1
    const sel = tb.selected[d]
    for (let x = tb.first(d), end = tb.end(d); x < end; x++) {
      if (x === sel) continue
      const m = this.feasible(d, tb.seqno[x] as number, tb.refMetric[x] as number) ? this.metricOf(x) : INFINITY + 1
      if (m > worstMetric) { worst = x; worstMetric = m }
    }
    if (worst === NO_ROUTE || metricVia(nb, refMetric) >= worstMetric) return false
    // In the place of the worst (the selected route is never the one replaced).
    tb.set(worst, nb.index, seqno, refMetric, hops, scope, flags, expiresAt)
    return true
  }

  /** §3.5.4: a route is held 3.5 update intervals (at least a few seconds). */
  private holdTime (intervalMs: number): number {
    return Math.max(intervalMs, 1000) * 3.5
  }

  private dropRoutesVia (nb: Neighbour, now: number, out: Output): void {
    const tb = this.table
    for (const [id, d] of this.dests) {
      const r = tb.routeVia(d, nb.index)
      if (r !== NO_ROUTE) { tb.remove(d, r); this.select(id, d, now, out) }
    }
  }

  // ---- route selection (§3.5.1, §3.6) ------------------------------------------------

  /** §3.5.1: (seqno, metric) is feasible if newer than the FD, or as new and strictly smaller. */
  private feasible (d: number, seqno: number, metric: number): boolean {
    const fdMetric = this.table.fdMetric[d] as number
    if (metric >= INFINITY || fdMetric >= INFINITY) return true
    const fdSeqno = this.table.fdSeqno[d] as number
    return seqnoNewer(seqno, fdSeqno) || (seqno === fdSeqno && metric < fdMetric)
  }

  private metricOf (r: number): number {
    // Its neighbour is the one neighbours_ holds for its link: linkDown drops the routes with it.
    return metricVia(this.byIndex[this.table.nb[r] as number] as Neighbour, this.table.refMetric[r] as number)
  }

  /** The link route `r` goes through. */
  private linkOf (r: number): LinkId {
    return (this.byIndex[this.table.nb[r] as number] as Neighbour).link
  }

  private selectable (d: number, r: number): number {
    const m = this.metricOf(r)
    return m < INFINITY && this.feasible(d, this.table.seqno[r] as number, this.table.refMetric[r] as number) ? m : INFINITY
  }

  /** Whether a neighbour offers a route to `d` at all, feasible or not. */
  private anyOffered (d: number): boolean {
    const tb = this.table
    for (let r = tb.first(d), end = tb.end(d); r < end; r++) if ((tb.refMetric[r] as number) < INFINITY) return true
    return false
  }

  /** §3.6: the feasible route of least metric, kept unless another is better by the hysteresis. */
  private select (id: NodeId, d: number, now: number, out: Output): void {
    const tb = this.table
    let best = NO_ROUTE
    let bestMetric = INFINITY
    for (let r = tb.first(d), end = tb.end(d); r < end; r++) {
      const m = this.selectable(d, r)
      if (m < bestMetric) { best = r; bestMetric = m }
    }
    // REMOVED_ROUTE: the selected route was just removed (it is no longer a candidate).
    const cur = tb.selected[d] as number
    if (cur !== NO_ROUTE && best !== cur) {
      const curMetric = cur !== REMOVED_ROUTE ? this.selectable(d, cur) : INFINITY
      if (curMetric < INFINITY && bestMetric + this.t.hysteresis >= curMetric) best = cur
    }
    if (best !== NO_ROUTE) tb.lastUsed[d] = Math.ceil(now)
    // Bad news does not wait (§3.7.2 delays only to aggregate): a route now much worse than
    // what we advertised (a lost next hop, a retraction) is sent within urgentDelayMs, so neighbours
    // routing through us move on; better routes, most of a start-up, are held and merged.
    // So do updates while a seqno request for the destination is ours or passed through
    // us recently: they answer it (§3.8.1.2), and a repair waits for them hop by hop.
    const advMetric = tb.advMetric[d] as number
    if (advMetric < INFINITY && (best === NO_ROUTE ? INFINITY : bestMetric) >= advMetric + this.t.significantChange) this.urgent = true
    // First news of a destination (we advertise no route to it) goes urgent too. Held
    // for the next flush, up to triggeredDelayMs per hop at random, it reached a node
    // first along whatever path happened to be quick, and each node then sent on two or
    // three improvements as shorter paths caught up (5,000 nodes: 2.7 per node per
    // level-2 landmark). Sent after urgentDelayMs at every hop, it moves at a nearly even
    // pace per hop and arrives first along the path of fewest hops, the best one where
    // links cost about the same (after startHoldMs, over all the links: 0 improvements).
    else if (advMetric >= INFINITY && best !== NO_ROUTE) this.urgent = true
    else if ((this.pending.has(id) || now - (this.forwarded.get(id)?.at ?? -Infinity) < 3 * this.t.seqnoRequestTimeoutMs)) this.urgent = true
    if (best !== cur) {
      tb.selected[d] = best
      out.routesChanged = true
      // address() and gatewayHop() derive from landmark and gateway routes only.
      const curFlags = cur === NO_ROUTE ? 0 : cur === REMOVED_ROUTE ? tb.selectedGoneFlags[d] as number : tb.flags[cur] as number
      if ((tb.level[d] as number) > 0 || (best !== NO_ROUTE && ((tb.flags[best] as number) & UPDATE_GATEWAY) !== 0) ||
        (curFlags & UPDATE_GATEWAY) !== 0) this.derivedStale = true
      if (best === NO_ROUTE && cur !== NO_ROUTE) {
        // A retraction goes out at once, not held like other urgent news: a neighbour that
        // still routes through us meanwhile can bounce packets we send towards a landmark
        // back to us (held 20 ms, that made a loop in a 2,000-node flapping run).
        this.urgent = true
        this.retracting = true
        // §3.8.2.1: the last feasible route is gone; ask for a newer seqno so that a route
        // that is unfeasible now (or one a neighbour holds) becomes feasible. Not when the
        // last route went because we fell outside its origin's scope: no seqno brings us
        // back in, and each narrowing scope set off a request from every node on its rim
        // and a new seqno flooding the whole scope. The pending entry is still made,
        // without a request, for what it does in route(): packets for the destination wait
        // there a moment instead of heading for a landmark past a neighbour that still
        // routes to it through us (it would send them back, and with `via` emptied they
        // could only wait here).
        const seqno = ((tb.fdSeqno[d] as number) + 1) & 0xffff
        if (this.scopeLoss && tb.routeCount[d] === 0) {
          if (!this.pending.has(id)) {
            this.pending.set(id, { seqno, resendsLeft: 0, nextAt: now + this.t.seqnoRequestTimeoutMs })
            this.deadlineStale = true
          }
        } else {
          this.startSeqnoRequest(id, seqno, null, now, out)
        }
      }
    }
    if (tb.dirty[d] === 0) { tb.dirty[d] = 1; this.dirty.push(d); this.dirtyIds.push(id) }
  }

  // ---- sending updates (§3.7) --------------------------------------------------------

  /** The update we would send for `id` now (null if there is nothing to say). */
  private advertisement (id: NodeId, d: number): UpdateTlv {
    const tb = this.table
    const r = tb.selected[d] as number
    if (r === NO_ROUTE) return this.update(id, tb.advSeqno[d] as number, INFINITY, tb.advHops[d] as number, tb.advScope[d] as number, tb.advFlags[d] as number)
    const m = this.metricOf(r)
    const hops = tb.hops[r] as number
    const scope = tb.scope[r] as number
    // Scope: a neighbour one hop further could not use it, so it is a retraction there.
    const out = scope < UNLIMITED_SCOPE && hops + 1 > scope
    return this.update(id, tb.seqno[r] as number, out ? INFINITY : m, hops, scope, tb.flags[r] as number)
  }

  private update (id: NodeId, seqno: number, metric: number, hops: number, scope: number, flags: number): UpdateTlv {
    return { type: 'update', id, flags, hops, scope, seqno, metric, intervalMs: this.t.updateIntervalMs }
  }

  private selfUpdate (): UpdateTlv {
    return this.update(this.self, this.seqno, 0, 0, this.scope, this.gateway ? UPDATE_GATEWAY : 0)
  }

  /** Sends `u` on every link but the one the route goes through (§3.7.4 split horizon). */
  private broadcast (u: UpdateTlv, except: LinkId | null, out: Output): void {
    for (const link of this.neighbours_.keys()) if (link !== except) out.push(link, u)
  }

  /** §3.7.3: sending a finite update lowers the feasibility distance to it. */
  private lowerFd (d: number, u: UpdateTlv): void {
    if (u.metric >= INFINITY) return
    const tb = this.table
    const fdMetric = tb.fdMetric[d] as number
    const fdSeqno = tb.fdSeqno[d] as number
    if (fdMetric >= INFINITY || seqnoNewer(u.seqno, fdSeqno)) { tb.fdSeqno[d] = u.seqno; tb.fdMetric[d] = u.metric } else if (u.seqno === fdSeqno && u.metric < fdMetric) tb.fdMetric[d] = u.metric
  }

  /** An update went to every neighbour (but split horizon): the feasibility distance, and what they now know. */
  private sent (d: number, u: UpdateTlv): void {
    this.lowerFd(d, u)
    const tb = this.table
    tb.advSeqno[d] = u.seqno; tb.advMetric[d] = u.metric; tb.advHops[d] = u.hops; tb.advScope[d] = u.scope; tb.advFlags[d] = u.flags
  }

  /** §3.7.2: a triggered update when the seqno, reachability, flags or hops changed, or the metric changed much. */
  private flushTriggered (out: Output): void {
    if (this.selfDirty) {
      this.selfDirty = false
      const flags = this.gateway ? UPDATE_GATEWAY : 0
      if (this.selfAdv.seqno !== this.seqno || this.selfAdv.scope !== this.scope || this.selfAdv.flags !== flags) {
        this.selfAdv = { seqno: this.seqno, scope: this.scope, flags }
        this.broadcast(this.selfUpdate(), null, out)
      }
    }
    const tb = this.table
    for (let k = 0; k < this.dirty.length; k++) {
      const d = this.dirty[k] as number
      const id = this.dirtyIds[k] as NodeId
      tb.dirty[d] = 0
      const u = this.advertisement(id, d)
      const advMetric = tb.advMetric[d] as number
      const was = advMetric < INFINITY
      const is = u.metric < INFINITY
      if (!was && !is) continue
      const sel = tb.selected[d] as number
      const except = is && sel !== NO_ROUTE ? this.linkOf(sel) : null
      const significant = was !== is || u.seqno !== tb.advSeqno[d] || u.flags !== tb.advFlags[d] || u.hops !== tb.advHops[d] ||
        u.scope !== tb.advScope[d] || Math.abs(u.metric - advMetric) >= this.t.significantChange
      const advExcept = tb.advExcept[d] ?? null
      if (significant) {
        this.broadcast(u, except, out)
      } else if (advExcept !== null && advExcept !== except) {
        // Same route to everyone else, but the neighbour split horizon kept it from
        // (our old next hop) has never heard it: tell it now.
        if (this.neighbours_.has(advExcept)) out.push(advExcept, u)
      } else {
        continue
      }
      this.sent(d, u)
      tb.advExcept[d] = except
    }
    this.dirty.length = 0
    this.dirtyIds.length = 0
  }

  /**
   * The start-up hold is over: everything we learnt, and our own route, to every
   * neighbour as a full update (what each would have had on meeting us), and recorded as
   * advertised, as a triggered update would be.
   */
  private endHold (now: number, out: Output): void {
    this.holdUntil = -Infinity
    this.refreshDerived()
    this.refreshScope(now)
    for (const link of this.neighbours_.keys()) this.fullUpdate(link, now, out)
    const tb = this.table
    for (const d of this.dirty) tb.dirty[d] = 0
    this.dirty.length = 0
    this.dirtyIds.length = 0
    for (const [id, d] of this.dests) {
      const sel = tb.selected[d] as number
      if (sel === NO_ROUTE) continue
      const u = this.advertisement(id, d)
      if (u.metric >= INFINITY) continue
      this.sent(d, u)
      tb.advExcept[d] = this.linkOf(sel)
    }
    this.selfDirty = false
    this.selfAdv = { seqno: this.seqno, scope: this.scope, flags: this.gateway ? UPDATE_GATEWAY : 0 }
    this.urgent = false
    this.retracting = false
    this.triggerAt = Infinity
    this.flushedAt = now
    this.deadlineStale = true
  }

  /** Everything we know, to one link (new neighbour, wildcard request, periodic). */
  private fullUpdate (link: LinkId, _now: number, out: Output): void {
    // Held at start-up: the end of the hold sends one to every neighbour (endHold).
    if (this.holdUntil !== -Infinity) return
    const tb = this.table
    for (const [id, d] of this.dests) {
      const sel = tb.selected[d] as number
      if (sel === NO_ROUTE || this.linkOf(sel) === link) continue
      const u = this.advertisement(id, d)
      if (u.metric >= INFINITY) continue
      out.push(link, u)
      this.lowerFd(d, u)
    }
    // Our own route last, marked: the receiver then knows the full update is complete.
    const self = this.selfUpdate()
    self.flags |= UPDATE_FULL_END
    out.push(link, self)
  }

  /** §3.8.1.1: the answer to a route request for one destination. */
  private updateTo (link: LinkId, id: NodeId, _now: number, out: Output): void {
    if (id === this.self) { out.push(link, this.selfUpdate()); return }
    const d = this.dests.get(id)
    if (d === undefined) return
    const u = this.advertisement(id, d)
    const sel = this.table.selected[d] as number
    if (u.metric < INFINITY && sel !== NO_ROUTE && this.linkOf(sel) === link) return
    out.push(link, u)
    this.lowerFd(d, u)
  }

  // ---- seqno requests (§3.8) ---------------------------------------------------------

  /** Starts (or joins) a seqno request for `id`: to one link, or to every neighbour. */
  private startSeqnoRequest (id: NodeId, seqno: number, link: LinkId | null, now: number, out: Output): void {
    const p = this.pending.get(id)
    if (p !== undefined && !seqnoNewer(seqno, p.seqno)) return
    this.deadlineStale = true
    this.pending.set(id, { seqno, resendsLeft: this.t.seqnoRequestResends, nextAt: now + this.t.seqnoRequestTimeoutMs })
    this.requestSeqno(id, seqno, link, out)
  }

  private requestSeqno (id: NodeId, seqno: number, link: LinkId | null, out: Output): void {
    const t: SeqnoRequestTlv = { type: 'seqno-request', id, seqno, hopCount: this.t.seqnoRequestHops }
    if (link !== null) { out.push(link, t); return }
    for (const l of this.neighbours_.keys()) out.push(l, t)
  }

  /** §3.8.1.2: answer, or forward towards the destination. */
  private onSeqnoRequest (nb: Neighbour, t: SeqnoRequestTlv, now: number, out: Output): void {
    if (!isNodeId(t.id) || !u16ok(t.seqno) || !u8ok(t.hopCount) || t.hopCount === 0) return
    if (t.id === this.self) {
      // The source: bump its seqno if asked for a newer one, and announce it to all.
      if (seqnoNewer(t.seqno, this.seqno)) this.seqno = (this.seqno + 1) & 0xffff
      // The answer to a seqno request does not wait (§3.8.1.2).
      if (this.selfAdv.seqno !== this.seqno) { this.selfDirty = true; this.urgent = true }
      else out.push(nb.link, this.selfUpdate())
      return
    }
    const d = this.dests.get(t.id)
    if (d === undefined) return
    const tb = this.table
    const r = tb.selected[d] as number
    if (r !== NO_ROUTE && !seqnoNewer(t.seqno, tb.seqno[r] as number) && this.metricOf(r) < INFINITY) {
      // We have a route at least that new: a (unicast) update answers it.
      const u = this.advertisement(t.id, d)
      if (u.metric < INFINITY) { out.push(nb.link, u); this.lowerFd(d, u); return }
    }
    if (t.hopCount < 2) return
    // Forwarded along the selected route, or if that goes back to the requester, along
    // the best other route, feasible or not: §3.8.1.2 asks for "one or more (not
    // necessarily feasible) routes" — an unfeasible route's next hop may well hold a newer
    // seqno, which is what the request looks for. Never to the requester.
    let via = r === NO_ROUTE || tb.nb[r] === nb.index ? NO_ROUTE : r
    if (via === NO_ROUTE) {
      let best = INFINITY
      for (let x = tb.first(d), end = tb.end(d); x < end; x++) {
        const m = tb.nb[x] === nb.index ? INFINITY : this.metricOf(x)
        if (m < best) { best = m; via = x }
      }
    }
    if (via === NO_ROUTE) return
    const f = this.forwarded.get(t.id)
    if (f !== undefined && f.seqno === t.seqno && now - f.at < this.t.seqnoRequestTimeoutMs) return
    this.forwarded.set(t.id, { seqno: t.seqno, at: now })
    out.push(this.linkOf(via), { type: 'seqno-request', id: t.id, seqno: t.seqno, hopCount: t.hopCount - 1 })
  }

  // ---- housekeeping ------------------------------------------------------------------

  /** §3.5.4 route expiry and §3.2.5 source garbage collection. */
  private sweep (now: number, out: Output): void {
    this.nextSweepAt = now + this.t.sweepIntervalMs
    const tb = this.table
    for (const [id, d] of this.dests) {
      if (tb.removeExpired(d, now)) this.select(id, d, now, out)
      if (tb.routeCount[d] === 0 && tb.selected[d] === NO_ROUTE && now - (tb.lastUsed[d] as number) >= this.t.sourceGcMs && tb.dirty[d] === 0) {
        tb.freeDest(d)
        this.dests.delete(id)
        this.landmarkDests.delete(id)
        this.askedAt.delete(id)
        this.pending.delete(id)
      }
    }
    for (const [id, f] of this.forwarded) if (now - f.at >= this.t.seqnoRequestTimeoutMs) this.forwarded.delete(id)
  }

  private usable (d: number | undefined): LinkId | undefined {
    if (d === undefined) return undefined
    const r = this.table.selected[d] as number
    if (r === NO_ROUTE) return undefined
    return this.metricOf(r) < INFINITY ? this.linkOf(r) : undefined
  }

  /** The selected route of `d` if its metric is finite, else NO_ROUTE. */
  private usableRoute (d: number): number {
    const r = this.table.selected[d] as number
    return r !== NO_ROUTE && this.metricOf(r) < INFINITY ? r : NO_ROUTE
  }

  /** Rebuilds the caches of address() and gatewayHop() (queries may call it: it changes no routing state). */
  private refreshDerived (): void {
    if (!this.derivedStale) return
    this.derivedStale = false
    const levels = this.scopeConfig.levelBits.length
    let gw: { link: LinkId, metric: number } | undefined
    // Only landmark and gateway routes count here; while no gateway was ever heard of,
    // the landmarks are all there is to scan (same order, so the same ties win).
    const tb = this.table
    const scan = this.gatewaysSeen ? this.dests : this.landmarkDests
    if (this.gatewaysSeen) {
      for (const d of scan.values()) {
        const r = tb.selected[d] as number
        if (r === NO_ROUTE || ((tb.flags[r] as number) & UPDATE_GATEWAY) === 0) continue
        const m = this.metricOf(r)
        if (m < INFINITY && (gw === undefined || m < gw.metric)) gw = { link: this.linkOf(r), metric: m }
      }
    }
    this.gatewayLink = this.gateway ? undefined : gw?.link
    // Our address: per level, the nearest landmark; above the first level, preferably one
    // that lies within the scope of the entry below (hops to it plus hops to that entry
    // at most its scope), so that the higher landmark holds a route to the lower one and
    // a packet that reaches it can go on (landmarks.ts). The candidates are the landmarks
    // we have a usable route to, taken in table order (the first of equal metric wins).
    const address: NodeId[] = []
    const hops: Array<number | undefined> = [0]
    let prevHops = 0
    let prevScope = this.scope
    for (let k = 1; k <= levels; k++) {
      if (k <= this.level) {
        address.push(this.self); hops[k] = 0; prevHops = 0; prevScope = this.scope
        continue
      }
      let best = NO_ROUTE
      let bestId: NodeId | null = null
      let bestMetric = 0
      let inScope = NO_ROUTE
      let inScopeId: NodeId | null = null
      let inScopeMetric = 0
      for (const [id, d] of scan) {
        if ((tb.level[d] as number) < k) continue
        const r = tb.selected[d] as number
        if (r === NO_ROUTE) continue
        const m = this.metricOf(r)
        if (m >= INFINITY) continue
        if (best === NO_ROUTE || m < bestMetric) { best = r; bestId = id; bestMetric = m }
        const within = prevScope >= UNLIMITED_SCOPE || (tb.hops[r] as number) + prevHops <= prevScope
        if (within && (inScope === NO_ROUTE || m < inScopeMetric)) { inScope = r; inScopeId = id; inScopeMetric = m }
      }
      const pick = inScope !== NO_ROUTE ? inScope : best
      const pickId = inScope !== NO_ROUTE ? inScopeId : bestId
      if (pick === NO_ROUTE || pickId === null) break
      const pickHops = tb.hops[pick] as number
      address.push(pickId); hops[k] = pickHops; prevHops = pickHops; prevScope = tb.scope[pick] as number
    }
    this.address_ = address
    this.nearestHops = hops
    let top = this.level >= 1 && this.scope >= UNLIMITED_SCOPE ? this.level : 0
    let known = 0
    for (const d of this.landmarkDests.values()) {
      const r = this.usableRoute(d)
      if (r === NO_ROUTE) continue
      known++
      const level = tb.level[d] as number
      if ((tb.scope[r] as number) >= UNLIMITED_SCOPE && level > top) top = level
    }
    this.landmarksKnown = known
    const wide: NodeId[] = top >= 1 && this.level >= top && this.scope >= UNLIMITED_SCOPE ? [this.self] : []
    if (top >= 1) {
      for (const [id, d] of this.landmarkDests) {
        const r = this.usableRoute(d)
        if (r !== NO_ROUTE && (tb.level[d] as number) >= top && (tb.scope[r] as number) >= UNLIMITED_SCOPE) wide.push(id)
      }
    }
    this.wide_ = wide
  }

  /** Our own scope depends on the landmarks we know (landmarks.ts); a change is announced. */
  private refreshScope (now: number): void {
    const wait = this.scopeConfig.widenAfterMs
    const widenings = wait > 0 ? Math.floor((now - this.startedAt) / wait) : Infinity
    const levelsAbove = this.scopeConfig.levelBits.length - this.level
    this.nextWidenAt = widenings >= levelsAbove ? Infinity : this.startedAt + (widenings + 1) * wait
    if (this.scale !== 'off') {
      const narrowFrom = this.scopeConfig.narrowFrom ?? 0
      const known = this.landmarksKnown
      if (this.scale === 'undecided') {
        // 'big' as soon as enough landmarks are known; 'small' only on an unlimited
        // neighbour's table or after the wait.
        if (known >= narrowFrom || this.tableHeard || now >= this.decideAt) {
          this.scale = known >= narrowFrom ? 'big' : 'small'
          this.decideAt = this.decideBy = Infinity
          this.deadlineStale = true
        }
      } else if (this.scale === 'small' && known >= narrowFrom) {
        this.scale = 'big'
      } else if (this.scale === 'big' && known < narrowFrom * 3 / 4) {
        this.scale = 'small'
      }
    }
    const scope = this.scale === 'small' ? UNLIMITED_SCOPE : ownScope(this.level, this.scopeConfig, k => k <= this.level ? 0 : this.nearestHops[k], widenings)
    const startUpEnd = this.startedAt + this.t.scopeShrinkDelayMs
    if (scope < this.scope && now < startUpEnd) {
      if (this.shrinkAt !== startUpEnd) { this.shrinkAt = startUpEnd; this.deadlineStale = true }
      return
    }
    if (this.shrinkAt !== Infinity) { this.shrinkAt = Infinity; this.deadlineStale = true }
    if (scope !== this.scope) {
      // A new scope comes with a new seqno. Routes carry their origin's scope, and one
      // seqno's routes compete on metric alone: a shorter path that still carried the old
      // scope won over the one that brought the new, and nodes past the old edge were
      // retracted (each retraction then a seqno request, §3.8.2.1). Once a node has sent
      // the new seqno, routes of the old one are unfeasible there (§3.5.1).
      this.scope = scope
      this.seqno = (this.seqno + 1) & 0xffff
      this.selfDirty = true
      this.derivedStale = true
    }
  }

  /** Ends a call: triggered updates, then TLVs packed into packets, hellos first. */
  private finish (out: Output, now: number): RouterOutput[] {
    // Our address and scope derive from every landmark route we hold (a scan of the whole
    // table): rebuilt when triggered updates go out, not after every packet, which at
    // 10,000 nodes made start-up, when landmark routes change with nearly every packet,
    // quadratic. Queries (address(), gatewayHop()) rebuild them themselves.
    // A widening or narrowing that is due cannot wait for the next flush: its deadline
    // would keep coming back with nothing done.
    if (now >= this.nextWidenAt || now >= this.shrinkAt || now >= this.decideAt) this.refreshDerived()
    if (!this.derivedStale) this.refreshScope(now)
    if (this.holdUntil !== -Infinity) {
      if (now >= this.holdUntil) this.endHold(now, out)
      else if (this.triggerAt !== this.holdUntil) { this.triggerAt = this.holdUntil; this.deadlineStale = true }
    } else if (this.selfDirty || this.dirty.length > 0 || this.derivedStale) {
      const soon = Math.min(this.t.urgentDelayMs, this.t.triggeredDelayMs)
      const at = this.retracting ? now : this.urgent ? now + soon : Math.max(now + soon, this.flushedAt + this.t.triggeredDelayMs)
      if (now >= this.triggerAt || at <= now) {
        this.refreshDerived()
        this.refreshScope(now)
        this.flushTriggered(out)
        this.urgent = false
        this.retracting = false
        this.triggerAt = Infinity
        this.flushedAt = now
      } else if (at < this.triggerAt) {
        this.triggerAt = at
        this.deadlineStale = true
      }
    } else if (this.triggerAt !== Infinity) {
      // Nothing left to send (a query rebuilt the derived state meanwhile): no deadline.
      this.triggerAt = Infinity
      this.urgent = false
      this.retracting = false
      this.deadlineStale = true
    }
    const result: RouterOutput[] = []
    for (const [link, tlvs] of out.tlvs) {
      const nb = this.neighbours_.get(link)
      if (nb === undefined) continue
      // Packets of up to maxPacketBytes, each a slice of the link's TLVs (most often all of them).
      let start = 0
      let size = PACKET_OVERHEAD
      for (let k = 0; k < tlvs.length; k++) {
        const s = tlvSize(tlvs[k] as ControlTlv)
        if (k > start && size + s > this.t.maxPacketBytes) {
          emitPacket(result, nb, tlvs.slice(start, k))
          start = k; size = PACKET_OVERHEAD
        }
        size += s
      }
      if (tlvs.length > start) emitPacket(result, nb, start === 0 ? tlvs : tlvs.slice(start))
    }
    if (out.routesChanged) result.push({ kind: 'routes-changed' })
    return result
  }

  private jittered (ms: number): number {
    return ms * (0.9 + 0.1 * this.random())
  }
}
