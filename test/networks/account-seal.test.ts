// Bodies sealed to accounts (networks/account-seal.ts): only the keys sealed for open a
// body; boxes name nobody, and their count and the plaintext's size are padded; a body is
// bound to the entry it is in; malformed and forged bodies are refused with a reason or
// read as nobody's.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { generateIdentity } from '../../src/core/identity.ts'
import { encodeCanonical, decodeCanonical } from '../../src/core/encoding.ts'
import { BOX_PAD, MAX_SEAL_BOXES, PAD_BYTES, openForKeys, sealForKeys, sealedForAccountsFrom, sealedValue } from '../../src/networks/account-seal.ts'
import type { SealPlace } from '../../src/networks/account-seal.ts'
import { isNamed } from './fixtures.ts'

const place = (): SealPlace => ({ net: new Uint8Array(randomBytes(32)), author: new Uint8Array(randomBytes(32)), type: 'social/dm' })
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('account seal', () => {
  test('every key sealed for opens it; no other key does', () => {
    const [a, b, c, stranger] = [generateIdentity(), generateIdentity(), generateIdentity(), generateIdentity()]
    const at = place()
    const sealed = sealForKeys([a.publicKey, b.publicKey, c.publicKey, a.publicKey], text('hello'), at)
    for (const me of [a, b, c]) assert.deepEqual(openForKeys([me], sealed, at), text('hello'))
    assert.deepEqual(openForKeys([stranger, c], sealed, at), text('hello'), 'any of a node\'s keys will do')
    assert.equal(openForKeys([stranger], sealed, at), undefined)
    assert.equal(openForKeys([], sealed, at), undefined)
  })

  test('boxes and size are padded: a relay cannot count recipients or read the length', () => {
    const keys = (n: number): Uint8Array[] => Array.from({ length: n }, () => generateIdentity().publicKey)
    for (const n of [1, 3, 4, 5]) assert.equal(sealForKeys(keys(n), text('x'), place()).boxes.length, Math.ceil(n / BOX_PAD) * BOX_PAD)
    const short = sealForKeys(keys(1), text('hi'), place())
    const longer = sealForKeys(keys(1), text('x'.repeat(PAD_BYTES - 10)), place())
    assert.equal(short.ct.byteLength, longer.ct.byteLength)
    assert.throws(() => sealForKeys(keys(MAX_SEAL_BOXES + 1), text('x'), place()), isNamed('InvalidRecordError'))
    assert.throws(() => sealForKeys([], text('x'), place()), isNamed('InvalidRecordError'))
  })

  test('a body opens only in the entry it was sealed for (network, author, type)', () => {
    const a = generateIdentity()
    const at = place()
    const sealed = sealForKeys([a.publicKey], text('mine'), at)
    assert.equal(openForKeys([a], sealed, { ...at, author: new Uint8Array(randomBytes(32)) }), undefined, 'copied into another author\'s entry')
    assert.equal(openForKeys([a], sealed, { ...at, net: new Uint8Array(randomBytes(32)) }), undefined, 'copied into another network')
    assert.equal(openForKeys([a], sealed, { ...at, type: 'social/post' }), undefined, 'copied into another type')
  })

  test('damaged or mixed bodies read as nobody\'s', () => {
    const a = generateIdentity()
    const at = place()
    const sealed = sealForKeys([a.publicKey], text('secret'), at)
    const flipped = sealed.ct.slice()
    flipped[20] = (flipped[20] as number) ^ 1
    assert.equal(openForKeys([a], { ...sealed, ct: flipped }, at), undefined)
    // A box from another body: its key does not match this body's commitment.
    const other = sealForKeys([a.publicKey], text('other'), at)
    assert.equal(openForKeys([a], { ...sealed, boxes: other.boxes }, at), undefined)
    assert.equal(openForKeys([a], { ...sealed, commit: other.commit }, at), undefined)
  })

  test('the wire form round-trips through canonical CBOR', () => {
    const a = generateIdentity()
    const at = place()
    const sealed = sealForKeys([a.publicKey], text('round trip'), at)
    const back = sealedForAccountsFrom(decodeCanonical(encodeCanonical(sealedValue(sealed))))
    assert.deepEqual(openForKeys([a], back, at), text('round trip'))
  })

  test('malformed bodies are refused with what is wrong', () => {
    const good = sealedValue(sealForKeys([generateIdentity().publicKey], text('x'), place())) as Record<string, unknown>
    const cases: Array<[unknown, RegExp]> = [
      ['text', /not a map/],
      [{ ...good, v: 2 }, /unsupported version 2/],
      [{ ...good, extra: 1 }, /unknown field extra/],
      [{ ...good, boxes: [] }, /boxes must be a list/],
      [{ ...good, boxes: Array.from({ length: MAX_SEAL_BOXES + 1 }, () => new Uint8Array(92)) }, /boxes must be a list/],
      [{ ...good, boxes: [new Uint8Array(91)] }, /each box is 92 bytes/],
      [{ ...good, commit: new Uint8Array(15) }, /commit is 16 bytes/],
      [{ ...good, ct: new Uint8Array(100) }, /ct is a nonce/]
    ]
    for (const [value, why] of cases) {
      assert.throws(() => sealedForAccountsFrom(value), (err: unknown) => isNamed('InvalidRecordError')(err) && why.test((err as Error).message))
    }
  })

  test('property: any plaintext survives sealing for any handful of keys', () => {
    const keys = Array.from({ length: 3 }, generateIdentity)
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 1, max: 3 }), (plain, n) => {
      const at = place()
      const sealed = sealForKeys(keys.slice(0, n).map((k) => k.publicKey), plain, at)
      assert.equal((sealed.ct.byteLength - 28) % PAD_BYTES, 0)
      assert.deepEqual(openForKeys([keys[n - 1] as typeof keys[0]], sealed, at), plain)
    }), { numRuns: 30 })
  })
})
