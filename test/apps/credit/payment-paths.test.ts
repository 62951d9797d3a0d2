// The daemon's path finding (payment-paths.ts) on random graphs, every node's view and
// probe simulated from the true graph with the same rules the service uses (the trees
// built by tree-embedding.ts, probes stepping with probeNextHop): the paths it returns
// are real lines that carry them, and whenever a probe for the whole amount reaches the
// payee, the router finds a route on the probed view (the tie-break argument of the
// payment-paths.ts header).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { TreeEmbedding } from '../../../src/apps/credit/paths/tree-embedding.ts'
import { findPaymentPaths, probeNextHop } from '../../../src/apps/credit/payment-paths.ts'
import type { ProbeHop, ProbeOutcome } from '../../../src/apps/credit/payment-paths.ts'
import type { NodeReport } from '../../../src/apps/credit/unit-converting-paths.ts'
import { planPath } from '../../../src/apps/credit/payment-engine.ts'

const UNIT = 'USD'
const key = (i: number): Uint8Array => new Uint8Array(32).fill(i + 1)
const hex = (i: number): string => Buffer.from(key(i)).toString('hex')

interface World {
  n: number
  /** cap.get(`${u}>${v}`): what u can pay v. */
  cap: Map<string, bigint>
  adj: number[][]
  trees: TreeEmbedding[]
}

function world (n: number, links: Array<[number, number, bigint, bigint]>): World {
  const cap = new Map<string, bigint>()
  const adj: number[][] = Array.from({ length: n }, () => [])
  for (const [u, v, uv, vu] of links) {
    if (u === v || cap.has(`${u}>${v}`)) continue
    cap.set(`${u}>${v}`, uv)
    cap.set(`${v}>${u}`, vu)
    adj[u]?.push(v)
    adj[v]?.push(u)
  }
  const trees = Array.from({ length: n }, (_, i) => new TreeEmbedding({ self: hex(i) }))
  trees.forEach((t, i) => { t.setNeighbours((adj[i] ?? []).map(hex)) })
  const index = new Map(trees.map((t, i) => [t.self, i]))
  for (let now = 0, quiet = false; !quiet; now += 200) {
    quiet = true
    trees.forEach((t, i) => {
      for (const { to, message } of t.poll(now)) { quiet = false; trees[index.get(to) ?? -1]?.receive(hex(i), message) }
    })
  }
  return { n, cap, adj, trees }
}

function report (w: World, u: number): NodeReport {
  return { lines: (w.adj[u] ?? []).map((v) => ({ peer: key(v), unit: UNIT, out: w.cap.get(`${u}>${v}`) ?? 0n, in: w.cap.get(`${v}>${u}`) ?? 0n })), policy: { fees: [], offers: [] } }
}

function probe (w: World, from: number, to: number, tree: number, amount: bigint, reveal: bigint): ProbeOutcome {
  const target = w.trees[to]?.positions()[tree]?.coord
  const hops: ProbeHop[] = []
  let u = from
  while (u !== to && target !== null && target !== undefined && hops.length < 32) {
    const here = w.trees[u]?.positions()[tree]?.coord
    if (here === null || here === undefined) break
    const friends = (w.adj[u] ?? []).map((v) => ({ v, account: hex(v), out: w.cap.get(`${u}>${v}`) ?? 0n, coord: w.trees[u]?.neighbourCoords(hex(v))[tree] }))
    const next = probeNextHop(here, target, friends, amount)
    if (next === undefined) break
    hops.push({ account: key(u), next: key(next.v), unit: UNIT, out: next.out < reveal ? next.out : reveal, feePpm: 0, coord: here })
    u = next.v
  }
  return { hops, reached: u === to, messages: hops.length + 1 }
}

test('paths are real lines within capacity; a probe that reaches means a route', async () => {
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 3, max: 40 }),
    // Sparse graphs (a random chain plus a few chords), so that payees often lie beyond the neighbourhood.
    fc.array(fc.tuple(fc.nat(39), fc.nat(39), fc.bigInt({ min: 0n, max: 100n }), fc.bigInt({ min: 0n, max: 100n })), { minLength: 2, maxLength: 12 }),
    fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 100n }), fc.bigInt({ min: 0n, max: 100n })), { minLength: 39, maxLength: 39 }),
    fc.nat(39), fc.nat(39), fc.bigInt({ min: 1n, max: 120n }),
    async (n, raw, chain, a, b, amount) => {
      const links: Array<[number, number, bigint, bigint]> = chain.slice(0, n - 1).map(([x, y], i) => [i, i + 1, x, y])
      const w = world(n, [...links, ...raw.map(([u, v, x, y]) => [u % n, v % n, x, y] as [number, number, bigint, bigint])])
      const payer = a % n
      const payee = b % n
      if (payer === payee) return
      const positions = w.trees[payer]?.positions() ?? []
      const friendsOf = (u: number): Array<[string, Array<number[] | null>]> => (w.adj[u] ?? []).map((v) => [hex(v), w.trees[u]?.neighbourCoords(hex(v)) ?? []])
      const payeeTrees = w.trees[payee]?.positions() ?? []
      const view = [payee, ...(w.adj[payee] ?? []).filter((v) => (w.cap.get(`${v}>${payee}`) ?? 0n) > 0n)].map((u) => ({
        account: key(u),
        report: report(w, u),
        trees: (u === payee ? payeeTrees.map((p) => p.coord) : (w.trees[payee]?.neighbourCoords(hex(u)) ?? [])).map((c, t) => c === null ? null : { root: payeeTrees[t]?.root ?? '', coord: c })
      }))
      let reachedWhole = false
      const found = await findPaymentPaths({
        self: key(payer),
        payee: key(payee),
        amount,
        unit: UNIT,
        own: report(w, payer),
        trees: { roots: positions.map((p) => p.root), self: positions.map((p) => p.coord), friends: new Map(friendsOf(payer)) },
        invoice: { view, messages: 0 },
        ask: async (friend) => { const i = friend[0] as number - 1; return await Promise.resolve((w.adj[payer] ?? []).includes(i) ? report(w, i) : undefined) },
        probe: async (t, share) => {
          const p = probe(w, payer, payee, t, share, amount)
          if (p.reached && share === amount) reachedWhole = true
          return await Promise.resolve(p)
        }
      })
      // Every path is made of real lines, and together they fit every line's capacity.
      const used = new Map<string, bigint>()
      let total = 0n
      for (const p of found.paths) {
        let u = payer
        for (const h of p.hops) {
          const v = h.account[0] as number - 1
          assert.ok(w.cap.has(`${u}>${v}`), `a line ${u}–${v}`)
          used.set(`${u}>${v}`, (used.get(`${u}>${v}`) ?? 0n) + p.amount)
          u = v
        }
        assert.equal(u, payee)
        total += p.amount
      }
      for (const [k, x] of used) {
        const [u, v] = k.split('>')
        const back = used.get(`${v}>${u}`) ?? 0n
        assert.ok(x - back <= (w.cap.get(k) ?? 0n), `line ${k} carries ${x - back}`)
      }
      if (found.paths.length > 0) assert.equal(total, amount)
      if (reachedWhole) assert.ok(found.paths.length > 0, 'a probe for the whole amount reached the payee: the router finds it on the view')
    }
  ), { numRuns: 200 })
})

