// `peernet account …`: the account that authors this node's entries, and its devices —
// list them, link a new one (three steps, two one-line codes), revoke a lost one.

import type { Command, CommandContext } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import { UsageError } from '../../core/errors.ts'
import { table } from '../format.ts'
import { parseDuration } from './net.ts'
import type { AccountView } from '../../networks/account-devices.ts'

const short = (hex: string): string => `${hex.slice(0, 12)}…`

export const accountDevicesCommand: Command = {
  name: 'account devices',
  summary: 'Show your account and the devices that write for it.',
  usage: 'account devices [--json]',
  help: `Lists the account key and every device delegated to it, with what the logs held here
say: active (seen writing), linked (not seen writing yet), revoked, or partly revoked (the
revocation has reached only some of the networks the device wrote in).`,
  options: {},
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const r = await new ApiClient(ctx.home).get<AccountView>('/v1/account')
    ctx.print(r, () => [
      `account: ${r.account}${r.holdsAccountKey ? ' (its key is on this home)' : ' (this home is a linked device)'}`,
      ...table(['DEVICE', 'PEER ID', 'KIND', 'STATUS', 'LINKED', 'NETWORKS', ''], r.devices.map((d) => [
        short(d.device), d.peerId, d.kind, d.status, d.linkedAt === null ? '-' : new Date(d.linkedAt).toISOString(), String(d.networks.length), d.thisDevice ? '(this node)' : ''
      ]))
    ])
  }
}

export const accountLinkDeviceCommand: Command = {
  name: 'account link-device',
  summary: 'Link another home as a device of your account (run it there first, with no argument).',
  usage: 'account link-device [REQUEST|LINK|-] [--expires 1h] [--json]',
  help: `Three steps, two one-line codes:
  1. on the new device:      peernet account link-device           → prints a request (pnlinkreq1…)
  2. on the account's home:  peernet account link-device REQUEST   → prints a link (pnlink1…)
  3. on the new device:      peernet account link-device LINK      → the device writes as your account
The link carries the account's delegation of the device's key and what it needs to take
part in your networks (manifests, keys of private networks, addresses). It is signed by
the account and sealed to the new device's key: only that device can open it. The
account key itself never leaves its home. A code of "-" is read from standard input.

  --expires DURATION how long the link can be taken up (step 2): 30m, 12h, 7d (default 1h)`,
  options: { expires: { type: 'string' } },
  read: true,
  positionals: { min: 0, max: 1 },
  run: async (ctx) => {
    const code = ctx.positionals[0] === '-' ? (await readStdin()).trim() : ctx.positionals[0]?.trim()
    const api = new ApiClient(ctx.home)
    if (code === undefined) return await request(ctx, api)
    if (code.startsWith('pnlinkreq1')) return await link(ctx, api, code)
    if (code.startsWith('pnlink1')) return await adopt(ctx, api, code)
    throw new UsageError('that is neither a link request (pnlinkreq1…) nor a device link (pnlink1…)', { hint: 'copy the code whole; see `peernet account link-device --help`' })
  }
}

async function request (ctx: CommandContext, api: ApiClient): Promise<void> {
  if (ctx.values.expires !== undefined) throw new UsageError('--expires goes with step 2, on the account\'s home')
  const r = await api.post<{ request: string, device: string, peerId: string }>('/v1/account/link-request')
  ctx.print(r, () => [
    `link request for this device (peer id ${r.peerId}):`,
    r.request,
    'next: on your account\'s home, run `peernet account link-device REQUEST` with it, and bring the link it prints back here'
  ])
}

async function link (ctx: CommandContext, api: ApiClient, code: string): Promise<void> {
  const expires = typeof ctx.values.expires === 'string' ? Date.now() + parseDuration(ctx.values.expires) : undefined
  const r = await api.post<{ link: string, device: string, peerId: string, networks: Array<{ id: string, name: string }>, expires: number }>('/v1/account/devices', { request: code, ...(expires === undefined ? {} : { expires }) })
  ctx.print(r, () => [
    `linked device ${r.peerId} (key ${short(r.device)}) to your account, with ${r.networks.length} network(s)${r.networks.length === 0 ? '' : ': ' + r.networks.map((n) => n.name).join(', ')}`,
    'check that this is the peer id the new device printed: a request swapped on the way would link someone else',
    `device link (sealed to that device; valid until ${new Date(r.expires).toISOString()}):`,
    r.link,
    'next: on the new device, run `peernet account link-device LINK` with it'
  ])
}

async function adopt (ctx: CommandContext, api: ApiClient, code: string): Promise<void> {
  if (ctx.values.expires !== undefined) throw new UsageError('--expires goes with step 2, on the account\'s home')
  const r = await api.post<{ account: string, device: string, networks: Array<{ id: string, name: string, app: string }>, connected: string[] }>('/v1/account/link', { link: code })
  ctx.print(r, () => [
    `this home now writes as account ${short(r.account)}, signed with its own device key ${short(r.device)}`,
    ...r.networks.map((n) => `  ${n.name} (${n.app}) ${n.id}`),
    r.connected.length > 0 ? `connected to your account's home; syncing ${r.networks.length} network(s)` : 'your account\'s home did not answer yet; the networks sync when a member is reachable',
    'next: `peernet account devices` shows this device; `peernet chat send NET TEXT` writes as your account'
  ])
}

export const accountRevokeDeviceCommand: Command = {
  name: 'account revoke-device',
  summary: 'Revoke a lost or stolen device: its later entries are refused everywhere.',
  usage: 'account revoke-device DEVICE [--lost DURATION] [--json]',
  help: `DEVICE is a device key (hex, or 8+ characters of it) or its peer id, as
\`peernet account devices\` lists them. Run it on the account's home (it signs with the
account key). Writes a revocation into every network this node takes part in; members
refuse the device's entries past its last valid one there, and drop those they hold.

The last valid entry is the last one this node holds from the device. With --lost, it
is the last one this node received before the device went missing, so what a thief
wrote since is dropped too:
  --lost DURATION    the device has been missing this long: 30m, 12h, 7d`,
  options: { lost: { type: 'string' } },
  read: true,
  positionals: { min: 1, max: 1 },
  run: async (ctx) => {
    const lostSince = typeof ctx.values.lost === 'string' ? Date.now() - parseDuration(ctx.values.lost) : undefined
    const device = ctx.positionals[0] ?? ''
    const r = await new ApiClient(ctx.home).post<{ device: string, peerId: string, revoked: Array<{ id: string, name: string, lastSeq: number }>, alreadyRevoked: boolean, rekeyed: Array<{ net: string, key: string }> }>(
      `/v1/account/devices/${encodeURIComponent(device)}/revoke`, lostSince === undefined ? {} : { lostSince })
    ctx.print(r, () => r.alreadyRevoked
      ? [`device ${r.peerId} was already revoked in every network here`]
      : [
          `revoked device ${r.peerId} (key ${short(r.device)}) in ${r.revoked.length} network(s):`,
          ...table(['NETWORK', 'NAME', 'LAST VALID SEQ'], r.revoked.map((n) => [n.id, n.name, String(n.lastSeq)])),
          'members refuse its later entries as the revocation reaches them',
          ...(r.rekeyed.length === 0 ? [] : [`new network key in ${r.rekeyed.length} private network(s) you administer: what is written from now on is closed to the device`])
        ])
  }
}

async function readStdin (): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
