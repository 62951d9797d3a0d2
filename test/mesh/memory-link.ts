// In-memory mesh links for tests of the mesh service: a pair of links per neighbour pair,
// frames handed over on the next turn of the event loop, as a medium would.

import type { Link } from '../../src/mesh/link.ts'

export type MemoryLink = Link & { peer?: MemoryLink, deliver: (f: Uint8Array) => void, shut: (r: string) => void }

export function memoryLink (id: string, remoteKey: Uint8Array): MemoryLink {
  let onFrame: (f: Uint8Array) => void = () => {}
  let onClose: (r: string) => void = () => {}
  const link = {
    id,
    kind: 'memory',
    remoteKey,
    mtu: 65_535,
    bitrate: 1_000_000,
    closed: false,
    send: (frame: Uint8Array): boolean => {
      if (link.closed || link.peer === undefined) return false
      const copy = Uint8Array.from(frame)
      const peer = link.peer
      setImmediate(() => { peer.deliver(copy) })
      return true
    },
    onFrame: (h: (f: Uint8Array) => void) => { onFrame = h },
    onClose: (h: (r: string) => void) => { onClose = h },
    close: () => { link.shut('closed'); link.peer?.shut('closed by peer') },
    deliver: (f: Uint8Array) => { if (!link.closed) onFrame(f) },
    shut: (r: string) => { if (!link.closed) { link.closed = true; onClose(r) } },
    peer: undefined as MemoryLink | undefined
  }
  return link
}

/** Two ends of one link: `[a's end (to b), b's end (to a)]`. */
export function memoryLinkPair (aKey: Uint8Array, bKey: Uint8Array, label: string): [MemoryLink, MemoryLink] {
  const a = memoryLink(`${label}:a`, bKey)
  const b = memoryLink(`${label}:b`, aKey)
  a.peer = b
  b.peer = a
  return [a, b]
}
