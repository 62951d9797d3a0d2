// Reading the social tables: the home timeline (every network, the accounts followed and
// one's own), a network's feed, threads, notifications, edit history, profiles. Hidden
// accounts (blocked or muted here) are left out of all of them.

import type { DatabaseSync } from 'node:sqlite'
import { sql } from './statements.ts'
import { split32 } from './reducer.ts'
import { formatNetworkId } from '../../networks/manifest.ts'
import { toHex } from '../../networks/hashing.ts'

export interface AttachmentView { id: string, type: string, size: number }

export interface PostView {
  id: string
  net: string
  author: string
  /** The author's profile name, if one is known here. */
  name: string | null
  ts: number
  /** The text that shows (the newest edit's); null for a deleted post or one not here yet. */
  text: string | null
  replyTo: string | null
  attachments: AttachmentView[]
  mentions: string[]
  reactions: Record<string, number>
  replies: number
  reposts: number
  /** When the text that shows was written, if the post was edited. */
  edited: number | null
  deleted: boolean
  /** Known only as the parent of replies or the target of a repost: not arrived (or deleted before it did). */
  missing: boolean
  /** Its author is blocked or muted here (shown only as a placeholder in a thread). */
  hidden: boolean
  /** In a timeline: the repost that brought it there. */
  repost?: { id: string, by: string, name: string | null, ts: number }
}

export interface Page { posts: PostView[], next: string | null }

interface Cursor { ts: number, hash: Uint8Array }

export function parseCursor (text: unknown): Cursor | null {
  if (text === undefined || text === null || text === '') return null
  const m = typeof text === 'string' ? /^(\d{1,16})\.([0-9a-f]{64})$/.exec(text) : null
  if (m === null) throw new Error('a cursor is what "next" gave: TS.HASH')
  return { ts: Number(m[1]), hash: Buffer.from(m[2] ?? '', 'hex') }
}

const cursorText = (c: Cursor): string => `${c.ts}.${toHex(c.hash)}`

// ---- profiles ---------------------------------------------------------------------------

export interface ProfileRow { hash: Uint8Array, net: Uint8Array, account: Uint8Array, ts: number, name: string, bio: string, avatar: Uint8Array | null }

/** The account's profile: its newest profile entry in any network. */
export function latestProfile (db: DatabaseSync, account: Uint8Array): ProfileRow | undefined {
  return sql(db, 'SELECT hash, net, account, ts, name, bio, avatar FROM social_profiles WHERE account = ? ORDER BY ts DESC, hash DESC LIMIT 1').get(account) as ProfileRow | undefined
}

export function profileView (db: DatabaseSync, account: Uint8Array): { account: string, name: string | null, bio: string | null, avatar: AttachmentView | null, updated: number | null, posts: number, following: number, followers: number, blocked: boolean, muted: boolean } {
  const p = latestProfile(db, account)
  const count = (q: string): number => (sql(db, q).get(account) as { n: number }).n
  const kinds = (sql(db, 'SELECT kind FROM social_blocks WHERE account = ?').all(account) as Array<{ kind: string }>).map((r) => r.kind)
  return {
    account: toHex(account),
    name: p?.name ?? null,
    bio: p?.bio ?? null,
    avatar: p?.avatar === null || p?.avatar === undefined ? null : attachment(db, p.avatar),
    updated: p?.ts ?? null,
    posts: count('SELECT COUNT(*) AS n FROM social_posts WHERE author = ? AND deleted = 0'),
    following: count('SELECT COUNT(*) AS n FROM social_follows WHERE follower = ?'),
    followers: count('SELECT COUNT(*) AS n FROM social_follows WHERE followee = ?'),
    blocked: kinds.includes('block'),
    muted: kinds.includes('mute')
  }
}

