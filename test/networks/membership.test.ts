// deriveMembership: a pure, order-independent reduction of membership entries.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { generateIdentity } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import type { CanonicalValue } from '../../src/core/encoding.ts'
import { deriveMembership, isMembershipType } from '../../src/networks/membership.ts'
import type { MembershipEvent, MembershipState, MembershipType } from '../../src/networks/membership.ts'
import { createInvite, grantValue } from '../../src/networks/invite.ts'
import type { Role } from '../../src/networks/invite.ts'
import { hex, makeNetwork } from './fixtures.ts'
import type { TestNetwork } from './fixtures.ts'

let counter = 0
function ev (author: Identity, type: MembershipType, ts: number, body: Record<string, unknown> = {}, hash?: Uint8Array): MembershipEvent {
  const n = ++counter
  return { author: author.publicKey, device: author.publicKey, seq: n, type, ts, body, hash: hash ?? new Uint8Array(createHash('sha256').update(`event ${n}`).digest()) }
}

function invite (net: TestNetwork, issuer: Identity, options: { role?: Role, expires?: number | null, uses?: number | null } = {}): Record<string, unknown> {
  const inv = createInvite(issuer, net.manifest, { role: options.role ?? 'member', expires: options.expires ?? null, uses: options.uses ?? null, addrs: [], keys: [] })
  return { invite: grantValue(inv.grant) }
}

function derive (net: TestNetwork, events: MembershipEvent[]): MembershipState {
  return deriveMembership(net.manifest.manifest, net.id, events)
}

function memberKeys (s: MembershipState): string[] {
  return [...s.members.keys()].sort()
}

function roleOf (s: MembershipState, who: Identity): Role | undefined {
  return s.members.get(hex(who.publicKey))?.role
}

function refusedReason (s: MembershipState, e: MembershipEvent): string | undefined {
  return s.refused.get(hex(e.hash))
}

/** A comparable snapshot of a whole state. */
function snapshot (s: MembershipState): unknown {
  return {
    members: [...s.members.values()].sort((a, b) => a.account.localeCompare(b.account)),
    removed: [...s.removed.values()].map((r) => ({ ...r, heads: [...r.heads].sort() })).sort((a, b) => a.account.localeCompare(b.account)),
    refused: [...s.refused].sort()
  }
}

describe('membership types', () => {
  test('isMembershipType', () => {
    for (const t of ['peernet/join', 'peernet/leave', 'peernet/remove', 'peernet/role']) assert.ok(isMembershipType(t))
    for (const t of ['peernet/device', 'peernet/revoke', 'chat/message', 'join']) assert.ok(!isMembershipType(t))
  })
})

