// The account's devices, as the user handles them: link a new device (its request, the
// account's link, the device taking it up), list what the logs say about the account's
// devices, and revoke one. The I/O shell around device-link.ts's codes, the home's
// account files, and the delegations and revocations in the member logs.
//
// Which key is a device's: a linked device writes with its node identity (the key that
// is also its libp2p peer id), so `account revoke-device` takes a peer id as readily as a
// key. The account's home writes with the account key itself.

import { existsSync, readFileSync, renameSync } from 'node:fs'
import type { Identity } from '../core/identity.ts'
import { peerIdOfPublicKey } from '../core/identity.ts'
import type { Store } from '../core/store.ts'
import type { Clock } from '../core/clock.ts'
import { writeFileAtomic } from '../core/files.ts'
import { IdentityError } from '../core/errors.ts'
import { bytesEqual, decodeCanonical, encodeCanonical } from '../core/encoding.ts'
import { delegationFrom, delegationValue, linkedDevice, ownAccount, revocationValue, revoke } from './account.ts'
import type { AccountKeys, Delegation } from './account.ts'
import { createDeviceLink, createLinkRequest, decodeLinkRequest, openDeviceLink } from './device-link.ts'
import type { Networks, RekeyResult } from './networks.ts'
import { formatNetworkId } from './manifest.ts'
import { toHex } from './hashing.ts'
import { DeviceLinkError, InvalidRecordError, NotPermittedError, UnknownDeviceError } from './errors.ts'

/** How long a device link can be taken up, unless the caller says otherwise. */
export const DEFAULT_LINK_TTL_MS = 60 * 60_000

const MIGRATIONS = [{
  version: 1,
  description: 'devices this account home linked (and revoked)',
  sql: `CREATE TABLE linked_devices (
    device BLOB PRIMARY KEY,
    account BLOB NOT NULL,
    delegation BLOB NOT NULL,        -- canonical CBOR of the signed delegation; empty for a device revoked but not linked here
    linked_at INTEGER NOT NULL,
    revoked_at INTEGER
  ) STRICT;`
}]

export interface DeviceView {
  /** The device public key, hex. */
  device: string
  /** The same key as a libp2p peer id (a linked device's node). */
  peerId: string
  kind: 'account key' | 'device'
  thisDevice: boolean
  /**
   * active: writes in the account's networks; linked: delegated, not seen writing yet;
   * revoked: refused past its last valid entry in every network it wrote in here;
   * partly revoked: a revocation has reached some of those networks only.
   */
  status: 'active' | 'linked' | 'revoked' | 'partly revoked'
  linkedAt: number | null
  networks: Array<{ id: string, name: string, seq: number, revokedAfter: number | null }>
}

export interface AccountView {
  account: string
  thisDevice: string
  /** Whether this home holds the account key (and so can link and revoke devices). */
  holdsAccountKey: boolean
  devices: DeviceView[]
}

export interface AccountDevicesOptions {
  networks: Networks
  store: Store
  /** This node's identity: the device key when it is a linked device. */
  device: Identity
  /** The account key file and the account-link file of the home. */
  accountKeyPath: string
  accountLinkPath: string
  addresses: () => string[]
  clock: Clock
}

// ---- the home's account files ---------------------------------------------------------------

const LINK_FILE_VERSION = 1

/** The delegation a linked device keeps in its home, or undefined on an account's home. */
export function loadAccountLink (path: string, device: Identity): Delegation | undefined {
  let text: string
  try { text = readFileSync(path, 'utf8') } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new IdentityError(`cannot read ${path}: ${(err as Error).message}`, { hint: 'check its permissions', cause: err })
  }
  try {
    const v = JSON.parse(text) as { version?: unknown, delegation?: unknown }
    if (v.version !== LINK_FILE_VERSION || typeof v.delegation !== 'string') throw new Error('unknown version')
    const d = delegationFrom(decodeCanonical(new Uint8Array(Buffer.from(v.delegation, 'base64'))))
    if (!bytesEqual(d.device, device.publicKey)) throw new Error('it delegates another key than this node\'s')
    return d
  } catch (err) {
    throw new IdentityError(`${path} is corrupt: ${(err as Error).message}`, { hint: 'restore it from a backup, or link this home again' })
  }
}

