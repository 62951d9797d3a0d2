// The spanning-tree embedding of issue 6 (path finding b) as a protocol between friends,
// sans-IO: SpeedyMurmurs' trees (Roos et al., NDSS 2018, §IV-A) built by the nodes
// themselves over their trust lines, one instance per node and unit.
//
// Landmarks. Tree i's root is the node of its connected component with the smallest
// rank_i(account) = SHA-256("peernet-credit-tree" ‖ i ‖ epoch ‖ account): every node
// can compute every rank, so the election needs no global knowledge. It runs like the
// root election of a spanning-tree bridge protocol (IEEE 802.1D): each node adopts the
// best root any neighbour announces (smallest rank), or itself when none beats its own.
// A separate hash per tree makes the L roots independent (distinct in any component of
// more than a few nodes); `epoch` lets a deployment rotate them.
//
// Parents and coordinates (§IV-A's prefix embedding). A node's parent is the neighbour
// that announces the best root at the least depth (ties: smallest account), so depths
// are breadth-first distances from the root, as in the simulator's BFS trees. The parent
// gives each child a child index (the smallest free one, kept while the child stays); the
// child's coordinate is the parent's coordinate followed by that index. Until the parent
// has given it an index a node has no coordinate in that tree (it routes in the others).
//
// Messages. A node tells each neighbour (a friend: a line with credit either way), per
// tree: the root, its depth, its coordinate, whether the neighbour is its parent, and the
// index it gives the neighbour if the neighbour is its child. Announcements go only along
// lines, only when something the neighbour would hear changed, and at most once per
// `minIntervalMs` per neighbour (changes in between are merged into the next one).
//
// Repair. A neighbour that goes away (its line closed) is forgotten: a node whose parent
// it was picks the next best neighbour, or becomes its own root until one is heard. A
// neighbour whose coordinate has this node's coordinate as a prefix is in this node's
// subtree and is never taken as its parent (no loop through one's own children); stale
// information that still loops is cut by `maxDepth` (a route deeper than that is refused,
// the bounded form of distance-vector counting to infinity).

import { createHash } from 'node:crypto'

export interface TreeAnnouncement {
  root: string
  depth: number
  /** The sender's coordinate, or null while its parent has not given it an index. */
  coord: number[] | null
  /** The receiver is the sender's parent. */
  parent: boolean
  /** The receiver's child index, when it is the sender's child. */
  index: number | null
}

/** One message to one neighbour: an announcement per tree. */
export interface TreeMessage {
  trees: TreeAnnouncement[]
}

export interface TreeEmbeddingOptions {
  /** This node's account (hex). */
  self: string
  /** Number of trees L (default 3, as SpeedyMurmurs' evaluation). */
  trees?: number
  epoch?: number
  /** Deepest accepted position (default 64). */
  maxDepth?: number
  /** Least time between two announcements to one neighbour (default 200 ms). */
  minIntervalMs?: number
}

export interface TreePosition {
  root: string
  depth: number
  parent: string | null
  coord: number[] | null
}

export const DEFAULT_TREES = 3

interface Neighbour {
  heard: Array<TreeAnnouncement | undefined>
  /** What we last sent it (JSON), to send only changes. */
  sent: string | null
  lastSentAt: number
}

/** Tree i's rank of an account: smaller wins the election. */
export function landmarkRank (tree: number, epoch: number, account: string): string {
  return createHash('sha256').update(`peernet-credit-tree\0${tree}\0${epoch}\0${account}`).digest('hex')
}

export class TreeEmbedding {
  readonly self: string
  readonly treeCount: number
  readonly #epoch: number
  readonly #maxDepth: number
  readonly #minInterval: number
  readonly #neighbours = new Map<string, Neighbour>()
  readonly #positions: TreePosition[] = []
  /** Per tree: child account → index. */
  readonly #children: Array<Map<string, number>> = []
  readonly #ranks = new Map<string, string>()

  constructor (options: TreeEmbeddingOptions) {
    this.self = options.self
    this.treeCount = options.trees ?? DEFAULT_TREES
    this.#epoch = options.epoch ?? 0
    this.#maxDepth = options.maxDepth ?? 64
    this.#minInterval = options.minIntervalMs ?? 200
    for (let i = 0; i < this.treeCount; i++) {
      this.#positions.push({ root: this.self, depth: 0, parent: null, coord: [] })
      this.#children.push(new Map())
    }
  }

