// `peernet social …`: the social app, through the app interface's routes — per network
// (/v1/networks/:net/app/…: post, a network's feed) and account-wide (/v1/apps/social/…:
// the home timeline, threads, reactions, edits, follows, profiles, blocks, notifications).

import { readFileSync, statSync, writeFileSync } from 'node:fs'
import type { Command, CommandContext } from '../command.ts'
import { positiveIntFlag } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import { PeernetError, UsageError } from '../../core/errors.ts'
import type { NotificationView, Page, PostView, ThreadView } from '../../apps/social/timeline.ts'
import { renderMarkdown, ANSI, PLAIN } from '../../apps/social/markdown.ts'
import { imageProblem, MAX_IMAGE_BYTES } from '../../apps/social/images.ts'

const APP = '/v1/apps/social'
const netPath = (net: string, name: string): string => `/v1/networks/${encodeURIComponent(net)}/app/${name}`
const query = (params: Record<string, string | number | undefined>): string => {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v))
  const s = q.toString()
  return s === '' ? '' : `?${s}`
}

/** An image file as base64, checked here first (type by magic number, size) so a bad file fails before the daemon sees it. */
function imageFile (path: string, flag: string): string {
  let bytes: Uint8Array
  try {
    if (statSync(path).size > MAX_IMAGE_BYTES) throw new UsageError(`${path} is ${statSync(path).size} bytes; an image may have at most ${MAX_IMAGE_BYTES} (${MAX_IMAGE_BYTES / 1024} KiB)`, { hint: 'shrink or recompress it' })
    bytes = readFileSync(path)
  } catch (err) {
    if (err instanceof PeernetError) throw err
    throw new UsageError(`cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'give the path of an image file' })
  }
  const why = imageProblem(bytes)
  if (why !== undefined) throw new UsageError(`${path}: ${why}`, { hint: 'attach a PNG, JPEG, GIF or WebP image' })
  return Buffer.from(bytes).toString('base64')
}

const short = (hex: string): string => hex.slice(0, 10)
const who = (account: string, name: string | null): string => name === null ? short(account) : `${name} (${account.slice(0, 8)})`
const style = (): typeof PLAIN => process.stdout.isTTY ? ANSI : PLAIN

/** A post as terminal lines: a header, the rendered text, attachments, and its counts. */
export function postLines (p: PostView, indent = ''): string[] {
  if (p.missing) return [`${indent}${short(p.id)}  [not here yet]`]
  const head = `${indent}${short(p.id)}  ${who(p.author, p.name)}  ${new Date(p.ts).toISOString()}${p.edited === null ? '' : '  (edited)'}`
  const lines = p.repost === undefined ? [head] : [`${indent}↻ reposted by ${who(p.repost.by, p.repost.name)}`, head]
  if (p.hidden) return [`${indent}${short(p.id)}  [hidden: blocked or muted]`]
  if (p.deleted) return [...lines, `${indent}  [deleted]`]
  for (const l of renderMarkdown(p.text ?? '', style())) lines.push(`${indent}  ${l}`)
  for (const a of p.attachments) lines.push(`${indent}  [${a.type} ${a.size} B  ${short(a.id)}]`)
  const counts = [
    p.replyTo === null ? '' : `↳ ${short(p.replyTo)}`,
    ...Object.entries(p.reactions).map(([e, n]) => `${e} ${n}`),
    p.replies > 0 ? `${p.replies} ${p.replies === 1 ? 'reply' : 'replies'}` : '',
    p.reposts > 0 ? `${p.reposts} repost${p.reposts === 1 ? '' : 's'}` : ''
  ].filter((s) => s !== '')
  if (counts.length > 0) lines.push(`${indent}  ${counts.join('  ')}`)
  return lines
}

function printPage (ctx: CommandContext, page: Page): void {
  ctx.print(page, () => page.posts.length === 0
    ? ['nothing yet: follow accounts (`peernet social follow ACCOUNT`) or post (`peernet social post NET TEXT`)']
    : [...page.posts.flatMap((p) => [...postLines(p), '']), ...(page.next === null ? [] : [`more: --before ${page.next}`])])
}

const client = (ctx: CommandContext): ApiClient => new ApiClient(ctx.home)
const ACCOUNT_HELP = '  ACCOUNT            an account key, 8+ hex digits of one seen here, or a profile name'
const ID_HELP = '  ID                 a post id (hex; 8+ digits are enough), as `social feed` prints it'

function simple (name: string, summary: string, command: string, field: 'id' | 'account', help: string, human: (r: Record<string, unknown>) => string): Command {
  return {
    name: `social ${name}`,
    summary,
    usage: `social ${name} ${field === 'id' ? 'ID' : 'ACCOUNT'} [--json]`,
    help,
    options: {},
    read: true,
    positionals: { min: 1, max: 1 },
    run: async (ctx) => {
      const r = await client(ctx).post<Record<string, unknown>>(`${APP}/${command}`, { [field]: ctx.positionals[0] })
      ctx.print(r, () => [human(r)])
    }
  }
}

export const socialPostCommand: Command = {
  name: 'social post',
  summary: 'Post to a social network (works offline; syncs when members are reachable).',
  usage: 'social post NET TEXT [--reply-to ID] [--attach FILE]… [--json]',
  help: `  TEXT               up to 5000 characters: **bold**, *italic*, \`code\`, [text](https://…),
                     "> " quotes, "- " lists; @name or @key-prefix mentions an account
  --reply-to ID      reply to a post (in the same network); one not here yet by its full id
  --attach FILE      attach a PNG, JPEG, GIF or WebP image up to 60 KiB (up to 4 times)`,
  options: { 'reply-to': { type: 'string' }, attach: { type: 'string', multiple: true } },
  read: true,
  positionals: { min: 2, max: 2 },
  run: async (ctx) => {
    const [net, text] = ctx.positionals as [string, string]
    const attach = ((ctx.values.attach ?? []) as string[]).map((f) => imageFile(f, '--attach'))
    if (attach.length > 4) throw new UsageError('at most 4 attachments')
    const replyTo = typeof ctx.values['reply-to'] === 'string' ? ctx.values['reply-to'] : undefined
    const r = await client(ctx).post<{ id: string, mentions: string[], attachments: string[], parentHere: boolean }>(netPath(net, 'post'), { text, ...(replyTo === undefined ? {} : { replyTo }), ...(attach.length === 0 ? {} : { attach }) })
    ctx.print(r, () => [
      `posted ${r.id}${r.mentions.length > 0 ? `  (mentions ${r.mentions.map(short).join(', ')})` : ''}`,
      ...(r.parentHere ? [] : ['the post it replies to is not here yet; the reply shows under it once it arrives'])
    ])
  }
}

export const socialFeedCommand: Command = {
  name: 'social feed',
  summary: 'The home timeline (you and whom you follow, every network), or one network\'s feed.',
  usage: 'social feed [NET] [--limit N] [--before CURSOR] [--json]',
  help: `  NET                one network's feed: every member's posts
  --limit N          posts per page (default 20, at most 500)
  --before CURSOR    the next page: the cursor the previous page printed`,
  options: { limit: { type: 'string' }, before: { type: 'string' } },
  read: true,
  positionals: { min: 0, max: 1 },
  run: async (ctx) => {
    const q = query({ limit: positiveIntFlag(ctx, 'limit', 20, 500), before: typeof ctx.values.before === 'string' ? ctx.values.before : undefined })
    const net = ctx.positionals[0]
    printPage(ctx, await client(ctx).get<Page>(net === undefined ? `${APP}/feed${q}` : `${netPath(net, 'feed')}${q}`))
  }
}

export const socialThreadCommand: Command = {
  name: 'social thread',
  summary: 'A post\'s whole thread: its root and every reply, indented.',
  usage: 'social thread ID [--json]',
  help: ID_HELP,
  options: {},
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    const t = await client(ctx).get<ThreadView>(`${APP}/thread${query({ id: ctx.positionals[0] })}`)
    ctx.print(t, () => t.posts.flatMap((p) => postLines(p, '  '.repeat(p.depth))))
  }
}

export const socialHistoryCommand: Command = {
  name: 'social history',
  summary: 'A post\'s edits: every version of its text, oldest first.',
  usage: 'social history ID [--json]',
  help: ID_HELP,
  options: {},
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    const h = await client(ctx).get<{ post: string, versions: Array<{ id: string, ts: number, text: string, current: boolean }> }>(`${APP}/history${query({ id: ctx.positionals[0] })}`)
    ctx.print(h, () => h.versions.length === 0 ? ['no text (deleted, or a repost)'] : h.versions.flatMap((v) => [`${new Date(v.ts).toISOString()}${v.current ? '  (shown)' : ''}`, ...renderMarkdown(v.text, style()).map((l) => `  ${l}`)]))
  }
}

