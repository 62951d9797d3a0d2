// The simulator delivers messages after the latency model's delay, runs timers in time
// order, counts traffic, and replays a run exactly from its seed.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PlaneLatency } from '../../src/sim/latency.ts'
import { Random } from '../../src/sim/random.ts'
import { Simulator } from '../../src/sim/simulator.ts'

test('a message arrives after the link latency; traffic is counted on both ends', () => {
  const sim = new Simulator<string>(3, { oneWay: (a, b) => 10 * (a + b) })
  const log: string[] = []
  sim.onDeliver((to, from, message) => { log.push(`${sim.now} ${from}->${to} ${message}`) })
  sim.send(1, 2, 'hello', 100)
  sim.after(5, () => { sim.send(0, 1, 'early', 7) })
  sim.run()
  assert.deepEqual(log, ['15 0->1 early', '30 1->2 hello'])
  assert.equal(sim.traffic.sentBytes[1], 100)
  assert.equal(sim.traffic.receivedBytes[2], 100)
  assert.equal(sim.traffic.receivedMessages[1], 1)
  assert.deepEqual(Array.from(sim.traffic.totalBytes()), [7, 107, 100])
})

test('run(until) stops before later events and advances the clock', () => {
  const sim = new Simulator<string>(1, { oneWay: () => 0 })
  const fired: number[] = []
  sim.at(10, () => fired.push(10))
  sim.at(30, () => fired.push(30))
  assert.equal(sim.run(20), 1)
  assert.equal(sim.now, 20)
  assert.deepEqual(fired, [10])
  sim.run()
  assert.deepEqual(fired, [10, 30])
})

/** A gossip flood with random forwarding: every delivery depends on all earlier randomness. */
function gossip (seed: number): { order: string[], bytes: number[] } {
  const random = new Random(seed)
  const nodes = 50
  const sim = new Simulator<number>(nodes, new PlaneLatency(nodes, random.fork()))
  const order: string[] = []
  sim.onDeliver((to, from, ttl) => {
    order.push(`${sim.now.toFixed(6)}:${from}>${to}`)
    if (ttl === 0) return
    for (let i = 0; i < 2; i++) sim.send(to, random.int(nodes), ttl - 1, 10 + random.int(100))
  })
  sim.send(0, 1, 8, 10)
  sim.run()
  return { order, bytes: Array.from(sim.traffic.totalBytes()) }
}

test('the same seed replays the same run; another seed does not', () => {
  const a = gossip(11)
  assert.deepEqual(gossip(11), a)
  assert.ok(a.order.length > 100)
  assert.notDeepEqual(gossip(12).order, a.order)
})
