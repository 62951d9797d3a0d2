// A network is a signed manifest; its id is the hash of the canonical manifest, so
// anyone holding the manifest can check it is the network it claims to be.

import { sign, verify } from '../core/identity.ts'
import type { Identity, SignatureDomain } from '../core/identity.ts'
import type { CanonicalValue } from '../core/encoding.ts'
import { hashCanonical, parsePrintableId, printableId } from './hashing.ts'
import { InvalidRecordError, UnknownNetworkError } from './errors.ts'

export type NetworkPolicy = 'open' | 'invite'

export interface NetworkManifest {
  v: 1
  name: string
  /** The app that gives the network its meaning, e.g. 'chat'. */
  app: string
  /** The creator's account key; the first admin. */
  creator: Uint8Array
  policy: NetworkPolicy
  /** Private networks encrypt entry bodies with a key only members get. */
  private: boolean
  params: { [key: string]: CanonicalValue }
  created: number
}

export interface SignedManifest {
  manifest: NetworkManifest
  sig: Uint8Array
}

const MANIFEST_DOMAIN: SignatureDomain = { purpose: 'networks/manifest', version: 1 }
const NETWORK_ID_PREFIX = 'pn'
export const MAX_NAME_LENGTH = 100

export function manifestValue (m: NetworkManifest): CanonicalValue {
  return { v: m.v, name: m.name, app: m.app, creator: m.creator, policy: m.policy, private: m.private, params: m.params, created: m.created }
}

export function createManifest (account: Identity, fields: Omit<NetworkManifest, 'v' | 'creator'>): SignedManifest {
  const manifest: NetworkManifest = { v: 1, creator: account.publicKey, ...fields }
  checkManifest(manifest)
  return { manifest, sig: sign(account, MANIFEST_DOMAIN, manifestValue(manifest)) }
}

export function networkIdOf (m: NetworkManifest): Uint8Array {
  return hashCanonical(manifestValue(m))
}

export function formatNetworkId (id: Uint8Array): string {
  return printableId(NETWORK_ID_PREFIX, id)
}

export function parseNetworkId (text: string): Uint8Array {
  const id = parsePrintableId(NETWORK_ID_PREFIX, text)
  if (id === undefined) throw new UnknownNetworkError(`"${text}" is not a network id`, { hint: 'a network id looks like pnb…; `peernet net ls` lists yours' })
  return id
}

function checkManifest (m: NetworkManifest): void {
  if (typeof m.name !== 'string' || m.name.length === 0 || m.name.length > MAX_NAME_LENGTH) throw new InvalidRecordError(`network name must be 1–${MAX_NAME_LENGTH} characters`)
  if (typeof m.app !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(m.app)) throw new InvalidRecordError(`invalid app name "${String(m.app)}"`)
  if (m.policy !== 'open' && m.policy !== 'invite') throw new InvalidRecordError(`invalid policy "${String(m.policy)}"`)
  if (typeof m.private !== 'boolean') throw new InvalidRecordError('manifest "private" must be a boolean')
  if (m.private && m.policy !== 'invite') throw new InvalidRecordError('a private network must be invite-only')
  if (!(m.creator instanceof Uint8Array) || m.creator.byteLength !== 32) throw new InvalidRecordError('manifest creator must be a 32-byte key')
  if (!Number.isSafeInteger(m.created) || m.created < 0) throw new InvalidRecordError('manifest "created" must be a timestamp')
}

/** Checks shape and creator signature; returns the network id. */
export function verifyManifest (signed: SignedManifest): Uint8Array {
  checkManifest(signed.manifest)
  if (!verify(signed.manifest.creator, MANIFEST_DOMAIN, manifestValue(signed.manifest), signed.sig)) {
    throw new InvalidRecordError('manifest signature does not verify')
  }
  return networkIdOf(signed.manifest)
}

export function signedManifestValue (s: SignedManifest): CanonicalValue {
  return { manifest: manifestValue(s.manifest), sig: s.sig }
}

export function signedManifestFrom (value: unknown): SignedManifest {
  const v = value as { manifest?: Record<string, unknown>, sig?: unknown }
  const m = v?.manifest
  if (typeof m !== 'object' || m === null || !(v.sig instanceof Uint8Array)) throw new InvalidRecordError('malformed manifest')
  const manifest = {
    v: m.v, name: m.name, app: m.app, creator: m.creator, policy: m.policy, private: m.private, params: m.params ?? {}, created: m.created
  } as NetworkManifest
  if (manifest.v !== 1) throw new InvalidRecordError(`unknown manifest version ${String(manifest.v)}`)
  if (typeof manifest.params !== 'object' || manifest.params === null || Array.isArray(manifest.params)) throw new InvalidRecordError('manifest params must be a map')
  const signed = { manifest, sig: v.sig }
  verifyManifest(signed)
  return signed
}
