// `peernet net …`: create, invite, join, list, inspect, leave networks, and read a log.

import type { Command } from '../command.ts'
import { positiveIntFlag } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import { UsageError } from '../../core/errors.ts'
import type { NetworkSummary, RekeyResult } from '../../networks/networks.ts'
import { looksLikeInvite } from '../../networks/invite.ts'
import { table } from '../format.ts'

const netPath = (net: string, rest = ''): string => `/v1/networks/${encodeURIComponent(net)}${rest}`
const short = (hex: string): string => `${hex.slice(0, 12)}…`

/** Parses 30m, 12h, 7d, 2w into milliseconds. */
export function parseDuration (text: string): number {
  const m = /^(\d+)(m|h|d|w)$/.exec(text)
  if (m === null) throw new UsageError(`invalid duration "${text}"`, { hint: 'use a number and a unit: 30m, 12h, 7d, 2w' })
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm' | 'h' | 'd' | 'w']
  return Number(m[1]) * unit
}

export const netCreateCommand: Command = {
  name: 'net create',
  summary: 'Create a network (you are its first admin); prints its id and an invite.',
  usage: 'net create NAME --app APP [--private] [--open] [--json]',
  help: `  --app APP          the app the network runs (built in: chat)
  --private          encrypt entry bodies with a key only members get (implies invite-only)
  --open             anyone who knows the id may join (default: invite-only)`,
  options: { app: { type: 'string' }, private: { type: 'boolean' }, open: { type: 'boolean' } },
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    if (typeof ctx.values.app !== 'string') throw new UsageError('missing --app', { hint: 'e.g. --app chat' })
    if (ctx.values.private === true && ctx.values.open === true) throw new UsageError('a network cannot be both --private and --open')
    const r = await new ApiClient(ctx.home).post<{ id: string, invite: string | null }>('/v1/networks', {
      name: ctx.positionals[0], app: ctx.values.app, private: ctx.values.private === true, policy: ctx.values.open === true ? 'open' : 'invite'
    })
    ctx.print(r, () => [
      `created network ${r.id}`,
      ...(r.invite === null ? ['open network: others join with `peernet net join ' + r.id + '`'] : ['invite (share it with those you want in):', r.invite])
    ])
  }
}

export const netInviteCommand: Command = {
  name: 'net invite',
  summary: 'Make an invite to a network you administer.',
  usage: 'net invite NET [--role member|admin] [--expires 7d] [--uses N] [--json]',
  help: `  --role ROLE        role the invite grants (default member)
  --expires DURATION how long it can be used: 30m, 12h, 7d, 2w (default: no expiry)
  --uses N           how many joins it admits (default: any number)`,
  options: { role: { type: 'string' }, expires: { type: 'string' }, uses: { type: 'string' } },
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    const role = ctx.values.role ?? 'member'
    if (role !== 'member' && role !== 'admin') throw new UsageError('--role must be member or admin')
    const expires = typeof ctx.values.expires === 'string' ? Date.now() + parseDuration(ctx.values.expires) : null
    let uses: number | null = null
    if (typeof ctx.values.uses === 'string') {
      uses = Number(ctx.values.uses)
      if (!Number.isSafeInteger(uses) || uses < 1) throw new UsageError('--uses must be a positive whole number')
    }
    const r = await new ApiClient(ctx.home).post<{ invite: string }>(netPath(ctx.positionals[0] ?? '', '/invites'), { role, expires, uses })
    ctx.print(r, () => [r.invite])
  }
}

