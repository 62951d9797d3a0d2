// Network manifests (id = hash of the canonical manifest, creator's signature) and
// invites (admin-signed grants carried in one pninvite1… string).

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { generateIdentity, sign } from '../../src/core/identity.ts'
import { decodeCanonical, encodeCanonical } from '../../src/core/encoding.ts'
import type { CanonicalValue } from '../../src/core/encoding.ts'
import {
  createManifest, formatNetworkId, networkIdOf, parseNetworkId, signedManifestFrom, signedManifestValue, verifyManifest
} from '../../src/networks/manifest.ts'
import type { NetworkManifest, SignedManifest } from '../../src/networks/manifest.ts'
import { createInvite, decodeInvite, encodeInvite, grantFrom, grantValue, inviteId, looksLikeInvite, verifyGrant } from '../../src/networks/invite.ts'
import type { Invite, InviteGrant } from '../../src/networks/invite.ts'
import { isNamed, makeNetwork, ringOf } from './fixtures.ts'
import { ringValue } from '../../src/networks/body-cipher.ts'

const isInvalid = isNamed('InvalidRecordError')
const isInviteError = isNamed('InviteError')

const PREFIX = 'pninvite1'

/** Builds an invite string from raw parts, bypassing encodeInvite's typing. */
function rawInvite (value: CanonicalValue): string {
  return PREFIX + Buffer.from(encodeCanonical(value)).toString('base64url')
}

function inviteParts (inv: Invite): Record<string, CanonicalValue> {
  return { grant: grantValue(inv.grant), manifest: signedManifestValue(inv.manifest), addrs: inv.addrs, keys: ringValue(inv.keys) }
}

// Same signing domain as src/networks/invite.ts: a forger who knows the format re-signs.
const INVITE_DOMAIN = { purpose: 'networks/invite', version: 1 }
function grantCore (g: InviteGrant): CanonicalValue {
  return { net: g.net, role: g.role, expires: g.expires, uses: g.uses, nonce: g.nonce, issuer: g.issuer }
}

