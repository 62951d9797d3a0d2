// One SQLite database per home (node:sqlite, WAL). Each layer owns its tables and
// brings its own numbered migrations under its own component name, so the store knows
// nothing of the layers above it. Every multi-step write goes through `transaction`.

import { DatabaseSync } from 'node:sqlite'
import { StoreError } from './errors.ts'

export interface Migration {
  /** 1, 2, 3… in order, never reused. */
  readonly version: number
  readonly description: string
  readonly sql: string
}

export class Store {
  readonly db: DatabaseSync
  readonly path: string
  #depth = 0

  private constructor (db: DatabaseSync, path: string) {
    this.db = db
    this.path = path
  }

  static open (path: string): Store {
    let db: DatabaseSync | undefined
    try {
      db = new DatabaseSync(path)
      // 16 KiB pages for a new database (an existing one keeps its own): member logs are
      // written in bulk, rows of a kilobyte or two, and each page written is one write
      // call to the WAL — 4 KiB pages made the write calls cost as much as the inserts.
      db.exec('PRAGMA page_size = 16384')
      db.exec('PRAGMA journal_mode = WAL')
      // NORMAL in WAL mode: a commit is not synced, but the WAL is synced before every
      // checkpoint. A crash of the process loses nothing committed (the WAL is in the OS
      // already); a power cut may lose the last commits but never corrupts the database.
      // Sync re-fetches whatever a lost commit held, so that trade is right for a node.
      db.exec('PRAGMA synchronous = NORMAL')
      db.exec('PRAGMA foreign_keys = ON')
      db.exec('PRAGMA busy_timeout = 5000')
      // 32 MiB of page cache (the default is 2 MiB): a sync batch of a few thousand entries
      // and their indexes then stays in memory until its commit instead of spilling.
      db.exec('PRAGMA cache_size = -32768')
      db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        component TEXT NOT NULL,
        version INTEGER NOT NULL,
        description TEXT NOT NULL,
        applied_at INTEGER NOT NULL,
        PRIMARY KEY (component, version)
      ) STRICT`)
    } catch (err) {
      if (db?.isOpen === true) db.close()
      throw new StoreError(`cannot open database ${path}: ${(err as Error).message}`, {
        hint: 'the file may be corrupt or locked by another program; restore it from a backup or move it away',
        cause: err
      })
    }
    return new Store(db, path)
  }

  /** Applies the component's migrations that are not applied yet, each in one transaction. */
  migrate (component: string, migrations: readonly Migration[]): void {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations WHERE component = ?').get(component) as { v: number | null }
    const current = row.v ?? 0
    const known = migrations.reduce((max, m) => Math.max(max, m.version), 0)
    if (current > known) {
      throw new StoreError(`database ${this.path} has ${component} schema version ${current}, newer than this Peernet knows (${known})`, {
        hint: 'upgrade Peernet; the database was not changed'
      })
    }
    const pending = [...migrations].sort((a, b) => a.version - b.version).filter((m) => m.version > current)
    for (const m of pending) {
      try {
        this.transaction(() => {
          this.db.exec(m.sql)
          this.db.prepare('INSERT INTO schema_migrations (component, version, description, applied_at) VALUES (?, ?, ?, ?)')
            .run(component, m.version, m.description, Date.now())
        })
      } catch (err) {
        throw new StoreError(`${component} migration ${m.version} (${m.description}) failed on ${this.path}: ${(err as Error).message}`, {
          hint: 'the database was left at the previous version; report this',
          cause: err
        })
      }
    }
  }

  schemaVersion (component: string): number {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations WHERE component = ?').get(component) as { v: number | null }
    return row.v ?? 0
  }

  /**
   * Runs `fn` in one transaction: all of its writes land, or none. Nested calls become
   * savepoints, so a helper that needs atomicity can be called inside a larger write.
   */
  transaction<T>(fn: () => T): T {
    const savepoint = `sp${this.#depth}`
    this.db.exec(this.#depth === 0 ? 'BEGIN IMMEDIATE' : `SAVEPOINT ${savepoint}`)
    this.#depth++
    try {
      const result = fn()
      if (result instanceof Promise) throw new StoreError('a store transaction must be synchronous')
      this.#depth--
      this.db.exec(this.#depth === 0 ? 'COMMIT' : `RELEASE ${savepoint}`)
      return result
    } catch (err) {
      this.#depth--
      // SQLite may already have rolled the whole transaction back by itself (SQLITE_FULL,
      // IOERR, OR ROLLBACK); then there is nothing left to undo, and the original error
      // is the one to report.
      if (this.db.isTransaction) {
        this.db.exec(this.#depth === 0 ? 'ROLLBACK' : `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`)
      }
      throw err
    }
  }

  /**
   * A transaction whose commit is on disk when it returns, power cut included: the WAL is
   * synced for this commit (synchronous = FULL), at the cost of an fsync (a few ms). For
   * a write nothing else could bring back if lost, such as a message the user sent; not
   * for sync batches, which the peer sends again. Inside another transaction it is a
   * savepoint, as durable as the outer transaction.
   */
  durableTransaction<T>(fn: () => T): T {
    if (this.#depth > 0) return this.transaction(fn)
    const previous = (this.db.prepare('PRAGMA synchronous').get() as { synchronous: number }).synchronous
    this.db.exec('PRAGMA synchronous = FULL')
    try {
      return this.transaction(fn)
    } finally {
      this.db.exec(`PRAGMA synchronous = ${previous}`)
    }
  }

  close (): void {
    if (this.db.isOpen) this.db.close()
  }
}
