import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { isNodeId, nodeIdAt, nodeIdFromBytes, nodeIdToBytes, writeNodeId, NODE_ID_BYTES } from '../../src/mesh/node-id.ts'

test('decoding an id gives its hex; ids sharing a bucket of the intern table stay apart', () => {
  for (let k = 0; k < 200; k++) {
    const b = randomBytes(NODE_ID_BYTES + 3)
    const id = nodeIdAt(b, 3)
    assert.equal(id, b.subarray(3).toString('hex'))
    assert.equal(nodeIdFromBytes(b.subarray(3)), id)
    assert.deepEqual(nodeIdToBytes(id), Uint8Array.from(b.subarray(3)))
  }
  // Ids that share their first four bytes (one bucket) stay apart.
  const a = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8])
  const b = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 9])
  assert.equal(nodeIdAt(a, 0), '0102030405060708')
  assert.equal(nodeIdAt(b, 0), '0102030405060709')
  assert.equal(nodeIdAt(a, 0), '0102030405060708')
  assert.throws(() => nodeIdAt(a, 1), RangeError)
})

test('the intern table finds every id again as it grows', () => {
  const keys = Array.from({ length: 5000 }, () => randomBytes(NODE_ID_BYTES))
  for (const k of keys) assert.equal(nodeIdAt(k, 0), k.toString('hex'))
  for (const k of keys) assert.equal(nodeIdAt(k, 0), k.toString('hex'))
})

test('writeNodeId writes what nodeIdToBytes gives and refuses what isNodeId refuses', () => {
  const out = new Uint8Array(10)
  assert.equal(writeNodeId('00ff10a9b8c7d6e5', out, 1), true)
  assert.deepEqual(out.subarray(1, 9), nodeIdToBytes('00ff10a9b8c7d6e5'))
  for (const bad of ['00FF10A9B8C7D6E5', '00ff10a9b8c7d6e', '00ff10a9b8c7d6e5f', '00ff10a9b8c7d6eg', '']) {
    assert.equal(writeNodeId(bad, out, 0), false, bad)
    assert.equal(isNodeId(bad), false, bad)
  }
  assert.equal(isNodeId('00ff10a9b8c7d6e5'), true)
  assert.equal(isNodeId(12), false)
  assert.equal(isNodeId(null), false)
})