export const netJoinCommand: Command = {
  name: 'net join',
  summary: 'Join a network with an invite (or an open network by its id).',
  usage: 'net join INVITE|ID [--json]',
  help: `With an invite, dials the members the invite names; the network syncs as soon as
one answers. With the id of an open network this node does not hold yet, looks up its
members in the DHT (rendezvous), fetches the manifest from one of them, checks that it
hashes to the id, and joins. Invite-only networks need an invite.`,
  options: {},
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    const text = ctx.positionals[0] ?? ''
    // Progress goes to stderr so that stdout stays the result (and only JSON with --json).
    if (!looksLikeInvite(text) && !ctx.json) process.stderr.write('looking up members…\n')
    const r = await new ApiClient(ctx.home).post<{ id: string, name: string, app: string, connected: string[], providersFound: number, via: string }>('/v1/networks/join', { invite: text }, { timeoutMs: 120_000 })
    ctx.print(r, () => [
      `joined ${r.name} (${r.app}) ${r.id}`,
      ...(r.via === 'rendezvous' ? [`found ${r.providersFound} member(s) through the DHT; manifest from ${r.connected[0] ?? '?'}`] : []),
      r.connected.length > 0 ? `connected to ${r.connected.length} member(s); syncing` : 'no member reachable yet; it will sync when one is'
    ])
  }
}

export const netLsCommand: Command = {
  name: 'net ls',
  summary: 'List the networks on this node.',
  usage: 'net ls [--json]',
  help: '',
  options: {},
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const { networks } = await new ApiClient(ctx.home).get<{ networks: NetworkSummary[] }>('/v1/networks')
    ctx.print(networks, () => networks.length === 0
      ? ['no networks yet (create one with `peernet net create NAME --app chat`)']
      : table(['ID', 'NAME', 'APP', 'ROLE', 'MEMBERS', 'ENTRIES', 'KIND'], networks.map((n) => [n.id, n.name, n.app, n.status === 'left' ? 'left' : n.role ?? '-', String(n.members), String(n.entries), `${n.policy}${n.private ? ', private' : ''}`])))
  }
}

interface NetInfo extends NetworkSummary {
  created: number
  equivocations: Array<{ author: string, device: string, seq: number, detectedAt: number }>
  rendezvous: { enabled: boolean, providing: boolean, lastLookupAt: number | null, providersFound: number | null, nextLookupAt: number | null, lastError: string | null, membersConnected: number }
}

function rendezvousLine (r: NetInfo['rendezvous']): string {
  if (!r.enabled) return 'off'
  const state = r.providing ? 'providing' : 'not providing'
  const last = r.lastLookupAt === null ? 'no lookup yet' : `${r.providersFound ?? 0} other provider(s) found ${new Date(r.lastLookupAt).toISOString()}`
  const next = r.nextLookupAt === null ? '' : `; next lookup ${new Date(r.nextLookupAt).toISOString()}`
  return `${state}; ${last}${next}${r.lastError === null ? '' : `; last error: ${r.lastError}`}`
}

export const netInfoCommand: Command = {
  name: 'net info',
  summary: 'Show a network: manifest, your role, members, entries, equivocations.',
  usage: 'net info NET [--json]',
  help: '',
  options: {},
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    const n = await new ApiClient(ctx.home).get<NetInfo>(netPath(ctx.positionals[0] ?? ''))
    ctx.print(n, () => [
      `id:       ${n.id}`,
      `name:     ${n.name}`,
      `app:      ${n.app}`,
      `policy:   ${n.policy}${n.private ? ', private (bodies encrypted)' : ''}`,
      `creator:  ${n.creator}`,
      `created:  ${new Date(n.created).toISOString()}`,
      `you:      ${n.status === 'left' ? 'left' : n.role ?? 'not a member yet'}`,
      `members:  ${n.members}`,
      `entries:  ${n.entries}`,
      ...(n.keys === null ? [] : [`keys:     ${n.keys} held; writing with ${n.currentKey ?? 'none (this node holds no key of it)'}`]),
      `connected members: ${n.rendezvous.membersConnected}`,
      `rendezvous: ${rendezvousLine(n.rendezvous)}`,
      ...(n.equivocations.length === 0
        ? ['equivocations: none']
        : [`equivocations: ${n.equivocations.length} (devices frozen)`, ...n.equivocations.map((e) => `  author ${short(e.author)} device ${short(e.device)} seq ${e.seq}`)])
    ])
  }
}

