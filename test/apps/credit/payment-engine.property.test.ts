// Property tests of the payment engine (issue 6, "Invariant"): random graphs of trust
// lines in two units with random fees and exchange offers, random payments (over
// capacity, multi-path, cross-unit, fee caps, stale fee announcements) and random silent
// nodes, on an in-memory network of real engines (payment-net.ts). After every run and
// every expiry: no hold is left, no engine has anything open, each account's net position
// moved by exactly what its engine says it paid, received or earned, and every payment
// ended once.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { bytesEqual } from '../../../src/core/encoding.ts'
import type { DoneOutput, FailedOutput, PathHop, PaymentEngine, PaymentPath } from '../../../src/apps/credit/payment-engine.ts'
import { PaymentNet } from './payment-net.ts'
import type { NetNode } from './payment-net.ts'

const UNITS = ['USD', 'EUR'] as const
const MAX_NODES = 7
const STEP = 50

const node = fc.nat(MAX_NODES - 1)
const unit = fc.constantFrom(...UNITS)
const scenario = (maxSilenceMs: number): fc.Arbitrary<Scenario> => fc.record({
  n: fc.integer({ min: 3, max: MAX_NODES }),
  latency: fc.integer({ min: 0, max: 300 }),
  edges: fc.array(fc.record({ x: node, y: node, unit, lx: fc.integer({ min: 0, max: 60 }), ly: fc.integer({ min: 0, max: 60 }) }), { minLength: 4, maxLength: 18 }),
  fees: fc.array(fc.record({ node, unit, ppm: fc.integer({ min: 0, max: 20_000 }) }), { maxLength: 6 }),
  offers: fc.array(fc.record({ node, from: unit, rate: fc.integer({ min: 500_000, max: 2_000_000 }) }), { maxLength: 10 }),
  payments: fc.array(fc.record({
    at: fc.integer({ min: 0, max: 20_000 }),
    s: node,
    r: node,
    amount: fc.oneof(fc.integer({ min: 1, max: 20_000_000 }), fc.integer({ min: 1, max: 80_000_000 })),
    split: fc.integer({ min: 1, max: 99 }),
    paths: fc.integer({ min: 1, max: 3 }),
    pick: fc.nat(),
    maxFee: fc.constantFrom(0, 10_000, 100_000, 10_000_000, 10_000_000),
    stale: fc.boolean(),
    // A node that goes silent while this payment is under way (a crash mid-payment).
    crash: fc.option(fc.record({ node, after: fc.integer({ min: 0, max: 1_500 }), ms: fc.integer({ min: 50, max: maxSilenceMs }), restart: fc.boolean() }), { freq: 2 })
  }), { minLength: 1, maxLength: 12 }),
  // A silence with `restart` ends in a new engine: after a clean stop restored from its records
  // and snapshot, after a kill from its records and open invoices only.
  silences: fc.array(fc.record({ node, at: fc.integer({ min: 0, max: 25_000 }), ms: fc.integer({ min: 50, max: maxSilenceMs }), restart: fc.boolean() }), { maxLength: 5 })
})

interface Scenario {
  n: number
  latency: number
  edges: Array<{ x: number, y: number, unit: string, lx: number, ly: number }>
  fees: Array<{ node: number, unit: string, ppm: number }>
  offers: Array<{ node: number, from: string, rate: number }>
  payments: Array<{ at: number, s: number, r: number, amount: number, split: number, paths: number, pick: number, maxFee: number, stale: boolean, crash: { node: number, after: number, ms: number, restart: boolean } | null }>
  silences: Array<{ node: number, at: number, ms: number, restart: boolean }>
}

interface Started {
  sender: NetNode
  payee: NetNode
  id: Uint8Array
  condition: Uint8Array
  amount: bigint
  unit: string
  maxFee: bigint
}

