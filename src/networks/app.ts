// The app interface. An app declares its entry types (with a decoder that validates the
// body's shape), a validator against current state, a reducer that keeps its own SQLite
// tables, and its queries and commands. The networks layer knows no particular app.

import type { DatabaseSync } from 'node:sqlite'
import type { Migration } from '../core/store.ts'
import type { CanonicalValue } from '../core/encoding.ts'

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
  reduce: (db: DatabaseSync, entry: AppEntry<Body>) => void
}

/** Writes an entry of this app into a network (given to commands). */
export type AppendEntry = (net: Uint8Array, type: string, body: CanonicalValue) => Promise<AppEntry>

export interface AppCommandContext {
  db: DatabaseSync
  append: AppendEntry
  /** The local account key. */
  account: Uint8Array
}

export interface AppDefinition {
  /** The app's name, used in manifests and as its entry type prefix: `chat/message`. */
  name: string
  /** Entry types by their name after the prefix. */
  // Each type has its own body type; the registry holds them side by side.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  types: Record<string, EntryTypeSpec<any>>
  migrations: readonly Migration[]
  /** Read operations: (db, net, params) → JSON-able result. */
  queries: Record<string, (db: DatabaseSync, net: Uint8Array, params: Record<string, unknown>) => unknown>
  /** Write operations: (ctx, net, params) → JSON-able result. */
  commands: Record<string, (ctx: AppCommandContext, net: Uint8Array, params: Record<string, unknown>) => Promise<unknown>>
  /**
   * Clears everything the app holds for one network. When entries stop counting (a
   * device is revoked past them), the networks layer calls this and then replays the
   * network's remaining entries through the reducers in the canonical order
   * (ts, author, device, seq), inside one transaction. An app without it keeps the
   * state of entries that no longer count.
   */
  reset?: (db: DatabaseSync, net: Uint8Array) => void
}

export function defineApp (app: AppDefinition): AppDefinition {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(app.name) || app.name === 'peernet') throw new Error(`invalid app name "${app.name}"`)
  for (const t of Object.keys(app.types)) {
    if (!/^[a-z][a-z0-9-]*$/.test(t)) throw new Error(`invalid entry type "${app.name}/${t}"`)
  }
  return app
}
