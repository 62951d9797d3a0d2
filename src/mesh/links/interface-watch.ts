// Interface changes as they happen, without netlink bindings: `ip -o monitor link address`
// (iproute2) prints a line for every link or address event the kernel sends on netlink —
// an interface set down, a carrier lost, an address added or removed. The UDP provider
// re-reads its interfaces on each such line, so a link on an interface that went down
// closes within milliseconds, as babeld notices it from netlink, instead of at the next
// poll. Where `ip` is missing or not Linux, nothing is watched and the poll alone serves.

import { spawn } from 'node:child_process'
import type { Logger } from '../../core/log.ts'

export interface InterfaceWatch {
  stop: () => void
}

/**
 * Calls `onChange` (at most once per turn of the event loop) whenever the kernel reports a
 * link or address change in this network namespace. Best effort: a failure to start or an
 * early exit of the monitor is logged and leaves the caller's polling to notice changes.
 */
export function watchInterfaces (onChange: () => void, logger?: Logger): InterfaceWatch {
  if (process.platform !== 'linux') return { stop: () => {} }
  let stopped = false
  let queued = false
  const child = spawn('ip', ['-o', 'monitor', 'link', 'address'], { stdio: ['ignore', 'pipe', 'ignore'] })
  child.on('error', (err) => { logger?.debug('cannot watch interfaces with ip monitor; polling only', { err: err.message }) })
  child.on('exit', (code, signal) => { if (!stopped) logger?.debug('ip monitor exited; polling only', { code, signal }) })
  // Events come in bursts (a link going down sends several): one re-read per burst.
  child.stdout.on('data', () => {
    if (stopped || queued) return
    queued = true
    setImmediate(() => { queued = false; if (!stopped) onChange() })
  })
  // Never what keeps the process alive.
  child.unref()
  ;(child.stdout as unknown as { unref?: () => void }).unref?.()
  return {
    stop: () => {
      if (stopped) return
      stopped = true
      if (child.exitCode === null && child.signalCode === null) child.kill()
    }
  }
}
