// The Link compliance suite (STYLE.md §8): what every Link implementation promises, run
// against each of them (libp2p-link.test.ts, udp-link.test.ts, and any link to come).
// Each test gets a fresh connected pair from `makePair` and cleans it up, pass or fail.
//
// The suite never overruns a link: senders keep a window of frames in flight, so a
// datagram link on loopback is not asked to survive a full socket buffer, and "no loss"
// means what it says. A `send` that returns false (queue full) is retried.
//
// Decisions checked here, for every implementation:
// - Frames that arrive before the first `onFrame` handler is set are kept (up to
//   PENDING_FRAMES) and handed to it, in order: a provider announces a link synchronously
//   and its user may attach a handler a moment later.
// - `onClose` set after the link closed still fires, once, with the reason.
// - Empty frames are not part of the contract (every mesh frame has a type byte).

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Link } from '../../src/mesh/link.ts'
import { eventually } from '../host/cluster.ts'

export interface LinkPair {
  /** Two ends of one link: `a` on one node, `b` on the other. */
  a: Link
  b: Link
  /** Each node's own Ed25519 public key: `a.remoteKey` must equal `bKey`. */
  aKey: Uint8Array
  bKey: Uint8Array
  cleanup: () => Promise<void>
}

export interface ComplianceOptions {
  /** How soon the far side must notice a close, in ms. */
  closeWithinMs?: number
}

const FRAMES = 300
const WINDOW = 32
const WAIT_MS = 10_000

/** Frame `i` of a stream `tag`: its index and tag, then bytes derived from both. */
export function testFrame (tag: number, i: number, size: number): Uint8Array {
  const f = new Uint8Array(size)
  const head = [tag, i >>> 16, (i >>> 8) & 0xff, i & 0xff]
  for (let k = 0; k < size; k++) f[k] = k < head.length ? (head[k] as number) & 0xff : (tag * 131 + i * 31 + k * 7) & 0xff
  return f
}

