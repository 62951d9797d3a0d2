// Private messages of the social app (issue 5): `social dm ACCOUNT TEXT`, `social inbox`.
//
// A message is a `social/dm` entry in the sender's log in a network both accounts are
// members of, so every common member stores and forwards it and it arrives when sender
// and recipient are never online together. Its body is sealed through the app interface
// (`sealFor`, networks/account-seal.ts) to the recipient account's key and devices and to
// the sender's own (its other devices see what it sent); members that carry it cannot
// read it, and the recipient is not named in clear. Each node opens what it can as the
// entry is stored (`openSealed` in the reducer) and keeps only what it read, in a table
// of its own: the inbox is one indexed read, not a trial decryption of every message.
//
// These parts are spread into the social app's definition (social.ts): `dmTypes` into
// `types`, `dmMigration` into its migrations, `forgetDm` into `forget`, `dmEvent` into its
// live events, `dmAccountCommands` and `dmAccountQueries` into its account-wide commands
// and queries.

import type { DatabaseSync } from 'node:sqlite'
import type { Migration } from '../../core/store.ts'
import { bytesEqual, decodeCanonical, encodeCanonical } from '../../core/encoding.ts'
import type { AppCommandContext, AppEntry, AppEvent, AppQueryContext, AppReduceContext, DeletedEntry, EntryTypeSpec } from '../../networks/app.ts'
import { sealedForAccountsFrom } from '../../networks/account-seal.ts'
import type { SealedForAccounts } from '../../networks/account-seal.ts'
import { InvalidRecordError, NotPermittedError, UnknownAccountError, UnknownEntryError } from '../../networks/errors.ts'
import { resolveAccount } from './resolve.ts'
import { sql } from './statements.ts'
import { formatNetworkId } from '../../networks/manifest.ts'
import { toHex } from '../../networks/hashing.ts'

export const DM_TYPE = 'social/dm'
export const MAX_DM_CHARS = 4000

/** What the sealed body holds: the recipient account and the text. */
interface DmPlain { to: Uint8Array, text: string }

export interface DmView {
  id: string
  net: string
  from: string
  to: string
  direction: 'sent' | 'received'
  ts: number
  text: string
}

function checkText (text: unknown): string {
  if (typeof text !== 'string' || text.length === 0) throw new InvalidRecordError('a private message needs text')
  if (text.length > MAX_DM_CHARS) throw new InvalidRecordError(`a private message has at most ${MAX_DM_CHARS} characters; this one has ${text.length}`)
  return text
}

function plainFrom (bytes: Uint8Array): DmPlain | undefined {
  try {
    const v = decodeCanonical(bytes) as { to?: unknown, text?: unknown }
    if (typeof v !== 'object' || v === null || !(v.to instanceof Uint8Array) || v.to.byteLength !== 32) return undefined
    return { to: v.to, text: checkText(v.text) }
  } catch {
    return undefined
  }
}

function reduceDm (db: DatabaseSync, e: AppEntry<SealedForAccounts>, ctx: AppReduceContext): void {
  const bytes = ctx.openSealed(e, e.body)
  if (bytes === undefined) return // for someone else: carried, not read
  // A body that opens but says nothing sensible, or names a third account as recipient,
  // is kept in the log like any entry and shown to nobody.
  const plain = plainFrom(bytes)
  if (plain === undefined) return
  const sent = bytesEqual(e.author, ctx.account)
  if (!sent && !bytesEqual(plain.to, ctx.account)) return
  sql(db, 'INSERT OR IGNORE INTO social_dms (hash, net, sender, recipient, ts, text) VALUES (?, ?, ?, ?, ?, ?)').run(e.hash, e.net, e.author, plain.to, e.ts, plain.text)
}

/** The live event of a message this node could read (the reducer kept it), for the social app's `events`. */
export function dmEvent (db: DatabaseSync, me: Uint8Array, e: AppEntry): AppEvent | undefined {
  const row = sql(db, 'SELECT sender, recipient, ts, text FROM social_dms WHERE hash = ?').get(e.hash) as { sender: Uint8Array, recipient: Uint8Array, ts: number, text: string } | undefined
  if (row === undefined) return undefined
  const sent = bytesEqual(row.sender, me)
  return { kind: 'dm', data: { id: toHex(e.hash), direction: sent ? 'sent' : 'received', from: toHex(row.sender), to: toHex(row.recipient), ts: row.ts, text: row.text, summary: sent ? `you wrote to ${toHex(row.recipient).slice(0, 8)}…: ${row.text}` : `private message from ${toHex(row.sender).slice(0, 8)}…: ${row.text}` } }
}

/** The `dm` entry type: its body's shape is checked on every node; only the recipient's and sender's open it. */
export const dmTypes: Record<string, EntryTypeSpec<SealedForAccounts>> = {
  dm: { decode: sealedForAccountsFrom, reduce: reduceDm }
}

/** Its version is the social app's to number. */
export const dmMigration: Migration = {
  version: 1,
  description: 'private messages this node could read (received and sent)',
  sql: `CREATE TABLE social_dms (
    hash BLOB PRIMARY KEY, net BLOB NOT NULL, sender BLOB NOT NULL, recipient BLOB NOT NULL, ts INTEGER NOT NULL, text TEXT NOT NULL
  ) STRICT;
  CREATE INDEX social_dms_by_sender ON social_dms (sender, ts);
  CREATE INDEX social_dms_by_recipient ON social_dms (recipient, ts);`
}

