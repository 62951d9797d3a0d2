// `peernet daemon`: the node in the foreground, with its API. Prints what a user needs
// to reach it, writes the API URL and a fresh token into the home (0600), and shuts
// down cleanly on SIGINT, SIGTERM or `peernet stop`.

import { randomBytes } from 'node:crypto'
import { readFileSync, unlinkSync } from 'node:fs'
import { createPeernet } from '../node.ts'
import type { PeernetConfig } from '../core/config.ts'
import { parseApiAddress } from '../core/config.ts'
import { writeFileAtomic } from '../core/files.ts'
import { createLogger } from '../core/log.ts'
import type { LogLevel } from '../core/log.ts'
import { startApiServer } from '../api/server.ts'
import type { ApiInfo } from '../api/client.ts'
import type { AppDefinition } from '../networks/app.ts'

export interface DaemonOptions {
  home: string
  overrides: Partial<PeernetConfig>
  logLevel: LogLevel | undefined
  /** Human lines (peer id, addresses, API URL) go here: stdout. */
  out: (line: string) => void
  /** Apps besides the built-in ones. */
  apps?: AppDefinition[]
}

const SHUTDOWN_TIMEOUT_MS = 10_000

export async function runDaemon (options: DaemonOptions): Promise<void> {
  const logger = createLogger({ level: options.logLevel ?? options.overrides.logLevel ?? 'info' })
  const node = await createPeernet({ home: options.home, config: options.overrides, logger, apps: options.apps })
  const token = randomBytes(32).toString('base64url')
  let api
  try {
    api = await startApiServer({ node, token, address: parseApiAddress(node.config.api), logger: logger.child('api'), onStop: () => { void shutdown('stop request') } })
  } catch (err) {
    await node.stop()
    throw err
  }
  const info: ApiInfo = { url: api.url, token, pid: process.pid }
  writeFileAtomic(node.paths.api, JSON.stringify(info) + '\n', { mode: 0o600 })

  let stopping = false
  const shutdown = async (reason: string): Promise<void> => {
    if (stopping) return
    stopping = true
    logger.info('shutting down', { reason })
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting')
      process.exit(1)
    }, SHUTDOWN_TIMEOUT_MS)
    force.unref()
    removeApiFile(node.paths.api, token)
    try {
      await api.close()
      await node.stop()
    } catch (err) {
      logger.error('error while stopping', { err })
      process.exitCode = 1
    }
    clearTimeout(force)
    options.out('peernet daemon stopped')
  }
  process.once('SIGINT', () => { void shutdown('SIGINT') })
  process.once('SIGTERM', () => { void shutdown('SIGTERM') })

  // Ready only now: the signal handlers are in place before anyone can act on these lines.
  options.out(`peernet daemon running (home ${node.paths.dir})`)
  options.out(`peer id: ${node.peerId}`)
  for (const addr of node.host.addresses()) options.out(`listening: ${addr}`)
  options.out(`api: ${api.url}`)
}

/** Removes api.json only if it is still ours (a newer daemon may have replaced it). */
function removeApiFile (path: string, token: string): void {
  try {
    const current = JSON.parse(readFileSync(path, 'utf8')) as Partial<ApiInfo>
    if (current.token === token) unlinkSync(path)
  } catch {
    // already gone or unreadable: nothing of ours to remove
  }
}
