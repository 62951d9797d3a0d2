// The router's own seqno, kept in the node's SQLite file across restarts.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../../src/core/store.ts'
import { MESH_MIGRATIONS } from '../../src/mesh/schema.ts'
import { restartSeqno, saveSeqno } from '../../src/mesh/router-state.ts'

test('a restart goes on one past the last saved seqno, wrapping at 2^16; nothing saved: none', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peernet-router-state-'))
  const path = join(dir, 'peernet.db')
  let store = Store.open(path)
  t.after(() => { store.close(); rmSync(dir, { recursive: true, force: true }) })
  store.migrate('mesh', MESH_MIGRATIONS)
  assert.equal(restartSeqno(store), undefined)
  saveSeqno(store, 10)
  saveSeqno(store, 11)
  store.close()
  store = Store.open(path)
  assert.equal(restartSeqno(store), 12)
  saveSeqno(store, 0xffff)
  assert.equal(restartSeqno(store), 0)
  assert.throws(() => { saveSeqno(store, 0x10000) }, /CHECK constraint/)
})
