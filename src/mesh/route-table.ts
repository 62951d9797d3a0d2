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
// The columns share one ArrayBuffer, which grows by doubling; they are replaced when it
// does, so a caller reads them through the table (table.seqno[r]) and never keeps one
// across addDest().

import { INFINITY } from './control-messages.ts'
import type { LinkId } from './link.ts'

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
  addDest (level: number, now: number): number {
    let d = this.free.pop()
    if (d === undefined) {
      if (this.used === this.capacity) this.grow(Math.max(FIRST_CAPACITY, 2 * this.capacity))
      d = this.used++
    }
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

  /**
   * Moves every column into one new ArrayBuffer for `capacity` destinations. One buffer
   * rather than one per column: each buffer outside the heap carries a bookkeeping record
   * of its own (a hundred bytes or so, per column and router), and allocating them was a
   * few per cent of a simulation's CPU. Widest elements first, so each column is aligned.
   */
  private grow (capacity: number): void {
    const routes = capacity * this.width
    const buffer = new ArrayBuffer(8 * (capacity + routes) + 4 * capacity + 2 * (5 * capacity + 3 * routes) + 6 * capacity + 3 * routes)
    let at = 0
    const place = (bytes: number): number => { const o = at; at += bytes; return o }
    const f64 = (old: Float64Array, n: number): Float64Array<ArrayBuffer> => { const c = new Float64Array(buffer, place(8 * n), n); c.set(old); return c }
    const i32 = (old: Int32Array, n: number): Int32Array<ArrayBuffer> => { const c = new Int32Array(buffer, place(4 * n), n); c.set(old); return c }
    const u16 = (old: Uint16Array, n: number): Uint16Array<ArrayBuffer> => { const c = new Uint16Array(buffer, place(2 * n), n); c.set(old); return c }
    const u8 = (old: Uint8Array, n: number): Uint8Array<ArrayBuffer> => { const c = new Uint8Array(buffer, place(n), n); c.set(old); return c }
    this.lastUsed = f64(this.lastUsed, capacity)
    this.expiresAt = f64(this.expiresAt, routes)
    this.selected = i32(this.selected, capacity)
    this.fdSeqno = u16(this.fdSeqno, capacity)
    this.fdMetric = u16(this.fdMetric, capacity)
    this.advSeqno = u16(this.advSeqno, capacity)
    this.advMetric = u16(this.advMetric, capacity)
    this.routeCount = u16(this.routeCount, capacity)
    this.nb = u16(this.nb, routes)
    this.seqno = u16(this.seqno, routes)
    this.refMetric = u16(this.refMetric, routes)
    this.advHops = u8(this.advHops, capacity)
    this.advScope = u8(this.advScope, capacity)
    this.advFlags = u8(this.advFlags, capacity)
    this.level = u8(this.level, capacity)
    this.dirty = u8(this.dirty, capacity)
    this.selectedGoneFlags = u8(this.selectedGoneFlags, capacity)
    this.hops = u8(this.hops, routes)
    this.scope = u8(this.scope, routes)
    this.flags = u8(this.flags, routes)
    this.capacity = capacity
  }
}
