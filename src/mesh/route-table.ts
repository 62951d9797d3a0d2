// A router's destinations and their routes (RFC 8966 §3.2.5 source table, §3.2.6 route
// table), held as columns of typed arrays rather than an object per destination and per
// route. A simulated mesh runs 10^5 routers in one heap, each with hundreds of
// destinations: as objects, the garbage collector traced every one of them on every full
// collection, and an update touched a Map, a destination object and its route objects
// scattered over gigabytes. A typed array's contents are not traced, and a destination's
// routes sit side by side in each column.
//
// A destination is a small integer (its index in the destination columns; the router maps
// node ids to it), reused once the destination is dropped. Each destination owns `width`
// consecutive route slots (maxRoutesPerDest); its routes fill the first `routeCount` of
// them in the order they came, an order the router's choices depend on (ties in route
// selection, the route admit() evicts). A route is the index of its slot, d * width + k.
//
// Columns grow by doubling and are replaced when they do, so a caller reads them through
// the table (table.seqno[r]) and never keeps one across addDest().

import { INFINITY } from './control-messages.ts'
import type { LinkId } from './link.ts'
import type { NodeId } from './node-id.ts'

/** No route (a destination without a selected route, a search that found none). */
export const NO_ROUTE = -1
/**
 * RouteTable.selected of a destination whose selected route was just removed: the route
 * is gone, but route selection (§3.6), which must run next, still needs to know that one
 * was selected, and its flags (selectedGoneFlags).
 */
export const REMOVED_ROUTE = -2

const FIRST_CAPACITY = 16

export class RouteTable {
  /** Route slots per destination (the router's maxRoutesPerDest). */
  readonly width: number
  private capacity = 0
  /** Destination indices handed out so far (the free ones among them are in `free`). */
  private used = 0
  private readonly free: number[] = []

  // ---- per destination d ----
  /** Its node id. */
  idOf: NodeId[] = []
  /** Feasibility distance (§3.2.5); fdMetric INFINITY = no source entry yet. */
  fdSeqno = new Uint16Array(0)
  fdMetric = new Uint16Array(0)
  /** The last update we sent for it; advMetric INFINITY = nothing (or a retraction). */
  advSeqno = new Uint16Array(0)
  advMetric = new Uint16Array(0)
  advHops = new Uint8Array(0)
  advScope = new Uint8Array(0)
  advFlags = new Uint8Array(0)
  /** The link our last update skipped (split horizon): it has not heard from us since. */
  advExcept: Array<LinkId | null> = []
  /** Its landmark level (landmarks.ts). */
  level = new Uint8Array(0)
  /** 1 while it is in the router's list of destinations that may need a triggered update. */
  dirty = new Uint8Array(0)
  /** When it last had a route, for the source garbage collection. */
  lastUsed = new Float64Array(0)
  /** Its selected route (a route index), NO_ROUTE, or REMOVED_ROUTE. */
  selected = new Int32Array(0)
  /** The flags of the selected route a REMOVED_ROUTE stands for. */
  selectedGoneFlags = new Uint8Array(0)
  routeCount = new Uint16Array(0)

  // ---- per route r ----
  /** The index of the neighbour it goes through (the router's; unique among neighbours up). */
  nb = new Uint16Array(0)
  seqno = new Uint16Array(0)
  /** The metric the neighbour advertised (Babel's "advertised metric"). */
  refMetric = new Uint16Array(0)
  /** Our hop count to the destination through this neighbour. */
  hops = new Uint8Array(0)
  scope = new Uint8Array(0)
  flags = new Uint8Array(0)
  expiresAt = new Float64Array(0)

  constructor (width: number) {
    this.width = width
  }

  /** A new destination with no routes and no source entry. */
  addDest (id: NodeId, level: number, now: number): number {
    let d = this.free.pop()
    if (d === undefined) {
      if (this.used === this.capacity) this.grow(Math.max(FIRST_CAPACITY, 2 * this.capacity))
      d = this.used++
    }
    this.idOf[d] = id
    this.fdSeqno[d] = 0
    this.fdMetric[d] = INFINITY
    this.advSeqno[d] = 0
    this.advMetric[d] = INFINITY
    this.advHops[d] = 0
    this.advScope[d] = 0
    this.advFlags[d] = 0
    this.advExcept[d] = null
    this.level[d] = level
    this.dirty[d] = 0
    this.lastUsed[d] = Math.ceil(now)
    this.selected[d] = NO_ROUTE
    this.selectedGoneFlags[d] = 0
    this.routeCount[d] = 0
    return d
  }

  /** Drops destination `d` (its index is handed out again). */
  freeDest (d: number): void {
    this.routeCount[d] = 0
    this.selected[d] = NO_ROUTE
    this.advExcept[d] = null
    this.free.push(d)
  }

