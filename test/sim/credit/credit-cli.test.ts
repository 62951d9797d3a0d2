// `peernet sim credit` as a separate process: JSON with --json, the same numbers for the
// same seed, a CREDIT_LINKS file read, one error line for a bad flag or a bad trace line.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cli, oneErrorLine } from '../../helpers/processes.ts'

interface Result { graph: { nodes: number, standIn: boolean }, routers: Array<{ router: string, successRatio: number, invariant: { linesConserved: boolean }, wallSeconds: number }>, wallSeconds: number }

test('peernet sim credit --json runs every router, deterministically', async () => {
  const args = ['sim', 'credit', '--nodes', '150', '--payments', '300', '--seed', '5', '--json']
  const a = await cli(args, { timeoutMs: 60_000 })
  assert.equal(a.code, 0, a.stderr)
  const r = JSON.parse(a.stdout) as Result
  assert.equal(r.graph.nodes, 150)
  assert.equal(r.graph.standIn, true)
  assert.deepEqual(r.routers.map((x) => x.router), ['peernet', 'speedymurmurs', 'shortest', 'maxflow'])
  assert.ok(r.routers.every((x) => x.invariant.linesConserved && x.successRatio > 0))
  const b = await cli(args, { timeoutMs: 60_000 })
  const strip = (s: string): unknown => { const x = JSON.parse(s) as Result; return { ...x, wallSeconds: 0, routers: x.routers.map((y) => ({ ...y, wallSeconds: 0 })) } }
  assert.deepEqual(strip(b.stdout), strip(a.stdout))
})

test('peernet sim credit reads a CREDIT_LINKS file and names a bad line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-credit-'))
  try {
    const good = join(dir, 'good.txt')
    writeFileSync(good, '0 1 -50 0 50\n1 2 -50 0 50\n2 3 -50 0 50\n0 3 -5 0 5\n')
    const r = await cli(['sim', 'credit', '--graph', good, '--payments', '50', '--router', 'maxflow', '--payment-min', '1'], { timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /maxflow/)
    assert.doesNotMatch(r.stdout, /STAND-IN/)
    const bad = join(dir, 'bad.txt')
    writeFileSync(bad, '0 1 -50 0 50\n1 2 -50 60 50\n')
    const e = await cli(['sim', 'credit', '--graph', bad])
    assert.notEqual(e.code, 0)
    assert.match(oneErrorLine(e), /bad\.txt line 2: needs lower ≤ balance ≤ upper/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('peernet sim credit refuses an unknown router with one line and exit 2', async () => {
  const r = await cli(['sim', 'credit', '--router', 'flash'])
  assert.equal(r.code, 2)
  assert.match(oneErrorLine(r), /--router must be one of peernet, speedymurmurs, shortest, maxflow or all/)
})

test('peernet sim credit shapes the generated graph as asked, and refuses a fraction out of range', async () => {
  const r = await cli(['sim', 'credit', '--nodes', '150', '--payments', '100', '--degree-exponent', '1', '--single-line-fraction', '0.5', '--one-way-fraction', '0.3', '--capacity-sigma', '0.5', '--router', 'shortest', '--json'], { timeoutMs: 60_000 })
  assert.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout) as { graph: { note: string }, parameters: { generator: { capacityDegreeExponent: number, singleLineFraction: number, oneWayFraction: number, capacitySigma: number } } }
  assert.deepEqual(out.parameters.generator, { ...out.parameters.generator, capacityDegreeExponent: 1, singleLineFraction: 0.5, oneWayFraction: 0.3, capacitySigma: 0.5 })
  assert.match(out.graph.note, /σ 0\.5\), scaled by \(deg u · deg v \/ mean degree²\)\^1, 0\.5 of the nodes joining with one line, 0\.3 of the lines one-way/)
  const e = await cli(['sim', 'credit', '--one-way-fraction', '2'])
  assert.equal(e.code, 2)
  assert.match(oneErrorLine(e), /--one-way-fraction must be a fraction from 0 to 1, got "2"/)
})
