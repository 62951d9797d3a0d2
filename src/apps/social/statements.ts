// Prepared statements, prepared once per database and reused: the reducer runs once per
// entry and a home timeline page runs a few hundred small lookups, so a prepare per call
// would cost more than the statement itself (as the chat app found).

import type { DatabaseSync, StatementSync } from 'node:sqlite'

const cache = new WeakMap<DatabaseSync, Map<string, StatementSync>>()

export function sql (db: DatabaseSync, text: string): StatementSync {
  let statements = cache.get(db)
  if (statements === undefined) {
    statements = new Map()
    cache.set(db, statements)
  }
  let st = statements.get(text)
  if (st === undefined) {
    st = db.prepare(text)
    statements.set(text, st)
  }
  return st
}
