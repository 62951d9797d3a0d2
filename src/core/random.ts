// Random bytes for ids and secrets, cut from a pool the system's CSPRNG refills 4 KiB at a
// time: one randomBytes call costs a system call (~10-20 µs), and a busy payment node
// wants several small draws per payment. Every byte is handed out once, then forgotten
// by the pool (each draw is a copy, and the pool is replaced, not reused, once spent).

import { randomBytes } from 'node:crypto'

const POOL_BYTES = 4096
let pool = new Uint8Array(0)
let at = 0

export function randomFromPool (n: number): Uint8Array {
  if (n > POOL_BYTES / 4) return new Uint8Array(randomBytes(n))
  if (at + n > pool.byteLength) { pool = new Uint8Array(randomBytes(POOL_BYTES)); at = 0 }
  const out = pool.slice(at, at + n)
  pool.fill(0, at, at + n)
  at += n
  return out
}