describe('manifests', () => {
  const base = makeNetwork({ name: 'book club', params: { topic: 'novels' } })

  test('the id is stable: same manifest, same id, also after a wire round trip', () => {
    const again = networkIdOf({ ...base.manifest.manifest })
    assert.deepEqual(again, base.id)
    const wire = encodeCanonical(signedManifestValue(base.manifest))
    const back = signedManifestFrom(decodeCanonical(wire))
    assert.deepEqual(networkIdOf(back.manifest), base.id)
    assert.deepEqual(verifyManifest(back), base.id)
    assert.deepEqual(back, base.manifest)
  })

  test('the id changes with every field', () => {
    const m = base.manifest.manifest
    const variants: Array<[string, NetworkManifest]> = [
      ['name', { ...m, name: 'book club 2' }],
      ['app', { ...m, app: 'social' }],
      ['creator', { ...m, creator: generateIdentity().publicKey }],
      ['policy', { ...m, policy: 'invite' }],
      ['private', { ...m, policy: 'invite', private: true }],
      ['params value', { ...m, params: { topic: 'poems' } }],
      ['params key', { ...m, params: { subject: 'novels' } }],
      ['no params', { ...m, params: {} }],
      ['created', { ...m, created: m.created + 1 }]
    ]
    const ids = new Set([formatNetworkId(base.id)])
    for (const [what, v] of variants) {
      const id = formatNetworkId(networkIdOf(v))
      assert.ok(!ids.has(id), `changing ${what} kept the id`)
      ids.add(id)
    }
  })

  test('property: distinct manifests have distinct ids', () => {
    const creator = generateIdentity()
    fc.assert(fc.property(
      fc.string({ minLength: 1, maxLength: 20 }), fc.string({ minLength: 1, maxLength: 20 }), fc.nat(), fc.nat(),
      (n1, n2, c1, c2) => {
        const a = createManifest(creator, { name: n1, app: 'chat', policy: 'open', private: false, params: {}, created: c1 })
        const b = createManifest(creator, { name: n2, app: 'chat', policy: 'open', private: false, params: {}, created: c2 })
        assert.equal(formatNetworkId(networkIdOf(a.manifest)) === formatNetworkId(networkIdOf(b.manifest)), n1 === n2 && c1 === c2)
      }), { numRuns: 100 })
  })

  test('printable ids round-trip and refuse garbage with UnknownNetworkError', () => {
    const text = formatNetworkId(base.id)
    assert.match(text, /^pn[a-z2-7]+$/)
    assert.deepEqual(parseNetworkId(text), base.id)
    assert.deepEqual(parseNetworkId(`  ${text.toUpperCase()} `), base.id)
    for (const bad of ['', 'pn', 'xx' + text.slice(2), text.slice(0, -2), text + 'aa', 'pn!!!!']) {
      assert.throws(() => parseNetworkId(bad), isNamed('UnknownNetworkError'), bad)
    }
  })

  test('a forged manifest signature is refused', () => {
    const flipped: SignedManifest = { ...base.manifest, sig: new Uint8Array(base.manifest.sig) }
    flipped.sig[5] = (flipped.sig[5] as number) ^ 0x80
    assert.throws(() => verifyManifest(flipped), isInvalid)
    // Signed by someone else but naming the creator.
    const other = createManifest(generateIdentity(), { ...base.manifest.manifest })
    assert.throws(() => verifyManifest({ manifest: base.manifest.manifest, sig: other.sig }), isInvalid)
    // A changed field under the old signature.
    assert.throws(() => verifyManifest({ manifest: { ...base.manifest.manifest, name: 'evil twin' }, sig: base.manifest.sig }), isInvalid)
    // And the wire decoder checks the signature too.
    assert.throws(() => signedManifestFrom(signedManifestValue(flipped)), isInvalid)
  })

  test('malformed manifests are refused', () => {
    const creator = generateIdentity()
    const ok = { name: 'n', app: 'chat', policy: 'open' as const, private: false, params: {}, created: 0 }
    for (const [what, fields] of [
      ['empty name', { ...ok, name: '' }],
      ['long name', { ...ok, name: 'x'.repeat(101) }],
      ['bad app', { ...ok, app: 'Chat' }],
      ['bad policy', { ...ok, policy: 'closed' }],
      ['private and open', { ...ok, private: true }],
      ['negative created', { ...ok, created: -1 }]
    ] as const) {
      assert.throws(() => createManifest(creator, fields as unknown as typeof ok), isInvalid, what)
    }
    const v = signedManifestValue(createManifest(creator, ok)) as { manifest: Record<string, CanonicalValue>, sig: Uint8Array }
    for (const bad of [null, {}, { manifest: v.manifest }, { ...v, manifest: { ...v.manifest, v: 2 } }, { ...v, manifest: { ...v.manifest, params: [1] } }]) {
      assert.throws(() => signedManifestFrom(bad), isInvalid)
    }
  })
})

