// The networks layer's schema: queries on hot paths use their indexes (a regression here
// is a full scan of a network's log per membership entry — seconds on a large network).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TempDirs } from './fixtures.ts'

test('membership queries use the partial membership index, not a scan of the log', (t) => {
  const dirs = new TempDirs()
  t.after(() => { dirs.cleanup() })
  const logs = dirs.logStore()
  const plan = (sql: string): string => (logs.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(new Uint8Array(32)) as Array<{ detail: string }>).map((r) => r.detail).join('; ')
  const membership = "SELECT hash, author, device, seq, ts, type, body FROM entries WHERE net = ? AND type IN ('peernet/join', 'peernet/leave', 'peernet/remove', 'peernet/role')"
  assert.match(plan(membership), /USING INDEX entries_membership/)
  // And the source really asks it that way (the IN list must match the index's).
  const source = (logs.constructor as { toString: () => string }).toString()
  assert.ok(source.includes(membership), 'LogStore derives membership with this exact query')
})
