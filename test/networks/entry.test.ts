// Log entries: headers, single and batch signatures (RFC 6962 §2.1 Merkle tree), the
// checks of verifyEntry, and the wire form.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { generateIdentity } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { decodeCanonical, encodeCanonical } from '../../src/core/encoding.ts'
import {
  MAX_BODY_BYTES, buildHeaders, checkHeader, encodeEntry, encodeHeader, entryFrom, entryHash, entryValue, headerValue, merkleProof, merkleRoot, signHeaders, verifyEntry
} from '../../src/networks/entry.ts'
import type { Entry, EntryHeader, NewEntry } from '../../src/networks/entry.ts'
import { isNamed } from './fixtures.ts'

const isInvalid = isNamed('InvalidRecordError')

// ---- fixtures -------------------------------------------------------------------------

const device: Identity = generateIdentity()
const net = new Uint8Array(randomBytes(32))

function items (n: number, seed = 0): NewEntry[] {
  return Array.from({ length: n }, (_v, i) => ({ type: 'chat/message', ts: 1_000 + i, body: encodeCanonical({ text: `message ${seed}.${i}` }) }))
}

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

let batchCounter = 0

function makeEntries (n: number, signer: Identity = device): Entry[] {
  const raw = items(n, ++batchCounter)
  const headers = buildHeaders(net, signer.publicKey, signer.publicKey, undefined, raw)
  const auths = signHeaders(signer, headers)
  return headers.map((header, i) => ({ header, auth: auths[i] as Entry['auth'], body: (raw[i] as NewEntry).body }))
}

function flip (b: Uint8Array, at = 0): Uint8Array {
  const c = new Uint8Array(b)
  c[at % c.byteLength] = (c[at % c.byteLength] as number) ^ 0x01
  return c
}

function withHeader (e: Entry, patch: Partial<Record<keyof EntryHeader, unknown>>): Entry {
  return { ...e, header: { ...e.header, ...patch } as EntryHeader }
}

/** Every way of damaging a signed entry that verifyEntry must notice. */
function tamperings (e: Entry): Array<[string, Entry]> {
  const h = e.header
  const out: Array<[string, Entry]> = [
    ['v', withHeader(e, { v: 2 })],
    ['net', withHeader(e, { net: flip(h.net) })],
    ['author', withHeader(e, { author: flip(h.author) })],
    ['device', withHeader(e, { device: generateIdentity().publicKey })],
    ['seq', withHeader(e, { seq: h.seq + 1, prev: h.prev ?? new Uint8Array(32) })],
    ['prev', withHeader(e, h.prev === null ? { prev: new Uint8Array(32) } : { prev: flip(h.prev) })],
    ['ts', withHeader(e, { ts: h.ts + 1 })],
    ['type', withHeader(e, { type: 'chat/other' })],
    ['bodyHash', withHeader(e, { bodyHash: flip(h.bodyHash) })],
    ['bodySize', withHeader(e, { bodySize: h.bodySize + 1 })],
    ['body', { ...e, body: flip(e.body as Uint8Array, 3) }],
    ['body length', { ...e, body: new Uint8Array([...(e.body as Uint8Array), 0]) }]
  ]
  if ('sig' in e.auth) {
    out.push(['sig', { ...e, auth: { sig: flip(e.auth.sig, 10) } }])
  } else {
    const b = e.auth.batch
    const batch = (patch: Partial<typeof b>): Entry => ({ ...e, auth: { batch: { ...b, ...patch } } })
    out.push(['batch sig', batch({ sig: flip(b.sig, 10) })])
    out.push(['root', batch({ root: flip(b.root) })])
    out.push(['index', batch({ index: (b.index + 1) % b.count })])
    out.push(['index out of range', batch({ index: b.count })])
    out.push(['negative index', batch({ index: -1 })])
    out.push(['count', batch({ count: b.count + 1 })])
    out.push(['count 1', batch({ count: 1, index: 0 })])
    b.proof.forEach((p, i) => { out.push([`proof[${i}]`, batch({ proof: b.proof.map((q, j) => j === i ? flip(p, 7) : q) })]) })
    out.push(['proof shortened', batch({ proof: b.proof.slice(1) })])
    out.push(['proof lengthened', batch({ proof: [...b.proof, new Uint8Array(32)] })])
    if (b.proof.length > 1) out.push(['proof reversed', batch({ proof: [...b.proof].reverse() })])
  }
  return out
}

