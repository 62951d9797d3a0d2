// The router's route table (route-table.ts): a destination's routes stay in arrival order
// through removals, its selected route follows its route as the others move, and
// destination indices are reused fresh. Checked against a model of plain arrays.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { NO_ROUTE, REMOVED_ROUTE, RouteTable } from '../../src/mesh/route-table.ts'
import { INFINITY } from '../../src/mesh/control-messages.ts'

interface ModelRoute { nb: number, seqno: number, flags: number, expiresAt: number }
interface ModelDest { level: number, routes: ModelRoute[], selected: ModelRoute | 'removed' | null, goneFlags: number }

const op = fc.oneof(
  fc.record({ add: fc.nat(3) }),
  fc.record({ drop: fc.nat(40) }),
  fc.record({ append: fc.nat(40), nb: fc.nat(6), seqno: fc.nat(0xffff), flags: fc.nat(0xff), expiresAt: fc.nat(100) }),
  fc.record({ remove: fc.nat(40), k: fc.nat(4) }),
  fc.record({ select: fc.nat(40), k: fc.nat(4) }),
  fc.record({ expire: fc.nat(40), now: fc.nat(100) })
)

test('routes keep their order, the selected route follows its route, and freed destinations come back fresh', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { minLength: 100, maxLength: 300 }), (width, ops) => {
    const table = new RouteTable(width)
    const model = new Map<number, ModelDest>()
    const pick = (n: number): [number, ModelDest] | undefined => {
      const ds = [...model]
      return ds.length === 0 ? undefined : ds[n % ds.length]
    }
    for (const o of ops) {
      if ('add' in o) {
        const d = table.addDest(o.add, 12.5)
        assert.ok(!model.has(d), `index ${d} handed out twice`)
        assert.equal(table.fdMetric[d], INFINITY)
        assert.equal(table.advMetric[d], INFINITY)
        assert.equal(table.lastUsed[d], 13)
        assert.equal(table.advExcept[d], null)
        model.set(d, { level: o.add, routes: [], selected: null, goneFlags: 0 })
        table.fdSeqno[d] = 7
        table.fdMetric[d] = 100 + d
        continue
      }
      const key = 'drop' in o ? o.drop : 'append' in o ? o.append : 'remove' in o ? o.remove : 'select' in o ? o.select : o.expire
      const picked = pick(key)
      if (picked === undefined) continue
      const [d, m] = picked
      if ('drop' in o) {
        table.freeDest(d)
        model.delete(d)
        continue
      } else if ('append' in o) {
        if (m.routes.length >= width || table.routeVia(d, o.nb) !== NO_ROUTE) continue
        const r = table.append(d, o.nb, o.seqno, 10, 1, 2, o.flags, o.expiresAt)
        assert.equal(r, table.end(d) - 1)
        m.routes.push({ nb: o.nb, seqno: o.seqno, flags: o.flags, expiresAt: o.expiresAt })
      } else if ('remove' in o) {
        if (m.routes.length === 0) continue
        const k = o.k % m.routes.length
        const gone = m.routes.splice(k, 1)[0] as ModelRoute
        table.remove(d, table.first(d) + k)
        if (m.selected === gone) { m.selected = 'removed'; m.goneFlags = gone.flags }
      } else if ('select' in o) {
        if (m.routes.length === 0) continue
        const k = o.k % m.routes.length
        table.selected[d] = table.first(d) + k
        m.selected = m.routes[k] as ModelRoute
      } else {
        const kept = m.routes.filter((r) => r.expiresAt > o.now)
        assert.equal(table.removeExpired(d, o.now), kept.length < m.routes.length)
        if (m.selected !== null && m.selected !== 'removed' && !kept.includes(m.selected)) { m.goneFlags = m.selected.flags; m.selected = 'removed' }
        m.routes = kept
      }
      // The table is the model.
      assert.equal(table.end(d) - table.first(d), m.routes.length)
      m.routes.forEach((mr, k) => {
        const r = table.first(d) + k
        assert.deepEqual([table.nb[r], table.seqno[r], table.flags[r], table.expiresAt[r]], [mr.nb, mr.seqno, mr.flags, mr.expiresAt])
        assert.equal(table.routeVia(d, mr.nb), r)
      })
      const sel = table.selected[d] as number
      if (m.selected === null) assert.equal(sel, NO_ROUTE)
      else if (m.selected === 'removed') { assert.equal(sel, REMOVED_ROUTE); assert.equal(table.selectedGoneFlags[d], m.goneFlags) } else assert.equal(sel, table.first(d) + m.routes.indexOf(m.selected))
      // Other destinations (and what growth copied) are untouched.
      for (const [e, me] of model) {
        assert.equal(table.level[e], me.level)
        assert.equal(table.fdMetric[e], 100 + e)
        assert.equal(table.end(e) - table.first(e), me.routes.length)
      }
    }
  }), { numRuns: 200 })
})