  #rank (tree: number, account: string): string {
    const key = `${tree} ${account}`
    let r = this.#ranks.get(key)
    if (r === undefined) {
      r = landmarkRank(tree, this.#epoch, account)
      if (this.#ranks.size > 100_000) this.#ranks.clear()
      this.#ranks.set(key, r)
    }
    return r
  }

  /** This node's position in each tree. */
  positions (): TreePosition[] {
    return this.#positions.map((p) => ({ ...p, coord: p.coord === null ? null : [...p.coord] }))
  }

  /** The coordinates a neighbour last announced (per tree; null where it has none or another root than ours). */
  neighbourCoords (peer: string): Array<number[] | null> {
    const n = this.#neighbours.get(peer)
    return this.#positions.map((p, i) => {
      const a = n?.heard[i]
      return a === undefined || a.root !== p.root ? null : a.coord
    })
  }

  neighbours (): string[] { return [...this.#neighbours.keys()] }

  /** Sets the neighbours (friends with a line that carries credit either way): new ones are announced to, gone ones forgotten. */
  setNeighbours (peers: Iterable<string>): void {
    const keep = new Set(peers)
    keep.delete(this.self)
    let changed = false
    for (const p of [...this.#neighbours.keys()]) {
      if (!keep.has(p)) { this.#neighbours.delete(p); changed = true }
    }
    for (const p of keep) {
      if (!this.#neighbours.has(p)) { this.#neighbours.set(p, { heard: [], sent: null, lastSentAt: -Infinity }); changed = true }
    }
    if (changed) this.#recompute()
  }

  /** An announcement from a neighbour (ignored from anyone else). */
  receive (from: string, message: TreeMessage): void {
    const n = this.#neighbours.get(from)
    if (n === undefined) return
    for (let i = 0; i < this.treeCount; i++) {
      const a = message.trees[i]
      n.heard[i] = a === undefined || !validAnnouncement(a, this.#maxDepth) ? undefined : a
    }
    this.#recompute()
  }

  /** The announcements due now (changed since last sent, rate-limited per neighbour). */
  poll (now: number): Array<{ to: string, message: TreeMessage }> {
    const out: Array<{ to: string, message: TreeMessage }> = []
    for (const [peer, n] of this.#neighbours) {
      const message = this.#messageFor(peer)
      const text = JSON.stringify(message)
      if (text === n.sent || now - n.lastSentAt < this.#minInterval) continue
      n.sent = text
      n.lastSentAt = now
      out.push({ to: peer, message })
    }
    return out
  }

  /** When the next `poll` may have something (null: nothing waiting). */
  nextPollAt (): number | null {
    let at: number | null = null
    for (const [peer, n] of this.#neighbours) {
      if (JSON.stringify(this.#messageFor(peer)) === n.sent) continue
      const t = n.lastSentAt + this.#minInterval
      if (at === null || t < at) at = t
    }
    return at
  }

  /** Forgets what was sent to a neighbour (it restarted or reconnected): the next poll announces again. */
  resend (peer: string): void {
    const n = this.#neighbours.get(peer)
    if (n !== undefined) n.sent = null
  }

  #messageFor (peer: string): TreeMessage {
    return {
      trees: this.#positions.map((p, i) => ({
        root: p.root,
        depth: p.depth,
        coord: p.coord,
        parent: p.parent === peer,
        index: this.#children[i]?.get(peer) ?? null
      }))
    }
  }

  #recompute (): void {
    for (let i = 0; i < this.treeCount; i++) this.#recomputeTree(i)
  }

  #recomputeTree (i: number): void {
    const pos = this.#positions[i] as TreePosition
    const children = this.#children[i] as Map<string, number>
    // 1. The parent: the neighbour announcing the best (root rank, depth), ties to the smallest account.
    let bestRank = this.#rank(i, this.self)
    let bestRoot = this.self
    let bestDepth = 0
    let parent: string | null = null
    const peers = [...this.#neighbours.keys()].sort()
    for (const peer of peers) {
      const a = this.#neighbours.get(peer)?.heard[i]
      if (a === undefined || a.coord === null || a.parent || a.depth + 1 > this.#maxDepth) continue
      // A neighbour inside our own subtree would make a loop.
      if (pos.coord !== null && pos.parent !== null && a.root === pos.root && isPrefix(pos.coord, a.coord)) continue
      const rank = this.#rank(i, a.root)
      if (rank < bestRank || (rank === bestRank && parent !== null && a.depth + 1 < bestDepth)) {
        bestRank = rank
        bestRoot = a.root
        bestDepth = a.depth + 1
        parent = peer
      }
    }
    pos.root = bestRoot
    pos.depth = bestDepth
    pos.parent = parent
    if (parent === null) pos.coord = []
    else {
      const a = this.#neighbours.get(parent)?.heard[i]
      pos.coord = a?.coord === null || a?.coord === undefined || a.index === null ? null : [...a.coord, a.index]
    }
    // 2. The children: neighbours that call us their parent in this tree (same root), indices kept while they stay.
    for (const c of [...children.keys()]) {
      const a = this.#neighbours.get(c)?.heard[i]
      if (a === undefined || !a.parent || a.root !== pos.root) children.delete(c)
    }
    const used = new Set(children.values())
    for (const peer of peers) {
      const a = this.#neighbours.get(peer)?.heard[i]
      if (a === undefined || !a.parent || a.root !== pos.root || children.has(peer)) continue
      let k = 0
      while (used.has(k)) k++
      used.add(k)
      children.set(peer, k)
    }
  }
}

function isPrefix (prefix: readonly number[], of: readonly number[]): boolean {
  if (prefix.length > of.length) return false
  for (let k = 0; k < prefix.length; k++) if (prefix[k] !== of[k]) return false
  return true
}

function validAnnouncement (a: TreeAnnouncement, maxDepth: number): boolean {
  return typeof a.root === 'string' && Number.isSafeInteger(a.depth) && a.depth >= 0 && a.depth <= maxDepth &&
    (a.coord === null || (Array.isArray(a.coord) && a.coord.length === a.depth && a.coord.every((x) => Number.isSafeInteger(x) && x >= 0))) &&
    (a.index === null || (Number.isSafeInteger(a.index) && a.index >= 0))
}
