// The app interface. An app declares its entry types (with a decoder that validates the
// body's shape), a validator against current state, a reducer that keeps its own SQLite
// tables, and its queries and commands. The networks layer knows no particular app.

import type { DatabaseSync } from 'node:sqlite'
import type { Migration } from '../core/store.ts'
import type { CanonicalValue } from '../core/encoding.ts'
import type { SealedForAccounts } from './account-seal.ts'
import type { Identity } from '../core/identity.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/log.ts'

/** What an app sees of an accepted entry. */
export interface AppEntry<Body = unknown> {
  net: Uint8Array
  hash: Uint8Array
  author: Uint8Array
  device: Uint8Array
  seq: number
  ts: number
  type: string
  body: Body
}

export interface EntryTypeSpec<Body> {
  /** Checks the decoded CBOR body's shape; returns the typed body or throws with a reason. */
  decode: (value: CanonicalValue) => Body
  /** Checks the entry against current state; returns a reason to refuse it, or undefined. */
  validate?: (db: DatabaseSync, entry: AppEntry<Body>) => string | undefined
  /** Applies the entry to the app's tables (inside the ingest transaction). */
  reduce: (db: DatabaseSync, entry: AppEntry<Body>, ctx: AppReduceContext) => void
}

/** What a reducer may do beyond its tables: what only this node can (open what was sealed to its keys). */
export interface AppReduceContext {
  /** The account this node writes as. */
  account: Uint8Array
  /**
   * Opens a body sealed with `AppCommandContext.sealFor` in this entry, with this node's
   * account and device keys: the plaintext, or undefined when it is not for this node.
   */
  openSealed: (entry: AppEntry, sealed: SealedForAccounts) => Uint8Array | undefined
}

/** Writes an entry of this app into a network (given to commands). */
export type AppendEntry = (net: Uint8Array, type: string, body: CanonicalValue) => Promise<AppEntry>

/** What a query sees besides its tables: who is asking, and where. */
export interface AppQueryContext {
  db: DatabaseSync
  /** The local account key. */
  account: Uint8Array
  /** The networks of this app this node is a member of (not those it left), oldest joined first. */
  networks: Uint8Array[]
  /** The app's running service on this node (see AppDefinition.service), when it has one. */
  service?: AppService
}

/** One device of one account, as the direct app-message channel addresses and tags them. */
export interface AppPeer {
  account: Uint8Array
  /** The key that signs for the account on that node: the account key itself on the account's home, else a delegated device key. */
  device: Uint8Array
}

/**
 * What a running app service gets: request-free messages to other accounts' devices
 * (over libp2p, directly or through the mesh), this node's signer, its tables and a clock.
 */
export interface AppServiceContext {
  db: DatabaseSync
  /** Who this node is: its account and the key it signs with (see `signer`). */
  self: AppPeer
  /**
   * The key that signs for the account here (AccountKeys.signer). Apps that keep
   * two-party signed state (credit's trust lines) sign it with this; nothing else does.
   */
  signer: Identity
  clock: Clock
  logger: Logger
  /**
   * Sends `bytes` to the app's service on `to`'s node, over one long-lived stream per
   * peer: resolves once written to the stream (not when processed). Dials the peer, or
   * reaches it over the mesh, if need be; rejects with AppMessageError when it cannot
   * within the signal's bound. Messages to one peer keep their order.
   */
  send: (to: AppPeer, bytes: Uint8Array, options: { signal: AbortSignal }) => Promise<void>
  /** Whether `account` is a member of a network this node is in (of any app): who may message us. */
  knows: (account: Uint8Array) => boolean
  /** The accounts, other than this one, that are members of a network this node is in (of any app). */
  members: () => Uint8Array[]
  /** The devices `account` has spoken from on this channel, the most recent first (empty if none yet). */
  devices: (account: Uint8Array) => Uint8Array[]
  /** The app's networks this node is in (not those it left). */
  networks: () => Uint8Array[]
}

/** An app's long-running part on a node: started with the node, told of every message for it. */
export interface AppService {
  /**
   * A message for this app from `from` — authenticated: the stream's Noise-verified peer
   * key spoke for that account and device, and the account is a member of a network
   * this node is in. Called in arrival order per peer; must not throw.
   */
  receive: (from: AppPeer, bytes: Uint8Array) => void
  /** A stream to `peer`'s node has just been authenticated (it connected or came back): resume what waits for it. Must not throw. */
  connected?: (peer: AppPeer) => void
  /** The last stream to `peer`'s node has closed (it stopped, or the link went): until `connected`, it is out of reach. Must not throw. */
  disconnected?: (peer: AppPeer) => void
  stop: () => Promise<void> | void
}

