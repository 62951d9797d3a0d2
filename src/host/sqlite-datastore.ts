// libp2p's persistent peer store (and the DHT's records) on Peernet's own SQLite file,
// so a restarted node remembers the peers it knew — their addresses, protocols and
// keep-alive tags — without a second database. Implements interface-datastore on one
// key/value table; BaseDatastore supplies filtering, ordering and paging of queries.

import { BaseDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import type { Batch, KeyQuery, Pair, Query } from 'interface-datastore'
import type { Store, Migration } from '../core/store.ts'

export const DATASTORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'libp2p datastore (peer store, DHT records)',
    sql: 'CREATE TABLE libp2p_datastore (key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT, WITHOUT ROWID'
  }
]

class NotFoundError extends Error {
  override name = 'NotFoundError'
}

export class SqliteDatastore extends BaseDatastore {
  readonly #store: Store
  readonly #put
  readonly #get
  readonly #has
  readonly #delete
  readonly #range
  readonly #rangeKeys

  constructor (store: Store) {
    super()
    this.#store = store
    store.migrate('libp2p-datastore', DATASTORE_MIGRATIONS)
    const db = store.db
    this.#put = db.prepare('INSERT INTO libp2p_datastore (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
    this.#get = db.prepare('SELECT value FROM libp2p_datastore WHERE key = ?')
    this.#has = db.prepare('SELECT 1 AS x FROM libp2p_datastore WHERE key = ?')
    this.#delete = db.prepare('DELETE FROM libp2p_datastore WHERE key = ?')
    // Keys under a prefix: [prefix, prefix + U+FFFF) in SQLite's binary collation.
    this.#range = db.prepare('SELECT key, value FROM libp2p_datastore WHERE key >= ? AND key < ? ORDER BY key')
    this.#rangeKeys = db.prepare('SELECT key FROM libp2p_datastore WHERE key >= ? AND key < ? ORDER BY key')
  }

  override put (key: Key, val: Uint8Array): Key {
    this.#put.run(key.toString(), val)
    return key
  }

  override get (key: Key): Uint8Array {
    const row = this.#get.get(key.toString()) as { value: Uint8Array } | undefined
    if (row === undefined) throw new NotFoundError(`no value for key ${key.toString()}`)
    return new Uint8Array(row.value)
  }

  override has (key: Key): boolean {
    return this.#has.get(key.toString()) !== undefined
  }

  override delete (key: Key): void {
    this.#delete.run(key.toString())
  }

  override batch (): Batch {
    const ops: Array<{ key: Key, value?: Uint8Array }> = []
    return {
      put: (key, value) => { ops.push({ key, value }) },
      delete: (key) => { ops.push({ key }) },
      commit: () => {
        this.#store.transaction(() => {
          for (const op of ops) {
            if (op.value === undefined) this.delete(op.key)
            else this.put(op.key, op.value)
          }
        })
      }
    }
  }

  override * _all (q: Query): Generator<Pair> {
    const [lo, hi] = prefixRange(q.prefix)
    // Read the range whole before yielding: callers may write while they iterate.
    for (const row of this.#range.all(lo, hi) as Array<{ key: string, value: Uint8Array }>) {
      yield { key: new Key(row.key), value: new Uint8Array(row.value) }
    }
  }

  override * _allKeys (q: KeyQuery): Generator<Key> {
    const [lo, hi] = prefixRange(q.prefix)
    for (const row of this.#rangeKeys.all(lo, hi) as Array<{ key: string }>) {
      yield new Key(row.key)
    }
  }
}

function prefixRange (prefix: string | undefined): [string, string] {
  const p = prefix ?? ''
  return [p, p + '\uffff']
}