/** Who a home writes as: its linked account if it has an account-link file, else its own account key. */
export function accountKeysOf (device: Identity, account: Identity | undefined, link: Delegation | undefined): AccountKeys {
  if (link !== undefined) return linkedDevice(device, link)
  if (account === undefined) throw new IdentityError('this home has neither an account key nor an account link', { hint: 'restore account.key from a backup' })
  return ownAccount(account)
}

// ---- the service -----------------------------------------------------------------------------

export class AccountDevices {
  readonly #o: AccountDevicesOptions

  constructor (options: AccountDevicesOptions) {
    this.#o = options
    options.store.migrate('account-devices', MIGRATIONS)
  }

  get #networks (): Networks { return this.#o.networks }
  get #db (): Store['db'] { return this.#o.store.db }

  /** Step 1, on the new device: a request carrying this node's device key and addresses. */
  request (): { request: string, device: string, peerId: string } {
    this.#checkLinkable(null)
    return { request: createLinkRequest(this.#o.device, this.#o.addresses(), this.#o.clock.now()), device: toHex(this.#o.device.publicKey), peerId: this.#o.device.peerId }
  }

  /** Step 2, on the account's home: delegates the requesting device and seals the link to it. */
  link (requestCode: string, options: { expires?: number | null } = {}): { link: string, device: string, peerId: string, networks: Array<{ id: string, name: string }>, expires: number } {
    const accountKey = this.#accountKey('link devices')
    const request = decodeLinkRequest(requestCode)
    if (bytesEqual(request.device, accountKey.publicKey)) throw new DeviceLinkError('that request carries the account key itself; it needs no link')
    if (bytesEqual(request.device, this.#o.device.publicKey)) throw new DeviceLinkError('that request is from this node', { hint: 'run `peernet account link-device` on the new device\'s home' })
    if (this.#revokedIn(request.device) > 0 || this.#record(request.device)?.revoked_at != null) {
      throw new DeviceLinkError('that device was revoked; a revoked device key cannot be linked again', { hint: 'link a fresh home instead (`peernet init --home NEW`)' })
    }
    const now = this.#o.clock.now()
    const expires = options.expires ?? now + DEFAULT_LINK_TTL_MS
    const records = this.#networks.logs.networks().filter((n) => n.status === 'member')
    const { code, link } = createDeviceLink(accountKey, request, { networks: records.map((n) => ({ manifest: n.manifest, keys: this.#networks.logs.keyRing(n.id) })), addrs: this.#o.addresses(), expires, now })
    this.#db.prepare(`INSERT INTO linked_devices (device, account, delegation, linked_at) VALUES (?, ?, ?, ?)
      ON CONFLICT(device) DO UPDATE SET delegation = excluded.delegation`)
      .run(request.device, accountKey.publicKey, encodeCanonical(delegationValue(link.delegation)), now)
    return {
      link: code,
      device: toHex(request.device),
      peerId: peerIdOfPublicKey(request.device),
      networks: records.map((n) => ({ id: formatNetworkId(n.id), name: n.manifest.manifest.name })),
      expires
    }
  }

  /**
   * Step 3, on the new device: checks the link through and through, then adopts the
   * account (the link file, the old unused account key set aside), takes up its
   * networks, and from now on writes as the account with this node's key.
   */
  adopt (code: string): { account: string, device: string, networks: Array<{ id: string, name: string, app: string }>, addrs: string[] } {
    const link = openDeviceLink(this.#o.device, code, this.#o.clock.now())
    this.#checkLinkable(link.delegation.account)
    const already = this.#networks.account.delegation !== null
    const now = this.#o.clock.now()
    let added
    try {
      // The networks and the link file land together: a network of an app this node
      // lacks, or a link file that cannot be written, leaves the home as it was.
      added = this.#o.store.transaction(() => {
        const records = link.networks.map((n) => this.#networks.logs.addNetwork(n.manifest, n.keys, now))
        if (!already) {
          const file = { version: LINK_FILE_VERSION, delegation: Buffer.from(encodeCanonical(delegationValue(link.delegation))).toString('base64') }
          writeFileAtomic(this.#o.accountLinkPath, JSON.stringify(file) + '\n', { mode: 0o600, exclusive: true })
        }
        return records
      })
    } finally {
      this.#networks.logs.forget()
    }
    if (!already) {
      // The home's own account key authored nothing (checked above); keep it, out of the way.
      if (existsSync(this.#o.accountKeyPath)) renameSync(this.#o.accountKeyPath, `${this.#o.accountKeyPath}.before-link-${now}`)
      this.#networks.useAccount(linkedDevice(this.#o.device, link.delegation))
    }
    this.#networks.networksChanged()
    return {
      account: toHex(link.delegation.account),
      device: toHex(this.#o.device.publicKey),
      networks: added.map((r) => ({ id: formatNetworkId(r.id), name: r.manifest.manifest.name, app: r.manifest.manifest.app })),
      addrs: link.addrs
    }
  }

  /** The account and its devices, from the delegations and revocations in the logs held here. */
  list (): AccountView {
    const keys = this.#networks.account
    const account = keys.publicKey
    const names = new Map(this.#networks.logs.networks().map((n) => [toHex(n.id), n.manifest.manifest.name]))
    const views = new Map<string, DeviceView>()
    const view = (device: Uint8Array): DeviceView => {
      const k = toHex(device)
      let v = views.get(k)
      if (v === undefined) {
        v = { device: k, peerId: peerIdOfPublicKey(device), kind: bytesEqual(device, account) ? 'account key' : 'device', thisDevice: bytesEqual(device, keys.signer.publicKey), status: 'linked', linkedAt: null, networks: [] }
        views.set(k, v)
      }
      return v
    }
    view(account)
    if (keys.delegation !== null) view(keys.signer.publicKey).linkedAt = keys.delegation.created
    for (const r of this.#records(account)) {
      const v = view(r.device)
      v.linkedAt ??= r.linked_at
      if (r.revoked_at !== null) v.status = 'revoked'
    }
    const chains = this.#db.prepare('SELECT net, device, head_seq, revoked_after FROM chains WHERE author = ? ORDER BY net').all(account) as Array<{ net: Uint8Array, device: Uint8Array, head_seq: number, revoked_after: number | null }>
    for (const c of chains) {
      view(c.device).networks.push({ id: formatNetworkId(c.net), name: names.get(toHex(c.net)) ?? '?', seq: c.head_seq, revokedAfter: c.revoked_after })
    }
    for (const v of views.values()) {
      if (v.kind === 'account key') { v.status = 'active'; continue }
      const revoked = v.networks.filter((n) => n.revokedAfter !== null).length
      if (v.status === 'revoked' || (revoked > 0 && revoked === v.networks.length)) v.status = 'revoked'
      else if (revoked > 0) v.status = 'partly revoked'
      else if (v.networks.some((n) => n.seq > 0)) v.status = 'active'
      v.linkedAt ??= this.#delegationTime(account, v)
    }
    const devices = [...views.values()].sort((a, b) => Number(b.kind === 'account key') - Number(a.kind === 'account key') || (a.linkedAt ?? 0) - (b.linkedAt ?? 0))
    return { account: toHex(account), thisDevice: toHex(keys.signer.publicKey), holdsAccountKey: keys.accountKey !== null, devices }
  }

  /**
   * Revokes a device in every network this node takes part in (not only those it was seen
   * writing in: a stolen device may write where we have not heard from it yet). Its last
   * valid entry in each is the last one this node holds — or, with `lostSince`, the last
   * one this node received before that moment, so what a thief wrote since, though
   * already here, is dropped too. Each private network where the account is an admin
   * gets a new key, sealed to everyone but the revoked device, so what is written from
   * now on is closed to it. Everything is written in one transaction, or nothing.
   */
  revoke (text: string, options: { lostSince?: number | null } = {}): { device: string, peerId: string, revoked: Array<{ id: string, name: string, lastSeq: number }>, alreadyRevoked: boolean, rekeyed: RekeyResult[] } {
    const accountKey = this.#accountKey('revoke devices')
    const device = this.#resolve(text)
    if (bytesEqual(device, accountKey.publicKey)) throw new NotPermittedError('the account key itself cannot be revoked', { hint: 'name a linked device (`peernet account devices` lists them)' })
    const now = this.#o.clock.now()
    const writes: Array<{ net: Uint8Array, type: string, body: ReturnType<typeof revocationValue>, name: string, lastSeq: number }> = []
    const rekeys: ReturnType<Networks['rekeyEntries']>[] = []
    const linked = this.#records(accountKey.publicKey).filter((r) => r.revoked_at === null && !bytesEqual(r.device, device)).map((r) => r.device)
    for (const n of this.#networks.logs.networks().filter((r) => r.status === 'member')) {
      if (n.manifest.manifest.private && this.#networks.logs.role(n.id, accountKey.publicKey) === 'admin') {
        rekeys.push(this.#networks.rekeyEntries(n.id, { devices: linked, withoutDevice: device }))
      }
      const chain = this.#db.prepare('SELECT head_seq, revoked_after FROM chains WHERE net = ? AND author = ? AND device = ?').get(n.id, accountKey.publicKey, device) as { head_seq: number, revoked_after: number | null } | undefined
      let lastSeq = chain?.head_seq ?? 0
      if (options.lostSince != null) {
        const first = this.#db.prepare('SELECT MIN(seq) AS seq FROM entries WHERE net = ? AND author = ? AND device = ? AND received_at >= ?').get(n.id, accountKey.publicKey, device, options.lostSince) as { seq: number | null }
        if (first.seq !== null) lastSeq = Math.min(lastSeq, first.seq - 1)
      }
      if (chain?.revoked_after != null && chain.revoked_after <= lastSeq) continue
      writes.push({ net: n.id, type: 'peernet/revoke', body: revocationValue(revoke(accountKey, device, n.id, lastSeq, now)), name: n.manifest.manifest.name, lastSeq })
    }
    this.#o.store.transaction(() => {
      this.#db.prepare(`INSERT INTO linked_devices (device, account, delegation, linked_at, revoked_at) VALUES (?, ?, X'', ?, ?)
        ON CONFLICT(device) DO UPDATE SET revoked_at = COALESCE(linked_devices.revoked_at, excluded.revoked_at)`)
        .run(device, accountKey.publicKey, now, now)
      // Last: it tells sync about the new entries once they are in.
      // Already revoked everywhere: its keys were changed then (or `net rekey` does it by hand).
      const items = writes.length === 0 ? [] : [...writes, ...rekeys.flatMap((r) => r.items)]
      if (items.length > 0) this.#networks.appendEach(items)
    })
    return { device: toHex(device), peerId: peerIdOfPublicKey(device), revoked: writes.map((w) => ({ id: formatNetworkId(w.net), name: w.name, lastSeq: w.lastSeq })), alreadyRevoked: writes.length === 0, rekeyed: writes.length === 0 ? [] : rekeys.map((r) => r.result) }
  }

  // ---- helpers -------------------------------------------------------------------------------

  #accountKey (what: string): Identity {
    const keys = this.#networks.account
    if (keys.accountKey === null) {
      throw new NotPermittedError(`only the account's home can ${what}: this home is a linked device of account ${toHex(keys.publicKey).slice(0, 12)}… and holds no account key`, { hint: 'run it on the home that holds the account key' })
    }
    return keys.accountKey
  }

  /**
   * A home can become a device of `account` (null: of some account) if it is one already
   * of that account, or if its own account key has authored nothing yet — else its
   * networks would be left with an author no one writes for.
   */
  #checkLinkable (account: Uint8Array | null): void {
    const keys = this.#networks.account
    if (keys.delegation !== null) {
      if (account === null || bytesEqual(keys.publicKey, account)) return
      throw new DeviceLinkError(`this home is already a device of account ${toHex(keys.publicKey).slice(0, 12)}…; the link is for account ${toHex(account).slice(0, 12)}…`, { hint: 'link a fresh home to that account (`peernet init --home NEW`)' })
    }
    if (account !== null && bytesEqual(keys.publicKey, account)) throw new DeviceLinkError('this home holds that account\'s key already; the link is for a new device', { hint: 'take it up on the device that made the request' })
    const own = keys.publicKey
    const used = new Set(this.#networks.logs.networks().filter((n) => bytesEqual(n.manifest.manifest.creator, own)).map((n) => toHex(n.id)))
    for (const r of this.#db.prepare('SELECT DISTINCT net FROM entries WHERE author = ?').all(own) as Array<{ net: Uint8Array }>) used.add(toHex(r.net))
    if (used.size > 0) {
      throw new NotPermittedError(`this home already writes as its own account in ${used.size} network(s); it cannot become another account's device`, { hint: 'link a fresh home instead: `peernet init --home NEW`, start its daemon, and run `peernet account link-device` there' })
    }
  }

  #record (device: Uint8Array): { linked_at: number, revoked_at: number | null } | undefined {
    return this.#db.prepare('SELECT linked_at, revoked_at FROM linked_devices WHERE device = ?').get(device) as { linked_at: number, revoked_at: number | null } | undefined
  }

  #records (account: Uint8Array): Array<{ device: Uint8Array, linked_at: number, revoked_at: number | null }> {
    return this.#db.prepare('SELECT device, linked_at, revoked_at FROM linked_devices WHERE account = ?').all(account) as Array<{ device: Uint8Array, linked_at: number, revoked_at: number | null }>
  }

  #revokedIn (device: Uint8Array): number {
    return (this.#db.prepare('SELECT COUNT(*) AS n FROM chains WHERE author = ? AND device = ? AND revoked_after IS NOT NULL').get(this.#networks.account.publicKey, device) as { n: number }).n
  }

  /** When the account delegated a device, from the delegation that opens one of its chains. */
  #delegationTime (account: Uint8Array, v: DeviceView): number | null {
    const device = Buffer.from(v.device, 'hex')
    const row = this.#db.prepare("SELECT net, body FROM entries WHERE author = ? AND device = ? AND seq = 1 AND type = 'peernet/device' AND body IS NOT NULL LIMIT 1").get(account, device) as { net: Uint8Array, body: Uint8Array } | undefined
    if (row === undefined) return null
    try {
      return delegationFrom(this.#networks.logs.plainBody(this.#networks.logs.network(row.net), 'peernet/device', row.body)).created
    } catch (err) {
      if (err instanceof InvalidRecordError) return null
      throw err
    }
  }

  /** A device by its key (hex, or an unambiguous hex prefix of 8+ characters) or its peer id. */
  #resolve (text: string): Uint8Array {
    const t = text.trim()
    const known = this.list().devices
    const exact = known.filter((d) => d.peerId === t || d.device === t.toLowerCase())
    const matches = exact.length > 0 ? exact : /^[0-9a-fA-F]{8,}$/.test(t) ? known.filter((d) => d.device.startsWith(t.toLowerCase())) : []
    if (matches.length > 1) throw new UnknownDeviceError(`"${t}" matches several devices`, { hint: 'give more of the key' })
    const found = matches[0]
    if (found === undefined) {
      throw new UnknownDeviceError(`this account has no device "${t}" that this node knows of`, { hint: '`peernet account devices` lists them (by key and peer id)' })
    }
    return new Uint8Array(Buffer.from(found.device, 'hex'))
  }
}
