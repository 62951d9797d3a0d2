// Rendezvous announce rounds simulated message by message: every member of every given
// network runs its check (member-check.ts) at a random moment within the jitter window,
// and again every republish interval, against a DHT whose nodes really store and expire
// the provider records. The exact model: used by the tests, and by the benchmark to
// validate the faster schedule model (announce-schedule.ts) on a sample of networks.

import { REPROVIDE_INTERVAL_MS } from '../kademlia/provider-store.ts'
import type { MapProviderStore } from '../kademlia/provider-store.ts'
import type { Overlay } from '../kademlia/overlay.ts'
import type { Random } from '../random.ts'
import { rendezvousCheck } from './member-check.ts'
import type { CheckOutcome } from './member-check.ts'

export interface RoundsOptions {
  /** Each member's first check is uniform in [0, jitterMs). */
  jitterMs: number
  rounds: number
  /** Time between a member's checks (libp2p's reprovide: every 24 h). */
  intervalMs: number
  /** Time after the jitter window at which a round's outcome is read. */
  settleMs: number
}

export const DEFAULT_ROUNDS: RoundsOptions = { jitterMs: 3600_000, rounds: 1, intervalMs: REPROVIDE_INTERVAL_MS, settleMs: 60_000 }

export interface RoundNetwork {
  /** Index of the network (its key in the provider store). */
  network: number
  members: Int32Array
  target: Uint32Array
}

export interface RoundsResult {
  /** Live distinct providers of each network (in input order) at the end of each round. */
  liveAfterRound: number[][]
  /** Every check that ran. */
  checks: CheckOutcome[]
}

/** Runs the rounds on `overlay`, whose DHT must store into `store`. */
export function runAnnounceRounds (overlay: Overlay, store: MapProviderStore, networks: RoundNetwork[], random: Random, options: RoundsOptions = DEFAULT_ROUNDS): RoundsResult {
  const sim = overlay.sim
  const checks: CheckOutcome[] = []
  const liveAfterRound: number[][] = []
  const t0 = sim.now
  for (const net of networks) {
    // Whether each member's last check announced: the real node's `providing`, which a
    // 'skip' clears at once (cancelReprovide) while the record lingers at the holders.
    const providing = new Uint8Array(net.members.length)
    for (let m = 0; m < net.members.length; m++) {
      const member = net.members[m] ?? 0
      const offset = random.between(0, options.jitterMs)
      for (let r = 0; r < options.rounds; r++) {
        sim.at(t0 + offset + r * options.intervalMs, () => {
          rendezvousCheck(overlay.dht, member, net.network, net.target, providing[m] === 1, (outcome) => {
            checks.push(outcome)
            providing[m] = outcome.decision === 'announce' ? 1 : 0
          })
        })
      }
    }
  }
  for (let r = 0; r < options.rounds; r++) {
    const at = t0 + r * options.intervalMs + options.jitterMs + options.settleMs
    sim.run(at)
    liveAfterRound.push(networks.map((net) => liveProviders(overlay, store, net, at).size))
  }
  return { liveAfterRound, checks }
}

/** Distinct live providers of a network over the k nodes truly nearest its key. */
export function liveProviders (overlay: Overlay, store: MapProviderStore, net: RoundNetwork, now: number): Set<number> {
  const out = new Set<number>()
  for (const holder of overlay.sorted.closest(net.target, overlay.dht.options.k)) {
    for (const p of store.providers(holder, net.network, now)) out.add(p)
  }
  return out
}
