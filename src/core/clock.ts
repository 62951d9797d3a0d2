// The clock is injected (STYLE.md §6) so protocol cores and tests can run on virtual time.

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now: () => number
}

export const systemClock: Clock = { now: () => Date.now() }
