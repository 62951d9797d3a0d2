// Peer exchange inside a network: when a sync session starts sharing a network, each
// side tells the other up to PEX_OFFER_MAX other members it is connected to in that
// network, with their addresses. Only peers that share the network get the list (the
// session's shared set proves the peer knows the network id), so a non-member learns
// nothing about who is in it. It is sent once per session and network, never
// periodically. The receiver dials a few of them only while it has few members connected.
// Pure: the sync shell supplies who is connected and does the dialling.

export const PEX_OFFER_MAX = 16
export const PEX_ADDRS_MAX = 8
/** Dial offered members while connected to fewer members of the network than this. */
export const PEX_WANT = 4
/** At most this many dials per offer received. */
export const PEX_DIAL_MAX = 3

export interface ExchangedPeer { id: string, addrs: string[] }

/** What to offer `recipient`: connected members other than it that have addresses. */
export function peersToOffer (members: ExchangedPeer[], recipient: string): ExchangedPeer[] {
  return members
    .filter((p) => p.id !== recipient && p.addrs.length > 0)
    .slice(0, PEX_OFFER_MAX)
    .map((p) => ({ id: p.id, addrs: p.addrs.slice(0, PEX_ADDRS_MAX) }))
}

export interface DialContext {
  self: string
  /** The peer that sent the offer. */
  from: string
  /** Members of the network this node has a session with now. */
  membersConnected: number
  connected: (peer: string) => boolean
}

/** Which offered members to dial: none if enough are connected, else a few new ones. */
export function peersToDial (offered: ExchangedPeer[], ctx: DialContext): ExchangedPeer[] {
  const room = Math.min(PEX_DIAL_MAX, PEX_WANT - ctx.membersConnected)
  if (room <= 0) return []
  const seen = new Set<string>([ctx.self, ctx.from])
  const out: ExchangedPeer[] = []
  for (const p of offered) {
    if (seen.has(p.id) || ctx.connected(p.id) || p.addrs.length === 0) continue
    seen.add(p.id)
    out.push(p)
    if (out.length >= room) break
  }
  return out
}
