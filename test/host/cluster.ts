// In-process Peernet nodes on 127.0.0.1 for the host tests: each node gets its own
// temporary home; `close()` stops every node and deletes every home, pass or fail.
// `eventually` is the one way these tests wait: it polls, and it always gives up.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPeernet } from '../../src/node.ts'
import type { Peernet, PeernetOptions } from '../../src/node.ts'
import type { PeernetConfig } from '../../src/core/config.ts'

export const LOOPBACK_TCP = '/ip4/127.0.0.1/tcp/0'

export class Cluster {
  readonly #nodes = new Set<Peernet>()
  readonly #homes = new Set<string>()

  /** A fresh, empty home directory, deleted by `close()`. */
  home (): string {
    const dir = mkdtempSync(join(tmpdir(), 'peernet-host-test-'))
    this.#homes.add(dir)
    return dir
  }

  /** Starts a node on loopback TCP with mDNS off; `home` reuses an earlier node's home. */
  async start (config: Partial<PeernetConfig> = {}, home: string = this.home(), options: Omit<PeernetOptions, 'home' | 'config'> = {}): Promise<Peernet> {
    const node = await createPeernet({ ...options, home, config: { listen: [LOOPBACK_TCP], mdns: false, meshUdp: false, ...config } })
    this.#nodes.add(node)
    return node
  }

  /** Stops one node now (e.g. to restart its home); `close()` will not stop it again. */
  async stop (node: Peernet): Promise<void> {
    this.#nodes.delete(node)
    await node.stop()
  }

  async close (): Promise<void> {
    const nodes = [...this.#nodes]
    this.#nodes.clear()
    const results = await Promise.allSettled(nodes.map(async (n) => { await n.stop() }))
    for (const dir of this.#homes) rmSync(dir, { recursive: true, force: true })
    this.#homes.clear()
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed.length > 0) throw new AggregateError(failed.map((r): unknown => r.reason), `${failed.length} node(s) failed to stop`)
  }
}

/**
 * Polls `probe` every 50 ms until it returns something other than undefined, null or
 * false, and returns that; throws naming `what` (and the probe's last error) when
 * `timeoutMs` passes first.
 */
export async function eventually<T> (probe: () => T | Promise<T>, what: string, timeoutMs: number): Promise<Exclude<T, undefined | null | false>> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined && value !== null && value !== false) return value as Exclude<T, undefined | null | false>
    } catch (err) {
      lastError = err
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError })
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** A multiaddr string without its trailing /p2p/<id>, for comparing addresses. */
export function transportPart (address: string): string {
  return address.replace(/\/p2p\/[^/]+$/, '')
}

/** The node's loopback TCP listen address with its /p2p/ suffix. */
export function tcpAddress (node: Peernet): string {
  const addr = node.host.addresses().find((a) => a.startsWith('/ip4/127.0.0.1/tcp/') && !a.includes('/p2p-circuit'))
  if (addr === undefined) throw new Error(`node ${node.peerId} has no loopback TCP address: ${node.host.addresses().join(', ')}`)
  return addr
}
