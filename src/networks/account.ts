// Accounts and devices. An author is an account key; the account authorises device keys
// with signed delegations and can revoke a lost or stolen one. Entries are signed by a
// device and verified back to the account: a device's chain in a network starts with its
// delegation, and a revocation (signed by the account key itself, so a stolen device
// cannot forge one) names the last entry of that chain that still counts.

import { sign, verify } from '../core/identity.ts'
import type { Identity, SignatureDomain } from '../core/identity.ts'
import type { CanonicalValue } from '../core/encoding.ts'
import { InvalidRecordError } from './errors.ts'

export interface Delegation {
  account: Uint8Array
  device: Uint8Array
  created: number
  sig: Uint8Array
}

export interface Revocation {
  account: Uint8Array
  device: Uint8Array
  net: Uint8Array
  /** The device's entries in `net` up to this seq stay valid; later ones are refused. */
  lastSeq: number
  created: number
  sig: Uint8Array
}

const DELEGATION_DOMAIN: SignatureDomain = { purpose: 'networks/device-delegation', version: 1 }
const REVOCATION_DOMAIN: SignatureDomain = { purpose: 'networks/device-revocation', version: 1 }

export function delegate (account: Identity, device: Uint8Array, created: number): Delegation {
  const core = { account: account.publicKey, device, created }
  return { ...core, sig: sign(account, DELEGATION_DOMAIN, core) }
}

export function verifyDelegation (d: Delegation): void {
  if (typeof d !== 'object' || d === null || !(d.sig instanceof Uint8Array) || !(d.account instanceof Uint8Array) || d.account.byteLength !== 32 || !(d.device instanceof Uint8Array) || d.device.byteLength !== 32 || !Number.isSafeInteger(d.created)) {
    throw new InvalidRecordError('malformed device delegation')
  }
  if (!verify(d.account, DELEGATION_DOMAIN, { account: d.account, device: d.device, created: d.created }, d.sig)) {
    throw new InvalidRecordError('device delegation signature does not verify')
  }
}

export function revoke (account: Identity, device: Uint8Array, net: Uint8Array, lastSeq: number, created: number): Revocation {
  const core = { account: account.publicKey, device, net, lastSeq, created }
  return { ...core, sig: sign(account, REVOCATION_DOMAIN, core) }
}

export function verifyRevocation (r: Revocation): void {
  if (typeof r !== 'object' || r === null || !(r.sig instanceof Uint8Array) || !(r.account instanceof Uint8Array) || !(r.device instanceof Uint8Array) || !(r.net instanceof Uint8Array) || !Number.isSafeInteger(r.lastSeq) || r.lastSeq < 0 || !Number.isSafeInteger(r.created)) {
    throw new InvalidRecordError('malformed device revocation')
  }
  if (!verify(r.account, REVOCATION_DOMAIN, { account: r.account, device: r.device, net: r.net, lastSeq: r.lastSeq, created: r.created }, r.sig)) {
    throw new InvalidRecordError('device revocation signature does not verify')
  }
}

export function delegationValue (d: Delegation): CanonicalValue {
  return { account: d.account, device: d.device, created: d.created, sig: d.sig }
}

export function revocationValue (r: Revocation): CanonicalValue {
  return { account: r.account, device: r.device, net: r.net, lastSeq: r.lastSeq, created: r.created, sig: r.sig }
}

export function delegationFrom (value: unknown): Delegation {
  const v = value as Record<string, unknown> | null
  if (typeof v !== 'object' || v === null) throw new InvalidRecordError('malformed device delegation')
  const d = { account: v.account, device: v.device, created: v.created, sig: v.sig } as Delegation
  verifyDelegation(d)
  return d
}

/**
 * Who this node writes as: the account (the author of its entries) and the key that
 * signs them. On the account's home that is the account key itself; on a linked device
 * it is the device's own key, and the account's private key is not here at all.
 */
export interface AccountKeys {
  /** The account public key: the author of this node's entries. */
  readonly publicKey: Uint8Array
  /** The key that signs this node's entries. */
  readonly signer: Identity
  /** The account's private key; null on a linked device (it never leaves the account's home). */
  readonly accountKey: Identity | null
  /** This device's delegation; null where the account key signs for itself. */
  readonly delegation: Delegation | null
}

export function ownAccount (account: Identity): AccountKeys {
  return { publicKey: account.publicKey, signer: account, accountKey: account, delegation: null }
}

export function linkedDevice (device: Identity, delegation: Delegation): AccountKeys {
  return { publicKey: delegation.account, signer: device, accountKey: null, delegation }
}
