// Linking a device to an account, as two one-line codes (Signal's and Matrix's device
// linking, without a server in the middle):
//
//   1. The new device makes a link request: its device public key and addresses, signed
//      by the device key (so a damaged request is caught, and nobody can ask for a key
//      they do not hold).
//   2. The account's home answers with a device link: the account's delegation of that
//      device key, and what the device needs to take part in the account's networks —
//      their signed manifests, the key rings of private ones, and addresses to dial.
//      The whole link is signed by the account key and sealed to the device key, so only
//      that device can read the network keys, and nobody can forge a link that opens.
//
// The account's private key never leaves its home; the device writes with its own key,
// and every member verifies its entries back to the account through the delegation.

import { sign, verify } from '../core/identity.ts'
import type { Identity, SignatureDomain } from '../core/identity.ts'
import { bytesEqual, decodeCanonical, encodeCanonical } from '../core/encoding.ts'
import type { CanonicalValue } from '../core/encoding.ts'
import { openSealed, sealTo } from '../core/seal.ts'
import { delegate, delegationFrom, delegationValue } from './account.ts'
import type { Delegation } from './account.ts'
import { signedManifestFrom, signedManifestValue } from './manifest.ts'
import type { SignedManifest } from './manifest.ts'
import { DeviceLinkError } from './errors.ts'
import { ringFrom, ringValue } from './body-cipher.ts'
import type { RingKey } from './body-cipher.ts'

export const LINK_REQUEST_PREFIX = 'pnlinkreq1'
export const DEVICE_LINK_PREFIX = 'pnlink1'
const MAX_CODE_CHARS = 512 * 1024
const MAX_ADDRS = 8
const REQUEST_DOMAIN: SignatureDomain = { purpose: 'networks/device-link-request', version: 1 }
const LINK_DOMAIN: SignatureDomain = { purpose: 'networks/device-link', version: 1 }

export interface LinkRequest {
  device: Uint8Array
  /** Multiaddrs of the device (hints). */
  addrs: string[]
  created: number
  sig: Uint8Array
}

export interface LinkedNetwork {
  manifest: SignedManifest
  /** The key ring of a private network (empty for a public one). */
  keys: RingKey[]
}

export interface DeviceLink {
  delegation: Delegation
  /** Last moment (ms) the device may take the link up. */
  expires: number
  networks: LinkedNetwork[]
  /** Multiaddrs of the account's home (hints). */
  addrs: string[]
  /** The account's signature over all of the above. */
  sig: Uint8Array
}

// ---- the request (device → account) -------------------------------------------------------

export function createLinkRequest (device: Identity, addrs: string[], created: number): string {
  const core = { device: device.publicKey, addrs: addrs.slice(0, MAX_ADDRS), created }
  const value: CanonicalValue = { v: 1, ...core, sig: sign(device, REQUEST_DOMAIN, core) }
  return LINK_REQUEST_PREFIX + Buffer.from(encodeCanonical(value)).toString('base64url')
}

export function looksLikeLinkRequest (text: string): boolean {
  return text.trim().startsWith(LINK_REQUEST_PREFIX)
}

export function decodeLinkRequest (text: string): LinkRequest {
  const v = decodeCode(text, LINK_REQUEST_PREFIX, 'link request', 'run `peernet account link-device` on the new device and copy its request whole')
  const ok = v.v === 1 && v.device instanceof Uint8Array && v.device.byteLength === 32 && Array.isArray(v.addrs) && v.addrs.length <= MAX_ADDRS &&
    v.addrs.every((a) => typeof a === 'string') && Number.isSafeInteger(v.created) && v.sig instanceof Uint8Array
  if (!ok) throw new DeviceLinkError('the link request is damaged', { hint: 'copy it again, whole' })
  const r = { device: v.device as Uint8Array, addrs: v.addrs as string[], created: v.created as number, sig: v.sig as Uint8Array }
  if (!verify(r.device, REQUEST_DOMAIN, { device: r.device, addrs: r.addrs, created: r.created }, r.sig)) {
    throw new DeviceLinkError('the link request does not verify: it is damaged or forged', { hint: 'copy it again, whole, from the new device' })
  }
  return r
}

// ---- the link (account → device) ---------------------------------------------------------

function linkCore (l: Omit<DeviceLink, 'sig'>): CanonicalValue {
  return {
    delegation: delegationValue(l.delegation),
    expires: l.expires,
    networks: l.networks.map((n) => ({ manifest: signedManifestValue(n.manifest), keys: ringValue(n.keys) })),
    addrs: l.addrs
  }
}

