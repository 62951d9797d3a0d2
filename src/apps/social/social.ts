// The social app: profiles, posts (a markdown subset, mentions, image attachments),
// replies forming threads, reactions, reposts, edits with their history, deletes, follows,
// a home timeline across every social network this node is in, notifications, and
// local blocks and mutes. Built only on the app interface (src/networks/app.ts).

import type { DatabaseSync } from 'node:sqlite'
import { defineApp } from '../../networks/app.ts'
import type { AppEntry, AppEvent, AppQueryContext } from '../../networks/app.ts'
import { InvalidRecordError } from '../../networks/errors.ts'
import { toHex } from '../../networks/hashing.ts'
import { decodeBlob, decodeEdit, decodeFollow, decodePost, decodeProfile, decodeReact, decodeRepost } from './bodies.ts'
import type { EditBody, FollowBody, PostBody, ReactBody, RepostBody } from './bodies.ts'
import { forget, reduceBlob, reduceEdit, reduceFollow, reducePost, reduceProfile, reduceReact, reduceRepost, validateEdit, validateFollow } from './reducer.ts'
import { SOCIAL_MIGRATIONS } from './schema.ts'
import { history, homeTimeline, networkFeed, notifications, parseCursor, profileView, thread, ViewBuilder } from './timeline.ts'
import { resolveAccount, resolvePost, resolveThreadRoot } from './resolve.ts'
import { blobQuery, blockCommand, deleteCommand, editCommand, followCommand, postCommand, profileSetCommand, reactCommand, repostCommand } from './commands.ts'
import { isBlocked, isHidden, listBlocks } from './blocks.ts'
import { dmAccountCommands, dmAccountQueries, dmEvent, dmMigration, dmTypes, forgetDm } from './dm.ts'
import { sql } from './statements.ts'
import { resetNetwork } from './reset.ts'

function limitOf (params: Record<string, unknown>, fallback = 50, max = 500): number {
  const v = params.limit
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new InvalidRecordError(`limit must be a whole number from 1 to ${max}`)
  return n
}