/** Runs a scenario to the end of every expiry and returns the network and what was started. */
function run (sc: Scenario, opts: { spacedSilences: boolean }): { net: PaymentNet, started: Started[], silentEver: Set<string> } {
  // Margins wide enough that a settle always has a whole short silence to wait out (see the bounded test).
  const net = new PaymentNet(1_800_000_000_000, { hopMarginMs: 2_000, minHoldMs: 2_000, lastHopMs: 10_000 }, sc.latency)
  const start = net.now
  const nodes = Array.from({ length: sc.n }, (_, i) => net.node(`n${i}`))
  const at = (i: number): NetNode => nodes[i % sc.n] as NetNode
  const adj = new Map<string, Array<{ to: NetNode, unit: string }>>()
  for (const e of sc.edges) {
    const x = at(e.x)
    const y = at(e.y)
    if (x === y) continue
    const key = [x.name, y.name].sort().join('|') + e.unit
    if (adj.has(key)) continue
    adj.set(key, [])
    net.trust(x, y, e.unit, BigInt(e.lx) * 1_000_000n, BigInt(e.ly) * 1_000_000n)
    for (const [a, b] of [[x, y], [y, x]] as Array<[NetNode, NetNode]>) {
      const list = adj.get(a.name) ?? []
      list.push({ to: b, unit: e.unit })
      adj.set(a.name, list)
    }
  }
  // Fee and exchange policy, as the shell sets it at every start.
  const policy = (i: number) => (engine: PaymentEngine): void => {
    for (const f of sc.fees) if (at(f.node) === nodes[i]) engine.setFee(f.unit, f.ppm)
    for (const o of sc.offers) if (at(o.node) === nodes[i]) engine.setOffer(o.from, o.from === 'USD' ? 'EUR' : 'USD', BigInt(o.rate))
  }
  nodes.forEach((n, i) => policy(i)(n.engine))

  // Silences: spaced out (one at a time, 200 ms apart) for the bounded test; as drawn otherwise.
  const silences = [...sc.silences, ...sc.payments.flatMap((p) => p.crash === null ? [] : [{ ...p.crash, at: p.at + p.crash.after }])].sort((p, q) => p.at - q.at)
  if (opts.spacedSilences) {
    let free = 0
    for (const s of silences) {
      s.at = Math.max(s.at, free)
      free = s.at + s.ms + 200
    }
  }
  const silentEver = new Set<string>()
  const started: Started[] = []
  const payments = [...sc.payments].sort((p, q) => p.at - q.at)
  let prev = -1
  for (let t = 0; t <= 30_000; t += STEP) {
    if (t > 0) net.advance(STEP, STEP)
    for (const s of silences) {
      if (s.at > prev && s.at <= t) {
        const n = at(s.node)
        n.silentUntil = Math.max(n.silentUntil, start + s.at + s.ms)
        silentEver.add(n.name)
        // A restart is a clean stop or a kill (odd silences), drawn with the silence.
        if (s.restart && s.ms % 2 === 0) net.restartFromSnapshot(n, policy(s.node % sc.n))
        else if (s.restart) net.crash(n, policy(s.node % sc.n))
      }
    }
    for (const p of payments) {
      if (p.at <= prev || p.at > t) continue
      const sender = at(p.s)
      const payee = at(p.r)
      if (sender === payee || net.silent(sender)) continue
      const found = findPaths(sender, payee, adj, p.stale)
      const first = found[p.pick % Math.max(1, found.length)]
      const unitOf = (path: PathHop[]): string => (path[path.length - 1] as PathHop).unit
      const payUnit = first === undefined ? 'USD' : unitOf(first)
      const chosen: PathHop[][] = []
      for (let k = 0; k < found.length && chosen.length < p.paths; k++) {
        const path = found[(p.pick + k) % found.length] as PathHop[]
        if (unitOf(path) === payUnit && !chosen.includes(path)) chosen.push(path)
      }
      const amount = BigInt(p.amount)
      const parts = amount < BigInt(chosen.length) ? chosen.slice(0, 1) : chosen
      // Two parts split as drawn, three in thirds; the last part takes what is left.
      const split: PaymentPath[] = parts.map((hops) => ({
        hops,
        amount: parts.length === 1 ? amount : parts.length === 2 ? max1(amount * BigInt(p.split) / 100n, amount - 1n) : amount / 3n
      }))
      if (split.length > 0) (split[split.length - 1] as PaymentPath).amount = amount - split.slice(0, -1).reduce((sum, x) => sum + x.amount, 0n)
      const invoice = payee.engine.createInvoice(amount, payUnit)
      const maxFee = BigInt(p.maxFee)
      const id = net.pay(sender, { payee: payee.account, amount, unit: payUnit, maxFee, condition: invoice.condition, paths: split })
      started.push({ sender, payee, id, condition: invoice.condition, amount, unit: payUnit, maxFee })
    }
    prev = t
  }
  // Everyone back, and long enough for every hold to expire and be released.
  for (const n of nodes) n.silentUntil = -Infinity
  net.advance(60_000, 200)
  return { net, started, silentEver }
}

