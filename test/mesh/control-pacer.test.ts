import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CONTROL_SHARE, ControlPacer } from '../../src/mesh/control-pacer.ts'

const packet = (n: number): Uint8Array => new Uint8Array(n)

test('control traffic on a slow link is held to its share of the bitrate', () => {
  // A LoRa-like link: 300 bytes/s, so control may use 30 bytes/s after a 100-byte burst.
  const pacer = new ControlPacer(300, 100, 0)
  let sent = 0
  let now = 0
  for (let i = 0; i < 40; i++) sent += pacer.offer(packet(20), now).length * 20
  assert.equal(sent, 100, 'the burst goes at once, the rest waits')
  while (now < 10_000) {
    now = Math.max(now + 1, pacer.nextDeadline())
    if (now > 10_000) break
    sent += pacer.drain(now).reduce((n, p) => n + p.byteLength, 0)
  }
  const allowed = 100 + 300 * CONTROL_SHARE * 10
  assert.ok(sent <= allowed, `${sent} bytes in 10 s, at most ${allowed}`)
  assert.ok(sent >= allowed - 20, `${sent} bytes in 10 s: the pacer does not starve the link either`)
})

test('the queue is bounded: the oldest control packets give way to newer ones', () => {
  const pacer = new ControlPacer(10, 10, 0)
  for (let i = 0; i < 100; i++) pacer.offer(Uint8Array.of(i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0)
  assert.ok(pacer.queued <= 32)
  assert.ok(pacer.dropped >= 100 - 32 - 1)
  const out: Uint8Array[] = []
  while (pacer.queued > 0) out.push(...pacer.drain(pacer.nextDeadline()))
  assert.equal(out.length, 32)
  assert.equal(out.at(-1)?.[0], 99, 'the newest packet survives')
})

test('a packet bigger than the burst still goes once the bucket is full', () => {
  const pacer = new ControlPacer(1000, 50, 0)
  assert.equal(pacer.offer(packet(80), 0).length, 1)
  assert.equal(pacer.offer(packet(80), 1).length, 0)
  assert.equal(pacer.nextDeadline() > 1, true)
  assert.equal(pacer.drain(pacer.nextDeadline()).length, 1)
  assert.equal(pacer.nextDeadline(), Infinity)
})
