// The networks service: create, invite, join, leave, read and write — the operations the
// API, the CLI and apps use. It owns no protocol: entries get in only through LogStore's
// ingest, and the sync shell carries them between peers.

import { randomBytes } from 'node:crypto'
import { sealTo } from '../core/seal.ts'
import type { Clock } from '../core/clock.ts'
import type { Store } from '../core/store.ts'
import type { CanonicalValue } from '../core/encoding.ts'
import { createManifest, formatNetworkId, parseNetworkId } from './manifest.ts'
import type { NetworkPolicy, SignedManifest } from './manifest.ts'
import { createInvite, decodeInvite, encodeInvite, grantValue, looksLikeInvite } from './invite.ts'
import type { Role } from './invite.ts'
import { LogStore, MAX_DELETE_TARGETS, MAX_REKEY_BOXES } from './log-store.ts'
import type { IngestResult, NetworkRecord, StoredEntry } from './log-store.ts'
import type { AppCommandContext, AppDefinition, AppEntry, AppEvent, AppQueryContext, AppService } from './app.ts'
import { sealForKeys, sealedValue } from './account-seal.ts'
import { EntryRejectedError, InvalidRecordError, NotPermittedError, UnknownEntryError, UnknownNetworkError } from './errors.ts'
import { delegationValue, ownAccount } from './account.ts'
import type { AccountKeys } from './account.ts'
import type { Identity } from '../core/identity.ts'
import { toHex } from './hashing.ts'
import { keyIdOf } from './body-cipher.ts'

export interface NetworksOptions {
  store: Store
  /** Who this node writes as (see AccountKeys); a bare Identity is the home's own account key. */
  account: AccountKeys | Identity
  apps: AppDefinition[]
  clock: Clock
  /** Addresses to put into invites so joiners can dial this node. */
  addresses: () => string[]
}

export interface NetworkSummary {
  id: string
  name: string
  app: string
  policy: NetworkPolicy
  private: boolean
  creator: string
  status: 'member' | 'left'
  role: string | null
  members: number
  entries: number
  /** Private networks: how many network keys this node holds, and the id (hex) of the one it writes with; null for public ones. */
  keys: number | null
  currentKey: string | null
}



export type NetworksListener = (event: { type: 'entries', net: Uint8Array, entries: AppEntry[], local: boolean }) => void

/** Chains whose bodies this node should fetch again from peers (an author it refused is no longer refused). */
export type RefetchListener = (net: Uint8Array, chains: Array<{ author: Uint8Array, device: Uint8Array, after: number }>) => void

export class Networks {
  readonly logs: LogStore
  #account: AccountKeys
  readonly #apps: Map<string, AppDefinition>
  readonly #clock: Clock
  readonly #addresses: () => string[]
  readonly #listeners = new Set<NetworksListener>()
  readonly #refetchers = new Set<RefetchListener>()
  /** Told when this node creates, joins or leaves a network. */
  readonly #watchers = new Set<(net: Uint8Array | null) => void>()
  readonly #store: Store
  /** The apps' running services (see AppDefinition.service), once the node started them. */
  #services: (app: string) => AppService | undefined = () => undefined