function attachment (db: DatabaseSync, hash: Uint8Array): AttachmentView | null {
  const b = sql(db, 'SELECT type, length(data) AS size FROM social_blobs WHERE hash = ?').get(hash) as { type: string, size: number } | undefined
  return b === undefined ? null : { id: toHex(hash), type: b.type, size: b.size }
}

// ---- post views ---------------------------------------------------------------------------

interface PostRow {
  hash: Uint8Array, net: Uint8Array, author: Uint8Array, ts: number, parent: Uint8Array | null, repost_of: Uint8Array | null,
  text: string | null, attach: Uint8Array | null, mentions: Uint8Array | null, edited_ts: number | null, edit_text: string | null, deleted: number,
  replies: number, reposts: number, reactions: string | null
}

// One statement per post: its row, the edit that shows, and its counts (reactions as
// "emoji TAB count" lines, counting each unhidden account once per emoji).
const POST_ROW = `SELECT p.hash, p.net, p.author, p.ts, p.parent, p.repost_of, p.text, p.attach, p.mentions, p.edited_ts, p.deleted,
  (SELECT e.text FROM social_edits e WHERE e.hash = p.edited_hash) AS edit_text,
  (SELECT COUNT(*) FROM social_posts c WHERE c.parent = p.hash AND c.deleted = 0) AS replies,
  (SELECT COUNT(*) FROM social_posts r WHERE r.repost_of = p.hash) AS reposts,
  (SELECT group_concat(x.emoji || char(9) || x.n, char(10)) FROM (
    SELECT emoji, COUNT(DISTINCT author) AS n FROM social_reactions r WHERE r.post = p.hash
      AND NOT EXISTS (SELECT 1 FROM social_blocks b WHERE b.account = r.author) GROUP BY emoji ORDER BY n DESC, emoji) x) AS reactions
  FROM social_posts p WHERE p.hash = ?`

function reactionsOf (text: string | null): Record<string, number> {
  const out: Record<string, number> = {}
  if (text !== null) {
    for (const line of text.split('\n')) {
      const tab = line.lastIndexOf('\t')
      out[line.slice(0, tab)] = Number(line.slice(tab + 1))
    }
  }
  return out
}

/** Builds views for one read, remembering names and hidden accounts along the way. */
export class ViewBuilder {
  readonly #db: DatabaseSync
  readonly #names = new Map<string, string | null>()
  readonly #hidden = new Map<string, boolean>()
  readonly #nets = new Map<string, string>()

