// `peernet sim rendezvous` as a separate process: JSON on stdout with --json, the same
// numbers for the same seed, one error line for a bad flag.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cli, oneErrorLine, removeHome, tempHome } from '../helpers/processes.ts'

test('peernet sim rendezvous --json prints the metrics, deterministically', async () => {
  const home = tempHome('sim')
  try {
    const args = ['sim', 'rendezvous', '--nodes', '400', '--networks', '1500', '--seed', '3', '--sample', '0.05', '--json', '--home', home]
    const a = await cli(args, { timeoutMs: 60_000 })
    assert.equal(a.code, 0, a.stderr)
    const result = JSON.parse(a.stdout) as { parameters: { nodes: number, networks: number }, records: { bounded: { mean: number } }, phaseSeconds: unknown }
    assert.equal(result.parameters.nodes, 400)
    assert.equal(result.parameters.networks, 1500)
    assert.ok(result.records.bounded.mean > 0)
    const b = await cli(args, { timeoutMs: 60_000 })
    const strip = (s: string): unknown => ({ ...(JSON.parse(s) as object), phaseSeconds: null })
    assert.deepEqual(strip(b.stdout), strip(a.stdout))
  } finally {
    removeHome(home)
  }
})

test('peernet sim rendezvous refuses a bad flag with one line and exit 2', async () => {
  const r = await cli(['sim', 'rendezvous', '--sample', '3'])
  assert.equal(r.code, 2)
  assert.match(oneErrorLine(r), /--sample must be a fraction/)
})
