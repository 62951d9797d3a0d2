// Sealed boxes: only the recipient's Ed25519 identity opens one; any damage is caught.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto'
import fc from 'fast-check'
import { generateIdentity } from '../../src/core/identity.ts'
import { openSealed, sealTo, x25519PublicOf } from '../../src/core/seal.ts'
import { isNamed } from '../networks/fixtures.ts'

test('the X25519 key derived from an Ed25519 public key is the one its seed gives', () => {
  for (let i = 0; i < 20; i++) {
    const id = generateIdentity()
    // RFC 8032 §5.1.5: the secret scalar is the first half of SHA-512(seed); X25519 clamps it.
    const scalar = createHash('sha512').update(id.seed).digest().subarray(0, 32)
    const priv = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), scalar]), format: 'der', type: 'pkcs8' })
    const pub = createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(12)
    assert.deepEqual(Buffer.from(x25519PublicOf(id.publicKey)), pub)
  }
})

test('a sealed box opens for its recipient, byte for byte', () => {
  const id = generateIdentity()
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (plain) => {
    assert.deepEqual(openSealed(id, sealTo(id.publicKey, plain)), plain)
  }), { numRuns: 50 })
})

test('a third key cannot open it, and every damaged byte is caught', () => {
  const id = generateIdentity()
  const box = sealTo(id.publicKey, new TextEncoder().encode('the network key'))
  assert.throws(() => openSealed(generateIdentity(), box), isNamed('SealError'))
  for (let i = 0; i < box.byteLength; i++) {
    const bad = Uint8Array.from(box)
    bad[i] = (bad[i] as number) ^ 0x01
    assert.throws(() => openSealed(id, bad), isNamed('SealError'), `byte ${i}`)
  }
  assert.throws(() => openSealed(id, box.subarray(0, 40)), isNamed('SealError'))
})

test('two seals of the same bytes differ (fresh ephemeral key and nonce)', () => {
  const id = generateIdentity()
  const plain = new Uint8Array(16)
  assert.notDeepEqual(sealTo(id.publicKey, plain), sealTo(id.publicKey, plain))
})