test('fees ride on top: a line that carries the amount but not its fees is shared with a second path', async () => {
  // 0 pays 3. 0–1–3: 0→1 carries exactly 100 and 1 charges 1% (10,000 ppm); 0–2–3 carries 50, free.
  const w = world(4, [[0, 1, 100n * 1_000_000n, 0n], [1, 3, 500n * 1_000_000n, 0n], [0, 2, 50n * 1_000_000n, 0n], [2, 3, 50n * 1_000_000n, 0n]])
  const withFee = (u: number): NodeReport => ({ ...report(w, u), policy: { fees: u === 1 ? [{ unit: UNIT, ppm: 10_000 }] : [], offers: [] } })
  const positions = w.trees[0]?.positions() ?? []
  const found = await findPaymentPaths({
    self: key(0),
    payee: key(3),
    amount: 100n * 1_000_000n,
    unit: UNIT,
    own: withFee(0),
    trees: { roots: positions.map((p) => p.root), self: positions.map((p) => p.coord), friends: new Map() },
    invoice: { view: [0, 1, 2, 3].map((u) => ({ account: key(u), report: withFee(u), trees: [] })), messages: 0 },
    ask: async () => await Promise.resolve(undefined),
    probe: async () => await Promise.resolve({ hops: [], reached: false, messages: 0 })
  })
  assert.equal(found.paths.reduce((sum, p) => sum + p.amount, 0n), 100n * 1_000_000n)
  // Each path's first line carries what the payer sends on it, fees included.
  for (const p of found.paths) {
    const first = p.hops[0]?.account[0] as number - 1
    const sent = planPath(p).sent
    assert.ok(sent <= (w.cap.get(`0>${first}`) ?? 0n), `0→${first} carries ${sent}`)
  }
  assert.equal(found.paths.length, 2, 'the 1% on 0–1–3 does not fit on 0→1 alone')
})

test('no probe and no pull when our lines, or the payee\'s, cannot carry the amount between them', async () => {
  // 0 pays 3 over 0–1–3 or 0–2–3; 0's lines carry 4 + 4 out, 3's lines take 10 + 3 in.
  const w = world(4, [[0, 1, 4n, 50n], [0, 2, 4n, 50n], [1, 3, 10n, 50n], [2, 3, 3n, 50n], [1, 2, 50n, 50n]])
  const run = async (payer: number, amount: bigint): Promise<{ paid: bigint, probes: number, asks: number }> => {
    let probes = 0
    let asks = 0
    const positions = w.trees[payer]?.positions() ?? []
    const payeeTrees = w.trees[3]?.positions() ?? []
    const found = await findPaymentPaths({
      self: key(payer),
      payee: key(3),
      amount,
      unit: UNIT,
      own: report(w, payer),
      trees: { roots: positions.map((p) => p.root), self: positions.map((p) => p.coord), friends: new Map((w.adj[payer] ?? []).map((v) => [hex(v), w.trees[payer]?.neighbourCoords(hex(v)) ?? []])) },
      // The payee's own lines only: what it can take in, and from whom.
      invoice: { view: [{ account: key(3), report: report(w, 3), trees: payeeTrees.map((p) => p.coord === null ? null : { root: p.root, coord: p.coord }) }], messages: 0 },
      ask: async (friend) => { asks++; return await Promise.resolve(report(w, friend[0] as number - 1)) },
      probe: async (t, share) => { probes++; return await Promise.resolve(probe(w, payer, 3, t, share, amount)) }
    })
    return { paid: found.paths.reduce((s, p) => s + p.amount, 0n), probes, asks }
  }
  const fits = await run(0, 8n)
  assert.equal(fits.paid, 8n, 'split 4 + 4 over both of 0\'s lines, found after asking friends')
  assert.ok(fits.asks > 0)
  assert.deepEqual(await run(0, 9n), { paid: 0n, probes: 0, asks: 0 }, '0\'s lines carry 8 together')
  // From 1, whose lines carry 50 + 10 + 50 out: 13 fits 3's lines in (10 + 3), 14 does not.
  assert.equal((await run(1, 13n)).paid, 13n)
  assert.deepEqual(await run(1, 14n), { paid: 0n, probes: 0, asks: 0 })
})
