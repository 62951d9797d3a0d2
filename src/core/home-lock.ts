// One process owns a home at a time. The lock file holds the owner's pid; it appears
// atomically with its content (written to a temp file, then hard-linked into place, which
// fails if a lock exists). A lock whose process is gone is stale: it is first renamed
// aside — only one contender can win that rename — and then checked again, so two
// processes racing for a stale lock never both end up holding it.

import { linkSync, readFileSync, renameSync, unlinkSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { DaemonRunningError, PeernetError } from './errors.ts'
import { writeFileAtomic } from './files.ts'

export interface HomeLock {
  release: () => void
}

export function acquireHomeLock (path: string, home: string): HomeLock {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileAtomic(path, `${process.pid}\n`, { mode: 0o600, exclusive: true })
      let released = false
      return {
        release: () => {
          if (released) return
          released = true
          try { if (readPid(path) === process.pid) unlinkSync(path) } catch { /* gone already */ }
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new PeernetError(`cannot create lock file ${path}: ${(err as Error).message}`, { hint: 'check that the home directory is writable', cause: err })
      }
    }
    const pid = readPid(path)
    if (pid === undefined) {
      throw new DaemonRunningError(`lock file ${path} holds no process id`, {
        hint: `if no Peernet node runs on ${home}, remove the file and start again`
      })
    }
    if (isAlive(pid)) {
      throw new DaemonRunningError(`a Peernet node (pid ${pid}) is already running on ${home}`, {
        hint: `stop it with \`peernet stop --home ${home}\`, or use another --home`
      })
    }
    takeOverStale(path, pid)
  }
  throw new DaemonRunningError(`could not take the lock on ${home}`, { hint: 'another process keeps taking it; try again' })
}

function takeOverStale (path: string, stalePid: number): void {
  const aside = `${path}.${randomBytes(6).toString('hex')}.stale`
  try {
    renameSync(path, aside)
  } catch {
    return // another contender moved it first; try again from the top
  }
  const moved = readPid(aside)
  if (moved !== stalePid && moved !== undefined && isAlive(moved)) {
    // We moved a fresh lock that replaced the stale one in between: put it back.
    try { linkSync(aside, path) } catch { /* a third process holds the lock now */ }
  }
  try { unlinkSync(aside) } catch { /* already gone */ }
}

function readPid (path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

export function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  // A killed process its parent has not reaped yet (a zombie) still answers signal 0.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true // no /proc here: trust the signal
  }
}