describe('order independence', () => {
  test('property: any order of the same events gives the same state', () => {
    const net = makeNetwork({ policy: 'invite', created: 0 })
    const people = Array.from({ length: 5 }, generateIdentity)
    const everyone = [net.creator, ...people]
    // Invites by the creator and by people who may or may not be admins when they are used.
    const invites = [
      invite(net, net.creator, { uses: 1 }),
      invite(net, net.creator, { role: 'admin', uses: 2 }),
      invite(net, net.creator, { expires: 50 }),
      invite(net, people[0] as Identity),
      invite(net, people[1] as Identity, { uses: 1 }),
      invite(net, net.creator, {})
    ]
    const otherNet = makeNetwork({ creator: net.creator, policy: 'invite' })
    invites.push(invite(otherNet, net.creator))

    const eventArb = fc.record({
      kind: fc.constantFrom<MembershipType>('peernet/join', 'peernet/join', 'peernet/join', 'peernet/leave', 'peernet/remove', 'peernet/role'),
      author: fc.nat({ max: everyone.length - 1 }),
      target: fc.nat({ max: everyone.length - 1 }),
      invite: fc.option(fc.nat({ max: invites.length - 1 }), { nil: undefined }),
      role: fc.constantFrom('admin', 'member'),
      ts: fc.nat({ max: 100 }),
      seq: fc.nat({ max: 20 })
    })
    fc.assert(fc.property(
      fc.array(eventArb, { minLength: 1, maxLength: 40 }),
      fc.array(fc.double({ noNaN: true }), { minLength: 40, maxLength: 40 }),
      (specs, sortKeys) => {
        const events = specs.map((s) => {
          const author = everyone[s.author] as Identity
          const target = (everyone[s.target] as Identity).publicKey
          let body: Record<string, unknown> = {}
          if (s.kind === 'peernet/join' && s.invite !== undefined) body = invites[s.invite] as Record<string, unknown>
          if (s.kind === 'peernet/remove') body = { member: target, heads: [{ device: target, seq: s.seq }] }
          if (s.kind === 'peernet/role') body = { member: target, role: s.role }
          return ev(author, s.kind, s.ts, body)
        })
        const shuffled = events.map((e, i) => ({ e, k: sortKeys[i] as number })).sort((a, b) => a.k - b.k).map((x) => x.e)
        const reversed = [...events].reverse()
        const expected = snapshot(derive(net, events))
        assert.deepEqual(snapshot(derive(net, shuffled)), expected)
        assert.deepEqual(snapshot(derive(net, reversed)), expected)
        // The creator is always an admin member.
        assert.equal(roleOf(derive(net, events), net.creator), 'admin')
      }), { numRuns: 150 })
  })

  test('deriveMembership does not reorder its input array', () => {
    const net = makeNetwork()
    const a = generateIdentity()
    const events = [ev(a, 'peernet/join', 9), ev(a, 'peernet/leave', 1)]
    const copy = [...events]
    derive(net, events)
    assert.deepEqual(events, copy)
  })
})