function max1 (x: bigint, cap: bigint): bigint {
  return x < 1n ? 1n : x > cap ? cap : x
}

/** Simple paths of up to 4 hops, shortest first, with each hop's announced fee and rate (off by a little when `stale`). */
function findPaths (from: NetNode, to: NetNode, adj: Map<string, Array<{ to: NetNode, unit: string }>>, stale: boolean): PathHop[][] {
  const out: PathHop[][] = []
  const walk = (at: NetNode, path: Array<{ node: NetNode, unit: string }>, seen: Set<string>): void => {
    if (out.length >= 12) return
    if (at === to && path.length > 0) {
      out.push(path.map((h, i) => {
        const next = path[i + 1]
        const hop: PathHop = { account: h.node.account, unit: h.unit }
        if (next !== undefined) {
          hop.feePpm = h.node.engine.feeOf(next.unit)
          if (stale && hop.feePpm > 0) hop.feePpm = Math.max(0, hop.feePpm - 1_000)
          const rate = h.node.engine.offerOf(h.unit, next.unit)
          if (rate !== undefined && next.unit !== h.unit) hop.rate = rate
        }
        return hop
      }))
      return
    }
    if (path.length >= 4) return
    for (const e of adj.get(at.name) ?? []) {
      if (seen.has(e.to.name)) continue
      seen.add(e.to.name)
      walk(e.to, [...path, { node: e.to, unit: e.unit }], seen)
      seen.delete(e.to.name)
    }
  }
  walk(from, [], new Set([from.name]))
  return out.sort((p, q) => p.length - q.length)
}

/** The checks that hold however long the silences: nothing left open, positions explained by the engines' reports. */
function checkInvariant (net: PaymentNet, started: Started[]): void {
  assert.equal(net.queued(), 0, 'every proposal was delivered')
  assert.equal(net.holdCount(), 0, 'every hold is gone after expiry')
  for (const n of net.nodes.values()) {
    assert.deepEqual(n.engine.pending(), { payments: 0, forwards: 0, invoiceParts: 0, proposals: 0 }, `${n.name} still has something open`)
    assert.equal(n.engine.nextDeadline(), null, `${n.name} still has a timer`)
  }
  // Each payment ended exactly once, at its sender.
  for (const p of started) {
    const ends = p.sender.events.filter((e) => (e.kind === 'done' || e.kind === 'failed') && bytesEqual(e.payment, p.id))
    assert.equal(ends.length, 1, 'a payment ended once')
    const end = ends[0] as DoneOutput | FailedOutput
    if (end.kind === 'done') assert.ok(end.fee <= p.maxFee, 'fees within the cap')
  }
  // Each account's net position moved by what it paid, received and earned — nothing else.
  for (const n of net.nodes.values()) {
    for (const unit of UNITS) {
      let expected = 0n
      for (const e of n.events) {
        if (e.kind === 'done') for (const path of e.paths) if (path.ok && path.sentUnit === unit) expected -= path.sent
        if (e.kind === 'received' && e.unit === unit) expected += e.amount
        if (e.kind === 'part-lost' && e.unit === unit) expected -= e.amount
        if (e.kind === 'forwarded') {
          if (e.ok && e.in.unit === unit) expected += e.in.amount
          if ((e.ok || e.lost === true) && e.out.unit === unit) expected -= e.out.amount
        }
      }
      assert.equal(net.netChange(n, unit), expected, `${n.name}'s ${unit} position moved by ${net.netChange(n, unit)}, its engine accounts for ${expected}`)
    }
  }
  // No IOU created or destroyed: every line's two positions cancel (by construction), and so do all of them together.
  for (const unit of UNITS) {
    let sum = 0n
    for (const n of net.nodes.values()) sum += net.netChange(n, unit)
    assert.equal(sum, 0n)
  }
}

