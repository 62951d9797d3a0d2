// The rendezvous announce policy, pure: the decision table, the XOR rank helper, and the
// property that makes a surplus stable — when every provider of a surplus checks at once,
// exactly the RENDEZVOUS_PROVIDERS closest to the key keep announcing, and they stay.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { DEFAULT_BOUND, RENDEZVOUS_PROVIDERS, RENDEZVOUS_SURPLUS, decideAnnounce, rankMatters, xorCloser } from '../../../src/networks/rendezvous/announce-policy.ts'
import type { AnnounceDecision, AnnounceInput, RendezvousBound } from '../../../src/networks/rendezvous/announce-policy.ts'

const P = RENDEZVOUS_PROVIDERS
const S = RENDEZVOUS_SURPLUS

/** The surplus' providers all look at once: who keeps announcing. */
function trimAtOnce (ids: Uint8Array[], key: Uint8Array, bound: RendezvousBound = DEFAULT_BOUND): Uint8Array[] {
  return ids.filter((self, i) => {
    const others = ids.filter((_, j) => j !== i)
    return decideAnnounce({ othersFound: others.length, providing: true, closerOthers: xorCloser(self, others, key) }, bound) === 'announce'
  })
}

function xorDistance (id: Uint8Array, key: Uint8Array): Buffer {
  return Buffer.from(id.map((b, i) => b ^ (key[i] ?? 0)))
}

/** Distinct 32-byte ids (as the DHT's points are) and a key. */
const idsAndKey = (min: number, max: number): fc.Arbitrary<{ ids: Uint8Array[], key: Uint8Array }> => fc.record({
  ids: fc.uniqueArray(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: min, maxLength: max, selector: (a) => Buffer.from(a).toString('hex') }),
  key: fc.uint8Array({ minLength: 32, maxLength: 32 })
})

describe('decideAnnounce', () => {
  test('the decision table', () => {
    const cases: Array<[AnnounceInput, AnnounceDecision, string]> = [
      [{ othersFound: 0, providing: false, closerOthers: 0 }, 'announce', 'nobody found: join in'],
      [{ othersFound: P - 1, providing: false, closerOthers: P - 1 }, 'announce', 'too few, however far we are'],
      [{ othersFound: P - 1, providing: true, closerOthers: P - 1 }, 'announce', 'too few: keep our record'],
      [{ othersFound: P, providing: false, closerOthers: 0 }, 'skip', 'enough: a newcomer stays out even when closest'],
      [{ othersFound: S + 40, providing: false, closerOthers: 0 }, 'skip', 'a surplus: a newcomer stays out'],
      [{ othersFound: P, providing: true, closerOthers: P }, 'announce', 'between the thresholds a provider keeps its record'],
      [{ othersFound: S - 1, providing: true, closerOthers: S - 1 }, 'announce', 'just below the surplus: keep, however far'],
      [{ othersFound: S, providing: true, closerOthers: 0 }, 'announce', 'a surplus, and we are the closest'],
      [{ othersFound: S, providing: true, closerOthers: P - 1 }, 'announce', 'a surplus, and we are the P-th closest'],
      [{ othersFound: S, providing: true, closerOthers: P }, 'skip', 'a surplus, and P others are closer'],
      [{ othersFound: S + 100, providing: true, closerOthers: S + 100 }, 'skip', 'a surplus, and we are the farthest']
    ]
    for (const [input, expected, why] of cases) assert.equal(decideAnnounce(input), expected, `${why}: ${JSON.stringify(input)}`)
    // A smaller bound, as the real-node tests use.
    const small = { providers: 2, surplus: 3 }
    assert.equal(decideAnnounce({ othersFound: 2, providing: false, closerOthers: 0 }, small), 'skip')
    assert.equal(decideAnnounce({ othersFound: 3, providing: true, closerOthers: 1 }, small), 'announce')
    assert.equal(decideAnnounce({ othersFound: 3, providing: true, closerOthers: 2 }, small), 'skip')
  })

  test('closerOthers is read only when a provider sees a surplus (rankMatters)', () => {
    fc.assert(fc.property(fc.nat(3 * S), fc.boolean(), fc.nat(3 * S), (othersFound, providing, closer) => {
      const matters = rankMatters({ othersFound, providing })
      assert.equal(matters, providing && othersFound >= S)
      if (!matters) assert.equal(decideAnnounce({ othersFound, providing, closerOthers: closer }), decideAnnounce({ othersFound, providing, closerOthers: 0 }))
    }))
  })
})

