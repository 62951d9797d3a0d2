// The member logs in SQLite, and the one way entries get in: `ingest`. Local appends and
// entries from peers go through the very same checks — signature, chain continuity,
// device authorisation, membership, equivocation, the app's validator — and every batch
// lands in one transaction, with the app's reducer running inside it.

import type { Store } from '../core/store.ts'
import type { Identity } from '../core/identity.ts'
import { CanonicalWriter, bytesEqual, decodeCanonical, encodeCanonical, itemEnd } from '../core/encoding.ts'
import type { CanonicalValue } from '../core/encoding.ts'
import { buildHeaders, encodeEntry, entryFrom, signHeaders, verifyEntry, verifyEntryEncoded } from './entry.ts'
import type { Entry, EntryHeader, NewEntry } from './entry.ts'
import { networkIdOf, signedManifestFrom, signedManifestValue } from './manifest.ts'
import type { NetworkManifest, SignedManifest } from './manifest.ts'
import { deriveMembership, isMembershipType } from './membership.ts'
import type { MembershipEvent } from './membership.ts'
import { verifyDelegation, verifyRevocation } from './account.ts'
import type { Delegation, Revocation } from './account.ts'
import { keyIdOf, openBody, sealBody } from './body-cipher.ts'
import type { RingKey } from './body-cipher.ts'
import { openSealed } from '../core/seal.ts'
import { toHex } from './hashing.ts'
import { InvalidRecordError, UnknownNetworkError } from './errors.ts'
import { NETWORKS_MIGRATIONS } from './schema.ts'
import type { AppDefinition, AppEntry, AppReduceContext } from './app.ts'
import { openForKeys } from './account-seal.ts'

export interface NetworkRecord {
  id: Uint8Array
  manifest: SignedManifest
  status: 'member' | 'left'
  joinedAt: number
}

/**
 * The most boxes one peernet/rekey body may carry: 400 boxes of about 140 bytes keep a
 * body well under MAX_BODY_BYTES (64 KiB); a network with more member keys gets several
 * rekey entries for one key.
 */
export const MAX_REKEY_BOXES = 400

export interface ChainHeadInfo {
  author: Uint8Array
  device: Uint8Array
  seq: number
  hash: Uint8Array
}

export interface Rejection {
  hash: Uint8Array | null
  reason: string
  /** The chain the refused entry claims to extend. */
  chain: { net: Uint8Array, author: Uint8Array, device: Uint8Array } | null
}

export interface IngestResult {
  accepted: AppEntry[]
  duplicates: number
  rejected: Rejection[]
  /** App entries of authors this node refuses (AppDefinition.refuseAuthor): stored without their bodies, not reduced, not passed on. */
  withheld: AppEntry[]
}

export interface StoredEntry {
  entry: Entry
  hash: Uint8Array
  receivedAt: number
}

/** Network records kept decoded (each holds a manifest: about 1 KB). */
const RECORD_CACHE = 256

export class LogStore {
  readonly #store: Store
  readonly #apps: ReadonlyMap<string, AppDefinition>
  readonly #refuses: boolean
  /** Network records by hex id; manifests are verified once, when a network is added. */
  readonly #records = new Map<string, NetworkRecord | null>()
  /** Whether a network has any tombstone, by hex id (true may be stale after a rollback: only costs a look). */
  readonly #hasTombstones = new Map<string, boolean>()

  /** This node's identities that rekey boxes may be sealed to (its account key if it holds it, its device key). */
  #openers: Identity[] = []
  /** The account this node writes as (for reducers). */
  #account: Uint8Array = new Uint8Array(32)

  constructor (store: Store, apps: ReadonlyMap<string, AppDefinition>) {
    this.#store = store
    this.#apps = apps
    this.#refuses = [...apps.values()].some((a) => a.refuseAuthor !== undefined)
    store.migrate('networks', NETWORKS_MIGRATIONS)
    for (const app of apps.values()) store.migrate(`app:${app.name}`, app.migrations)
  }

  get db (): Store['db'] { return this.#store.db }

  readonly #statements = new Map<string, ReturnType<Store['db']['prepare']>>()

  /** A prepared statement, prepared once per LogStore (node:sqlite prepares are not free). */
  #sql (sql: string): ReturnType<Store['db']['prepare']> {
    let st = this.#statements.get(sql)
    if (st === undefined) {
      st = this.db.prepare(sql)
      this.#statements.set(sql, st)
    }
    return st
  }

  // ---- networks -----------------------------------------------------------------------

