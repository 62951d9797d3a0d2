// Membership, derived deterministically from the logs: every node that holds the same
// membership entries computes the same members, whatever order they arrived in, because
// the entries are applied in (ts, author, device, seq) order. Pure: no I/O, no clock.

import { bytesEqual } from '../core/encoding.ts'
import { toHex } from './hashing.ts'
import type { NetworkManifest } from './manifest.ts'
import { grantFrom, inviteId } from './invite.ts'
import type { Role } from './invite.ts'

export const MEMBERSHIP_TYPES = ['peernet/join', 'peernet/leave', 'peernet/remove', 'peernet/role'] as const
export type MembershipType = typeof MEMBERSHIP_TYPES[number]

export function isMembershipType (type: string): type is MembershipType {
  return (MEMBERSHIP_TYPES as readonly string[]).includes(type)
}

/** A membership entry as the derivation sees it (body already decoded). */
export interface MembershipEvent {
  author: Uint8Array
  device: Uint8Array
  seq: number
  type: MembershipType
  ts: number
  hash: Uint8Array
  /** join: {invite?: grant}; remove: {member, heads: [{device, seq}]}; role: {member, role}. */
  body: Record<string, unknown>
}

export interface Member {
  account: string
  role: Role
  joinedAt: number
}

export interface Removed {
  account: string
  /** Per device (hex): the last seq that still counts. */
  heads: Map<string, number>
  at: number
}

export interface MembershipState {
  members: Map<string, Member>
  removed: Map<string, Removed>
  /** Hex hashes of the events that were not valid when applied, with the reason. */
  refused: Map<string, string>
}

/** (ts, author, device, seq): a total order that keeps each chain's entries in chain order. */
function compareEvents (a: MembershipEvent, b: MembershipEvent): number {
  if (a.ts !== b.ts) return a.ts - b.ts
  return Buffer.compare(a.author, b.author) || Buffer.compare(a.device, b.device) || a.seq - b.seq || Buffer.compare(a.hash, b.hash)
}

export function deriveMembership (manifest: NetworkManifest, netId: Uint8Array, events: MembershipEvent[], isOpen = manifest.policy === 'open'): MembershipState {
  const creator = toHex(manifest.creator)
  const members = new Map<string, Member>([[creator, { account: creator, role: 'admin', joinedAt: manifest.created }]])
  const removed = new Map<string, Removed>()
  const refused = new Map<string, string>()
  const inviteUses = new Map<string, number>()
  const isAdmin = (account: string): boolean => members.get(account)?.role === 'admin'

  for (const e of [...events].sort(compareEvents)) {
    const author = toHex(e.author)
    const refuse = (why: string): void => { refused.set(toHex(e.hash), why) }
    switch (e.type) {
      case 'peernet/join': {
        if (members.has(author)) break // joining twice changes nothing
        if (removed.has(author)) { refuse('removed members cannot rejoin with an old join'); break }
        if (e.body.invite === undefined) {
          if (isOpen) members.set(author, { account: author, role: 'member', joinedAt: e.ts })
          else refuse('this network is invite-only and the join carries no invite')
          break
        }
        let grant
        try { grant = grantFrom(e.body.invite) } catch (err) { refuse((err as Error).message); break }
        if (!bytesEqual(grant.net, netId)) { refuse('the invite is for another network'); break }
        if (!isAdmin(toHex(grant.issuer))) { refuse('the invite was not issued by an admin'); break }
        if (grant.expires !== null && e.ts > grant.expires) { refuse('the invite had expired'); break }
        const id = toHex(inviteId(grant))
        const used = inviteUses.get(id) ?? 0
        if (grant.uses !== null && used >= grant.uses) { refuse('the invite was used up'); break }
        inviteUses.set(id, used + 1)
        members.set(author, { account: author, role: grant.role, joinedAt: e.ts })
        break
      }
      case 'peernet/leave':
        if (author === creator) { refuse('the creator cannot leave'); break }
        if (!members.delete(author)) refuse('not a member')
        break
      case 'peernet/remove': {
        const target = e.body.member instanceof Uint8Array ? toHex(e.body.member) : undefined
        if (!isAdmin(author)) { refuse('only admins remove members'); break }
        if (target === undefined || target === creator) { refuse('cannot remove the creator or an unnamed member'); break }
        members.delete(target)
        const heads = new Map<string, number>()
        if (Array.isArray(e.body.heads)) {
          for (const h of e.body.heads as Array<{ device?: unknown, seq?: unknown }>) {
            if (h.device instanceof Uint8Array && Number.isSafeInteger(h.seq)) heads.set(toHex(h.device), h.seq as number)
          }
        }
        removed.set(target, { account: target, heads, at: e.ts })
        break
      }
      case 'peernet/role': {
        const target = e.body.member instanceof Uint8Array ? toHex(e.body.member) : undefined
        const role = e.body.role
        if (!isAdmin(author)) { refuse('only admins change roles'); break }
        if (target === undefined || target === creator || (role !== 'admin' && role !== 'member')) { refuse('invalid role change'); break }
        const m = members.get(target)
        if (m === undefined) { refuse('not a member'); break }
        members.set(target, { ...m, role })
        break
      }
    }
  }
  return { members, removed, refused }
}
