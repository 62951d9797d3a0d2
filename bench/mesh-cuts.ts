// What both halves of the mesh benchmark measure the same way: a probe stream from one
// corner of the grid to the other (ping for babeld, acknowledged mesh sends for Peernet),
// the time until the first probe gets through, and link cuts on the current path with the
// time from each cut to restored end-to-end reachability.

import type { Grid, GridHost, GridLink } from './mesh-grid.ts'
import { BenchmarkError, BenchmarkTimeoutError } from './errors.ts'
import { max, median } from './statistics.ts'

/** One probe that got through: when it left and when its answer came back (epoch ms). */
export interface ProbeReply { sentAt: number, receivedAt: number }

export interface Probe {
  /** Every answered probe so far, in order of arrival. */
  readonly replies: ProbeReply[]
  stop: () => Promise<void>
}

/**
 * carrier: both ends of the veth set down (`ip link set down`): the kernel tells the
 * router at once (netlink), like an Ethernet cable pulled. silent: every frame arriving on
 * both ends dropped (nftables netdev ingress), carrier up: like a radio link fading; the
 * router only notices missing hellos.
 */
export type CutMethod = 'carrier' | 'silent'
export const CUT_METHODS: readonly CutMethod[] = ['carrier', 'silent']

export interface CutSample {
  method: CutMethod
  /** The link cut, as `r0c1–r1c1`. */
  link: string
  /** The path from A to Z just before the cut, host labels. */
  pathBefore: string[]
  /** The path once a probe got through again, the link still cut (null: none, or routes still moving). */
  pathAfter: string[] | null
  /** How long the commands making the cut took (the cut counts from their end). */
  cutCommandMs: number
  /** Cut complete to the arrival of the first answer to a probe sent after it; null: none within the bound. */
  recoveryMs: number | null
  /**
   * Cut complete to the *sending* of that first probe to get through: the router's
   * recovery plus the wait for the next probe (0 to one interval), without the probe's own
   * round trip.
   */
  sentAfterMs: number | null
  /**
   * Probes sent after the cut was complete that did not get through before that first one
   * (from the probe period measured before the cut): 0 when the router had a working path
   * by the first probe after the cut. Free of the probe's phase and round trip, so the
   * same measure for ping and for a mesh send; its resolution is the probe interval.
   */
  lostAfterCut: number | null
  /** The probe stream's period measured before the cut (median gap between sends answered), ms. */
  periodMs: number | null
  /** Last answer to a probe sent before the cut began, to that first answer: the gap a user saw. */
  outageMs: number | null
  /**
   * The probe's own round trip before the cut (median over the last second's answers):
   * part of every recovery figure, and not the same for both routers (a ping against an
   * acknowledged mesh send through the daemon's API).
   */
  probeRttMs: number | null
}

/** Median and max over the recovered cuts; `unrecovered` cuts got no probe through within the bound. */
export interface CutSummary {
  count: number
  unrecovered: number
  /** Recovery (cut complete to first answer), median and max. */
  medianMs: number
  maxMs: number
  /** Outage (last answer before to first answer after), median and max. */
  outageMedianMs: number
  outageMaxMs: number
  /** Median of the probe's round trip before each cut (see CutSample.probeRttMs). */
  probeRttMedianMs: number
  /** Recovery less the probe's own round trip before the cut, median: the router's part, whatever the probe costs. */
  netMedianMs: number
  /** Median of CutSample.sentAfterMs: recovery plus the probe's phase, no round trip. */
  sentAfterMedianMs: number
  /** Cuts after which the first probe sent got through (lostAfterCut 0). */
  atOnce: number
  /** Probes lost after the cuts, summed over the recovered cuts (CutSample.lostAfterCut). */
  lostAfterCuts: number
  samples: CutSample[]
}

