// The mesh's tables: messages delivered to this node. The primary key (sender, envelope
// id) is what makes a message arrive once however often it is retransmitted, also across
// a restart of this node.

import type { Migration } from '../core/store.ts'

export const MESH_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'mesh inbox',
    sql: `
      CREATE TABLE mesh_inbox (
        src BLOB NOT NULL,               -- sender's Ed25519 public key
        id TEXT NOT NULL,                -- envelope id (16 hex)
        text TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        hops INTEGER NOT NULL,           -- hops the envelope took
        PRIMARY KEY (src, id)
      ) STRICT;
      CREATE INDEX mesh_inbox_by_time ON mesh_inbox (received_at);
    `
  }
]
