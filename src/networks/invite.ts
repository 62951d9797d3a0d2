// Invites: capabilities signed by an admin's account key — network, role, expiry,
// maximum uses — carried as one copy-pasteable string that also holds the manifest, a
// few member addresses to dial and, for private networks, the network's whole key ring
// (so the newcomer can read what was written before the latest rekey). A join entry
// cites the signed part (never the key), so every member can check the join.

import { randomBytes } from 'node:crypto'
import { sign, verify } from '../core/identity.ts'
import type { Identity, SignatureDomain } from '../core/identity.ts'
import { decodeCanonical, encodeCanonical, bytesEqual } from '../core/encoding.ts'
import type { CanonicalValue } from '../core/encoding.ts'
import { hashCanonical } from './hashing.ts'
import { InviteError } from './errors.ts'
import { signedManifestFrom, signedManifestValue, networkIdOf } from './manifest.ts'
import type { SignedManifest } from './manifest.ts'
import { ringFrom, ringValue } from './body-cipher.ts'
import type { RingKey } from './body-cipher.ts'

export type Role = 'admin' | 'member'

/** The signed part of an invite. */
export interface InviteGrant {
  net: Uint8Array
  role: Role
  /** Last moment (ms) a join may use it; null for never. */
  expires: number | null
  /** How many joins it admits; null for any number. */
  uses: number | null
  nonce: Uint8Array
  issuer: Uint8Array
  sig: Uint8Array
}

export interface Invite {
  grant: InviteGrant
  manifest: SignedManifest
  /** Multiaddrs of members to dial (hints, not signed). */
  addrs: string[]
  /** The key ring of a private network (empty for a public one). */
  keys: RingKey[]
}

const INVITE_DOMAIN: SignatureDomain = { purpose: 'networks/invite', version: 1 }
const INVITE_PREFIX = 'pninvite1'
// Room for a key ring after many rekeys (about 120 characters a key).
const MAX_INVITE_CHARS = 64 * 1024

function grantCore (g: Omit<InviteGrant, 'sig'>): CanonicalValue {
  return { net: g.net, role: g.role, expires: g.expires, uses: g.uses, nonce: g.nonce, issuer: g.issuer }
}

export function grantValue (g: InviteGrant): CanonicalValue {
  return { ...(grantCore(g) as Record<string, CanonicalValue>), sig: g.sig }
}

export function inviteId (g: InviteGrant): Uint8Array {
  return hashCanonical(grantValue(g))
}

export function createInvite (admin: Identity, manifest: SignedManifest, options: { role: Role, expires: number | null, uses: number | null, addrs: string[], keys: RingKey[] }): Invite {
  if (options.uses !== null && (!Number.isSafeInteger(options.uses) || options.uses < 1)) throw new InviteError('--uses must be a positive whole number')
  const core = { net: networkIdOf(manifest.manifest), role: options.role, expires: options.expires, uses: options.uses, nonce: new Uint8Array(randomBytes(16)), issuer: admin.publicKey }
  return { grant: { ...core, sig: sign(admin, INVITE_DOMAIN, grantCore(core)) }, manifest, addrs: options.addrs.slice(0, 8), keys: options.keys }
}

/** Checks the grant's shape and signature (not whether the issuer is an admin). */
export function verifyGrant (g: InviteGrant): void {
  const ok = g.net instanceof Uint8Array && g.net.byteLength === 32 &&
    (g.role === 'admin' || g.role === 'member') &&
    (g.expires === null || Number.isSafeInteger(g.expires)) &&
    (g.uses === null || (Number.isSafeInteger(g.uses) && g.uses >= 1)) &&
    g.nonce instanceof Uint8Array && g.issuer instanceof Uint8Array && g.issuer.byteLength === 32 && g.sig instanceof Uint8Array
  if (!ok) throw new InviteError('malformed invite')
  if (!verify(g.issuer, INVITE_DOMAIN, grantCore(g), g.sig)) throw new InviteError('invite signature does not verify: it is forged or damaged')
}

export function grantFrom (value: unknown): InviteGrant {
  const v = value as Record<string, unknown> | null
  if (typeof v !== 'object' || v === null) throw new InviteError('malformed invite')
  const g = { net: v.net, role: v.role, expires: v.expires, uses: v.uses, nonce: v.nonce, issuer: v.issuer, sig: v.sig } as InviteGrant
  verifyGrant(g)
  return g
}

export function encodeInvite (inv: Invite): string {
  const value: CanonicalValue = { grant: grantValue(inv.grant), manifest: signedManifestValue(inv.manifest), addrs: inv.addrs, ...(inv.keys.length > 0 ? { keys: ringValue(inv.keys) } : {}) }
  return INVITE_PREFIX + Buffer.from(encodeCanonical(value)).toString('base64url')
}

export function looksLikeInvite (text: string): boolean {
  return text.trim().startsWith(INVITE_PREFIX)
}

export function decodeInvite (text: string): Invite {
  const t = text.trim()
  if (!t.startsWith(INVITE_PREFIX) || t.length > MAX_INVITE_CHARS || !/^[A-Za-z0-9_-]*$/.test(t.slice(INVITE_PREFIX.length))) {
    throw new InviteError('not a Peernet invite', { hint: 'an invite starts with pninvite1; copy it whole' })
  }
  let value: Record<string, unknown>
  try {
    value = decodeCanonical(new Uint8Array(Buffer.from(t.slice(INVITE_PREFIX.length), 'base64url'))) as Record<string, unknown>
  } catch {
    throw new InviteError('the invite is damaged', { hint: 'copy it again, whole' })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InviteError('the invite is damaged', { hint: 'copy it again, whole' })
  const grant = grantFrom(value.grant)
  let manifest: SignedManifest
  try { manifest = signedManifestFrom(value.manifest) } catch { throw new InviteError('the invite carries an invalid network manifest') }
  if (!bytesEqual(networkIdOf(manifest.manifest), grant.net)) throw new InviteError('the invite is for another network than its manifest')
  const addrs = Array.isArray(value.addrs) ? value.addrs.filter((a): a is string => typeof a === 'string').slice(0, 8) : []
  const keys = manifest.manifest.private ? ringFrom(value.keys) : []
  if (keys === null) throw new InviteError('the invite to a private network lacks the network keys')
  return { grant, manifest, addrs, keys }
}
