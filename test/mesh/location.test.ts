// The location service (location.ts): homes by rendezvous hashing, signed registrations
// kept with expiry in a bounded table, and `via` rewritten at a destination's home.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateIdentity, signBytes, verifyBytes } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { comesFar, DEFAULT_LOCATION_CONFIG, homesOf, LocationService, routeWithLocation } from '../../src/mesh/location.ts'
import type { LocationConfig, LocationOutput } from '../../src/mesh/location.ts'
import { nodeIdOf } from '../../src/mesh/node-id.ts'
import type { NodeId } from '../../src/mesh/node-id.ts'
import { decodeLocationRecord, encodeLocationRecord, locationSigningBytes } from '../../src/mesh/payload.ts'
import { Forwarder, DEFAULT_FORWARDER_CONFIG } from '../../src/mesh/forwarder.ts'
import type { NextHop } from '../../src/mesh/forwarder.ts'
import { makeIds } from './router-harness.ts'

function node (identity: Identity, over: Partial<LocationConfig> = {}): LocationService {
  return new LocationService({
    ...DEFAULT_LOCATION_CONFIG,
    self: nodeIdOf(identity.publicKey),
    sign: (b) => signBytes(identity, b),
    verify: verifyBytes,
    ...over
  })
}

const landmarks = makeIds(6, 7)

/** Whom an output goes to: a home for a registration, a peer for a binding update. */
function to (o: LocationOutput | undefined): NodeId {
  assert.ok(o !== undefined)
  return o.kind === 'register' ? o.home : o.peer
}

test('a node registers its address with its two homes; each home keeps it and answers lookups', () => {
  const a = generateIdentity()
  const la = node(a)
  const address = [landmarks[0] as NodeId, landmarks[1] as NodeId]
  const out = la.update(address, landmarks, 1000)
  const homes = homesOf(la.self, landmarks, 2)
  assert.deepEqual(out.map((o) => to(o)).sort(), [...homes].sort())
  assert.equal(homes.length, 2)
  // Each home knows the same landmarks, so it knows it is a home of la (not a cache of it).
  const both = out.map((o) => node(generateIdentity(), { self: to(o) }))
  out.forEach((o, i) => {
    const v = both[i]?.receive(a.publicKey, o.record, 1500)
    assert.deepEqual(v, { accepted: true, subject: la.self, cached: false })
  })
  const home = both[0] as LocationService
  assert.deepEqual(home.lookup(la.self, 2000), address)
  assert.deepEqual(both[1]?.lookup(la.self, 2000), address)
  // The same record again (a duplicate) is stale, not a second registration.
  assert.deepEqual(home.receive(a.publicKey, out[0]?.record as Uint8Array, 2000), { accepted: false, reason: 'stale' })
  assert.equal(home.records(), 1)
  // A record is about 8 + 16 + 64 bytes for a two-level address: small enough for slow links.
  assert.equal(out[0]?.record.byteLength, 88)
})

test('registrations expire at the home; the node refreshes before that, and re-registers a changed address at most every minGapMs', () => {
  const a = generateIdentity()
  const cfg = { lifetimeMs: 60_000, refreshMs: 20_000, minGapMs: 5_000 }
  const la = node(a, cfg)
  const addr1 = [landmarks[0] as NodeId]
  const first = la.update(addr1, landmarks, 0)
  assert.equal(first.length, 2)
  const home = node(generateIdentity(), { ...cfg, self: to(first[0]) })
  home.receive(a.publicKey, first[0]?.record as Uint8Array, 0)
  assert.deepEqual(home.lookup(la.self, 59_999), addr1)
  assert.equal(home.lookup(la.self, 60_000), undefined, 'expired at the end of its lifetime')
  assert.equal(home.nextDeadline(), 60_000)
  home.update([], landmarks, 60_000)
  assert.equal(home.records(), 0, 'swept')
  // Nothing to do until the refresh is due.
  assert.deepEqual(la.update(addr1, landmarks, 1000), [])
  assert.equal(la.nextDeadline(), 20_000)
  assert.equal(la.update(addr1, landmarks, 20_000).length, 2)
  // A changed address 1 s after the last registration waits for the gap.
  const addr2 = [landmarks[1] as NodeId]
  assert.deepEqual(la.update(addr2, landmarks, 21_000), [])
  assert.equal(la.nextDeadline(), 25_000)
  const again = la.update(addr2, landmarks, 25_000)
  assert.equal(again.length, 2)
  // The newer record replaces the older one at the home.
  home.receive(a.publicKey, first[0]?.record as Uint8Array, 25_000)
  assert.deepEqual(home.receive(a.publicKey, again.find((o) => to(o) === home.self)?.record as Uint8Array, 25_000), { accepted: true, subject: la.self, cached: false })
  assert.deepEqual(home.lookup(la.self, 25_000), addr2)
})