describe('xorCloser', () => {
  test('counts the ids strictly closer to the key under XOR, compared from the first byte', () => {
    const key = new Uint8Array(4)
    const id = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes)
    const self = id(0x10, 0, 0, 0)
    assert.equal(xorCloser(self, [id(0x0f, 0xff, 0xff, 0xff), id(0x10, 0, 0, 0), id(0x10, 0, 0, 1), id(0x20, 0, 0, 0)], key), 1)
    // The key shifts the metric: against 0xff…, 0xf0 is closer than 0x0f.
    assert.equal(xorCloser(id(0x0f, 0, 0, 0), [id(0xf0, 0, 0, 0)], id(0xff, 0, 0, 0)), 1)
    assert.equal(xorCloser(id(0xf0, 0, 0, 0), [id(0x0f, 0, 0, 0)], id(0xff, 0, 0, 0)), 0)
    assert.equal(xorCloser(self, [], key), 0)
    assert.throws(() => xorCloser(self, [id(1, 2)], key), RangeError)
  })

  test('agrees with sorting by XOR distance', () => {
    fc.assert(fc.property(idsAndKey(1, 40), ({ ids, key }) => {
      const sorted = [...ids].sort((a, b) => Buffer.compare(xorDistance(a, key), xorDistance(b, key)))
      for (const [rank, self] of sorted.entries()) assert.equal(xorCloser(self, ids.filter((o) => o !== self), key), rank)
    }))
  })
})

describe('a surplus, all checking at once', () => {
  test('exactly the RENDEZVOUS_PROVIDERS closest keep announcing, and they then stay', () => {
    fc.assert(fc.property(idsAndKey(S + 1, 200), ({ ids, key }) => {
      const kept = trimAtOnce(ids, key)
      const closest = [...ids].sort((a, b) => Buffer.compare(xorDistance(a, key), xorDistance(b, key))).slice(0, P)
      assert.deepEqual(new Set(kept), new Set(closest))
      // The next round: P providers, each sees P − 1 others, all keep; nobody new joins.
      assert.equal(trimAtOnce(kept, key).length, P)
      assert.equal(decideAnnounce({ othersFound: kept.length, providing: false, closerOthers: 0 }), 'skip')
    }), { numRuns: 200 })
  })

  test('never down to zero: any set of providers, any bound, at least min(count, providers) keep', () => {
    const bound = fc.integer({ min: 1, max: 10 }).chain((providers) => fc.record({ providers: fc.constant(providers), surplus: fc.integer({ min: providers + 1, max: 3 * providers }) }))
    fc.assert(fc.property(idsAndKey(1, 60), bound, ({ ids, key }, b) => {
      const kept = trimAtOnce(ids, key, b).length
      assert.ok(kept >= Math.min(ids.length, b.providers), `${kept} of ${ids.length} kept, bound ${JSON.stringify(b)}`)
      if (ids.length - 1 >= b.surplus) assert.equal(kept, b.providers)
      else assert.equal(kept, ids.length)
    }), { numRuns: 300 })
  })

  test('a provider that sees only some of the records (a lookup capped at k) errs towards keeping', () => {
    fc.assert(fc.property(idsAndKey(S + 1, 120), fc.integer({ min: S, max: 20 }), ({ ids, key }, seen) => {
      // Each provider sees the first `seen` others in some order: the P closest still keep.
      const kept = ids.filter((self, i) => {
        const others = ids.filter((_, j) => j !== i).slice(0, seen)
        return decideAnnounce({ othersFound: others.length, providing: true, closerOthers: xorCloser(self, others, key) }) === 'announce'
      })
      const closest = [...ids].sort((a, b) => Buffer.compare(xorDistance(a, key), xorDistance(b, key))).slice(0, P)
      for (const c of closest) assert.ok(kept.includes(c))
    }), { numRuns: 200 })
  })
})
