// The social app's commands: what `peernet social …` asks the node to write. Each checks
// its input here first (a clear error, nothing written) with the same decoders every peer
// applies to the entries, then appends them through the app interface. Posting never
// needs a peer: entries land in the local log and sync when members are reachable.

import type { AppCommandContext, AppQueryContext } from '../../networks/app.ts'
import type { CanonicalValue } from '../../core/encoding.ts'
import { InvalidRecordError, NotPermittedError, UnknownEntryError } from '../../networks/errors.ts'
import { formatNetworkId } from '../../networks/manifest.ts'
import { toHex } from '../../networks/hashing.ts'
import { MAX_DELETE_TARGETS } from '../../networks/log-store.ts'
import { bodyValue, decodeEdit, decodePost, decodeProfile, emojiProblem, MAX_ATTACHMENTS } from './bodies.ts'
import { imageProblem } from './images.ts'
import { resolveAccount, resolveMentions, resolvePost } from './resolve.ts'
import type { ResolvedPost } from './resolve.ts'
import { latestProfile, profileView } from './timeline.ts'
import { setBlock } from './blocks.ts'
import type { BlockKind } from './blocks.ts'
import { sql } from './statements.ts'
import { split32 } from './reducer.ts'

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0

/** The body of an entry as this node would write it: checked by `decode` (every peer's check) first. */
function checked<T> (decode: (v: CanonicalValue) => T, body: object, hint: string): CanonicalValue {
  const value = bodyValue(body)
  try {
    decode(value)
  } catch (err) {
    throw new InvalidRecordError((err as Error).message, { hint })
  }
  return value
}

/** Images sent as base64 strings; each must be PNG, JPEG, GIF or WebP and small enough. */
function images (value: unknown, what: string): Uint8Array[] {
  if (value === undefined || value === null) return []
  const list = Array.isArray(value) ? value : [value]
  if (list.length > MAX_ATTACHMENTS) throw new InvalidRecordError(`a post has at most ${MAX_ATTACHMENTS} attachments`)
  return list.map((v, i) => {
    if (typeof v !== 'string') throw new InvalidRecordError(`${what} ${i + 1} must be base64 bytes`)
    const bytes = new Uint8Array(Buffer.from(v, 'base64'))
    const why = imageProblem(bytes)
    if (why !== undefined) throw new InvalidRecordError(`${what}${list.length > 1 ? ` ${i + 1}` : ''}: ${why}`, { hint: 'attach a PNG, JPEG, GIF or WebP image under 60 KiB' })
    return bytes
  })
}

function text (params: Record<string, unknown>, field: string): string {
  const t = params[field]
  if (typeof t !== 'string') throw new InvalidRecordError(`field "${field}" must be text`)
  return t
}

function ownPost (ctx: AppQueryContext, post: ResolvedPost, verb: string): void {
  if (!same(post.author, ctx.account)) throw new NotPermittedError(`post ${toHex(post.hash).slice(0, 12)}… is by ${toHex(post.author).slice(0, 12)}…; only its author can ${verb} it`)
  if (post.deleted) throw new NotPermittedError(`post ${toHex(post.hash).slice(0, 12)}… is deleted`)
}

function inMemberNetwork (ctx: AppQueryContext, net: Uint8Array): void {
  if (!ctx.networks.some((n) => same(n, net))) throw new NotPermittedError(`that post is in network ${formatNetworkId(net)}, which this node left`, { hint: 'join it again first' })
}

function socialNetworks (ctx: AppQueryContext): Uint8Array[] {
  if (ctx.networks.length === 0) throw new NotPermittedError('this node is in no social network', { hint: 'create one (`peernet net create NAME --app social`) or join one' })
  return ctx.networks
}

/**
 * A profile is account-wide but entries live in networks: the first time the account
 * writes in a network its profile has not reached, the newest profile (and its avatar
 * blob) is copied there, so that network's members see who is posting.
 */
async function ensureProfileIn (ctx: AppCommandContext, net: Uint8Array): Promise<void> {
  const latest = latestProfile(ctx.db, ctx.account)
  if (latest === undefined) return
  if (sql(ctx.db, 'SELECT 1 AS x FROM social_profiles WHERE account = ? AND net = ? LIMIT 1').get(ctx.account, net) !== undefined) return
  await writeProfile(ctx, net, { name: latest.name, bio: latest.bio, avatar: latest.avatar === null ? undefined : avatarBytes(ctx, latest.avatar) })
}

function avatarBytes (ctx: AppQueryContext, hash: Uint8Array): Uint8Array | undefined {
  return (sql(ctx.db, 'SELECT data FROM social_blobs WHERE hash = ?').get(hash) as { data: Uint8Array } | undefined)?.data
}

async function writeProfile (ctx: AppCommandContext, net: Uint8Array, p: { name: string, bio: string, avatar: Uint8Array | undefined }): Promise<void> {
  const avatar = p.avatar === undefined ? undefined : (await ctx.append(net, 'social/blob', { data: p.avatar })).hash
  await ctx.append(net, 'social/profile', bodyValue({ name: p.name, bio: p.bio, avatar }))
}