test('homes are stable under unrelated landmark changes (rendezvous hashing)', () => {
  const ids = makeIds(2000, 3)
  const base = makeIds(10, 11)
  const extra = makeIds(1, 12)[0] as NodeId
  let moved = 0
  for (const id of ids) {
    const before = homesOf(id, base, 2)
    const after = homesOf(id, [...base, extra], 2)
    if (before.join() !== after.join()) {
      moved++
      // Only the nodes the new landmark wins move, and only to it.
      assert.ok(after.includes(extra), 'a node moved to another landmark than the new one')
      assert.equal(after.filter((h) => !before.includes(h)).length, 1)
    }
    // A landmark that is not one of a node's homes leaving changes nothing for it.
    const gone = base.find((l) => !before.includes(l)) as NodeId
    assert.deepEqual(homesOf(id, base.filter((l) => l !== gone), 2), before)
    // The order landmarks are listed in does not matter.
    assert.deepEqual(homesOf(id, [...base].reverse(), 2), before)
  }
  // About 2 in 11 nodes take the new landmark as a home.
  assert.ok(moved > 2000 * 2 / 11 * 0.7 && moved < 2000 * 2 / 11 * 1.3, `${moved} moved`)
  // And homes spread over the landmarks.
  const load = new Map<NodeId, number>()
  for (const id of ids) for (const h of homesOf(id, base, 2)) load.set(h, (load.get(h) ?? 0) + 1)
  for (const l of base) assert.ok((load.get(l) ?? 0) > 250, `${l}: ${load.get(l)}`)
})

test('a forged registration is refused: signed by another key, tampered, or long expired', () => {
  const a = generateIdentity()
  const mallory = generateIdentity()
  const home = node(generateIdentity())
  const la = node(a)
  // Mallory signs an address for A's id: the signature is checked against the envelope's src key.
  const record = { seq: 5, lifetimeS: 1800, address: [landmarks[0] as NodeId] }
  const forged = encodeLocationRecord(record, signBytes(mallory, locationSigningBytes(la.self, record)))
  assert.deepEqual(home.receive(a.publicKey, forged, 0), { accepted: false, reason: 'forged' })
  // With its own key as src, Mallory only registers itself.
  const v = home.receive(mallory.publicKey, forged, 0)
  assert.deepEqual(v, { accepted: false, reason: 'forged' }, 'signed for another subject')
  // A's genuine record with one landmark changed on the way.
  const genuine = la.update([landmarks[0] as NodeId], landmarks, 0)[0]?.record as Uint8Array
  const tampered = Uint8Array.from(genuine)
  tampered[9] = (tampered[9] as number) ^ 1
  assert.deepEqual(home.receive(a.publicKey, tampered, 0), { accepted: false, reason: 'forged' })
  assert.equal(decodeLocationRecord(tampered).record.address.length, 1)
  assert.deepEqual(home.receive(a.publicKey, genuine.subarray(0, 20), 0), { accepted: false, reason: 'malformed' })
  // A replay of it long after its lifetime.
  assert.deepEqual(home.receive(a.publicKey, genuine, 3 * 1800 * 1000), { accepted: false, reason: 'expired' })
  assert.equal(home.lookup(la.self, 0), undefined)
  assert.equal(home.counters.refused, 5)
  assert.deepEqual(home.receive(a.publicKey, genuine, 0), { accepted: true, subject: la.self, cached: false })
})

test('a home keeps at most maxRecords registrations, evicting the one that expires first', () => {
  const home = node(generateIdentity(), { maxRecords: 3 })
  const nodes = Array.from({ length: 5 }, () => generateIdentity())
  nodes.forEach((n, i) => {
    const out = node(n).update([landmarks[0] as NodeId], landmarks, i * 1000)
    assert.equal(home.receive(n.publicKey, out[0]?.record as Uint8Array, i * 1000).accepted, true)
  })
  assert.equal(home.records(), 3)
  assert.equal(home.counters.evicted, 2)
  // The two oldest went.
  assert.equal(home.lookup(nodeIdOf(nodes[0]?.publicKey as Uint8Array), 5000), undefined)
  assert.equal(home.lookup(nodeIdOf(nodes[1]?.publicKey as Uint8Array), 5000), undefined)
  assert.deepEqual(home.lookup(nodeIdOf(nodes[4]?.publicKey as Uint8Array), 5000), [landmarks[0]])
})

