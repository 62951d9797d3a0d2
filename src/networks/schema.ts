// The networks layer's tables.

import type { Migration } from '../core/store.ts'

export const NETWORKS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'networks, entries, chains, equivocations, membership',
    sql: `
      CREATE TABLE networks (
        id BLOB PRIMARY KEY,
        manifest BLOB NOT NULL,          -- canonical CBOR of the signed manifest
        name TEXT NOT NULL,
        app TEXT NOT NULL,
        key BLOB,                        -- network key of a private network
        status TEXT NOT NULL,            -- 'member' | 'left'
        joined_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE entries (
        hash BLOB PRIMARY KEY,
        net BLOB NOT NULL,
        author BLOB NOT NULL,
        device BLOB NOT NULL,
        seq INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        type TEXT NOT NULL,
        signed BLOB NOT NULL,            -- canonical CBOR of {h, a}: header and signature
        body BLOB,                       -- NULL once pruned
        received_at INTEGER NOT NULL,
        UNIQUE (net, author, device, seq)
      ) STRICT;
      CREATE INDEX entries_by_net_ts ON entries (net, ts);
      CREATE TABLE chains (
        net BLOB NOT NULL,
        author BLOB NOT NULL,
        device BLOB NOT NULL,
        head_seq INTEGER NOT NULL,
        head_hash BLOB NOT NULL,
        frozen INTEGER NOT NULL DEFAULT 0,  -- 1 after an equivocation
        revoked_after INTEGER,              -- last valid seq after a revocation
        PRIMARY KEY (net, author, device)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE equivocations (
        net BLOB NOT NULL,
        author BLOB NOT NULL,
        device BLOB NOT NULL,
        seq INTEGER NOT NULL,
        first BLOB NOT NULL,             -- canonical {h, a} of the entry held first
        second BLOB NOT NULL,            -- canonical {h, a} of the conflicting one
        detected_at INTEGER NOT NULL,
        PRIMARY KEY (net, author, device, seq)
      ) STRICT;
      CREATE TABLE members (
        net BLOB NOT NULL,
        account BLOB NOT NULL,
        role TEXT NOT NULL,
        joined_at INTEGER NOT NULL,
        PRIMARY KEY (net, account)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE removed (
        net BLOB NOT NULL,
        account BLOB NOT NULL,
        heads TEXT NOT NULL,             -- JSON {deviceHex: lastSeq}
        PRIMARY KEY (net, account)
      ) STRICT, WITHOUT ROWID;
    `
  },
  {
    version: 2,
    description: 'pruning: deleted entries (tombstones) and per-network body quotas',
    sql: `
      ALTER TABLE networks ADD COLUMN quota INTEGER;  -- bytes of app-entry bodies kept; NULL: no limit
      -- An author deleted these entries: their bodies are dropped here and refused on arrival.
      -- Kept even before the target arrives (another device of the author may deliver it later).
      CREATE TABLE tombstones (
        net BLOB NOT NULL,
        target BLOB NOT NULL,            -- hash of the deleted entry
        author BLOB NOT NULL,            -- the account that deleted it (must be its author)
        entry BLOB NOT NULL,             -- hash of the peernet/delete entry
        PRIMARY KEY (net, target, author)  -- a tombstone from a non-author must not shadow the real one
      ) STRICT, WITHOUT ROWID;
    `
  },
  {
    version: 3,
    description: 'index of membership entries (deriving membership no longer scans a network\'s whole log)',
    // Partial: chat and other app entries pay nothing for it. Queries must repeat this
    // exact IN list for SQLite to use it.
    sql: `CREATE INDEX entries_membership ON entries (net) WHERE type IN ('peernet/join', 'peernet/leave', 'peernet/remove', 'peernet/role');`
  },
  {
    version: 4,
    description: 'private networks: a ring of network keys (rekeyed when members or devices are cut off)',
    sql: `
      -- Every key of a private network this node holds. The first (from create, invite or
      -- link) has ts 0; one from a peernet/rekey has that entry's ts, author and seq. The
      -- current key for writing is the newest by (ts, author, seq).
      CREATE TABLE network_keys (
        net BLOB NOT NULL,
        id BLOB NOT NULL,                -- first 8 bytes of sha256("peernet/network-key/1" || key)
        key BLOB NOT NULL,
        ts INTEGER NOT NULL,
        author BLOB NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (net, id)
      ) STRICT, WITHOUT ROWID;
      -- Whom each rekey sealed its key to (one rekey may span several entries, all with the
      -- author's one ts): a key sealed to an account since removed, or a device since
      -- revoked, is never the current one — say an admin rekeyed not yet knowing of a removal.
      CREATE TABLE rekey_recipients (
        net BLOB NOT NULL,
        author BLOB NOT NULL,
        ts INTEGER NOT NULL,
        recipient BLOB NOT NULL,         -- an account or device public key
        PRIMARY KEY (net, author, ts, recipient)
      ) STRICT, WITHOUT ROWID;
      -- The single key of version 1 moved into the ring (the sealed-body format changed with
      -- it, and had no deployed users; nothing is carried over).
      ALTER TABLE networks DROP COLUMN key;
    `
  }
]