// ---- RFC 6962 §2.1 reference ------------------------------------------------------------

const sha = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/** MTH(D[n]) exactly as RFC 6962 §2.1 states it. */
function referenceMth (d: Uint8Array[]): Uint8Array {
  const n = d.length
  if (n === 0) return sha() // MTH({}) = SHA-256()
  if (n === 1) return sha(Uint8Array.of(0x00), d[0] as Uint8Array) // MTH({d(0)}) = SHA-256(0x00 || d(0))
  let k = 1 // the largest power of two smaller than n
  while (k * 2 < n) k *= 2
  return sha(Uint8Array.of(0x01), referenceMth(d.slice(0, k)), referenceMth(d.slice(k))) // SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
}

/** Inclusion proof verification, RFC 9162 §2.1.3.2, written independently of the src walk. */
function referenceVerifyInclusion (leaf: Uint8Array, index: number, size: number, path: Uint8Array[], root: Uint8Array): boolean {
  if (index >= size) return false // step 1
  let fn = index // step 2
  let sn = size - 1
  let r = sha(Uint8Array.of(0x00), leaf) // step 3
  for (const p of path) { // step 4
    if (sn === 0) return false // 4a
    if ((fn & 1) === 1 || fn === sn) { // 4b
      r = sha(Uint8Array.of(0x01), p, r)
      if ((fn & 1) === 0) while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1 }
    } else {
      r = sha(Uint8Array.of(0x01), r, p)
    }
    fn >>= 1 // 4c
    sn >>= 1
  }
  return sn === 0 && Buffer.compare(r, root) === 0 // step 5
}

// Known answers from Certificate Transparency's reference tests (merkle_tree_test.cc).
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f']
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'
]

// ---- tests ----------------------------------------------------------------------------

describe('single entries', () => {
  test('build, sign and verify; verifyEntry returns the entry hash', () => {
    const [e] = makeEntries(1)
    assert.ok(e !== undefined && 'sig' in e.auth)
    assert.deepEqual(verifyEntry(e), entryHash(e.header))
    assert.equal(e.header.seq, 1)
    assert.equal(e.header.prev, null)
  })

  test('a pruned entry (no body) still verifies', () => {
    const [e] = makeEntries(1)
    const { body: _body, ...pruned } = e as Entry
    assert.deepEqual(verifyEntry(pruned), entryHash(pruned.header))
  })

  test('chained headers: seq counts on from the head, prev is the previous entry hash', () => {
    const first = buildHeaders(net, device.publicKey, device.publicKey, undefined, items(3))
    assert.deepEqual(first.map((h) => h.seq), [1, 2, 3])
    assert.deepEqual(first[1]?.prev, entryHash(first[0] as EntryHeader))
    assert.deepEqual(first[2]?.prev, entryHash(first[1]))
    const last = first[2]
    const more = buildHeaders(net, device.publicKey, device.publicKey, { seq: last.seq, hash: entryHash(last) }, items(2, 1))
    assert.deepEqual(more.map((h) => h.seq), [4, 5])
    assert.deepEqual(more[0]?.prev, entryHash(last))
  })

  test('every tampering of a single entry is refused with InvalidRecordError', () => {
    const [e] = makeEntries(1)
    for (const [what, bad] of tamperings(e as Entry)) {
      assert.throws(() => verifyEntry(bad), isInvalid, `tampered ${what} was accepted`)
    }
  })

  test('a signature by another key is refused', () => {
    const [e] = makeEntries(1, generateIdentity())
    assert.throws(() => verifyEntry(withHeader(e as Entry, { device: device.publicKey })), isInvalid)
  })

  test('buildHeaders refuses a body over the limit', () => {
    const big: NewEntry = { type: 'chat/message', ts: 1, body: new Uint8Array(MAX_BODY_BYTES + 1) }
    assert.throws(() => buildHeaders(net, device.publicKey, device.publicKey, undefined, [big]), isInvalid)
    assert.equal(buildHeaders(net, device.publicKey, device.publicKey, undefined, [{ ...big, body: new Uint8Array(MAX_BODY_BYTES) }]).length, 1)
  })
})