export const netMembersCommand: Command = {
  name: 'net members',
  summary: 'List a network\'s members and their roles.',
  usage: 'net members NET [--json]',
  help: '',
  options: {},
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    const { members } = await new ApiClient(ctx.home).get<{ members: Array<{ account: string, role: string, joinedAt: number, you: boolean }> }>(netPath(ctx.positionals[0] ?? '', '/members'))
    ctx.print(members, () => table(['ACCOUNT', 'ROLE', 'JOINED', ''], members.map((m) => [m.account, m.role, new Date(m.joinedAt).toISOString(), m.you ? '(you)' : ''])))
  }
}

export const netLeaveCommand: Command = {
  name: 'net leave',
  summary: 'Leave a network (writes a leave entry; your node stops syncing it).',
  usage: 'net leave NET',
  help: '',
  options: {},
  read: false,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    await new ApiClient(ctx.home).post(netPath(ctx.positionals[0] ?? '', '/leave'))
    ctx.out('left')
  }
}

interface LogLine { hash: string, author: string, device: string, seq: number, ts: number, type: string, bodySize: number, pruned: boolean, body: unknown }

export const netLogCommand: Command = {
  name: 'net log',
  summary: 'Show a network\'s entries, newest first.',
  usage: 'net log NET [--limit N] [--json]',
  help: '  --limit N          how many entries (default 100)',
  options: { limit: { type: 'string' } },
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    const limit = positiveIntFlag(ctx, 'limit', 100, 10_000)
    const { entries } = await new ApiClient(ctx.home).get<{ entries: LogLine[] }>(netPath(ctx.positionals[0] ?? '', `/log?limit=${limit}`))
    ctx.print(entries, () => table(['TIME', 'TYPE', 'AUTHOR', 'SEQ', 'HASH', 'BODY'], entries.map((e) => [
      new Date(e.ts).toISOString(), e.type, short(e.author), String(e.seq), short(e.hash), e.pruned ? '(pruned)' : JSON.stringify(e.body).slice(0, 60)
    ])))
  }
}

export const netVerifyCommand: Command = {
  name: 'net verify',
  summary: 'Re-verify every stored entry of a network: signatures, hash chains, bodies.',
  usage: 'net verify NET [--json]',
  help: 'Exits 1 if any problem is found.',
  options: {},
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    const r = await new ApiClient(ctx.home).get<{ chains: number, entries: number, problems: string[] }>(netPath(ctx.positionals[0] ?? '', '/verify'))
    ctx.print(r, () => [`${r.entries} entries in ${r.chains} chains: ${r.problems.length === 0 ? 'all verify' : `${r.problems.length} problem(s)`}`, ...r.problems.slice(0, 50)])
    if (r.problems.length > 0) process.exitCode = 1
  }
}

export const netDeleteCommand: Command = {
  name: 'net delete',
  summary: 'Delete entries you wrote: their bodies go here and on every member; the chain keeps a signed tombstone.',
  usage: 'net delete NET ENTRY… [--json]',
  help: 'ENTRY is an entry hash as `peernet net log NET` shows it (64 hex digits); up to 256 at once.',
  options: {},
  read: true,
  positionals: { min: 2, max: 257 },
  run: async (ctx) => {
    const [net, ...entries] = ctx.positionals
    const r = await new ApiClient(ctx.home).post<{ deleted: string[] }>(netPath(net ?? '', '/delete'), { entries })
    ctx.print(r, () => [`deleted ${r.deleted.length} entr${r.deleted.length === 1 ? 'y' : 'ies'}; members drop them as the deletion syncs`])
  }
}