export interface AppCommandContext extends AppQueryContext {
  append: AppendEntry
  /**
   * Deletes entries this account wrote in a network (a signed `peernet/delete`): their
   * bodies go here and, as it syncs, on every member; `forget` runs for each.
   */
  deleteEntries: (net: Uint8Array, hashes: Uint8Array[]) => Promise<void>
  /** The current members (account keys) of a network. */
  members: (net: Uint8Array) => Uint8Array[]
  /**
   * Seals `plain` so that only the account key and the current devices of each of
   * `accounts` can open it (see account-seal.ts), for an entry of `type` this node writes
   * into `net`. Name this node's own account too for its other devices to read it.
   */
  sealFor: (net: Uint8Array, type: string, accounts: Uint8Array[], plain: Uint8Array) => CanonicalValue
  /**
   * What `refuseAuthor` says about `account` may have changed (a block added or lifted):
   * a newly refused author's stored bodies go; a no longer refused one's are fetched again.
   */
  refusalsChanged: (account: Uint8Array) => void
}

/** A live event an app puts on the node's event stream (JSON-able `data`). */
export interface AppEvent {
  /** What happened, in the app's words: `post`, `mention`, … */
  kind: string
  data: Record<string, unknown>
}

export interface AppDefinition {
  /** The app's name, used in manifests and as its entry type prefix: `chat/message`. */
  name: string
  /**
   * The app's long-running part, started once per node (after the app's migrations) and
   * stopped with it: for apps that talk to other accounts directly rather than through
   * entries (credit's line updates). Its messages travel on `/peernet/app-msg/1.0.0`.
   */
  service?: (ctx: AppServiceContext) => AppService
  /** Entry types by their name after the prefix. */
  // Each type has its own body type; the registry holds them side by side.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  types: Record<string, EntryTypeSpec<any>>
  migrations: readonly Migration[]
  /** Read operations in one network: (db, net, params, ctx) → JSON-able result (the networks layer always passes ctx). */
  queries: Record<string, (db: DatabaseSync, net: Uint8Array, params: Record<string, unknown>, ctx?: AppQueryContext) => unknown>
  /** Write operations in one network: (ctx, net, params) → JSON-able result. */
  commands: Record<string, (ctx: AppCommandContext, net: Uint8Array, params: Record<string, unknown>) => Promise<unknown>>
  /**
   * Whether this node refuses to keep and pass on an author's entries in a network (a
   * block): a reason, or undefined. A refused author's app entries are checked as any
   * others but stored without their bodies and not reduced; the author's chains are not
   * offered, served or forwarded to peers. Their peernet/* entries are kept whole, so
   * membership here stays what every member derives. Call `refusalsChanged` when the
   * answer changes.
   */
  refuseAuthor?: (db: DatabaseSync, net: Uint8Array, author: Uint8Array) => string | undefined
  /**
   * Read operations over every network of this app the node is in (a home timeline,
   * notifications): (ctx, params) → JSON-able result.
   */
  accountQueries?: Record<string, (ctx: AppQueryContext, params: Record<string, unknown>) => unknown>
  /** Write operations not bound to one network (the command picks where to write). */
  accountCommands?: Record<string, (ctx: AppCommandContext, params: Record<string, unknown>) => Promise<unknown>>
  /**
   * Live events for the event stream, from entries of this app just accepted (written
   * here or synced in; after their transaction). Called only while someone listens.
   */
  events?: (ctx: AppQueryContext, entries: AppEntry[], local: boolean) => AppEvent[]
  /**
   * Its author deleted an entry of this app: drop what the reducer made of it (inside the
   * ingest transaction). The entry stays in its chain without a body; without this hook
   * the app's state keeps it. Also called for each entry that stops counting because
   * the account revoked the device that wrote it.
   */
  forget?: (db: DatabaseSync, entry: DeletedEntry) => void
  /**
   * Clears everything the app holds for one network: for apps whose state cannot forget
   * one entry (it depends on order, say balances). When entries stop counting (a device
   * is revoked past them) and the app has no `forget`, the networks layer calls this and
   * then replays the network's remaining entries through the reducers in the canonical
   * order (ts, author, device, seq), inside one transaction.
   */
  reset?: (db: DatabaseSync, net: Uint8Array) => void
  /**
   * The app's state does not depend on the order its entries are reduced in (its
   * reducers commute: arrival order differs from node to node anyway). A rebuild then
   * feeds the entries in storage order, one sequential pass over the log, instead of the
   * canonical order, which reads the log's pages at random (measured: most of a
   * 100,000-post rebuild's time).
   */
  orderFree?: boolean
  /**
   * Indexes that only the app's queries read — never a reducer, validator or `forget`. A
   * rebuild drops them while the tables fill and builds each once after (SQLite's bulk
   * load), instead of inserting into them row by row.
   */
  queryIndexes?: readonly string[]
}

/** What an app learns of a deleted entry (its body is gone). */
export interface DeletedEntry {
  net: Uint8Array
  hash: Uint8Array
  author: Uint8Array
  type: string
}

export function defineApp (app: AppDefinition): AppDefinition {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(app.name) || app.name === 'peernet') throw new Error(`invalid app name "${app.name}"`)
  for (const t of Object.keys(app.types)) {
    if (!/^[a-z][a-z0-9-]*$/.test(t)) throw new Error(`invalid entry type "${app.name}/${t}"`)
  }
  return app
}
