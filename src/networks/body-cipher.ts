// Bodies of a private network are sealed with the network key (ChaCha20-Poly1305, a
// random 96-bit nonce, the network id as associated data). The entry's bodyHash covers
// the sealed bytes, so a node that relays or stores the entries can verify the chain
// without being able to read a word.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { InvalidRecordError } from './errors.ts'

const NONCE = 12
const TAG = 16

export function sealBody (key: Uint8Array, net: Uint8Array, plain: Uint8Array): Uint8Array {
  const nonce = randomBytes(NONCE)
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG })
  c.setAAD(net, { plaintextLength: plain.byteLength })
  const body = Buffer.concat([nonce, c.update(plain), c.final(), c.getAuthTag()])
  return new Uint8Array(body)
}

export function openBody (key: Uint8Array, net: Uint8Array, sealed: Uint8Array): Uint8Array {
  if (sealed.byteLength < NONCE + TAG) throw new InvalidRecordError('sealed body too short')
  const nonce = sealed.subarray(0, NONCE)
  const tag = sealed.subarray(sealed.byteLength - TAG)
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG })
  d.setAAD(net, { plaintextLength: sealed.byteLength - NONCE - TAG })
  d.setAuthTag(tag)
  try {
    return new Uint8Array(Buffer.concat([d.update(sealed.subarray(NONCE, sealed.byteLength - TAG)), d.final()]))
  } catch {
    throw new InvalidRecordError('sealed body does not open with the network key')
  }
}
