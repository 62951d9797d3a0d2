// The social app's validators, reducers and `forget`: entries into the tables of
// schema.ts. Order of arrival does not matter: a reply before its parent keeps the
// parent's hash and shows under it once it comes; an edit before its post waits in
// social_edits and applies when the post arrives (if the same account wrote both).

import type { DatabaseSync } from 'node:sqlite'
import type { AppEntry, DeletedEntry } from '../../networks/app.ts'
import { sql } from './statements.ts'
import type { BlobBody, EditBody, FollowBody, PostBody, ProfileBody, ReactBody, RepostBody } from './bodies.ts'

const concat = (list: Uint8Array[] | undefined): Uint8Array | null => list === undefined ? null : Buffer.concat(list)
export const split32 = (b: Uint8Array | null): Uint8Array[] => {
  const out: Uint8Array[] = []
  if (b !== null) for (let i = 0; i + 32 <= b.byteLength; i += 32) out.push(b.subarray(i, i + 32))
  return out
}
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0

interface PostRow { author: Uint8Array, repost_of: Uint8Array | null, deleted: number, edited_ts: number | null, edited_hash: Uint8Array | null }

function postIn (db: DatabaseSync, net: Uint8Array, hash: Uint8Array): PostRow | undefined {
  return sql(db, 'SELECT author, repost_of, deleted, edited_ts, edited_hash FROM social_posts WHERE hash = ? AND net = ?').get(hash, net) as PostRow | undefined
}

// ---- posts and reposts ------------------------------------------------------------------

