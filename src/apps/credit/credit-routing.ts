// The credit service's routing part (the I/O shell around paths/tree-embedding.ts and
// payment-paths.ts): it keeps one tree embedding per unit over this node's lines and
// sends its announcements to friends, forwards tree probes, builds the payee's view for
// an invoice, and finds a payment's paths. The service hands it the messages of types
// 'tree', 'probe' and 'probe-result', and calls `linesChanged` when a line's limits move.
//
// What a friend learns from this node: in announcements, its position in each tree (root,
// depth, coordinate, who its parent and children are among the two of them); on request
// (`lines?`, answered to friends only), its lines' capacities each way and its fee and
// offer policy. The payer of an invoice learns the payee's lines and those of the
// payee's friends that can pay the payee, with their policies and coordinates (the
// radius-2 view, issue 6 (a)). A probe tells the payer each hop it crossed: the hop's
// account, coordinate, fee, and what its line to the next hop can carry, capped at the
// payment's amount.

import { randomBytes } from 'node:crypto'
import type { Logger } from '../../core/log.ts'
import { toHex } from '../../networks/hashing.ts'
import { MAX_VIEW } from './credit-messages.ts'
import type { CreditMessage, WireProbeHop, WireViewNode } from './credit-messages.ts'
import { TreeEmbedding } from './paths/tree-embedding.ts'
import { findPaymentPaths, probeNextHop } from './payment-paths.ts'
import type { FoundPaths, ProbeOutcome, TreeCoords } from './payment-paths.ts'
import type { NodeReport } from './unit-converting-paths.ts'

/** How long a probe may take, end to end, before the payer counts it lost. */
const PROBE_TIMEOUT_MS = 4_000
/** Least time between two announcements to one friend (per unit). */
const ANNOUNCE_INTERVAL_MS = 200
/** How long the payee waits for its friends' lines when it makes an invoice. */
const VIEW_WAIT_MS = 1_500
/** Longest probe path (hops). */
const MAX_PROBE_HOPS = 32
/** How long a friend's node must stay out of reach before it leaves the trees (a blip changes nothing). */
const AWAY_AFTER_MS = 10_000

export interface RoutingHost {
  self: Uint8Array
  /** AWAY_AFTER_MS unless given (tests shorten it). */
  awayAfterMs?: number
  logger: Logger
  now: () => number
  /** This node's lines (all units, each way) and fee and offer policy. */
  report: () => NodeReport
  /** Per line: the peer, its unit, and whether it extends credit either way (a tree link). */
  treeLinks: () => Array<{ peer: Uint8Array, unit: string }>
  send: (to: Uint8Array, m: CreditMessage) => void
  /** A friend's lines and policy (bounded wait; undefined when it does not answer). */
  ask: (friend: Uint8Array) => Promise<NodeReport | undefined>
}

interface PendingProbe { resolve: (o: ProbeOutcome) => void, timer: NodeJS.Timeout }

export class CreditRouting {
  readonly #host: RoutingHost
  readonly #self: string
  readonly #trees = new Map<string, TreeEmbedding>()
  readonly #probes = new Map<string, PendingProbe>()
  #timer: NodeJS.Timeout | null = null
  #stopped = false
  /** Friends out of reach for AWAY_AFTER_MS: not tree neighbours until they connect again. */
  readonly #gone = new Set<string>()
  /** Friends out of reach for less than that, with the timer that takes them out. */
  readonly #leaving = new Map<string, NodeJS.Timeout>()

  constructor (host: RoutingHost) {
    this.#host = host
    this.#self = toHex(host.self)
  }

  // ---- the tree embedding ----------------------------------------------------------------

