// Atomic file writes, private directories and the home lock, including a second process
// that holds the lock and then dies.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { ensurePrivateDir, writeFileAtomic } from '../../src/core/files.ts'
import { acquireHomeLock, isAlive } from '../../src/core/home-lock.ts'
import { tempDir } from './temp-dir.ts'

const isNamed = (name: string, message?: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`)
  assert.equal(err.name, name)
  if (message !== undefined) assert.match(err.message, message)
  return true
}

// Above Linux's largest pid_max (2^22), so never a live process.
const DEAD_PID = 2147483646

const modeOf = (path: string): number => statSync(path).mode & 0o777

/** Sets the umask for one test, so modes are checked against a known mask. */
function withUmask (t: TestContext, mask: number): void {
  const old = process.umask(mask)
  t.after(() => { process.umask(old) })
}

describe('writeFileAtomic', () => {
  test('writes a string as UTF-8 and bytes as they are', (t) => {
    const dir = tempDir(t)
    writeFileAtomic(join(dir, 'a.txt'), 'héllo\n', { mode: 0o600 })
    const bytes = new Uint8Array([0, 1, 2, 255])
    writeFileAtomic(join(dir, 'b.bin'), bytes, { mode: 0o600 })
    assert.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), 'héllo\n')
    assert.deepStrictEqual(new Uint8Array(readFileSync(join(dir, 'b.bin'))), bytes)
  })

  test('writes an empty file and a large one', (t) => {
    const dir = tempDir(t)
    writeFileAtomic(join(dir, 'empty'), '', { mode: 0o600 })
    const big = new Uint8Array(5 * 1024 * 1024).map((_, i) => i % 251)
    writeFileAtomic(join(dir, 'big'), big, { mode: 0o600 })
    assert.equal(readFileSync(join(dir, 'empty')).byteLength, 0)
    assert.ok(readFileSync(join(dir, 'big')).equals(big))
  })

  for (const mode of [0o600, 0o640, 0o644]) {
    test(`sets mode 0${mode.toString(8)}`, (t) => {
      withUmask(t, 0o022)
      const path = join(tempDir(t), 'f')
      writeFileAtomic(path, 'x', { mode })
      assert.equal(modeOf(path), mode)
    })
  }

  test('replacing a file sets the new content and mode', (t) => {
    withUmask(t, 0o022)
    const dir = tempDir(t)
    const path = join(dir, 'f')
    writeFileSync(path, 'old')
    chmodSync(path, 0o644)
    writeFileAtomic(path, 'new', { mode: 0o600 })
    assert.equal(readFileSync(path, 'utf8'), 'new')
    assert.equal(modeOf(path), 0o600)
    assert.deepStrictEqual(readdirSync(dir), ['f'], 'no temp file left behind')
  })

  test('exclusive creates a new file', (t) => {
    const dir = tempDir(t)
    writeFileAtomic(join(dir, 'f'), 'x', { mode: 0o600, exclusive: true })
    assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'x')
    assert.equal(modeOf(join(dir, 'f')), 0o600)
    assert.deepStrictEqual(readdirSync(dir), ['f'])
  })

  test('exclusive refuses an existing file with EEXIST, leaving it and no temp file', (t) => {
    const dir = tempDir(t)
    const path = join(dir, 'f')
    writeFileSync(path, 'original')
    chmodSync(path, 0o640)
    assert.throws(() => { writeFileAtomic(path, 'replacement', { mode: 0o600, exclusive: true }) }, { code: 'EEXIST' })
    assert.equal(readFileSync(path, 'utf8'), 'original')
    assert.equal(modeOf(path), 0o640)
    assert.deepStrictEqual(readdirSync(dir), ['f'])
  })

  test('a missing directory throws ENOENT and creates nothing', (t) => {
    const dir = tempDir(t)
    assert.throws(() => { writeFileAtomic(join(dir, 'missing', 'f'), 'x', { mode: 0o600 }) }, { code: 'ENOENT' })
    assert.deepStrictEqual(readdirSync(dir), [])
  })

  test('many writes to one path leave exactly one file with the last content', (t) => {
    const dir = tempDir(t)
    for (let i = 0; i < 50; i++) writeFileAtomic(join(dir, 'f'), String(i), { mode: 0o600 })
    assert.deepStrictEqual(readdirSync(dir), ['f'])
    assert.equal(readFileSync(join(dir, 'f'), 'utf8'), '49')
  })
})

describe('ensurePrivateDir', () => {
  test('creates missing parents with mode 0700', (t) => {
    withUmask(t, 0o022)
    const path = join(tempDir(t), 'a', 'b')
    ensurePrivateDir(path)
    assert.ok(statSync(path).isDirectory())
    assert.equal(modeOf(path), 0o700)
  })

  test('tightens an existing open directory to 0700 and keeps its content', (t) => {
    const path = join(tempDir(t), 'home')
    mkdirSync(path)
    chmodSync(path, 0o755)
    writeFileSync(join(path, 'keep'), 'x')
    ensurePrivateDir(path)
    assert.equal(modeOf(path), 0o700)
    assert.equal(readFileSync(join(path, 'keep'), 'utf8'), 'x')
  })
})

describe('home lock', () => {
  test('holds our pid in a 0600 file until released', (t) => {
    const path = join(tempDir(t), 'daemon.lock')
    const lock = acquireHomeLock(path, '/home/x')
    assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`)
    assert.equal(modeOf(path), 0o600)
    lock.release()
    assert.equal(existsSync(path), false)
    lock.release() // twice is harmless
  })

  test('a second acquire in the same process throws DaemonRunningError naming the pid and home', (t) => {
    const path = join(tempDir(t), 'daemon.lock')
    const lock = acquireHomeLock(path, '/home/x')
    t.after(() => { lock.release() })
    assert.throws(() => acquireHomeLock(path, '/home/x'), isNamed('DaemonRunningError', new RegExp(`pid ${process.pid}.*/home/x`)))
    assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`, 'the holder keeps its lock')
  })

  test('can be taken again after release', (t) => {
    const path = join(tempDir(t), 'daemon.lock')
    acquireHomeLock(path, 'h').release()
    const again = acquireHomeLock(path, 'h')
    assert.equal(existsSync(path), true)
    again.release()
  })

  test('a lock left by a dead pid is taken over', (t) => {
    const path = join(tempDir(t), 'daemon.lock')
    writeFileSync(path, `${DEAD_PID}\n`)
    const lock = acquireHomeLock(path, 'h')
    assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`)
    lock.release()
    assert.equal(existsSync(path), false)
  })

  test('release does not remove a lock that another process now holds', (t) => {
    const path = join(tempDir(t), 'daemon.lock')
    const lock = acquireHomeLock(path, 'h')
    writeFileSync(path, `${DEAD_PID}\n`) // as if our lock had been judged stale and taken over
    lock.release()
    assert.equal(readFileSync(path, 'utf8'), `${DEAD_PID}\n`)
  })

  test('a lock file in a missing directory is a PeernetError, not DaemonRunningError', (t) => {
    const path = join(tempDir(t), 'missing', 'daemon.lock')
    assert.throws(() => acquireHomeLock(path, 'h'), isNamed('PeernetError', /cannot create lock file/))
  })

  test('isAlive tells a live pid from a dead one', () => {
    assert.equal(isAlive(process.pid), true)
    assert.equal(isAlive(DEAD_PID), false)
  })

  test('another live process holds the lock until it dies, then it is taken over', { timeout: 30_000 }, async (t) => {
    const path = join(tempDir(t), 'daemon.lock')
    const lockModule = new URL('../../src/core/home-lock.ts', import.meta.url).href
    const script = `
      import { acquireHomeLock } from ${JSON.stringify(lockModule)}
      acquireHomeLock(process.env.LOCK_PATH, 'h')
      process.stdout.write('locked\\n')
      setInterval(() => {}, 1000)
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, LOCK_PATH: path },
      stdio: ['ignore', 'pipe', 'inherit']
    })
    t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })

    const [chunk] = await Promise.race([
      once(child.stdout, 'data') as Promise<[Buffer]>,
      new Promise<never>((_resolve, reject) => { setTimeout(() => { reject(new Error('child did not lock within 15 s')) }, 15_000).unref() })
    ])
    assert.equal(chunk.toString(), 'locked\n')
    assert.equal(readFileSync(path, 'utf8'), `${child.pid}\n`)
    assert.throws(() => acquireHomeLock(path, 'h'), isNamed('DaemonRunningError', new RegExp(`pid ${child.pid}`)))

    const exited = once(child, 'exit')
    child.kill('SIGKILL') // no chance to release: the lock file stays behind
    await exited
    assert.equal(readFileSync(path, 'utf8'), `${child.pid}\n`)

    const lock = acquireHomeLock(path, 'h')
    assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`)
    lock.release()
  })
})
