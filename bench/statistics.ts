// Order statistics over a handful of samples. With so few samples, percentiles use the
// nearest-rank method: the result is always one of the measured values.

export function percentile (samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? NaN
}

/** The median; the mean of the two middle values for an even count. */
export function median (samples: readonly number[]): number {
  if (samples.length === 0) return NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const upper = sorted[mid] ?? NaN
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] ?? NaN) + upper) / 2
}

export function min (samples: readonly number[]): number {
  return samples.length === 0 ? NaN : Math.min(...samples)
}

export function max (samples: readonly number[]): number {
  return samples.length === 0 ? NaN : Math.max(...samples)
}
