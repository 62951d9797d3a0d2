// Frames on a byte stream: each frame is a 4-byte big-endian length and that many bytes.
// A stream link (libp2p) uses it to keep the datagram boundaries a Link promises.

import { MeshLinkError } from '../errors.ts'

export const LENGTH_PREFIX_BYTES = 4

export function encodeLengthPrefixed (frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(LENGTH_PREFIX_BYTES + frame.byteLength)
  new DataView(out.buffer).setUint32(0, frame.byteLength)
  out.set(frame, LENGTH_PREFIX_BYTES)
  return out
}

/**
 * A plain Uint8Array holding its own bytes: the chunk may be a Buffer (whose `slice` is a
 * view) over memory the transport reuses, and a frame outlives the chunk.
 */
function copy (data: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start)
  out.set(data.subarray(start, end))
  return out
}

/** Cuts a byte stream back into frames; refuses a frame longer than `maxFrame`. */
export class LengthPrefixedReader {
  readonly #maxFrame: number
  #rest: Uint8Array = new Uint8Array(0)

  constructor (maxFrame: number) {
    this.#maxFrame = maxFrame
  }

  /** The frames completed by this chunk, in order. Throws MeshLinkError on an oversized frame. */
  push (chunk: Uint8Array): Uint8Array[] {
    let data = chunk
    if (this.#rest.byteLength > 0) {
      data = new Uint8Array(this.#rest.byteLength + chunk.byteLength)
      data.set(this.#rest, 0)
      data.set(chunk, this.#rest.byteLength)
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
    const frames: Uint8Array[] = []
    let offset = 0
    while (data.byteLength - offset >= LENGTH_PREFIX_BYTES) {
      const length = view.getUint32(offset)
      if (length > this.#maxFrame) throw new MeshLinkError(`a frame of ${length} bytes is over the link's limit of ${this.#maxFrame}`)
      if (data.byteLength - offset - LENGTH_PREFIX_BYTES < length) break
      frames.push(copy(data, offset + LENGTH_PREFIX_BYTES, offset + LENGTH_PREFIX_BYTES + length))
      offset += LENGTH_PREFIX_BYTES + length
    }
    this.#rest = offset === data.byteLength ? new Uint8Array(0) : copy(data, offset, data.byteLength)
    return frames
  }

  /** Bytes of an unfinished frame held back. */
  get buffered (): number { return this.#rest.byteLength }
}
