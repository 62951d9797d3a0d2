// A ProviderStore that answers from an announce schedule (announce-schedule.ts) rather than
// from stored records: node h holds network j's live records exactly when h is one of the
// k nodes nearest j's key. Lets the message-level simulator run sampled lookups against
// the provider state of a million networks without holding a record object per copy.

import type { ProviderStore } from '../kademlia/provider-store.ts'
import type { ProviderSchedule } from './announce-schedule.ts'

export class ScheduledProviders implements ProviderStore {
  private readonly schedule: ProviderSchedule
  private readonly holders: Int32Array
  private readonly k: number

  constructor (schedule: ProviderSchedule, holders: Int32Array, k: number) {
    this.schedule = schedule
    this.holders = holders
    this.k = k
  }

  providers (holder: number, key: number, now: number): number[] {
    let holds = false
    for (let h = key * this.k; h < (key + 1) * this.k; h++) {
      if (this.holders[h] === holder) {
        holds = true
        break
      }
    }
    if (!holds) return []
    const s = this.schedule
    const out: number[] = []
    for (let e = s.offsets[key] ?? 0; e < (s.offsets[key + 1] ?? 0); e++) {
      if ((s.from[e] ?? 0) <= now && now < (s.until[e] ?? 0)) out.push(s.provider[e] ?? 0)
    }
    return out
  }

  /** The schedule already decided every record; the sampled lookups' own announcements change nothing. */
  add (): void {}
}