/** Sends `count` frames, keeping at most WINDOW ahead of what the far side has received. */
async function pump (from: Link, count: number, frame: (i: number) => Uint8Array, received: () => number): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (i - received() >= WINDOW) await eventually(() => i - received() < WINDOW, `the far side to catch up (frame ${i}, received ${received()})`, WAIT_MS)
    const f = frame(i)
    const deadline = Date.now() + WAIT_MS
    while (!from.send(f)) {
      assert.ok(!from.closed, 'link closed while sending')
      assert.ok(Date.now() < deadline, `send of frame ${i} kept failing`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
}

function collect (link: Link): Uint8Array[] {
  const got: Uint8Array[] = []
  link.onFrame((f) => { got.push(f) })
  return got
}

function closeWatch (link: Link): { reasons: string[], closed: Promise<string> } {
  const reasons: string[] = []
  const closed = new Promise<string>((resolve) => { link.onClose((r) => { reasons.push(r); resolve(r) }) })
  return { reasons, closed }
}

async function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms waiting for ${what}`)) }, ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

const sizeOf = (mtu: number) => (i: number): number => 1 + ((i * 97) % Math.min(mtu, 1500))

export function linkCompliance (name: string, makePair: () => Promise<LinkPair>, options: ComplianceOptions = {}): void {
  const closeWithinMs = options.closeWithinMs ?? 2_000

  const withPair = async (body: (pair: LinkPair) => void | Promise<void>): Promise<void> => {
    const pair = await makePair()
    try {
      await body(pair)
    } finally {
      await pair.cleanup()
    }
  }

  describe(`${name}: Link compliance`, () => {
    test('describes itself: kind, id, mtu, bitrate, and the far side\'s key', async () => {
      await withPair(({ a, b, aKey, bKey }) => {
        for (const l of [a, b]) {
          assert.equal(typeof l.kind, 'string')
          assert.ok(l.kind.length > 0)
          assert.equal(typeof l.id, 'string')
          assert.ok(Number.isInteger(l.mtu) && l.mtu >= 256, `mtu ${l.mtu}`)
          assert.ok(l.bitrate > 0, `bitrate ${l.bitrate}`)
          assert.equal(l.closed, false)
        }
        assert.equal(a.kind, b.kind)
        assert.equal(aKey.byteLength, 32)
        assert.deepEqual(new Uint8Array(a.remoteKey), new Uint8Array(bKey))
        assert.deepEqual(new Uint8Array(b.remoteKey), new Uint8Array(aKey))
      })
    })

    test(`${FRAMES} frames arrive intact and in order`, async () => {
      await withPair(async ({ a, b }) => {
        const got = collect(b)
        const size = sizeOf(a.mtu)
        await pump(a, FRAMES, (i) => testFrame(1, i, size(i)), () => got.length)
        await eventually(() => got.length >= FRAMES, `${FRAMES} frames (have ${got.length})`, WAIT_MS)
        assert.equal(got.length, FRAMES)
        for (let i = 0; i < FRAMES; i++) assert.deepEqual(got[i], testFrame(1, i, size(i)), `frame ${i}`)
      })
    })

    test('frames of every size class from 1 byte to the mtu arrive whole', async () => {
      await withPair(async ({ a, b }) => {
        const mtu = a.mtu
        const sizes = [...new Set([1, 2, 3, 7, 64, 255, 256, 257, 1000, Math.floor(mtu / 2), mtu - 2, mtu - 1, mtu])].filter((s) => s >= 1 && s <= mtu)
        const got = collect(b)
        await pump(a, sizes.length, (i) => testFrame(2, i, sizes[i] as number), () => got.length)
        await eventually(() => got.length >= sizes.length, `${sizes.length} frames (have ${got.length})`, WAIT_MS)
        assert.deepEqual(got.map((f) => f.byteLength), sizes)
        for (let i = 0; i < sizes.length; i++) assert.deepEqual(got[i], testFrame(2, i, sizes[i] as number), `frame of ${sizes[i]} bytes`)
      })
    })

    test('a frame over the mtu is refused and nothing of it is sent', async () => {
      await withPair(async ({ a, b }) => {
        const got = collect(b)
        assert.equal(a.send(new Uint8Array(a.mtu + 1).fill(9)), false)
        assert.equal(a.send(new Uint8Array(a.mtu * 3).fill(9)), false)
        assert.equal(a.closed, false, 'an oversized send does not close the link')
        const marker = testFrame(3, 0, 16)
        assert.equal(a.send(marker), true)
        await eventually(() => got.length >= 1, 'the marker frame', WAIT_MS)
        // Give anything wrongly sent time to show up after the marker too.
        await new Promise((resolve) => setTimeout(resolve, 200))
        assert.deepEqual(got, [marker])
      })
    })

    test('traffic both ways at once: each side gets all of the other\'s frames, in order', async () => {
      await withPair(async ({ a, b }) => {
        const atB = collect(b)
        const atA = collect(a)
        const size = sizeOf(Math.min(a.mtu, b.mtu))
        await Promise.all([
          pump(a, FRAMES, (i) => testFrame(4, i, size(i)), () => atB.length),
          pump(b, FRAMES, (i) => testFrame(5, i, size(i + 1)), () => atA.length)
        ])
        await eventually(() => atA.length >= FRAMES && atB.length >= FRAMES, `frames both ways (a has ${atA.length}, b has ${atB.length})`, WAIT_MS)
        for (let i = 0; i < FRAMES; i++) {
          assert.deepEqual(atB[i], testFrame(4, i, size(i)), `a→b frame ${i}`)
          assert.deepEqual(atA[i], testFrame(5, i, size(i + 1)), `b→a frame ${i}`)
        }
      })
    })

    test('frames sent before the far side sets its handler are handed to it, in order', async () => {
      await withPair(async ({ a, b }) => {
        const early = [0, 1, 2, 3, 4].map((i) => testFrame(6, i, 40 + i))
        for (const f of early) assert.equal(a.send(f), true)
        await new Promise((resolve) => setTimeout(resolve, 300))
        const got = collect(b)
        const late = testFrame(6, 5, 45)
        assert.equal(a.send(late), true)
        await eventually(() => got.length >= 6, `the early frames and one more (have ${got.length})`, WAIT_MS)
        assert.deepEqual(got, [...early, late])
      })
    })

    test('close on one side closes both: onClose fires once on each, the far side within the bound', async () => {
      await withPair(async ({ a, b }) => {
        const atA = closeWatch(a)
        const atB = closeWatch(b)
        const got = collect(b)
        const startedAt = Date.now()
        a.close()
        assert.equal(a.closed, true, 'closed at once on the closing side')
        assert.equal(atA.reasons.length, 1, 'the closing side hears of it at once')
        await within(atB.closed, closeWithinMs, 'the far side to close')
        const tookMs = Date.now() - startedAt
        assert.ok(tookMs <= closeWithinMs, `far side closed after ${tookMs} ms`)
        assert.equal(b.closed, true)
        assert.equal(typeof atB.reasons[0], 'string')
        a.close()
        b.close()
        await new Promise((resolve) => setTimeout(resolve, 100))
        assert.equal(atA.reasons.length, 1, 'onClose fires once')
        assert.equal(atB.reasons.length, 1, 'onClose fires once')
        assert.equal(got.length, 0)
      })
    })

    test('send after close returns false on both sides, and nothing arrives', async () => {
      await withPair(async ({ a, b }) => {
        const gotA = collect(a)
        const gotB = collect(b)
        const atA = closeWatch(a)
        b.close()
        assert.equal(b.send(testFrame(7, 0, 10)), false)
        await within(atA.closed, closeWithinMs, 'the far side to close')
        assert.equal(a.send(testFrame(7, 1, 10)), false)
        await new Promise((resolve) => setTimeout(resolve, 200))
        assert.equal(gotA.length, 0)
        assert.equal(gotB.length, 0)
      })
    })

    test('onClose set after the close still fires, once, with the reason', async () => {
      await withPair(async ({ a }) => {
        a.close()
        const reasons: string[] = []
        a.onClose((r) => { reasons.push(r) })
        await eventually(() => reasons.length > 0, 'the late close handler', 1_000)
        await new Promise((resolve) => setTimeout(resolve, 50))
        assert.equal(reasons.length, 1)
        assert.equal(typeof reasons[0], 'string')
      })
    })
  })
}
