// Structured logs: one JSON object per line, level filtering, component naming.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createLogger, isLogLevel, LOG_LEVELS, silentLogger } from '../../src/core/log.ts'
import type { Logger, LoggerOptions, LogLevel } from '../../src/core/log.ts'

function capture (options: Omit<LoggerOptions, 'write'>): { log: Logger, lines: string[], records: () => Array<Record<string, unknown>> } {
  const lines: string[] = []
  const log = createLogger({ ...options, write: (line) => { lines.push(line) } })
  return { log, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) }
}

describe('log lines', () => {
  test('each call writes one JSON object ending in a single newline', () => {
    const { log, lines } = capture({ level: 'debug' })
    log.info('hello', { peer: 'p1', n: 3 })
    log.warn('multi\nline\nmessage', { text: 'a\nb' })
    assert.equal(lines.length, 2)
    for (const line of lines) {
      assert.ok(line.endsWith('\n'), JSON.stringify(line))
      assert.equal(line.indexOf('\n'), line.length - 1, 'a newline only at the end')
      assert.equal(typeof JSON.parse(line), 'object')
    }
  })

  test('a record holds time, level, message and fields', () => {
    const { log, records } = capture({ level: 'info' })
    const before = Date.now()
    log.info('peer connected', { peer: 'p1', count: 2, tags: ['a'], nested: { ok: true } })
    const [record] = records()
    assert.ok(record !== undefined)
    const { t, ...rest } = record
    assert.deepStrictEqual(rest, { level: 'info', msg: 'peer connected', peer: 'p1', count: 2, tags: ['a'], nested: { ok: true } })
    assert.equal(typeof t, 'string')
    assert.match(t as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    const when = Date.parse(t as string)
    assert.ok(when >= before - 1 && when <= Date.now() + 1, String(t))
  })

  test('fields are optional', () => {
    const { log, records } = capture({ level: 'info' })
    log.error('plain')
    assert.deepStrictEqual(Object.keys(records()[0] ?? {}), ['t', 'level', 'msg'])
  })

  test('an Error field is written as its message', () => {
    const { log, records } = capture({ level: 'info' })
    log.error('dial failed', { err: new TypeError('connection refused'), code: 'ECONNREFUSED' })
    const record = records()[0]
    assert.equal(record?.err, 'connection refused')
    assert.equal(record?.code, 'ECONNREFUSED')
  })

  test('a bigint field is written as a decimal string', () => {
    const { log, records } = capture({ level: 'info' })
    log.info('balance', { amount: 2n ** 70n })
    assert.equal(records()[0]?.amount, (2n ** 70n).toString())
  })

  test('property: any message and string fields survive as JSON on one line', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), fc.dictionary(fc.string(), fc.string(), { noNullPrototype: true }), (msg, fields) => {
      fc.pre(!['t', 'level', 'msg', 'component'].some((k) => k in fields))
      const { log, lines, records } = capture({ level: 'info' })
      log.info(msg, fields)
      assert.equal(lines.length, 1)
      assert.equal(lines[0]?.indexOf('\n'), (lines[0]?.length ?? 0) - 1)
      const { t: _t, level, msg: written, ...rest } = records()[0] ?? {}
      assert.equal(level, 'info')
      assert.equal(written, msg)
      assert.deepStrictEqual(rest, fields)
    }))
  })
})

describe('levels', () => {
  const call = (log: Logger, level: LogLevel): void => { log[level](`at ${level}`) }

  for (const threshold of LOG_LEVELS) {
    test(`level ${threshold} writes only ${threshold} and more severe`, () => {
      const { log, records } = capture({ level: threshold })
      for (const level of LOG_LEVELS) call(log, level)
      const expected = LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(threshold) + 1)
      assert.deepStrictEqual(records().map((r) => r.level), expected)
      assert.deepStrictEqual(records().map((r) => r.msg), expected.map((l) => `at ${l}`))
      assert.equal(log.level, threshold)
    })
  }

  test('the levels run from most to least severe', () => {
    assert.deepStrictEqual([...LOG_LEVELS], ['error', 'warn', 'info', 'debug'])
  })

  test('isLogLevel accepts exactly the four levels', () => {
    for (const level of LOG_LEVELS) assert.equal(isLogLevel(level), true)
    for (const other of ['', 'trace', 'INFO', 'fatal', 'warning', ' info']) assert.equal(isLogLevel(other), false, other)
  })

  test('a child keeps its parent\'s level and writer', () => {
    const { log, records } = capture({ level: 'warn' })
    const child = log.child('mesh')
    assert.equal(child.level, 'warn')
    child.info('dropped')
    child.warn('kept')
    assert.deepStrictEqual(records().map((r) => r.msg), ['kept'])
  })
})

describe('components', () => {
  test('a root logger without a component writes no component field', () => {
    const { log, records } = capture({ level: 'info' })
    log.info('x')
    assert.equal('component' in (records()[0] ?? {}), false)
  })

  test('children join component names with dots', () => {
    const { log, records } = capture({ level: 'info', component: 'a' })
    log.info('root')
    log.child('b').info('child')
    log.child('b').child('c').info('grandchild')
    assert.deepStrictEqual(records().map((r) => r.component), ['a', 'a.b', 'a.b.c'])
  })

  test('a child of an unnamed root is named by itself alone', () => {
    const { log, records } = capture({ level: 'info' })
    log.child('host').child('dht').info('x')
    assert.equal(records()[0]?.component, 'host.dht')
  })

  test('a child does not rename its parent', () => {
    const { log, records } = capture({ level: 'info', component: 'a' })
    log.child('b')
    log.info('x')
    assert.equal(records()[0]?.component, 'a')
  })
})

describe('default writers', () => {
  /** Runs fn with stdout and stderr captured (both synchronous in fn). */
  function captureStdio (fn: () => void): { stdout: string, stderr: string } {
    const out = { stdout: '', stderr: '' }
    const stdoutWrite = process.stdout.write.bind(process.stdout)
    const stderrWrite = process.stderr.write.bind(process.stderr)
    process.stdout.write = (chunk: string | Uint8Array) => { out.stdout += String(chunk); return true }
    process.stderr.write = (chunk: string | Uint8Array) => { out.stderr += String(chunk); return true }
    try {
      fn()
    } finally {
      process.stdout.write = stdoutWrite
      process.stderr.write = stderrWrite
    }
    return out
  }

  test('logs go to stderr, never stdout', () => {
    const { stdout, stderr } = captureStdio(() => { createLogger({ level: 'info', component: 'cli' }).error('boom') })
    assert.equal(stdout, '')
    const record = JSON.parse(stderr) as Record<string, unknown>
    assert.equal(record.msg, 'boom')
    assert.equal(record.component, 'cli')
  })

  test('silentLogger writes nothing at any level', () => {
    const { stdout, stderr } = captureStdio(() => {
      for (const level of LOG_LEVELS) silentLogger[level]('x', { err: new Error('y') })
      silentLogger.child('c').error('z')
    })
    assert.equal(stdout, '')
    assert.equal(stderr, '')
  })
})

// Regression test: fields once overwrote the record's own keys.
describe('fields cannot forge the record', () => {
  test('a field named level or msg does not overwrite the real ones', () => {
    const { log, records } = capture({ level: 'info' })
    log.error('disk full', { level: 'debug', msg: 'all good', component: 'fake' })
    const record = records()[0]
    assert.equal(record?.level, 'error')
    assert.equal(record?.msg, 'disk full')
    assert.equal(record?.component, undefined)
    assert.equal(record?.['field.level'], 'debug')
  })
})
