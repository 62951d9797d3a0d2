// The simulator's agenda: a binary min-heap of events keyed by virtual time. Events at the
// same time come out in the order they were scheduled (a sequence number breaks the tie),
// so a run never depends on the heap's internal layout: same inputs, same order.

export interface ScheduledEvent<T> {
  /** Virtual time in milliseconds. */
  time: number
  /** Insertion order, the tie-breaker. */
  seq: number
  value: T
}

export class EventQueue<T> {
  private readonly heap: Array<ScheduledEvent<T>> = []
  private nextSeq = 0

  get size (): number {
    return this.heap.length
  }

  push (time: number, value: T): void {
    if (Number.isNaN(time)) throw new RangeError('event time is NaN')
    const event = { time, seq: this.nextSeq++, value }
    const heap = this.heap
    heap.push(event)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent] as ScheduledEvent<T>
      if (!before(event, p)) break
      heap[i] = p
      i = parent
    }
    heap[i] = event
  }

  /** The earliest event without removing it. */
  peek (): ScheduledEvent<T> | undefined {
    return this.heap[0]
  }

  /** Removes and returns the earliest event (ties: the first scheduled). */
  pop (): ScheduledEvent<T> | undefined {
    const heap = this.heap
    const top = heap[0]
    if (top === undefined) return undefined
    const last = heap.pop() as ScheduledEvent<T>
    const n = heap.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        let child = l
        if (r < n && before(heap[r] as ScheduledEvent<T>, heap[l] as ScheduledEvent<T>)) child = r
        const c = heap[child] as ScheduledEvent<T>
        if (!before(c, last)) break
        heap[i] = c
        i = child
      }
      heap[i] = last
    }
    return top
  }
}

function before<T> (x: ScheduledEvent<T>, y: ScheduledEvent<T>): boolean {
  return x.time < y.time || (x.time === y.time && x.seq < y.seq)
}
