// Benchmark of issue 6's path finding: every router of `peernet sim credit` on the same
// payments, same seed. The Ripple trace is not reachable here (only npm and Debian are,
// and no package of either ships it), so the workloads run on a generated STAND-IN of
// the Ripple topology's size in Flash (CoNEXT 2019): 1,870 nodes, its 17,416 edges read
// as 8,708 two-way lines. Payment sizes are calibrated twice, because one scale cannot
// reproduce both published baselines on a stand-in:
//   - "SpeedyMurmurs-anchored": payments small enough that SpeedyMurmurs lands near its
//     published 0.457;
//   - "shortest-path-anchored": payments large enough that the shortest-path baseline
//     lands near its published 0.46 (a far harsher load: lines drain).
// A CREDIT_LINKS file given with --credit-graph runs as a third workload (payments
// generated as in the first).

import { runCreditSimulation, DEFAULT_CREDIT_SIMULATION } from '../src/sim/credit/credit-simulation.ts'
import type { CreditSimulationResult } from '../src/sim/credit/credit-simulation.ts'
import type { RouterResult } from '../src/sim/credit/credit-experiment.ts'

export interface CreditSimOptions {
  payments: number
  seed: number
  /** Smallest payment (Pareto scale, units) of each calibration. */
  smAnchoredPaymentMin: number
  spAnchoredPaymentMin: number
  graphFile: string | null
}

export const DEFAULT_CREDIT_SIM_OPTIONS: Readonly<CreditSimOptions> = Object.freeze({
  payments: 10_000,
  seed: 1,
  smAnchoredPaymentMin: 15,
  spAnchoredPaymentMin: 170,
  graphFile: null
})

/** Published success ratios on the Ripple trace at 1× capacity (Flash, CoNEXT 2019). */
export const CREDIT_ANCHORS = { flash: 0.513, speedymurmurs: 0.457, shortest: 0.46 }
/** Issue 6's goal: Peernet above 0.6, with fewer messages per payment than SpeedyMurmurs. */
export const CREDIT_GOAL = { successRatio: 0.6 }

export interface CreditWorkload {
  name: string
  command: string
  result: CreditSimulationResult
  /** The peernet router allowed to widen its neighbourhood to r = 3 (asking friends whose line carries > 1/4 of the amount). */
  widened: { command: string, result: RouterResult | undefined }
  goal: { successAbove: boolean, fewerMessagesThanSpeedyMurmurs: boolean }
}

export interface CreditSimResult {
  parameters: CreditSimOptions
  anchors: typeof CREDIT_ANCHORS
  workloads: CreditWorkload[]
}

export async function measureCreditSim (o: CreditSimOptions, progress: (line: string) => void): Promise<CreditSimResult> {
  const d = DEFAULT_CREDIT_SIMULATION
  const plans: Array<{ name: string, graphFile: string | null, paymentMin: number }> = [
    { name: 'Ripple-like stand-in, SpeedyMurmurs-anchored', graphFile: null, paymentMin: o.smAnchoredPaymentMin },
    { name: 'Ripple-like stand-in, shortest-path-anchored', graphFile: null, paymentMin: o.spAnchoredPaymentMin }
  ]
  if (o.graphFile !== null) plans.push({ name: `CREDIT_LINKS ${o.graphFile}`, graphFile: o.graphFile, paymentMin: o.smAnchoredPaymentMin })
  const workloads: CreditWorkload[] = []
  for (const p of plans) {
    const command = `peernet sim credit ${p.graphFile === null ? '' : `--graph ${p.graphFile} `}--payments ${o.payments} --seed ${o.seed} --payment-min ${p.paymentMin} --router all`
    progress(`credit-sim: ${command}`)
    // Yield to the event loop between workloads (progress lines flush); the run itself is synchronous.
    await new Promise((resolve) => setImmediate(resolve))
    const result = runCreditSimulation({ ...d, graphFile: p.graphFile, payments: o.payments, seed: o.seed, generator: { ...d.generator, paymentMin: p.paymentMin } }, (line) => { progress(`credit-sim: ${line}`) })
    const widenedCommand = `${command.replace('--router all', '--router peernet')} --max-radius 3 --pull-share 4`
    progress(`credit-sim: ${widenedCommand}`)
    const widened = runCreditSimulation({ ...d, graphFile: p.graphFile, payments: o.payments, seed: o.seed, routers: ['peernet'], maxRadius: 3, pullShare: 4, generator: { ...d.generator, paymentMin: p.paymentMin } }, (line) => { progress(`credit-sim: widened ${line}`) })
    const peernet = result.routers.find((r) => r.router === 'peernet')
    const sm = result.routers.find((r) => r.router === 'speedymurmurs')
    workloads.push({
      name: p.name,
      command,
      result,
      widened: { command: widenedCommand, result: widened.routers[0] },
      goal: {
        successAbove: (peernet?.successRatio ?? 0) > CREDIT_GOAL.successRatio,
        fewerMessagesThanSpeedyMurmurs: peernet !== undefined && sm !== undefined && peernet.messages.mean < sm.messages.mean
      }
    })
  }
  return { parameters: o, anchors: CREDIT_ANCHORS, workloads }
}