test('at the home, via is rewritten to the registered address; without a record the envelope is held and counted', () => {
  const homeId = generateIdentity()
  const home = node(homeId)
  const a = generateIdentity()
  const la = node(a)
  const dst = la.self
  const [l1, l2] = [landmarks[0] as NodeId, landmarks[1] as NodeId]
  // The home's routes: to l1 (dst's level-1 landmark) by link 'x', nothing to dst itself.
  const route = (d: NodeId, via: readonly NodeId[]): NextHop | undefined => {
    if (d === dst) {
      const k = via.indexOf(l1)
      if (k >= 0) return { link: 'x', via: via.slice(0, k + 1) }
    }
    return undefined
  }
  const lookup = routeWithLocation(route, home, () => 0)
  assert.equal(lookup(dst, [home.self]), undefined, 'no record yet: held')
  assert.equal(home.counters.misses, 1)
  for (const o of la.update([l1, l2], [home.self], 0)) home.receive(a.publicKey, o.record, 0)
  assert.deepEqual(lookup(dst, [home.self]), { link: 'x', via: [l1] })
  assert.equal(home.counters.rewrites, 1)
  // Elsewhere (via does not name this node) the router decides alone.
  assert.equal(lookup(dst, [l2]), undefined)
  // A sender that is the home itself starts with the address.
  assert.deepEqual(home.locate(dst, [home.self], 0), [l1, l2])
  // Any other sender starts with dst's homes.
  assert.deepEqual(la.locate(dst, landmarks, 0), homesOf(dst, landmarks, 2))
})

test('at the home, an envelope whose rewritten route leads back the way it came goes at once (a new leg, not split horizon\'s stale route)', () => {
  const a = generateIdentity()
  const la = node(a)
  const home = node(generateIdentity())
  const l1 = landmarks[0] as NodeId
  for (const o of la.update([l1], [home.self], 0)) home.receive(a.publicKey, o.record, 0)
  // The home's only link, 'x', leads both back to the sender and on to l1.
  const route = (d: NodeId, via: readonly NodeId[]): NextHop | undefined => d === la.self && via.includes(l1) ? { link: 'x', via: [l1] } : undefined
  const f = new Forwarder({ ...DEFAULT_FORWARDER_CONFIG, self: home.self }, { route: routeWithLocation(route, home, () => 0), links: () => ['x'] }, 0)
  const out = f.receive('x', { src: new Uint8Array(32), dst: la.self, ttl: 64, id: '00000000000000ac', flags: 0, copies: 1, via: [home.self], payload: new Uint8Array(40) }, 0)
  assert.equal(out[0]?.kind, 'send')
  assert.deepEqual(out[0]?.kind === 'send' ? [out[0].link, out[0].envelope.via] : null, ['x', [l1]])
  // A relay that only narrows via still never sends straight back: held.
  const relayed = f.receive('x', { src: new Uint8Array(32), dst: la.self, ttl: 64, id: '00000000000000ad', flags: 0, copies: 1, via: [l1], payload: new Uint8Array(40) }, 0)
  assert.equal(relayed.length, 0)
})

test('the forwarder sends an envelope of ours with no route toward the homes the location service names', () => {
  const self = makeIds(1, 99)[0] as NodeId
  const dst = makeIds(1, 98)[0] as NodeId
  const homes = homesOf(dst, landmarks, 2)
  const f = new Forwarder({ ...DEFAULT_FORWARDER_CONFIG, self }, {
    route: (_d, via) => via.includes(homes[0] as NodeId) ? { link: 'l', via: [homes[0] as NodeId] } : undefined,
    links: () => ['l'],
    locate: (d) => homesOf(d, landmarks, 2)
  }, 0)
  const out = f.send({ src: new Uint8Array(32), dst, ttl: 64, id: '00000000000000aa', flags: 0, copies: 1, via: [], payload: new Uint8Array(40) }, 0, false)
  assert.equal(out.length, 1)
  assert.equal(out[0]?.kind, 'send')
  assert.deepEqual(out[0]?.kind === 'send' ? out[0].envelope.via : null, [homes[0]])
  // A relayed envelope is never redirected: it keeps the via its sender gave it.
  const relayed = f.receive('m', { src: new Uint8Array(32), dst, ttl: 64, id: '00000000000000ab', flags: 0, copies: 1, via: [], payload: new Uint8Array(40) }, 0)
  assert.equal(relayed.length, 0, 'held in custody')
})

