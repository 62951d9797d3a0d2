// The mesh's tables: messages delivered to this node, and messages this node sent that
// wait for their acknowledgement. The inbox's primary key (sender, envelope id) is what
// makes a message arrive once however often it is retransmitted, also across a restart
// of either node; the outbox is what makes a retransmission after a restart possible.

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
  },
  {
    version: 2,
    description: 'mesh outbox',
    sql: `
      CREATE TABLE mesh_outbox (
        id TEXT PRIMARY KEY,             -- envelope id (16 hex), unique among this node's sends
        dst TEXT NOT NULL,               -- destination NodeId (16 hex)
        dst_key BLOB NOT NULL,           -- destination's Ed25519 public key
        text TEXT,                       -- what was sent, for the sender's own listing
        envelope BLOB,                   -- the encoded envelope as first sent; NULL once failed
        bytes INTEGER NOT NULL,          -- encoded size (what the outbox bound counts)
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,     -- not resent after this
        attempts INTEGER NOT NULL,       -- times handed to the forwarder (first send + resends)
        status TEXT NOT NULL CHECK (status IN ('pending', 'failed')),
        reason TEXT,                     -- why it failed
        failed_at INTEGER,
        CHECK ((status = 'pending') = (envelope IS NOT NULL))
      ) STRICT;
      CREATE INDEX mesh_outbox_by_status ON mesh_outbox (status, created_at);
    `
  },
  {
    version: 3,
    description: 'mesh router seqno',
    sql: `
      CREATE TABLE mesh_router_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),  -- one row
        seqno INTEGER NOT NULL CHECK (seqno BETWEEN 0 AND 65535)  -- this node's own Babel seqno
      ) STRICT;
    `
  }
]
