// The sans-IO side of peer exchange: the session asks for an offer exactly when it starts
// sharing a network, accepts offers only for networks it shares, and the pure choices of
// whom to offer and whom to dial.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { generateIdentity } from '../../../src/core/identity.ts'
import { SyncSession, networkTag } from '../../../src/networks/sync/session.ts'
import type { SyncAction, SyncLocal } from '../../../src/networks/sync/session.ts'
import { decodeMessage, encodeMessage } from '../../../src/networks/sync/messages.ts'
import { PEX_DIAL_MAX, PEX_OFFER_MAX, PEX_WANT, peersToDial, peersToOffer } from '../../../src/networks/sync/peer-exchange.ts'
import type { ExchangedPeer } from '../../../src/networks/sync/peer-exchange.ts'

const net = new Uint8Array(randomBytes(32))
const otherNet = new Uint8Array(randomBytes(32))
const [self, peer] = [generateIdentity().peerId, generateIdentity().peerId].sort() as [string, string]
const local = (nets: Uint8Array[]): SyncLocal => ({ networks: () => nets, heads: () => [] })
const offers = (actions: SyncAction[]): string[] => actions.filter((a) => a.do === 'offer-peers').map((a) => Buffer.from(a.net).toString('hex'))
const member = (i: number): ExchangedPeer => ({ id: `peer-${i}`, addrs: [`/ip4/192.0.2.${i}/tcp/4610`] })

describe('session', () => {
  test('asks for an offer once, when a hello makes a network shared; never for a network only one side is in', () => {
    const s = new SyncSession(local([net, otherNet]), self, peer)
    const hello = { t: 'hello' as const, v: 1 as const, tags: [networkTag(net, self, peer)] }
    assert.deepEqual(offers(s.receive(hello)), [Buffer.from(net).toString('hex')])
    assert.deepEqual(offers(s.receive(hello)), [], 'a repeated hello is not a new sharing')
  })

  test('asks for an offer when heads reveal a newly shared network', () => {
    const s = new SyncSession(local([net]), self, peer)
    assert.deepEqual(offers(s.receive({ t: 'heads', net, heads: [] })), [Buffer.from(net).toString('hex')])
    assert.deepEqual(offers(s.receive({ t: 'heads', net, heads: [] })), [])
  })

  test('an offer for a network not shared is ignored; a shared one is passed on without us or the sender', () => {
    const s = new SyncSession(local([net, otherNet]), self, peer)
    const peers = [member(1), { id: self, addrs: ['/ip4/192.0.2.99/tcp/1'] }, { id: peer, addrs: ['/ip4/192.0.2.98/tcp/1'] }]
    assert.deepEqual(s.receive({ t: 'peers', net, peers }), [], 'before sharing')
    s.receive({ t: 'hello', v: 1, tags: [networkTag(net, self, peer)] })
    assert.deepEqual(s.receive({ t: 'peers', net: otherNet, peers }), [], 'a network the peer did not show it is in')
    assert.deepEqual(s.receive({ t: 'peers', net, peers }), [{ do: 'dial-peers', net, peers: [member(1)] }])
    assert.deepEqual(s.receive({ t: 'peers', net, peers: [member(2)] }), [], 'one offer per network and session')
  })

  test('the peers message round-trips and malformed ones are refused', () => {
    const m = { t: 'peers' as const, net, peers: [member(1), member(2)] }
    assert.deepEqual(decodeMessage(encodeMessage(m).subarray(4)), m)
    for (const bad of [
      { t: 'peers', net: net.subarray(1), peers: [] },
      { t: 'peers', net, peers: [{ id: 7, addrs: [] }] },
      { t: 'peers', net, peers: [{ id: 'x', addrs: [7] }] },
      { t: 'peers', net, peers: Array.from({ length: 65 }, (_, i) => member(i)) }
    ]) {
      assert.throws(() => decodeMessage(encodeMessage(bad as never).subarray(4)), { name: 'InvalidRecordError' })
    }
  })
})

describe('choices', () => {
  test('offer: at most PEX_OFFER_MAX members, never the recipient, never one without addresses', () => {
    const all = [...Array.from({ length: 40 }, (_, i) => member(i)), { id: 'no-addrs', addrs: [] }]
    const offer = peersToOffer(all, 'peer-3')
    assert.equal(offer.length, PEX_OFFER_MAX)
    assert.ok(!offer.some((p) => p.id === 'peer-3' || p.id === 'no-addrs'))
  })

  test('dial: a few new members while connected to few; nobody once enough are connected', () => {
    const offered = Array.from({ length: 10 }, (_, i) => member(i))
    const ctx = { self: 'me', from: 'peer-0', connected: (id: string) => id === 'peer-1' }
    const one = peersToDial(offered, { ...ctx, membersConnected: 1 })
    assert.equal(one.length, Math.min(PEX_DIAL_MAX, PEX_WANT - 1))
    assert.ok(!one.some((p) => p.id === 'peer-0' || p.id === 'peer-1'), 'not the sender, not one already connected')
    assert.deepEqual(peersToDial(offered, { ...ctx, membersConnected: PEX_WANT - 1 }).length, 1)
    assert.deepEqual(peersToDial(offered, { ...ctx, membersConnected: PEX_WANT }), [])
  })
})
