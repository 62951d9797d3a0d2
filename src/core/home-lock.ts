// One process owns a home at a time: the lock file holds the owner's pid, created
// exclusively. A lock whose process is gone is stale and taken over.

import { openSync, writeSync, closeSync, readFileSync, unlinkSync } from 'node:fs'
import { DaemonRunningError, PeernetError } from './errors.ts'

export interface HomeLock {
  release: () => void
}

export function acquireHomeLock (path: string, home: string): HomeLock {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
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
    if (pid !== undefined && isAlive(pid)) {
      throw new DaemonRunningError(`a Peernet node (pid ${pid}) is already running on ${home}`, {
        hint: `stop it with \`peernet stop --home ${home}\`, or use another --home`
      })
    }
    try { unlinkSync(path) } catch { /* someone else took it over first */ }
  }
  throw new DaemonRunningError(`could not take the lock on ${home}`, { hint: 'another process keeps taking it; try again' })
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
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