describe('invites', () => {
  const net = makeNetwork({ policy: 'invite' })
  const admin = net.creator
  const options = { role: 'member' as const, expires: 50_000, uses: 3, addrs: ['/ip4/127.0.0.1/tcp/4001'], keys: [] }

  test('encode/decode round trip', () => {
    const inv = createInvite(admin, net.manifest, options)
    const text = encodeInvite(inv)
    assert.ok(looksLikeInvite(text))
    assert.ok(looksLikeInvite(`  ${text}\n`))
    assert.ok(!looksLikeInvite(formatNetworkId(net.id)))
    const back = decodeInvite(`\n ${text} \n`)
    assert.deepEqual(back, inv)
    assert.deepEqual(inviteId(back.grant), inviteId(inv.grant))
    assert.deepEqual(back.grant.net, net.id)
    assert.deepEqual(back.grant.issuer, admin.publicKey)
  })

  test('property: any role, expiry, uses and addresses round-trip', () => {
    fc.assert(fc.property(
      fc.constantFrom('admin' as const, 'member' as const),
      fc.option(fc.nat(), { nil: null }),
      fc.option(fc.integer({ min: 1, max: 1_000_000 }), { nil: null }),
      fc.array(fc.string({ maxLength: 40 }), { maxLength: 12 }),
      (role, expires, uses, addrs) => {
        const inv = createInvite(admin, net.manifest, { role, expires, uses, addrs, keys: [] })
        assert.equal(inv.addrs.length, Math.min(addrs.length, 8))
        assert.deepEqual(decodeInvite(encodeInvite(inv)), inv)
      }), { numRuns: 40 })
  })

  test('each invite has its own nonce and id', () => {
    const a = createInvite(admin, net.manifest, options)
    const b = createInvite(admin, net.manifest, options)
    assert.notDeepEqual(a.grant.nonce, b.grant.nonce)
    assert.notDeepEqual(inviteId(a.grant), inviteId(b.grant))
  })

  test('createInvite refuses a bad number of uses', () => {
    for (const uses of [0, -1, 1.5]) assert.throws(() => createInvite(admin, net.manifest, { ...options, uses }), isInviteError)
  })

  test('a grant re-signed by another key (naming the admin as issuer) is refused', () => {
    const inv = createInvite(admin, net.manifest, options)
    const forger = generateIdentity()
    const forged: InviteGrant = { ...inv.grant, role: 'admin', sig: sign(forger, INVITE_DOMAIN, grantCore({ ...inv.grant, role: 'admin' })) }
    assert.throws(() => verifyGrant(forged), isInviteError)
    assert.throws(() => decodeInvite(rawInvite({ ...inviteParts(inv), grant: grantValue(forged) })), isInviteError)
  })

  test('a grant whose issuer is swapped for another key (old signature kept) is refused', () => {
    const inv = createInvite(admin, net.manifest, options)
    const swapped: InviteGrant = { ...inv.grant, issuer: generateIdentity().publicKey }
    assert.throws(() => decodeInvite(rawInvite({ ...inviteParts(inv), grant: grantValue(swapped) })), isInviteError)
  })

  test('any signed field changed under the old signature is refused', () => {
    const inv = createInvite(admin, net.manifest, options)
    const patches: Array<Partial<InviteGrant>> = [
      { role: 'admin' }, { expires: null }, { expires: 50_001 }, { uses: null }, { uses: 4 },
      { nonce: new Uint8Array(randomBytes(16)) }, { net: makeNetwork().id }
    ]
    for (const p of patches) {
      assert.throws(() => decodeInvite(rawInvite({ ...inviteParts(inv), grant: grantValue({ ...inv.grant, ...p }) })), isInviteError, JSON.stringify(Object.keys(p)))
    }
  })

  test('a flipped signature byte is refused', () => {
    const inv = createInvite(admin, net.manifest, options)
    for (const at of [0, 31, 63]) {
      const sig = new Uint8Array(inv.grant.sig)
      sig[at] = (sig[at] as number) ^ 0x01
      assert.throws(() => decodeInvite(rawInvite({ ...inviteParts(inv), grant: grantValue({ ...inv.grant, sig }) })), isInviteError)
    }
  })

  test('a self-issued invite of a non-admin decodes (the admin check is membership\'s job)', () => {
    const stranger = generateIdentity()
    const inv = createInvite(stranger, net.manifest, options)
    const back = decodeInvite(encodeInvite(inv))
    assert.deepEqual(back.grant.issuer, stranger.publicKey)
  })

  test('a manifest swapped for another network\'s is refused', () => {
    const inv = createInvite(admin, net.manifest, options)
    const other = makeNetwork({ creator: admin, name: 'other', policy: 'invite' })
    assert.throws(() => decodeInvite(rawInvite({ ...inviteParts(inv), manifest: signedManifestValue(other.manifest) })), isInviteError)
    // A manifest with a broken signature is refused too, even for the right network id.
    const broken = { ...net.manifest, sig: new Uint8Array(64) }
    assert.throws(() => decodeInvite(rawInvite({ ...inviteParts(inv), manifest: signedManifestValue(broken) })), isInviteError)
  })

  test('damaged text is refused with InviteError', () => {
    const text = encodeInvite(createInvite(admin, net.manifest, options))
    const cases = [
      '', 'pninvite', PREFIX, 'pninvite2' + text.slice(PREFIX.length), text.slice(1),
      text.slice(0, PREFIX.length + 10), text.slice(0, -20), text + '!', text.replace(/.$/, '='),
      text.slice(0, 30) + ' ' + text.slice(30), PREFIX + 'A'.repeat(17_000), text + text.slice(PREFIX.length)
    ]
    for (const c of cases) assert.throws(() => decodeInvite(c), isInviteError, c.slice(0, 40))
  })

  test('property: a one-character change is refused with InviteError or leaves every signed part unchanged', () => {
    const inv = createInvite(admin, net.manifest, options)
    const text = encodeInvite(inv)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    fc.assert(fc.property(fc.integer({ min: PREFIX.length, max: text.length - 1 }), fc.integer({ min: 0, max: 63 }), (at, c) => {
      const damaged = text.slice(0, at) + alphabet[c] + text.slice(at + 1)
      let back: Invite
      try {
        back = decodeInvite(damaged)
      } catch (err) {
        assert.equal((err as Error).name, 'InviteError', (err as Error).message)
        return
      }
      // Only the unsigned hints (addresses, key) may have changed.
      assert.deepEqual(back.grant, inv.grant)
      assert.deepEqual(back.manifest, inv.manifest)
    }), { numRuns: 200 })
  })

  test('text that decodes to CBOR null is refused with InviteError', () => {
    assert.throws(() => decodeInvite(rawInvite(null)), isInviteError)
  })

  test('text that decodes to a non-map is refused with InviteError', () => {
    for (const v of [7, 'x', [1, 2], {}, { grant: null }] as CanonicalValue[]) assert.throws(() => decodeInvite(rawInvite(v)), isInviteError)
  })

  test('grantFrom refuses malformed grants', () => {
    const inv = createInvite(admin, net.manifest, options)
    const g = grantValue(inv.grant) as Record<string, CanonicalValue>
    for (const patch of [{ role: 'owner' }, { expires: 1.5 }, { uses: 0 }, { net: new Uint8Array(31) }, { issuer: null }, { sig: null }, { nonce: 'n' }]) {
      assert.throws(() => grantFrom({ ...g, ...patch }), isInviteError, JSON.stringify(Object.keys(patch)))
    }
    for (const bad of [null, 7, 'x']) assert.throws(() => grantFrom(bad), isInviteError)
  })
})

