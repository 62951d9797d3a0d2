// The credit service's routing in process: real CreditServices (real SQLite files, real
// line channels, payment engine, tree embedding and router) wired to each other by an
// in-memory app-message channel that delivers asynchronously. Checks the two routes the
// daemon's runtime choice exists for — a payee beyond the payer's friends' neighbourhood
// (found by the tree probes) and a payment split over two paths by max flow after the
// payer pulled its friends' lines — and that lines are told to friends only.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateIdentity } from '../../../src/core/identity.ts'
import { Store } from '../../../src/core/store.ts'
import { silentLogger } from '../../../src/core/log.ts'
import { systemClock } from '../../../src/core/clock.ts'
import { toHex } from '../../../src/networks/hashing.ts'
import { CreditService } from '../../../src/apps/credit/credit-service.ts'
import { CREDIT_MIGRATIONS } from '../../../src/apps/credit/schema.ts'
import { decodeCreditMessage, encodeCreditMessage } from '../../../src/apps/credit/credit-messages.ts'
import type { AppPeer } from '../../../src/networks/app.ts'

const U = 1_000_000n
const UNIT = 'USD'

interface Node { name: string, peer: AppPeer, service: CreditService, store: Store }

class Community {
  readonly nodes = new Map<string, Node>()
  readonly byAccount = new Map<string, Node>()
  readonly dir = mkdtempSync(join(tmpdir(), 'peernet-credit-routing-'))
  /** Messages seen on the channel, by type. */
  readonly sent = new Map<string, number>()
  /** Taps on what a node receives (for the privacy check). */
  tap: ((to: Node, bytes: Uint8Array) => void) | null = null
  /** Nodes out of reach: nothing reaches them or leaves them. */
  readonly offline = new Set<string>()

  add (name: string): Node {
    const id = generateIdentity()
    const peer: AppPeer = { account: id.publicKey, device: id.publicKey }
    const store = Store.open(join(this.dir, `${name}.db`))
    store.migrate('app:credit', CREDIT_MIGRATIONS)
    const service = new CreditService({
      db: store.db,
      self: peer,
      signer: id,
      clock: systemClock,
      logger: silentLogger,
      send: async (to, bytes) => {
        const t = decodeCreditMessage(bytes).t
        this.sent.set(t, (this.sent.get(t) ?? 0) + 1)
        const target = this.byAccount.get(toHex(to.account))
        if (target === undefined) throw new Error('unknown account')
        if (this.offline.has(name) || this.offline.has(target.name)) throw new Error('out of reach')
        setImmediate(() => { this.tap?.(target, bytes); target.service.receive(peer, bytes) })
        await Promise.resolve()
      },
      knows: () => true,
      members: () => [...this.nodes.values()].filter((n) => n.name !== name).map((n) => n.peer.account),
      devices: (account) => [account],
      networks: () => []
    }, { awayAfterMs: 100 })
    const node = { name, peer, service, store }
    this.nodes.set(name, node)
    this.byAccount.set(toHex(peer.account), node)
    return node
  }

  get (name: string): Node { return this.nodes.get(name) as Node }

  /** `creditor` extends `limit` to `debtor`: the debtor can pay the creditor that much. */
  async trust (creditor: string, debtor: string, limit: bigint): Promise<void> {
    await this.get(creditor).service.trust(this.get(debtor).peer.account, UNIT, limit * U)
  }

