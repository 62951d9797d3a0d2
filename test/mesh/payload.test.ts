import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { MAX_TEXT_BYTES, decodePayload, encodePayload } from '../../src/mesh/payload.ts'
import { MalformedPayloadError } from '../../src/mesh/errors.ts'
import { isPublicAddress } from '../../src/mesh/gateway.ts'

test('payloads round-trip', () => {
  fc.assert(fc.property(fc.string({ maxLength: 500 }), (text) => {
    assert.deepEqual(decodePayload(encodePayload({ kind: 'text', text })), { kind: 'text', text })
  }))
  assert.deepEqual(decodePayload(encodePayload({ kind: 'ack', id: '0011223344556677' })), { kind: 'ack', id: '0011223344556677' })
  assert.deepEqual(decodePayload(encodePayload({ kind: 'stream', bytes: Uint8Array.of(1, 2, 3) })), { kind: 'stream', bytes: Uint8Array.of(1, 2, 3) })
})

test('bad payloads are refused with a named error, never anything else', () => {
  assert.throws(() => encodePayload({ kind: 'text', text: 'x'.repeat(MAX_TEXT_BYTES + 1) }), MalformedPayloadError)
  assert.throws(() => decodePayload(Uint8Array.of(1, 0xff, 0xfe)), /not valid UTF-8/)
  assert.throws(() => decodePayload(Uint8Array.of(2, 1, 2)), /8-byte/)
  assert.throws(() => decodePayload(Uint8Array.of(9)), /unknown payload kind/)
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    try { decodePayload(bytes) } catch (err) { assert.ok(err instanceof MalformedPayloadError) }
  }))
})

test('gateway detection: private, shared and documentation addresses are not the Internet', () => {
  for (const a of ['10.1.2.3', '192.168.0.10', '172.20.0.1', '100.64.1.1', '127.0.0.1', '169.254.3.4', '198.51.100.7']) assert.equal(isPublicAddress(a, 'IPv4'), false, a)
  for (const a of ['8.8.8.8', '81.2.69.160']) assert.equal(isPublicAddress(a, 'IPv4'), true, a)
  assert.equal(isPublicAddress('2001:db8::1', 'IPv6'), true)
  assert.equal(isPublicAddress('fe80::1', 'IPv6'), false)
  assert.equal(isPublicAddress('fd00::1', 'IPv6'), false)
})
