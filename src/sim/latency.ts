// Link latency between virtual nodes. Each node gets a random point in a unit square (a
// crude planet: distance stands for geography); one-way latency is a fixed floor plus a
// term proportional to the distance. Deterministic given the seed, symmetric, and cheap
// (no N×N matrix), which is what a 100,000-node run needs.

import type { Random } from './random.ts'

export interface LatencyModel {
  /** One-way delay in milliseconds from node `a` to node `b`. */
  oneWay: (a: number, b: number) => number
}

export interface PlaneLatencyOptions {
  /** Floor of every one-way delay (ms): serialization, queues, the last mile. */
  baseMs: number
  /** Extra one-way delay (ms) across the whole square (its side). */
  spanMs: number
}

export const DEFAULT_PLANE_LATENCY: PlaneLatencyOptions = { baseMs: 10, spanMs: 100 }

export class PlaneLatency implements LatencyModel {
  private readonly x: Float64Array
  private readonly y: Float64Array

  private readonly options: PlaneLatencyOptions

  constructor (nodes: number, random: Random, options: PlaneLatencyOptions = DEFAULT_PLANE_LATENCY) {
    this.options = options
    this.x = new Float64Array(nodes)
    this.y = new Float64Array(nodes)
    for (let i = 0; i < nodes; i++) {
      this.x[i] = random.float()
      this.y[i] = random.float()
    }
  }

  oneWay (a: number, b: number): number {
    const dx = (this.x[a] ?? 0) - (this.x[b] ?? 0)
    const dy = (this.y[a] ?? 0) - (this.y[b] ?? 0)
    return this.options.baseMs + this.options.spanMs * Math.sqrt(dx * dx + dy * dy)
  }
}