test('payment property: with short silences (one node at a time, less than the settle window) every failed payment moved no balance and every paid one paid in full', () => {
  let paid = 0
  let failed = 0
  let multi = 0
  let cross = 0
  const codes = new Map<string, number>()
  fc.assert(fc.property(scenario(600), (sc) => {
    const { net, started } = run(sc, { spacedSilences: true })
    checkInvariant(net, started)
    for (const p of started) {
      const end = p.sender.events.find((e) => (e.kind === 'done' || e.kind === 'failed') && bytesEqual(e.payment, p.id)) as DoneOutput | FailedOutput
      const settles = net.committed.filter((c) => bytesEqual(c.condition, p.condition))
      if (end.kind === 'failed') {
        failed++
        codes.set(end.code, (codes.get(end.code) ?? 0) + 1)
        assert.deepEqual(settles.map((c) => c.unit), [], `failed payment (${end.code}: ${end.message}) moved a balance`)
      } else {
        paid++
        assert.equal(end.ok, true, 'no partial payment when silences are shorter than the margins')
        const toPayee = settles.filter((c) => bytesEqual(c.payee, p.payee.account)).reduce((s, c) => s + c.amount, 0n)
        assert.ok(toPayee >= p.amount, 'the payee received at least the invoice')
        const fromSender = settles.filter((c) => bytesEqual(c.payer, p.sender.account)).reduce((s, c) => s + c.amount, 0n)
        assert.equal(fromSender, end.paths.filter((x) => x.ok).reduce((s, x) => s + x.sent, 0n))
        if (end.paths.length > 1) multi++
        if (end.sent.some((s) => s.unit !== p.unit)) cross++
      }
    }
  }), { numRuns: 100, seed: Number(process.env.PROPERTY_SEED ?? 6) })
  // The random scenarios do reach every case (else this test could pass vacuously).
  if (process.env.PROPERTY_STATS !== undefined) console.log({ paid, failed, multi, cross, codes })
  assert.ok(paid > 20 && failed > 20 && multi > 0 && cross > 0, `paid ${paid}, failed ${failed}, multi-path ${multi}, cross-unit ${cross}`)
})

test('payment property: with long, overlapping silences (crashes) the invariant still holds; a loss falls only on an intermediary next to a silent node', () => {
  let lost = 0
  const outcomes = new Map<string, number>()
  fc.assert(fc.property(scenario(20_000), (sc) => {
    const { net, started, silentEver } = run(sc, { spacedSilences: false })
    checkInvariant(net, started)
    for (const n of net.nodes.values()) {
      for (const e of n.events) {
        if (e.kind !== 'forwarded' || e.lost !== true) continue
        lost++
        const upstream = [...net.nodes.values()].find((m) => bytesEqual(m.account, e.in.peer)) as NetNode
        assert.ok(silentEver.has(n.name) || silentEver.has(upstream.name), `${n.name} lost ${e.out.amount} with neither it nor ${upstream.name} silent`)
      }
      for (const e of n.events) {
        if (e.kind === 'part-lost') assert.ok(silentEver.size > 0, 'a payee loses a part only when some node was silent')
      }
    }
    // A failed payment moved no balance of its sender.
    for (const p of started) {
      const end = p.sender.events.find((e) => (e.kind === 'done' || e.kind === 'failed') && bytesEqual(e.payment, p.id)) as DoneOutput | FailedOutput
      const key = end.kind === 'done' ? (end.ok ? 'ok' : 'partial') : end.code
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
      if (end.kind === 'failed') assert.equal(net.committed.filter((c) => bytesEqual(c.condition, p.condition) && bytesEqual(c.payer, p.sender.account)).length, 0)
    }
  }), { numRuns: 100, seed: Number(process.env.PROPERTY_SEED ?? 66) })
  if (process.env.PROPERTY_STATS !== undefined) console.log({ lost, outcomes })
  assert.ok(lost >= 0)
})
