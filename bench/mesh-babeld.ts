// Benchmark `mesh-babeld` (issue 4, benchmark 1): Peernet's mesh against babeld, side by
// side on the same namespace topology — a grid of network namespaces, each reaching only
// its grid neighbours over veth links. For each: time from starting the routers until
// corner A first reaches the opposite corner Z; time from a link cut on the A → Z path to
// restored end-to-end reachability, for carrier cuts (link set down) and silent cuts
// (every frame dropped, carrier up); idle control bytes per node per second. Goal:
// recovery no slower than babeld, idle control traffic at most half of babeld's.
//
// Each half runs on a freshly made grid of the same shape, one after the other; the
// namespaces are deleted after each half and on any exit (mesh-grid.ts).

import { resolve } from 'node:path'
import { createGrid, linkLocalReady } from './mesh-grid.ts'
import { netnsUnavailable } from '../test/helpers/netns.ts'
import { BABEL_PORT, BABELD_TIMERS, babeldUnavailable, runBabeldSide } from './mesh-babeld-side.ts'
import type { MeshSideOptions, MeshSideResult } from './mesh-babeld-side.ts'
import { DEFAULT_PEERNET_ARGS, MESH_PORT, peernetUnavailable, runPeernetSide } from './mesh-peernet-side.ts'
import type { PeernetSideResult } from './mesh-peernet-side.ts'

const REPO = resolve(import.meta.dirname, '..')

export type MeshSubject = 'babeld' | 'peernet'
export const MESH_SUBJECTS: readonly MeshSubject[] = ['babeld', 'peernet']

export interface MeshBabeldOptions extends MeshSideOptions {
  rows: number
  cols: number
  only: MeshSubject[]
  /** Flags for `peernet daemon` besides its home, listen and API addresses. */
  peernetArgs: string[]
  meshPort: number
}

export const DEFAULT_MESH_BABELD_OPTIONS: MeshBabeldOptions = {
  rows: 4,
  cols: 5,
  cuts: 5,
  // Longer than Peernet's periodic full update (240 s, jittered), so the count holds one
  // (babeld's comes every 16 s): a shorter window after a common start would miss them all.
  idleMs: 300_000,
  settleMs: 30_000,
  probeIntervalMs: 50,
  convergeTimeoutMs: 120_000,
  cutTimeoutMs: 60_000,
  restoreSettleMs: 30_000,
  only: [...MESH_SUBJECTS],
  peernetArgs: [...DEFAULT_PEERNET_ARGS],
  meshPort: MESH_PORT
}

export type MeshHalf<T> = T | { skipped: string } | { failed: string }

export interface MeshBabeldResult {
  parameters: Omit<MeshBabeldOptions, 'only'> & { subjects: MeshSubject[], nodes: number, links: number, babelPort: number, babeldTimers: typeof BABELD_TIMERS }
  babeld: MeshHalf<MeshSideResult>
  peernet: MeshHalf<PeernetSideResult>
  goals: {
    /** Peernet's median recovery ≤ babeld's, per cut method; null when a half is missing. */
    recoveryCarrierMet: boolean | null
    recoverySilentMet: boolean | null
    /** The same, each recovery less its probe's own round trip (a ping against a mesh send through the API). */
    recoveryCarrierNetMet: boolean | null
    recoverySilentNetMet: boolean | null
    /**
     * Peernet lost no more probes sent after its cuts than babeld did (CutSample.lostAfterCut):
     * the comparison free of each probe's phase and round trip, at the probe interval's
     * resolution. Optional: results from before it have none.
     */
    recoveryCarrierProbesMet?: boolean | null
    recoverySilentProbesMet?: boolean | null
    /** Peernet's idle mesh-port bytes per node per second ≤ half of babeld's. */
    idleMet: boolean | null
  }
}

export function isMeasured<T extends object> (half: MeshHalf<T>): half is T {
  return !('skipped' in half) && !('failed' in half)
}

export async function measureMeshBabeld (options: MeshBabeldOptions, progress: (line: string) => void): Promise<MeshBabeldResult> {
  const noNetns = netnsUnavailable()
  const halves: { babeld: MeshHalf<MeshSideResult>, peernet: MeshHalf<PeernetSideResult> } = {
    babeld: { skipped: 'not asked for (--only)' },
    peernet: { skipped: 'not asked for (--only)' }
  }
  let links = 0
  for (const subject of options.only) {
    const why = noNetns ?? (subject === 'babeld' ? babeldUnavailable() : peernetUnavailable())
    if (why !== undefined) {
      progress(`mesh-babeld: skipping the ${subject} half: ${why}`)
      halves[subject] = { skipped: why }
      continue
    }
    progress(`mesh-babeld: ${subject} on a ${options.rows}×${options.cols} grid`)
    const grid = createGrid(options.rows, options.cols)
    links = grid.links.length
    try {
      await linkLocalReady(grid, 30_000)
      if (subject === 'babeld') halves.babeld = await runBabeldSide(grid, options, REPO, progress)
      else halves.peernet = await runPeernetSide(grid, options, REPO, progress)
    } catch (err) {
      const e = err as Error
      progress(`mesh-babeld: the ${subject} half failed: ${e.name}: ${e.message}`)
      halves[subject] = { failed: `${e.name}: ${e.message.split('\n')[0] ?? ''}` }
    } finally {
      grid.destroy()
    }
  }
  const b = halves.babeld
  const p = halves.peernet
  const both = isMeasured(b) && isMeasured(p)
  const { only, ...rest } = options
  return {
    parameters: { ...rest, subjects: only, nodes: options.rows * options.cols, links, babelPort: BABEL_PORT, babeldTimers: BABELD_TIMERS },
    babeld: b,
    peernet: p,
    goals: {
      recoveryCarrierMet: both ? p.cuts.carrier.unrecovered === 0 && p.cuts.carrier.medianMs <= b.cuts.carrier.medianMs : null,
      recoverySilentMet: both ? p.cuts.silent.unrecovered === 0 && p.cuts.silent.medianMs <= b.cuts.silent.medianMs : null,
      recoveryCarrierNetMet: both ? p.cuts.carrier.unrecovered === 0 && p.cuts.carrier.netMedianMs <= b.cuts.carrier.netMedianMs : null,
      recoveryCarrierProbesMet: both ? p.cuts.carrier.unrecovered === 0 && p.cuts.carrier.lostAfterCuts <= b.cuts.carrier.lostAfterCuts : null,
      recoverySilentProbesMet: both ? p.cuts.silent.unrecovered === 0 && p.cuts.silent.lostAfterCuts <= b.cuts.silent.lostAfterCuts : null,
      recoverySilentNetMet: both ? p.cuts.silent.unrecovered === 0 && p.cuts.silent.netMedianMs <= b.cuts.silent.netMedianMs : null,
      idleMet: both ? p.idle.perNode.portBytesPerSecond <= b.idle.perNode.portBytesPerSecond / 2 : null
    }
  }
}
