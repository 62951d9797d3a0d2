// Network sizes drawn from a bounded Zipf (discrete power-law) distribution:
// P(size = s) ∝ s^-exponent for min ≤ s ≤ max. Most networks are a handful of friends;
// a few hold a sizeable part of everyone. Sampling by inverse CDF over a table of the
// (max - min + 1) cumulative weights.

import type { Random } from '../random.ts'

export interface ZipfSizes {
  exponent: number
  min: number
  max: number
}

export class ZipfSampler {
  private readonly cdf: Float64Array
  readonly spec: ZipfSizes

  constructor (spec: ZipfSizes) {
    if (!(spec.min >= 1 && spec.max >= spec.min && Number.isInteger(spec.min) && Number.isInteger(spec.max))) {
      throw new RangeError(`Zipf sizes need integers 1 ≤ min ≤ max, got ${spec.min}..${spec.max}`)
    }
    this.spec = spec
    const n = spec.max - spec.min + 1
    this.cdf = new Float64Array(n)
    let sum = 0
    for (let i = 0; i < n; i++) {
      sum += Math.pow(spec.min + i, -spec.exponent)
      this.cdf[i] = sum
    }
    for (let i = 0; i < n; i++) this.cdf[i] = (this.cdf[i] ?? 0) / sum
  }

  sample (random: Random): number {
    const u = random.float()
    let lo = 0
    let hi = this.cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.cdf[mid] ?? 1) <= u) lo = mid + 1
      else hi = mid
    }
    return this.spec.min + lo
  }

  /** The distribution's mean size. */
  mean (): number {
    let prev = 0
    let mean = 0
    for (let i = 0; i < this.cdf.length; i++) {
      const c = this.cdf[i] ?? 0
      mean += (this.spec.min + i) * (c - prev)
      prev = c
    }
    return mean
  }
}
