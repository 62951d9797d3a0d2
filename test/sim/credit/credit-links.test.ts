// The CREDIT_LINKS reader (the SpeedyMurmurs/Flash trace format, GTNA's CreditLinks):
// header lines, decimals with exponents, the direction semantics, and one clear error
// with the line number for each kind of malformed line.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { creditLinksGraph, formatCreditLinks, parseCreditLinks, parseDecimal, readCreditLinks } from '../../../src/sim/credit/credit-links.ts'
import { CreditLinksError } from '../../../src/sim/credit/errors.ts'

const GOOD = `# Graph Property Class
treeembedding.credit.CreditLinks
# Key
CREDIT_LINKS
0 1 -10.0 2.5 30.0
1 2 0.0 0.0 1.0E3

2 5 -7 -7 0
`

test('a trace with GTNA\'s header reads, and u can pay v upper − balance, v can pay u balance − lower', () => {
  const links = parseCreditLinks(GOOD, 'good', 2)
  assert.deepEqual(links, [
    { u: 0, v: 1, lower: -1000n, balance: 250n, upper: 3000n },
    { u: 1, v: 2, lower: 0n, balance: 0n, upper: 100000n },
    { u: 2, v: 5, lower: -700n, balance: -700n, upper: 0n }
  ])
  const g = creditLinksGraph(links)
  const i = (id: string): number => g.indexOf(id) ?? -1
  assert.equal(g.cap(g.edgeBetween(i('0'), i('1'))), 2750n)
  assert.equal(g.cap(g.edgeBetween(i('1'), i('0'))), 1250n)
  assert.equal(g.cap(g.edgeBetween(i('1'), i('2'))), 100000n)
  assert.equal(g.cap(g.edgeBetween(i('2'), i('1'))), 0n)
  assert.equal(g.cap(g.edgeBetween(i('2'), i('5'))), 700n)
  assert.equal(g.cap(g.edgeBetween(i('5'), i('2'))), 0n)
})

test('decimals: exponents, signs, and digits beyond the kept decimals cut off', () => {
  assert.equal(parseDecimal('1.0E7', 2), 1_000_000_000n)
  assert.equal(parseDecimal('-2.5e-1', 3), -250n)
  assert.equal(parseDecimal('0.129', 2), 12n)
  assert.equal(parseDecimal('3', 0), 3n)
  assert.equal(parseDecimal('1e-9', 2), 0n)
  assert.equal(parseDecimal('abc', 2), undefined)
  assert.equal(parseDecimal('1.2.3', 2), undefined)
  assert.equal(parseDecimal('NaN', 2), undefined)
})

test('what the generator writes reads back as the same graph', () => {
  const g = creditLinksGraph(parseCreditLinks(GOOD, 'good', 2))
  const again = creditLinksGraph(parseCreditLinks(formatCreditLinks(g, 2), 'again', 2))
  assert.deepEqual(again.capacity, g.capacity)
  assert.deepEqual(again.ids, g.ids)
})

test('each malformed line is one error naming the file and the line', () => {
  const cases: Array<[string, RegExp]> = [
    ['0 1 0 0\n', /t line 1: expected 5 fields/],
    ['0 1 0 0 5\n0 x 0 0 5\n', /t line 2: node ids must be non-negative integers/],
    ['0 1 0 0 5\n\n3 3 0 0 1\n', /t line 3: a link from node 3 to itself/],
    ['0 1 0 zero 5\n', /t line 1: lower, balance and upper must be decimal numbers/],
    ['0 1 0 6 5\n', /t line 1: needs lower ≤ balance ≤ upper/],
    ['0 1 0 0 5\n1 0 0 0 5\n', /t line 2: link 1–0 is already given on line 1/],
    ['# only a comment\n', /t: no links/],
    ['0 1 0 0 5\nCREDIT_LINKS\n', /t line 2: expected 5 fields/]
  ]
  for (const [text, message] of cases) {
    assert.throws(() => parseCreditLinks(text, 't'), (err: Error) => err instanceof CreditLinksError && err.name === 'CreditLinksError' && message.test(err.message), text)
  }
})

test('a file that cannot be read is a CreditLinksError too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credit-links-'))
  try {
    assert.throws(() => readCreditLinks(join(dir, 'missing.txt')), (err: Error) => err instanceof CreditLinksError && /cannot read/.test(err.message))
    const file = join(dir, 'trace.txt')
    writeFileSync(file, GOOD)
    assert.equal(readCreditLinks(file, 2).length, 3)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
