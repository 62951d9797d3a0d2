// Private messages of the social app on real Networks over SQLite files, entries carried
// by hand (the sync shell's job in the node): the recipient reads it, so do the sender's
// devices, the member that carried it does not; forged and malformed bodies; bad input.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { encodeCanonical } from '../../../src/core/encoding.ts'
import type { CanonicalValue } from '../../../src/core/encoding.ts'
import type { Networks } from '../../../src/networks/networks.ts'
import { parseNetworkId } from '../../../src/networks/manifest.ts'
import { buildHeaders, signHeaders } from '../../../src/networks/entry.ts'
import type { Entry } from '../../../src/networks/entry.ts'
import { MAX_DM_CHARS } from '../../../src/apps/social/dm.ts'
import type { DmView } from '../../../src/apps/social/dm.ts'
import { hex, isNamed, world, worldNode } from '../../networks/fixtures.ts'
import type { World } from '../../networks/fixtures.ts'
import { socialApp } from '../../../src/apps/social/social.ts'

const node = (w: World): Networks => worldNode(w, [socialApp])

function entriesOf (from: Networks, net: Uint8Array): Entry[] {
  return from.logs.heads(net).flatMap((h) => from.logs.chainAfter(net, h.author, h.device, 0, 10_000).map((s) => s.entry)).sort((x, y) => x.header.ts - y.header.ts)
}

function carry (from: Networks, to: Networks, net: Uint8Array): void {
  assert.deepEqual(to.ingestRemote(entriesOf(from, net)).rejected.map((r) => r.reason), [])
}

const inbox = (n: Networks): DmView[] => n.accountQuery('social', 'inbox', {}) as DmView[]
const dm = async (n: Networks, to: Networks | string, text: string): Promise<{ id: string, net: string }> =>
  await n.accountCommand('social', 'dm', { to: typeof to === 'string' ? to : hex(to.account.publicKey), text }) as { id: string, net: string }

/** Three members of one social network; everyone holds everything. */
function threeMembers (t: TestContext): { a: Networks, b: Networks, c: Networks, net: Uint8Array } {
  const w = world(t)
  const [a, b, c] = [node(w), node(w), node(w)]
  const created = a.create({ name: 'street', app: 'social', policy: 'invite', private: false })
  const net = parseNetworkId(created.id)
  b.join(created.invite as string)
  c.join(created.invite as string)
  for (const x of [b, c]) carry(x, a, net)
  for (const x of [b, c]) carry(a, x, net)
  return { a, b, c, net }
}