/** Appends one entry in each social network this node is in (account-wide things: follows, profiles). */
async function everywhere (ctx: AppCommandContext, write: (net: Uint8Array) => Promise<void>): Promise<number> {
  let written = 0
  let first: unknown
  for (const net of socialNetworks(ctx)) {
    try {
      await write(net)
      written++
    } catch (err) {
      first ??= err
    }
  }
  if (written === 0) throw first
  return written
}

/** A reply's parent: a post here, or the hash of one not here yet named by its full id (64 hex digits); a prefix must match. */
function parentOf (ctx: AppQueryContext, text: unknown): ResolvedPost | Uint8Array {
  try {
    return resolvePost(ctx.db, text)
  } catch (err) {
    if (err instanceof UnknownEntryError && typeof text === 'string' && /^[0-9a-f]{64}$/i.test(text.trim())) return new Uint8Array(Buffer.from(text.trim(), 'hex'))
    throw err
  }
}

export async function postCommand (ctx: AppCommandContext, net: Uint8Array, params: Record<string, unknown>): Promise<unknown> {
  const t = typeof params.text === 'string' ? params.text : ''
  const attach = images(params.attach, 'attachment')
  let reply: Uint8Array | undefined
  let parentHere = true
  if (params.replyTo !== undefined && params.replyTo !== null) {
    const parent = parentOf(ctx, params.replyTo)
    if (parent instanceof Uint8Array) {
      // A post not here yet, named by its full id (someone passed it on): the reply is kept
      // and shows under it once it arrives, here and on every member.
      reply = parent
      parentHere = false
    } else if (!same(parent.net, net)) throw new InvalidRecordError(`post ${toHex(parent.hash).slice(0, 12)}… is in network ${formatNetworkId(parent.net)}`, { hint: 'a reply goes in its parent\'s network: give that network' })
    else if (parent.repostOf !== null) throw new InvalidRecordError('that is a repost; reply to the post it shares', { hint: `its id is ${toHex(parent.repostOf)}` })
    else reply = parent.hash
  }
  const mentions = resolveMentions(ctx.db, t)
  // The post's shape is checked before any image is written (nothing half-way): each
  // attachment's hash, not known yet, stands in as 32 zero bytes.
  const standIns = attach.map(() => new Uint8Array(32))
  checked(decodePost, { text: t, reply, attach: standIns.length > 0 ? standIns : undefined, mentions: mentions.length > 0 ? mentions : undefined }, 'posts have up to 5000 characters (or none, with an attachment)')
  await ensureProfileIn(ctx, net)
  const blobs: Uint8Array[] = []
  for (const data of attach) blobs.push((await ctx.append(net, 'social/blob', { data })).hash)
  const e = await ctx.append(net, 'social/post', bodyValue({ text: t, reply, attach: blobs.length > 0 ? blobs : undefined, mentions: mentions.length > 0 ? mentions : undefined }))
  return { id: toHex(e.hash), net: formatNetworkId(net), ts: e.ts, replyTo: reply === undefined ? null : toHex(reply), parentHere, mentions: mentions.map(toHex), attachments: blobs.map(toHex) }
}

export async function reactCommand (ctx: AppCommandContext, params: Record<string, unknown>): Promise<unknown> {
  const post = resolvePost(ctx.db, params.id)
  const emoji = text(params, 'emoji').trim()
  const why = emojiProblem(emoji)
  if (why !== undefined) throw new InvalidRecordError(why, { hint: 'react with one emoji, e.g. 👍' })
  if (post.deleted) throw new NotPermittedError('that post is deleted')
  inMemberNetwork(ctx, post.net)
  const target = post.repostOf ?? post.hash
  const had = sql(ctx.db, 'SELECT hash FROM social_reactions WHERE post = ? AND author = ? AND emoji = ?').get(target, ctx.account, emoji) as { hash: Uint8Array } | undefined
  if (had !== undefined) return { id: toHex(had.hash), post: toHex(target), emoji, already: true }
  const e = await ctx.append(post.net, 'social/react', { post: target, emoji })
  return { id: toHex(e.hash), post: toHex(target), emoji, already: false }
}

export async function repostCommand (ctx: AppCommandContext, params: Record<string, unknown>): Promise<unknown> {
  const post = resolvePost(ctx.db, params.id)
  if (post.deleted) throw new NotPermittedError('that post is deleted')
  inMemberNetwork(ctx, post.net)
  const target = post.repostOf ?? post.hash
  const e = await ctx.append(post.net, 'social/repost', { post: target })
  return { id: toHex(e.hash), post: toHex(target) }
}