/** Delegates the requesting device and seals the link to it. */
export function createDeviceLink (account: Identity, request: LinkRequest, options: { networks: LinkedNetwork[], addrs: string[], expires: number, now: number }): { code: string, link: DeviceLink } {
  const core = { delegation: delegate(account, request.device, options.now), expires: options.expires, networks: options.networks, addrs: options.addrs.slice(0, MAX_ADDRS) }
  const link: DeviceLink = { ...core, sig: sign(account, LINK_DOMAIN, linkCore(core)) }
  const inner = encodeCanonical({ v: 1, ...(linkCore(link) as Record<string, CanonicalValue>), sig: link.sig })
  const outer: CanonicalValue = { v: 1, to: request.device, box: sealTo(request.device, inner) }
  return { code: DEVICE_LINK_PREFIX + Buffer.from(encodeCanonical(outer)).toString('base64url'), link }
}

export function looksLikeDeviceLink (text: string): boolean {
  const t = text.trim()
  return t.startsWith(DEVICE_LINK_PREFIX) && !t.startsWith(LINK_REQUEST_PREFIX)
}

/** Opens a link sealed to `device` and checks it through and through. */
export function openDeviceLink (device: Identity, text: string, now: number): DeviceLink {
  const outer = decodeCode(text, DEVICE_LINK_PREFIX, 'device link', 'run `peernet account link-device REQUEST` on the account\'s home and copy its answer whole')
  if (outer.v !== 1 || !(outer.to instanceof Uint8Array) || !(outer.box instanceof Uint8Array)) throw new DeviceLinkError('the device link is damaged', { hint: 'copy it again, whole' })
  if (!bytesEqual(outer.to, device.publicKey)) {
    throw new DeviceLinkError(`this device link is for another device (${Buffer.from(outer.to).toString('hex').slice(0, 12)}…), not this one`, { hint: 'take it up on the device whose request it answers' })
  }
  let inner: Record<string, unknown>
  try {
    inner = decodeCanonical(openSealed(device, outer.box)) as Record<string, unknown>
  } catch {
    throw new DeviceLinkError('the device link is damaged: it does not open with this device\'s key', { hint: 'copy it again, whole' })
  }
  if (typeof inner !== 'object' || inner === null || inner.v !== 1 || !(inner.sig instanceof Uint8Array) || !Number.isSafeInteger(inner.expires) ||
    !Array.isArray(inner.networks) || !Array.isArray(inner.addrs) || !inner.addrs.every((a) => typeof a === 'string')) {
    throw new DeviceLinkError('the device link is malformed')
  }
  let delegation: Delegation
  try { delegation = delegationFrom(inner.delegation) } catch { throw new DeviceLinkError('the device link carries an invalid delegation: it is forged') }
  if (!bytesEqual(delegation.device, device.publicKey)) throw new DeviceLinkError('the device link delegates another device, not this one')
  const networks: LinkedNetwork[] = inner.networks.map((n: unknown) => {
    const nv = n as Record<string, unknown> | null
    let manifest: SignedManifest
    try { manifest = signedManifestFrom(nv?.manifest) } catch { throw new DeviceLinkError('the device link carries an invalid network manifest') }
    const keys = manifest.manifest.private ? ringFrom(nv?.keys) : []
    if (keys === null) throw new DeviceLinkError(`the device link lacks the keys of private network "${manifest.manifest.name}"`)
    return { manifest, keys }
  })
  const link: DeviceLink = { delegation, expires: inner.expires as number, networks, addrs: inner.addrs.slice(0, MAX_ADDRS), sig: inner.sig }
  if (!verify(delegation.account, LINK_DOMAIN, linkCore(link), link.sig)) throw new DeviceLinkError('the device link is not signed by its account: it is forged')
  if (now > link.expires) throw new DeviceLinkError('the device link has expired', { hint: 'make a new one: `peernet account link-device REQUEST` on the account\'s home' })
  return link
}

function decodeCode (text: string, prefix: string, what: string, hint: string): Record<string, unknown> {
  const t = text.trim()
  if (!t.startsWith(prefix) || t.length > MAX_CODE_CHARS || !/^[A-Za-z0-9_-]*$/.test(t.slice(prefix.length))) {
    throw new DeviceLinkError(`not a Peernet ${what}`, { hint: `a ${what} starts with ${prefix}; ${hint}` })
  }
  let value: CanonicalValue
  try {
    value = decodeCanonical(new Uint8Array(Buffer.from(t.slice(prefix.length), 'base64url')))
  } catch {
    throw new DeviceLinkError(`the ${what} is damaged`, { hint: 'copy it again, whole' })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) throw new DeviceLinkError(`the ${what} is damaged`, { hint: 'copy it again, whole' })
  return value
}
