// Sealed boxes: bytes only the holder of one Ed25519 identity can open. The sender makes
// an ephemeral X25519 key, agrees a secret with the recipient's X25519 key (derived from
// its Ed25519 key, RFC 7748 §4.1's birational map, the way libsodium's
// crypto_sign_ed25519_pk_to_curve25519 does), derives a one-time key with HKDF-SHA256
// (RFC 5869) bound to both public keys, and seals with ChaCha20-Poly1305 (RFC 8439).
// Anyone can seal to a key, so a box says nothing about who made it: sign what is inside
// when that matters.
//
// Wire form: ephemeral X25519 public key (32) ‖ nonce (12) ‖ ciphertext ‖ tag (16).

import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { Identity } from './identity.ts'
import { PeernetError } from './errors.ts'

const KEY = 32
const NONCE = 12
const TAG = 16
const INFO = 'peernet/seal/v1'
// PKCS#8 and SPKI DER prefixes for X25519 (RFC 8410 §7); the key bytes follow.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')
const P = (1n << 255n) - 19n

/** A sealed box that does not open: damaged, or sealed to another key. */
export class SealError extends PeernetError { override name = 'SealError' }

/**
 * Converted keys, by Ed25519 key (hex): the conversion costs a BigInt modular inverse
 * (about a millisecond), and a node trying each box of a message with its own keys, or
 * sealing to the same members again and again, would pay it every time. Bounded.
 */
const publicCache = new Map<string, Uint8Array>()
const PUBLIC_CACHE_MAX = 4096
const privateCache = new WeakMap<Identity, KeyObject>()

/** The X25519 public key of an Ed25519 public key: u = (1 + y) / (1 − y) mod p. */
export function x25519PublicOf (edPublicKey: Uint8Array): Uint8Array {
  if (edPublicKey.byteLength !== 32) throw new SealError('an Ed25519 public key is 32 bytes')
  const k = Buffer.from(edPublicKey.buffer, edPublicKey.byteOffset, 32).toString('hex')
  const known = publicCache.get(k)
  if (known !== undefined) return known.slice()
  const u = convertPublic(edPublicKey)
  if (publicCache.size >= PUBLIC_CACHE_MAX) publicCache.delete(publicCache.keys().next().value as string)
  publicCache.set(k, u.slice())
  return u
}

function convertPublic (edPublicKey: Uint8Array): Uint8Array {
  const bytes = Uint8Array.from(edPublicKey)
  bytes[31] = (bytes[31] as number) & 0x7f // the sign bit of x
  const y = leToBigInt(bytes)
  if (y >= P || y === 1n) throw new SealError('not a usable Ed25519 public key')
  const u = ((1n + y) * modPow((1n - y + P) % P, P - 2n)) % P
  return bigIntToLe(u)
}

/** The X25519 private key of an Ed25519 identity: the first half of SHA-512(seed) (clamped by X25519). */
export function x25519PrivateOf (identity: Identity): KeyObject {
  let key = privateCache.get(identity)
  if (key === undefined) {
    const scalar = createHash('sha512').update(identity.seed).digest().subarray(0, 32)
    key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, scalar]), format: 'der', type: 'pkcs8' })
    privateCache.set(identity, key)
  }
  return key
}

/** A raw 32-byte X25519 public key as a KeyObject for `diffieHellman`. */
export function x25519Key (raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
}

function boxKey (shared: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): Buffer {
  if (shared.every((b) => b === 0)) throw new SealError('the recipient key is a low-order point')
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeral, recipient]), INFO, KEY))
}

/** Seals `plain` so that only the holder of the Ed25519 key `recipient` can open it. */
export function sealTo (recipient: Uint8Array, plain: Uint8Array): Uint8Array {
  const recipientX = x25519PublicOf(recipient)
  const eph = generateKeyPairSync('x25519')
  const ephPublic = new Uint8Array(eph.publicKey.export({ format: 'der', type: 'spki' }).subarray(X25519_SPKI_PREFIX.byteLength))
  const key = boxKey(diffieHellman({ privateKey: eph.privateKey, publicKey: x25519Key(recipientX) }), ephPublic, recipientX)
  const nonce = randomBytes(NONCE)
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG })
  return new Uint8Array(Buffer.concat([ephPublic, nonce, c.update(plain), c.final(), c.getAuthTag()]))
}

/** Opens a box sealed to `identity`; throws SealError when it is damaged or for another key. */
export function openSealed (identity: Identity, sealed: Uint8Array): Uint8Array {
  if (sealed.byteLength < KEY + NONCE + TAG) throw new SealError('sealed box too short')
  const ephPublic = sealed.subarray(0, KEY)
  const nonce = sealed.subarray(KEY, KEY + NONCE)
  const tag = sealed.subarray(sealed.byteLength - TAG)
  const recipientX = x25519PublicOf(identity.publicKey)
  let key: Buffer
  try {
    key = boxKey(diffieHellman({ privateKey: x25519PrivateOf(identity), publicKey: x25519Key(ephPublic) }), ephPublic, recipientX)
  } catch (err) {
    if (err instanceof SealError) throw err
    throw new SealError('sealed box carries an invalid key')
  }
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG })
  d.setAuthTag(tag)
  try {
    return new Uint8Array(Buffer.concat([d.update(sealed.subarray(KEY + NONCE, sealed.byteLength - TAG)), d.final()]))
  } catch {
    throw new SealError('sealed box does not open with this key: it is damaged or sealed to another key')
  }
}

function leToBigInt (bytes: Uint8Array): bigint {
  let n = 0n
  for (let i = bytes.byteLength - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number)
  return n
}

function bigIntToLe (n: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) { out[i] = Number(n & 0xffn); n >>= 8n }
  return out
}

function modPow (base: bigint, exp: bigint): bigint {
  let result = 1n
  let b = base % P
  let e = exp
  while (e > 0n) {
    if ((e & 1n) === 1n) result = (result * b) % P
    b = (b * b) % P
    e >>= 1n
  }
  return result
}
