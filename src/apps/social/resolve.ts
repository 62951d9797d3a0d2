// What a user types, resolved against the social tables: a post id (the entry hash, or 8+
// of its first hex digits), an account (a key, 8+ hex digits of one seen here, or a
// profile name), and the @mentions of a post's text.

import type { DatabaseSync } from 'node:sqlite'
import { sql } from './statements.ts'
import { latestProfile } from './timeline.ts'
import { mentionTokens } from './markdown.ts'
import { InvalidRecordError, UnknownEntryError } from '../../networks/errors.ts'

const fromHex = (t: string): Uint8Array => new Uint8Array(Buffer.from(t, 'hex'))

/** [low, high] of the 32-byte values whose hex starts with `prefix` (an index range, not a scan). */
function hexRange (prefix: string): [Uint8Array, Uint8Array] {
  return [fromHex(prefix.padEnd(64, '0')), fromHex(prefix.padEnd(64, 'f'))]
}

export interface ResolvedPost { hash: Uint8Array, net: Uint8Array, author: Uint8Array, repostOf: Uint8Array | null, deleted: boolean }

export function resolvePost (db: DatabaseSync, text: unknown): ResolvedPost {
  const t = typeof text === 'string' ? text.trim().toLowerCase() : ''
  if (!/^[0-9a-f]{8,64}$/.test(t)) throw new InvalidRecordError(`"${String(text)}" is not a post id`, { hint: 'ids are hex (8 or more digits); `peernet social feed` lists posts with their ids' })
  const [lo, hi] = hexRange(t)
  const rows = sql(db, 'SELECT hash, net, author, repost_of, deleted FROM social_posts WHERE hash BETWEEN ? AND ? LIMIT 2').all(lo, hi) as Array<{ hash: Uint8Array, net: Uint8Array, author: Uint8Array, repost_of: Uint8Array | null, deleted: number }>
  if (rows.length === 0) throw new UnknownEntryError(`no post ${t.slice(0, 16)}${t.length > 16 ? '…' : ''} here`, { hint: 'check the id (`peernet social feed` lists posts); a post from a peer shows once it has synced' })
  if (rows.length > 1) throw new InvalidRecordError(`"${t}" matches several posts`, { hint: 'give more of the id' })
  const r = rows[0] as typeof rows[0]
  return { hash: r.hash, net: r.net, author: r.author, repostOf: r.repost_of, deleted: r.deleted === 1 }
}

/** A post id, or the hash replies name as their parent though the post is not here (yet). */
export function resolveThreadRoot (db: DatabaseSync, text: unknown): Uint8Array {
  try {
    return resolvePost(db, text).hash
  } catch (err) {
    const t = typeof text === 'string' ? text.trim().toLowerCase() : ''
    if (!(err instanceof UnknownEntryError) || !/^[0-9a-f]{64}$/.test(t)) throw err
    const hash = fromHex(t)
    if (sql(db, 'SELECT 1 AS x FROM social_posts WHERE parent = ? LIMIT 1').get(hash) === undefined) throw err
    return hash
  }
}

/** Accounts seen here whose key starts with `prefix`: authors, profiles, follows. */
function accountsByPrefix (db: DatabaseSync, prefix: string): Uint8Array[] {
  const [lo, hi] = hexRange(prefix)
  const found = new Map<string, Uint8Array>()
  for (const q of [
    'SELECT DISTINCT author AS a FROM social_posts WHERE author BETWEEN ? AND ? LIMIT 2',
    'SELECT DISTINCT account AS a FROM social_profiles WHERE account BETWEEN ? AND ? LIMIT 2',
    'SELECT DISTINCT followee AS a FROM social_follows WHERE followee BETWEEN ? AND ? LIMIT 2'
  ]) {
    for (const r of sql(db, q).all(lo, hi) as Array<{ a: Uint8Array }>) found.set(Buffer.from(r.a).toString('hex'), r.a)
  }
  return [...found.values()]
}

/** Accounts whose current profile name is `name` (case folded). */
function accountsByName (db: DatabaseSync, name: string): Uint8Array[] {
  const candidates = sql(db, 'SELECT DISTINCT account FROM social_profiles WHERE name = ? COLLATE NOCASE LIMIT 20').all(name) as Array<{ account: Uint8Array }>
  return candidates.map((c) => c.account).filter((a) => latestProfile(db, a)?.name.toLowerCase() === name.toLowerCase())
}

/** An account by key, 8+ hex digits of a key seen here, or a profile name (with or without @). */
export function resolveAccount (db: DatabaseSync, text: unknown): Uint8Array {
  const raw = typeof text === 'string' ? text.trim().replace(/^@/, '') : ''
  if (raw === '') throw new InvalidRecordError('name an account: its key, 8+ hex digits of it, or its profile name', { hint: '`peernet net members NET` lists account keys' })
  const t = raw.toLowerCase()
  if (/^[0-9a-f]{64}$/.test(t)) return fromHex(t)
  const byKey = /^[0-9a-f]{8,63}$/.test(t) ? accountsByPrefix(db, t) : []
  const byName = byKey.length === 0 ? accountsByName(db, raw) : []
  const all = [...byKey, ...byName]
  if (all.length === 1) return all[0] as Uint8Array
  if (all.length > 1) throw new InvalidRecordError(`"${raw}" matches several accounts`, { hint: 'give more of the key' })
  throw new UnknownEntryError(`no account "${raw}" seen here`, { hint: 'give its full key (64 hex digits; `peernet net members NET` lists them), or wait until its posts or profile have synced' })
}

/** The accounts a post's @mentions name, where they resolve to exactly one; the rest stay plain text. */
export function resolveMentions (db: DatabaseSync, text: string): Uint8Array[] {
  const out = new Map<string, Uint8Array>()
  for (const token of mentionTokens(text)) {
    try {
      const a = resolveAccount(db, token)
      out.set(Buffer.from(a).toString('hex'), a)
    } catch { /* not an account here: plain text */ }
  }
  return [...out.values()].slice(0, 32)
}