export const socialReactCommand: Command = {
  name: 'social react',
  summary: 'React to a post with an emoji.',
  usage: 'social react ID EMOJI [--json]',
  help: ID_HELP,
  options: {},
  read: true,
  positionals: { min: 2, max: 2 },
  run: async (ctx) => {
    const [id, emoji] = ctx.positionals as [string, string]
    const r = await client(ctx).post<{ post: string, emoji: string, already: boolean }>(`${APP}/react`, { id, emoji })
    ctx.print(r, () => [r.already ? `you reacted ${r.emoji} to ${short(r.post)} already` : `reacted ${r.emoji} to ${short(r.post)}`])
  }
}

export const socialEditCommand: Command = {
  name: 'social edit',
  summary: 'Edit your post (its earlier text stays in its history).',
  usage: 'social edit ID TEXT [--json]',
  help: ID_HELP,
  options: {},
  read: true,
  positionals: { min: 2, max: 2 },
  run: async (ctx) => {
    const [id, text] = ctx.positionals as [string, string]
    const r = await client(ctx).post<{ post: string }>(`${APP}/edit`, { id, text })
    ctx.print(r, () => [`edited ${short(r.post)}`])
  }
}

export const socialRepostCommand = simple('repost', 'Repost a post into your followers\' timelines.', 'repost', 'id', ID_HELP, (r) => `reposted ${short(String(r.post))}`)
export const socialDeleteCommand = simple('delete', 'Delete your post: its text, edits and images go here and on every member; a signed tombstone stays.', 'delete', 'id', ID_HELP, (r) => `deleted ${short(String(r.deleted))} (${(r.entries as unknown[]).length} entries)`)
const followText = (r: Record<string, unknown>): string => r.changed === true ? `${r.following === true ? 'following' : 'no longer following'} ${short(String(r.account))}` : `${r.following === true ? 'already following' : 'not following'} ${short(String(r.account))}`
export const socialFollowCommand = simple('follow', 'Follow an account: its posts join your home timeline (on all your devices).', 'follow', 'account', ACCOUNT_HELP, followText)
export const socialUnfollowCommand = simple('unfollow', 'Stop following an account.', 'unfollow', 'account', ACCOUNT_HELP, followText)
const blockText = (r: Record<string, unknown>): string => `${String(r.kind)}${r.on === true ? 'ed' : ' lifted'}: ${short(String(r.account))}${r.changed === true ? '' : ' (no change)'}`
export const socialBlockCommand = simple('block', 'Block an account here: hidden everywhere, and its entries not passed on by this node.', 'block', 'account', ACCOUNT_HELP, blockText)
export const socialUnblockCommand = simple('unblock', 'Lift a block.', 'unblock', 'account', ACCOUNT_HELP, blockText)
export const socialMuteCommand = simple('mute', 'Mute an account here: hidden from your feeds, threads and notifications (nobody is told).', 'mute', 'account', ACCOUNT_HELP, blockText)
export const socialUnmuteCommand = simple('unmute', 'Lift a mute.', 'unmute', 'account', ACCOUNT_HELP, blockText)