  constructor (db: DatabaseSync) { this.#db = db }

  name (account: Uint8Array): string | null {
    const k = toHex(account)
    let n = this.#names.get(k)
    if (n === undefined) {
      n = (sql(this.#db, 'SELECT name FROM social_profiles WHERE account = ? ORDER BY ts DESC, hash DESC LIMIT 1').get(account) as { name: string } | undefined)?.name ?? null
      if (n === '') n = null
      this.#names.set(k, n)
    }
    return n
  }

  /** A network's printable id (pn…), worked out once per read. */
  net (id: Uint8Array): string {
    const k = toHex(id)
    let n = this.#nets.get(k)
    if (n === undefined) {
      n = formatNetworkId(id)
      this.#nets.set(k, n)
    }
    return n
  }

  hidden (account: Uint8Array): boolean {
    const k = toHex(account)
    let h = this.#hidden.get(k)
    if (h === undefined) {
      h = sql(this.#db, 'SELECT 1 AS x FROM social_blocks WHERE account = ? LIMIT 1').get(account) !== undefined
      this.#hidden.set(k, h)
    }
    return h
  }

  row (hash: Uint8Array): PostRow | undefined {
    return sql(this.#db, POST_ROW).get(hash) as PostRow | undefined
  }

  /** A post (or repost) by hash; a placeholder when only its hash is known. */
  post (hash: Uint8Array, row?: PostRow): PostView {
    const r = row ?? this.row(hash)
    if (r === undefined) return this.missing(hash)
    const db = this.#db
    return {
      id: toHex(r.hash),
      net: this.net(r.net),
      author: toHex(r.author),
      name: this.name(r.author),
      ts: r.ts,
      text: r.deleted === 1 ? null : r.edit_text ?? r.text,
      replyTo: r.parent === null ? null : toHex(r.parent),
      attachments: split32(r.attach).flatMap((a) => attachment(db, a) ?? []),
      mentions: split32(r.mentions).map(toHex),
      reactions: reactionsOf(r.reactions),
      replies: r.replies,
      reposts: r.reposts,
      edited: r.edited_ts,
      deleted: r.deleted === 1,
      missing: false,
      hidden: this.hidden(r.author)
    }
  }

  missing (hash: Uint8Array): PostView {
    return { id: toHex(hash), net: '', author: '', name: null, ts: 0, text: null, replyTo: null, attachments: [], mentions: [], reactions: {}, replies: 0, reposts: 0, edited: null, deleted: false, missing: true, hidden: false }
  }

  /** A timeline item: a post, or the post a repost shares (with who reposted it). */
  item (hash: Uint8Array): PostView | undefined {
    const r = this.row(hash)
    if (r === undefined) return undefined
    if (r.repost_of === null) return this.post(hash, r)
    const shared = this.post(r.repost_of)
    if (shared.hidden || shared.deleted) return undefined
    return { ...shared, repost: { id: toHex(r.hash), by: toHex(r.author), name: this.name(r.author), ts: r.ts } }
  }
}

// ---- timelines ----------------------------------------------------------------------------

/** How many of the newest items the home timeline looks through before it walks the followed authors' own items instead. */
const HOME_WINDOW = 4000

type ItemRow = { hash: Uint8Array, ts: number }

const NOT_HIDDEN = 'NOT EXISTS (SELECT 1 FROM social_blocks b WHERE b.account = p.author)'
const FOLLOWED = '(p.author = $me OR EXISTS (SELECT 1 FROM social_follows f WHERE f.follower = $me AND f.followee = p.author))'
const BEFORE = '(p.ts, p.hash) < ($ts, $hash)'

const HOME_WINDOW_SQL = (after: boolean): string => `SELECT p.hash, p.ts FROM (
    SELECT hash, ts, author FROM social_posts INDEXED BY social_posts_by_ts ${after ? 'WHERE (ts, hash) < ($ts, $hash)' : ''}
    ORDER BY ts DESC, hash DESC LIMIT $window
  ) p WHERE ${FOLLOWED} AND ${NOT_HIDDEN} ORDER BY p.ts DESC, p.hash DESC LIMIT $limit`

const HOME_AUTHORS_SQL = (after: boolean): string => `SELECT p.hash, p.ts FROM social_posts p INDEXED BY social_posts_by_author
  WHERE p.author IN (SELECT followee FROM social_follows WHERE follower = $me UNION ALL SELECT $me)
  ${after ? `AND ${BEFORE}` : ''} AND ${NOT_HIDDEN} ORDER BY p.ts DESC, p.hash DESC LIMIT $limit`

/**
 * The newest home-timeline items (posts and reposts of the account and those it follows),
 * hashes only. Two plans, each served by an index: look through the newest HOME_WINDOW
 * items for followed ones (fast when the followed write a good share of what arrives),
 * and if that does not fill the page, walk each followed author's own items (fast when
 * they write little). Either way a page costs at most about HOME_WINDOW rows plus the
 * followed authors' items when they are under 1 in HOME_WINDOW / limit of all.
 */
/** The home timeline's two statements (for tests of their query plans). */
export const HOME_TIMELINE_SQL = { window: HOME_WINDOW_SQL, authors: HOME_AUTHORS_SQL }

export function homeItems (db: DatabaseSync, me: Uint8Array, limit: number, before: Cursor | null): ItemRow[] {
  const after = before !== null
  const cursor: Record<string, number | Uint8Array> = after ? { ts: before.ts, hash: before.hash } : {}
  const found = sql(db, HOME_WINDOW_SQL(after)).all({ me, limit, window: HOME_WINDOW, ...cursor }) as ItemRow[]
  if (found.length >= limit) return found
  return sql(db, HOME_AUTHORS_SQL(after)).all({ me, limit, ...cursor }) as ItemRow[]
}

const NET_FEED_SQL = (after: boolean): string => `SELECT p.hash, p.ts FROM social_posts p INDEXED BY social_posts_by_net
  WHERE p.net = $net ${after ? `AND ${BEFORE}` : ''} AND ${NOT_HIDDEN} ORDER BY p.ts DESC, p.hash DESC LIMIT $limit`

export function netItems (db: DatabaseSync, net: Uint8Array, limit: number, before: Cursor | null): ItemRow[] {
  const after = before !== null
  const cursor: Record<string, number | Uint8Array> = after ? { ts: before.ts, hash: before.hash } : {}
  return sql(db, NET_FEED_SQL(after)).all({ net, limit, ...cursor }) as ItemRow[]
}

/**
 * A page of views from an item source, newest first, leaving out deleted posts and (when
 * `networks` is given) networks this node is no longer in; `next` continues after it.
 */
export function page (db: DatabaseSync, items: (limit: number, before: Cursor | null) => ItemRow[], limit: number, before: Cursor | null, networks?: Uint8Array[]): Page {
  const member = networks === undefined ? undefined : new Set(networks.map(formatNetworkId))
  const views = new ViewBuilder(db)
  const posts: PostView[] = []
  let cursor = before
  for (let rounds = 0; posts.length < limit && rounds < 20; rounds++) {
    const want = limit - posts.length
    const rows = items(want, cursor)
    for (const row of rows) {
      cursor = { ts: row.ts, hash: row.hash }
      const v = views.item(row.hash)
      if (v === undefined || v.deleted || (member !== undefined && !member.has(v.net))) continue
      posts.push(v)
    }
    if (rows.length < want) return { posts, next: null }
  }
  return { posts, next: cursor === null || posts.length < limit ? null : cursorText(cursor) }
}

/** The home timeline's first page, as a benchmark reads it: `homeTimeline(db, account, 50)`. */
export function homeTimeline (db: DatabaseSync, account: Uint8Array, limit = 50, before: Cursor | null = null, networks?: Uint8Array[]): Page {
  return page(db, (n, c) => homeItems(db, account, n, c), limit, before, networks)
}

export function networkFeed (db: DatabaseSync, net: Uint8Array, limit = 50, before: Cursor | null = null): Page {
  return page(db, (n, c) => netItems(db, net, n, c), limit, before)
}

// ---- threads ------------------------------------------------------------------------------

const MAX_THREAD = 2000

export interface ThreadView { root: string, posts: Array<PostView & { depth: number }> }

/**
 * The whole thread a post is in: up to its root (a parent not here yet shows as a
 * placeholder, and its replies under it), then every reply depth first, oldest first
 * among siblings. Hidden authors' replies are left out with the replies under them.
 */
export function thread (db: DatabaseSync, hash: Uint8Array): ThreadView {
  const views = new ViewBuilder(db)
  let root = hash
  for (let i = 0; i < MAX_THREAD; i++) {
    const parent = views.row(root)?.parent
    if (parent === null || parent === undefined) break
    root = parent
  }
  const posts: Array<PostView & { depth: number }> = []
  const stack: Array<{ hash: Uint8Array, depth: number }> = [{ hash: root, depth: 0 }]
  const children = sql(db, 'SELECT hash, author FROM social_posts WHERE parent = ? ORDER BY ts DESC, hash DESC')
  while (stack.length > 0 && posts.length < MAX_THREAD) {
    const { hash: h, depth } = stack.pop() as { hash: Uint8Array, depth: number }
    const v = views.post(h)
    if (v.hidden && depth > 0) continue
    posts.push(depth === 0 && v.hidden ? { ...v, text: null, attachments: [], depth } : { ...v, depth })
    for (const c of children.all(h) as Array<{ hash: Uint8Array }>) stack.push({ hash: c.hash, depth: depth + 1 })
  }
  return { root: toHex(root), posts }
}

/** A post's text through time: its own, then each edit of its author's, oldest first. */
export function history (db: DatabaseSync, hash: Uint8Array): Array<{ id: string, ts: number, text: string, current: boolean }> {
  const p = sql(db, 'SELECT author, ts, text, edited_hash FROM social_posts WHERE hash = ? AND repost_of IS NULL').get(hash) as { author: Uint8Array, ts: number, text: string | null, edited_hash: Uint8Array | null } | undefined
  if (p === undefined || p.text === null) return []
  const edits = sql(db, 'SELECT hash, ts, text FROM social_edits WHERE post = ? AND author = ? ORDER BY ts, hash').all(hash, p.author) as Array<{ hash: Uint8Array, ts: number, text: string }>
  return [
    { id: toHex(hash), ts: p.ts, text: p.text, current: p.edited_hash === null },
    ...edits.map((e) => ({ id: toHex(e.hash), ts: e.ts, text: e.text, current: p.edited_hash !== null && Buffer.compare(e.hash, p.edited_hash) === 0 }))
  ]
}

// ---- notifications ------------------------------------------------------------------------

export interface NotificationView { kind: 'reply' | 'mention' | 'reaction', id: string, post: string, net: string, from: string, name: string | null, ts: number, text: string | null, emoji: string | null }

const NOTIFICATIONS_SQL = `SELECT * FROM (
    SELECT 'reply' AS kind, r.hash AS id, mine.hash AS post, r.net AS net, r.author AS who, r.ts AS ts, NULL AS emoji
      FROM social_posts mine JOIN social_posts r ON r.parent = mine.hash
      WHERE mine.author = $me AND r.author != $me AND r.deleted = 0
    UNION ALL
    SELECT 'mention', m.post, m.post, p.net, p.author, m.ts, NULL
      FROM social_mentions m JOIN social_posts p ON p.hash = m.post
      WHERE m.account = $me AND p.author != $me AND p.deleted = 0
    UNION ALL
    SELECT 'reaction', x.hash, x.post, x.net, x.author, x.ts, x.emoji
      FROM social_posts mine JOIN social_reactions x ON x.post = mine.hash
      WHERE mine.author = $me AND x.author != $me AND mine.deleted = 0
  ) n WHERE NOT EXISTS (SELECT 1 FROM social_blocks b WHERE b.account = n.who)
  ORDER BY n.ts DESC, n.id DESC LIMIT $limit`

/** Replies to the account's posts, mentions of it, and reactions to its posts, newest first (a reply that mentions it counts once). */
export function notifications (db: DatabaseSync, me: Uint8Array, limit = 50, networks?: Uint8Array[]): NotificationView[] {
  const member = networks === undefined ? undefined : new Set(networks.map(formatNetworkId))
  const views = new ViewBuilder(db)
  const seen = new Set<string>()
  const out: NotificationView[] = []
  for (const r of sql(db, NOTIFICATIONS_SQL).all({ me, limit: limit * 2 }) as Array<{ kind: NotificationView['kind'], id: Uint8Array, post: Uint8Array, net: Uint8Array, who: Uint8Array, ts: number, emoji: string | null }>) {
    const id = toHex(r.id)
    const net = formatNetworkId(r.net)
    if (seen.has(id) || (member !== undefined && !member.has(net))) continue
    seen.add(id)
    const text = r.kind === 'reaction' ? null : views.post(r.id).text
    out.push({ kind: r.kind, id, post: toHex(r.post), net, from: toHex(r.who), name: views.name(r.who), ts: r.ts, text, emoji: r.emoji })
    if (out.length >= limit) break
  }
  return out
}
