// The simulator's agenda: a binary min-heap of events keyed by virtual time. Events at the
// same time come out in the order they were scheduled (a sequence number breaks the tie),
// so a run never depends on the heap's internal layout: same inputs, same order.
//
// The heap is kept in columns (times and sequence numbers in typed arrays, values in an
// array, and two integers an event may carry) rather than an object per event: a big
// simulation keeps 10^5–10^6 events pending and runs 10^8 of them.

export interface ScheduledEvent<T> {
  /** Virtual time in milliseconds. */
  time: number
  /** Insertion order, the tie-breaker. */
  seq: number
  value: T
}

export class EventQueue<T> {
  private times = new Float64Array(1024)
  private seqs = new Float64Array(1024)
  private a = new Int32Array(1024)
  private b = new Int32Array(1024)
  private values: Array<T | undefined> = []
  private n = 0
  private nextSeq = 0
  /** The two integers the event popValue() last returned carried (see push). */
  poppedA = 0
  poppedB = 0

  get size (): number {
    return this.n
  }

  /** Schedules `value` at `time`, with two integers `a` and `b` (int32) that popValue() makes known. */
  push (time: number, value: T, a = 0, b = 0): void {
    if (Number.isNaN(time)) throw new RangeError('event time is NaN')
    if (this.n === this.times.length) this.grow()
    const seq = this.nextSeq++
    const times = this.times
    const seqs = this.seqs
    let i = this.n++
    while (i > 0) {
      const parent = (i - 1) >> 1
      const pt = times[parent] as number
      if (!(time < pt || (time === pt && seq < (seqs[parent] as number)))) break
      this.move(parent, i)
      i = parent
    }
    times[i] = time
    seqs[i] = seq
    this.a[i] = a
    this.b[i] = b
    this.values[i] = value
  }

  /** Time of the earliest event, or Infinity when there is none. */
  nextTime (): number {
    return this.n === 0 ? Infinity : this.times[0] as number
  }

  /** The earliest event without removing it. */
  peek (): ScheduledEvent<T> | undefined {
    if (this.n === 0) return undefined
    return { time: this.times[0] as number, seq: this.seqs[0] as number, value: this.values[0] as T }
  }

  /** Removes and returns the earliest event (ties: the first scheduled). */
  pop (): ScheduledEvent<T> | undefined {
    const top = this.peek()
    if (top !== undefined) this.popValue()
    return top
  }

  /** Removes the earliest event and returns its value (its integers in poppedA, poppedB); undefined when empty. */
  popValue (): T | undefined {
    if (this.n === 0) return undefined
    const value = this.values[0]
    this.poppedA = this.a[0] as number
    this.poppedB = this.b[0] as number
    const n = --this.n
    const times = this.times
    const seqs = this.seqs
    if (n > 0) {
      // Sift the last event down from the root.
      const lt = times[n] as number
      const ls = seqs[n] as number
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        let child = l
        if (r < n) {
          const rt = times[r] as number
          const ltm = times[l] as number
          if (rt < ltm || (rt === ltm && (seqs[r] as number) < (seqs[l] as number))) child = r
        }
        const ct = times[child] as number
        if (!(ct < lt || (ct === lt && (seqs[child] as number) < ls))) break
        this.move(child, i)
        i = child
      }
      if (i !== n) this.move(n, i)
    }
    this.values[n] = undefined
    return value
  }

  private move (from: number, to: number): void {
    this.times[to] = this.times[from] as number
    this.seqs[to] = this.seqs[from] as number
    this.a[to] = this.a[from] as number
    this.b[to] = this.b[from] as number
    this.values[to] = this.values[from]
  }

  private grow (): void {
    const size = this.times.length * 2
    const f64 = (x: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => { const y = new Float64Array(size); y.set(x); return y }
    const i32 = (x: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => { const y = new Int32Array(size); y.set(x); return y }
    this.times = f64(this.times)
    this.seqs = f64(this.seqs)
    this.a = i32(this.a)
    this.b = i32(this.b)
  }
}
