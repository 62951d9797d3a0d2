// The manifest exchange codec, the rendezvous schedule and key, pure (the announce policy
// has its own file, announce-policy.test.ts).

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { generateIdentity } from '../../../src/core/identity.ts'
import { createManifest, networkIdOf, signedManifestValue } from '../../../src/networks/manifest.ts'
import { answerRequest, checkAnswer, frame, parseRequest, requestValue, unframe } from '../../../src/networks/rendezvous/manifest-exchange.ts'
import { DEFAULT_TIMING, joinDelay, recheckDelay, startDelay } from '../../../src/networks/rendezvous/schedule.ts'
import { rendezvousKey } from '../../../src/networks/rendezvous/announce-policy.ts'

const manifest = (policy: 'open' | 'invite', priv = false, name = 'n') => createManifest(generateIdentity(), { name, app: 'chat', policy, private: priv, params: {}, created: 1 })

describe('manifest exchange', () => {
  const open = manifest('open')
  const id = networkIdOf(open.manifest)

  test('a member answers with the manifest, which checks against the id', () => {
    const answer = unframe(frame(answerRequest(parseRequest(unframe(frame(requestValue(id)))), () => open)))
    assert.deepEqual(networkIdOf(checkAnswer(id, answer).manifest), id)
  })

  test('refusals and forgeries are errors with the reason', () => {
    const priv = manifest('invite', true)
    assert.throws(() => checkAnswer(id, answerRequest({ v: 1, net: id }, () => undefined)), /refused: not a member/)
    assert.throws(() => checkAnswer(networkIdOf(priv.manifest), answerRequest({ v: 1, net: networkIdOf(priv.manifest) }, () => priv)), /private network/)
    assert.throws(() => checkAnswer(id, { manifest: signedManifestValue(manifest('open', false, 'other')) }), /forged/)
    const tampered = signedManifestValue(open) as { manifest: Record<string, unknown>, sig: Uint8Array }
    assert.throws(() => checkAnswer(id, { ...tampered, manifest: { ...tampered.manifest, name: 'renamed' } }), /not a valid manifest/)
    assert.throws(() => checkAnswer(id, 'nonsense'), { name: 'InvalidRecordError' })
    assert.throws(() => parseRequest({ v: 1, net: id.subarray(1) }), { name: 'InvalidRecordError' })
    assert.throws(() => unframe(frame({ v: 1 }).subarray(0, 3)), { name: 'InvalidRecordError' })
  })
})

describe('schedule and key', () => {
  test('re-checks fall within 9–15 h, before kad-dht republishes at 24 h and long before records expire at 48 h', () => {
    for (const r of [0, 0.5, 0.999999]) {
      const d = recheckDelay(() => r)
      assert.ok(d >= 9 * 3600_000 && d <= 15 * 3600_000, String(d))
    }
    assert.ok(joinDelay(() => 0.999) < DEFAULT_TIMING.joinSpreadMs)
  })

  test('start-up lookups spread with the number of networks, bounded by one re-check period', () => {
    assert.ok(startDelay(() => 0.999, 1) <= DEFAULT_TIMING.startSpreadMinMs)
    assert.ok(startDelay(() => 0.999, 10_000) > 5 * 3600_000)
    assert.ok(startDelay(() => 0.999, 1_000_000) <= DEFAULT_TIMING.recheckMs)
  })

  test('the rendezvous key hides the network id', () => {
    const id = networkIdOf(manifest('open').manifest)
    assert.notDeepEqual(rendezvousKey(id), id)
    assert.equal(rendezvousKey(id).byteLength, 32)
  })
})