describe('social private messages', () => {
  test('the recipient and the sender read it; the member that carried it cannot', async (t) => {
    const { a, b, c, net } = threeMembers(t)
    const events: unknown[] = []
    c.subscribe((e) => { events.push(...c.appEvents(e.net, e.entries, e.local).map((v) => ({ kind: v.kind, ...v.data }))) })
    const sent = await dm(a, c, 'meet at the well at noon')
    // A to B, then B to C: C and A are never in touch.
    carry(a, b, net)
    carry(b, c, net)
    const [got] = inbox(c)
    assert.equal(got?.text, 'meet at the well at noon')
    assert.equal(got?.direction, 'received')
    assert.equal(got?.from, hex(a.account.publicKey))
    assert.equal(got?.to, hex(c.account.publicKey))
    assert.equal(got?.id, sent.id)
    assert.deepEqual(inbox(a).map((m) => [m.direction, m.text]), [['sent', 'meet at the well at noon']])
    assert.deepEqual(inbox(b), [], 'the carrier has nothing to show')
    const stored = b.logs.entry(net, Buffer.from(sent.id, 'hex'))
    assert.ok(stored?.entry.body !== undefined)
    assert.equal(Buffer.from(stored.entry.body).includes('meet at the well'), false, 'no plaintext in what the carrier stores')
    assert.equal(events.length, 1)
    assert.equal((events[0] as { kind: string, direction: string }).direction, 'received')
    // Newest first, both ways.
    await dm(c, a, 'see you there')
    carry(c, a, net)
    assert.deepEqual(inbox(a).map((m) => m.text), ['see you there', 'meet at the well at noon'])
    assert.deepEqual(inbox(c).map((m) => m.direction), ['sent', 'received'])
  })

  test('a sealed body copied into another member\'s entry opens for nobody', async (t) => {
    const { a, b, c, net } = threeMembers(t)
    const sent = await dm(a, c, 'for c only')
    carry(a, b, net)
    const body = b.logs.entry(net, Buffer.from(sent.id, 'hex'))?.entry.body as Uint8Array
    // B writes the same sealed bytes as its own message: well formed, so stored and passed on.
    const forged = b.logs.plainBody(b.logs.network(net), 'social/dm', body)
    await b.appendApp(net, 'social/dm', forged)
    carry(b, c, net)
    assert.deepEqual(inbox(c).map((m) => m.from), [hex(a.account.publicKey)], 'only A\'s own message shows')
  })

  test('malformed bodies from a peer are refused with the reason', (t) => {
    const { b, c, net } = threeMembers(t)
    const forge = (body: CanonicalValue): Entry => {
      const signer = b.account.signer
      const headers = buildHeaders(net, b.account.publicKey, signer.publicKey, b.logs.head(net, b.account.publicKey, signer.publicKey), [{ type: 'social/dm', ts: 2_000_000, body: encodeCanonical(body) }])
      return { header: headers[0] as Entry['header'], auth: signHeaders(signer, headers)[0] as Entry['auth'], body: encodeCanonical(body) }
    }
    const cases: Array<[CanonicalValue, RegExp]> = [
      [{ text: 'plain text, not sealed' }, /malformed sealed body: unsupported version/],
      [{ v: 1, boxes: [], commit: new Uint8Array(16), ct: new Uint8Array(300) }, /boxes must be a list/]
    ]
    for (const [body, why] of cases) {
      const r = c.ingestRemote([forge(body)])
      assert.equal(r.accepted.length, 0)
      assert.match(r.rejected[0]?.reason ?? '', why)
      assert.match(r.rejected[0]?.reason ?? '', /^invalid social\/dm body/)
    }
  })

  test('bad input: clear errors, nothing written', async (t) => {
    const { a, b, net } = threeMembers(t)
    const before = a.logs.entryCount(net)
    await assert.rejects(dm(a, b, ''), isNamed('InvalidRecordError'))
    await assert.rejects(dm(a, b, 'x'.repeat(MAX_DM_CHARS + 1)), (err: unknown) => isNamed('InvalidRecordError')(err) && /at most 4000 characters/.test((err as Error).message))
    await assert.rejects(dm(a, 'not-a-key', 'hi'), isNamed('UnknownAccountError'))
    await assert.rejects(dm(a, 'ab'.repeat(32), 'hi'), (err: unknown) => isNamed('NotPermittedError')(err) && /no network you both belong to/.test((err as Error).message))
    await assert.rejects(dm(a, a, 'hi'), (err: unknown) => isNamed('InvalidRecordError')(err) && /your own account/.test((err as Error).message))
    await assert.rejects(dm(a, hex(b.account.publicKey).slice(0, 4), 'hi'), isNamed('UnknownAccountError'))
    assert.equal(a.logs.entryCount(net), before)
    // A prefix of 8+ digits is enough.
    await dm(a, hex(b.account.publicKey).slice(0, 10), 'by prefix')
    assert.equal(inbox(a)[0]?.text, 'by prefix')
  })

  test('the network: of those both are in, the one with the most members', async (t) => {
    const w = world(t)
    const [a, b, c] = [node(w), node(w), node(w)]
    const small = a.create({ name: 'two of us', app: 'social', policy: 'invite', private: false })
    const big = a.create({ name: 'three of us', app: 'social', policy: 'invite', private: false })
    b.join(small.invite as string)
    b.join(big.invite as string)
    c.join(big.invite as string)
    for (const id of [small.id, big.id]) for (const x of [b, c]) if (x.logs.hasNetwork(parseNetworkId(id))) carry(x, a, parseNetworkId(id))
    assert.equal((await dm(a, b, 'which way?')).net, big.id)
    assert.equal((await a.accountCommand('social', 'dm', { to: hex(b.account.publicKey), text: 'this way', net: parseNetworkId(small.id) }) as { net: string }).net, small.id)
  })
})