describe('batch entries', () => {
  test('property: every member of a batch of 2..40 verifies, all share one root and signature', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 40 }), (n) => {
      const entries = makeEntries(n)
      const roots = new Set<string>()
      entries.forEach((e, i) => {
        assert.ok('batch' in e.auth)
        assert.equal(e.auth.batch.index, i)
        assert.equal(e.auth.batch.count, n)
        roots.add(Buffer.from(e.auth.batch.root).toString('hex') + Buffer.from(e.auth.batch.sig).toString('hex'))
        assert.deepEqual(verifyEntry(e), entryHash(e.header))
      })
      assert.equal(roots.size, 1)
    }), { numRuns: 25 })
  })

  test('property: every tampering of any batch member is refused with InvalidRecordError', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 40 }), fc.nat(), (n, pick) => {
      const entries = makeEntries(n)
      const e = entries[pick % n] as Entry
      for (const [what, bad] of tamperings(e)) {
        assert.throws(() => verifyEntry(bad), isInvalid, `batch of ${n}, member ${pick % n}: tampered ${what} was accepted`)
      }
    }), { numRuns: 20 })
  })

  test('property: once a batch is proven, every tampering of any member is still refused (proven-node path)', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 70 }), fc.nat(), fc.boolean(), (n, pick, allFirst) => {
      const entries = makeEntries(n)
      // Prove the batch through some or all of its members first: later members take
      // the path that meets proven nodes instead of hashing up to the root.
      for (const e of allFirst ? entries : entries.slice(0, 1 + (pick % n))) assert.deepEqual(verifyEntry(e), entryHash(e.header))
      const e = entries[pick % n] as Entry
      for (const [what, bad] of tamperings(e)) {
        assert.throws(() => verifyEntry(bad), isInvalid, `batch of ${n}, member ${pick % n}: tampered ${what} was accepted`)
      }
      // And the untouched members all still verify, in any order.
      for (const m of [...entries].reverse()) assert.deepEqual(verifyEntry(m), entryHash(m.header))
    }), { numRuns: 40 })
  })

  test('a member whose proof is wrong only above where it meets proven nodes is refused', () => {
    const entries = makeEntries(16)
    verifyEntry(entries[0] as Entry)
    const e = entries[1] as Entry
    assert.ok('batch' in e.auth)
    const b = e.auth.batch
    // Entry 1's leaf is entry 0's proven sibling, so its own leaf hash matches at once;
    // its higher proof elements are never hashed, only compared with the proven ones.
    const proof = b.proof.map((p, i) => i === b.proof.length - 1 ? flip(p) : p)
    assert.throws(() => verifyEntry({ ...e, auth: { batch: { ...b, proof } } }), isInvalid)
    assert.deepEqual(verifyEntry(e), entryHash(e.header))
  })

  test('a member cannot be moved into another batch of the same device', () => {
    const a = makeEntries(3)
    const b = makeEntries(3)
    const moved: Entry = { ...(a[1] as Entry), auth: (b[1] as Entry).auth }
    // Same header fields but different bodies: the proof of b does not cover a's entry.
    assert.throws(() => verifyEntry(moved), isInvalid)
  })

  test('signHeaders of one header gives a plain signature', () => {
    const [e] = makeEntries(1)
    assert.ok(e !== undefined && 'sig' in e.auth)
  })

  test('signHeaders of no headers gives no signatures', () => {
    let auths
    try { auths = signHeaders(device, []) } catch (err) { assert.fail(`signHeaders([]) threw ${(err as Error).name}: ${(err as Error).message}`) }
    assert.deepEqual(auths, [])
  })
})

