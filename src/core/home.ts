// The home directory holds one node: its key, config, database and, while a daemon
// runs, the daemon's API address and token. `--home` beats PEERNET_HOME beats ~/.peernet.

import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

export interface HomePaths {
  readonly dir: string
  readonly key: string
  /** The account key (the author of this node's entries). */
  readonly account: string
  /** On a linked device instead of `account`: the account's delegation of this node's key. */
  readonly accountLink: string
  readonly config: string
  readonly database: string
  /** Written by a running daemon: `{url, token, pid}`, mode 0600. */
  readonly api: string
  /** Held by a running daemon: its pid. */
  readonly lock: string
}

export function resolveHome (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined && flag !== '') return resolve(flag)
  const fromEnv = env.PEERNET_HOME
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv)
  return join(homedir(), '.peernet')
}

export function homePaths (dir: string): HomePaths {
  return {
    dir,
    key: join(dir, 'identity.key'),
    account: join(dir, 'account.key'),
    accountLink: join(dir, 'account-link.json'),
    config: join(dir, 'config.json'),
    database: join(dir, 'peernet.db'),
    api: join(dir, 'api.json'),
    lock: join(dir, 'daemon.lock')
  }
}