function cursorOf (params: Record<string, unknown>): ReturnType<typeof parseCursor> {
  try {
    return parseCursor(params.before)
  } catch (err) {
    throw new InvalidRecordError((err as Error).message, { hint: 'pass the "next" of the previous page' })
  }
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0
const clip = (s: string, n = 80): string => s.length <= n ? s : `${s.slice(0, n - 1)}…`

/** Live events: every post, reply, mention, reaction, edit, repost and follow seen here, from accounts not hidden. */
function events (ctx: AppQueryContext, entries: AppEntry[], local: boolean): AppEvent[] {
  const out: AppEvent[] = []
  const { db, account: me } = ctx
  const views = new ViewBuilder(db)
  const who = (a: Uint8Array): string => views.name(a) ?? `${toHex(a).slice(0, 8)}…`
  for (const e of entries) {
    if (isHidden(db, e.author)) continue
    const base = { id: toHex(e.hash), author: toHex(e.author), name: views.name(e.author), local }
    const mine = !same(e.author, me)
    switch (e.type) {
      case 'social/post': {
        const b = e.body as PostBody
        out.push({ kind: 'post', data: { ...base, text: b.text, replyTo: b.reply === undefined ? null : toHex(b.reply), summary: `${who(e.author)}: ${clip(b.text)}` } })
        if (!mine) break
        const parent = b.reply === undefined ? undefined : sql(db, 'SELECT author FROM social_posts WHERE hash = ?').get(b.reply) as { author: Uint8Array } | undefined
        if (parent !== undefined && same(parent.author, me)) out.push({ kind: 'reply', data: { ...base, post: toHex(b.reply as Uint8Array), text: b.text, summary: `${who(e.author)} replied: ${clip(b.text)}` } })
        else if (b.mentions?.some((m) => same(m, me)) === true) out.push({ kind: 'mention', data: { ...base, text: b.text, summary: `${who(e.author)} mentioned you: ${clip(b.text)}` } })
        break
      }
      case 'social/react': {
        const b = e.body as ReactBody
        const post = sql(db, 'SELECT author FROM social_posts WHERE hash = ?').get(b.post) as { author: Uint8Array } | undefined
        const onMine = post !== undefined && same(post.author, me)
        out.push({ kind: onMine && mine ? 'reaction' : 'react', data: { ...base, post: toHex(b.post), emoji: b.emoji, summary: `${who(e.author)} reacted ${b.emoji} to ${toHex(b.post).slice(0, 8)}…` } })
        break
      }
      case 'social/edit': {
        const b = e.body as EditBody
        out.push({ kind: 'edit', data: { ...base, post: toHex(b.post), text: b.text, summary: `${who(e.author)} edited ${toHex(b.post).slice(0, 8)}…: ${clip(b.text)}` } })
        break
      }
      case 'social/repost': {
        const b = e.body as RepostBody
        out.push({ kind: 'repost', data: { ...base, post: toHex(b.post), summary: `${who(e.author)} reposted ${toHex(b.post).slice(0, 8)}…` } })
        break
      }
      case 'social/follow': {
        const b = e.body as FollowBody
        if (same(b.account, me) && mine) out.push({ kind: b.on ? 'follow' : 'unfollow', data: { ...base, summary: `${who(e.author)} ${b.on ? 'follows' : 'stopped following'} you` } })
        break
      }
      case 'social/profile':
        out.push({ kind: 'profile', data: { ...base, summary: `${who(e.author)} updated their profile` } })
        break
      case 'social/dm': {
        const ev = dmEvent(db, me, e)
        if (ev !== undefined) out.push(ev)
        break
      }
    }
  }
  return out
}

export const socialApp = defineApp({
  name: 'social',
  types: {
    post: { decode: decodePost, reduce: reducePost },
    edit: { decode: decodeEdit, validate: validateEdit, reduce: reduceEdit },
    react: { decode: decodeReact, reduce: reduceReact },
    repost: { decode: decodeRepost, reduce: reduceRepost },
    blob: { decode: decodeBlob, reduce: reduceBlob },
    profile: { decode: decodeProfile, reduce: reduceProfile },
    follow: { decode: decodeFollow, validate: validateFollow, reduce: reduceFollow },
    ...dmTypes
  },
  migrations: [...SOCIAL_MIGRATIONS, { ...dmMigration, version: SOCIAL_MIGRATIONS.length + 1 }],
  forget: (db, e) => {
    forget(db, e)
    forgetDm(db, e)
  },
  // A block stops this node from keeping and passing on the account's entries (its
  // membership entries still count): blockCommand tells the networks layer when it changes.
  refuseAuthor: (db, _net, author) => isBlocked(db, author) ? 'blocked here' : undefined,
  reset: resetNetwork,
  // Every reducer settles by (ts, hash) or inserts once: arrival order never mattered.
  orderFree: true,
  // The timelines' indexes: the reducers look posts up by hash only.
  queryIndexes: ['social_posts_by_ts', 'social_posts_by_author', 'social_posts_by_net'],
  queries: {
    /** The network's own feed: every member's posts and reposts, newest first. */
    feed: (db, net, params) => networkFeed(db, net, limitOf(params), cursorOf(params))
  },
  commands: {
    post: postCommand
  },
  accountQueries: {
    feed: (ctx, params) => homeTimeline(ctx.db, ctx.account, limitOf(params), cursorOf(params), ctx.networks),
    thread: (ctx, params) => thread(ctx.db, resolveThreadRoot(ctx.db, params.id)),
    history: (ctx, params) => ({ post: toHex(resolvePost(ctx.db, params.id).hash), versions: history(ctx.db, resolvePost(ctx.db, params.id).hash) }),
    notifications: (ctx, params) => notifications(ctx.db, ctx.account, limitOf(params), ctx.networks),
    profile: (ctx, params) => profileView(ctx.db, params.account === undefined || params.account === '' ? ctx.account : resolveAccount(ctx.db, params.account)),
    following: (ctx) => followingOf(ctx.db, ctx.account),
    blocks: (ctx) => listBlocks(ctx.db).map((b) => ({ account: toHex(b.account), kind: b.kind, ts: b.ts })),
    blob: blobQuery,
    ...dmAccountQueries
  },
  accountCommands: {
    react: reactCommand,
    repost: repostCommand,
    edit: editCommand,
    delete: deleteCommand,
    follow: async (ctx, params) => await followCommand(ctx, params, true),
    unfollow: async (ctx, params) => await followCommand(ctx, params, false),
    profile: profileSetCommand,
    block: async (ctx, params) => await Promise.resolve(blockCommand(ctx, params, 'block', true)),
    unblock: async (ctx, params) => await Promise.resolve(blockCommand(ctx, params, 'block', false)),
    mute: async (ctx, params) => await Promise.resolve(blockCommand(ctx, params, 'mute', true)),
    unmute: async (ctx, params) => await Promise.resolve(blockCommand(ctx, params, 'mute', false)),
    ...dmAccountCommands
  },
  events
})

function followingOf (db: DatabaseSync, me: Uint8Array): Array<{ account: string, name: string | null }> {
  const views = new ViewBuilder(db)
  return (sql(db, 'SELECT followee FROM social_follows WHERE follower = ?').all(me) as Array<{ followee: Uint8Array }>)
    .map((r) => ({ account: toHex(r.followee), name: views.name(r.followee) }))
}
