// One member's rendezvous check for one network, through the simulated DHT, as the real
// node's shell runs it: GET_PROVIDERS for the network's key (stopping once it has seen
// enough others that the answer cannot change), then the committed
// policy decideAnnounce; on 'announce', libp2p's provide(): a FIND_NODE lookup for the key
// and ADD_PROVIDER to the k nearest nodes it found. Closeness to the key, which ranks the
// providers when there is a surplus, is XOR between the overlay's node ids and the key.

import { decideAnnounce, rankMatters, RENDEZVOUS_PROVIDERS, RENDEZVOUS_SURPLUS, xorCloser } from '../../networks/rendezvous/announce-policy.ts'
import type { AnnounceDecision, AnnounceInput } from '../../networks/rendezvous/announce-policy.ts'
import type { KademliaDht, LookupOutcome } from '../kademlia/dht.ts'
import { idBytes } from '../kademlia/key-space.ts'

export interface CheckOutcome {
  member: number
  network: number
  othersFound: number
  /** Found providers closer to the key than the member (counted only when it decides: see rankMatters). */
  closerOthers: number
  decision: AnnounceDecision
  /** The GET_PROVIDERS lookup. */
  find: LookupOutcome
  /** The FIND_NODE lookup of provide() (when announcing). */
  provide?: LookupOutcome
  /** When the ADD_PROVIDER messages were sent (when announcing). */
  announcedAt?: number
}

/** The policy a check follows: the committed bound, or the unbounded baseline where every member announces. */
export type AnnouncePolicy = (input: AnnounceInput) => AnnounceDecision

export const EVERY_MEMBER_ANNOUNCES: AnnouncePolicy = () => 'announce'

export function rendezvousCheck (
  dht: KademliaDht,
  member: number,
  network: number,
  target: Uint32Array,
  providing: boolean,
  done: (outcome: CheckOutcome) => void,
  policy: AnnouncePolicy = decideAnnounce
): void {
  // Not providing, the answer is 'skip' as soon as RENDEZVOUS_PROVIDERS others are known;
  // providing, only from RENDEZVOUS_SURPLUS on: stop the lookup there. (The real node's
  // provider runs on until it knows RENDEZVOUS_PROVIDERS closer ones; here every holder of
  // the key answers with all its live records at once, so the answer that reaches the
  // surplus already carries them all.)
  const enough = providing ? RENDEZVOUS_SURPLUS : RENDEZVOUS_PROVIDERS
  dht.getProviders(member, target, network, enough, (find) => {
    const othersFound = find.providers.length
    const closerOthers = rankMatters({ othersFound, providing })
      ? xorCloser(idBytes(dht.ids, member), find.providers.map((p) => idBytes(dht.ids, p)), idBytes(target, 0))
      : 0
    const decision = policy({ othersFound, providing, closerOthers })
    if (decision === 'skip') {
      done({ member, network, othersFound, closerOthers, decision, find })
      return
    }
    dht.findNode(member, target, (provide) => {
      dht.addProvider(member, provide.closest, target, network)
      done({ member, network, othersFound, closerOthers, decision, find, provide, announcedAt: dht.sim.now })
    })
  })
}