  /** `keys`: a private network's key ring as handed over (by create, an invite or a device link); added to what is held. */
  addNetwork (manifest: SignedManifest, keys: RingKey[], now: number): NetworkRecord {
    const id = networkIdOf(manifest.manifest)
    if (!this.#apps.has(manifest.manifest.app)) {
      throw new InvalidRecordError(`this node has no app "${manifest.manifest.app}"`, { hint: `apps here: ${[...this.#apps.keys()].join(', ')}` })
    }
    this.#sql(`INSERT INTO networks (id, manifest, name, app, status, joined_at) VALUES (?, ?, ?, ?, 'member', ?)
      ON CONFLICT(id) DO UPDATE SET status = 'member'`)
      .run(id, encodeCanonical(signedManifestValue(manifest)), manifest.manifest.name, manifest.manifest.app, now)
    if (manifest.manifest.private) for (const k of keys) this.#addKey(id, k)
    this.#clearRecords()
    const record = this.network(id)
    this.#refreshMembership(record)
    return record
  }

  setStatus (net: Uint8Array, status: 'member' | 'left'): void {
    this.#sql('UPDATE networks SET status = ? WHERE id = ?').run(status, net)
    this.#clearRecords()
  }

  network (id: Uint8Array): NetworkRecord {
    const record = this.#networkOrNull(id)
    if (record === undefined) throw new UnknownNetworkError(`unknown network ${toHex(id).slice(0, 12)}…`, { hint: '`peernet net ls` lists your networks; join with `peernet net join INVITE`' })
    return record
  }

  /** Drops cached network records (after a transaction that may have rolled back). */
  forget (): void {
    this.#clearRecords()
  }

  hasNetwork (id: Uint8Array): boolean {
    return this.#sql('SELECT 1 AS x FROM networks WHERE id = ?').get(id) !== undefined
  }

  networks (): NetworkRecord[] {
    return (this.#sql('SELECT id, manifest, status, joined_at FROM networks ORDER BY joined_at').all() as unknown as NetworkRow[]).map(networkFromRow)
  }

  /** Every network's id and name, without decoding manifests (for resolving what a user typed). */
  networkNames (): Array<{ id: Uint8Array, name: string }> {
    return this.#sql('SELECT id, name FROM networks ORDER BY joined_at').all() as Array<{ id: Uint8Array, name: string }>
  }

  /** Ids of the networks this node left (their manifests not decoded). */
  leftNetworkIds (): Uint8Array[] {
    return (this.#sql("SELECT id FROM networks WHERE status = 'left'").all() as Array<{ id: Uint8Array }>).map((r) => r.id)
  }

  /** Ids of the networks this node takes part in (not those it left). */
  memberNetworkIds (): Uint8Array[] {
    return (this.#sql("SELECT id FROM networks WHERE status = 'member'").all() as Array<{ id: Uint8Array }>).map((r) => r.id)
  }

  /** Ids of the networks of one app this node takes part in, oldest joined first. */
  memberNetworkIdsOf (app: string): Uint8Array[] {
    return (this.#sql("SELECT id FROM networks WHERE status = 'member' AND app = ? ORDER BY joined_at").all(app) as Array<{ id: Uint8Array }>).map((r) => r.id)
  }

  // ---- reading ------------------------------------------------------------------------

  heads (net: Uint8Array): ChainHeadInfo[] {
    // head_seq 0: a revocation for a device whose chain is not held here yet (no chain).
    return this.#sql('SELECT author, device, head_seq AS seq, head_hash AS hash FROM chains WHERE net = ? AND head_seq > 0').all(net) as unknown as ChainHeadInfo[]
  }

  head (net: Uint8Array, author: Uint8Array, device: Uint8Array): { seq: number, hash: Uint8Array } | undefined {
    return this.#sql('SELECT head_seq AS seq, head_hash AS hash FROM chains WHERE net = ? AND author = ? AND device = ? AND head_seq > 0').get(net, author, device) as { seq: number, hash: Uint8Array } | undefined
  }

  /** Entries of one chain with seq > afterSeq, in order. */
  chainAfter (net: Uint8Array, author: Uint8Array, device: Uint8Array, afterSeq: number, limit: number): StoredEntry[] {
    const rows = this.#sql('SELECT hash, signed, body, received_at FROM entries WHERE net = ? AND author = ? AND device = ? AND seq > ? ORDER BY seq LIMIT ?')
      .all(net, author, device, afterSeq, limit) as unknown as EntryRow[]
    return rows.map(storedFromRow)
  }

  /** One stored entry of a network, by hash. */
  entry (net: Uint8Array, hash: Uint8Array): StoredEntry | undefined {
    const row = this.#sql('SELECT hash, signed, body, received_at FROM entries WHERE net = ? AND hash = ?').get(net, hash) as EntryRow | undefined
    return row === undefined ? undefined : storedFromRow(row)
  }

  /**
   * Entries of one chain with seq > afterSeq, in order, each as the canonical CBOR that
   * sync sends (`encodeEntry` with its body): the concatenation of `parts`, spliced from
   * the stored bytes without decoding or copying them. Stops before `maxBytes` in all
   * (but gives at least one entry).
   */
  chainAfterEncoded (net: Uint8Array, author: Uint8Array, device: Uint8Array, afterSeq: number, limit: number, maxBytes: number): Array<{ seq: number, parts: Uint8Array[], byteLength: number }> {
    const rows = this.#sql('SELECT seq, signed, body FROM entries WHERE net = ? AND author = ? AND device = ? AND seq > ? ORDER BY seq LIMIT ?')
      .all(net, author, device, afterSeq, limit) as unknown as Array<{ seq: number, signed: Uint8Array, body: Uint8Array | null }>
    const out: Array<{ seq: number, parts: Uint8Array[], byteLength: number }> = []
    let total = 0
    for (const r of rows) {
      const parts = r.body === null ? [r.signed] : withBody(r.signed, r.body)
      const byteLength = parts.reduce((n, p) => n + p.byteLength, 0)
      total += byteLength
      if (total > maxBytes && out.length > 0) break
      out.push({ seq: r.seq, parts, byteLength })
    }
    return out
  }

  /** The network's entries, newest first. */
  log (net: Uint8Array, limit: number): StoredEntry[] {
    const rows = this.#sql('SELECT hash, signed, body, received_at FROM entries WHERE net = ? ORDER BY ts DESC, hash DESC LIMIT ?').all(net, limit) as unknown as EntryRow[]
    return rows.map(storedFromRow)
  }

  entryCount (net: Uint8Array): number {
    return (this.#sql('SELECT COUNT(*) AS n FROM entries WHERE net = ?').get(net) as { n: number }).n
  }

  members (net: Uint8Array): Array<{ account: Uint8Array, role: string, joinedAt: number }> {
    return this.#sql('SELECT account, role, joined_at AS joinedAt FROM members WHERE net = ? ORDER BY joined_at, account').all(net) as unknown as Array<{ account: Uint8Array, role: string, joinedAt: number }>
  }

  isMember (net: Uint8Array, account: Uint8Array): boolean {
    return this.#sql('SELECT 1 AS x FROM members WHERE net = ? AND account = ?').get(net, account) !== undefined
  }

  role (net: Uint8Array, account: Uint8Array): string | undefined {
    return (this.#sql('SELECT role FROM members WHERE net = ? AND account = ?').get(net, account) as { role: string } | undefined)?.role
  }

  equivocations (net: Uint8Array): Array<{ author: Uint8Array, device: Uint8Array, seq: number, first: Entry, second: Entry, detectedAt: number }> {
    const rows = this.#sql('SELECT author, device, seq, first, second, detected_at FROM equivocations WHERE net = ? ORDER BY detected_at').all(net) as Array<{ author: Uint8Array, device: Uint8Array, seq: number, first: Uint8Array, second: Uint8Array, detected_at: number }>
    return rows.map((r) => ({ author: r.author, device: r.device, seq: r.seq, first: entryFrom(decodeCanonical(r.first)), second: entryFrom(decodeCanonical(r.second)), detectedAt: r.detected_at }))
  }

  /** The plain body of a stored entry of type `type` (opened with the network key it names if private). */
  plainBody (net: NetworkRecord, type: string, body: Uint8Array): CanonicalValue {
    return decodeCanonical(this.#unsealed(net, type, body))
  }

  // ---- network keys (private networks) ----------------------------------------------------

  /** The identities rekey boxes may be sealed to on this node; boxes to others are left shut. */
  setOpeners (identities: Identity[], account?: Uint8Array): void {
    this.#openers = [...identities]
    if (account !== undefined) this.#account = account
  }

  /** What a reducer gets besides the database, made once (a sync batch reduces thousands of entries). */
  #reduceContext: AppReduceContext | null = null

  #reduce (app: AppDefinition, name: string, entry: AppEntry): void {
    if (this.#reduceContext === null) {
      const account = (): Uint8Array => this.#account
      this.#reduceContext = {
        // Read at each use: the node may switch accounts (a home taking up a device link).
        get account () { return account() },
        openSealed: (e, sealed) => openForKeys(this.#openers, sealed, { net: e.net, author: e.author, type: e.type })
      }
    }
    app.types[name]?.reduce(this.db, entry, this.#reduceContext)
  }

  // ---- refused authors (AppDefinition.refuseAuthor) --------------------------------------

  /** Why this node refuses the author's app entries in the network (its app's refuseAuthor), or undefined. */
  refusedAuthor (net: Uint8Array, author: Uint8Array): string | undefined {
    const record = this.#networkOrNull(net)
    const app = record === undefined ? undefined : this.#apps.get(record.manifest.manifest.app)
    return app?.refuseAuthor?.(this.db, net, author)
  }

  /** Whether any app here refuses authors at all (most do not: then nothing is asked per chain). */
  get refusesAuthors (): boolean {
    return this.#refuses
  }

  /**
   * The author is refused now: the bodies of their app entries held here go (headers
   * stay, so their chains and membership stay whole), and the app drops what it made of
   * them. Returns how many bodies went.
   */
  withholdAuthor (net: Uint8Array, author: Uint8Array): number {
    const record = this.network(net)
    return this.#store.transaction(() => {
      const rows = this.#sql("SELECT hash, type FROM entries WHERE net = ? AND author = ? AND body IS NOT NULL AND type NOT LIKE 'peernet/%'").all(net, author) as Array<{ hash: Uint8Array, type: string }>
      if (rows.length === 0) return 0
      this.#sql("UPDATE entries SET body = NULL WHERE net = ? AND author = ? AND type NOT LIKE 'peernet/%'").run(net, author)
      this.#undoApp(record, author, rows)
      return rows.length
    })
  }

  /**
   * Chains of the author whose app entries are held without a body (and not deleted by
   * their author), with the seq to fetch after: what to ask peers for once the author is
   * no longer refused. (Bodies a quota dropped are asked for too; the quota drops them again.)
   */
  bodilessChains (net: Uint8Array, author: Uint8Array): Array<{ device: Uint8Array, after: number }> {
    return (this.#sql(`SELECT device, MIN(seq) - 1 AS after FROM entries e WHERE net = ? AND author = ? AND body IS NULL AND type NOT LIKE 'peernet/%'
      AND NOT EXISTS (SELECT 1 FROM tombstones t WHERE t.net = e.net AND t.target = e.hash AND t.author = e.author) GROUP BY device`).all(net, author) as Array<{ device: Uint8Array, after: number }>)
  }

  /** The key ring of a network, oldest first by (ts, author, seq). */
  keyRing (net: Uint8Array): RingKey[] {
    return this.#sql('SELECT key, ts, author, seq FROM network_keys WHERE net = ? ORDER BY ts, author, seq').all(net) as unknown as RingKey[]
  }

  /**
   * The key this node seals new bodies with: the newest by (ts, author, seq) it holds, so
   * concurrent rekeys settle on one — leaving out keys sealed to an account removed since
   * (and not a member again) or to a device revoked since: an admin who rekeyed before a
   * removal reached it sealed its key to the removed member too, and a later ts (or a
   * skewed clock) must not bring that key back. If every key is left out (a removal here
   * before the rekey that came with it), the newest.
   */
  currentKey (net: Uint8Array): RingKey | undefined {
    const clean = this.#sql(`SELECT key, ts, author, seq FROM network_keys k WHERE net = ? AND NOT EXISTS (
        SELECT 1 FROM rekey_recipients r WHERE r.net = k.net AND r.author = k.author AND r.ts = k.ts AND (
          r.recipient IN (SELECT account FROM removed WHERE net = k.net AND account NOT IN (SELECT account FROM members WHERE net = k.net))
          OR r.recipient IN (SELECT device FROM chains WHERE net = k.net AND revoked_after IS NOT NULL)))
      ORDER BY ts DESC, author DESC, seq DESC LIMIT 1`).get(net) as RingKey | undefined
    return clean ?? this.#sql('SELECT key, ts, author, seq FROM network_keys WHERE net = ? ORDER BY ts DESC, author DESC, seq DESC LIMIT 1').get(net) as RingKey | undefined
  }

  /**
   * The delegated devices of `account` seen writing in any network held here and revoked
   * in none (a revoked one's chain has revoked_after): those a rekey seals the new key to,
   * with the account key. Any network, not only the one rekeyed: a linked device that has
   * not written there yet still gets the key it needs to read and write there.
   */
  activeDevices (account: Uint8Array): Uint8Array[] {
    return (this.#sql(`SELECT DISTINCT device FROM chains WHERE author = ? AND device != author AND head_seq > 0
      AND device NOT IN (SELECT device FROM chains WHERE author = ? AND revoked_after IS NOT NULL)`).all(account, account) as Array<{ device: Uint8Array }>).map((r) => r.device)
  }

  /**
   * Whether a rekey newer than the key this node would write with left this node out (no
   * box to any of its keys): writing on with an older key would let whoever the rekey
   * shut out read it. False for an author who is not a member or a device that is revoked:
   * ingest refuses their writes anyway, with its own reason.
   */
  leftOutOfRekey (net: Uint8Array, author: Uint8Array, device: Uint8Array): boolean {
    if (!this.isMember(net, author)) return false
    const chain = this.#sql('SELECT revoked_after FROM chains WHERE net = ? AND author = ? AND device = ?').get(net, author, device) as { revoked_after: number | null } | undefined
    if (chain?.revoked_after != null) return false
    const current = this.currentKey(net)
    const newer = this.#sql('SELECT DISTINCT author, ts FROM rekey_recipients WHERE net = ? AND (ts > ? OR (ts = ? AND author > ?))')
      .all(net, current?.ts ?? -1, current?.ts ?? -1, current?.author ?? new Uint8Array(0)) as Array<{ author: Uint8Array, ts: number }>
    return newer.some((g) => !this.#openers.some((o) => this.#sql('SELECT 1 AS x FROM rekey_recipients WHERE net = ? AND author = ? AND ts = ? AND recipient = ?').get(net, g.author, g.ts, o.publicKey) !== undefined))
  }

  #addKey (net: Uint8Array, k: RingKey): void {
    this.#sql('INSERT OR IGNORE INTO network_keys (net, id, key, ts, author, seq) VALUES (?, ?, ?, ?, ?, ?)').run(net, keyIdOf(k.key), k.key, k.ts, k.author, k.seq)
  }

  #keyById (net: Uint8Array, id: Uint8Array): Uint8Array | undefined {
    return (this.#sql('SELECT key FROM network_keys WHERE net = ? AND id = ?').get(net, id) as { key: Uint8Array } | undefined)?.key
  }

  /** A stored or arriving body as plain bytes: opened with the key it names in a private network, except a rekey's (sealed per recipient instead). */
  #unsealed (net: NetworkRecord, type: string, body: Uint8Array): Uint8Array {
    if (!net.manifest.manifest.private || type === 'peernet/rekey') return body
    return openBody((id) => this.#keyById(net.id, id), net.id, body)
  }

  /**
   * `peernet/rekey` (admins only): a new network key sealed to each remaining member's
   * account key and delegated device keys, `{keys: [{to, box}, …]}`. A box to one of this
   * node's keys that opens adds the key to the ring; the others stay shut.
   */
  #applyRekey (net: NetworkRecord, h: EntryHeader, body: CanonicalValue | null): void {
    if (!net.manifest.manifest.private) throw new InvalidRecordError('a peernet/rekey belongs to a private network')
    // A dependency, not a fault: the role entry making the author an admin may not be here yet.
    if (this.role(h.net, h.author) !== 'admin') throw new InvalidRecordError('the rekey\'s author is not an admin of this network')
    const keys = asMap(body ?? {}).keys
    const ok = Array.isArray(keys) && keys.length >= 1 && keys.length <= MAX_REKEY_BOXES && keys.every((k) => {
      const m = asMap(k as CanonicalValue)
      // A box around a 32-byte key: ephemeral key (32) ‖ nonce (12) ‖ key (32) ‖ tag (16).
      return m.to instanceof Uint8Array && m.to.byteLength === 32 && m.box instanceof Uint8Array && m.box.byteLength === 92
    })
    if (!ok) throw new InvalidRecordError(`a peernet/rekey body is {keys: [{to, box}, …]} with 1–${MAX_REKEY_BOXES} boxes, each to a 32-byte key and 92 bytes long`)
    for (const k of keys as Array<{ to: Uint8Array, box: Uint8Array }>) {
      this.#sql('INSERT OR IGNORE INTO rekey_recipients (net, author, ts, recipient) VALUES (?, ?, ?, ?)').run(h.net, h.author, h.ts, k.to)
      const me = this.#openers.find((o) => bytesEqual(o.publicKey, k.to))
      if (me === undefined) continue
      let key: Uint8Array
      try { key = openSealed(me, k.box) } catch { continue } // damaged or not really ours: nothing to learn from it
      if (key.byteLength === 32) this.#addKey(h.net, { key, ts: h.ts, author: h.author, seq: h.seq })
    }
  }

  /**
   * Re-verifies every stored chain of a network from its first entry: signatures (single
   * or batch), hash links, seq continuity, and bodies against their hashes.
   */
  verify (net: Uint8Array): { chains: number, entries: number, problems: string[] } {
    const problems: string[] = []
    let entries = 0
    const chains = this.heads(net)
    for (const c of chains) {
      let prev: Uint8Array | null = null
      let seq = 0
      for (const s of this.chainAfter(net, c.author, c.device, 0, Number.MAX_SAFE_INTEGER)) {
        entries++
        const where = `chain ${toHex(c.author).slice(0, 12)}…/${toHex(c.device).slice(0, 12)}… seq ${s.entry.header.seq}`
        try {
          const hash = verifyEntry(s.entry)
          if (!bytesEqual(hash, s.hash)) problems.push(`${where}: stored under the wrong hash`)
        } catch (err) {
          problems.push(`${where}: ${(err as Error).message}`)
        }
        if (s.entry.header.seq !== seq + 1) problems.push(`${where}: expected seq ${seq + 1}`)
        const p = s.entry.header.prev
        if ((prev === null) !== (p === null) || (prev !== null && p !== null && !bytesEqual(prev, p))) problems.push(`${where}: prev does not match the entry before`)
        prev = s.hash
        seq = s.entry.header.seq
      }
      if (seq !== c.seq) problems.push(`chain ${toHex(c.author).slice(0, 12)}…: head says seq ${c.seq}, entries end at ${seq}`)
    }
    return { chains: chains.length, entries, problems }
  }

  // ---- writing ------------------------------------------------------------------------

  /** Appends local entries (one signature, or one per batch) and ingests them. */
  append (device: Identity, author: Uint8Array, net: Uint8Array, items: Array<{ type: string, body: CanonicalValue, ts: number }>, now: number): IngestResult {
    const record = this.network(net)
    const current = record.manifest.manifest.private ? this.currentKey(net) : undefined
    const raw: NewEntry[] = items.map((i) => {
      const plain = encodeCanonical(i.body)
      // A rekey's body is sealed per recipient, not with the network key (a member must read it to learn the new key).
      return { type: i.type, ts: i.ts, body: record.manifest.manifest.private && i.type !== 'peernet/rekey' ? sealBody(requireKey(current), net, plain) : plain }
    })
    const headers = buildHeaders(net, author, device.publicKey, this.head(net, author, device.publicKey), raw)
    const auths = signHeaders(device, headers)
    return this.ingest(headers.map((header, i) => ({ header, auth: auths[i] as Entry['auth'], body: raw[i]?.body as Uint8Array })), now)
  }

  /**
   * Verifies and stores entries, in one transaction. Each entry is accepted, a duplicate,
   * or rejected with a reason; a rejected entry is never stored (but an equivocation is
   * kept as proof).
   *
   * Signatures, hashes and batch proofs are checked first, in memory. The entries then go
   * in one by one without a savepoint each: nearly every refusal (chain, membership, the
   * app's decoder and validator) comes before the entry's first write, so there is
   * nothing to undo. Should an entry be refused after it began writing (a reducer
   * refusing, a revocation whose later checks fail), the whole batch is undone and done
   * again with a savepoint per entry, so the refusal leaves nothing of that entry and
   * the rest still lands.
   */
  ingest (entries: Entry[], now: number): IngestResult {
    const checked: CheckedEntry[] = entries.map((entry) => {
      try {
        const { hash, header } = verifyEntryEncoded(entry)
        return { entry, hash, header, error: null }
      } catch (err) {
        if (!(err instanceof InvalidRecordError)) throw err
        return { entry, hash: null, header: null, error: err }
      }
    })
    return this.#store.transaction(() => {
      let result: IngestResult
      try {
        result = this.#store.transaction(() => this.#ingestChecked(checked, now, false))
      } catch (err) {
        if (!(err instanceof RefusedAfterWriting)) throw err
        result = this.#ingestChecked(checked, now, true)
      }
      // Networks with a quota drop their oldest bodies once the batch is in.
      const touched = new Map(result.accepted.map((e) => [toHex(e.net), e.net]))
      for (const net of touched.values()) {
        const record = this.#networkOrNull(net)
        if (record !== undefined) this.#enforceQuota(record)
      }
      return result
    })
  }

  #ingestChecked (checked: CheckedEntry[], now: number, savepoints: boolean): IngestResult {
    const result: IngestResult = { accepted: [], duplicates: 0, rejected: [], withheld: [] }
    // Chain heads are kept in memory through the batch and written once per chain at the
    // end — but not with a savepoint per entry, whose rollback the copy would not see.
    const batch: BatchState = { writing: false, members: new Map(), lastMember: null, chains: savepoints ? null : new Map(), last: null, refused: new Map(), withheld: result.withheld }
    for (const { entry, hash, header, error } of checked) {
      batch.writing = false
      // Entries of the networks layer itself may write chains and membership directly:
      // everything cached is written out before and forgotten after.
      const special = typeof entry.header?.type !== 'string' || entry.header.type.startsWith('peernet/')
      if (special) this.#flushChains(batch)
      try {
        if (error !== null || hash === null) throw error ?? new InvalidRecordError('entry did not verify')
        // With savepoints, a refusal anywhere (even in an app's reducer) leaves nothing
        // of that entry behind, and the rest of the batch still lands.
        const outcome = savepoints
          ? this.#store.transaction(() => this.#ingestOne(entry, hash, header, now, batch))
          : this.#ingestOne(entry, hash, header, now, batch)
        if (outcome === 'duplicate') result.duplicates++
        else if (outcome !== 'withheld') result.accepted.push(outcome)
      } catch (err) {
        if (!(err instanceof InvalidRecordError)) throw err
        if (batch.writing && !savepoints) throw new RefusedAfterWriting()
        if (err instanceof EquivocationError) {
          this.#flushChains(batch)
          this.#recordEquivocation(entry, err.first, now)
        }
        const h = entry.header as Partial<EntryHeader> | undefined
        // Copies: the keys may be views into a received frame, and a refused chain may be remembered.
        const chain = h?.net instanceof Uint8Array && h.author instanceof Uint8Array && h.device instanceof Uint8Array ? { net: h.net.slice(), author: h.author.slice(), device: h.device.slice() } : null
        result.rejected.push({ hash, reason: err.message, chain })
      } finally {
        // Membership may have changed (or been rolled back): forget what this batch saw.
        if (special) {
          batch.members.clear()
          this.#flushChains(batch)
        }
      }
    }
    this.#flushChains(batch)
    return result
  }

  /** The chain an entry extends, as the batch last left it. */
  #chain (h: EntryHeader, batch: BatchState): ChainState | undefined {
    const last = batch.last
    if (last !== null && bytesEqual(last.device, h.device) && bytesEqual(last.author, h.author) && bytesEqual(last.net, h.net)) return last.state
    const key = batch.chains === null ? '' : toHex(h.net) + toHex(h.author) + toHex(h.device)
    let state = batch.chains?.get(key)
    if (state === undefined) {
      const row = this.#sql('SELECT head_seq, head_hash, frozen, revoked_after FROM chains WHERE net = ? AND author = ? AND device = ?').get(h.net, h.author, h.device) as { head_seq: number, head_hash: Uint8Array, frozen: number, revoked_after: number | null } | undefined
      if (row === undefined) return undefined
      state = { net: h.net, author: h.author, device: h.device, seq: row.head_seq, hash: row.head_hash, frozen: row.frozen === 1, revokedAfter: row.revoked_after, dirty: false }
      batch.chains?.set(key, state)
    }
    if (batch.chains !== null) batch.last = { net: h.net, author: h.author, device: h.device, state }
    return state
  }

  /** Moves a chain's head to an entry just stored: in the batch's copy, or in the table. */
  #advance (h: EntryHeader, hash: Uint8Array, chain: ChainState | undefined, batch: BatchState): void {
    if (batch.chains === null) {
      this.#sql(`INSERT INTO chains (net, author, device, head_seq, head_hash) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(net, author, device) DO UPDATE SET head_seq = excluded.head_seq, head_hash = excluded.head_hash`)
        .run(h.net, h.author, h.device, h.seq, hash)
      return
    }
    if (chain !== undefined) {
      chain.seq = h.seq
      chain.hash = hash
      chain.dirty = true
      return
    }
    const state: ChainState = { net: h.net, author: h.author, device: h.device, seq: h.seq, hash, frozen: false, revokedAfter: null, dirty: true }
    batch.chains.set(toHex(h.net) + toHex(h.author) + toHex(h.device), state)
    batch.last = { net: h.net, author: h.author, device: h.device, state }
  }

  /** Writes the heads the batch moved, and forgets its copies. */
  #flushChains (batch: BatchState): void {
    if (batch.chains === null) return
    for (const c of batch.chains.values()) {
      if (!c.dirty) continue
      this.#sql(`INSERT INTO chains (net, author, device, head_seq, head_hash) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(net, author, device) DO UPDATE SET head_seq = excluded.head_seq, head_hash = excluded.head_hash`)
        .run(c.net, c.author, c.device, c.seq, c.hash)
    }
    batch.chains.clear()
    batch.last = null
  }

  /**
   * May the author write in the network (given its entry's device and seq)? Cached for
   * the batch: chat-heavy batches ask it for the same few authors again and again.
   */
  #mayWrite (h: EntryHeader, batch: BatchState): string | undefined {
    const last = batch.lastMember
    const key = last !== null && bytesEqual(last.author, h.author) && bytesEqual(last.net, h.net) ? last.key : toHex(h.net) + toHex(h.author)
    let state = batch.members.get(key)
    batch.lastMember = { net: h.net, author: h.author, key }
    if (state === undefined) {
      const removed = this.#sql('SELECT heads FROM removed WHERE net = ? AND account = ?').get(h.net, h.author) as { heads: string } | undefined
      state = removed !== undefined
        ? { removedHeads: JSON.parse(removed.heads) as Record<string, number>, member: false }
        : { removedHeads: null, member: this.isMember(h.net, h.author) }
      batch.members.set(key, state)
    }
    if (state.removedHeads !== null) {
      const last = state.removedHeads[toHex(h.device)] ?? 0
      if (h.seq > last) return 'the author was removed from this network'
    } else if (!state.member) {
      return 'the author is not a member of this network'
    }
    return undefined
  }

  /** `header`: the header's canonical bytes, as hashed (null: encode them again). */
  #ingestOne (entry: Entry, hash: Uint8Array, header: Uint8Array | null, now: number, batch: BatchState): AppEntry | 'duplicate' | 'withheld' {
    const h = entry.header
    const db = this.db
    const net = this.#networkOrNull(h.net)
    if (net === undefined) throw new InvalidRecordError('entry for a network this node is not in')
    const isCore = h.type.startsWith('peernet/')
    // Bodies may be absent (pruned or deleted where the entry came from): the chain still
    // verifies. Membership and device entries are what everyone's checks rest on, so they
    // must always come whole.
    if (entry.body === undefined && isCore) throw new InvalidRecordError(`a ${h.type} entry must carry its body`)

    const chain = this.#chain(h, batch)
    const headSeq = chain?.seq ?? 0
    // Every stored entry of a chain is at or below its head (each insert moves the head
    // to it; a revocation only deletes), so only an entry at or below the head can
    // already be held.
    if (h.seq <= headSeq) {
      const existing = this.#sql('SELECT hash, signed, body IS NULL AS bodyless FROM entries WHERE net = ? AND author = ? AND device = ? AND seq = ?').get(h.net, h.author, h.device, h.seq) as { hash: Uint8Array, signed: Uint8Array, bodyless: number } | undefined
      if (existing !== undefined) {
        if (bytesEqual(existing.hash, hash)) return existing.bodyless === 1 && entry.body !== undefined && !isCore && this.#refused(h, batch) === undefined ? this.#fillBody(net, entry, hash, batch) : 'duplicate'
        throw new EquivocationError(`equivocation: a different entry already holds seq ${h.seq} of this device; the device is frozen`, existing.signed)
      }
    }
    if (chain?.frozen === true) throw new InvalidRecordError('this device equivocated; its entries are refused')
    if (h.seq !== headSeq + 1) throw new InvalidRecordError(`gap: expected seq ${headSeq + 1} of this chain, got ${h.seq}`)
    if (chain !== undefined && chain.seq > 0 && (h.prev === null || !bytesEqual(h.prev, chain.hash))) throw new InvalidRecordError('entry does not extend the chain (prev mismatch)')
    if (chain !== undefined && chain.revokedAfter !== null && h.seq > chain.revokedAfter) throw new InvalidRecordError('the account revoked this device')

    // An entry its author deleted is kept without its body, whoever sends it with one.
    const plain = entry.body === undefined || (!isCore && this.#tombstoned(h.net, hash, h.author)) ? undefined : entry.body
    const body = plain === undefined ? null : this.#open(net, h.type, plain)
    // Device authorisation: a delegated device's chain opens with its delegation.
    if (!bytesEqual(h.author, h.device)) {
      if (h.seq === 1) {
        if (h.type !== 'peernet/device') throw new InvalidRecordError('a delegated device must open its chain with its delegation')
        const d = body as unknown as Delegation
        verifyDelegation(d)
        if (!bytesEqual(d.account, h.author) || !bytesEqual(d.device, h.device)) throw new InvalidRecordError('the delegation is for another account or device')
      }
    } else if (h.type === 'peernet/device') {
      throw new InvalidRecordError('the account key needs no delegation')
    }
    // Membership: who may write.
    if (h.type === 'peernet/join') {
      const state = this.#membership(net, [{ author: h.author, device: h.device, seq: h.seq, type: 'peernet/join', ts: h.ts, hash, body: asMap(body) }])
      const why = state.refused.get(toHex(hash))
      if (why !== undefined) throw new InvalidRecordError(`join refused: ${why}`)
    } else {
      const why = this.#mayWrite(h, batch)
      // An account whose stolen device made it leave (or removed it) can still revoke that device.
      if (why !== undefined && !(h.type === 'peernet/revoke' && !why.includes('removed') && this.#memberOnceRevoked(net, h, body))) throw new InvalidRecordError(why)
    }
    if (h.type === 'peernet/revoke') {
      // It writes before the checks below are done.
      batch.writing = true
      this.#applyRevocation(net, h, body)
    }
    if (h.type === 'peernet/delete') {
      batch.writing = true
      this.#applyDelete(net, h, hash, body)
    }
    if (h.type === 'peernet/rekey') {
      batch.writing = true
      this.#applyRekey(net, h, body)
    }
    if (isMembershipType(h.type) && h.type !== 'peernet/join') {
      const state = this.#membership(net, [{ author: h.author, device: h.device, seq: h.seq, type: h.type, ts: h.ts, hash, body: asMap(body) }])
      const why = state.refused.get(toHex(hash))
      if (why !== undefined) throw new InvalidRecordError(`${h.type} refused: ${why}`)
    }

    const appEntry: AppEntry = { net: h.net, hash, author: h.author, device: h.device, seq: h.seq, ts: h.ts, type: h.type, body }
    const slash = h.type.indexOf('/')
    const prefix = h.type.slice(0, slash)
    const name = h.type.slice(slash + 1)
    if (prefix !== 'peernet') {
      const app = this.#apps.get(prefix)
      const spec = app?.types[name]
      if (app === undefined || spec === undefined || prefix !== net.manifest.manifest.app) throw new InvalidRecordError(`entry type ${h.type} does not belong to this network's app (${net.manifest.manifest.app})`)
      if (plain === undefined) {
        // Stored without a body: the chain is whole, the app has nothing to reduce.
        this.#insertEntry(entry, hash, header, undefined, now, chain, batch)
        return { ...appEntry, body: null }
      }
      let typed: unknown
      try { typed = spec.decode(body) } catch (err) { throw new InvalidRecordError(`invalid ${h.type} body: ${(err as Error).message}`) }
      appEntry.body = typed
      const why = spec.validate?.(db, appEntry)
      if (why !== undefined) throw new InvalidRecordError(`${h.type} refused: ${why}`)
      if (this.#refused(h, batch) !== undefined) {
        // Checked like any entry (so this node holds the same chains as every member), but
        // its body is not kept, not reduced, and nothing of it is passed on.
        this.#insertEntry(entry, hash, header, undefined, now, chain, batch)
        batch.withheld.push({ ...appEntry, body: null })
        return 'withheld'
      }
    } else if (h.type !== 'peernet/device' && h.type !== 'peernet/revoke' && h.type !== 'peernet/delete' && h.type !== 'peernet/rekey' && !isMembershipType(h.type)) {
      throw new InvalidRecordError(`unknown entry type ${h.type}`)
    }