describe('private network invites', () => {
  const net = makeNetwork({ private: true })
  const key = new Uint8Array(randomBytes(32))

  test('carry the whole key ring', () => {
    const later = { key: new Uint8Array(randomBytes(32)), ts: 5, author: net.creator.publicKey, seq: 3 }
    const inv = createInvite(net.creator, net.manifest, { role: 'member', expires: null, uses: null, addrs: [], keys: [...ringOf(key), later] })
    const back = decodeInvite(encodeInvite(inv))
    assert.deepEqual(back.keys, [...ringOf(key), later])
    assert.equal(back.manifest.manifest.private, true)
    assert.equal(back.manifest.manifest.policy, 'invite')
  })

  test('without keys, or with a key of the wrong size, are refused', () => {
    const inv = createInvite(net.creator, net.manifest, { role: 'member', expires: null, uses: null, addrs: [], keys: ringOf(key) })
    assert.throws(() => decodeInvite(rawInvite({ ...inviteParts(inv), keys: [] })), isInviteError)
    assert.throws(() => decodeInvite(rawInvite({ ...inviteParts(inv), keys: ringValue(ringOf(key.subarray(0, 31))) })), isInviteError)
    const { keys: _keys, ...noKey } = inviteParts(inv)
    assert.throws(() => decodeInvite(rawInvite(noKey)), isInviteError)
  })

  test('the key is not part of the signed grant (a join cites the grant, never the key)', () => {
    const inv = createInvite(net.creator, net.manifest, { role: 'member', expires: null, uses: null, addrs: [], keys: ringOf(key) })
    const g = grantValue(inv.grant) as Record<string, CanonicalValue>
    assert.ok(!Object.values(g).some((v) => v instanceof Uint8Array && Buffer.compare(v, key) === 0))
  })

  test('a public network never needs one', () => {
    const open = makeNetwork({ policy: 'invite' })
    const inv = createInvite(open.creator, open.manifest, { role: 'member', expires: null, uses: null, addrs: [], keys: [] })
    assert.deepEqual(decodeInvite(encodeInvite(inv)).keys, [])
  })
})
