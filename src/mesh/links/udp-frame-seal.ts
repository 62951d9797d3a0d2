// Sealed frames on a UDP mesh link: every frame and bye between two neighbours is
// encrypted and authenticated with ChaCha20-Poly1305 (RFC 8439) under a key only the two
// of them can derive, so nobody else on the segment can read routing traffic, forge a
// frame, close a link with a spoofed bye, or replay what it overheard.
//
//   sealed  0xA4 | session u48 | counter u48 | ChaCha20-Poly1305(kind u8 ‖ frame) | tag (16)    = frame + 30 bytes
//
// Keys. Each direction has its own: HKDF-SHA256 (RFC 5869) over the X25519 agreement of the
// two nodes' keys (derived from their Ed25519 identities, as sealed boxes do), with the
// sender's and then the receiver's public key as info. The beacon already proved that the
// far side holds its key, so no handshake is needed: a stranger who cannot compute the
// agreement cannot make a frame that opens.
//
// Nonces and replays. The nonce is the sender's session ‖ counter. The session is when
// the sender's link provider started (ms, its own clock, kept increasing) and the counter
// counts its frames on the link, so a nonce is never used twice under one key. The
// receiver keeps, per link, the newest session it has opened a frame from and a sliding
// window of 64 counters (the anti-replay window of RFC 4303 §3.4.3): a frame from an older
// session, below the window, or seen before is refused; a frame from a newer session
// (the neighbour restarted) starts a new window once it has opened.

import { createCipheriv, createDecipheriv, diffieHellman, hkdfSync } from 'node:crypto'
import type { Identity } from '../../core/identity.ts'
import { x25519Key, x25519PrivateOf, x25519PublicOf } from '../../core/seal.ts'

export const SEALED = 0xa4
/** Bytes a sealed datagram adds to the frame it carries. */
export const SEAL_OVERHEAD = 1 + 6 + 6 + 1 + 16
const HEADER = 13
const TAG = 16
const WINDOW = 64n
const SALT = 'peernet/mesh/udp-frame/v1'
const MAX_COUNTER = 2 ** 48 - 1

export type SealedKind = 'frame' | 'bye'
const KIND_FRAME = 0
const KIND_BYE = 1

export type Opened =
  | { ok: true, kind: SealedKind, frame: Uint8Array }
  | { ok: false, reason: string }

/** The sealing state of one link: keys both ways, our counter, and the replay window for theirs. */
export class FrameSeal {
  readonly #sendKey: Buffer
  readonly #receiveKey: Buffer
  readonly #session: number
  #counter = 0
  #peerSession = -1
  /** The highest counter opened in the peer's current session, and a bit per counter below it (bit 0 = highest). */
  #highest = -1
  #seen = 0n

  /** `session`: this end's session (see the header), greater than any earlier link's to this neighbour. */
  constructor (identity: Identity, remoteKey: Uint8Array, session: number) {
    const shared = diffieHellman({ privateKey: x25519PrivateOf(identity), publicKey: x25519Key(x25519PublicOf(remoteKey)) })
    if (shared.every((b) => b === 0)) throw new Error('the neighbour key is a low-order point')
    this.#sendKey = Buffer.from(hkdfSync('sha256', shared, SALT, Buffer.concat([identity.publicKey, remoteKey]), 32))
    this.#receiveKey = Buffer.from(hkdfSync('sha256', shared, SALT, Buffer.concat([remoteKey, identity.publicKey]), 32))
    this.#session = session
  }

  /** A datagram carrying `frame` (or a bye); undefined once the counter is spent (2^48 frames: close the link). */
  seal (kind: SealedKind, frame: Uint8Array = new Uint8Array(0)): Uint8Array | undefined {
    if (this.#counter > MAX_COUNTER) return undefined
    const header = Buffer.alloc(HEADER)
    header[0] = SEALED
    header.writeUIntBE(this.#session, 1, 6)
    header.writeUIntBE(this.#counter++, 7, 6)
    const c = createCipheriv('chacha20-poly1305', this.#sendKey, header.subarray(1), { authTagLength: TAG })
    c.setAAD(header.subarray(0, 1), { plaintextLength: 1 + frame.byteLength })
    const body = Buffer.concat([c.update(Uint8Array.of(kind === 'bye' ? KIND_BYE : KIND_FRAME)), c.update(frame), c.final()])
    return new Uint8Array(Buffer.concat([header, body, c.getAuthTag()]))
  }

  /** Opens a sealed datagram from this link's neighbour, or says why it is refused. */
  open (datagram: Uint8Array): Opened {
    if (datagram.byteLength < SEAL_OVERHEAD || datagram[0] !== SEALED) return { ok: false, reason: 'not a sealed frame' }
    const bytes = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength)
    const session = bytes.readUIntBE(1, 6)
    const counter = bytes.readUIntBE(7, 6)
    if (session < this.#peerSession) return { ok: false, reason: 'from an older session (replayed)' }
    if (session === this.#peerSession && !this.#fresh(counter)) return { ok: false, reason: 'replayed or too old' }
    const d = createDecipheriv('chacha20-poly1305', this.#receiveKey, bytes.subarray(1, HEADER), { authTagLength: TAG })
    d.setAAD(bytes.subarray(0, 1), { plaintextLength: bytes.byteLength - HEADER - TAG })
    d.setAuthTag(bytes.subarray(bytes.byteLength - TAG))
    let plain: Buffer
    try {
      plain = Buffer.concat([d.update(bytes.subarray(HEADER, bytes.byteLength - TAG)), d.final()])
    } catch {
      return { ok: false, reason: 'does not open: forged, damaged, or not from this neighbour' }
    }
    if (session > this.#peerSession) {
      this.#peerSession = session
      this.#highest = -1
      this.#seen = 0n
    }
    this.#mark(counter)
    const kind = plain[0]
    if (kind !== KIND_FRAME && kind !== KIND_BYE) return { ok: false, reason: `unknown sealed kind ${String(kind)}` }
    return { ok: true, kind: kind === KIND_BYE ? 'bye' : 'frame', frame: new Uint8Array(plain.subarray(1)) }
  }

  #fresh (counter: number): boolean {
    if (counter > this.#highest) return true
    const back = BigInt(this.#highest - counter)
    return back < WINDOW && (this.#seen & (1n << back)) === 0n
  }

  #mark (counter: number): void {
    if (counter > this.#highest) {
      const shift = BigInt(counter - this.#highest)
      this.#seen = shift >= WINDOW ? 1n : ((this.#seen << shift) | 1n) & ((1n << WINDOW) - 1n)
      this.#highest = counter
    } else {
      this.#seen |= 1n << BigInt(this.#highest - counter)
    }
  }
}

/** A session number for a provider starting now: its clock, but never at or below the last one it used. */
export function nextSession (now: number, last: number): number {
  return Math.min(MAX_COUNTER, Math.max(Math.floor(now), last + 1))
}