describe('Merkle tree (RFC 6962 §2.1)', () => {
  test('known answers from Certificate Transparency', () => {
    const leaves = CT_LEAVES.map((h) => new Uint8Array(Buffer.from(h, 'hex')))
    CT_ROOTS.forEach((root, i) => {
      assert.equal(Buffer.from(referenceMth(leaves.slice(0, i + 1))).toString('hex'), root, `reference, ${i + 1} leaves`)
      assert.equal(Buffer.from(merkleRoot(leaves.slice(0, i + 1))).toString('hex'), root, `src, ${i + 1} leaves`)
    })
  })

  test('merkleRoot matches the reference for 1..N leaves', () => {
    const leaves = Array.from({ length: 70 }, () => new Uint8Array(randomBytes(32)))
    for (let n = 1; n <= leaves.length; n++) {
      assert.deepEqual(merkleRoot(leaves.slice(0, n)), referenceMth(leaves.slice(0, n)), `${n} leaves`)
    }
  })

  test('property: merkleRoot matches the reference for random leaf sets', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { minLength: 1, maxLength: 130 }), (leaves) => {
      assert.deepEqual(merkleRoot(leaves), referenceMth(leaves))
    }), { numRuns: 60 })
  })

  test('every audit path verifies with RFC 9162 §2.1.3.2 for 1..N leaves', () => {
    const leaves = Array.from({ length: 40 }, () => new Uint8Array(randomBytes(32)))
    for (let n = 1; n <= leaves.length; n++) {
      const d = leaves.slice(0, n)
      const root = referenceMth(d)
      for (let i = 0; i < n; i++) {
        const path = merkleProof(d, i)
        assert.ok(referenceVerifyInclusion(d[i] as Uint8Array, i, n, path, root), `leaf ${i} of ${n}`)
        assert.ok(!referenceVerifyInclusion(d[(i + 1) % n] as Uint8Array, i, n, path, root) || n === 1, `wrong leaf at ${i} of ${n}`)
      }
    }
  })

  test('leaves and inner nodes are domain-separated (no second preimage by promoting a node)', () => {
    const leaves = Array.from({ length: 4 }, () => new Uint8Array(randomBytes(32)))
    const inner = [sha(Uint8Array.of(1), sha(Uint8Array.of(0), leaves[0] as Uint8Array), sha(Uint8Array.of(0), leaves[1] as Uint8Array)),
      sha(Uint8Array.of(1), sha(Uint8Array.of(0), leaves[2] as Uint8Array), sha(Uint8Array.of(0), leaves[3] as Uint8Array))]
    assert.notDeepEqual(merkleRoot(inner), merkleRoot(leaves))
  })
})

describe('checkHeader', () => {
  const [good] = buildHeaders(net, device.publicKey, device.publicKey, undefined, items(1))
  const second = buildHeaders(net, device.publicKey, device.publicKey, { seq: 1, hash: new Uint8Array(32) }, items(1))[0] as EntryHeader
  const h = good as EntryHeader

  test('accepts good headers', () => {
    checkHeader(h)
    checkHeader(second)
    checkHeader({ ...h, bodySize: MAX_BODY_BYTES })
    checkHeader({ ...h, type: 'a/b' })
    checkHeader({ ...h, ts: 0 })
  })

  const bad: Array<[string, Partial<Record<keyof EntryHeader, unknown>>, EntryHeader?]> = [
    ['version 2', { v: 2 }],
    ['seq 0', { seq: 0 }],
    ['negative seq', { seq: -1 }],
    ['fractional seq', { seq: 1.5 }],
    ['unsafe seq', { seq: 2 ** 53 }],
    ['string seq', { seq: '1' }],
    ['prev at seq 1', { prev: new Uint8Array(32) }],
    ['no prev after seq 1', { prev: null }, second],
    ['short prev', { prev: new Uint8Array(31) }, second],
    ['short net', { net: new Uint8Array(31) }],
    ['long author', { author: new Uint8Array(33) }],
    ['device not bytes', { device: 'x'.repeat(32) }],
    ['short bodyHash', { bodyHash: new Uint8Array(16) }],
    ['negative ts', { ts: -1 }],
    ['fractional ts', { ts: 1.5 }],
    ['type without app', { type: 'message' }],
    ['type upper case', { type: 'Chat/message' }],
    ['type with two slashes', { type: 'chat/message/x' }],
    ['type starting with a digit', { type: '1chat/message' }],
    ['type with a space', { type: 'chat/me ssage' }],
    ['type too long', { type: 'a/' + 'b'.repeat(63) }],
    ['type not a string', { type: 7 }],
    ['negative size', { bodySize: -1 }],
    ['size over the limit', { bodySize: MAX_BODY_BYTES + 1 }],
    ['fractional size', { bodySize: 0.5 }]
  ]
  for (const [what, patch, base] of bad) {
    test(`refuses ${what}`, () => {
      assert.throws(() => checkHeader({ ...(base ?? h), ...patch } as EntryHeader), isInvalid)
    })
  }
})

