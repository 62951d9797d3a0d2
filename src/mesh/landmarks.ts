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
// landmark of the next level (so that landmark holds a route back to it), and a node
// that knows no landmark of the next level at all reaches as far as that level would
// (in a mesh too small to have landmarks every node is routed to directly).

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
}

export const DEFAULT_SCOPES: ScopeConfig = { levelBits: [5, 10], scopes: [6, 24, UNLIMITED_SCOPE] }

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
 * nearest level-k landmark, or undefined if none is known (then the node takes the next
 * level's scope and looks one level further).
 */
export function ownScope (level: number, config: ScopeConfig, hopsToNearest: (level: number) => number | undefined): number {
  const top = config.levelBits.length
  for (let k = level; k < top; k++) {
    const h = hopsToNearest(k + 1)
    if (h !== undefined) return Math.min(UNLIMITED_SCOPE, Math.max(levelScope(k, config), h + 1))
  }
  return levelScope(top, config)
}
