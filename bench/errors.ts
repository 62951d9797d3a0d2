// Named errors for the benchmarks (STYLE.md §4): told apart by `.name`.

export class BenchmarkError extends Error {
  override name = 'BenchmarkError'
}

/** A benchmark step did not finish within its bound. */
export class BenchmarkTimeoutError extends BenchmarkError {
  override name = 'BenchmarkTimeoutError'
}

/** A spawned process exited, or never printed its ready line. */
export class ProcessStartError extends BenchmarkError {
  override name = 'ProcessStartError'
}

/** The sink answered with a byte count other than what was sent. */
export class ByteCountMismatchError extends BenchmarkError {
  override name = 'ByteCountMismatchError'
}
