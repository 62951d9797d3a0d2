// Landmarks keep routing state bounded in big meshes. A node's landmark level comes from
// a hash of its NodeId: about 1 in 2^levelBits[0] nodes is a level-1 landmark, 1 in
// 2^levelBits[1] a level-2 one, and so on (each level's landmarks are also landmarks of
// the levels below). A node's routes travel only `scopes[level]` hops from it (carried as
// a hop count in each update), so a plain node is known only near it, a level-1 landmark
// in a wider area, the top level everywhere. A node's address is its nearest landmark of
// each level; a packet for a node out of reach heads for the lowest-level landmark of
// the destination's address that the forwarding node has a route to, and switches to a
// direct route as soon as a node on the way has one.
//
// One rule keeps addresses usable: a node reaches at least as far as its own nearest
// landmark of the next level (so that landmark holds a route back to it; a landmark
// reaches a little further, see ownScope), and a node
// that knows no landmark of the next level at all reaches as far as that level would
// (in a mesh too small to have landmarks every node is routed to directly, after a
// wait per level that lets a starting node hear of the landmarks that do exist).

import type { NodeId } from './node-id.ts'
import { UNLIMITED_SCOPE } from './control-messages.ts'

export interface ScopeConfig {
  /** Bits of hash that must be zero for each landmark level, lowest level first. */
  levelBits: number[]
  /**
   * Hops a node's routes travel, by level: scopes[0] for plain nodes, scopes[k] for
   * level-k landmarks; one more entry than levelBits. UNLIMITED_SCOPE (255) or more
   * means everywhere.
   */
  scopes: number[]
  /**
   * How long a node that knows no landmark of the next level waits before taking that
   * level's scope (and as long again for each level further up).
   */
  widenAfterMs: number
  /**
   * Scale awareness: a plain node keeps its routes unlimited, as under NO_LANDMARKS,
   * until it knows this many landmarks (level 1 and up), and goes back to unlimited when
   * it knows fewer than three quarters of that. Landmarks keep their own scopes, which
   * depend only on the landmarks above them, never on plain nodes' choices, so the count
   * measures the mesh around a node without moving with it (no oscillation): about
   * 2^levelBits[0] × narrowFrom nodes within a level-1 landmark's reach. Below it a mesh
   * is small enough for every node to route to every other, as babeld does, and scopes
   * would only split it (in a 4×5 grid, corners 7 hops apart under 6-hop scopes).
   * 0 or absent: scoped from the start.
   */
  narrowFrom?: number
}

export const DEFAULT_SCOPES: ScopeConfig = { levelBits: [5, 10], scopes: [6, 24, UNLIMITED_SCOPE], widenAfterMs: 10_000 }

/**
 * The daemon's: DEFAULT_SCOPES once a node knows 64 level-1 landmarks (a mesh of about
 * 2,000 nodes around it); below that every node routes to every other.
 */
export const DAEMON_SCOPES: ScopeConfig = { ...DEFAULT_SCOPES, narrowFrom: 64 }

/**
 * No landmarks: every node's routes reach the whole mesh. What the daemon runs with. A
 * route to a node beyond its scope exists only through the node's address, in the
 * envelope's `via`, which the location service (location.ts) now supplies; but in a small
 * mesh scopes only cost: in a 4×5 grid with one level-1 landmark among its 20 nodes the
 * corners, 7 hops apart, have no route to each other and reach each other only by the
 * detour through a home (mesh-service.ts).
 */
export const NO_LANDMARKS: ScopeConfig = { levelBits: [], scopes: [UNLIMITED_SCOPE], widenAfterMs: 0 }

/** A 32-bit mix of the NodeId (murmur3's finaliser over both halves), so ids that are not random still spread. */
export function nodeIdHash (id: NodeId): number {
  let h = (Number.parseInt(id.slice(0, 8), 16) ^ Math.imul(Number.parseInt(id.slice(8, 16), 16), 0x9e3779b1)) >>> 0
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Landmark level of `id`: 0 for a plain node, k for a level-k landmark. */
export function landmarkLevel (id: NodeId, config: ScopeConfig): number {
  const h = nodeIdHash(id)
  let level = 0
  for (const bits of config.levelBits) {
    const mask = bits >= 32 ? 0xffffffff : (2 ** bits) - 1
    if ((h & mask) >>> 0 !== 0) break
    level++
  }
  return level
}

/** Scope of a level from the config, clamped to the wire's 0..255 (255 = everywhere). */
export function levelScope (level: number, config: ScopeConfig): number {
  const s = config.scopes[Math.min(level, config.scopes.length - 1)] ?? UNLIMITED_SCOPE
  return Math.max(1, Math.min(UNLIMITED_SCOPE, Math.round(s)))
}

/**
 * The scope a node advertises itself with: its level's scope, widened to reach its
 * nearest landmark of the next level up; `hopsToNearest(k)` gives the hops to the
 * nearest level-k landmark, or undefined if none is known. A node that knows none takes
 * the next level's scope and looks one level further, but only `widenings` levels up:
 * a node that just started has not heard of the landmarks around it yet, and widening
 * at once would flood a big mesh with routes that are retracted a moment later.
 */
export function ownScope (level: number, config: ScopeConfig, hopsToNearest: (level: number) => number | undefined, widenings = Infinity): number {
  const top = config.levelBits.length
  for (let k = level; k < top; k++) {
    const h = hopsToNearest(k + 1)
    // A landmark also reaches past its own next-level landmark by twice the scope of
    // the level below: a node that uses it (at most that far from it) then finds that
    // next-level landmark within its reach too, and can put it in its address (the
    // router's address choice prefers such a one).
    const slack = k >= 1 ? 2 * levelScope(k - 1, config) : 0
    if (h !== undefined) return Math.min(UNLIMITED_SCOPE, Math.max(levelScope(k, config), h + 1 + slack))
    if (k - level >= widenings) return levelScope(k, config)
  }
  return levelScope(top, config)
}
