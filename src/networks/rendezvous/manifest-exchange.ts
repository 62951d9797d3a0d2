// /peernet/manifest/1.0.0: one request, one answer. Someone who knows only a network's id
// asks a member (found through the DHT) for the network's signed manifest. The answer is
// believed only if the manifest's signature verifies and it hashes to the id asked for,
// so a member cannot pass off another network. Private networks' manifests are not given
// out: they travel only inside invites, with the network key.
//
// Frames are canonical CBOR behind a 4-byte big-endian length, as in sync.

import { bytesEqual, decodeCanonical, encodeCanonical } from '../../core/encoding.ts'
import type { CanonicalValue } from '../../core/encoding.ts'
import { formatNetworkId, networkIdOf, signedManifestFrom, signedManifestValue } from '../manifest.ts'
import type { SignedManifest } from '../manifest.ts'
import { InvalidRecordError } from '../errors.ts'

export const MANIFEST_PROTOCOL = '/peernet/manifest/1.0.0'
/** A manifest is small; anything bigger is not one. */
export const MAX_MANIFEST_FRAME = 64 * 1024

export type ManifestRequest = { v: 1, net: Uint8Array }
export type ManifestAnswer = { manifest: SignedManifest } | { refused: string }

export function frame (value: CanonicalValue): Uint8Array {
  const body = encodeCanonical(value)
  if (body.byteLength > MAX_MANIFEST_FRAME) throw new InvalidRecordError('manifest exchange message too large')
  const out = new Uint8Array(4 + body.byteLength)
  new DataView(out.buffer).setUint32(0, body.byteLength)
  out.set(body, 4)
  return out
}

/** The one frame in `bytes` (a whole message read to its end). */
export function unframe (bytes: Uint8Array): CanonicalValue {
  if (bytes.byteLength < 4) throw new InvalidRecordError('truncated manifest exchange message')
  const len = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0)
  if (len > MAX_MANIFEST_FRAME || bytes.byteLength !== 4 + len) throw new InvalidRecordError('malformed manifest exchange frame')
  return decodeCanonical(bytes.subarray(4))
}

export function requestValue (net: Uint8Array): CanonicalValue {
  return { v: 1, net }
}

export function parseRequest (value: CanonicalValue): ManifestRequest {
  const v = value as Record<string, unknown>
  if (typeof v !== 'object' || v === null || v.v !== 1 || !(v.net instanceof Uint8Array) || v.net.byteLength !== 32) {
    throw new InvalidRecordError('malformed manifest request')
  }
  return { v: 1, net: v.net }
}

/** What a member answers; `held` gives the manifest of a network this node is in. */
export function answerRequest (request: ManifestRequest, held: (net: Uint8Array) => SignedManifest | undefined): CanonicalValue {
  const m = held(request.net)
  if (m === undefined) return { refused: 'not a member of this network' }
  if (m.manifest.private) return { refused: 'a private network: its manifest comes only with an invite' }
  return { manifest: signedManifestValue(m) }
}

/**
 * Checks an answer to a request for `net`: a manifest that verifies and hashes to `net`,
 * or an error saying why not (the answer was a refusal, malformed, or forged).
 */
export function checkAnswer (net: Uint8Array, value: CanonicalValue): SignedManifest {
  const v = value as Record<string, unknown>
  if (typeof v !== 'object' || v === null) throw new InvalidRecordError('malformed manifest answer')
  if (typeof v.refused === 'string') throw new InvalidRecordError(`the member refused: ${v.refused.slice(0, 200)}`)
  let signed: SignedManifest
  try {
    signed = signedManifestFrom(v.manifest)
  } catch (err) {
    throw new InvalidRecordError(`the answer is not a valid manifest: ${(err as Error).message}`)
  }
  const got = networkIdOf(signed.manifest)
  if (!bytesEqual(got, net)) {
    throw new InvalidRecordError(`the manifest answered is for ${formatNetworkId(got)}, not ${formatNetworkId(net)} (forged or wrong answer)`)
  }
  return signed
}