    this.#insertEntry(entry, hash, header, plain, now, chain, batch)
    if (isMembershipType(h.type)) this.#refreshMembership(net)
    const app = prefix === 'peernet' ? undefined : this.#apps.get(prefix)
    if (app !== undefined) this.#reduce(app, name, appEntry)
    return appEntry
  }

  /** Why the entry's author is refused in its network (once per author and batch), or undefined. */
  #refused (h: EntryHeader, batch: BatchState): string | undefined {
    if (!this.refusesAuthors) return undefined
    const key = toHex(h.net) + toHex(h.author)
    let why = batch.refused.get(key)
    if (why === undefined) {
      why = this.refusedAuthor(h.net, h.author) ?? null
      batch.refused.set(key, why)
    }
    return why ?? undefined
  }

  /**
   * Stores an entry (with `body`, or none) and moves its chain's head to it. `header`: the
   * header's canonical bytes, as hashed (null: encode them again).
   */
  #insertEntry (entry: Entry, hash: Uint8Array, header: Uint8Array | null, body: Uint8Array | undefined, now: number, chain: ChainState | undefined, batch: BatchState): void {
    const h = entry.header
    batch.writing = true
    this.#sql('INSERT INTO entries (hash, net, author, device, seq, ts, type, signed, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(hash, h.net, h.author, h.device, h.seq, h.ts, h.type, encodeEntry(entry, false, header), body ?? null, now)
    this.#advance(h, hash, chain, batch)
  }

  /**
   * An app entry we hold without its body arrives whole (from a peer that kept it): the
   * body is checked as if the entry were new, stored, and reduced.
   */
  #fillBody (net: NetworkRecord, entry: Entry, hash: Uint8Array, batch: BatchState): AppEntry | 'duplicate' {
    const h = entry.header
    if (entry.body === undefined || this.#tombstoned(h.net, hash, h.author)) return 'duplicate'
    const [prefix, name] = h.type.split('/') as [string, string]
    const spec = prefix === net.manifest.manifest.app ? this.#apps.get(prefix)?.types[name] : undefined
    if (spec === undefined) return 'duplicate'
    const appEntry: AppEntry = { net: h.net, hash, author: h.author, device: h.device, seq: h.seq, ts: h.ts, type: h.type, body: null }
    try { appEntry.body = spec.decode(this.#open(net, h.type, entry.body)) } catch (err) { throw new InvalidRecordError(`invalid ${h.type} body: ${(err as Error).message}`) }
    const why = spec.validate?.(this.db, appEntry)
    if (why !== undefined) throw new InvalidRecordError(`${h.type} refused: ${why}`)
    batch.writing = true
    this.#sql('UPDATE entries SET body = ? WHERE hash = ?').run(entry.body, hash)
    this.#reduce(this.#apps.get(prefix) as AppDefinition, name, appEntry)
    return appEntry
  }

  #tombstoned (net: Uint8Array, target: Uint8Array, author: Uint8Array): boolean {
    // Most networks never see a deletion: one look per network, not one per entry.
    const k = toHex(net)
    let any = this.#hasTombstones.get(k)
    if (any === undefined) {
      any = this.#sql('SELECT 1 AS x FROM tombstones WHERE net = ? LIMIT 1').get(net) !== undefined
      if (this.#hasTombstones.size >= RECORD_CACHE) this.#hasTombstones.delete(this.#hasTombstones.keys().next().value as string)
      this.#hasTombstones.set(k, any)
    }
    return any && this.#sql('SELECT 1 AS x FROM tombstones WHERE net = ? AND target = ? AND author = ?').get(net, target, author) !== undefined
  }

  /**
   * `peernet/delete`: an author takes back entries of their own. Their bodies go (here
   * and, as the delete syncs, everywhere), the app forgets them, and a tombstone keeps
   * them from coming back; the chain keeps their headers, so it still verifies.
   */
  #applyDelete (net: NetworkRecord, h: EntryHeader, hash: Uint8Array, body: CanonicalValue | null): void {
    for (const target of deleteTargets(body)) {
      const row = this.#sql('SELECT author, type FROM entries WHERE net = ? AND hash = ?').get(h.net, target) as { author: Uint8Array, type: string } | undefined
      if (row !== undefined) {
        if (!bytesEqual(row.author, h.author)) throw new InvalidRecordError('an account can delete only its own entries')
        if (row.type.startsWith('peernet/')) throw new InvalidRecordError(`${row.type} entries cannot be deleted (membership rests on them)`)
      }
      this.#sql('INSERT OR IGNORE INTO tombstones (net, target, author, entry) VALUES (?, ?, ?, ?)').run(h.net, target, h.author, hash)
      this.#hasTombstones.set(toHex(h.net), true)
      if (row !== undefined) this.#dropBody(net, target, row.author, row.type, true)
    }
  }

  /** Drops a stored body; `forget` tells the app (a deletion), a quota prune does not. */
  #dropBody (net: NetworkRecord, target: Uint8Array, author: Uint8Array, type: string, forget: boolean): void {
    this.#sql('UPDATE entries SET body = NULL WHERE hash = ?').run(target)
    const app = this.#apps.get(net.manifest.manifest.app)
    if (forget && type.startsWith(`${net.manifest.manifest.app}/`)) app?.forget?.(this.db, { net: net.id, hash: target, author, type })
  }

  // ---- pruning ------------------------------------------------------------------------

  /** Sets (or with null, clears) the network's quota on stored app-entry bodies, and applies it. */
  setQuota (net: Uint8Array, bytes: number | null): void {
    const record = this.network(net)
    this.#store.transaction(() => {
      this.#sql('UPDATE networks SET quota = ? WHERE id = ?').run(bytes, net)
      this.#enforceQuota(record)
    })
  }

  /** Bytes of app-entry bodies held, the quota, and how many entries are held without a body. */
  usage (net: Uint8Array): { bodyBytes: number, quota: number | null, withoutBody: number, deleted: number } {
    this.network(net)
    const u = this.#sql("SELECT COALESCE(SUM(length(body)), 0) AS bytes, COALESCE(SUM(body IS NULL), 0) AS bodyless FROM entries WHERE net = ? AND type NOT LIKE 'peernet/%'").get(net) as { bytes: number, bodyless: number }
    const q = this.#sql('SELECT quota FROM networks WHERE id = ?').get(net) as { quota: number | null }
    const d = this.#sql('SELECT COUNT(*) AS n FROM tombstones t JOIN entries e ON e.hash = t.target AND e.author = t.author WHERE t.net = ?').get(net) as { n: number }
    return { bodyBytes: u.bytes, quota: q.quota, withoutBody: u.bodyless, deleted: d.n }
  }

  /**
   * Over quota: drop the oldest app-entry bodies (by ts, then hash) until under it. The
   * app's state is left as it is — a quota limits what this node keeps and serves of the
   * raw log, not what its apps show — and membership and device entries are never pruned.
   */
  #enforceQuota (net: NetworkRecord): void {
    const q = this.#sql('SELECT quota FROM networks WHERE id = ?').get(net.id) as { quota: number | null } | undefined
    if (q?.quota == null) return
    let total = (this.#sql("SELECT COALESCE(SUM(length(body)), 0) AS bytes FROM entries WHERE net = ? AND type NOT LIKE 'peernet/%'").get(net.id) as { bytes: number }).bytes
    if (total <= q.quota) return
    const oldest = this.#sql("SELECT hash, author, type, length(body) AS size FROM entries WHERE net = ? AND body IS NOT NULL AND type NOT LIKE 'peernet/%' ORDER BY ts, hash").iterate(net.id) as Iterable<{ hash: Uint8Array, author: Uint8Array, type: string, size: number }>
    for (const row of oldest) {
      if (total <= q.quota) break
      this.#sql('UPDATE entries SET body = NULL WHERE hash = ?').run(row.hash)
      total -= row.size
    }
  }

  /** Keeps both signed entries as proof and freezes the device's chain. */
  #recordEquivocation (entry: Entry, first: Uint8Array, now: number): void {
    const h = entry.header
    this.#sql('INSERT OR IGNORE INTO equivocations (net, author, device, seq, first, second, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(h.net, h.author, h.device, h.seq, first, encodeEntry(entry, false), now)
    this.#sql('UPDATE chains SET frozen = 1 WHERE net = ? AND author = ? AND device = ?').run(h.net, h.author, h.device)
  }

  /** The record looked up last: every entry of a batch asks for its network. */
  #lastRecord: { id: Uint8Array, record: NetworkRecord | null } | null = null

  #clearRecords (): void {
    this.#records.clear()
    this.#lastRecord = null
  }

  #networkOrNull (id: Uint8Array): NetworkRecord | undefined {
    const last = this.#lastRecord
    if (last !== null && bytesEqual(last.id, id)) return last.record ?? undefined
    const record = this.#networkByHex(id)
    this.#lastRecord = { id: id.slice(), record: record ?? null }
    return record
  }

  #networkByHex (id: Uint8Array): NetworkRecord | undefined {
    const k = toHex(id)
    let record = this.#records.get(k)
    if (record === undefined) {
      const row = this.#sql('SELECT id, manifest, status, joined_at FROM networks WHERE id = ?').get(id) as NetworkRow | undefined
      record = row === undefined ? null : networkFromRow(row)
      // Bounded: a node in 10,000 networks keeps the records it is busy with, not all.
      if (this.#records.size >= RECORD_CACHE) this.#records.delete(this.#records.keys().next().value as string)
      this.#records.set(k, record)
    }
    return record ?? undefined
  }

  #open (net: NetworkRecord, type: string, body: Uint8Array): CanonicalValue {
    const bytes = this.#unsealed(net, type, body)
    try {
      return decodeCanonical(bytes)
    } catch (err) {
      throw new InvalidRecordError(`entry body is not canonical CBOR: ${(err as Error).message}`)
    }
  }

  #checkedRevocation (h: EntryHeader, body: CanonicalValue): Revocation {
    const r = body as unknown as Revocation
    verifyRevocation(r)
    if (!bytesEqual(r.account, h.author) || !bytesEqual(r.net, h.net)) throw new InvalidRecordError('the revocation is for another account or network')
    return r
  }

  /**
   * A revocation's author counts as a member if it would be one without the revoked
   * device's entries past lastSeq: an account whose stolen device made it leave (or
   * removed it) can still revoke that device.
   */
  #memberOnceRevoked (net: NetworkRecord, h: EntryHeader, body: CanonicalValue): boolean {
    const r = this.#checkedRevocation(h, body)
    const revoked = (e: MembershipEvent): boolean => bytesEqual(e.author, r.account) && bytesEqual(e.device, r.device) && e.seq > r.lastSeq
    return this.#membership(net, [], revoked).members.has(toHex(h.author))
  }

  #applyRevocation (net: NetworkRecord, h: EntryHeader, body: CanonicalValue): void {
    const r = this.#checkedRevocation(h, body)
    // Also for a chain not held yet (head_seq 0): its entries past lastSeq, arriving
    // later, are refused.
    this.#sql(`INSERT INTO chains (net, author, device, head_seq, head_hash, revoked_after) VALUES (?, ?, ?, 0, ?, ?)
      ON CONFLICT(net, author, device) DO UPDATE SET revoked_after = MIN(COALESCE(revoked_after, excluded.revoked_after), excluded.revoked_after)`)
      .run(h.net, r.account, r.device, new Uint8Array(32), r.lastSeq)
    // Entries past the revocation that are already stored stop counting.
    if (this.#dropChainAfter(net, r.account, r.device, r.lastSeq)) this.#refreshMembership(net)
  }

  /**
   * A chain's stored entries past `lastSeq` stop counting: they go, the chain's head moves
   * back to lastSeq, and what the app made of them is undone. Returns whether a
   * membership entry went (membership must then be derived again).
   */
  #dropChainAfter (net: NetworkRecord, author: Uint8Array, device: Uint8Array, lastSeq: number): boolean {
    const dropped = this.#sql('SELECT hash, type FROM entries WHERE net = ? AND author = ? AND device = ? AND seq > ?').all(net.id, author, device, lastSeq) as Array<{ hash: Uint8Array, type: string }>
    if (dropped.length === 0) return false
    this.#sql('DELETE FROM entries WHERE net = ? AND author = ? AND device = ? AND seq > ?').run(net.id, author, device, lastSeq)
    const last = this.#sql('SELECT seq, hash FROM entries WHERE net = ? AND author = ? AND device = ? ORDER BY seq DESC LIMIT 1').get(net.id, author, device) as { seq: number, hash: Uint8Array } | undefined
    this.#sql('UPDATE chains SET head_seq = ?, head_hash = ? WHERE net = ? AND author = ? AND device = ?')
      .run(last?.seq ?? 0, last?.hash ?? new Uint8Array(32), net.id, author, device)
    this.#undoApp(net, author, dropped)
    return dropped.some((d) => isMembershipType(d.type))
  }

  /**
   * Undoes what the app made of entries that stopped counting: an app that can forget
   * one entry (as for a deletion) forgets each; one that can only start over clears its
   * state of the network, and the remaining entries go through its reducer again in the
   * canonical order (ts, author, device, seq) — both inside the same transaction. (A
   * replay skips entries whose bodies were pruned.) An app with neither keeps its state.
   */
  #undoApp (net: NetworkRecord, author: Uint8Array, dropped: Array<{ hash: Uint8Array, type: string }>): void {
    const app = this.#apps.get(net.manifest.manifest.app)
    const mine = dropped.filter((d) => app !== undefined && d.type.startsWith(`${app.name}/`))
    if (app === undefined || mine.length === 0) return
    if (app.forget !== undefined) {
      for (const d of mine) app.forget(this.db, { net: net.id, hash: d.hash, author, type: d.type })
      return
    }
    if (app.reset === undefined) return
    app.reset(this.db, net.id)
    this.#replayApp(net, app)
  }

  /**
   * Builds the app's state of a network again from the stored log: the app's `reset`,
   * then every held entry of the app through its reducer in the canonical order, in one
   * transaction (after an app's tables change shape, or to measure indexing). Returns
   * how many entries went through the reducer.
   */
  rebuildApp (id: Uint8Array): number {
    const net = this.network(id)
    const app = this.#apps.get(net.manifest.manifest.app)
    if (app === undefined) throw new InvalidRecordError(`this node does not have the app "${net.manifest.manifest.app}"`, { hint: 'upgrade Peernet' })
    if (app.reset === undefined) throw new InvalidRecordError(`the app "${app.name}" cannot clear its state of one network`)
    const reset = app.reset
    return this.#store.transaction(() => {
      reset(this.db, net.id)
      // A bulk load: the indexes only the app's queries read are dropped while its tables
      // fill and made again after, one sorted build each instead of a random insert per
      // row (measured: about a fifth of a 100,000-post rebuild).
      const indexes = (app.queryIndexes ?? []).map((name) => {
        const row = this.#sql("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?").get(name) as { sql: string | null } | undefined
        if (row?.sql === null || row?.sql === undefined) throw new InvalidRecordError(`the app "${app.name}" names an index "${name}" it does not have`)
        return { name, sql: row.sql }
      })
      for (const i of indexes) this.db.exec(`DROP INDEX ${i.name}`)
      const n = this.#replayApp(net, app)
      for (const i of indexes) this.db.exec(i.sql)
      return n
    })
  }

  /**
   * The network's entries of the app (its state just reset) through its reducer in the canonical
   * order (ts, author, device, seq) — or, for an order-free app, in storage order, one
   * sequential scan — skipping pruned bodies.
   */
  #replayApp (net: NetworkRecord, app: AppDefinition): number {
    const rows = this.#sql(app.orderFree === true
      ? 'SELECT hash, author, device, seq, ts, type, body FROM entries NOT INDEXED WHERE net = ? AND type LIKE ? AND body IS NOT NULL'
      : 'SELECT hash, author, device, seq, ts, type, body FROM entries WHERE net = ? AND type LIKE ? AND body IS NOT NULL ORDER BY ts, author, device, seq')
      .iterate(net.id, `${app.name}/%`) as Iterable<{ hash: Uint8Array, author: Uint8Array, device: Uint8Array, seq: number, ts: number, type: string, body: Uint8Array }>
    let n = 0
    for (const row of rows) {
      const spec = app.types[row.type.slice(app.name.length + 1)]
      if (spec === undefined) continue
      this.#reduce(app, row.type.slice(app.name.length + 1), { net: net.id, hash: row.hash, author: row.author, device: row.device, seq: row.seq, ts: row.ts, type: row.type, body: spec.decode(this.#open(net, row.type, row.body)) as unknown })
      n++
    }
    return n
  }

  /** Membership from every stored membership entry, plus `extra` not yet stored. */
  #membership (net: NetworkRecord, extra: MembershipEvent[], without?: (e: MembershipEvent) => boolean): ReturnType<typeof deriveMembership> {
    const rows = this.#sql("SELECT hash, author, device, seq, ts, type, body FROM entries WHERE net = ? AND type IN ('peernet/join', 'peernet/leave', 'peernet/remove', 'peernet/role')").all(net.id) as Array<{ hash: Uint8Array, author: Uint8Array, device: Uint8Array, seq: number, ts: number, type: string, body: Uint8Array }>
    const events: MembershipEvent[] = rows.filter((r) => without === undefined || !without({ ...r, type: r.type as MembershipEvent['type'], body: {} })).map((r) => ({ hash: r.hash, author: r.author, device: r.device, seq: r.seq, ts: r.ts, type: r.type as MembershipEvent['type'], body: asMap(this.#open(net, r.type, r.body)) }))
    return deriveMembership(net.manifest.manifest, net.id, [...events, ...extra])
  }

  /** Chains whose held entries no longer count under `state`, and where to cut them. */
  #invalidated (net: NetworkRecord, state: ReturnType<typeof deriveMembership>): Array<{ author: Uint8Array, device: Uint8Array, lastSeq: number }> {
    const cuts = new Map<string, { author: Uint8Array, device: Uint8Array, lastSeq: number }>()
    const cut = (author: Uint8Array, device: Uint8Array, lastSeq: number): void => {
      const k = toHex(author) + toHex(device)
      const c = cuts.get(k)
      if (c === undefined || lastSeq < c.lastSeq) cuts.set(k, { author, device, lastSeq })
    }
    // Held membership entries refused in the total order: the chain ends before them.
    if (state.refused.size > 0) {
      const rows = this.#sql("SELECT hash, author, device, seq FROM entries WHERE net = ? AND type IN ('peernet/join', 'peernet/leave', 'peernet/remove', 'peernet/role')").all(net.id) as Array<{ hash: Uint8Array, author: Uint8Array, device: Uint8Array, seq: number }>
      for (const r of rows) if (state.refused.has(toHex(r.hash))) cut(r.author, r.device, r.seq - 1)
    }
    // Removed members: their entries past the heads the removal names (none, for a device it does not name).
    for (const r of state.removed.values()) {
      const account = Buffer.from(r.account, 'hex')
      const chains = this.#sql('SELECT device, head_seq AS seq FROM chains WHERE net = ? AND author = ?').all(net.id, account) as Array<{ device: Uint8Array, seq: number }>
      for (const c of chains) {
        // As ingest does: a join is judged by the membership derivation, not by the heads
        // (a join before the removal in the total order counts), so the cut never falls
        // below the chain's join.
        const join = this.#sql("SELECT MAX(seq) AS seq FROM entries WHERE net = ? AND author = ? AND device = ? AND type = 'peernet/join'").get(net.id, account, c.device) as { seq: number | null }
        const last = Math.max(r.heads.get(toHex(c.device)) ?? 0, join.seq ?? 0)
        if (c.seq > last) cut(account, c.device, last)
      }
    }
    return [...cuts.values()]
  }

  /**
   * Derives membership again and writes it out. Entries arrive in any order but state is
   * derived in the total order (ts, author, device, seq), so an entry that arrives late
   * can invalidate ones already held: a join that, in that order, came after another took
   * the invite's last use; a member's entries past the heads a removal names; a role
   * change or removal by someone who, in that order, was no longer an admin. Such held
   * entries stop counting (their chain is cut back before them, as a revocation does),
   * so every node ends up holding and showing the same entries whatever the order they
   * came in. Each round drops at least one entry, so this ends.
   */
  #refreshMembership (net: NetworkRecord): void {
    let state = this.#membership(net, [])
    for (;;) {
      let droppedMembership = false
      let droppedAny = false
      for (const cut of this.#invalidated(net, state)) {
        const before = this.entryCount(net.id)
        droppedMembership = this.#dropChainAfter(net, cut.author, cut.device, cut.lastSeq) || droppedMembership
        droppedAny ||= this.entryCount(net.id) !== before
      }
      if (!droppedAny) break
      if (droppedMembership) state = this.#membership(net, [])
      else break
    }
    this.#sql('DELETE FROM members WHERE net = ?').run(net.id)
    this.#sql('DELETE FROM removed WHERE net = ?').run(net.id)
    const insert = this.#sql('INSERT INTO members (net, account, role, joined_at) VALUES (?, ?, ?, ?)')
    for (const m of state.members.values()) insert.run(net.id, Buffer.from(m.account, 'hex'), m.role, m.joinedAt)
    const insertRemoved = this.#sql('INSERT INTO removed (net, account, heads) VALUES (?, ?, ?)')
    for (const r of state.removed.values()) insertRemoved.run(net.id, Buffer.from(r.account, 'hex'), JSON.stringify(Object.fromEntries(r.heads)))
  }

}

/** An entry with what checking it in memory found: its hash, or why it was refused. */
interface CheckedEntry { entry: Entry, hash: Uint8Array | null, header: Uint8Array | null, error: InvalidRecordError | null }

/** What one ingest pass carries from entry to entry. */
interface BatchState {
  /** Set once the current entry has written anything. */
  writing: boolean
  /** Membership answers by net‖author hex, until a peernet/* entry may change them. */
  members: Map<string, { removedHeads: Record<string, number> | null, member: boolean }>
  /** The key of the author asked about last. */
  lastMember: { net: Uint8Array, author: Uint8Array, key: string } | null
  /** Chain heads by net‖author‖device hex, ahead of the table until flushed; null: none kept. */
  chains: Map<string, ChainState> | null
  /** The chain used last (consecutive entries are nearly always of one chain). */
  last: { net: Uint8Array, author: Uint8Array, device: Uint8Array, state: ChainState } | null
  /** refuseAuthor's answers by net‖author hex (null: not refused), asked once per batch. */
  refused: Map<string, string | null>
  /** App entries stored without their bodies because their author is refused. */
  withheld: AppEntry[]
}

interface ChainState {
  net: Uint8Array
  author: Uint8Array
  device: Uint8Array
  seq: number
  hash: Uint8Array
  frozen: boolean
  revokedAfter: number | null
  /** Moved by this batch and not yet written. */
  dirty: boolean
}

/** An entry was refused after it had begun writing: redo the batch entry by entry. */
class RefusedAfterWriting extends Error {
  override name = 'RefusedAfterWriting'
}

/** Two different entries at one (author, device, seq); `first` is the one held already. */
class EquivocationError extends InvalidRecordError {
  override name = 'InvalidRecordError'
  readonly first: Uint8Array
  constructor (message: string, first: Uint8Array) {
    super(message)
    this.first = first
  }
}

interface NetworkRow { id: Uint8Array, manifest: Uint8Array, status: string, joined_at: number }
interface EntryRow { hash: Uint8Array, signed: Uint8Array, body: Uint8Array | null, received_at: number }

function networkFromRow (row: NetworkRow): NetworkRecord {
  return { id: row.id, manifest: signedManifestFrom(decodeCanonical(row.manifest)), status: row.status === 'left' ? 'left' : 'member', joinedAt: row.joined_at }
}

function storedFromRow (row: EntryRow): StoredEntry {
  const e = entryFrom(decodeCanonical(row.signed))
  return { entry: row.body === null ? e : { ...e, body: row.body }, hash: row.hash, receivedAt: row.received_at }
}

export const MAX_DELETE_TARGETS = 256

/** The entry hashes a `peernet/delete` body names: `{entries: [hash, …]}`, 1–256 of them. */
function deleteTargets (body: CanonicalValue | null): Uint8Array[] {
  const entries = asMap(body ?? {}).entries
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_DELETE_TARGETS || !entries.every((e) => e instanceof Uint8Array && e.byteLength === 32)) {
    throw new InvalidRecordError(`a peernet/delete body is {entries: [hash, …]} with 1–${MAX_DELETE_TARGETS} 32-byte entry hashes`)
  }
  return entries as Uint8Array[]
}

/**
 * The stored canonical {a, h} of an entry with its body put in: {a, b, h} (RFC 8949
 * §4.2.1 key order, so the body goes between the two), as parts to concatenate. Anything
 * not laid out as expected goes the long way, through decode and encode.
 */
function withBody (signed: Uint8Array, body: Uint8Array): Uint8Array[] {
  // 0xa2 = map(2), 0x61 0x61 = "a" … 0x61 0x68 = "h" …
  if (signed[0] === 0xa2 && signed[1] === 0x61 && signed[2] === 0x61) {
    const authEnd = itemEnd(signed, 3)
    if (signed[authEnd] === 0x61 && signed[authEnd + 1] === 0x68) {
      const bodyKey = new CanonicalWriter(16).map(3).raw(signed.subarray(1, authEnd)).finish()
      return [bodyKey, new CanonicalWriter(16).key('b').head(2, body.byteLength).finish(), body, signed.subarray(authEnd)]
    }
  }
  return [encodeEntry({ ...entryFrom(decodeCanonical(signed)), body }, true)]
}

function requireKey (current: RingKey | undefined): Uint8Array {
  if (current === undefined) throw new InvalidRecordError('this private network\'s key is missing here')
  return current.key
}

function asMap (value: CanonicalValue): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) ? value : {}
}

export type { NetworkManifest, RingKey }
