// `peernet sim mesh` as a separate process: the table, the JSON and SVG files it writes,
// --json, and one error line for each kind of bad input.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cli, oneErrorLine, removeHome, tempHome } from '../helpers/processes.ts'

test('peernet sim mesh writes mesh-sim.json and mesh-sim.svg and prints the same JSON with --json', async () => {
  const dir = tempHome('sim-mesh')
  try {
    const events = join(dir, 'events.txt')
    writeFileSync(events, '# a cut and a repair\nat 5s link-down 5 6\nat 10s link-up 5 6\n')
    const args = ['sim', 'mesh', '--nodes', '16', '--topology', 'grid', '--seed', '2', '--duration', '20s', '--events', events, '--out', dir, '--home', dir]
    const human = await cli(args, { timeoutMs: 60_000 })
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /delivery\s+100\.00 %/)
    assert.match(human.stdout, /wrote .*mesh-sim\.json and .*mesh-sim\.svg/)
    const written = JSON.parse(readFileSync(join(dir, 'mesh-sim.json'), 'utf8')) as { topology: { nodes: number, kind: string }, events: { total: number }, delivery: { ratio: number } }
    assert.equal(written.topology.nodes, 16)
    assert.equal(written.topology.kind, 'grid')
    assert.equal(written.events.total, 2)
    assert.ok(existsSync(join(dir, 'mesh-sim.svg')))
    assert.match(readFileSync(join(dir, 'mesh-sim.svg'), 'utf8'), /^<svg /)
    const json = await cli([...args, '--json'], { timeoutMs: 60_000 })
    assert.equal(json.code, 0, json.stderr)
    const printed = JSON.parse(json.stdout) as { delivery: unknown, stretch: unknown }
    assert.deepEqual(printed.delivery, (written as { delivery: unknown }).delivery)
    // Flows: the table gives first and later packets' stretch apart.
    const flows = await cli(['sim', 'mesh', '--nodes', '16', '--topology', 'grid', '--seed', '2', '--duration', '20s', '--flow-packets', '3', '--out', dir, '--home', dir], { timeoutMs: 60_000 })
    assert.equal(flows.code, 0, flows.stderr)
    assert.match(flows.stdout, /stretch, flows\s+first packets mean [\d.]+, p99 [\d.]+; later packets mean [\d.]+/)
  } finally {
    removeHome(dir)
  }
})

test('peernet sim mesh refuses bad input with one line', async () => {
  const dir = tempHome('sim-mesh-bad')
  try {
    const bad = join(dir, 'bad-events.txt')
    writeFileSync(bad, 'at 1s link-down 0 1\nat 2s link-sideways 0 1\n')
    const cases: Array<[string[], RegExp, number]> = [
      [['--topology', 'torus'], /unknown topology "torus"/, 1],
      [['--topology', join(dir, 'missing.txt')], /cannot read topology file/, 1],
      [['--nodes', '4', '--topology', 'line', '--events', bad], /bad-events\.txt:2: unknown event "link-sideways"/, 1],
      [['--duration', 'forever'], /--duration must be a time/, 2],
      [['--flap', 'lots'], /--flap must be a fraction per minute/, 2],
      [['--baseline', 'gossip'], /--baseline must be "flooding"/, 2],
      [['--flow-packets', '0'], /--flow-packets must be a whole number from 1/, 2]
    ]
    for (const [args, re, code] of cases) {
      const r = await cli(['sim', 'mesh', ...args, '--out', dir, '--home', dir])
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`)
      assert.match(oneErrorLine(r), re)
    }
    const help = await cli(['sim', 'mesh', '--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /--topology T/)
    assert.match(help.stdout, /--flow-packets K/)
  } finally {
    removeHome(dir)
  }
})
