// The social app's tables. Everything is keyed by entry hash and written only by the
// reducers (and `forget`), except the blocks and mutes, which are this node's own choice
// and never leave it.

import type { Migration } from '../../core/store.ts'

export const SOCIAL_MIGRATIONS: readonly Migration[] = [{
  version: 1,
  description: 'social posts, edits, reactions, blobs, profiles, follows, blocks',
  sql: `
  -- Posts and reposts: one timeline item each. text is the post's own (first) text; the
  -- edit that shows is edited_hash. A deleted post keeps its row (threads keep their shape)
  -- without text, attachments or mentions: the app's side of the signed tombstone.
  CREATE TABLE social_posts (
    hash BLOB PRIMARY KEY,
    net BLOB NOT NULL,
    author BLOB NOT NULL,
    ts INTEGER NOT NULL,
    parent BLOB,
    repost_of BLOB,
    text TEXT,
    attach BLOB,
    mentions BLOB,
    edited_ts INTEGER,
    edited_hash BLOB,
    deleted INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  -- The home timeline walks the newest items (ts DESC, hash DESC) and keeps those of
  -- followed authors, or walks the followed authors' own items: both orders are here
  -- (the first with the author in it, so that walk never leaves the index).
  CREATE INDEX social_posts_by_ts ON social_posts (ts DESC, hash DESC, author);
  CREATE INDEX social_posts_by_author ON social_posts (author, ts DESC, hash DESC);
  CREATE INDEX social_posts_by_net ON social_posts (net, ts DESC, hash DESC);
  CREATE INDEX social_posts_by_parent ON social_posts (parent) WHERE parent IS NOT NULL;
  CREATE INDEX social_posts_by_repost ON social_posts (repost_of) WHERE repost_of IS NOT NULL;

  CREATE TABLE social_mentions (
    account BLOB NOT NULL, ts INTEGER NOT NULL, post BLOB NOT NULL,
    PRIMARY KEY (account, ts, post)
  ) STRICT, WITHOUT ROWID;

  -- Every edit, kept as history; an edit may arrive before its post (another device's chain).
  CREATE TABLE social_edits (
    hash BLOB PRIMARY KEY, net BLOB NOT NULL, post BLOB NOT NULL, author BLOB NOT NULL, ts INTEGER NOT NULL, text TEXT NOT NULL
  ) STRICT;
  CREATE INDEX social_edits_by_post ON social_edits (post, ts, hash);

  CREATE TABLE social_reactions (
    hash BLOB PRIMARY KEY, net BLOB NOT NULL, post BLOB NOT NULL, author BLOB NOT NULL, emoji TEXT NOT NULL, ts INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX social_reactions_by_post ON social_reactions (post, emoji, author);

  CREATE TABLE social_blobs (
    hash BLOB PRIMARY KEY, net BLOB NOT NULL, author BLOB NOT NULL, ts INTEGER NOT NULL, type TEXT NOT NULL, data BLOB NOT NULL
  ) STRICT;

  -- Profiles are account-wide: the newest (ts, hash) of an account's profile entries in any network wins.
  CREATE TABLE social_profiles (
    hash BLOB PRIMARY KEY, net BLOB NOT NULL, account BLOB NOT NULL, ts INTEGER NOT NULL, name TEXT NOT NULL, bio TEXT NOT NULL, avatar BLOB
  ) STRICT;
  CREATE INDEX social_profiles_by_account ON social_profiles (account, ts DESC, hash DESC);
  CREATE INDEX social_profiles_by_name ON social_profiles (name COLLATE NOCASE);

  -- Follows: every follow and unfollow entry, and what they add up to (the newest per pair).
  CREATE TABLE social_follow_log (
    hash BLOB PRIMARY KEY, net BLOB NOT NULL, follower BLOB NOT NULL, followee BLOB NOT NULL, ts INTEGER NOT NULL, on_ INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX social_follow_log_by_pair ON social_follow_log (follower, followee, ts DESC, hash DESC);
  CREATE TABLE social_follows (
    follower BLOB NOT NULL, followee BLOB NOT NULL, PRIMARY KEY (follower, followee)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX social_follows_by_followee ON social_follows (followee);

  -- This node's blocks and mutes (local only): their authors are hidden everywhere here.
  CREATE TABLE social_blocks (
    account BLOB NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('block', 'mute')), ts INTEGER NOT NULL,
    PRIMARY KEY (account, kind)
  ) STRICT, WITHOUT ROWID;
  `
}]
