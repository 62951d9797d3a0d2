// The node's identity: one Ed25519 key. Its public half is the libp2p PeerId, so the
// key that signs Peernet records is the key that authenticates Noise handshakes.
//
// The key file holds the 32-byte seed as JSON `{"version":1,"type":"ed25519","seed":b64}`
// with mode 0600. A key file that exists but cannot be read is an error, never a
// reason to make a new identity: losing a key loses the node's place in every network.

import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as edSign, verify as edVerify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { IdentityError, SignatureError } from './errors.ts'
import { encodeCanonical } from './encoding.ts'
import type { CanonicalValue } from './encoding.ts'
import { writeFileAtomic } from './files.ts'

export interface Identity {
  /** 32-byte Ed25519 seed (the private key). */
  readonly seed: Uint8Array
  /** 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array
  /** The libp2p PeerId string of the public key (base58btc, `12D3KooW…`). */
  readonly peerId: string
  readonly privateKeyObject: KeyObject
}

// PKCS#8 and SPKI DER prefixes for Ed25519 (RFC 8410 §7); the key bytes follow.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

export function identityFromSeed (seed: Uint8Array): Identity {
  if (seed.byteLength !== 32) throw new IdentityError(`an Ed25519 seed is 32 bytes, got ${seed.byteLength}`)
  const privateKeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(privateKeyObject).export({ format: 'der', type: 'spki' })
  const publicKey = new Uint8Array(spki.subarray(SPKI_PREFIX.byteLength))
  return { seed: new Uint8Array(seed), publicKey, peerId: peerIdOfPublicKey(publicKey), privateKeyObject }
}

export function generateIdentity (): Identity {
  const { privateKey } = generateKeyPairSync('ed25519')
  const der = privateKey.export({ format: 'der', type: 'pkcs8' })
  return identityFromSeed(new Uint8Array(der.subarray(PKCS8_PREFIX.byteLength)))
}

export function peerIdOfPublicKey (publicKey: Uint8Array): string {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey)).toString()
}

/** The Ed25519 public key (32 bytes) a peer id carries; undefined for text that is not one. */
export function publicKeyOfPeerId (peerId: string): Uint8Array | undefined {
  try {
    const key = peerIdFromString(peerId).publicKey
    return key?.type === 'Ed25519' ? key.raw : undefined
  } catch {
    return undefined
  }
}

// ---- key file -------------------------------------------------------------------------

const KEY_FILE_VERSION = 1

export function saveIdentity (path: string, identity: Identity): void {
  const body = JSON.stringify({ version: KEY_FILE_VERSION, type: 'ed25519', seed: Buffer.from(identity.seed).toString('base64') }) + '\n'
  try {
    writeFileAtomic(path, body, { mode: 0o600, exclusive: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new IdentityError(`key file ${path} already exists`, { hint: 'refusing to overwrite an identity; move it away first if you really mean to replace it' })
    }
    throw new IdentityError(`cannot write key file ${path}: ${(err as Error).message}`, { cause: err })
  }
}

/** Reads the key file, or returns undefined when there is none. Any other problem throws. */
export function loadIdentity (path: string): Identity | undefined {
  let text: string
  try {
    const st = statSync(path)
    if (!st.isFile()) {
      throw new IdentityError(`cannot read key file ${path}: it is not a regular file`, { hint: 'move it away or restore the key file; the identity was not replaced' })
    }
    if ((st.mode & 0o077) !== 0) {
      throw new IdentityError(`key file ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)})`, { hint: `run: chmod 600 ${path}` })
    }
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if (err instanceof IdentityError) throw err
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new IdentityError(`cannot read key file ${path}: ${(err as Error).message}`, { hint: 'check its permissions; the identity was not replaced', cause: err })
  }
  const corrupt = (why: string): IdentityError => new IdentityError(`key file ${path} is corrupt: ${why}`, {
    hint: 'restore it from a backup; Peernet will not replace an identity it cannot read'
  })
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch { throw corrupt('not JSON') }
  if (typeof parsed !== 'object' || parsed === null) throw corrupt('not an object')
  const { version, type, seed } = parsed as Record<string, unknown>
  if (version !== KEY_FILE_VERSION) throw corrupt(`unknown version ${String(version)}`)
  if (type !== 'ed25519') throw corrupt(`unknown key type ${String(type)}`)
  if (typeof seed !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(seed)) throw corrupt('seed is not 32 bytes of base64')
  return identityFromSeed(new Uint8Array(Buffer.from(seed, 'base64')))
}

// ---- signatures -----------------------------------------------------------------------

/**
 * What a signature is for. The purpose and version are signed along with the value, so
 * a signature made for one purpose (say an invite) can never be replayed as another
 * (say a log entry), nor across incompatible versions of the same record.
 */
export interface SignatureDomain {
  readonly purpose: string
  readonly version: number
}

const SIGNATURE_CONTEXT = 'peernet/signature'

export function signingBytes (domain: SignatureDomain, value: CanonicalValue): Uint8Array {
  if (!/^[a-z0-9][a-z0-9./-]*$/.test(domain.purpose)) throw new SignatureError(`invalid signature purpose "${domain.purpose}"`)
  if (!Number.isSafeInteger(domain.version) || domain.version < 1) throw new SignatureError(`invalid signature version ${domain.version}`)
  return encodeCanonical([SIGNATURE_CONTEXT, domain.purpose, domain.version, value])
}

export function sign (identity: Identity, domain: SignatureDomain, value: CanonicalValue): Uint8Array {
  return signBytes(identity, signingBytes(domain, value))
}

export function verify (publicKey: Uint8Array, domain: SignatureDomain, value: CanonicalValue, signature: Uint8Array): boolean {
  return verifyBytes(publicKey, signingBytes(domain, value), signature)
}

/**
 * `sign` over bytes already made by `signingBytes`: for a caller that signs and verifies
 * the same large value (a line state) and encodes it once.
 */
export function signBytes (identity: Identity, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(edSign(null, bytes, identity.privateKeyObject))
}

/** `verify` over bytes already made by `signingBytes`. */
export function verifyBytes (publicKey: Uint8Array, bytes: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || !(signature instanceof Uint8Array) || publicKey.byteLength !== 32 || signature.byteLength !== 64) return false
  return edVerify(null, bytes, publicKeyObject(publicKey), signature)
}

/**
 * Public KeyObjects of the keys verified lately: importing one (createPublicKey) costs
 * about as much as the verification, and a node verifies the same few device keys over
 * and over (its line peers, its network members). Bounded; the oldest goes first.
 */
const KEY_OBJECTS_MAX = 1024
const keyObjects = new Map<string, KeyObject>()

function publicKeyObject (publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64')
  let key = keyObjects.get(id)
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
    if (keyObjects.size >= KEY_OBJECTS_MAX) keyObjects.delete(keyObjects.keys().next().value as string)
    keyObjects.set(id, key)
  }
  return key
}