export const socialBlocksCommand: Command = {
  name: 'social blocks',
  summary: 'The accounts you block or mute on this node.',
  usage: 'social blocks [--json]',
  help: '',
  options: {},
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const list = await client(ctx).get<Array<{ account: string, kind: string, ts: number }>>(`${APP}/blocks`)
    ctx.print(list, () => list.length === 0 ? ['nobody blocked or muted'] : list.map((b) => `${b.kind.padEnd(5)}  ${b.account}  since ${new Date(b.ts).toISOString()}`))
  }
}

export const socialFollowingCommand: Command = {
  name: 'social following',
  summary: 'The accounts you follow.',
  usage: 'social following [--json]',
  help: '',
  options: {},
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const list = await client(ctx).get<Array<{ account: string, name: string | null }>>(`${APP}/following`)
    ctx.print(list, () => list.length === 0 ? ['you follow nobody yet: `peernet social follow ACCOUNT`'] : list.map((f) => `${f.account}  ${f.name ?? ''}`))
  }
}

interface ProfileView { account: string, name: string | null, bio: string | null, avatar: { id: string, type: string, size: number } | null, posts: number, following: number, followers: number, blocked: boolean, muted: boolean }

export const socialProfileCommand: Command = {
  name: 'social profile',
  summary: 'Show a profile (yours without ACCOUNT), or set yours: `social profile set`.',
  usage: 'social profile [ACCOUNT] [--json] | social profile set [--name N] [--bio B] [--avatar FILE | --remove-avatar]',
  help: `${ACCOUNT_HELP}
  set                set your profile (account-wide: written to every social network you are in)
  --name N           your name (up to 64 characters); others can @mention you by it
  --bio B            a few words about you (up to 1000 characters)
  --avatar FILE      a PNG, JPEG, GIF or WebP image up to 60 KiB
  --remove-avatar    show no avatar from now on`,
  options: { name: { type: 'string' }, bio: { type: 'string' }, avatar: { type: 'string' }, 'remove-avatar': { type: 'boolean' } },
  read: true,
  positionals: { min: 0, max: 2 },
  run: async (ctx) => {
    const [first, second] = ctx.positionals
    const setting = first === 'set'
    if (!setting && (ctx.values.name !== undefined || ctx.values.bio !== undefined || ctx.values.avatar !== undefined || ctx.values['remove-avatar'] !== undefined)) throw new UsageError('--name, --bio and --avatar go with `social profile set`')
    if (setting && second !== undefined) throw new UsageError('`social profile set` sets your own profile; it takes no ACCOUNT')
    if (!setting && second !== undefined) throw new UsageError(`too many arguments: peernet ${socialProfileCommand.usage}`)
    let p: ProfileView
    if (setting) {
      const body: Record<string, unknown> = {}
      if (typeof ctx.values.name === 'string') body.name = ctx.values.name
      if (typeof ctx.values.bio === 'string') body.bio = ctx.values.bio
      if (typeof ctx.values.avatar === 'string') body.avatar = imageFile(ctx.values.avatar, '--avatar')
      if (ctx.values['remove-avatar'] === true) body.avatar = ''
      if (Object.keys(body).length === 0) throw new UsageError('nothing to set', { hint: 'give --name, --bio, --avatar or --remove-avatar' })
      p = await client(ctx).post<ProfileView>(`${APP}/profile`, body)
    } else {
      p = await client(ctx).get<ProfileView>(`${APP}/profile${query({ account: first })}`)
    }
    ctx.print(p, () => [
      `${p.name ?? '(no name)'}  ${p.account}`,
      ...(p.bio === null || p.bio === '' ? [] : renderMarkdown(p.bio, style()).map((l) => `  ${l}`)),
      `  avatar: ${p.avatar === null ? 'none' : `${p.avatar.type}, ${p.avatar.size} B (${short(p.avatar.id)}; \`peernet social image ${p.avatar.id} --out FILE\`)`}`,
      `  ${p.posts} posts, following ${p.following}, ${p.followers} followers${p.blocked ? ', blocked' : ''}${p.muted ? ', muted' : ''}`
    ])
  }
}

export const socialImageCommand: Command = {
  name: 'social image',
  summary: 'Save an image (an attachment or an avatar) to a file.',
  usage: 'social image ID --out FILE [--json]',
  help: '  ID                 the image\'s id (64 hex digits), as a post\'s or profile\'s attachments show it\n  --out FILE         where to write it',
  options: { out: { type: 'string' } },
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    if (typeof ctx.values.out !== 'string') throw new UsageError('missing --out FILE')
    const r = await client(ctx).get<{ id: string, type: string, data: string }>(`${APP}/blob${query({ id: ctx.positionals[0] })}`)
    const bytes = Buffer.from(r.data, 'base64')
    writeFileSync(ctx.values.out, bytes)
    ctx.print({ id: r.id, type: r.type, size: bytes.byteLength, file: ctx.values.out }, () => [`wrote ${r.type}, ${bytes.byteLength} B, to ${String(ctx.values.out)}`])
  }
}

export const socialNotificationsCommand: Command = {
  name: 'social notifications',
  summary: 'Replies to your posts, mentions of you, and reactions to your posts, newest first.',
  usage: 'social notifications [--limit N] [--json]',
  help: '  --limit N          how many (default 20, at most 500)',
  options: { limit: { type: 'string' } },
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const list = await client(ctx).get<NotificationView[]>(`${APP}/notifications${query({ limit: positiveIntFlag(ctx, 'limit', 20, 500) })}`)
    ctx.print(list, () => list.length === 0 ? ['no notifications'] : list.map((n) => {
      const from = who(n.from, n.name)
      const when = new Date(n.ts).toISOString()
      if (n.kind === 'reaction') return `${when}  ${from} reacted ${n.emoji ?? ''} to ${short(n.post)}`
      return `${when}  ${from} ${n.kind === 'reply' ? `replied to ${short(n.post)}` : 'mentioned you'}: ${renderMarkdown(n.text ?? '', PLAIN).join(' ').slice(0, 100)}  (${short(n.id)})`
    }))
  }
}

export const SOCIAL_COMMANDS: Command[] = [
  socialPostCommand, socialFeedCommand, socialThreadCommand, socialHistoryCommand, socialReactCommand, socialRepostCommand,
  socialEditCommand, socialDeleteCommand, socialFollowCommand, socialUnfollowCommand, socialFollowingCommand,
  socialProfileCommand, socialImageCommand, socialBlockCommand, socialUnblockCommand, socialMuteCommand, socialUnmuteCommand,
  socialBlocksCommand, socialNotificationsCommand
]