describe('wire form', () => {
  test('property: encodeHeader and encodeEntry are encodeCanonical of headerValue and entryValue, byte for byte', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 6, maxLength: 6 }),
      fc.array(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}\/[a-z][a-z0-9-]{0,8}$/), { minLength: 6, maxLength: 6 }),
      fc.array(fc.nat({ max: Number.MAX_SAFE_INTEGER }), { minLength: 6, maxLength: 6 }),
      fc.nat({ max: Number.MAX_SAFE_INTEGER - 10 }),
      (n, bodies, types, stamps, headSeq) => {
        const raw: NewEntry[] = Array.from({ length: n }, (_v, i) => ({ body: bodies[i] as Uint8Array, type: types[i] as string, ts: stamps[i] as number }))
        const head = headSeq === 0 ? undefined : { seq: headSeq, hash: new Uint8Array(randomBytes(32)) }
        const headers = buildHeaders(net, device.publicKey, device.publicKey, head, raw)
        const auths = signHeaders(device, headers)
        headers.forEach((header, i) => {
          const e: Entry = { header, auth: auths[i] as Entry['auth'], body: (raw[i] as NewEntry).body }
          assert.equal(hexOf(encodeHeader(header)), hexOf(encodeCanonical(headerValue(header))))
          assert.equal(hexOf(encodeEntry(e, true)), hexOf(encodeCanonical(entryValue(e, true))))
          assert.equal(hexOf(encodeEntry(e, false)), hexOf(encodeCanonical(entryValue(e, false))))
        })
      }), { numRuns: 80 })
  })

  test('encodeHeader of a header of unexpected shape is what the general encoder makes of it', () => {
    const [e] = makeEntries(1)
    const odd = { ...(e as Entry).header, type: 'chät/mässage', seq: -3 }
    assert.equal(hexOf(encodeHeader(odd)), hexOf(encodeCanonical(headerValue(odd))))
  })

  test('property: entryValue → encodeCanonical → decodeCanonical → entryFrom round-trips and still verifies', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.boolean(),
      fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 12, maxLength: 12 }),
      fc.array(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}\/[a-z][a-z0-9-]{0,8}$/), { minLength: 12, maxLength: 12 }),
      fc.array(fc.nat({ max: 2 ** 48 }), { minLength: 12, maxLength: 12 }),
      (n, withBody, bodies, types, stamps) => {
        const raw: NewEntry[] = Array.from({ length: n }, (_v, i) => ({ body: bodies[i] as Uint8Array, type: types[i] as string, ts: stamps[i] as number }))
        const headers = buildHeaders(net, device.publicKey, device.publicKey, undefined, raw)
        const auths = signHeaders(device, headers)
        headers.forEach((header, i) => {
          const e: Entry = { header, auth: auths[i] as Entry['auth'], body: (raw[i] as NewEntry).body }
          const wire = encodeCanonical(entryValue(e, withBody))
          const back = entryFrom(decodeCanonical(wire))
          assert.deepEqual(back, withBody ? e : { header, auth: e.auth })
          assert.deepEqual(verifyEntry(back), entryHash(header))
          assert.deepEqual(encodeCanonical(entryValue(back, withBody)), wire)
        })
      }), { numRuns: 60 })
  })

  test('entryFrom refuses malformed values with InvalidRecordError', () => {
    const [e] = makeEntries(2)
    const v = entryValue(e as Entry) as Record<string, unknown>
    const a = v.a as { batch: Record<string, unknown> }
    const cases: unknown[] = [
      null, 7, 'x', [], {},
      { h: v.h },
      { a: v.a },
      { h: v.h, a: {} },
      { h: v.h, a: { batch: { ...a.batch, root: 'x' } } },
      { h: v.h, a: { batch: { ...a.batch, proof: 'x' } } },
      { h: v.h, a: { batch: { ...a.batch, proof: [new Uint8Array(31)] } } },
      { h: v.h, a: { batch: { ...a.batch, sig: null } } },
      { ...v, b: 'body' }
    ]
    for (const c of cases) assert.throws(() => entryFrom(c), isInvalid, JSON.stringify(c, (_k, x: unknown) => x instanceof Uint8Array ? `<${x.byteLength} bytes>` : x))
  })

  test('entryFrom of a header with wrong field types gives an entry verifyEntry refuses', () => {
    const [e] = makeEntries(1)
    const v = entryValue(e as Entry) as { h: Record<string, unknown>, a: unknown, b: unknown }
    for (const patch of [{ seq: 'one' }, { net: null }, { bodySize: '3' }, { type: null }, { v: undefined }]) {
      const bad = entryFrom({ ...v, h: { ...v.h, ...patch } })
      assert.throws(() => verifyEntry(bad), isInvalid)
    }
  })
})
