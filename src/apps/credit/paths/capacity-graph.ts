// The directed capacity graph that every path finder here reads: one node per account
// (its key in hex in the daemon, a decimal index in the simulator), one link per trust
// line, each link two directed edges. Edge 2k is link k's a → b direction, edge 2k + 1
// its b → a direction, so an edge's reverse is `e ^ 1`. Capacity of an edge = how much
// can still move that way (for a trust line: the credit left on that side); paying x
// along e takes x from e and gives x to e ^ 1, exactly a max-flow residual update, so a
// payment never creates or destroys credit: cap(e) + cap(e ^ 1) is constant per link.
//
// Pure: no I/O, no clock. Amounts are bigint in the unit's smallest integer steps. One
// unit per graph: exchange between units (issue 6) is not modelled by the path finders;
// a cross-unit payment is routed per unit by the caller.

/** A path as the routers return it: node ids from payer to payee, the amount it carries, the fees it pays. */
export interface RoutedPath {
  hops: string[]
  amount: bigint
  /** Sum of the intermediaries' fees on this path's amount (ppm each, rounded up). */
  fee: bigint
}

export class CapacityGraph {
  /** Node ids by index. */
  readonly ids: string[] = []
  private readonly index = new Map<string, number>()
  /** Out-edges of each node (edge numbers). */
  readonly out: number[][] = []
  /** Edge e goes from node `from[e]` to node `to[e]`. */
  readonly from: number[] = []
  readonly to: number[] = []
  /** Current capacity of each directed edge. */
  readonly capacity: bigint[] = []
  /** The fee the node at `from[e]` charges to forward over e, in millionths of the amount. */
  readonly feePpm: number[] = []
  private readonly linkOf = new Map<string, number>()

  get nodeCount (): number { return this.ids.length }
  get edgeCount (): number { return this.from.length }
  get linkCount (): number { return this.from.length >> 1 }

  /** The index of a node, adding it if new. */
  node (id: string): number {
    let i = this.index.get(id)
    if (i === undefined) {
      i = this.ids.length
      this.ids.push(id)
      this.out.push([])
      this.index.set(id, i)
    }
    return i
  }

  /** The largest capacity of a node's lines, out of it or into it: whether one line at that end can carry an amount. */
  maxCapacity (node: number, way: 'out' | 'in'): bigint {
    let best = 0n
    for (const e of this.out[node] ?? []) {
      const c = this.cap(way === 'out' ? e : e ^ 1)
      if (c > best) best = c
    }
    return best
  }

  /** What a node's lines can carry out of it (or into it) together: a cut no flow from (or to) it exceeds. `links`: only the links marked 1. */
  totalCapacity (node: number, way: 'out' | 'in', links?: Uint8Array): bigint {
    let total = 0n
    for (const e of this.out[node] ?? []) {
      if (links !== undefined && links[e >> 1] !== 1) continue
      total += this.cap(way === 'out' ? e : e ^ 1)
    }
    return total
  }

  /** The index of a known node, or undefined. */
  indexOf (id: string): number | undefined {
    return this.index.get(id)
  }

  /**
   * Adds a link between a and b: `ab` can move a → b, `ba` b → a. Fees are charged by the
   * node that forwards over the edge (a on a → b). Returns the link number k (edges 2k, 2k + 1).
   * A second link between the same pair is refused: one trust line per pair and unit.
   */
  addLink (a: string, b: string, ab: bigint, ba: bigint, feeAb = 0, feeBa = 0): number {
    if (a === b) throw new RangeError(`a link needs two different nodes, got ${a} twice`)
    if (ab < 0n || ba < 0n) throw new RangeError(`link ${a}–${b}: capacities must not be negative`)
    const ia = this.node(a)
    const ib = this.node(b)
    const key = ia < ib ? `${ia} ${ib}` : `${ib} ${ia}`
    if (this.linkOf.has(key)) throw new RangeError(`link ${a}–${b} is given twice`)
    const k = this.from.length >> 1
    this.linkOf.set(key, k)
    this.from.push(ia, ib)
    this.to.push(ib, ia)
    this.capacity.push(ab, ba)
    this.feePpm.push(feeAb, feeBa)
    this.out[ia]?.push(2 * k)
    this.out[ib]?.push(2 * k + 1)
    return k
  }

  /** The edge from node index u to node index v, or -1. */
  edgeBetween (u: number, v: number): number {
    const k = this.linkOf.get(u < v ? `${u} ${v}` : `${v} ${u}`)
    if (k === undefined) return -1
    return this.from[2 * k] === u ? 2 * k : 2 * k + 1
  }

  /** Capacity of edge e (0 for an unknown edge). */
  cap (e: number): bigint {
    return this.capacity[e] ?? 0n
  }

  /** Moves `amount` along edge e: the residual update of a payment over one line. */
  move (e: number, amount: bigint): void {
    const c = this.cap(e)
    if (amount > c) throw new RangeError(`edge ${this.ids[this.from[e] ?? -1]} → ${this.ids[this.to[e] ?? -1]} carries ${c}, asked ${amount}`)
    this.capacity[e] = c - amount
    this.capacity[e ^ 1] = this.cap(e ^ 1) + amount
  }

  /** The edges of a node path (indices), or undefined when two consecutive nodes share no link. */
  edgesOf (path: readonly number[]): number[] | undefined {
    const edges: number[] = []
    for (let i = 0; i + 1 < path.length; i++) {
      const e = this.edgeBetween(path[i] ?? -1, path[i + 1] ?? -1)
      if (e < 0) return undefined
      edges.push(e)
    }
    return edges
  }

  /** The fee of carrying `amount` over a path of edges: every hop but the payer's own charges its ppm, rounded up. */
  feeOf (edges: readonly number[], amount: bigint): bigint {
    let fee = 0n
    for (let i = 1; i < edges.length; i++) {
      const ppm = BigInt(this.feePpm[edges[i] ?? -1] ?? 0)
      if (ppm > 0n) fee += (amount * ppm + 999_999n) / 1_000_000n
    }
    return fee
  }

  /** Node ids of an index path. */
  idsOf (path: readonly number[]): string[] {
    return path.map((i) => this.ids[i] ?? '')
  }
}
