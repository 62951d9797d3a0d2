// Payment engines over real line channels (line-channel.ts): every change an engine
// outputs is queued on the line's channel, proposed, countersigned by the other side's
// channel and reported back as committed — signed states, batching and all, with the
// messages carried in memory. This checks the contract between the two parts: attachments
// through canonical CBOR, commits and refusals reported as the engine expects.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { generateIdentity } from '../../../src/core/identity.ts'
import type { Identity } from '../../../src/core/identity.ts'
import { parseAmount as u } from '../../../src/apps/credit/amount.ts'
import { LineChannel, decodeLineMessage } from '../../../src/apps/credit/line-channel.ts'
import type { LineOutput } from '../../../src/apps/credit/line-channel.ts'
import { checkSignedLineState, encodeSignedLineState, lineId, positionOf, sideOf } from '../../../src/apps/credit/line.ts'
import type { Side } from '../../../src/apps/credit/line.ts'
import { PaymentEngine } from '../../../src/apps/credit/payment-engine.ts'
import type { EngineOutput } from '../../../src/apps/credit/payment-engine.ts'

interface Peer {
  name: string
  account: Uint8Array
  device: Identity
  engine: PaymentEngine
  channels: Map<string, LineChannel>
  events: EngineOutput[]
}

class ChannelNet {
  now = 1_800_000_000_000
  readonly peers = new Map<string, Peer>()
  wire: Array<{ to: Peer, from: Peer, bytes: Uint8Array }> = []
  proposals = 0
  changesProposed = 0

  peer (name: string): Peer {
    const account = new Uint8Array(createHash('sha256').update(`account:${name}`).digest())
    const channels = new Map<string, LineChannel>()
    const peer: Peer = {
      name,
      account,
      device: generateIdentity(),
      channels,
      events: [],
      engine: new PaymentEngine({
        account,
        lines: {
          get: (other, unit) => channels.get(hex(lineId(account, other, unit)))?.state,
          all: () => [...channels.values()].map((c) => c.state)
        }
      })
    }
    this.peers.set(name, peer)
    return peer
  }

  /** x opens a line to y and both set their limits, through the channels. */
  trust (x: Peer, y: Peer, unit: string, xLimit: bigint, yLimit: bigint): void {
    const ch = LineChannel.open({ self: { account: x.account, device: x.device.publicKey }, signer: x.device, peer: { account: y.account, device: y.device.publicKey }, unit })
    x.channels.set(hex(ch.line), ch)
    this.act(x, ch, ch.enqueue({ kind: 'limit', side: ch.side, limit: xLimit }, null, this.now))
    this.flush()
    const other = y.channels.get(hex(ch.line)) as LineChannel
    this.act(y, other, other.enqueue({ kind: 'limit', side: other.side, limit: yLimit }, null, this.now))
    this.flush()
  }

  /** Acts on a channel's outputs as a shell does (persisting is a no-op here: nothing restarts). */
  act (peer: Peer, ch: LineChannel, outputs: LineOutput[]): void {
    for (const o of outputs) {
      switch (o.do) {
        case 'send': {
          const to = [...this.peers.values()].find((p) => p !== peer && sideOf(ch.state, p.account) !== undefined) as Peer
          if (o.message.type === 'propose') {
            this.proposals++
            this.changesProposed += o.message.changes.length
          }
          this.wire.push({ to, from: peer, bytes: o.bytes })
          break
        }
        case 'committed':
          this.engine(peer, peer.engine.onCommitted(o.state, o.commit.proposer, o.commit.changes, o.commit.attachments, this.now))
          break
        case 'refused':
          this.engine(peer, peer.engine.onRefused(ch.state, [o.change], o.reason, this.now))
          break
        case 'rejected':
        case 'stalled':
          throw new Error(`${peer.name}: ${o.do} ${JSON.stringify(o)}`)
        default:
          break
      }
    }
  }

  engine (peer: Peer, outputs: EngineOutput[]): void {
    for (const o of outputs) {
      if (o.kind !== 'change') { peer.events.push(o); continue }
      const ch = peer.channels.get(hex(o.line)) as LineChannel
      this.act(peer, ch, ch.enqueue(o.change, o.attachment, this.now))
    }
  }

  /** Delivers every message, including the ones the deliveries cause, in order. */
  flush (): void {
    while (this.wire.length > 0) {
      const { to, from, bytes } = this.wire.shift() as { to: Peer, from: Peer, bytes: Uint8Array }
      const message = decodeLineMessage(bytes)
      let ch = to.channels.get(hex(message.line))
      if (ch === undefined) {
        ch = LineChannel.fromOpen(message, { self: { account: to.account, device: to.device.publicKey }, signer: to.device, peer: { account: from.account, device: from.device.publicKey } })
        to.channels.set(hex(ch.line), ch)
      }
      this.act(to, ch, ch.receive(message, this.now))
    }
  }

  advance (ms: number, step = 100): void {
    const end = this.now + ms
    while (this.now < end) {
      this.now += step
      for (const p of this.peers.values()) {
        for (const ch of p.channels.values()) this.act(p, ch, ch.tick(this.now))
        this.engine(p, p.engine.tick(this.now))
      }
      this.flush()
    }
  }

