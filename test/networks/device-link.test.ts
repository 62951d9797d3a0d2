// The device link codes: a request signed by the new device, and a link signed by the
// account and sealed to that device. Round trips, and every way one can be wrong.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { generateIdentity } from '../../src/core/identity.ts'
import { decodeCanonical, encodeCanonical } from '../../src/core/encoding.ts'
import type { CanonicalValue } from '../../src/core/encoding.ts'
import { openSealed, sealTo } from '../../src/core/seal.ts'
import { createDeviceLink, createLinkRequest, decodeLinkRequest, looksLikeDeviceLink, looksLikeLinkRequest, openDeviceLink } from '../../src/networks/device-link.ts'
import { verifyDelegation } from '../../src/networks/account.ts'
import { signedManifestValue } from '../../src/networks/manifest.ts'
import { isNamed, makeNetwork, ringOf } from './fixtures.ts'

const NOW = 1_700_000_000_000
const ADDRS = ['/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWExample']

function b64 (code: string, prefix: string): Record<string, CanonicalValue> {
  return decodeCanonical(new Uint8Array(Buffer.from(code.slice(prefix.length), 'base64url'))) as Record<string, CanonicalValue>
}

function encode (prefix: string, value: CanonicalValue): string {
  return prefix + Buffer.from(encodeCanonical(value)).toString('base64url')
}

function setup (): { account: ReturnType<typeof generateIdentity>, device: ReturnType<typeof generateIdentity>, request: string, code: string, key: Uint8Array } {
  const account = generateIdentity()
  const device = generateIdentity()
  const request = createLinkRequest(device, ADDRS, NOW)
  const open = makeNetwork({ creator: account, name: 'open one' })
  const priv = makeNetwork({ creator: account, name: 'private one', private: true })
  const key = new Uint8Array(32).fill(7)
  const { code } = createDeviceLink(account, decodeLinkRequest(request), {
    networks: [{ manifest: open.manifest, keys: [] }, { manifest: priv.manifest, keys: ringOf(key) }], addrs: ADDRS, expires: NOW + 60_000, now: NOW
  })
  return { account, device, request, code, key }
}

describe('link requests', () => {
  test('round trip: the device key and addresses, signed by the device', () => {
    const device = generateIdentity()
    const text = createLinkRequest(device, ADDRS, NOW)
    assert.ok(looksLikeLinkRequest(text) && !looksLikeDeviceLink(text))
    const r = decodeLinkRequest(`  ${text}\n`)
    assert.deepEqual(r.device, device.publicKey)
    assert.deepEqual(r.addrs, ADDRS)
  })

  test('damaged, forged or not a request at all: DeviceLinkError', () => {
    const device = generateIdentity()
    const text = createLinkRequest(device, ADDRS, NOW)
    const v = b64(text, 'pnlinkreq1')
    // Someone else's key in a request signed by this device.
    assert.throws(() => decodeLinkRequest(encode('pnlinkreq1', { ...v, device: generateIdentity().publicKey })), isNamed('DeviceLinkError'))
    assert.throws(() => decodeLinkRequest(encode('pnlinkreq1', { ...v, addrs: ['/ip4/6.6.6.6/tcp/1'] })), /does not verify/)
    assert.throws(() => decodeLinkRequest(text.slice(0, -4)), isNamed('DeviceLinkError'))
    assert.throws(() => decodeLinkRequest('pnlinkreq1!!'), /not a Peernet link request/)
    assert.throws(() => decodeLinkRequest('pninvite1abc'), /not a Peernet link request/)
  })
})

describe('device links', () => {
  test('round trip: the delegation, the networks with the private one\'s key, the addresses', () => {
    const { account, device, code, key } = setup()
    assert.ok(looksLikeDeviceLink(code) && !looksLikeLinkRequest(code))
    const link = openDeviceLink(device, code, NOW + 1)
    verifyDelegation(link.delegation)
    assert.deepEqual(link.delegation.account, account.publicKey)
    assert.deepEqual(link.delegation.device, device.publicKey)
    assert.deepEqual(link.networks.map((n) => [n.manifest.manifest.name, n.keys.map((k) => k.key)]), [['open one', []], ['private one', [key]]])
    assert.deepEqual(link.addrs, ADDRS)
  })

  test('sealed: the network key is nowhere in the code, and a third key cannot open it', () => {
    const { code, key } = setup()
    const bytes = Buffer.from(code.slice('pnlink1'.length), 'base64url')
    assert.equal(bytes.indexOf(Buffer.from(key)), -1, 'the private network key is not readable in the code')
    const outer = b64(code, 'pnlink1')
    assert.throws(() => openSealed(generateIdentity(), outer.box as Uint8Array), isNamed('SealError'))
  })

  test('for another device: refused by name, before anything is opened', () => {
    const { code } = setup()
    assert.throws(() => openDeviceLink(generateIdentity(), code, NOW), /for another device/)
  })

  test('readdressed to a third device (the sealed box kept): it does not open', () => {
    const { code } = setup()
    const third = generateIdentity()
    const outer = b64(code, 'pnlink1')
    assert.throws(() => openDeviceLink(third, encode('pnlink1', { ...outer, to: third.publicKey }), NOW), /does not open/)
  })

  test('damaged anywhere: DeviceLinkError, never anything else', () => {
    const { device, code } = setup()
    for (const at of [10, 60, Math.floor(code.length / 2), code.length - 3]) {
      const bad = code.slice(0, at) + (code[at] === 'A' ? 'B' : 'A') + code.slice(at + 1)
      assert.throws(() => openDeviceLink(device, bad, NOW), isNamed('DeviceLinkError'), `char ${at}`)
    }
    assert.throws(() => openDeviceLink(device, code.slice(0, -10), NOW), isNamed('DeviceLinkError'))
    assert.throws(() => openDeviceLink(device, 'pnlink1', NOW), isNamed('DeviceLinkError'))
  })

  test('forged: sealed to the right device but not signed by the account it names', () => {
    const { device, code } = setup()
    const inner = decodeCanonical(openSealed(device, b64(code, 'pnlink1').box as Uint8Array)) as Record<string, CanonicalValue>
    const reseal = (value: Record<string, CanonicalValue>): string => encode('pnlink1', { v: 1, to: device.publicKey, box: sealTo(device.publicKey, encodeCanonical(value)) })
    // A thief adds a network of its own (or changes a key): the account's signature breaks.
    const evil = makeNetwork({ name: 'evil' })
    assert.throws(() => openDeviceLink(device, reseal({ ...inner, networks: [...(inner.networks as CanonicalValue[]), { manifest: signedManifestValue(evil.manifest), keys: [] }] }), NOW), /not signed by its account/)
    assert.throws(() => openDeviceLink(device, reseal({ ...inner, expires: NOW + 10 ** 9 }), NOW), /not signed by its account/)
    // A delegation from another account, signed by neither.
    const other = generateIdentity()
    const delegation = inner.delegation as Record<string, CanonicalValue>
    assert.throws(() => openDeviceLink(device, reseal({ ...inner, delegation: { ...delegation, account: other.publicKey } }), NOW), /forged/)
  })

  test('expired: refused with what to do', () => {
    const { device, code } = setup()
    assert.throws(() => openDeviceLink(device, code, NOW + 60_001), (err: Error) => err.name === 'DeviceLinkError' && /expired/.test(err.message))
  })
})
