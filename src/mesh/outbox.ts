// The durable outbox: every reliable message this node sends is written here, in the same
// call as the send and before it goes out, and stays until its acknowledgement comes back
// (then it is deleted) or the forwarder gives up on it (then it is kept, marked failed,
// so the user can see what did not arrive). The forwarder's retransmissions and custody
// live in memory; after a restart the shell hands the outbox's pending envelopes to the
// forwarder again. The destination's inbox dedups by (src, id), so a message resent after
// a restart never shows twice there.
//
// Bounded: pending messages by count and by bytes. A send that does not fit is refused
// with OutboxFullError rather than pushing an older message out unseen. Failed entries
// are kept for the listing only, the newest `keepFailed` of them, without their bytes.
// No clock is read here: every method that needs the time takes `now`.

import type { Store } from '../core/store.ts'
import { peerIdOfPublicKey } from '../core/identity.ts'
import { decodeEnvelope, encodeEnvelope } from './envelope.ts'
import type { MeshEnvelope } from './envelope.ts'
import { MeshError, OutboxFullError } from './errors.ts'
import type { NodeId } from './node-id.ts'

export interface OutboxLimits {
  /** Most pending (unacknowledged) messages. */
  maxMessages: number
  /** Most bytes of pending encoded envelopes. */
  maxBytes: number
  /** Failed entries kept for the listing, newest first. */
  keepFailed: number
}

export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = {
  maxMessages: 256,
  // Half the forwarder's default custody (1 MiB): everything resent after a restart fits
  // in custody with room left for envelopes relayed for others.
  maxBytes: 512 * 1024,
  keepFailed: 100
}

export interface OutboxAdd {
  /** The envelope as sealed, before the forwarder has seen it. */
  envelope: MeshEnvelope
  /** The destination's public key (the envelope carries only its node id). */
  dstKey: Uint8Array
  /** The message text, kept for the sender's own listing. */
  text?: string
  /** Not resent after this (ms). */
  expiresAt: number
}

export interface OutboxEntry {
  id: string
  /** The destination's peer id. */
  to: string
  dst: NodeId
  text: string | null
  status: 'pending' | 'failed'
  /** Why it failed; null while pending. */
  reason: string | null
  bytes: number
  createdAt: number
  expiresAt: number
  attempts: number
  failedAt: number | null
}

interface Row {
  id: string
  dst: string
  dst_key: Uint8Array
  text: string | null
  status: string
  reason: string | null
  bytes: number
  created_at: number
  expires_at: number
  attempts: number
  failed_at: number | null
}

export class Outbox {
  readonly limits: OutboxLimits
  readonly #store: Store

  constructor (store: Store, limits: Partial<OutboxLimits> = {}) {
    this.#store = store
    this.limits = { ...DEFAULT_OUTBOX_LIMITS, ...limits }
  }

  /**
   * Records a reliable send, pending. Throws OutboxFullError (and records nothing) when
   * it does not fit in the bounds; the caller must then not send it.
   */
  add (entry: OutboxAdd, now: number): void {
    const bytes = encodeEnvelope(entry.envelope)
    // Durable: the Store's usual commit survives a crash of the process but may not
    // survive a power cut, and nothing would bring a lost send back. (A lost settle or
    // fail only means one more resend, which the destination dedups.)
    this.#store.durableTransaction(() => {
      const { messages, bytes: held } = this.size()
      if (messages + 1 > this.limits.maxMessages || held + bytes.byteLength > this.limits.maxBytes) {
        throw new OutboxFullError(
          `the mesh outbox is full: ${messages} messages (${held} bytes) wait for acknowledgement, the most it holds is ${this.limits.maxMessages} messages or ${this.limits.maxBytes} bytes`,
          { hint: 'send again once their destinations have acknowledged them or they have expired; older messages are never dropped to make room' }
        )
      }
      this.#store.db.prepare(`INSERT INTO mesh_outbox (id, dst, dst_key, text, envelope, bytes, created_at, expires_at, attempts, status)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 'pending')`)
        .run(entry.envelope.id, entry.envelope.dst, entry.dstKey, entry.text ?? null, bytes, bytes.byteLength, now, entry.expiresAt)
    })
  }

  /** The destination acknowledged `id`: it is delivered, forget it. True if it was held. */
  settle (id: string): boolean {
    return this.#store.db.prepare('DELETE FROM mesh_outbox WHERE id = ?').run(id).changes > 0
  }

  /**
   * The forwarder gave up on `id` for good: keep it, failed and without its bytes, for
   * the listing (so the user learns it did not arrive), and forget the oldest failed
   * entries past `keepFailed`. True if it was pending.
   */
  fail (id: string, reason: string, now: number): boolean {
    return this.#store.transaction(() => {
      const changed = this.#store.db.prepare(`UPDATE mesh_outbox SET status = 'failed', envelope = NULL, reason = ?, failed_at = ?
        WHERE id = ? AND status = 'pending'`).run(reason, now, id).changes > 0
      if (changed) this.#pruneFailed()
      return changed
    })
  }

  /**
   * The pending envelopes to send again (after a restart), oldest first; each one
   * returned counts one more attempt, so the caller must hand it to the forwarder now.
   * Those past their expiry, or whose stored bytes no longer decode, are marked failed
   * instead.
   */
  pending (now: number): MeshEnvelope[] {
    return this.#store.transaction(() => {
      const rows = this.#store.db.prepare(`SELECT id, envelope, expires_at FROM mesh_outbox WHERE status = 'pending'
        ORDER BY created_at, rowid`).all() as Array<{ id: string, envelope: Uint8Array, expires_at: number }>
      const out: MeshEnvelope[] = []
      const failed: Array<[string, string]> = []
      for (const r of rows) {
        if (r.expires_at <= now) { failed.push([r.id, 'expired before it was acknowledged']); continue }
        try {
          out.push(decodeEnvelope(r.envelope))
        } catch (err) {
          if (!(err instanceof MeshError)) throw err
          failed.push([r.id, `stored envelope unreadable: ${err.message}`])
        }
      }
      for (const [id, reason] of failed) this.fail(id, reason, now)
      const bump = this.#store.db.prepare('UPDATE mesh_outbox SET attempts = attempts + 1 WHERE id = ?')
      for (const e of out) bump.run(e.id)
      return out
    })
  }

  /** Every entry, pending and failed, oldest first. */
  list (): OutboxEntry[] {
    const rows = this.#store.db.prepare(`SELECT id, dst, dst_key, text, status, reason, bytes, created_at, expires_at, attempts, failed_at
      FROM mesh_outbox ORDER BY created_at, rowid`).all() as unknown as Row[]
    return rows.map((r) => ({
      id: r.id,
      to: peerIdOfPublicKey(r.dst_key),
      dst: r.dst,
      text: r.text,
      status: r.status === 'failed' ? 'failed' : 'pending',
      reason: r.reason,
      bytes: r.bytes,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      attempts: r.attempts,
      failedAt: r.failed_at
    }))
  }

  /** Pending messages and their bytes (what the bounds count). */
  size (): { messages: number, bytes: number } {
    const row = this.#store.db.prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM mesh_outbox WHERE status = 'pending'`).get() as { n: number, b: number }
    return { messages: row.n, bytes: row.b }
  }

  #pruneFailed (): void {
    this.#store.db.prepare(`DELETE FROM mesh_outbox WHERE status = 'failed' AND rowid NOT IN
      (SELECT rowid FROM mesh_outbox WHERE status = 'failed' ORDER BY failed_at DESC, rowid DESC LIMIT ?)`).run(this.limits.keepFailed)
  }
}
