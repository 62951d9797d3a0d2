// The credit app's tables. Nothing here comes from member logs: a trust line lives on
// its two holder devices only, each keeping the newest state both signed; payments are
// this node's own records. Amounts are bigint millionths stored as decimal TEXT (they go
// up to 2^64 − 1, past SQLite's INTEGER).

import type { Migration } from '../../core/store.ts'

export const CREDIT_MIGRATIONS: readonly Migration[] = [{
  version: 1,
  description: 'credit trust lines, invoices, forwards, payments, fee and offer policy',
  sql: `
  -- One row per line this node holds (it is the holder device of its side). signed is the
  -- newest state signed by both sides (encodeSignedLineState), NULL until the first update
  -- is countersigned; channel is the line channel's own persisted form (its outstanding
  -- proposal and queue), opaque here.
  CREATE TABLE credit_lines (
    id BLOB PRIMARY KEY,
    peer_account BLOB NOT NULL,
    peer_device BLOB NOT NULL,
    unit TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('a', 'b')),
    seq INTEGER NOT NULL DEFAULT 0,
    signed BLOB,
    channel BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX credit_lines_by_peer ON credit_lines (peer_account, unit);

  -- Invoices this node made as a receiver: the fulfillment is kept from creation, so a
  -- restarted receiver still settles the holds that arrive for it.
  CREATE TABLE credit_invoices (
    id BLOB PRIMARY KEY,
    condition BLOB NOT NULL UNIQUE,
    fulfillment BLOB NOT NULL,
    amount TEXT NOT NULL,
    unit TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    paid_at INTEGER
  ) STRICT;

  -- An intermediary's forward: the hold that came in on one line and the hold it placed on
  -- the next. Written before the outgoing hold is proposed, so a restarted intermediary
  -- still relays the fulfillment upstream (or the reject).
  CREATE TABLE credit_forwards (
    out_line BLOB NOT NULL,
    out_hold BLOB NOT NULL,
    in_line BLOB NOT NULL,
    in_hold BLOB NOT NULL,
    condition BLOB NOT NULL,
    in_amount TEXT NOT NULL,
    out_amount TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    done_at INTEGER,
    PRIMARY KEY (out_line, out_hold)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX credit_forwards_by_in ON credit_forwards (in_line, in_hold);

  -- Payments this node made, received or relayed, for \`credit history\`.
  CREATE TABLE credit_payments (
    id BLOB PRIMARY KEY,
    direction TEXT NOT NULL CHECK (direction IN ('sent', 'received', 'forwarded')),
    peer BLOB NOT NULL,
    amount TEXT NOT NULL,
    unit TEXT NOT NULL,
    fee TEXT NOT NULL DEFAULT '0',
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    code TEXT,
    message TEXT,
    routes TEXT,
    created_at INTEGER NOT NULL,
    done_at INTEGER
  ) STRICT;
  CREATE INDEX credit_payments_by_time ON credit_payments (created_at DESC);

  -- Fee this node charges for relaying, per outgoing unit, in parts per million.
  CREATE TABLE credit_fees (
    unit TEXT PRIMARY KEY,
    ppm INTEGER NOT NULL CHECK (ppm >= 0 AND ppm <= 1000000)
  ) STRICT;

  -- Exchange this node offers when relaying: one unit of from_unit in becomes rate
  -- millionths of to_unit out (rate is a decimal integer of millionths).
  CREATE TABLE credit_offers (
    from_unit TEXT NOT NULL,
    to_unit TEXT NOT NULL,
    rate TEXT NOT NULL,
    PRIMARY KEY (from_unit, to_unit)
  ) STRICT, WITHOUT ROWID;
  `
}, {
  version: 2,
  description: 'the payment engine\'s in-flight state, kept across a clean stop',
  sql: `
  -- Written when the node stops cleanly and read (then deleted) when it starts: payments,
  -- forwards and invoice parts in flight keep their reports across a restart. After a
  -- kill there is none, and the engine starts empty: it still settles upstream by
  -- condition and releases expired holds, so no value is lost, only reports.
  CREATE TABLE credit_engine (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    snapshot BLOB NOT NULL,
    saved_at INTEGER NOT NULL
  ) STRICT;
  `
}, {
  version: 3,
  description: 'the payment engine\'s forwards and payments in flight, kept across a kill',
  sql: `
  -- One row per forward or payment in flight (the engine's own canonical record), written in
  -- the same transaction as the line proposal it goes with: a node killed mid-payment still
  -- relays the fulfillment or reject it owes, and reports what it paid, received or lost.
  CREATE TABLE credit_engine_records (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
  ) STRICT, WITHOUT ROWID;
  -- Planned for the same purpose and never written: the records above replace it.
  DROP TABLE credit_forwards;
  `
}]