describe('joining', () => {
  test('the creator is the first admin, from the manifest', () => {
    const net = makeNetwork({ created: 77 })
    const s = derive(net, [])
    assert.deepEqual(memberKeys(s), [hex(net.creator.publicKey)])
    assert.deepEqual(s.members.get(hex(net.creator.publicKey)), { account: hex(net.creator.publicKey), role: 'admin', joinedAt: 77 })
  })

  test('open network: a join without invite makes a member', () => {
    const net = makeNetwork({ policy: 'open' })
    const a = generateIdentity()
    const s = derive(net, [ev(a, 'peernet/join', 10)])
    assert.deepEqual(s.members.get(hex(a.publicKey)), { account: hex(a.publicKey), role: 'member', joinedAt: 10 })
    assert.equal(s.refused.size, 0)
  })

  test('invite network: a join without invite is refused', () => {
    const net = makeNetwork({ policy: 'invite' })
    const a = generateIdentity()
    const join = ev(a, 'peernet/join', 10)
    const s = derive(net, [join])
    assert.ok(!s.members.has(hex(a.publicKey)))
    assert.match(refusedReason(s, join) ?? '', /invite-only/)
    // The isOpen override decides, not the manifest.
    assert.ok(deriveMembership(net.manifest.manifest, net.id, [join], true).members.has(hex(a.publicKey)))
  })

  test('invite network: a join with the creator\'s invite makes a member with the invite\'s role', () => {
    const net = makeNetwork({ policy: 'invite' })
    const a = generateIdentity()
    const b = generateIdentity()
    const s = derive(net, [ev(a, 'peernet/join', 10, invite(net, net.creator)), ev(b, 'peernet/join', 11, invite(net, net.creator, { role: 'admin' }))])
    assert.equal(roleOf(s, a), 'member')
    assert.equal(roleOf(s, b), 'admin')
  })

  test('an open network still checks invites a join carries', () => {
    const net = makeNetwork({ policy: 'open' })
    const a = generateIdentity()
    const join = ev(a, 'peernet/join', 10, invite(net, generateIdentity()))
    const s = derive(net, [join])
    assert.ok(!s.members.has(hex(a.publicKey)))
    assert.match(refusedReason(s, join) ?? '', /admin/)
  })

  test('an expired invite is refused (join ts > expires), one used exactly at expiry is not', () => {
    const net = makeNetwork({ policy: 'invite' })
    const [a, b] = [generateIdentity(), generateIdentity()]
    const inv = invite(net, net.creator, { expires: 100 })
    const onTime = ev(a, 'peernet/join', 100, inv)
    const late = ev(b, 'peernet/join', 101, inv)
    const s = derive(net, [late, onTime])
    assert.ok(s.members.has(hex(a.publicKey)))
    assert.ok(!s.members.has(hex(b.publicKey)))
    assert.match(refusedReason(s, late) ?? '', /expired/)
  })

  test('the uses limit is enforced in (ts, hash) order', () => {
    const net = makeNetwork({ policy: 'invite' })
    const people = Array.from({ length: 4 }, generateIdentity)
    const inv = invite(net, net.creator, { uses: 2 })
    const joins = people.map((p, i) => ev(p, 'peernet/join', 40 - i * 10, inv)) // ts 40, 30, 20, 10
    const s = derive(net, joins)
    // The two earliest joins (ts 10 and 20) use the invite up, whatever the input order.
    assert.deepEqual(people.map((p) => s.members.has(hex(p.publicKey))), [false, false, true, true])
    assert.match(refusedReason(s, joins[0] as MembershipEvent) ?? '', /used up/)
    assert.match(refusedReason(s, joins[1] as MembershipEvent) ?? '', /used up/)
  })

  test('equal timestamps: the smaller author key takes the last use, whatever the hashes', () => {
    const net = makeNetwork({ policy: 'invite' })
    const [a, b] = [generateIdentity(), generateIdentity()]
    const inv = invite(net, net.creator, { uses: 1 })
    const low = new Uint8Array(32).fill(0x01)
    const high = new Uint8Array(32).fill(0xf0)
    const aFirst = Buffer.compare(a.publicKey, b.publicKey) < 0
    for (const [ha, hb] of [[low, high], [high, low]] as const) {
      const s = derive(net, [ev(a, 'peernet/join', 5, inv, ha), ev(b, 'peernet/join', 5, inv, hb)])
      assert.equal(s.members.has(hex(a.publicKey)), aFirst)
      assert.equal(s.members.has(hex(b.publicKey)), !aFirst)
    }
  })

  test('a refused join does not use up the invite, nor does a member\'s repeated join', () => {
    const net = makeNetwork({ policy: 'invite' })
    const [a, b, c] = [generateIdentity(), generateIdentity(), generateIdentity()]
    const inv = invite(net, net.creator, { uses: 1 })
    // a was removed before joining, so a's earlier join is refused and b still gets in.
    const s = derive(net, [
      ev(net.creator, 'peernet/remove', 1, { member: a.publicKey }),
      ev(a, 'peernet/join', 2, inv),
      ev(b, 'peernet/join', 3, inv)
    ])
    assert.ok(!s.members.has(hex(a.publicKey)))
    assert.ok(s.members.has(hex(b.publicKey)))
    const inv2 = invite(net, net.creator, { uses: 2 })
    const s2 = derive(net, [ev(c, 'peernet/join', 1, inv2), ev(c, 'peernet/join', 2, inv2), ev(a, 'peernet/join', 3, inv2)])
    assert.ok(s2.members.has(hex(a.publicKey)), 'a repeated join by a member used up a use')
    assert.equal(s2.refused.size, 0)
  })

  test('the issuer must be an admin: the creator, or someone an admin promoted before the join', () => {
    const net = makeNetwork({ policy: 'invite' })
    const [m, x, y, z] = Array.from({ length: 4 }, generateIdentity) as [Identity, Identity, Identity, Identity]
    const byM = invite(net, m)
    const events = [
      ev(m, 'peernet/join', 10, invite(net, net.creator)), // m joins as a member
      ev(x, 'peernet/join', 20, byM), // m is not an admin yet: refused
      ev(net.creator, 'peernet/role', 30, { member: m.publicKey, role: 'admin' }),
      ev(y, 'peernet/join', 40, byM), // now accepted
      ev(net.creator, 'peernet/role', 50, { member: m.publicKey, role: 'member' }),
      ev(z, 'peernet/join', 60, byM) // demoted again: refused
    ]
    const s = derive(net, events)
    assert.equal(roleOf(s, m), 'member')
    assert.ok(!s.members.has(hex(x.publicKey)))
    assert.ok(s.members.has(hex(y.publicKey)))
    assert.ok(!s.members.has(hex(z.publicKey)))
    assert.match(refusedReason(s, events[1] as MembershipEvent) ?? '', /not issued by an admin/)
    assert.match(refusedReason(s, events[5] as MembershipEvent) ?? '', /not issued by an admin/)
  })

  test('an admin promoted by a promoted admin may invite too', () => {
    const net = makeNetwork({ policy: 'invite' })
    const [a, b, c] = [generateIdentity(), generateIdentity(), generateIdentity()]
    const s = derive(net, [
      ev(a, 'peernet/join', 1, invite(net, net.creator)),
      ev(b, 'peernet/join', 2, invite(net, net.creator)),
      ev(net.creator, 'peernet/role', 3, { member: a.publicKey, role: 'admin' }),
      ev(a, 'peernet/role', 4, { member: b.publicKey, role: 'admin' }),
      ev(c, 'peernet/join', 5, invite(net, b))
    ])
    assert.equal(roleOf(s, b), 'admin')
    assert.equal(roleOf(s, c), 'member')
  })

  test('an invite for another network is refused', () => {
    const net = makeNetwork({ policy: 'invite' })
    const other = makeNetwork({ creator: net.creator, policy: 'invite', name: 'other' })
    const a = generateIdentity()
    const join = ev(a, 'peernet/join', 1, invite(other, net.creator))
    const s = derive(net, [join])
    assert.ok(!s.members.has(hex(a.publicKey)))
    assert.match(refusedReason(s, join) ?? '', /another network/)
  })

  test('a forged or malformed invite in a join is refused with a reason', () => {
    const net = makeNetwork({ policy: 'invite' })
    const a = generateIdentity()
    const good = invite(net, net.creator).invite as Record<string, CanonicalValue>
    const sig = new Uint8Array(good.sig as Uint8Array)
    sig[0] = (sig[0] as number) ^ 1
    for (const bad of [{ ...good, sig }, { ...good, role: 'owner' }, 'invite', null]) {
      const join = ev(a, 'peernet/join', 1, { invite: bad })
      const s = derive(net, [join])
      assert.ok(!s.members.has(hex(a.publicKey)))
      assert.ok((refusedReason(s, join) ?? '').length > 0)
    }
  })
})