/** Parses 500k, 20MB, 1GiB, 123 (bytes) into bytes. */
export function parseSize (text: string): number {
  const m = /^(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(text.trim())
  if (m === null) throw new UsageError(`invalid size "${text}"`, { hint: 'use a number and a unit: 500k, 20MB, 1GiB (or "none" to remove the quota)' })
  const unit = (m[2] ?? 'b').toLowerCase()
  const scale = unit === 'b' ? 1 : unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 ** 2 : 1024 ** 3
  return Number(m[1]) * scale
}

interface Usage { bodyBytes: number, quota: number | null, withoutBody: number, deleted: number }

export const netQuotaCommand: Command = {
  name: 'net quota',
  summary: 'Show or set how many bytes of entry bodies this node keeps for a network.',
  usage: 'net quota NET [SIZE|none] [--json]',
  help: `Over the quota, the oldest app-entry bodies are dropped (membership and device entries
never are). Chains stay whole and verifiable; what apps show is unchanged; this node
just no longer keeps or serves those bodies. SIZE: 500k, 20MB, 1GiB; "none" removes it.`,
  options: {},
  read: true,
  positionals: { min: 1, max: 2 },
  run: async (ctx) => {
    const [net, size] = ctx.positionals
    const client = new ApiClient(ctx.home)
    const u = size === undefined
      ? await client.get<Usage>(netPath(net ?? '', '/quota'))
      : await client.post<Usage>(netPath(net ?? '', '/quota'), { bytes: size === 'none' ? null : parseSize(size) })
    ctx.print(u, () => [
      `bodies kept: ${u.bodyBytes} bytes`,
      `quota:       ${u.quota === null ? 'none' : `${u.quota} bytes`}`,
      `entries without a body: ${u.withoutBody} (of which deleted by their authors: ${u.deleted})`
    ])
  }
}

export const netRemoveCommand: Command = {
  name: 'net remove',
  summary: 'Remove a member (admins only): what they wrote so far stays, anything later is refused by every member.',
  usage: 'net remove NET ACCOUNT [--json]',
  help: 'ACCOUNT is a member\'s account key as `peernet net members NET` shows it (8 or more hex digits of it).',
  options: {},
  read: true,
  positionals: { min: 2, max: 2 },
  run: async (ctx) => {
    const [net, member] = ctx.positionals
    const r = await new ApiClient(ctx.home).post<{ removed: string, heads: Array<{ device: string, seq: number }>, rekey: RekeyResult | null }>(netPath(net ?? '', '/remove'), { member })
    ctx.print(r, () => [
      `removed ${r.removed}; their entries up to ${r.heads.length === 0 ? 'none' : r.heads.map((h) => `${short(h.device)} seq ${h.seq}`).join(', ')} stay`,
      ...(r.rekey === null ? [] : [`new network key ${r.rekey.key}, sealed to ${r.rekey.recipients} account and device key(s): what is written from now on is closed to them`])
    ])
  }
}

export const netRekeyCommand: Command = {
  name: 'net rekey',
  summary: 'Give a private network a new key (admins only): what is written from now on is closed to whoever is no longer a member.',
  usage: 'net rekey NET [--json]',
  help: `The new key is sealed to each member's account key and to each of their delegated
devices seen in the network and not revoked; every member writes with it once the rekey
reaches them. \`net remove\` and \`account revoke-device\` do this already; use it by hand,
e.g. after a device was revoked on another home of the account.`,
  options: {},
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    const r = await new ApiClient(ctx.home).post<RekeyResult>(netPath(ctx.positionals[0] ?? '', '/rekey'), {})
    ctx.print(r, () => [`new network key ${r.key}, sealed to ${r.recipients} account and device key(s) in ${r.entries} entr${r.entries === 1 ? 'y' : 'ies'}`])
  }
}

export const netRoleCommand: Command = {
  name: 'net role',
  summary: 'Make a member an admin, or a plain member again (admins only).',
  usage: 'net role NET ACCOUNT admin|member [--json]',
  help: 'Admins can invite, remove members and change roles.',
  options: {},
  read: true,
  positionals: { min: 3, max: 3 },
  run: async (ctx) => {
    const [net, member, role] = ctx.positionals
    if (role !== 'admin' && role !== 'member') throw new UsageError('the role is admin or member', { hint: 'e.g. `peernet net role NET ACCOUNT admin`' })
    const r = await new ApiClient(ctx.home).post<{ member: string, role: string }>(netPath(net ?? '', '/role'), { member, role })
    ctx.print(r, () => [`${r.member} is now ${r.role === 'admin' ? 'an admin' : 'a member'}`])
  }
}
