// Shared fixtures for the networks tests: keys, stores on temp files, manifests, and a
// predicate for named errors.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateIdentity } from '../../src/core/identity.ts'
import type { Identity } from '../../src/core/identity.ts'
import { Store } from '../../src/core/store.ts'
import { LogStore } from '../../src/networks/log-store.ts'
import { createManifest, networkIdOf } from '../../src/networks/manifest.ts'
import type { NetworkPolicy, SignedManifest } from '../../src/networks/manifest.ts'
import type { AppDefinition } from '../../src/networks/app.ts'
import { chatApp } from '../../src/apps/chat/chat.ts'
import type { CanonicalValue } from '../../src/core/encoding.ts'
import type { RingKey } from '../../src/networks/body-cipher.ts'
import { Networks } from '../../src/networks/networks.ts'
import type { TestContext } from 'node:test'

/** An assert.throws predicate: the error is an Error with this `.name`. */
export const isNamed = (name: string) => (err: unknown): boolean => {
  assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`)
  assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`)
  return true
}

/** Temp directories, removed together by `cleanup` (for fast-check runs outside a TestContext). */
export class TempDirs {
  readonly #dirs: string[] = []
  readonly #stores: Store[] = []

  store (): Store {
    const dir = mkdtempSync(join(tmpdir(), 'peernet-networks-'))
    this.#dirs.push(dir)
    const store = Store.open(join(dir, 'peernet.db'))
    this.#stores.push(store)
    return store
  }

  logStore (apps: AppDefinition[] = [chatApp]): LogStore {
    return new LogStore(this.store(), new Map(apps.map((a) => [a.name, a])))
  }

  cleanup (): void {
    for (const s of this.#stores.splice(0)) s.close()
    for (const d of this.#dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  }
}

export interface TestNetwork {
  creator: Identity
  manifest: SignedManifest
  id: Uint8Array
}

export function makeNetwork (options: { creator?: Identity, name?: string, policy?: NetworkPolicy, private?: boolean, created?: number, app?: string, params?: Record<string, CanonicalValue> } = {}): TestNetwork {
  const creator = options.creator ?? generateIdentity()
  const isPrivate = options.private ?? false
  const manifest = createManifest(creator, {
    name: options.name ?? 'test net',
    app: options.app ?? 'chat',
    policy: options.policy ?? (isPrivate ? 'invite' : 'open'),
    private: isPrivate,
    params: options.params ?? {},
    created: options.created ?? 1_000
  })
  return { creator, manifest, id: networkIdOf(manifest.manifest) }
}

/** `n` identities sorted by public key (so tests can rely on chain order in `heads`). */
export function sortedIdentities (n: number): Identity[] {
  return Array.from({ length: n }, generateIdentity).sort((a, b) => Buffer.compare(a.publicKey, b.publicKey))
}

export function hex (b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

/** A key ring holding one key, as create hands it over (ts 0). */
export function ringOf (key: Uint8Array, author: Uint8Array = new Uint8Array(32)): RingKey[] {
  return [{ key, ts: 0, author, seq: 0 }]
}

/** Nodes made in one test: their stores (removed after it) and one clock. */
export interface World { dirs: TempDirs, clock: { t: number } }

export function world (t: TestContext): World {
  const dirs = new TempDirs()
  t.after(() => { dirs.cleanup() })
  return { dirs, clock: { t: 1_000_000 } }
}

/** A node; all of a world's nodes share one clock, so entries' ts follow the order they were written in. */
export function worldNode (w: World, apps: AppDefinition[] = [chatApp]): Networks {
  return new Networks({ store: w.dirs.store(), account: generateIdentity(), apps, clock: { now: () => ++w.clock.t }, addresses: () => [] })
}