describe('leaving and removal', () => {
  test('a member leaves; a non-member\'s leave and the creator\'s leave are refused', () => {
    const net = makeNetwork()
    const [a, b] = [generateIdentity(), generateIdentity()]
    const leaveB = ev(b, 'peernet/leave', 3)
    const leaveCreator = ev(net.creator, 'peernet/leave', 4)
    const s = derive(net, [ev(a, 'peernet/join', 1), ev(a, 'peernet/leave', 2), leaveB, leaveCreator])
    assert.ok(!s.members.has(hex(a.publicKey)))
    assert.match(refusedReason(s, leaveB) ?? '', /not a member/)
    assert.match(refusedReason(s, leaveCreator) ?? '', /creator/)
    assert.equal(roleOf(s, net.creator), 'admin')
  })

  test('a member who left may join again', () => {
    const net = makeNetwork()
    const a = generateIdentity()
    const s = derive(net, [ev(a, 'peernet/join', 1), ev(a, 'peernet/leave', 2), ev(a, 'peernet/join', 3)])
    assert.equal(s.members.get(hex(a.publicKey))?.joinedAt, 3)
  })

  test('an admin removes a member, with the heads that still count; the member cannot rejoin', () => {
    const net = makeNetwork()
    const a = generateIdentity()
    const dev = generateIdentity()
    const rejoin = ev(a, 'peernet/join', 4)
    const s = derive(net, [
      ev(a, 'peernet/join', 1),
      ev(net.creator, 'peernet/remove', 3, { member: a.publicKey, heads: [{ device: a.publicKey, seq: 7 }, { device: dev.publicKey, seq: 2 }, { device: 'bad', seq: 1 }] }),
      rejoin
    ])
    assert.ok(!s.members.has(hex(a.publicKey)))
    const r = s.removed.get(hex(a.publicKey))
    assert.ok(r !== undefined)
    assert.equal(r.at, 3)
    assert.deepEqual([...r.heads].sort(), [[hex(a.publicKey), 7], [hex(dev.publicKey), 2]].sort())
    assert.match(refusedReason(s, rejoin) ?? '', /removed/)
  })

  test('the creator cannot be removed, and only admins remove', () => {
    const net = makeNetwork()
    const [a, b] = [generateIdentity(), generateIdentity()]
    const removeCreator = ev(net.creator, 'peernet/remove', 3, { member: net.creator.publicKey })
    const byMember = ev(a, 'peernet/remove', 4, { member: b.publicKey })
    const unnamed = ev(net.creator, 'peernet/remove', 5, {})
    const s = derive(net, [ev(a, 'peernet/join', 1), ev(b, 'peernet/join', 2), removeCreator, byMember, unnamed])
    assert.equal(roleOf(s, net.creator), 'admin')
    assert.ok(s.members.has(hex(b.publicKey)))
    assert.equal(s.removed.size, 0)
    for (const e of [removeCreator, byMember, unnamed]) assert.ok(refusedReason(s, e) !== undefined)
    // A promoted admin may remove, but not the creator.
    const s2 = derive(net, [
      ev(a, 'peernet/join', 1), ev(b, 'peernet/join', 2),
      ev(net.creator, 'peernet/role', 3, { member: a.publicKey, role: 'admin' }),
      ev(a, 'peernet/remove', 4, { member: b.publicKey }),
      ev(a, 'peernet/remove', 5, { member: net.creator.publicKey })
    ])
    assert.ok(!s2.members.has(hex(b.publicKey)))
    assert.equal(roleOf(s2, net.creator), 'admin')
  })

  test('a removal before the join in (ts, hash) order bans the later join', () => {
    const net = makeNetwork()
    const a = generateIdentity()
    const join = ev(a, 'peernet/join', 5)
    const s = derive(net, [join, ev(net.creator, 'peernet/remove', 1, { member: a.publicKey })])
    assert.ok(!s.members.has(hex(a.publicKey)))
    assert.ok(refusedReason(s, join) !== undefined)
  })
})

