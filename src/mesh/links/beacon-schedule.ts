// When a UDP link provider sends its next discovery beacon. Pure: the caller passes the
// time and sends when `nextAt` has come.
//
// Beacons are the idle cost of the LAN link, paid by every node on the segment for ever,
// so they back off: the interval starts at `minMs` and doubles after each beacon up to
// `maxMs` while nothing changes. A change (a neighbour found or lost, an interface up or
// down) makes the next beacon come soon and the interval start over; the first few
// beacons after a change ask neighbours to answer at once (SOLICIT), so a node that
// just arrived or restarted learns its neighbours in one round trip, not one max interval.
// Each interval is jittered by ±10% so neighbours that changed together do not stay in step.

export interface BeaconTiming {
  minMs: number
  maxMs: number
}

/** Beacons after a change that solicit answers. */
const SOLICITING_BEACONS = 3

export class BeaconSchedule {
  readonly #timing: BeaconTiming
  readonly #random: () => number
  #interval: number
  #nextAt: number
  #soliciting = SOLICITING_BEACONS

  /** The first beacon is due at once. */
  constructor (timing: BeaconTiming, now: number, random: () => number = Math.random) {
    this.#timing = timing
    this.#random = random
    this.#interval = timing.minMs
    this.#nextAt = now
  }

  get nextAt (): number { return this.#nextAt }

  /** The current interval, before jitter. */
  get intervalMs (): number { return this.#interval }

  /** Whether the beacon due now should ask neighbours to answer. */
  get soliciting (): boolean { return this.#soliciting > 0 }

  /** A beacon went out at `now`. */
  sent (now: number): void {
    this.#nextAt = now + Math.round(this.#interval * (0.9 + 0.2 * this.#random()))
    this.#interval = Math.min(this.#interval * 2, this.#timing.maxMs)
    if (this.#soliciting > 0) this.#soliciting--
  }

  /** The neighbour set or the interfaces changed at `now`. */
  changed (now: number): void {
    this.#interval = this.#timing.minMs
    this.#soliciting = SOLICITING_BEACONS
    // Soon, but not in the same instant as every other node that saw the same change.
    this.#nextAt = Math.min(this.#nextAt, now + Math.round(this.#random() * this.#timing.minMs / 4))
  }
}
