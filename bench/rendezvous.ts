// Benchmark 3 of issue 3: rendezvous for 1,000,000 networks over 10,000 simulated DHT
// nodes. The experiment itself lives with the simulator (src/sim/rendezvous/experiment.ts,
// also behind `peernet sim rendezvous`); this file gives it the benchmark's name.

import { DEFAULT_RENDEZVOUS_OPTIONS, runRendezvousExperiment } from '../src/sim/rendezvous/experiment.ts'
import type { Progress, RendezvousOptions, RendezvousResult } from '../src/sim/rendezvous/experiment.ts'

export type { RendezvousOptions, RendezvousResult }
export { DEFAULT_RENDEZVOUS_OPTIONS }

/** The issue's size; runs at another size say so in their report. */
export const ISSUE_NODES = 10_000
export const ISSUE_NETWORKS = 1_000_000

export async function measureRendezvous (options: RendezvousOptions, progress: Progress): Promise<RendezvousResult> {
  return await runRendezvousExperiment(options, progress)
}
