// The managed-flooding baseline: a hop limit bounds the reach, unlimited floods deliver
// everything in a connected mesh, cancellation saves transmissions, and the SVG writer.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Random } from '../../src/sim/random.ts'
import { makeTopology } from '../../src/sim/mesh/topology.ts'
import { FloodingNode, runFloodingBaseline } from '../../src/sim/mesh/managed-flooding.ts'
import { barChart, lineChart, ticks } from '../../src/sim/svg-chart.ts'

const base = { packets: 40, packetsPerSecond: 1, packetBytes: 100, contentionMs: 200, seed: 5 }

test('flooding: unlimited hop limit delivers nearly every packet (cancellation leaves holes); on a line, a hop limit of H reaches H + 1 hops', () => {
  const rgg = makeTopology('rgg', 800, new Random(1))
  const all = runFloodingBaseline(rgg, { ...base, hopLimit: Infinity })
  assert.ok(all.deliveryRatio >= 0.9, `delivery ${all.deliveryRatio}`)
  // Cancellation: fewer transmissions than nodes (each node would send once without it).
  assert.ok(all.transmissionsPerPacket < 800, `${all.transmissionsPerPacket} transmissions per packet`)
  assert.ok(all.duplicatesPerPacket > 0)
  const line = makeTopology('line', 30, new Random(1))
  const limited = runFloodingBaseline(line, { ...base, hopLimit: 3 })
  assert.ok(limited.hops.max <= 4)
  assert.ok(limited.deliveryRatio < 0.5)
  const same = runFloodingBaseline(rgg, { ...base, hopLimit: Infinity })
  assert.deepEqual(same, all, 'same seed, same result')
})

test('a flooding node rebroadcasts once, is cancelled by a neighbour\'s copy, and delivers its own', () => {
  const n = new FloodingNode(1)
  const p = { id: 7, src: 0, dst: 9, hopLimit: 2, hops: 1 }
  assert.deepEqual(n.receive(p), { out: [], schedule: true, duplicate: false })
  assert.equal(n.receive(p).duplicate, true)
  assert.deepEqual(n.fire(7), [], 'cancelled by the copy heard')
  const m = new FloodingNode(2)
  m.receive({ ...p, id: 8 })
  assert.deepEqual(m.fire(8), [{ kind: 'broadcast', packet: { ...p, id: 8, hopLimit: 1 } }])
  const dst = new FloodingNode(9)
  assert.equal(dst.receive(p).out[0]?.kind, 'deliver')
  assert.equal(new FloodingNode(3).receive({ ...p, hopLimit: 0 }).schedule, false)
})

test('the SVG writer makes well-formed SVG with the series in it', () => {
  const svg = lineChart({ title: 'a < b', xLabel: 's', markers: [2], panels: [{ title: 'p', yLabel: 'y', series: [{ name: 's1', x: [0, 1, 2, 3], y: [1, NaN, 3, 2] }] }] })
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
  assert.match(svg, /a &lt; b/)
  assert.equal((svg.match(/<path /g) ?? []).length, 1)
  assert.match(svg, /<\/svg>\n$/)
  const bars = barChart({ title: 't', yLabel: 'y', categories: ['a', 'b'], series: [{ name: 'x', values: [1, 2] }, { name: 'z', values: [3, 4] }] })
  assert.equal((bars.match(/<rect x="[\d.]+" y="[\d.]+" width/g) ?? []).length, 4 + 2)
  assert.deepEqual(ticks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1])
})
