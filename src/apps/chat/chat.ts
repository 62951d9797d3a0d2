// The built-in chat app: messages in a network. It proves the app interface end to end
// and uses nothing else: entry types, a reducer into its own table, a query, a command.

import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { defineApp } from '../../networks/app.ts'
import type { CanonicalValue } from '../../core/encoding.ts'
import { InvalidRecordError } from '../../networks/errors.ts'

export const MAX_MESSAGE_CHARS = 4000

interface ChatMessage { text: string }

function decodeMessage (value: CanonicalValue): ChatMessage {
  const v = value as { text?: unknown }
  if (typeof v !== 'object' || v === null || typeof v.text !== 'string') throw new Error('a message is {text: string}')
  if (v.text.length === 0 || v.text.length > MAX_MESSAGE_CHARS) throw new Error(`a message has 1–${MAX_MESSAGE_CHARS} characters`)
  return { text: v.text }
}

/** The reducer's insert, prepared once per database (a prepare per message cost more than the insert). */
const inserts = new WeakMap<DatabaseSync, StatementSync>()

function insertStatement (db: DatabaseSync): StatementSync {
  let st = inserts.get(db)
  if (st === undefined) {
    st = db.prepare('INSERT OR IGNORE INTO chat_messages (hash, net, author, ts, text) VALUES (?, ?, ?, ?, ?)')
    inserts.set(db, st)
  }
  return st
}

export interface ChatMessageView {
  id: string
  author: string
  ts: number
  text: string
}

export const chatApp = defineApp({
  name: 'chat',
  types: {
    message: {
      decode: decodeMessage,
      reduce: (db, e) => {
        insertStatement(db).run(e.hash, e.net, e.author, e.ts, (e.body as ChatMessage).text)
      }
    }
  },
  migrations: [{
    version: 1,
    description: 'chat messages',
    sql: `CREATE TABLE chat_messages (
      hash BLOB PRIMARY KEY, net BLOB NOT NULL, author BLOB NOT NULL, ts INTEGER NOT NULL, text TEXT NOT NULL
    ) STRICT;
    CREATE INDEX chat_messages_by_net ON chat_messages (net, ts, hash);`
  }],
  forget: (db, e) => {
    db.prepare('DELETE FROM chat_messages WHERE hash = ?').run(e.hash)
  },
  queries: {
    read: (db, net, params) => {
      const limit = typeof params.limit === 'number' ? Math.min(Math.max(1, params.limit), 10_000) : 100
      // Oldest first among the newest `limit`, ordered by (ts, hash) so every node shows one order.
      const rows = db.prepare('SELECT hash, author, ts, text FROM (SELECT * FROM chat_messages WHERE net = ? ORDER BY ts DESC, hash DESC LIMIT ?) ORDER BY ts, hash')
        .all(net, limit) as Array<{ hash: Uint8Array, author: Uint8Array, ts: number, text: string }>
      return rows.map((r): ChatMessageView => ({ id: Buffer.from(r.hash).toString('hex'), author: Buffer.from(r.author).toString('hex'), ts: r.ts, text: r.text }))
    }
  },
  commands: {
    send: async (ctx, net, params) => {
      const text = params.text
      try {
        decodeMessage({ text: text as CanonicalValue })
      } catch (err) {
        throw new InvalidRecordError((err as Error).message)
      }
      const e = await ctx.append(net, 'chat/message', { text: text as string })
      return { id: Buffer.from(e.hash).toString('hex'), ts: e.ts }
    }
  }
})
