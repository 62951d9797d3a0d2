// The direct app-message protocol (/peernet/app-msg/1.0.0): one long-lived libp2p stream
// per pair of peers, frames of canonical CBOR with a 4-byte big-endian length (as sync's).
//
// The first frame each side sends is a hello that binds the stream's peer (its Noise
// key, which libp2p has authenticated) to an account: "node N speaks for account A",
// signed by the key that signs for A on that node — the account key itself on the
// account's home (whose libp2p key is a separate node key), or a delegated device key,
// with its delegation, on a linked device (whose libp2p key is that device key). The
// statement holds no nonce: it can only be used by whoever holds N's key, and N's
// key is what Noise checked. Every later frame is a message tagged with an app's name.

import { decodeCanonical, encodeCanonical, bytesEqual } from '../../core/encoding.ts'
import type { CanonicalValue } from '../../core/encoding.ts'
import { sign, verify } from '../../core/identity.ts'
import type { SignatureDomain } from '../../core/identity.ts'
import { delegationFrom, delegationValue } from '../account.ts'
import type { AccountKeys, Delegation } from '../account.ts'
import { InvalidRecordError } from '../errors.ts'

export const APP_MSG_PROTOCOL = '/peernet/app-msg/1.0.0'
/** Frames larger than this are refused (an app message is a line update, not a file). */
export const MAX_APP_FRAME_BYTES = 1024 * 1024

const HELLO_DOMAIN: SignatureDomain = { purpose: 'networks/app-msg-hello', version: 1 }

export interface AppHello {
  t: 'hello'
  v: 1
  account: Uint8Array
  /** The key that signs for `account` on the sender's node. */
  device: Uint8Array
  /** The sender's libp2p (Noise) public key. */
  node: Uint8Array
  /** Present when `device` is not the account key. */
  delegation: Delegation | null
  sig: Uint8Array
}

export type AppFrame = AppHello | { t: 'm', app: string, data: Uint8Array }

export function makeHello (keys: AccountKeys, node: Uint8Array): AppHello {
  const core = { account: keys.publicKey, device: keys.signer.publicKey, node }
  return { t: 'hello', v: 1, ...core, delegation: keys.delegation, sig: sign(keys.signer, HELLO_DOMAIN, core) }
}

/**
 * Checks a hello received on a stream from the peer whose Noise key is `node`: the
 * binding's signature, and that its device speaks for its account. Throws with a reason.
 * Revocation and membership are the caller's to check (they depend on the logs).
 */
export function checkHello (h: AppHello, node: Uint8Array): void {
  if (!bytesEqual(h.node, node)) throw new InvalidRecordError('app-msg hello names another node than the stream\'s peer')
  if (!verify(h.device, HELLO_DOMAIN, { account: h.account, device: h.device, node: h.node }, h.sig)) throw new InvalidRecordError('app-msg hello signature does not verify')
  if (bytesEqual(h.device, h.account)) return
  if (h.delegation === null) throw new InvalidRecordError('app-msg hello from a device without its delegation')
  if (!bytesEqual(h.delegation.account, h.account) || !bytesEqual(h.delegation.device, h.device)) throw new InvalidRecordError('app-msg hello\'s delegation is for another account or device')
}

export function encodeAppFrame (f: AppFrame): Uint8Array {
  const value: CanonicalValue = f.t === 'm'
    // A Buffer (a Uint8Array subclass) is viewed as a plain Uint8Array: the encoder takes only those.
    ? { t: 'm', app: f.app, data: Object.getPrototypeOf(f.data) === Uint8Array.prototype ? f.data : new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength) }
    : { t: 'hello', v: 1, account: f.account, device: f.device, node: f.node, delegation: f.delegation === null ? null : delegationValue(f.delegation), sig: f.sig }
  const body = encodeCanonical(value)
  if (body.byteLength > MAX_APP_FRAME_BYTES) throw new InvalidRecordError(`app message of ${body.byteLength} bytes is over the limit of ${MAX_APP_FRAME_BYTES}`)
  const frame = new Uint8Array(4 + body.byteLength)
  new DataView(frame.buffer).setUint32(0, body.byteLength)
  frame.set(body, 4)
  return frame
}

const isKey = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.byteLength === 32

/** A frame's body back into a message; strict (unknown shapes throw). */
export function decodeAppFrame (body: Uint8Array): AppFrame {
  const v = decodeCanonical(body) as Record<string, unknown> | null
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) throw new InvalidRecordError('malformed app message')
  if (v.t === 'm') {
    if (typeof v.app !== 'string' || !(v.data instanceof Uint8Array)) throw new InvalidRecordError('malformed app message')
    return { t: 'm', app: v.app, data: v.data }
  }
  if (v.t === 'hello') {
    if (v.v !== 1) throw new InvalidRecordError(`app-msg hello of unknown version ${String(v.v)}`)
    if (!isKey(v.account) || !isKey(v.device) || !isKey(v.node) || !(v.sig instanceof Uint8Array)) throw new InvalidRecordError('malformed app-msg hello')
    const delegation = v.delegation === null || v.delegation === undefined ? null : delegationFrom(v.delegation)
    return { t: 'hello', v: 1, account: v.account, device: v.device, node: v.node, delegation, sig: v.sig }
  }
  throw new InvalidRecordError(`unknown app message type ${String(v.t)}`)
}