  position (x: Peer, y: Peer, unit: string): bigint {
    const state = (x.channels.get(hex(lineId(x.account, y.account, unit))) as LineChannel).state
    return positionOf(state, sideOf(state, x.account) as Side)
  }

  /** Both sides of every line hold the same both-signed state. */
  assertConsistent (): void {
    const seen = new Map<string, string>()
    for (const p of this.peers.values()) {
      for (const [key, ch] of p.channels) {
        const signed = ch.signed
        assert.ok(signed !== null)
        checkSignedLineState(signed)
        const bytes = hex(encodeSignedLineState(signed))
        const other = seen.get(key)
        if (other === undefined) seen.set(key, bytes)
        else assert.equal(bytes, other, 'both sides of a line hold the same signed state')
      }
    }
  }
}

function hex (b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

test('payment over channels: C pays A through B; every line moves on both sides, in the same signed state', () => {
  const net = new ChannelNet()
  const [A, B, C] = ['A', 'B', 'C'].map((n) => net.peer(n)) as [Peer, Peer, Peer]
  net.trust(A, B, 'USD', u('100'), u('100'))
  net.trust(B, C, 'USD', u('100'), u('100'))
  B.engine.setFee('USD', 1_000)
  const inv = A.engine.createInvoice(u('20'), 'USD')
  const { outputs } = C.engine.pay({ payee: A.account, amount: u('20'), unit: 'USD', maxFee: u('0.1'), condition: inv.condition, paths: [{ hops: [{ account: B.account, unit: 'USD', feePpm: 1_000 }, { account: A.account, unit: 'USD' }], amount: u('20') }], now: net.now })
  net.engine(C, outputs)
  net.flush()
  const done = C.events.find((e) => e.kind === 'done')
  assert.ok(done !== undefined && done.kind === 'done' && done.ok, JSON.stringify(C.events.map((e) => e.kind)))
  assert.equal(net.position(A, B, 'USD'), u('20'))
  assert.equal(net.position(B, A, 'USD'), -u('20'))
  assert.equal(net.position(B, C, 'USD'), done.paid)
  assert.equal(net.position(C, B, 'USD'), -done.paid)
  net.assertConsistent()
  for (const p of [A, B, C]) for (const ch of p.channels.values()) assert.equal(ch.state.holds.length, 0)
})

test('payment over channels: 300 payments at once share proposals (batches), all settle, the lines agree', () => {
  const net = new ChannelNet()
  const [A, B, C] = ['A', 'B', 'C'].map((n) => net.peer(n)) as [Peer, Peer, Peer]
  net.trust(A, B, 'USD', u('1000'), u('1000'))
  net.trust(B, C, 'USD', u('1000'), u('1000'))
  net.proposals = 0
  net.changesProposed = 0
  const n = 300
  const started = performance.now()
  for (let i = 0; i < n; i++) {
    const inv = A.engine.createInvoice(u('1'), 'USD')
    net.engine(C, C.engine.pay({ payee: A.account, amount: u('1'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [{ account: B.account, unit: 'USD' }, { account: A.account, unit: 'USD' }], amount: u('1') }], now: net.now }).outputs)
  }
  net.flush()
  const ms = performance.now() - started
  const done = C.events.filter((e) => e.kind === 'done' && e.ok)
  assert.equal(done.length, n)
  assert.equal(net.position(A, B, 'USD'), u('300'))
  assert.equal(net.position(B, C, 'USD'), u('300'))
  net.assertConsistent()
  // Each payment is 4 changes (hold and settle on two lines), a few proposed again after a
  // collision; batching puts many in one proposal.
  assert.ok(net.changesProposed >= 4 * n)
  assert.ok(net.proposals < n, `${net.proposals} proposals for ${4 * n} changes`)
  if (process.env.PAYMENT_STATS !== undefined) console.log({ payments: n, proposals: net.proposals, ms: Math.round(ms), perSecond: Math.round(n / (ms / 1000)) })
})

test('payment over channels: over an intermediary\'s capacity — B\'s reject travels back, all holds released, nothing moved', () => {
  const net = new ChannelNet()
  const [A, B, C] = ['A', 'B', 'C'].map((n) => net.peer(n)) as [Peer, Peer, Peer]
  net.trust(A, B, 'USD', u('5'), u('5'))
  net.trust(B, C, 'USD', u('100'), u('100'))
  const inv = A.engine.createInvoice(u('8'), 'USD')
  net.engine(C, C.engine.pay({ payee: A.account, amount: u('8'), unit: 'USD', maxFee: 0n, condition: inv.condition, paths: [{ hops: [{ account: B.account, unit: 'USD' }, { account: A.account, unit: 'USD' }], amount: u('8') }], now: net.now }).outputs)
  net.flush()
  const failed = C.events.find((e) => e.kind === 'failed')
  assert.ok(failed !== undefined && failed.kind === 'failed')
  assert.equal(failed.code, 'T04')
  assert.equal(net.position(A, B, 'USD'), 0n)
  assert.equal(net.position(B, C, 'USD'), 0n)
  net.assertConsistent()
  for (const p of [A, B, C]) for (const ch of p.channels.values()) assert.equal(ch.state.holds.length, 0)
})
