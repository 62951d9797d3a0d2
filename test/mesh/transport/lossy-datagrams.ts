// An in-memory datagram service between node keys, for the mesh transport tests: it
// stands in for the mesh (which the transport only sees through MeshDatagrams) with
// seeded random loss, duplication and delay (random delay reorders), on real timers.

import type { MeshDatagrams } from '../../../src/mesh/transport/mesh-transport.ts'

export interface LossyOptions {
  loss: number
  duplicate: number
  /** One-way delay: baseDelayMs plus up to jitterMs at random. */
  baseDelayMs: number
  jitterMs: number
  mtu: number
  seed: number
}

export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const hex = (key: Uint8Array): string => Buffer.from(key).toString('hex')

export class LossyDatagramHub {
  readonly options: LossyOptions
  private readonly random: () => number
  private readonly handlers = new Map<string, (src: Uint8Array, payload: Uint8Array) => void>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  sent = 0
  dropped = 0
  oversize = 0

  constructor (options: Partial<LossyOptions> = {}) {
    this.options = { loss: 0, duplicate: 0, baseDelayMs: 1, jitterMs: 0, mtu: 1000, seed: 1, ...options }
    this.random = mulberry32(this.options.seed)
  }

  /**
   * A datagram service for one node. The node's key is known only once the node exists
   * (its transport is made before), so the endpoint is bound to the key afterwards.
   */
  endpoint (): MeshDatagrams & { bind: (key: Uint8Array) => void } {
    let self: Uint8Array | undefined
    let receiver: ((src: Uint8Array, payload: Uint8Array) => void) | undefined
    const deliver = (src: Uint8Array, payload: Uint8Array): void => { receiver?.(src, payload) }
    return {
      mtu: this.options.mtu,
      bind: (key) => {
        self = key.slice()
        this.handlers.set(hex(self), deliver)
      },
      send: (peerKey, payload) => {
        if (self === undefined) throw new Error('endpoint not bound to a key yet')
        this.carry(self, peerKey, payload)
      },
      onReceive: (handler) => {
        receiver = handler
        return () => { if (receiver === handler) receiver = undefined }
      },
      reachable: (peerKey) => this.handlers.has(hex(peerKey))
    }
  }

  /** Takes a node off the hub: it becomes unreachable and receives nothing. */
  remove (key: Uint8Array): void {
    this.handlers.delete(hex(key))
  }

  private carry (src: Uint8Array, dst: Uint8Array, payload: Uint8Array): void {
    this.sent++
    if (payload.byteLength > this.options.mtu) {
      this.oversize++
      return
    }
    if (this.random() < this.options.loss) {
      this.dropped++
      return
    }
    const copies = this.random() < this.options.duplicate ? 2 : 1
    const bytes = payload.slice()
    for (let i = 0; i < copies; i++) {
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        this.handlers.get(hex(dst))?.(src, bytes)
      }, this.options.baseDelayMs + this.random() * this.options.jitterMs)
      this.timers.add(timer)
    }
  }

  close (): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }
}
