// Landmark levels from the NodeId hash and the scope a node advertises (landmarks.ts).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULT_SCOPES, landmarkLevel, levelScope, nodeIdHash, ownScope } from '../../src/mesh/landmarks.ts'
import { makeIds } from './router-harness.ts'

test('about 1 in 32 ids is a level-1 landmark and 1 in 1024 a level-2 one; levels nest; sequential ids spread too', () => {
  const ids = makeIds(65_536, 1)
  const counts = [0, 0, 0]
  for (const id of ids) counts[landmarkLevel(id, DEFAULT_SCOPES)]!++
  const l1 = (counts[1] ?? 0) + (counts[2] ?? 0)
  assert.ok(Math.abs(l1 - 2048) < 200, `level ≥ 1: ${l1}`)
  assert.ok(Math.abs((counts[2] ?? 0) - 64) < 25, `level 2: ${counts[2]}`)
  // Ids that differ only in their last bits still hash apart.
  const seq = Array.from({ length: 4096 }, (_, i) => i.toString(16).padStart(16, '0'))
  const seqL1 = seq.filter(id => landmarkLevel(id, DEFAULT_SCOPES) >= 1).length
  assert.ok(seqL1 > 80 && seqL1 < 180, `${seqL1}`)
  assert.equal(nodeIdHash('0123456789abcdef'), nodeIdHash('0123456789abcdef'))
})

test('ownScope: the level scope, widened to reach the next-level landmark (with slack for landmarks), or the next level if none is known', () => {
  const cfg = DEFAULT_SCOPES
  assert.equal(levelScope(0, cfg), 6)
  assert.equal(levelScope(2, cfg), 255)
  // A plain node 3 hops from its level-1 landmark: 6. Ten hops away: 11.
  assert.equal(ownScope(0, cfg, k => k === 1 ? 3 : undefined), 6)
  assert.equal(ownScope(0, cfg, k => k === 1 ? 10 : undefined), 11)
  // A level-1 landmark 20 hops from a level-2 one: 20 + 1 + 2·6.
  assert.equal(ownScope(1, cfg, k => k === 2 ? 20 : undefined), 33)
  assert.equal(ownScope(1, cfg, k => k === 2 ? 2 : undefined), 24)
  // Nothing known: one level wider per allowed widening, at most everywhere.
  assert.equal(ownScope(0, cfg, () => undefined, 0), 6)
  assert.equal(ownScope(0, cfg, () => undefined, 1), 24)
  assert.equal(ownScope(0, cfg, () => undefined, 2), 255)
  assert.equal(ownScope(2, cfg, () => undefined, 0), 255)
  // No level-1 landmark known but a level-2 one 30 hops off: the node takes level 1's
  // scope and reaches that landmark as a level-1 landmark would (30 + 1 + 2·6).
  assert.equal(ownScope(0, cfg, k => k === 2 ? 30 : undefined, Infinity), 43)
})
