// What every Link does the same way, whatever carries it: refuse frames over the mtu or
// after close, hand received frames to the handlers in order, and close exactly once —
// locally, from the far side or from the medium — telling every close handler why.
//
// Frames that arrive before anyone has called `onFrame` wait in a small buffer and go to
// the first handler: a provider announces a link synchronously, but the code it hands the
// link to may set its handler a little later (after an await), and the far side may
// already be talking. Past the buffer they are dropped, as a datagram link may.

import type { Link, LinkId } from '../link.ts'
import type { Logger } from '../../core/log.ts'

/** Frames kept for a link whose frame handler is not set yet. */
export const PENDING_FRAMES = 64

export interface BaseLinkInit {
  id: LinkId
  kind: string
  remoteKey: Uint8Array
  mtu: number
  bitrate: number
  /** Where a handler that throws is reported (the link goes on). */
  logger?: Logger
}

export abstract class BaseLink implements Link {
  readonly id: LinkId
  readonly kind: string
  readonly remoteKey: Uint8Array
  readonly mtu: number
  readonly bitrate: number
  readonly #logger: Logger | undefined
  readonly #frameHandlers: Array<(frame: Uint8Array) => void> = []
  readonly #closeHandlers: Array<(reason: string) => void> = []
  #pending: Uint8Array[] = []
  #closeReason: string | null = null

  constructor (init: BaseLinkInit) {
    this.id = init.id
    this.kind = init.kind
    this.remoteKey = init.remoteKey
    this.mtu = init.mtu
    this.bitrate = init.bitrate
    this.#logger = init.logger
  }

  get closed (): boolean { return this.#closeReason !== null }

  /** Why the link closed, or null while it is open. */
  get closeReason (): string | null { return this.#closeReason }

  send (frame: Uint8Array): boolean {
    if (this.#closeReason !== null || !(frame instanceof Uint8Array) || frame.byteLength > this.mtu) return false
    return this.transmit(frame)
  }

  onFrame (handler: (frame: Uint8Array) => void): void {
    this.#frameHandlers.push(handler)
    if (this.#frameHandlers.length === 1 && this.#pending.length > 0) {
      // Not from inside onFrame: the caller may set its other state right after.
      queueMicrotask(() => {
        const pending = this.#pending
        this.#pending = []
        for (const f of pending) this.#dispatch(f)
      })
    }
  }

  onClose (handler: (reason: string) => void): void {
    const reason = this.#closeReason
    // A handler set after the close still hears of it, once, so nobody waits forever.
    if (reason !== null) queueMicrotask(() => { this.#call(handler, reason) })
    else this.#closeHandlers.push(handler)
  }

  close (): void {
    if (this.#closeReason !== null) return
    this.ended('closed locally')
    this.release()
  }

  /** Puts one frame (within the mtu) on the medium; false when it could not. */
  protected abstract transmit (frame: Uint8Array): boolean

  /** Tells the far side and frees the medium's resources after a local `close()`. */
  protected abstract release (): void

  /** For subclasses: a frame arrived from the far side. */
  protected received (frame: Uint8Array): void {
    if (this.#closeReason !== null) return
    if (this.#frameHandlers.length === 0) {
      if (this.#pending.length < PENDING_FRAMES) this.#pending.push(frame)
      return
    }
    // Frames buffered before the first handler go first, to keep the order.
    if (this.#pending.length > 0) {
      this.#pending.push(frame)
      return
    }
    this.#dispatch(frame)
  }

  /** For subclasses: the link is over (far side, medium, or local close). Idempotent. */
  protected ended (reason: string): void {
    if (this.#closeReason !== null) return
    this.#closeReason = reason
    this.#pending = []
    for (const h of this.#closeHandlers.splice(0)) this.#call(h, reason)
  }

  #dispatch (frame: Uint8Array): void {
    for (const h of this.#frameHandlers) {
      if (this.#closeReason !== null) return
      this.#call(h, frame)
    }
  }

  #call<T> (handler: (value: T) => void, value: T): void {
    try {
      handler(value)
    } catch (err) {
      // One faulty consumer must not take the link (or the socket shared by every UDP
      // link) down with it.
      const text = err instanceof Error ? err.message : String(err)
      if (this.#logger !== undefined) this.#logger.error('link handler threw', { link: this.id, err: text })
      else process.emitWarning(`a handler of link ${this.id} threw: ${text}`)
    }
  }
}
