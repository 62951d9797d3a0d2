// The router's own seqno, kept across restarts of the daemon (see RouterConfig.seqno):
// without it a restarted node picks a random seqno, and in half the cases its neighbours
// find its updates older than the ones they remember and ignore them for minutes.

import type { Store } from '../core/store.ts'

/**
 * The seqno to start the router with: one past the last one saved, so it is newer than
 * anything this node advertised, even an update sent just before a crash whose seqno
 * bump was not saved yet. Undefined on the first start (the router picks one at random).
 */
export function restartSeqno (store: Store): number | undefined {
  const row = store.db.prepare('SELECT seqno FROM mesh_router_state WHERE id = 1').get() as { seqno: number } | undefined
  return row === undefined ? undefined : (row.seqno + 1) & 0xffff
}

export function saveSeqno (store: Store, seqno: number): void {
  store.db.prepare('INSERT INTO mesh_router_state (id, seqno) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seqno = excluded.seqno').run(seqno)
}