export async function editCommand (ctx: AppCommandContext, params: Record<string, unknown>): Promise<unknown> {
  const post = resolvePost(ctx.db, params.id)
  ownPost(ctx, post, 'edit')
  if (post.repostOf !== null) throw new InvalidRecordError('a repost has no text to edit')
  inMemberNetwork(ctx, post.net)
  const t = text(params, 'text')
  const mentions = resolveMentions(ctx.db, t)
  const body = checked(decodeEdit, { post: post.hash, text: t, mentions: mentions.length > 0 ? mentions : undefined }, 'an edit has 1–5000 characters')
  const e = await ctx.append(post.net, 'social/edit', body)
  return { id: toHex(e.hash), post: toHex(post.hash), ts: e.ts }
}

export async function deleteCommand (ctx: AppCommandContext, params: Record<string, unknown>): Promise<unknown> {
  const post = resolvePost(ctx.db, params.id)
  ownPost(ctx, post, 'delete')
  inMemberNetwork(ctx, post.net)
  // The post, its edits and its attachments (this account's blobs): every body holding its text or images.
  const targets = [post.hash]
  for (const e of sql(ctx.db, 'SELECT hash FROM social_edits WHERE post = ? AND author = ?').all(post.hash, ctx.account) as Array<{ hash: Uint8Array }>) targets.push(e.hash)
  const attach = (sql(ctx.db, 'SELECT attach FROM social_posts WHERE hash = ?').get(post.hash) as { attach: Uint8Array | null }).attach
  for (const b of split32(attach)) {
    const blob = sql(ctx.db, 'SELECT author FROM social_blobs WHERE hash = ?').get(b) as { author: Uint8Array } | undefined
    if (blob !== undefined && same(blob.author, ctx.account)) targets.push(b)
  }
  await ctx.deleteEntries(post.net, targets.slice(0, MAX_DELETE_TARGETS))
  return { deleted: toHex(post.hash), entries: targets.map(toHex) }
}

export async function followCommand (ctx: AppCommandContext, params: Record<string, unknown>, on: boolean): Promise<unknown> {
  const account = resolveAccount(ctx.db, params.account)
  if (same(account, ctx.account)) throw new InvalidRecordError('that is your own account', { hint: 'your own posts are in your timeline already' })
  const following = sql(ctx.db, 'SELECT 1 AS x FROM social_follows WHERE follower = ? AND followee = ?').get(ctx.account, account) !== undefined
  if (following === on) return { account: toHex(account), following: on, changed: false }
  const networks = await everywhere(ctx, async (net) => { await ctx.append(net, 'social/follow', { account, on }) })
  return { account: toHex(account), following: on, changed: true, networks }
}

export async function profileSetCommand (ctx: AppCommandContext, params: Record<string, unknown>): Promise<unknown> {
  const current = latestProfile(ctx.db, ctx.account)
  const name = params.name === undefined ? current?.name ?? '' : text(params, 'name')
  const bio = params.bio === undefined ? current?.bio ?? '' : text(params, 'bio')
  let avatar: Uint8Array | undefined
  if (params.avatar === '' || params.avatar === null) avatar = undefined
  else if (params.avatar !== undefined) avatar = images(params.avatar, 'avatar')[0]
  else if (current?.avatar !== null && current?.avatar !== undefined) avatar = avatarBytes(ctx, current.avatar)
  checked(decodeProfile, { name, bio, avatar: avatar === undefined ? undefined : new Uint8Array(32) }, `a name has up to 64 characters on one line, a bio up to 1000`)
  const networks = await everywhere(ctx, async (net) => { await writeProfile(ctx, net, { name, bio, avatar }) })
  return { ...profileView(ctx.db, ctx.account), networks }
}

export function blockCommand (ctx: AppCommandContext, params: Record<string, unknown>, kind: BlockKind, on: boolean): { account: string, kind: BlockKind, on: boolean, changed: boolean } {
  const account = resolveAccount(ctx.db, params.account)
  if (same(account, ctx.account)) throw new InvalidRecordError(`you cannot ${kind} your own account`)
  const changed = setBlock(ctx.db, account, kind, on, Date.now())
  // A block (not a mute) changes what this node keeps and passes on of the account.
  if (changed && kind === 'block') ctx.refusalsChanged(account)
  return { account: toHex(account), kind, on, changed }
}

export function blobQuery (ctx: AppQueryContext, params: Record<string, unknown>): { id: string, type: string, data: string } {
  const t = typeof params.id === 'string' ? params.id.trim().toLowerCase() : ''
  const row = /^[0-9a-f]{64}$/.test(t) ? sql(ctx.db, 'SELECT type, data FROM social_blobs WHERE hash = ?').get(Buffer.from(t, 'hex')) as { type: string, data: Uint8Array } | undefined : undefined
  if (row === undefined) throw new UnknownEntryError(`no image ${t.slice(0, 16)}… here`, { hint: 'ids of images are in posts\' "attachments" and profiles\' "avatar" (64 hex digits)' })
  return { id: t, type: row.type, data: Buffer.from(row.data).toString('base64') }
}