export interface CutPlan {
  grid: Grid
  from: GridHost
  to: GridHost
  method: CutMethod
  cuts: number
  /** Current path from `from` to `to`, as hosts (both ends included). */
  path: () => Promise<GridHost[]>
  probe: Probe
  /** Bound on each recovery. */
  timeoutMs: number
  /** Wait after restoring a link before the next cut. */
  settleMs: number
  /** Answers needed in the last second before a cut (the path is working). */
  steadyReplies: number
  progress: (line: string) => void
}

export function label (h: GridHost): string {
  return `r${h.row}c${h.col}`
}

export function linkLabel (l: GridLink): string {
  return `${label(l.a)}–${label(l.b)}`
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Waits until `check` holds, polling every `everyMs`; throws after `timeoutMs`. */
export async function until (check: () => boolean | Promise<boolean>, what: string, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new BenchmarkTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** How long routers that are all running wait, links silent, before the links speak (see `linksUp`). */
export const QUIET_START_MS = 5_000

/**
 * Convergence, the same for both routers: every router runs with all links silent (see
 * `setAllSilent`), then all links speak at once and the probe starts; the time from then to
 * the first answer. Starting routers one by one (Peernet daemons take seconds each) would
 * let the early ones converge before the clock starts. Returns the probe, left running.
 */
export async function convergence (grid: Grid, startProbe: () => Probe, alive: () => boolean, what: string, timeoutMs: number): Promise<{ ms: number, probe: Probe }> {
  await sleep(QUIET_START_MS)
  await grid.lab.setAllSilent(false)
  const upAt = Date.now()
  const probe = startProbe()
  let first: ProbeReply | undefined
  try {
    await until(() => {
      if (!alive()) return true
      first = probe.replies.find((r) => r.sentAt >= upAt)
      return first !== undefined
    }, what, timeoutMs, 10)
    if (first === undefined) throw new BenchmarkError(`a router exited before ${what}`)
  } catch (err) {
    await probe.stop()
    throw err
  }
  return { ms: Math.round(first.receivedAt - upAt), probe }
}

function cut (grid: Grid, link: GridLink, method: CutMethod, on: boolean): void {
  if (method === 'carrier') grid.lab.setLink(link.a, link.b, !on)
  else grid.lab.setLinkSilent(link.a, link.b, on)
}

/**
 * Cuts `cuts` links on the current path one after the other (each restored before the
 * next), preferring links not cut before, and times each recovery from the probe stream.
 */
export async function measureCuts (plan: CutPlan): Promise<CutSummary> {
  const { grid, probe, progress } = plan
  const used = new Set<GridLink>()
  const samples: CutSample[] = []
  for (let i = 0; i < plan.cuts; i++) {
    await until(() => {
      const since = Date.now() - 1000
      return probe.replies.filter((r) => r.receivedAt >= since).length >= plan.steadyReplies
    }, `steady probe answers before cut ${i + 1}`, plan.timeoutMs, 50)
    // The same path twice, a second apart: routes are not moving (after a restore they
    // may move back), so the link cut is the one the probes take.
    let path = await plan.path()
    await until(async () => {
      await sleep(1000)
      const again = await plan.path()
      const same = again.length === path.length && again.every((h, k) => h === path[k])
      path = again
      return same
    }, `a stable path before cut ${i + 1}`, plan.timeoutMs, 0)
    const onPath: GridLink[] = []
    for (let k = 0; k + 1 < path.length; k++) onPath.push(grid.linkBetween(path[k] as GridHost, path[k + 1] as GridHost))
    const fresh = onPath.filter((l) => !used.has(l))
    const pool = fresh.length > 0 ? fresh : onPath
    // Spread the cuts along the path: the first link, then further along.
    const link = pool[(i * 2) % pool.length] as GridLink
    used.add(link)
    // The cut takes a few milliseconds of commands (one or two per end); it is complete,
    // and counted from, once they all returned: a probe sent after that met the cut for
    // sure. Probes sent while it was being made are not counted either way.
    const rttSince = Date.now() - 1000
    const recent = probe.replies.filter((r) => r.receivedAt >= rttSince)
    const rtts = recent.map((r) => r.receivedAt - r.sentAt)
    const gaps: number[] = []
    for (let k = 1; k < recent.length; k++) gaps.push((recent[k] as ProbeReply).sentAt - (recent[k - 1] as ProbeReply).sentAt)
    const periodMs = gaps.length === 0 ? null : median(gaps)
    const cutStartedAt = Date.now()
    cut(grid, link, plan.method, true)
    const cutAt = Date.now()
    try {
      let first: ProbeReply | undefined
      try {
        await until(() => {
          first = probe.replies.find((r) => r.sentAt >= cutAt)
          return first !== undefined
        }, `a probe through after cutting ${linkLabel(link)} (${plan.method})`, plan.timeoutMs)
      } catch (err) {
        if (!(err instanceof BenchmarkTimeoutError)) throw err
      }
      const lastBefore = probe.replies.filter((r) => r.sentAt < cutStartedAt).at(-1)
      // Where the probes go now, cut still in place: evidence that they went around it.
      let pathAfter: string[] | null = null
      if (first !== undefined) {
        try { pathAfter = (await plan.path()).map(label) } catch { /* routes still moving */ }
      }
      const sentAfterMs = first === undefined ? null : Math.round(first.sentAt - cutAt)
      const sample: CutSample = {
        method: plan.method,
        link: linkLabel(link),
        pathBefore: path.map(label),
        pathAfter,
        cutCommandMs: cutAt - cutStartedAt,
        recoveryMs: first === undefined ? null : Math.round(first.receivedAt - cutAt),
        sentAfterMs,
        // A probe went out every period: those sent between the cut and `first` were lost.
        lostAfterCut: sentAfterMs === null || periodMs === null || periodMs <= 0 ? null : Math.floor(sentAfterMs / periodMs),
        periodMs: periodMs === null ? null : Math.round(periodMs * 10) / 10,
        outageMs: first === undefined || lastBefore === undefined ? null : Math.round(first.receivedAt - lastBefore.receivedAt),
        probeRttMs: rtts.length === 0 ? null : Math.round(median(rtts) * 10) / 10
      }
      samples.push(sample)
      progress(`  ${plan.method} cut ${i + 1}/${plan.cuts} of ${sample.link} (path ${sample.pathBefore.join(' ')}): ${sample.recoveryMs === null ? `NOT through within ${plan.timeoutMs} ms` : `through again after ${sample.recoveryMs} ms (first probe through sent ${sample.sentAfterMs ?? '?'} ms after the cut, ${sample.lostAfterCut ?? '?'} lost after it; probe round trip before ${sample.probeRttMs ?? '?'} ms, outage ${sample.outageMs ?? '?'} ms, cut took ${sample.cutCommandMs} ms), now via ${sample.pathAfter?.join(' ') ?? '?'}`}`)
    } finally {
      cut(grid, link, plan.method, false)
    }
    await sleep(plan.settleMs)
  }
  const recoveries = samples.flatMap((s) => s.recoveryMs === null ? [] : [s.recoveryMs])
  const outages = samples.flatMap((s) => s.outageMs === null ? [] : [s.outageMs])
  return {
    count: samples.length,
    unrecovered: samples.length - recoveries.length,
    medianMs: median(recoveries),
    maxMs: max(recoveries),
    outageMedianMs: median(outages),
    outageMaxMs: max(outages),
    probeRttMedianMs: median(samples.flatMap((s) => s.probeRttMs === null ? [] : [s.probeRttMs])),
    netMedianMs: median(samples.flatMap((s) => s.recoveryMs === null || s.probeRttMs === null ? [] : [Math.max(0, s.recoveryMs - s.probeRttMs)])),
    sentAfterMedianMs: median(samples.flatMap((s) => s.sentAfterMs === null ? [] : [s.sentAfterMs])),
    atOnce: samples.filter((s) => s.lostAfterCut === 0).length,
    lostAfterCuts: samples.reduce((n, s) => n + (s.lostAfterCut ?? 0), 0),
    samples
  }
}
