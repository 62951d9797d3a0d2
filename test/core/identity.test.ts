// The node identity: Ed25519 (RFC 8032) keys, the 0600 key file, and domain-separated
// signatures over canonical CBOR.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { peerIdFromString } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import {
  generateIdentity, identityFromSeed, loadIdentity, peerIdOfPublicKey, publicKeyOfPeerId, saveIdentity, sign, signingBytes, verify
} from '../../src/core/identity.ts'
import type { SignatureDomain } from '../../src/core/identity.ts'
import type { CanonicalValue } from '../../src/core/encoding.ts'
import { tempDir } from './temp-dir.ts'

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'))
const isNamed = (name: string) => (err: unknown): boolean => {
  assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`)
  assert.equal(err.name, name)
  return true
}

// RFC 8032 §7.1, TEST 1 and TEST 2.
const RFC8032_TEST1 = {
  seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'
}
const RFC8032_TEST2 = {
  seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
  publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c'
}

const DOMAIN: SignatureDomain = { purpose: 'test/record', version: 1 }

const { value: canonicalValue } = fc.letrec<{ value: CanonicalValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 8 }), tie('value'), { maxKeys: 4, noNullPrototype: true })
  )
}))
const seed = fc.uint8Array({ minLength: 32, maxLength: 32 })

function writeKeyFile (path: string, body: string, mode = 0o600): void {
  writeFileSync(path, body)
  chmodSync(path, mode) // independent of the umask
}

describe('Ed25519 keys', () => {
  test('identityFromSeed derives the RFC 8032 public keys', () => {
    for (const v of [RFC8032_TEST1, RFC8032_TEST2]) {
      const id = identityFromSeed(fromHex(v.seed))
      assert.equal(hex(id.publicKey), v.publicKey)
      assert.equal(hex(id.seed), v.seed)
    }
  })

  test('identityFromSeed is deterministic', () => {
    fc.assert(fc.property(seed, (s) => {
      const a = identityFromSeed(s)
      const b = identityFromSeed(s.slice())
      assert.equal(a.peerId, b.peerId)
      assert.equal(hex(a.publicKey), hex(b.publicKey))
    }), { numRuns: 50 })
  })

  test('identityFromSeed keeps its own copy of the seed', () => {
    const s = fromHex(RFC8032_TEST1.seed)
    const id = identityFromSeed(s)
    s.fill(0)
    assert.equal(hex(id.seed), RFC8032_TEST1.seed)
  })

  test('identityFromSeed refuses a seed that is not 32 bytes', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      assert.throws(() => identityFromSeed(new Uint8Array(length)), isNamed('IdentityError'))
    }
  })

  test('peerId is the libp2p Ed25519 PeerId of the public key', () => {
    const id = generateIdentity()
    assert.ok(id.peerId.startsWith('12D3KooW'), id.peerId)
    const parsed = peerIdFromString(id.peerId)
    assert.equal(parsed.type, 'Ed25519')
    assert.equal(hex(parsed.publicKey?.raw ?? new Uint8Array(0)), hex(id.publicKey))
    assert.equal(peerIdOfPublicKey(id.publicKey), id.peerId)
    assert.equal(hex(publicKeyOfPeerId(id.peerId) ?? new Uint8Array(0)), hex(id.publicKey), 'and back')
    assert.equal(publicKeyOfPeerId('not a peer id'), undefined)
    assert.equal(publicKeyOfPeerId('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'), undefined, 'an RSA-style id has no Ed25519 key inside')
  })

  test('generateIdentity gives a fresh key each time', () => {
    const a = generateIdentity()
    const b = generateIdentity()
    assert.equal(a.seed.byteLength, 32)
    assert.equal(a.publicKey.byteLength, 32)
    assert.notEqual(hex(a.seed), hex(b.seed))
    assert.notEqual(a.peerId, b.peerId)
    assert.equal(identityFromSeed(a.seed).peerId, a.peerId)
  })
})

describe('key file', () => {
  test('save then load gives the same identity', (t) => {
    const path = join(tempDir(t), 'identity.key')
    const id = generateIdentity()
    saveIdentity(path, id)
    const loaded = loadIdentity(path)
    assert.ok(loaded !== undefined)
    assert.equal(loaded.peerId, id.peerId)
    assert.equal(hex(loaded.publicKey), hex(id.publicKey))
    assert.equal(hex(loaded.seed), hex(id.seed))
  })

  test('the key file has mode 0600 and the documented JSON shape', (t) => {
    const dir = tempDir(t)
    const path = join(dir, 'identity.key')
    const id = identityFromSeed(fromHex(RFC8032_TEST1.seed))
    saveIdentity(path, id)
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.deepStrictEqual(JSON.parse(readFileSync(path, 'utf8')), {
      version: 1, type: 'ed25519', seed: Buffer.from(RFC8032_TEST1.seed, 'hex').toString('base64')
    })
    assert.deepStrictEqual(readdirSync(dir), ['identity.key'])
  })

  test('saving over an existing key file throws IdentityError and keeps the original', (t) => {
    const dir = tempDir(t)
    const path = join(dir, 'identity.key')
    saveIdentity(path, generateIdentity())
    const before = readFileSync(path)
    assert.throws(() => { saveIdentity(path, generateIdentity()) }, isNamed('IdentityError'))
    assert.deepStrictEqual(readFileSync(path), before)
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.deepStrictEqual(readdirSync(dir), ['identity.key'], 'no temp file left behind')
  })

  test('saving into a missing directory throws IdentityError', (t) => {
    const path = join(tempDir(t), 'missing', 'identity.key')
    assert.throws(() => { saveIdentity(path, generateIdentity()) }, isNamed('IdentityError'))
  })

  test('loading a missing file returns undefined', (t) => {
    assert.equal(loadIdentity(join(tempDir(t), 'identity.key')), undefined)
  })

  const seedB64 = Buffer.from(RFC8032_TEST1.seed, 'hex').toString('base64')
  const corrupt: Array<[string, string]> = [
    ['an empty file', ''],
    ['not JSON', 'this is not json'],
    ['truncated JSON', `{"version":1,"type":"ed25519","seed":"${seedB64}"`],
    ['JSON null', 'null'],
    ['a JSON string', '"hello"'],
    ['a JSON array', '[]'],
    ['no version', JSON.stringify({ type: 'ed25519', seed: seedB64 })],
    ['version 2', JSON.stringify({ version: 2, type: 'ed25519', seed: seedB64 })],
    ['version "1" as a string', JSON.stringify({ version: '1', type: 'ed25519', seed: seedB64 })],
    ['type rsa', JSON.stringify({ version: 1, type: 'rsa', seed: seedB64 })],
    ['no seed', JSON.stringify({ version: 1, type: 'ed25519' })],
    ['a 16-byte seed', JSON.stringify({ version: 1, type: 'ed25519', seed: Buffer.alloc(16, 7).toString('base64') })],
    ['a 31-byte seed', JSON.stringify({ version: 1, type: 'ed25519', seed: Buffer.alloc(31, 7).toString('base64') })],
    ['a 33-byte seed', JSON.stringify({ version: 1, type: 'ed25519', seed: Buffer.alloc(33, 7).toString('base64') })],
    ['a hex seed', JSON.stringify({ version: 1, type: 'ed25519', seed: RFC8032_TEST1.seed })],
    // Buffer.from(…, 'base64') would quietly read these three as the 32-byte seed.
    ['an unpadded base64 seed', JSON.stringify({ version: 1, type: 'ed25519', seed: seedB64.replace(/=$/, '') })],
    ['a seed with embedded whitespace', JSON.stringify({ version: 1, type: 'ed25519', seed: `${seedB64.slice(0, 20)} ${seedB64.slice(20)}` })],
    ['a seed with trailing junk', JSON.stringify({ version: 1, type: 'ed25519', seed: `${seedB64}AAAA` })],
    ['a numeric seed', JSON.stringify({ version: 1, type: 'ed25519', seed: 42 })]
  ]
  for (const [name, body] of corrupt) {
    test(`a key file with ${name} throws IdentityError and is left untouched`, (t) => {
      const dir = tempDir(t)
      const path = join(dir, 'identity.key')
      writeKeyFile(path, body)
      assert.throws(() => loadIdentity(path), isNamed('IdentityError'))
      assert.equal(readFileSync(path, 'utf8'), body)
      assert.equal(statSync(path).mode & 0o777, 0o600)
      assert.deepStrictEqual(readdirSync(dir), ['identity.key'])
    })
  }

  test('the same bytes with mode 0600 load, proving the corrupt cases fail on content', (t) => {
    const path = join(tempDir(t), 'identity.key')
    writeKeyFile(path, JSON.stringify({ version: 1, type: 'ed25519', seed: seedB64 }))
    assert.equal(hex(loadIdentity(path)?.publicKey ?? new Uint8Array(0)), RFC8032_TEST1.publicKey)
  })

  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    test(`a key file with mode 0${mode.toString(8)} is refused`, (t) => {
      const path = join(tempDir(t), 'identity.key')
      saveIdentity(path, generateIdentity())
      chmodSync(path, mode)
      const before = readFileSync(path)
      assert.throws(() => loadIdentity(path), (err: unknown) => {
        isNamed('IdentityError')(err)
        assert.match((err as Error).message, /readable by other users/)
        return true
      })
      assert.deepStrictEqual(readFileSync(path), before)
      assert.equal(statSync(path).mode & 0o777, mode, 'the mode is reported, not silently fixed')
    })
  }

  test('a directory in place of the key file throws IdentityError', (t) => {
    const dir = tempDir(t)
    chmodSync(dir, 0o700)
    assert.throws(() => loadIdentity(dir), isNamed('IdentityError'))
  })
})

describe('domain-separated signatures', () => {
  const id = identityFromSeed(fromHex(RFC8032_TEST1.seed))
  const other = identityFromSeed(fromHex(RFC8032_TEST2.seed))
  const value: CanonicalValue = { kind: 'invite', network: 'n1', n: 7 }
  const signature = sign(id, DOMAIN, value)

  test('a signature is 64 bytes and verifies', () => {
    assert.equal(signature.byteLength, 64)
    assert.equal(verify(id.publicKey, DOMAIN, value, signature), true)
  })

  test('signing is deterministic (RFC 8032 §5.1.6)', () => {
    assert.equal(hex(sign(id, DOMAIN, value)), hex(signature))
  })

  test('the signed bytes are the canonical CBOR of [context, purpose, version, value]', () => {
    // 84 | 71 "peernet/signature" | 61 "a" | 01 | f6
    const expected = '84' + '71' + Buffer.from('peernet/signature').toString('hex') + '6161' + '01' + 'f6'
    assert.equal(hex(signingBytes({ purpose: 'a', version: 1 }, null)), expected)
  })

  test('the signature is plain Ed25519 over signingBytes (checked with @libp2p/crypto)', async () => {
    const key = publicKeyFromRaw(id.publicKey)
    assert.equal(await key.verify(signingBytes(DOMAIN, value), signature), true)
    assert.equal(await key.verify(signingBytes({ purpose: 'other', version: 1 }, value), signature), false)
  })

  test('fails for another purpose', () => {
    assert.equal(verify(id.publicKey, { purpose: 'test/other', version: 1 }, value, signature), false)
  })

  test('fails for another version', () => {
    assert.equal(verify(id.publicKey, { purpose: DOMAIN.purpose, version: 2 }, value, signature), false)
  })

  test('fails for another value', () => {
    assert.equal(verify(id.publicKey, DOMAIN, { ...value, n: 8 }, signature), false)
    assert.equal(verify(id.publicKey, DOMAIN, [value], signature), false)
  })

  test('fails for another key', () => {
    assert.equal(verify(other.publicKey, DOMAIN, value, signature), false)
  })

  test('fails for every single flipped signature bit', () => {
    for (let bit = 0; bit < 64 * 8; bit++) {
      const bad = signature.slice()
      bad[bit >> 3] = (bad[bit >> 3] ?? 0) ^ (1 << (bit & 7))
      assert.equal(verify(id.publicKey, DOMAIN, value, bad), false, `bit ${bit}`)
    }
  })

  test('fails, without throwing, for malformed keys and signatures', () => {
    assert.equal(verify(id.publicKey.subarray(0, 31), DOMAIN, value, signature), false)
    assert.equal(verify(new Uint8Array(33), DOMAIN, value, signature), false)
    assert.equal(verify(id.publicKey, DOMAIN, value, signature.subarray(0, 63)), false)
    assert.equal(verify(id.publicKey, DOMAIN, value, new Uint8Array(65)), false)
    assert.equal(verify(new Uint8Array(32).fill(0xff), DOMAIN, value, signature), false)
    assert.equal(verify(id.publicKey, DOMAIN, value, new Uint8Array(64)), false)
  })

  test('an invalid purpose or version is a SignatureError, for signing and verifying', () => {
    for (const purpose of ['', 'Upper', '-leading-dash', '.dot', 'has space', 'ü']) {
      assert.throws(() => sign(id, { purpose, version: 1 }, value), isNamed('SignatureError'), purpose)
      assert.throws(() => verify(id.publicKey, { purpose, version: 1 }, value, signature), isNamed('SignatureError'), purpose)
    }
    for (const version of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
      assert.throws(() => sign(id, { purpose: 'ok', version }, value), isNamed('SignatureError'), String(version))
    }
  })

  test('property: sign/verify round trip, and any change breaks it', () => {
    fc.assert(fc.property(seed, canonicalValue, canonicalValue, fc.nat({ max: 511 }), (s, v, w, bit) => {
      const signer = identityFromSeed(s)
      const sig = sign(signer, DOMAIN, v)
      assert.equal(verify(signer.publicKey, DOMAIN, v, sig), true)
      const flipped = sig.slice()
      flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7))
      assert.equal(verify(signer.publicKey, DOMAIN, v, flipped), false)
      assert.equal(verify(signer.publicKey, { purpose: 'test/other', version: 1 }, v, sig), false)
      if (!isDeepStrictEqual(v, w)) assert.equal(verify(signer.publicKey, DOMAIN, w, sig), false)
    }), { numRuns: 100 })
  })

  // Known defect, see encoding.test.ts: two distinct strings share one encoding.
  test('a signature over a lone surrogate never verifies for U+FFFD', () => {
    let sig: Uint8Array
    try {
      sig = sign(id, DOMAIN, '\ud800')
    } catch (err) {
      isNamed('EncodingError')(err) // refusing to sign is a fix too
      return
    }
    assert.equal(verify(id.publicKey, DOMAIN, '\ufffd', sig), false)
  })
})