describe('roles', () => {
  test('only admins change roles; the creator\'s role cannot change; the target must be a member', () => {
    const net = makeNetwork()
    const [a, b, c] = [generateIdentity(), generateIdentity(), generateIdentity()]
    const byMember = ev(a, 'peernet/role', 3, { member: b.publicKey, role: 'admin' })
    const onCreator = ev(net.creator, 'peernet/role', 4, { member: net.creator.publicKey, role: 'member' })
    const onStranger = ev(net.creator, 'peernet/role', 5, { member: c.publicKey, role: 'admin' })
    const badRole = ev(net.creator, 'peernet/role', 6, { member: a.publicKey, role: 'owner' })
    const s = derive(net, [ev(a, 'peernet/join', 1), ev(b, 'peernet/join', 2), byMember, onCreator, onStranger, badRole])
    assert.equal(roleOf(s, a), 'member')
    assert.equal(roleOf(s, b), 'member')
    assert.equal(roleOf(s, net.creator), 'admin')
    assert.ok(!s.members.has(hex(c.publicKey)))
    for (const e of [byMember, onCreator, onStranger, badRole]) assert.ok(refusedReason(s, e) !== undefined)
  })

  test('an admin promotes and demotes; a demoted admin loses the right', () => {
    const net = makeNetwork()
    const [a, b] = [generateIdentity(), generateIdentity()]
    const late = ev(a, 'peernet/role', 5, { member: b.publicKey, role: 'admin' })
    const s = derive(net, [
      ev(a, 'peernet/join', 1), ev(b, 'peernet/join', 2),
      ev(net.creator, 'peernet/role', 3, { member: a.publicKey, role: 'admin' }),
      ev(net.creator, 'peernet/role', 4, { member: a.publicKey, role: 'member' }),
      late
    ])
    assert.equal(roleOf(s, a), 'member')
    assert.equal(roleOf(s, b), 'member')
    assert.match(refusedReason(s, late) ?? '', /only admins/)
  })
})