/** A deleted message (its sender's `peernet/delete`), or one of an author this node now refuses: gone from the inbox. */
export function forgetDm (db: DatabaseSync, e: DeletedEntry): void {
  if (e.type === DM_TYPE) sql(db, 'DELETE FROM social_dms WHERE hash = ?').run(e.hash)
}

/**
 * The recipient: an account as the social app resolves one (a key, a prefix of one seen
 * here, a profile name), or else a member of this app's networks by key prefix (someone
 * who has written nothing yet).
 */
export function resolveRecipient (ctx: AppCommandContext, text: unknown): Uint8Array {
  try {
    return resolveAccount(ctx.db, text)
  } catch (err) {
    if (!(err instanceof UnknownEntryError)) throw err
  }
  const t = typeof text === 'string' ? text.trim().toLowerCase().replace(/^@/, '') : ''
  if (!/^[0-9a-f]{8,64}$/.test(t)) throw new UnknownAccountError(`no account "${String(text)}" here`, { hint: 'give its hex key, or at least its first 8 digits (`peernet net members NET` lists them)' })
  const found = new Map<string, Uint8Array>()
  for (const net of ctx.networks) {
    for (const m of ctx.members(net)) if (toHex(m).startsWith(t)) found.set(toHex(m), m)
  }
  if (found.size > 1) throw new InvalidRecordError(`"${t}" matches ${found.size} accounts`, { hint: 'give more of the key' })
  const account = [...found.values()][0]
  if (account === undefined) {
    throw new UnknownAccountError(`no network you both belong to: no member of your social networks has account ${t.length > 16 ? `${t.slice(0, 16)}…` : t}`, {
      hint: 'check the key (`peernet net members NET` lists members), or invite them to one of your networks (`peernet net invite NET`)'
    })
  }
  return account
}

/**
 * The network a message to `to` travels in: among the networks of this app both
 * accounts are members of, the one with the most members (the most nodes to carry it
 * while the recipient is away), the smallest id on a tie — so repeated messages to one
 * account go one way. One network, not all: every copy would be stored by every member
 * of each, for no gain in secrecy.
 */
export function dmNetwork (ctx: AppCommandContext, to: Uint8Array): Uint8Array {
  const shared = ctx.networks.map((net) => ({ net, members: ctx.members(net) }))
    .filter((n) => n.members.some((m) => bytesEqual(m, to)) && n.members.some((m) => bytesEqual(m, ctx.account)))
  shared.sort((a, b) => b.members.length - a.members.length || Buffer.compare(a.net, b.net))
  const best = shared[0]
  if (best === undefined) {
    throw new NotPermittedError(`no network you both belong to: ${toHex(to).slice(0, 12)}… and you share no social network`, { hint: 'invite them to one of yours (`peernet net invite NET`) or join one of theirs; messages travel through a network you share' })
  }
  return best.net
}

async function sendDm (ctx: AppCommandContext, params: Record<string, unknown>): Promise<{ id: string, net: string, to: string, ts: number }> {
  const text = checkText(params.text)
  const to = resolveRecipient(ctx, params.to)
  if (bytesEqual(to, ctx.account)) throw new InvalidRecordError('that is your own account', { hint: 'name someone else\'s account' })
  let net: Uint8Array
  if (params.net instanceof Uint8Array) {
    net = params.net
    if (!ctx.networks.some((n) => bytesEqual(n, net)) || !ctx.members(net).some((m) => bytesEqual(m, to))) {
      throw new NotPermittedError(`${toHex(to).slice(0, 12)}… is not a member of network ${formatNetworkId(net)}`, { hint: 'leave out --net to use a network you share' })
    }
  } else {
    net = dmNetwork(ctx, to)
  }
  const body = ctx.sealFor(net, DM_TYPE, [to, ctx.account], encodeCanonical({ to, text }))
  const e = await ctx.append(net, DM_TYPE, body)
  return { id: toHex(e.hash), net: formatNetworkId(net), to: toHex(to), ts: e.ts }
}

function inbox (ctx: AppQueryContext, params: Record<string, unknown>): DmView[] {
  const limit = params.limit === undefined ? 100 : Number(params.limit)
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) throw new InvalidRecordError('limit must be a whole number from 1 to 10000')
  const rows = sql(ctx.db, `SELECT hash, net, sender, recipient, ts, text FROM social_dms WHERE sender = ? OR recipient = ?
    ORDER BY ts DESC, hash DESC LIMIT ?`).all(ctx.account, ctx.account, limit) as Array<{ hash: Uint8Array, net: Uint8Array, sender: Uint8Array, recipient: Uint8Array, ts: number, text: string }>
  return rows.map((r) => ({
    id: toHex(r.hash),
    net: formatNetworkId(r.net),
    from: toHex(r.sender),
    to: toHex(r.recipient),
    direction: bytesEqual(r.sender, ctx.account) ? 'sent' : 'received',
    ts: r.ts,
    text: r.text
  }))
}

/** `dm`: {to: account, text, net?: network id (resolved by the route)}. */
export const dmAccountCommands = { dm: sendDm }
/** `inbox`: {limit?}: received and sent messages, newest first. */
export const dmAccountQueries = { inbox }