  /** The lines' limits changed, a friend went or came back (or the node started): new neighbours per unit, announcements due. */
  linesChanged (): void {
    const byUnit = new Map<string, string[]>()
    for (const l of this.#host.treeLinks()) {
      const peer = toHex(l.peer)
      if (this.#gone.has(peer)) continue
      byUnit.set(l.unit, [...(byUnit.get(l.unit) ?? []), peer])
    }
    for (const [unit, peers] of byUnit) this.#tree(unit).setNeighbours(peers)
    for (const [unit, tree] of this.#trees) if (!byUnit.has(unit)) tree.setNeighbours([])
    this.#announce()
  }

  /** A friend's node came back: it is a tree neighbour again, and hears everything again. */
  connected (peer: Uint8Array): void {
    const k = toHex(peer)
    const leaving = this.#leaving.get(k)
    if (leaving !== undefined) { clearTimeout(leaving); this.#leaving.delete(k) }
    if (this.#gone.delete(k)) this.linesChanged()
    for (const tree of this.#trees.values()) tree.resend(k)
    this.#announce()
  }

  /**
   * A friend's node went out of reach. If it stays away for AWAY_AFTER_MS it leaves the
   * trees (its subtree re-attaches elsewhere, and probes stop walking into it) until it
   * connects again; a blip shorter than that changes nothing.
   */
  disconnected (peer: Uint8Array): void {
    const k = toHex(peer)
    if (this.#stopped || this.#gone.has(k) || this.#leaving.has(k)) return
    const timer = setTimeout(() => {
      this.#leaving.delete(k)
      this.#gone.add(k)
      this.linesChanged()
    }, this.#host.awayAfterMs ?? AWAY_AFTER_MS)
    timer.unref()
    this.#leaving.set(k, timer)
  }

  #tree (unit: string): TreeEmbedding {
    let t = this.#trees.get(unit)
    if (t === undefined) {
      t = new TreeEmbedding({ self: this.#self, minIntervalMs: ANNOUNCE_INTERVAL_MS })
      this.#trees.set(unit, t)
    }
    return t
  }

  /** Sends what is due now and sets a timer for what the rate limit holds back. */
  #announce (): void {
    if (this.#stopped) return
    const now = this.#host.now()
    let next: number | null = null
    for (const [unit, tree] of this.#trees) {
      for (const { to, message } of tree.poll(now)) this.#host.send(fromHexKey(to), { t: 'tree', unit, trees: message.trees })
      const at = tree.nextPollAt()
      if (at !== null && (next === null || at < next)) next = at
    }
    if (next === null || this.#timer !== null) return
    this.#timer = setTimeout(() => { this.#timer = null; this.#announce() }, Math.max(0, next - now))
    this.#timer.unref()
  }

  /** This node's trees in `unit`: roots, own coordinates and its friends'. */
  treesOf (unit: string): { roots: string[], self: TreeCoords, friends: Map<string, TreeCoords> } {
    const tree = this.#trees.get(unit)
    if (tree === undefined) return { roots: [], self: [], friends: new Map() }
    const positions = tree.positions()
    const friends = new Map<string, TreeCoords>()
    for (const peer of tree.neighbours()) friends.set(peer, tree.neighbourCoords(peer))
    return { roots: positions.map((p) => p.root), self: positions.map((p) => p.coord), friends }
  }

  // ---- messages ------------------------------------------------------------------------

  receive (from: Uint8Array, m: CreditMessage): void {
    switch (m.t) {
      case 'tree': {
        const tree = this.#trees.get(m.unit)
        if (tree === undefined) return
        tree.receive(toHex(from), { trees: m.trees })
        this.#announce()
        return
      }
      case 'probe': {
        // Only from the friend that put itself last on the probe's hops, over a line in its unit.
        const last = m.hops[m.hops.length - 1]
        const friend = this.#trees.get(m.unit)?.neighbours().includes(toHex(from)) === true
        if (!friend || last === undefined || toHex(last.account) !== toHex(from) || toHex(last.next) !== this.#self) return
        this.#forward(m)
        return
      }
      case 'probe-result': {
        const p = this.#probes.get(toHex(m.id))
        if (p === undefined) return
        this.#probes.delete(toHex(m.id))
        clearTimeout(p.timer)
        p.resolve({ hops: m.hops, reached: m.reached, messages: m.hops.length + (m.hops.length > 0 ? 1 : 0) })
      }
    }
  }

  /**
   * One hop of a probe (SpeedyMurmurs §IV-C's greedy step): on to the friend closest to
   * the payee in the probe's tree among those strictly closer than this node whose line
   * carries the amount (ties: the smallest account); at the payee, or where there is none,
   * the hops so far go back to the payer.
   */
  #forward (m: Extract<CreditMessage, { t: 'probe' }>): void {
    const end = (reached: boolean): void => {
      const result: CreditMessage = { t: 'probe-result', id: m.id, reached, hops: m.hops }
      if (toHex(m.payer) === this.#self) this.receive(m.payer, result)
      else this.#host.send(m.payer, result)
    }
    if (toHex(m.payee) === this.#self) { end(true); return }
    const tree = this.#trees.get(m.unit)
    const position = tree?.positions()[m.tree]
    if (tree === undefined || position === undefined || position.root !== m.root || position.coord === null || m.hops.length >= MAX_PROBE_HOPS) { end(false); return }
    const report = this.#host.report()
    const friends = report.lines.filter((l) => l.unit === m.unit).map((l) => ({ peer: l.peer, account: toHex(l.peer), out: l.out, coord: tree.neighbourCoords(toHex(l.peer))[m.tree] }))
    const best = probeNextHop(position.coord, m.target, friends, m.amount)
    if (best === undefined) { end(false); return }
    const hop: WireProbeHop = {
      account: this.#host.self,
      next: best.peer,
      unit: m.unit,
      // What the line can carry, never more than the payment asks (the rest is the two friends' business).
      out: best.out < m.reveal ? best.out : m.reveal,
      feePpm: report.policy.fees.find((f) => f.unit === m.unit)?.ppm ?? 0,
      coord: position.coord
    }
    this.#host.send(best.peer, { ...m, hops: [...m.hops, hop] })
  }

  /** Starts a probe for `amount` in tree `tree` toward the payee's coordinate there. */
  async #probe (payee: Uint8Array, unit: string, tree: number, target: number[] | null, amount: bigint, reveal: bigint): Promise<ProbeOutcome> {
    const root = this.#trees.get(unit)?.positions()[tree]?.root
    if (target === null || root === undefined) return { hops: [], reached: false, messages: 0 }
    const id = new Uint8Array(randomBytes(16))
    return await new Promise<ProbeOutcome>((resolve) => {
      const timer = setTimeout(() => { this.#probes.delete(toHex(id)); resolve({ hops: [], reached: false, messages: 0 }) }, PROBE_TIMEOUT_MS)
      this.#probes.set(toHex(id), { resolve, timer })
      this.#forward({ t: 'probe', id, payer: this.#host.self, payee, unit, tree, root, target, amount, reveal, hops: [] })
    })
  }

  // ---- invoices and payments -----------------------------------------------------------

  /**
   * The payee's view for an invoice in `unit`: its own lines and the lines of its friends
   * that can pay it in that unit (asked now, answered by friends only), with their
   * policies and coordinates; and the messages that cost.
   */
  async invoiceView (unit: string): Promise<{ view: WireViewNode[], spent: number }> {
    const own = this.#host.report()
    const trees = this.treesOf(unit)
    const place = (coords: TreeCoords): WireViewNode['trees'] => trees.roots.map((root, t) => { const c = coords[t]; return c === null || c === undefined ? null : { root, coord: c } })
    const view: WireViewNode[] = [{ account: this.#host.self, lines: own.lines, policy: own.policy, trees: place(trees.self) }]
    // The friends that can pay us the most, as many as a view may hold.
    const friends = own.lines.filter((l) => l.unit === unit && l.in > 0n).sort((x, y) => x.in > y.in ? -1 : x.in < y.in ? 1 : 0).slice(0, MAX_VIEW - 1)
        // A silent friend is left out rather than hold up the invoice (the payer waits for it with a bound of its own).
    const answers = await Promise.all(friends.map(async (l) => [l.peer, await withinMs(this.#host.ask(l.peer), VIEW_WAIT_MS)] as const))
    for (const [peer, r] of answers) {
      if (r === undefined) continue
      view.push({ account: peer, lines: r.lines, policy: r.policy, trees: place(trees.friends.get(toHex(peer)) ?? []) })
    }
    return { view, spent: 2 * friends.length }
  }

  /** The paths for a payment (see payment-paths.ts), from the invoice's view. */
  async findPaths (payee: Uint8Array, amount: bigint, unit: string, invoice: { view: WireViewNode[], spent: number }): Promise<FoundPaths> {
    const trees = this.treesOf(unit)
    const payeeHex = toHex(payee)
    const target = (t: number): number[] | null => {
      const node = invoice.view.find((v) => toHex(v.account) === payeeHex)
      const p = node?.trees[t]
      return p === null || p === undefined || p.root !== trees.roots[t] ? null : p.coord
    }
    return await findPaymentPaths({
      self: this.#host.self,
      payee,
      amount,
      unit,
      own: this.#host.report(),
      trees,
      invoice: { view: invoice.view.map((v) => ({ account: v.account, report: { lines: v.lines, policy: v.policy }, trees: v.trees })), messages: invoice.spent },
      ask: this.#host.ask,
      probe: async (t, share) => await this.#probe(payee, unit, t, target(t), share, amount)
    })
  }

  stop (): void {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    for (const t of this.#leaving.values()) clearTimeout(t)
    this.#leaving.clear()
    for (const p of this.#probes.values()) { clearTimeout(p.timer); p.resolve({ hops: [], reached: false, messages: 0 }) }
    this.#probes.clear()
  }
}

function fromHexKey (hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/** The promise's value, or undefined if it takes longer than `ms`. */
async function withinMs<T> (p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<undefined>((resolve) => { timer = setTimeout(() => { resolve(undefined) }, ms) })
  try { return await Promise.race([p, late]) } finally { clearTimeout(timer) }
}