test('landmark churn: a node registers with a new home when one appears that wins it, and only with it', () => {
  const a = generateIdentity()
  const la = node(a)
  const address = [landmarks[0] as NodeId]
  const first = la.update(address, landmarks, 0).map((o) => to(o))
  assert.equal(first.length, 2)
  // Find a landmark that takes one of the node's two home places.
  const newcomer = makeIds(400, 21).find((l) => homesOf(la.self, [...landmarks, l], 2).includes(l)) as NodeId
  const homes = homesOf(la.self, [...landmarks, newcomer], 2)
  const out = la.update(address, [...landmarks, newcomer], 1000)
  assert.deepEqual(out.map((o) => to(o)), [newcomer], 'registers with the new home at once')
  assert.deepEqual(la.homes().sort(), [...homes].sort())
  // A landmark that is none of its homes leaving changes nothing.
  const other = landmarks.find((l) => !homes.includes(l)) as NodeId
  assert.deepEqual(la.update(address, [...landmarks, newcomer].filter((l) => l !== other), 2000), [])
  // Its home leaving: the next in line becomes a home and gets a registration.
  const remaining = [...landmarks, newcomer].filter((l) => l !== newcomer)
  const back = la.update(address, remaining, 3000)
  assert.equal(back.length, 1)
  assert.ok(!first.includes(newcomer) && first.includes(to(back[0])))
})

// ---- binding updates: the sender-side address cache ------------------------------------------

test('a binding update goes into the cache with the same checks as a registration: forged, stale, expired refused', () => {
  const b = generateIdentity()
  const lb = node(b)
  const a = node(generateIdentity())
  const addr1 = [landmarks[0] as NodeId, landmarks[1] as NodeId]
  lb.update(addr1, landmarks, 0)
  const bu = lb.bind(a.self, 1000)
  assert.equal(bu?.kind, 'bind')
  assert.equal(to(bu), a.self)
  const record = bu?.record
  // Forged: signed by another key than its src's, or tampered with on the way.
  const mallory = generateIdentity()
  const forged = { seq: 9, lifetimeS: 1800, address: [landmarks[2] as NodeId] }
  assert.deepEqual(a.receive(b.publicKey, encodeLocationRecord(forged, signBytes(mallory, locationSigningBytes(lb.self, forged))), 1000, true), { accepted: false, reason: 'forged' })
  const tampered = Uint8Array.from(record)
  tampered[9] = (tampered[9] as number) ^ 1
  assert.deepEqual(a.receive(b.publicKey, tampered, 1000, true), { accepted: false, reason: 'forged' })
  // Long past its lifetime: a replay.
  assert.deepEqual(a.receive(b.publicKey, record, 3 * 1800 * 1000, true), { accepted: false, reason: 'expired' })
  assert.equal(a.cachedRecords(), 0)
  assert.deepEqual(a.receive(b.publicKey, record, 1000, true), { accepted: true, subject: lb.self, cached: true })
  assert.equal(a.records(), 0, 'not kept as a registration: a is no home of b')
  assert.deepEqual(a.cachedAddress(lb.self, 1000), addr1)
  // b moves: its new record replaces the old; the old one replayed is stale.
  const addr2 = [landmarks[3] as NodeId]
  const retold = lb.update(addr2, landmarks, 10_000).filter((o) => o.kind === 'bind')
  assert.deepEqual(retold.map(to), [a.self], 'a, told the old address, is told the new one')
  assert.equal(lb.bind(a.self, 10_000), undefined, 'and not again for the data that follows')
  const newer = retold[0]?.record as Uint8Array
  assert.deepEqual(a.receive(b.publicKey, newer, 10_000, true), { accepted: true, subject: lb.self, cached: true })
  assert.deepEqual(a.receive(b.publicKey, record, 11_000, true), { accepted: false, reason: 'stale' })
  assert.deepEqual(a.cachedAddress(lb.self, 11_000), addr2)
  assert.equal(a.counters.refused, 4)
})

