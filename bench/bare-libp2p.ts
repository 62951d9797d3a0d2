// The reference point: a libp2p node built only from libp2p's own packages (TCP, Noise,
// Yamux) with libp2p's defaults and no services. Whatever Peernet costs on top of this
// is Peernet's doing.

import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'

export const LOOPBACK_LISTEN = '/ip4/127.0.0.1/tcp/0'

export async function createBareLibp2p (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: [LOOPBACK_LISTEN] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}
