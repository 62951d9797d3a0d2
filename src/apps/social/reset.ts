// Clearing what the social app made of one network's entries, for the networks layer's
// `reset` (a rebuild replays the network's entries through the reducers afterwards).
// Local choices (blocks, mutes) are not made of entries and stay.

import type { DatabaseSync } from 'node:sqlite'
import { sql } from './statements.ts'

export function resetNetwork (db: DatabaseSync, net: Uint8Array): void {
  sql(db, 'DELETE FROM social_mentions WHERE post IN (SELECT hash FROM social_posts WHERE net = ?)').run(net)
  for (const table of ['social_posts', 'social_edits', 'social_reactions', 'social_blobs', 'social_profiles', 'social_follow_log']) {
    sql(db, `DELETE FROM ${table} WHERE net = ?`).run(net)
  }
  // A follow is the newest entry of its pair in any network: settle every pair again.
  sql(db, 'DELETE FROM social_follows').run()
  sql(db, `INSERT INTO social_follows (follower, followee)
    SELECT follower, followee FROM social_follow_log l
    WHERE on_ = 1 AND NOT EXISTS (SELECT 1 FROM social_follow_log n WHERE n.follower = l.follower AND n.followee = l.followee AND (n.ts > l.ts OR (n.ts = l.ts AND n.hash > l.hash)))`).run()
}