test('locate prefers a fresh cached address to the homes; once it expires (cacheMs) the homes again', () => {
  const b = generateIdentity()
  const lb = node(b)
  const a = node(generateIdentity(), { cacheMs: 120_000 })
  const address = [landmarks[0] as NodeId, landmarks[1] as NodeId]
  const homes = homesOf(lb.self, landmarks, 2)
  assert.deepEqual(a.locate(lb.self, landmarks, 0), homes, 'nothing cached: by its homes')
  lb.update(address, landmarks, 0)
  a.receive(b.publicKey, lb.bind(a.self, 0)?.record as Uint8Array, 0, true)
  assert.deepEqual(a.locate(lb.self, landmarks, 119_999), address)
  assert.equal(a.counters.cacheHits, 1)
  assert.deepEqual(a.locate(lb.self, landmarks, 120_000), homes, 'expired: by its homes again')
  assert.equal(a.cachedRecords(), 0, 'the expired entry is gone')
  // The entry does not outlive the record's own lifetime, when that ends sooner.
  const c = generateIdentity()
  const lc = node(c, { lifetimeMs: 60_000, refreshMs: 20_000 })
  lc.update(address, landmarks, 0)
  const rec = lc.bind(a.self, 0)?.record as Uint8Array
  assert.equal(a.receive(c.publicKey, rec, 0, true).accepted, true)
  // A record ends lifetime seconds after its seq (the sender's clock in seconds, grown by one per record).
  const ends = (decodeLocationRecord(rec).record.seq + 60) * 1000
  assert.ok(ends < 120_000)
  assert.deepEqual(a.locate(lc.self, landmarks, ends - 1), address)
  assert.deepEqual(a.locate(lc.self, landmarks, ends), homesOf(lc.self, landmarks, 2))
})

test('the cache keeps at most maxCached entries, the oldest going first', () => {
  const a = node(generateIdentity(), { maxCached: 3 })
  const ids = Array.from({ length: 5 }, () => generateIdentity())
  ids.forEach((b, i) => {
    const lb = node(b)
    lb.update([landmarks[i] as NodeId], landmarks, i * 1000)
    assert.equal(a.receive(b.publicKey, lb.bind(a.self, i * 1000)?.record as Uint8Array, i * 1000, true).accepted, true)
  })
  assert.equal(a.cachedRecords(), 3)
  assert.equal(a.counters.evicted, 2)
  assert.equal(a.cachedAddress(nodeIdOf(ids[0]?.publicKey as Uint8Array), 5000), undefined)
  assert.equal(a.cachedAddress(nodeIdOf(ids[1]?.publicKey as Uint8Array), 5000), undefined)
  assert.deepEqual(a.cachedAddress(nodeIdOf(ids[4]?.publicKey as Uint8Array), 5000), [landmarks[4]])
})

test('binding updates are rate-limited per peer, sent again when the address changes, and the peers told are bounded', () => {
  const lb = node(generateIdentity(), { bindingGapMs: 60_000, cacheMs: 120_000, minGapMs: 5_000, maxTold: 2 })
  const [p, q, r] = makeIds(3, 31) as [NodeId, NodeId, NodeId]
  assert.equal(lb.bind(p, 0), undefined, 'no address yet: nothing to tell')
  lb.update([landmarks[0] as NodeId], landmarks, 0)
  const first = lb.bind(p, 1000)
  assert.equal(to(first), p)
  assert.equal(lb.bind(p, 30_000), undefined, 'told within bindingGapMs')
  assert.equal(to(lb.bind(q, 30_000)), q, 'another peer is told at once')
  // The same record while the address stands (no new signature, no new seq).
  assert.deepEqual(lb.bind(p, 61_000)?.record, first?.record)
  // The address changes: the peers told within cacheMs are told again by update(), not waiting for data.
  const moved = lb.update([landmarks[1] as NodeId], landmarks, 70_000)
  const retold = moved.filter((o) => o.kind === 'bind').map(to).sort()
  assert.deepEqual(retold, [p, q].sort())
  assert.deepEqual(decodeLocationRecord(moved.find((o) => o.kind === 'bind')?.record as Uint8Array).record.address, [landmarks[1]])
  assert.equal(lb.bind(p, 71_000), undefined, 'just told the new address')
  // A third peer pushes the least recently told out of the bounded table: it is no longer re-told.
  assert.equal(to(lb.bind(r, 72_000)), r)
  const again = lb.update([landmarks[2] as NodeId], landmarks, 80_000)
  assert.equal(again.filter((o) => o.kind === 'bind').length, 2)
  assert.equal(lb.counters.bindingsSent, 8)
})

test('comesFar: a binding update when we have no route to the sender, or its envelope crossed more links than our scope', () => {
  assert.equal(comesFar(false, 3, 6), true)
  assert.equal(comesFar(true, 6, 6), false)
  assert.equal(comesFar(true, 9, 6), true)
})