  constructor (options: NetworksOptions) {
    this.#store = options.store
    this.#apps = new Map(options.apps.map((a) => [a.name, a]))
    this.logs = new LogStore(options.store, this.#apps)
    this.#account = 'signer' in options.account ? options.account : ownAccount(options.account)
    this.logs.setOpeners(openersOf(this.#account), this.#account.publicKey)
    this.#clock = options.clock
    this.#addresses = options.addresses
  }

  /** Where the apps' running services are found (the node starts them after the networks). */
  useServices (lookup: (app: string) => AppService | undefined): void {
    this.#services = lookup
  }

  /** Who this node writes as. */
  get account (): AccountKeys { return this.#account }

  /** Switches who this node writes as (a home taking up a device link). */
  useAccount (account: AccountKeys): void {
    this.#account = account
    this.logs.setOpeners(openersOf(account), account.publicKey)
  }

  /** Tells watchers (sync, rendezvous) that networks were added here without this class (a linked device taking up its account's). */
  networksChanged (): void {
    this.#membershipChanged()
  }

  subscribe (listener: NetworksListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /**
   * Calls `watcher` whenever the set of networks this node is in changes: with the network
   * that changed, or null when any may have (watchers then look at them all).
   */
  watchMembership (watcher: (net: Uint8Array | null) => void): () => void {
    this.#watchers.add(watcher)
    return () => { this.#watchers.delete(watcher) }
  }

  #membershipChanged (net: Uint8Array | null = null): void {
    for (const w of this.#watchers) w(net)
  }

  #emit (net: Uint8Array, entries: AppEntry[], local: boolean): void {
    if (entries.length === 0) return
    for (const l of this.#listeners) l({ type: 'entries', net, entries, local })
  }

  /** Network ids accept the printable form (pn…) and unambiguous prefixes of it. */
  resolve (text: string): Uint8Array {
    const t = text.trim().toLowerCase()
    const exactId = /^pn[a-z2-7]{52}$/.test(t) ? parseNetworkId(t) : undefined
    if (exactId !== undefined && this.logs.hasNetwork(exactId)) return exactId
    // Ids and names only: a node in 10,000 networks must not decode every manifest per request.
    const all = this.logs.networkNames()
    const byPrefix = t.length >= 6 ? all.filter((n) => formatNetworkId(n.id).startsWith(t)) : []
    if (byPrefix.length === 1) return (byPrefix[0] as { id: Uint8Array }).id
    const byName = all.filter((n) => n.name === text)
    if (byName.length === 1) return (byName[0] as { id: Uint8Array }).id
    if (byPrefix.length > 1 || byName.length > 1) throw new UnknownNetworkError(`"${text}" matches several networks`, { hint: 'give more of the id' })
    parseNetworkId(text)
    throw new UnknownNetworkError(`this node is not in network ${text}`, { hint: '`peernet net ls` lists yours; join with `peernet net join INVITE`' })
  }

  create (options: { name: string, app: string, policy: NetworkPolicy, private: boolean, params?: Record<string, CanonicalValue> }): { id: string, invite: string | null } {
    if (!this.#apps.has(options.app)) throw new InvalidRecordError(`unknown app "${options.app}"`, { hint: `apps here: ${[...this.#apps.keys()].join(', ')}` })
    const signed = createManifest(this.#accountKey('create a network'), { name: options.name, app: options.app, policy: options.private ? 'invite' : options.policy, private: options.private, params: options.params ?? {}, created: this.#clock.now() })
    const keys = options.private ? [{ key: new Uint8Array(randomBytes(32)), ts: 0, author: signed.manifest.creator, seq: 0 }] : []
    const record = this.logs.addNetwork(signed, keys, this.#clock.now())
    const invite = record.manifest.manifest.policy === 'invite' ? this.invite(record.id, { role: 'member', expires: null, uses: null }) : null
    this.#membershipChanged(record.id)
    return { id: formatNetworkId(record.id), invite }
  }

  invite (net: Uint8Array, options: { role: Role, expires: number | null, uses: number | null }): string {
    const record = this.logs.network(net)
    if (this.logs.role(net, this.account.publicKey) !== 'admin') throw new NotPermittedError('only admins of this network can invite', { hint: 'ask an admin for an invite' })
    return encodeInvite(createInvite(this.#accountKey('sign an invite'), record.manifest, { ...options, addrs: this.#addresses(), keys: this.logs.keyRing(record.id) }))
  }

  /** Joins by invite, or by id for open networks whose manifest this node already holds. */
  join (text: string): { id: string, addrs: string[], record: NetworkRecord } {
    const now = this.#clock.now()
    if (!looksLikeInvite(text)) {
      const id = this.resolve(text)
      const record = this.logs.network(id)
      if (record.manifest.manifest.policy !== 'open') throw new NotPermittedError('this network is invite-only', { hint: 'ask an admin for an invite' })
      this.logs.setStatus(id, 'member')
      if (!this.logs.isMember(id, this.account.publicKey)) this.#appendChecked(id, [{ type: 'peernet/join', body: {} }])
      this.#membershipChanged(id)
      return { id: formatNetworkId(id), addrs: [], record }
    }
    const inv = decodeInvite(text)
    if (inv.grant.expires !== null && now > inv.grant.expires) throw new EntryRejectedError('the invite has expired', { hint: 'ask an admin for a new invite' })
    // Adding the network and writing the join land together or not at all.
    let joined
    try {
      joined = this.#store.transaction(() => {
      const record = this.logs.addNetwork(inv.manifest, inv.keys, now)
      if (this.logs.isMember(record.id, this.account.publicKey)) return { record, accepted: [] }
      // The join cites the grant; whether the issuer is an admin and the invite unused is
      // checked again by every member as the join reaches them.
      if (this.#account.delegation !== null) throw this.#notYetMember()
      const result = this.#append(record.id, [{ type: 'peernet/join', body: { invite: grantValue(inv.grant) }, ts: now }], now)
      if (result.rejected.length > 0) throw new EntryRejectedError(result.rejected[0]?.reason ?? 'join refused', { hint: 'ask an admin for a new invite' })
      return { record, accepted: result.accepted }
      })
    } finally {
      this.logs.forget() // the transaction may have rolled back what the cache saw
    }
    const { record, accepted } = joined
    this.#emit(record.id, accepted, true)
    this.#membershipChanged(record.id)
    return { id: formatNetworkId(record.id), addrs: inv.addrs, record }
  }

  /** Joins an open network whose manifest came from a member (found by rendezvous). */
  joinOpen (signed: SignedManifest): { id: string, record: NetworkRecord } {
    if (signed.manifest.policy !== 'open') throw new NotPermittedError(`network "${signed.manifest.name}" is invite-only`, { hint: 'ask an admin for an invite (`peernet net invite` on their node)' })
    const now = this.#clock.now()
    let joined
    try {
      joined = this.#store.transaction(() => {
        const record = this.logs.addNetwork(signed, [], now)
        if (this.logs.isMember(record.id, this.account.publicKey)) return { record, accepted: [] }
        if (this.#account.delegation !== null) throw this.#notYetMember()
        const result = this.#append(record.id, [{ type: 'peernet/join', body: {}, ts: now }], now)
        if (result.rejected.length > 0) throw new EntryRejectedError(result.rejected[0]?.reason ?? 'join refused')
        return { record, accepted: result.accepted }
      })
    } finally {
      this.logs.forget()
    }
    this.#emit(joined.record.id, joined.accepted, true)
    this.#membershipChanged(joined.record.id)
    return { id: formatNetworkId(joined.record.id), record: joined.record }
  }

  /** The manifest of a network this node is a member of, if it is one. */
  heldManifest (net: Uint8Array): SignedManifest | undefined {
    try {
      const record = this.logs.network(net)
      return record.status === 'member' ? record.manifest : undefined
    } catch (err) {
      if (err instanceof UnknownNetworkError) return undefined
      throw err
    }
  }

  leave (net: Uint8Array): void {
    const record = this.logs.network(net)
    if (record.manifest.manifest.creator.every((b, i) => b === this.account.publicKey[i])) {
      throw new NotPermittedError('the creator of a network cannot leave it')
    }
    if (this.logs.isMember(net, this.account.publicKey)) this.#appendChecked(net, [{ type: 'peernet/leave', body: {} }])
    this.logs.setStatus(net, 'left')
    this.#membershipChanged(net)
  }

  /**
   * Removes a member (admins only): a `peernet/remove` naming the last entry of each of
   * the member's devices held here, so what they wrote until now stays and everything
   * after is refused by every member.
   */
  removeMember (net: Uint8Array, member: string): { removed: string, heads: Array<{ device: string, seq: number }>, rekey: RekeyResult | null } {
    const account = this.#memberAccount(net, member)
    const record = this.logs.network(net)
    if (toHex(account) === toHex(record.manifest.manifest.creator)) throw new NotPermittedError('the creator of a network cannot be removed')
    const heads = this.logs.heads(net).filter((h) => toHex(h.author) === toHex(account)).map((h) => ({ device: h.device, seq: h.seq }))
    // A private network gets a new key, sealed to everyone but the removed member, in the
    // same transaction as the removal: what is written from now on is closed to them.
    const rekey = record.manifest.manifest.private ? this.rekeyEntries(net, { without: account }) : null
    this.appendEach([{ net, type: 'peernet/remove', body: { member: account, heads } }, ...(rekey?.items ?? [])])
    this.#membershipChanged(net)
    return { removed: toHex(account), heads: heads.map((h) => ({ device: toHex(h.device), seq: h.seq })), rekey: rekey?.result ?? null }
  }

  /**
   * Gives a private network a new key (admins only), sealed to each member's account key
   * and each delegated device key of theirs seen in the network and not revoked: after a
   * device is revoked, or by hand. This node writes with the new key from now on, and so
   * does every member as the rekey reaches them.
   */
  rekey (net: Uint8Array, options: { devices?: Uint8Array[] } = {}): RekeyResult {
    const { items, result } = this.rekeyEntries(net, options)
    this.appendEach(items)
    return result
  }

  /**
   * The peernet/rekey entries for a new key of a private network, not yet written:
   * `without` leaves out an account about to be removed, `withoutDevice` a device about to
   * be revoked; `devices` adds device keys of this account not seen in the network yet (its
   * linked devices).
   */
  rekeyEntries (net: Uint8Array, options: { without?: Uint8Array, devices?: Uint8Array[], withoutDevice?: Uint8Array } = {}): { items: Array<{ net: Uint8Array, type: string, body: CanonicalValue }>, result: RekeyResult } {
    const record = this.logs.network(net)
    if (!record.manifest.manifest.private) throw new InvalidRecordError('only a private network has a key to change', { hint: 'its entries are readable by whoever holds them' })
    if (this.logs.role(net, this.account.publicKey) !== 'admin') throw new NotPermittedError('only admins of this network can change its key', { hint: 'ask an admin' })
    const to = new Map<string, Uint8Array>()
    const add = (k: Uint8Array): void => { to.set(toHex(k), k) }
    for (const m of this.logs.members(net)) {
      if (options.without !== undefined && toHex(m.account) === toHex(options.without)) continue
      add(m.account)
      for (const d of this.logs.activeDevices(m.account)) add(d)
    }
    // This node itself, even before its device has written here (it must read its own writing).
    add(this.#account.publicKey)
    add(this.#account.signer.publicKey)
    for (const d of options.devices ?? []) add(d)
    if (options.withoutDevice !== undefined) to.delete(toHex(options.withoutDevice))
    const key = new Uint8Array(randomBytes(32))
    const boxes = [...to.values()].map((t) => ({ to: t, box: sealTo(t, key) }))
    const items: Array<{ net: Uint8Array, type: string, body: CanonicalValue }> = []
    for (let i = 0; i < boxes.length; i += MAX_REKEY_BOXES) items.push({ net, type: 'peernet/rekey', body: { keys: boxes.slice(i, i + MAX_REKEY_BOXES) } })
    return { items, result: { net: formatNetworkId(net), key: toHex(keyIdOf(key)), recipients: boxes.length, entries: items.length } }
  }

  /** Makes a member an admin or a plain member again (admins only). */
  setRole (net: Uint8Array, member: string, role: Role): { member: string, role: Role } {
    const account = this.#memberAccount(net, member)
    if (toHex(account) === toHex(this.logs.network(net).manifest.manifest.creator)) throw new NotPermittedError('the creator\'s role cannot change')
    this.#appendChecked(net, [{ type: 'peernet/role', body: { member: account, role } }])
    return { member: toHex(account), role }
  }

  /** A current member's account, by hex key or an unambiguous prefix of one (8+ digits); the caller must be an admin. */
  #memberAccount (net: Uint8Array, member: string): Uint8Array {
    if (this.logs.role(net, this.account.publicKey) !== 'admin') throw new NotPermittedError('only admins of this network can change its members', { hint: 'ask an admin' })
    const text = member.trim().toLowerCase()
    if (!/^[0-9a-f]{8,64}$/.test(text)) throw new InvalidRecordError(`"${member}" is not an account key`, { hint: '`peernet net members NET` lists them (at least 8 hex digits)' })
    const matches = this.logs.members(net).filter((m) => toHex(m.account).startsWith(text))
    if (matches.length === 0) throw new NotPermittedError(`${text.slice(0, 12)}… is not a member of this network`, { hint: '`peernet net members NET` lists them' })
    if (matches.length > 1) throw new InvalidRecordError(`"${member}" matches several members`, { hint: 'give more of the key' })
    return (matches[0] as { account: Uint8Array }).account
  }

  /** Appends entries as this node's account; refuses with the ingest reason. */
  #appendChecked (net: Uint8Array, items: Array<{ type: string, body: CanonicalValue }>): AppEntry[] {
    const now = this.#clock.now()
    if (this.#account.delegation !== null && !this.logs.isMember(net, this.#account.publicKey)) throw this.#notYetMember()
    const result: IngestResult = this.#append(net, items.map((i) => ({ ...i, ts: now })), now)
    if (result.rejected.length > 0) {
      const reason = result.rejected[0]?.reason ?? 'refused'
      throw new EntryRejectedError(reason, /revoked this device/.test(reason) ? { hint: 'the account revoked this device; `peernet account devices` shows it' } : {})
    }
    this.#emit(net, result.accepted, true)
    return result.accepted
  }

  /**
   * Appends as this node's account, signed by this node's key. A linked device opens its
   * chain in a network with its delegation, the first time it writes there.
   */
  #append (net: Uint8Array, items: Array<{ type: string, body: CanonicalValue, ts: number }>, now: number): IngestResult {
    const { publicKey, signer, delegation } = this.#account
    if (this.logs.network(net).manifest.manifest.private && this.logs.leftOutOfRekey(net, publicKey, signer.publicKey)) {
      throw new NotPermittedError('this network\'s key was changed without this node: what it wrote now, whoever the change shut out could read', { hint: 'ask an admin to run `peernet net rekey NET`; its new key will include this node if it is still a member' })
    }
    const opening = delegation !== null && this.logs.head(net, publicKey, signer.publicKey) === undefined
      ? [{ type: 'peernet/device', body: delegationValue(delegation), ts: items[0]?.ts ?? now }]
      : []
    return this.logs.append(signer, publicKey, net, [...opening, ...items], now)
  }

  /** Appends account-level entries to several networks: all of them land, or none. */
  appendEach (items: Array<{ net: Uint8Array, type: string, body: CanonicalValue }>): AppEntry[] {
    const now = this.#clock.now()
    let accepted: AppEntry[]
    try {
      accepted = this.#store.transaction(() => items.flatMap((i) => {
        const result = this.#append(i.net, [{ type: i.type, body: i.body, ts: now }], now)
        if (result.rejected.length > 0) throw new EntryRejectedError(result.rejected[0]?.reason ?? 'refused')
        return result.accepted
      }))
    } finally {
      this.logs.forget()
    }
    for (const e of accepted) this.#emit(e.net, [e], true)
    return accepted
  }

  #accountKey (what: string): Identity {
    if (this.#account.accountKey === null) {
      throw new NotPermittedError(`only the account's home can ${what}: this home is a linked device`, { hint: 'run it on the home that holds the account key' })
    }
    return this.#account.accountKey
  }

  #notYetMember (): NotPermittedError {
    return new NotPermittedError('this device does not know its account to be a member of this network yet', {
      hint: 'wait until it has synced with a member (`peernet peers`), or join on the account\'s home and link the device again'
    })
  }

  /**
   * Deletes entries this account wrote: a `peernet/delete` entry drops their bodies here
   * and, as it syncs, on every member; the chains keep their headers.
   */
  deleteEntries (net: Uint8Array, hashes: string[]): { deleted: string[] } {
    const record = this.logs.network(net)
    if (record.status === 'left') throw new NotPermittedError('you left this network', { hint: 'join it again first' })
    if (hashes.length === 0 || hashes.length > MAX_DELETE_TARGETS) throw new InvalidRecordError(`name 1–${MAX_DELETE_TARGETS} entries to delete`)
    const targets = hashes.map((text) => {
      const hash = /^[0-9a-f]{64}$/i.test(text) ? new Uint8Array(Buffer.from(text, 'hex')) : null
      const stored = hash === null ? undefined : this.logs.entry(net, hash)
      if (hash === null || stored === undefined) throw new UnknownEntryError(`no entry ${text} in this network`, { hint: '`peernet net log NET` lists entries with their hashes' })
      if (toHex(stored.entry.header.author) !== toHex(this.account.publicKey)) throw new NotPermittedError(`entry ${text.slice(0, 12)}… was written by another account; you can delete only your own`)
      if (stored.entry.header.type.startsWith('peernet/')) throw new NotPermittedError(`entry ${text.slice(0, 12)}… is a ${stored.entry.header.type} entry, which cannot be deleted`)
      return hash
    })
    this.#appendChecked(net, [{ type: 'peernet/delete', body: { entries: targets } }])
    return { deleted: targets.map(toHex) }
  }

  /** Sets or clears the network's quota on stored bodies; returns the usage after it. */
  setQuota (net: Uint8Array, bytes: number | null): ReturnType<LogStore['usage']> {
    if (bytes !== null && (!Number.isSafeInteger(bytes) || bytes < 0)) throw new InvalidRecordError('a quota is a whole number of bytes')
    this.logs.setQuota(net, bytes)
    return this.logs.usage(net)
  }

  /** For apps: append one entry of the network's app. */
  async appendApp (net: Uint8Array, type: string, body: CanonicalValue): Promise<AppEntry> {
    const record = this.logs.network(net)
    if (record.status === 'left') throw new NotPermittedError('you left this network', { hint: 'join it again first' })
    // The last entry: a linked device's first write in a network comes after its delegation.
    const e = this.#appendChecked(net, [{ type, body }]).at(-1)
    return await Promise.resolve(e as AppEntry)
  }

  /** Entries from a peer: verified and stored, or rejected with reasons. */
  ingestRemote (entries: Parameters<LogStore['ingest']>[0]): IngestResult {
    const result = this.logs.ingest(entries, this.#clock.now())
    const byNet = new Map<string, AppEntry[]>()
    for (const e of result.accepted) {
      const k = toHex(e.net)
      const list = byNet.get(k)
      if (list === undefined) byNet.set(k, [e])
      else list.push(e)
    }
    for (const list of byNet.values()) this.#emit((list[0] as AppEntry).net, list, false)
    return result
  }

  app (net: Uint8Array): AppDefinition {
    const name = this.logs.network(net).manifest.manifest.app
    const app = this.#apps.get(name)
    if (app === undefined) throw new InvalidRecordError(`this node has no app "${name}"`)
    return app
  }

  async command (net: Uint8Array, name: string, params: Record<string, unknown>): Promise<unknown> {
    const app = this.app(net)
    const cmd = app.commands[name]
    if (cmd === undefined) throw new InvalidRecordError(`app ${app.name} has no command "${name}"`)
    return await cmd(this.#commandContext(app), net, params)
  }

  /**
   * Seals `plain` for the account key and every current device (delegated, seen writing in
   * a network held here, revoked in none) of each account, for an entry of `type` this
   * node writes into `net` (the seal is bound to that network, author and type). This
   * node's own device key is added when its account is among them.
   */
  sealFor (net: Uint8Array, type: string, accounts: Uint8Array[], plain: Uint8Array): CanonicalValue {
    const me = this.#account
    const keys: Uint8Array[] = []
    for (const a of accounts) {
      keys.push(a, ...this.logs.activeDevices(a))
      if (toHex(a) === toHex(me.publicKey)) keys.push(me.signer.publicKey)
    }
    return sealedValue(sealForKeys(keys, plain, { net, author: me.publicKey, type }))
  }

  /** Calls `listener` when chains' bodies should be fetched again from peers. */
  onRefetch (listener: RefetchListener): () => void {
    this.#refetchers.add(listener)
    return () => { this.#refetchers.delete(listener) }
  }

  /**
   * `app`'s refuseAuthor may answer differently for `account` now: in each of the app's
   * networks here, a refused author's stored bodies go (the app forgets them); for one no
   * longer refused, the chains held without bodies are asked for again from peers (sync
   * fills the bodies in and passes them on).
   */
  refusalsChanged (app: AppDefinition, key: Uint8Array): { withheld: number, refetching: number } {
    // A plain copy: apps may hand a Buffer, which goes into sync messages.
    const account = new Uint8Array(key)
    let withheld = 0
    let refetching = 0
    for (const net of this.logs.memberNetworkIds()) {
      if (this.logs.network(net).manifest.manifest.app !== app.name) continue
      if (app.refuseAuthor?.(this.logs.db, net, account) !== undefined) {
        withheld += this.logs.withholdAuthor(net, account)
        continue
      }
      const chains = this.logs.bodilessChains(net, account).map((c) => ({ author: account, device: c.device, after: c.after }))
      if (chains.length === 0) continue
      refetching += chains.length
      for (const l of this.#refetchers) l(net, chains)
    }
    return { withheld, refetching }
  }

  /** The chain heads this node offers peers in a network: all but those of authors it refuses. */
  offeredHeads (net: Uint8Array): ReturnType<LogStore['heads']> {
    const heads = this.logs.heads(net)
    if (!this.logs.refusesAuthors) return heads
    const refused = new Map<string, boolean>()
    return heads.filter((h) => {
      const k = toHex(h.author)
      let r = refused.get(k)
      if (r === undefined) { r = this.logs.refusedAuthor(net, h.author) !== undefined; refused.set(k, r) }
      return !r
    })
  }

  query (net: Uint8Array, name: string, params: Record<string, unknown>): unknown {
    const app = this.app(net)
    const q = app.queries[name]
    if (q === undefined) throw new InvalidRecordError(`app ${app.name} has no query "${name}"`)
    return q(this.logs.db, net, params, this.#queryContext(app))
  }

  /** An app's command over every network of it this node is in (not bound to one). */
  async accountCommand (appName: string, name: string, params: Record<string, unknown>): Promise<unknown> {
    const app = this.#appNamed(appName)
    const cmd = app.accountCommands?.[name]
    if (cmd === undefined) throw new InvalidRecordError(`app ${app.name} has no command "${name}"`, { hint: 'see docs/api.md for the apps\' commands' })
    return await cmd(this.#commandContext(app), params)
  }

  /** An app's query over every network of it this node is in (a home timeline, say). */
  accountQuery (appName: string, name: string, params: Record<string, unknown>): unknown {
    const app = this.#appNamed(appName)
    const q = app.accountQueries?.[name]
    if (q === undefined) throw new InvalidRecordError(`app ${app.name} has no query "${name}"`, { hint: 'see docs/api.md for the apps\' queries' })
    return q(this.#queryContext(app), params)
  }

  /** What the app of `net` makes of entries just accepted there, for the event stream. */
  appEvents (net: Uint8Array, entries: AppEntry[], local: boolean): Array<{ app: string } & AppEvent> {
    let app: AppDefinition
    try { app = this.app(net) } catch { return [] }
    if (app.events === undefined) return []
    const mine = entries.filter((e) => e.type.startsWith(`${app.name}/`) && e.body !== null)
    if (mine.length === 0) return []
    return app.events(this.#queryContext(app), mine, local).map((e) => ({ app: app.name, ...e }))
  }

  #appNamed (name: string): AppDefinition {
    const app = this.#apps.get(name)
    if (app === undefined) throw new InvalidRecordError(`this node has no app "${name}"`, { hint: `apps here: ${[...this.#apps.keys()].join(', ')}` })
    return app
  }

  #queryContext (app: AppDefinition): AppQueryContext {
    // The app's networks are read when asked for: most account commands (a credit
    // payment, hundreds a second) never look, and the lookup walks every network's log.
    const logs = this.logs
    let networks: Uint8Array[] | undefined
    return { db: logs.db, account: this.account.publicKey, get networks () { return (networks ??= logs.memberNetworkIdsOf(app.name)) }, service: this.#services(app.name) }
  }

  #commandContext (app: AppDefinition): AppCommandContext {
    // Object.assign onto the query context keeps its lazy `networks` (a spread would read it).
    const commands: Omit<AppCommandContext, keyof AppQueryContext> = {
      append: async (n, type, body) => {
        if (!type.startsWith(`${app.name}/`)) throw new InvalidRecordError(`app ${app.name} cannot write ${type} entries`)
        return await this.appendApp(n, type, body)
      },
      deleteEntries: async (n, hashes) => {
        this.deleteEntries(n, hashes.map(toHex))
        await Promise.resolve()
      },
      members: (n) => this.logs.members(n).map((m) => m.account),
      sealFor: (n, type, accounts, plain) => this.sealFor(n, type, accounts, plain),
      refusalsChanged: (account) => { this.refusalsChanged(app, account) }
    }
    return Object.assign(this.#queryContext(app), commands)
  }

  summary (record: NetworkRecord): NetworkSummary {
    const m = record.manifest.manifest
    return {
      id: formatNetworkId(record.id),
      name: m.name,
      app: m.app,
      policy: m.policy,
      private: m.private,
      creator: toHex(m.creator),
      status: record.status,
      role: this.logs.role(record.id, this.account.publicKey) ?? null,
      members: this.logs.members(record.id).length,
      entries: this.logs.entryCount(record.id),
      ...this.#keySummary(record)
    }
  }

  #keySummary (record: NetworkRecord): { keys: number | null, currentKey: string | null } {
    if (!record.manifest.manifest.private) return { keys: null, currentKey: null }
    const current = this.logs.currentKey(record.id)
    return { keys: this.logs.keyRing(record.id).length, currentKey: current === undefined ? null : toHex(keyIdOf(current.key)) }
  }

  list (): NetworkSummary[] {
    return this.logs.networks().map((r) => this.summary(r))
  }

  members (net: Uint8Array): Array<{ account: string, role: string, joinedAt: number, you: boolean }> {
    return this.logs.members(net).map((m) => ({ account: toHex(m.account), role: m.role, joinedAt: m.joinedAt, you: toHex(m.account) === toHex(this.account.publicKey) }))
  }

  log (net: Uint8Array, limit: number): Array<{ hash: string, author: string, device: string, seq: number, ts: number, type: string, bodySize: number, pruned: boolean, body: unknown }> {
    const record = this.logs.network(net)
    return this.logs.log(net, limit).map((s: StoredEntry) => ({
      hash: toHex(s.hash),
      author: toHex(s.entry.header.author),
      device: toHex(s.entry.header.device),
      seq: s.entry.header.seq,
      ts: s.entry.header.ts,
      type: s.entry.header.type,
      bodySize: s.entry.header.bodySize,
      pruned: s.entry.body === undefined,
      body: s.entry.body === undefined ? null : jsonable(this.logs.plainBody(record, s.entry.header.type, s.entry.body))
    }))
  }

  equivocations (net: Uint8Array): Array<{ author: string, device: string, seq: number, first: string, second: string, detectedAt: number }> {
    return this.logs.equivocations(net).map((e) => ({
      author: toHex(e.author), device: toHex(e.device), seq: e.seq, first: toHex(e.first.header.bodyHash), second: toHex(e.second.header.bodyHash), detectedAt: e.detectedAt
    }))
  }
}

export interface RekeyResult {
  net: string
  /** Id (hex) of the new key. */
  key: string
  /** Account and device keys it was sealed to. */
  recipients: number
  /** peernet/rekey entries written (400 boxes each at most). */
  entries: number
}

/** The identities of this node that rekey boxes may be sealed to: the account key if this home holds it, and the device key. */
function openersOf (account: AccountKeys): Identity[] {
  return account.accountKey === null ? [account.signer] : [account.accountKey, account.signer]
}

/** CBOR values as JSON: bytes as hex. */
function jsonable (value: CanonicalValue): unknown {
  if (value instanceof Uint8Array) return toHex(value)
  if (Array.isArray(value)) return value.map(jsonable)
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonable(v)]))
  return value
}
