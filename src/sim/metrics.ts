// What a simulation measures: per-node traffic counters and summaries of distributions
// (hops per lookup, records per node). Typed arrays throughout: a run has up to 10^5 nodes
// and 10^6 samples, and the summary must be cheap.

/** Bytes and messages each node sent and received. */
export class NodeTraffic {
  readonly sentBytes: Float64Array
  readonly receivedBytes: Float64Array
  readonly sentMessages: Float64Array
  readonly receivedMessages: Float64Array

  readonly nodes: number

  constructor (nodes: number) {
    this.nodes = nodes
    this.sentBytes = new Float64Array(nodes)
    this.receivedBytes = new Float64Array(nodes)
    this.sentMessages = new Float64Array(nodes)
    this.receivedMessages = new Float64Array(nodes)
  }

  record (from: number, to: number, bytes: number): void {
    this.sentBytes[from] = (this.sentBytes[from] ?? 0) + bytes
    this.sentMessages[from] = (this.sentMessages[from] ?? 0) + 1
    this.receivedBytes[to] = (this.receivedBytes[to] ?? 0) + bytes
    this.receivedMessages[to] = (this.receivedMessages[to] ?? 0) + 1
  }

  /** Sent plus received, per node: the load a node's link carries. */
  totalBytes (): Float64Array {
    const out = new Float64Array(this.nodes)
    for (let i = 0; i < this.nodes; i++) out[i] = (this.sentBytes[i] ?? 0) + (this.receivedBytes[i] ?? 0)
    return out
  }

  totalMessages (): Float64Array {
    const out = new Float64Array(this.nodes)
    for (let i = 0; i < this.nodes; i++) out[i] = (this.sentMessages[i] ?? 0) + (this.receivedMessages[i] ?? 0)
    return out
  }
}

export interface Summary {
  count: number
  mean: number
  min: number
  median: number
  p95: number
  p99: number
  max: number
}

/** Order statistics of a sample; percentiles by nearest rank, so each is a value of the sample. */
export function summarize (values: ArrayLike<number>): Summary {
  const n = values.length
  if (n === 0) return { count: 0, mean: NaN, min: NaN, median: NaN, p95: NaN, p99: NaN, max: NaN }
  const sorted = Float64Array.from(values).sort()
  let sum = 0
  for (let i = 0; i < n; i++) sum += sorted[i] ?? 0
  const rank = (p: number): number => sorted[Math.min(n, Math.max(1, Math.ceil(p * n))) - 1] ?? NaN
  return { count: n, mean: sum / n, min: sorted[0] ?? NaN, median: rank(0.5), p95: rank(0.95), p99: rank(0.99), max: sorted[n - 1] ?? NaN }
}

/** How often each integer value occurs (for hop counts): index = value. */
export function histogram (values: ArrayLike<number>): number[] {
  const out: number[] = []
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? 0
    while (out.length <= v) out.push(0)
    out[v] = (out[v] ?? 0) + 1
  }
  return out
}
