// Durable small files in the home directory: written whole or not at all (temp file,
// fsync, rename), with the mode set before any byte lands, so a crash never leaves a
// half-written key, token or config behind.

import { openSync, writeSync, fsyncSync, closeSync, renameSync, linkSync, unlinkSync, mkdirSync, chmodSync } from 'node:fs'
import { dirname, basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'

export interface WriteFileOptions {
  /** File mode, e.g. 0o600 for secrets. */
  mode: number
  /** Refuse to replace an existing file (EEXIST) instead of overwriting it. */
  exclusive?: boolean
}

export function writeFileAtomic (path: string, data: string | Uint8Array, options: WriteFileOptions): void {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const fd = openSync(tmp, 'wx', options.mode)
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    let off = 0
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    if (options.exclusive === true) {
      linkSync(tmp, path) // fails with EEXIST rather than replacing
      unlinkSync(tmp)
    } else {
      renameSync(tmp, path)
    }
  } catch (err) {
    unlinkSync(tmp)
    throw err
  }
  syncDir(dir)
}

/** Create a directory (and parents) readable only by its owner. */
export function ensurePrivateDir (path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 })
  chmodSync(path, 0o700)
}

function syncDir (dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try { fsyncSync(fd) } finally { closeSync(fd) }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic there.
  }
}