/** Indexes one post (the timeline index a benchmark builds: call it inside one transaction per batch). */
export function reducePost (db: DatabaseSync, e: AppEntry<PostBody>): void {
  const b = e.body
  // A row left by `forget` (its author blocked here, say) takes the body again when the
  // networks layer hands the entry back: it never reduces an entry its author deleted.
  const attach = concat(b.attach)
  const mentions = concat(b.mentions)
  const r = sql(db, 'INSERT OR IGNORE INTO social_posts (hash, net, author, ts, parent, text, attach, mentions) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .run(e.hash, e.net, e.author, e.ts, b.reply ?? null, b.text, attach, mentions)
  if (r.changes === 0 && sql(db, 'UPDATE social_posts SET text = ?, attach = ?, mentions = ?, deleted = 0 WHERE hash = ? AND deleted = 1').run(b.text, attach, mentions, e.hash).changes === 0) return
  if (b.mentions !== undefined) {
    const m = sql(db, 'INSERT OR IGNORE INTO social_mentions (account, ts, post) VALUES (?, ?, ?)')
    for (const account of b.mentions) m.run(account, e.ts, e.hash)
  }
  // An edit that came first (from another of the author's devices) waits in social_edits.
  if (sql(db, 'SELECT 1 AS x FROM social_edits WHERE post = ? LIMIT 1').get(e.hash) !== undefined) applyLatestEdit(db, e.hash, e.author)
}

export function reduceRepost (db: DatabaseSync, e: AppEntry<RepostBody>): void {
  sql(db, 'INSERT OR IGNORE INTO social_posts (hash, net, author, ts, repost_of) VALUES (?, ?, ?, ?, ?)').run(e.hash, e.net, e.author, e.ts, e.body.post)
}

// ---- edits ------------------------------------------------------------------------------

export function validateEdit (db: DatabaseSync, e: AppEntry<EditBody>): string | undefined {
  const post = postIn(db, e.net, e.body.post)
  if (post === undefined) return undefined // not here yet: kept, and applied only if its author matches
  if (!same(post.author, e.author)) return 'only the author of a post can edit it'
  if (post.repost_of !== null) return 'a repost has no text to edit'
  return undefined
}

export function reduceEdit (db: DatabaseSync, e: AppEntry<EditBody>): void {
  sql(db, 'INSERT OR IGNORE INTO social_edits (hash, net, post, author, ts, text) VALUES (?, ?, ?, ?, ?, ?)').run(e.hash, e.net, e.body.post, e.author, e.ts, e.body.text)
  applyLatestEdit(db, e.body.post, e.author)
}

/** Shows the newest (ts, hash) edit of the post by its own author; none: the post's own text. */
function applyLatestEdit (db: DatabaseSync, post: Uint8Array, author: Uint8Array): void {
  const latest = sql(db, 'SELECT hash, ts FROM social_edits WHERE post = ? AND author = ? ORDER BY ts DESC, hash DESC LIMIT 1').get(post, author) as { hash: Uint8Array, ts: number } | undefined
  sql(db, 'UPDATE social_posts SET edited_ts = ?, edited_hash = ? WHERE hash = ? AND author = ? AND repost_of IS NULL AND deleted = 0')
    .run(latest?.ts ?? null, latest?.hash ?? null, post, author)
}

// ---- reactions, blobs, profiles, follows --------------------------------------------------

export function reduceReact (db: DatabaseSync, e: AppEntry<ReactBody>): void {
  sql(db, 'INSERT OR IGNORE INTO social_reactions (hash, net, post, author, emoji, ts) VALUES (?, ?, ?, ?, ?, ?)').run(e.hash, e.net, e.body.post, e.author, e.body.emoji, e.ts)
}

export function reduceBlob (db: DatabaseSync, e: AppEntry<BlobBody>): void {
  sql(db, 'INSERT OR IGNORE INTO social_blobs (hash, net, author, ts, type, data) VALUES (?, ?, ?, ?, ?, ?)').run(e.hash, e.net, e.author, e.ts, e.body.type, e.body.data)
}

export function reduceProfile (db: DatabaseSync, e: AppEntry<ProfileBody>): void {
  sql(db, 'INSERT OR IGNORE INTO social_profiles (hash, net, account, ts, name, bio, avatar) VALUES (?, ?, ?, ?, ?, ?, ?)').run(e.hash, e.net, e.author, e.ts, e.body.name, e.body.bio, e.body.avatar ?? null)
}

export function validateFollow (_db: DatabaseSync, e: AppEntry<FollowBody>): string | undefined {
  return same(e.body.account, e.author) ? 'an account does not follow itself (its own posts are in its timeline anyway)' : undefined
}

export function reduceFollow (db: DatabaseSync, e: AppEntry<FollowBody>): void {
  sql(db, 'INSERT OR IGNORE INTO social_follow_log (hash, net, follower, followee, ts, on_) VALUES (?, ?, ?, ?, ?, ?)').run(e.hash, e.net, e.author, e.body.account, e.ts, e.body.on ? 1 : 0)
  settleFollow(db, e.author, e.body.account)
}

/** A follow's state is its newest (ts, hash) entry, whichever network it came through. */
function settleFollow (db: DatabaseSync, follower: Uint8Array, followee: Uint8Array): void {
  const latest = sql(db, 'SELECT on_ FROM social_follow_log WHERE follower = ? AND followee = ? ORDER BY ts DESC, hash DESC LIMIT 1').get(follower, followee) as { on_: number } | undefined
  if (latest?.on_ === 1) sql(db, 'INSERT OR IGNORE INTO social_follows (follower, followee) VALUES (?, ?)').run(follower, followee)
  else sql(db, 'DELETE FROM social_follows WHERE follower = ? AND followee = ?').run(follower, followee)
}

// ---- forgetting (deletes, revoked devices) ------------------------------------------------

/**
 * Its author deleted an entry (or it stopped counting): a post keeps its row as a
 * tombstone without text, attachments or mentions; everything else goes, and what it
 * settled (the edit that shows, a follow) is settled again without it.
 */
export function forget (db: DatabaseSync, e: DeletedEntry): void {
  switch (e.type) {
    case 'social/post': {
      const row = sql(db, 'SELECT ts, mentions FROM social_posts WHERE hash = ?').get(e.hash) as { ts: number, mentions: Uint8Array | null } | undefined
      if (row === undefined) return
      const m = sql(db, 'DELETE FROM social_mentions WHERE account = ? AND ts = ? AND post = ?')
      for (const account of split32(row.mentions)) m.run(account, row.ts, e.hash)
      sql(db, 'UPDATE social_posts SET text = NULL, attach = NULL, mentions = NULL, edited_ts = NULL, edited_hash = NULL, deleted = 1 WHERE hash = ?').run(e.hash)
      sql(db, 'DELETE FROM social_edits WHERE post = ? AND author = ?').run(e.hash, e.author)
      return
    }
    case 'social/repost':
      sql(db, 'DELETE FROM social_posts WHERE hash = ? AND repost_of IS NOT NULL').run(e.hash)
      return
    case 'social/edit': {
      const row = sql(db, 'SELECT post FROM social_edits WHERE hash = ?').get(e.hash) as { post: Uint8Array } | undefined
      sql(db, 'DELETE FROM social_edits WHERE hash = ?').run(e.hash)
      if (row !== undefined) applyLatestEdit(db, row.post, e.author)
      return
    }
    case 'social/react':
      sql(db, 'DELETE FROM social_reactions WHERE hash = ?').run(e.hash)
      return
    case 'social/blob':
      sql(db, 'DELETE FROM social_blobs WHERE hash = ?').run(e.hash)
      return
    case 'social/profile':
      sql(db, 'DELETE FROM social_profiles WHERE hash = ?').run(e.hash)
      return
    case 'social/follow': {
      const row = sql(db, 'SELECT follower, followee FROM social_follow_log WHERE hash = ?').get(e.hash) as { follower: Uint8Array, followee: Uint8Array } | undefined
      sql(db, 'DELETE FROM social_follow_log WHERE hash = ?').run(e.hash)
      if (row !== undefined) settleFollow(db, row.follower, row.followee)
    }
  }
}
