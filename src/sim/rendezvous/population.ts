// The simulated world's networks: how many, how big (Zipf), which nodes are members
// (uniformly random distinct nodes), and each network's rendezvous key computed exactly as
// the real node does (rendezvousKey over a 32-byte network id). Memberships are one
// compressed row array: network j's members are members[offsets[j] .. offsets[j + 1]).

import { rendezvousKey } from '../../networks/rendezvous/announce-policy.ts'
import { KeyTable } from '../kademlia/key-space.ts'
import type { Random } from '../random.ts'
import { ZipfSampler } from './zipf.ts'
import type { ZipfSizes } from './zipf.ts'

export interface Population {
  nodes: number
  networks: number
  sizes: ZipfSizes
  offsets: Uint32Array
  members: Int32Array
  /** Each network's rendezvous key as a point of the DHT key space. */
  keys: KeyTable
}

export function makePopulation (nodes: number, networks: number, sizes: ZipfSizes, random: Random): Population {
  const spec = { ...sizes, max: Math.min(sizes.max, nodes) }
  const zipf = new ZipfSampler(spec)
  const offsets = new Uint32Array(networks + 1)
  for (let j = 0; j < networks; j++) offsets[j + 1] = (offsets[j] ?? 0) + zipf.sample(random)
  const members = new Int32Array(offsets[networks] ?? 0)
  // A partial Fisher–Yates shuffle per network over one shared permutation: s distinct
  // uniform nodes in O(s), and the permutation stays a permutation for the next network.
  const perm = new Int32Array(nodes)
  for (let i = 0; i < nodes; i++) perm[i] = i
  for (let j = 0; j < networks; j++) {
    const start = offsets[j] ?? 0
    const size = (offsets[j + 1] ?? 0) - start
    for (let m = 0; m < size; m++) {
      const r = m + random.int(nodes - m)
      const pick = perm[r] ?? 0
      perm[r] = perm[m] ?? 0
      perm[m] = pick
      members[start + m] = pick
    }
  }
  const keys = new KeyTable(networks)
  const id = new Uint8Array(32)
  for (let j = 0; j < networks; j++) {
    for (let b = 0; b < 32; b += 4) {
      const x = random.uint32()
      id[b] = x >>> 24
      id[b + 1] = x >>> 16
      id[b + 2] = x >>> 8
      id[b + 3] = x
    }
    keys.setBytes(j, rendezvousKey(id))
  }
  return { nodes, networks, sizes: spec, offsets, members, keys }
}

export function networkSize (p: Population, j: number): number {
  return (p.offsets[j + 1] ?? 0) - (p.offsets[j] ?? 0)
}

export function membersOf (p: Population, j: number): Int32Array {
  return p.members.subarray(p.offsets[j] ?? 0, p.offsets[j + 1] ?? 0)
}

/** Each network's k true nearest nodes: the holders of its provider records (Int32Array of networks × k). */
export function placeHolders (p: Population, closest: (target: Uint32Array, k: number) => Int32Array, k: number): Int32Array {
  const holders = new Int32Array(p.networks * k)
  for (let j = 0; j < p.networks; j++) holders.set(closest(p.keys.words.subarray(j * 8, j * 8 + 8), k), j * k)
  return holders
}
