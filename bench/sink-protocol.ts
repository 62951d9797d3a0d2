// The sink protocol the throughput benchmark measures with, over a libp2p stream or a
// plain TCP socket:
//
//   writer -> sink: N bytes, then the writer closes its write side
//   sink -> writer: N as an 8-byte big-endian unsigned integer, then the sink closes
//
// The reply makes the writer's clock stop only once every byte has reached the sink's
// application code, not when it left the writer's buffers.

import { once } from 'node:events'
import type { Socket } from 'node:net'
import type { Stream } from '@libp2p/interface'
import { BenchmarkError, ByteCountMismatchError } from './errors.ts'

export const SINK_PROTOCOL = '/peernet-bench/sink/1.0.0'

const COUNT_BYTES = 8
const REPLY_TIMEOUT_MS = 30_000

export function encodeCount (count: number): Uint8Array {
  const out = new Uint8Array(COUNT_BYTES)
  new DataView(out.buffer).setBigUint64(0, BigInt(count))
  return out
}

export function decodeCount (bytes: Uint8Array): number {
  if (bytes.byteLength < COUNT_BYTES) throw new BenchmarkError(`sink reply too short: ${bytes.byteLength} of ${COUNT_BYTES} bytes`)
  return Number(new DataView(bytes.buffer, bytes.byteOffset, COUNT_BYTES).getBigUint64(0))
}

/** The pieces to send: `total` bytes cut into `chunk`-sized views of one buffer. */
function * pieces (total: number, chunk: Uint8Array): Generator<Uint8Array> {
  for (let left = total; left > 0; left -= chunk.byteLength) {
    yield left >= chunk.byteLength ? chunk : chunk.subarray(0, left)
  }
}

function concat (parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.byteLength }
  return out
}

function checkCount (expected: number, got: number): void {
  if (got !== expected) throw new ByteCountMismatchError(`sink counted ${got} bytes, ${expected} were sent`)
}

// ---- libp2p streams ----------------------------------------------------------------

/** The sink side, as a libp2p stream handler. */
export async function serveSinkStream (stream: Stream): Promise<void> {
  try {
    let count = 0
    for await (const chunk of stream) count += chunk.byteLength
    stream.send(encodeCount(count))
    await stream.close({ signal: AbortSignal.timeout(REPLY_TIMEOUT_MS) })
  } catch (err) {
    stream.abort(err instanceof Error ? err : new BenchmarkError(String(err)))
  }
}

/**
 * The writer side: sends `total` bytes in `chunk`-sized pieces, waiting for the stream
 * to drain whenever `send` reports a full buffer, then waits for the sink's count.
 * `signal` bounds the whole transfer; on abort the stream is aborted.
 */
export async function writeToSinkStream (stream: Stream, total: number, chunk: Uint8Array, signal: AbortSignal): Promise<void> {
  const onAbort = (): void => { stream.abort(signal.reason instanceof Error ? signal.reason : new BenchmarkError('transfer aborted')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    // Start reading before sending: the reply may arrive, and the stream close, before
    // a later reader would attach its listener.
    const reply = readStreamReply(stream)
    reply.catch(() => {}) // awaited below; keeps an early failure from being unhandled meanwhile
    for (const piece of pieces(total, chunk)) {
      if (!stream.send(piece)) await stream.onDrain({ signal })
    }
    await stream.close({ signal })
    checkCount(total, await reply)
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

async function readStreamReply (stream: Stream): Promise<number> {
  const parts: Uint8Array[] = []
  let received = 0
  for await (const chunk of stream) {
    parts.push(chunk.subarray())
    received += chunk.byteLength
    if (received >= COUNT_BYTES) break
  }
  return decodeCount(concat(parts))
}

// ---- plain TCP sockets -------------------------------------------------------------

/** The sink side on a socket; the server must allow half-open sockets. */
export function serveSinkSocket (socket: Socket): void {
  let count = 0
  socket.on('data', (chunk: Buffer) => { count += chunk.byteLength })
  socket.on('end', () => { socket.end(encodeCount(count)) })
  socket.on('error', () => { socket.destroy() })
}

/** The writer side on a connected socket; same contract as writeToSinkStream. */
export async function writeToSinkSocket (socket: Socket, total: number, chunk: Uint8Array, signal: AbortSignal): Promise<void> {
  const onAbort = (): void => { socket.destroy(signal.reason instanceof Error ? signal.reason : new BenchmarkError('transfer aborted')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    for (const piece of pieces(total, chunk)) {
      if (!socket.write(piece)) await once(socket, 'drain', { signal })
    }
    socket.end()
    // A paused socket buffers what arrives, so reading only now loses nothing.
    const parts: Uint8Array[] = []
    for await (const data of socket) parts.push(data as Buffer)
    checkCount(total, decodeCount(concat(parts)))
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