  /** Its first route slot; its routes are first(d) up to end(d). */
  first (d: number): number {
    return d * this.width
  }

  end (d: number): number {
    return d * this.width + (this.routeCount[d] as number)
  }

  /** Its route through neighbour `nb` (there is at most one per neighbour), or NO_ROUTE. */
  routeVia (d: number, nb: number): number {
    const col = this.nb
    for (let r = d * this.width, end = r + (this.routeCount[d] as number); r < end; r++) if (col[r] === nb) return r
    return NO_ROUTE
  }

  /** Adds a route last (the caller checked routeCount < width); its index. */
  append (d: number, nb: number, seqno: number, refMetric: number, hops: number, scope: number, flags: number, expiresAt: number): number {
    const r = d * this.width + (this.routeCount[d] as number)
    this.routeCount[d] = (this.routeCount[d] as number) + 1
    this.set(r, nb, seqno, refMetric, hops, scope, flags, expiresAt)
    return r
  }

  /** Writes route `r` whole (a new route, or one that takes the place of another: admit). */
  set (r: number, nb: number, seqno: number, refMetric: number, hops: number, scope: number, flags: number, expiresAt: number): void {
    this.nb[r] = nb
    this.seqno[r] = seqno
    this.refMetric[r] = refMetric
    this.hops[r] = hops
    this.scope[r] = scope
    this.flags[r] = flags
    this.expiresAt[r] = expiresAt
  }

  /** Removes route `r` of `d`, keeping the others in order. */
  remove (d: number, r: number): void {
    const sel = this.selected[d] as number
    if (sel === r) {
      this.selectedGoneFlags[d] = this.flags[r] as number
      this.selected[d] = REMOVED_ROUTE
    } else if (sel > r) {
      this.selected[d] = sel - 1
    }
    const end = this.end(d)
    for (let k = r + 1; k < end; k++) this.move(k, k - 1)
    this.routeCount[d] = (this.routeCount[d] as number) - 1
  }

  /** §3.5.4: removes the routes of `d` that expired by `now`, keeping the others in order; whether any went. */
  removeExpired (d: number, now: number): boolean {
    const start = this.first(d)
    const end = this.end(d)
    let to = start
    let sel = this.selected[d] as number
    for (let r = start; r < end; r++) {
      if ((this.expiresAt[r] as number) <= now) {
        if (r === sel) { this.selectedGoneFlags[d] = this.flags[r] as number; sel = REMOVED_ROUTE }
        continue
      }
      if (r === sel) sel = to
      if (to !== r) this.move(r, to)
      to++
    }
    if (to === end) return false
    this.routeCount[d] = to - start
    this.selected[d] = sel
    return true
  }

  private move (from: number, to: number): void {
    this.nb[to] = this.nb[from] as number
    this.seqno[to] = this.seqno[from] as number
    this.refMetric[to] = this.refMetric[from] as number
    this.hops[to] = this.hops[from] as number
    this.scope[to] = this.scope[from] as number
    this.flags[to] = this.flags[from] as number
    this.expiresAt[to] = this.expiresAt[from] as number
  }

  private grow (capacity: number): void {
    const routes = capacity * this.width
    this.fdSeqno = grown(this.fdSeqno, new Uint16Array(capacity))
    this.fdMetric = grown(this.fdMetric, new Uint16Array(capacity))
    this.advSeqno = grown(this.advSeqno, new Uint16Array(capacity))
    this.advMetric = grown(this.advMetric, new Uint16Array(capacity))
    this.advHops = grown(this.advHops, new Uint8Array(capacity))
    this.advScope = grown(this.advScope, new Uint8Array(capacity))
    this.advFlags = grown(this.advFlags, new Uint8Array(capacity))
    this.level = grown(this.level, new Uint8Array(capacity))
    this.dirty = grown(this.dirty, new Uint8Array(capacity))
    this.lastUsed = grown(this.lastUsed, new Float64Array(capacity))
    this.selected = grown(this.selected, new Int32Array(capacity))
    this.selectedGoneFlags = grown(this.selectedGoneFlags, new Uint8Array(capacity))
    this.routeCount = grown(this.routeCount, new Uint16Array(capacity))
    this.nb = grown(this.nb, new Uint16Array(routes))
    this.seqno = grown(this.seqno, new Uint16Array(routes))
    this.refMetric = grown(this.refMetric, new Uint16Array(routes))
    this.hops = grown(this.hops, new Uint8Array(routes))
    this.scope = grown(this.scope, new Uint8Array(routes))
    this.flags = grown(this.flags, new Uint8Array(routes))
    this.expiresAt = grown(this.expiresAt, new Float64Array(routes))
    this.capacity = capacity
  }
}

function grown<T extends Uint8Array | Uint16Array | Int32Array | Float64Array> (old: T, into: T): T {
  into.set(old)
  return into
}
