// The discrete-event simulator: virtual nodes, virtual time, messages delivered after the
// latency model's delay, timers. It knows nothing of any protocol: a protocol core plugs
// in through `deliver`, and sends and sets timers through the simulator. Nothing here reads
// a clock or a socket, so the same seed replays the same run event for event.

import { EventQueue } from './event-queue.ts'
import type { LatencyModel } from './latency.ts'
import { NodeTraffic } from './metrics.ts'

export type Deliver<M> = (to: number, from: number, message: M) => void

/** A message (the queue carries its sender and receiver, see send) or a timer's action (sender TIMER). */
type Event<M> = M | (() => void)

const TIMER = -1

export class Simulator<M> {
  /** Virtual time in milliseconds. */
  now = 0
  /** Events processed so far. */
  processed = 0
  readonly traffic: NodeTraffic
  private readonly queue = new EventQueue<Event<M>>()
  private deliver: Deliver<M> = () => {}

  readonly nodes: number
  private readonly latency: LatencyModel

  constructor (nodes: number, latency: LatencyModel) {
    this.nodes = nodes
    this.latency = latency
    this.traffic = new NodeTraffic(nodes)
  }

  /** Sets the function that receives every delivered message (the protocol's entry point). */
  onDeliver (deliver: Deliver<M>): void {
    this.deliver = deliver
  }

  /** Sends `message` of `bytes` bytes on the wire; it arrives after the link's one-way latency. */
  send (from: number, to: number, message: M, bytes: number): void {
    this.traffic.record(from, to, bytes)
    this.queue.push(this.now + this.latency.oneWay(from, to), message, from, to)
  }

  /** Runs `action` at virtual time `time` (not before now). */
  at (time: number, action: () => void): void {
    this.queue.push(Math.max(time, this.now), action, TIMER)
  }

  /** Runs `action` after `delay` milliseconds of virtual time. */
  after (delay: number, action: () => void): void {
    this.at(this.now + delay, action)
  }

  /** Processes events in time order until none is left or the next is after `until`; returns how many ran. */
  run (until = Infinity): number {
    let count = 0
    const queue = this.queue
    for (;;) {
      const time = queue.nextTime()
      if (time === Infinity || time > until) break
      const event = queue.popValue() as Event<M>
      this.now = time
      const from = queue.poppedA
      if (from === TIMER) (event as () => void)()
      else this.deliver(queue.poppedB, from, event as M)
      count++
    }
    this.processed += count
    if (until !== Infinity && this.now < until) this.now = until
    return count
  }

  get pending (): number {
    return this.queue.size
  }
}