  /** Waits (bounded) until every node has a coordinate in every tree and agrees on the roots. */
  async treesSettled (ms = 10_000): Promise<void> {
    const until = Date.now() + ms
    for (;;) {
      const all = [...this.nodes.values()].map((n) => n.service.trees(UNIT))
      const roots = all[0]?.roots.join()
      if (all.every((t) => t.roots.length > 0 && t.roots.join() === roots && t.self.every((c) => c !== null)) &&
        all.every((t) => [...t.friends.values()].every((f) => f.every((c) => c !== null)))) return
      if (Date.now() > until) throw new Error('the trees did not settle')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  balance (of: string, peer: string): bigint {
    const held = this.get(of).service.lineWith(this.get(peer).peer.account, UNIT)
    assert.ok(held !== undefined, `${of} holds a line with ${peer}`)
    const v = held.channel.state
    const owed = held.channel.side === 'a' ? v.balance : -v.balance
    return owed
  }

  /** Waits (bounded) until no line has a proposal out or a hold open: both sides hold the same state. */
  async quiet (ms = 5_000): Promise<void> {
    const until = Date.now() + ms
    const busy = (): boolean => [...this.nodes.values()].some((n) => n.service.lines().some((h) => h.channel.proposed !== null || h.channel.queued > 0 || h.channel.state.holds.length > 0))
    while (busy()) {
      if (Date.now() > until) throw new Error('the lines did not settle')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  close (): void {
    for (const n of this.nodes.values()) { void n.service.stop(); n.store.db.close() }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

test('a payee seven hops away, beyond the friends\' neighbourhood: the tree probes find the path', async (t) => {
  const c = new Community()
  t.after(() => { c.close() })
  const names = ['p', 'n1', 'n2', 'n3', 'n4', 'n5', 'q']
  for (const n of names) c.add(n)
  // Each node trusts the one before it: value flows p → q.
  for (let i = 0; i + 1 < names.length; i++) await c.trust(names[i + 1] as string, names[i] as string, 100n)
  await c.treesSettled()

  const r = await c.get('p').service.pay(c.get('q').peer.account, 10n * U, UNIT, 0n)
  assert.equal(r.amount, '10')
  t.diagnostic(`found by ${r.routing?.method}, ${r.routing?.messages} messages; probes ${c.sent.get('probe') ?? 0}, probe results ${c.sent.get('probe-result') ?? 0}, lines? ${c.sent.get('lines?') ?? 0}`)
  assert.equal(r.routing?.method, 'embedding', 'the neighbourhood (p\'s friends, q\'s radius-2 view) does not reach: the trees do')
  assert.equal(r.routes.length, 1)
  assert.deepEqual(r.routes[0]?.hops.map((h) => h.account), names.slice(1).map((n) => toHex(c.get(n).peer.account)))
  assert.ok((c.sent.get('probe') ?? 0) >= 5, 'a probe walked the hops')
  await c.quiet()
  // Every line moved by 10 on both sides (side a's balance is what b owes a).
  for (let i = 0; i + 1 < names.length; i++) {
    const x = names[i] as string
    const y = names[i + 1] as string
    assert.equal(c.balance(y, x), -c.balance(x, y), `${x}–${y} the same on both sides`)
    assert.equal(c.balance(y, x) === 10n * U || c.balance(y, x) === -10n * U, true, `${x}–${y} moved by 10`)
  }
})

test('100 over two paths of 60 that only the payer\'s friends\' lines join: max flow splits it', async (t) => {
  const c = new Community()
  t.after(() => { c.close() })
  for (const n of ['p', 'x', 'x2', 'x3', 'y', 'y2', 'y3', 'q']) c.add(n)
  await c.trust('x', 'p', 200n)
  await c.trust('y', 'p', 200n)
  await c.trust('x2', 'x', 60n)
  await c.trust('y2', 'y', 60n)
  await c.trust('x3', 'x2', 200n)
  await c.trust('y3', 'y2', 200n)
  await c.trust('q', 'x3', 200n)
  await c.trust('q', 'y3', 200n)
  await c.treesSettled()

  const asked = c.sent.get('lines?') ?? 0
  const r = await c.get('p').service.pay(c.get('q').peer.account, 100n * U, UNIT, 0n)
  t.diagnostic(`found by ${r.routing?.method}, ${r.routing?.messages} messages; probes ${c.sent.get('probe') ?? 0}, lines? ${(c.sent.get('lines?') ?? 0) - asked}`)
  assert.equal(r.routing?.method, 'neighbourhood')
  assert.deepEqual(r.routes.map((route) => route.amount).sort(), ['40', '60'])
  assert.deepEqual(new Set(r.routes.map((route) => route.hops[0]?.account)), new Set(['x', 'y'].map((n) => toHex(c.get(n).peer.account))))
  // q asked its two friends for the invoice's view; p asked its two friends when that fell short.
  assert.equal((c.sent.get('lines?') ?? 0) - asked, 4)
  await c.quiet()
  assert.equal(c.balance('x', 'p') + c.balance('y', 'p'), 100n * U)
  assert.equal(c.balance('q', 'x3') + c.balance('q', 'y3'), 100n * U)
})

test('a second payment within the view\'s lifetime reuses the payee\'s view: the invoice comes without one and the payee asks nobody', async (t) => {
  const c = new Community()
  t.after(() => { c.close() })
  for (const n of ['p', 'm', 'q']) c.add(n)
  await c.trust('m', 'p', 100n)
  await c.trust('q', 'm', 100n)
  await c.treesSettled()
  const invoices: Array<{ asked: boolean, view: number }> = []
  c.tap = (_to, bytes) => {
    const m = decodeCreditMessage(bytes)
    if (m.t === 'invoice?') invoices.push({ asked: m.view !== false, view: -1 })
    if (m.t === 'invoice') (invoices[invoices.length - 1] as { view: number }).view = m.view?.length ?? 0
  }
  await c.get('p').service.pay(c.get('q').peer.account, 10n * U, UNIT, 0n)
  const asked = c.sent.get('lines?') ?? 0
  await c.get('p').service.pay(c.get('q').peer.account, 10n * U, UNIT, 0n)
  assert.deepEqual(invoices, [{ asked: true, view: 2 }, { asked: false, view: 0 }])
  assert.equal((c.sent.get('lines?') ?? 0) - asked, 0, 'the payee asked no friend for a view it did not send')
  await c.quiet()
  assert.equal(c.balance('q', 'm'), 20n * U)
  // Anything but `false` in an invoice request's view field is malformed.
  const bad = encodeCreditMessage({ t: 'invoice?', id: new Uint8Array(16), amount: 1n, unit: UNIT, view: 1 as unknown as false })
  assert.throws(() => decodeCreditMessage(bad), /malformed credit message: view/)
})

test('a friend out of reach leaves the trees after a while, and its subtree re-attaches around it; back, it rejoins', async (t) => {
  const c = new Community()
  t.after(() => { c.close() })
  const ring = ['a', 'b', 'c', 'd', 'e']
  for (const n of ring) c.add(n)
  for (let i = 0; i < ring.length; i++) await c.trust(ring[i] as string, ring[(i + 1) % ring.length] as string, 50n)
  await c.treesSettled()
  const hexC = toHex(c.get('c').peer.account)
  const friendsOfC = ['b', 'd']
  assert.ok(friendsOfC.every((n) => c.get(n).service.trees(UNIT).friends.has(hexC)))
  // c's node goes away: its friends hear the disconnect (as the app-message channel tells them).
  c.offline.add('c')
  for (const n of friendsOfC) c.get(n).service.disconnected(c.get('c').peer)
  const rest = ring.filter((n) => n !== 'c')
  const until = Date.now() + 10_000
  for (;;) {
    const trees = rest.map((n) => c.get(n).service.trees(UNIT))
    const roots = trees[0]?.roots.join()
    const settled = trees.every((tr) => !tr.friends.has(hexC) && tr.roots.join() === roots && !tr.roots.includes(hexC) && tr.self.every((co) => co !== null) &&
      [...tr.friends.values()].every((f) => f.every((co) => co !== null)))
    if (settled) break
    assert.ok(Date.now() < until, 'the four left re-formed their trees without c')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  // Depth is the hop count from the root along the remaining line b–a–e–d: at most 3.
  for (const n of rest) for (const co of c.get(n).service.trees(UNIT).self) assert.ok(co !== null && co.length <= 3)
  // Back: it is a neighbour again.
  c.offline.delete('c')
  for (const n of friendsOfC) c.get(n).service.connected(c.get('c').peer)
  await c.treesSettled()
  assert.ok(friendsOfC.every((n) => c.get(n).service.trees(UNIT).friends.has(hexC)))
})

test('lines are told to friends only', async (t) => {
  const c = new Community()
  t.after(() => { c.close() })
  for (const n of ['a', 'b', 'stranger']) c.add(n)
  await c.trust('a', 'b', 50n)
  const answers: Array<{ to: string, lines: number }> = []
  c.tap = (to, bytes) => {
    const m = decodeCreditMessage(bytes)
    if (m.t === 'lines') answers.push({ to: to.name, lines: m.lines.length })
  }
  const ask = (from: Node, to: Node): void => { to.service.receive(from.peer, encodeCreditMessage({ t: 'lines?', id: new Uint8Array(16).fill(answers.length + 1) })) }
  ask(c.get('stranger'), c.get('a'))
  ask(c.get('b'), c.get('a'))
  for (let i = 0; i < 100 && answers.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.deepEqual(answers.sort((x, y) => x.to.localeCompare(y.to)), [{ to: 'b', lines: 1 }, { to: 'stranger', lines: 0 }])
})
