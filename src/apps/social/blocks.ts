// Blocks and mutes: this node's own choice, kept in a local table and never written to a
// log (a mute tells nobody; a block is not announced either). Both hide the account's
// posts, replies, reactions and mentions from every feed, thread and notification here.
// A block also stops this node from passing the account's entries on: the networks
// layer asks `isBlocked` before it stores or serves them (wired by the node).

import type { DatabaseSync } from 'node:sqlite'
import { sql } from './statements.ts'

export type BlockKind = 'block' | 'mute'

/** Whether this node blocks the account (mutes do not count: they are display only). */
export function isBlocked (db: DatabaseSync, account: Uint8Array): boolean {
  return sql(db, "SELECT 1 AS x FROM social_blocks WHERE account = ? AND kind = 'block'").get(account) !== undefined
}

/** Whether the account's entries are hidden here (blocked or muted). */
export function isHidden (db: DatabaseSync, account: Uint8Array): boolean {
  return sql(db, 'SELECT 1 AS x FROM social_blocks WHERE account = ? LIMIT 1').get(account) !== undefined
}

/** Sets or lifts a block or mute; returns whether anything changed. */
export function setBlock (db: DatabaseSync, account: Uint8Array, kind: BlockKind, on: boolean, now: number): boolean {
  const r = on
    ? sql(db, 'INSERT OR IGNORE INTO social_blocks (account, kind, ts) VALUES (?, ?, ?)').run(account, kind, now)
    : sql(db, 'DELETE FROM social_blocks WHERE account = ? AND kind = ?').run(account, kind)
  return r.changes > 0
}

export function listBlocks (db: DatabaseSync): Array<{ account: Uint8Array, kind: BlockKind, ts: number }> {
  return sql(db, 'SELECT account, kind, ts FROM social_blocks ORDER BY ts').all() as Array<{ account: Uint8Array, kind: BlockKind, ts: number }>
}
