// The tree-embedding protocol (tree-embedding.ts) on in-memory graphs of nodes that only
// talk to their neighbours: it converges to valid spanning trees (one root per tree and
// component, the smallest rank; every coordinate its parent's plus one index; depths the
// breadth-first distances of the simulator's BFS trees), and repairs them after lines go.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { TreeEmbedding, landmarkRank } from '../../../../src/apps/credit/paths/tree-embedding.ts'
import { CapacityGraph } from '../../../../src/apps/credit/paths/capacity-graph.ts'
import { buildEmbedding } from '../../../../src/apps/credit/paths/speedy-murmurs.ts'

const TREES = 3

interface Net {
  nodes: Map<string, TreeEmbedding>
  links: Set<string>
  now: number
  messages: number
}

const key = (a: string, b: string): string => a < b ? `${a} ${b}` : `${b} ${a}`
const name = (i: number): string => `n${String(i).padStart(3, '0')}`

function neighboursOf (net: Net, x: string): string[] {
  const out: string[] = []
  for (const l of net.links) {
    const [a, b] = l.split(' ') as [string, string]
    if (a === x) out.push(b)
    if (b === x) out.push(a)
  }
  return out
}

function makeNet (count: number, links: Array<[number, number]>): Net {
  const net: Net = { nodes: new Map(), links: new Set(), now: 0, messages: 0 }
  for (let i = 0; i < count; i++) net.nodes.set(name(i), new TreeEmbedding({ self: name(i), trees: TREES }))
  for (const [a, b] of links) if (a !== b) net.links.add(key(name(a), name(b)))
  for (const [id, node] of net.nodes) node.setNeighbours(neighboursOf(net, id))
  return net
}

/** Delivers announcements (in rounds of the rate limit) until none is due; returns the rounds taken. */
function converge (net: Net, maxRounds = 500): number {
  for (let round = 0; round < maxRounds; round++) {
    let sent = 0
    for (const [id, node] of net.nodes) {
      for (const { to, message } of node.poll(net.now)) {
        sent++
        // Through a JSON round trip, as it travels (no shared objects).
        net.nodes.get(to)?.receive(id, JSON.parse(JSON.stringify(message)) as typeof message)
      }
    }
    net.messages += sent
    net.now += 200
    if (sent === 0 && [...net.nodes.values()].every((n) => n.nextPollAt() === null)) return round
  }
  throw new Error('did not converge')
}

/** Checks every tree's validity against a BFS of the same graph from the elected root. */
function checkTrees (net: Net): void {
  const graph = new CapacityGraph()
  const ids = [...net.nodes.keys()]
  for (const id of ids) graph.node(id)
  for (const l of net.links) { const [a, b] = l.split(' ') as [string, string]; graph.addLink(a, b, 1n, 1n) }
  // Components.
  const component = new Map<string, number>()
  for (const id of ids) {
    if (component.has(id)) continue
    const queue = [id]
    component.set(id, component.size)
    const c = component.get(id) as number
    for (let h = 0; h < queue.length; h++) for (const v of neighboursOf(net, queue[h] as string)) if (!component.has(v)) { component.set(v, c); queue.push(v) }
  }
  for (let t = 0; t < TREES; t++) {
    const members = new Map<number, string[]>()
    for (const id of ids) { const c = component.get(id) as number; members.set(c, [...(members.get(c) ?? []), id]) }
    for (const group of members.values()) {
      const root = group.reduce((best, x) => landmarkRank(t, 0, x) < landmarkRank(t, 0, best) ? x : best)
      const bfs = buildEmbedding(graph, [graph.indexOf(root) as number], () => 0)
      const seen = new Set<string>()
      for (const id of group) {
        const p = (net.nodes.get(id) as TreeEmbedding).positions()[t]
        assert.ok(p !== undefined)
        assert.equal(p.root, root, `tree ${t}: ${id} elected ${p.root}, the smallest rank is ${root}`)
        assert.ok(p.coord !== null, `tree ${t}: ${id} has a coordinate`)
        assert.equal(p.coord.length, p.depth)
        // The depth is the breadth-first distance, as in the simulator's BFS tree.
        assert.equal(p.depth, bfs.coordinates[0]?.[graph.indexOf(id) as number]?.length, `tree ${t}: ${id}'s depth is its BFS distance from the root`)
        const text = p.coord.join('.')
        assert.ok(!seen.has(text), `tree ${t}: coordinate ${text} is unique`)
        seen.add(text)
        if (id === root) { assert.equal(p.parent, null); continue }
        assert.ok(p.parent !== null && net.links.has(key(id, p.parent)), `tree ${t}: ${id}'s parent is a neighbour`)
        const pp = (net.nodes.get(p.parent) as TreeEmbedding).positions()[t]
        assert.deepEqual(p.coord.slice(0, -1), pp?.coord, `tree ${t}: ${id}'s coordinate is its parent's plus one index`)
        // What the neighbour heard is what the node holds.
        assert.deepEqual((net.nodes.get(p.parent) as TreeEmbedding).neighbourCoords(id)[t], p.coord)
      }
    }
  }
}

test('a path of five nodes: one root per tree, coordinates grow by one index per hop', () => {
  const net = makeNet(5, [[0, 1], [1, 2], [2, 3], [3, 4]])
  converge(net)
  checkTrees(net)
})

test('random graphs (several components): converges to valid BFS trees; repairs after lines close', () => {
  fc.assert(fc.property(
    fc.integer({ min: 2, max: 24 }),
    fc.array(fc.tuple(fc.nat(23), fc.nat(23)), { minLength: 1, maxLength: 60 }),
    fc.array(fc.nat(59), { maxLength: 10 }),
    (count, raw, cut) => {
      const links = raw.map(([a, b]) => [a % count, b % count] as [number, number])
      const net = makeNet(count, links)
      converge(net)
      checkTrees(net)
      // Close some lines (both ends learn it), then the trees re-form.
      const all = [...net.links]
      for (const k of cut) { const l = all[k % Math.max(1, all.length)]; if (l !== undefined) net.links.delete(l) }
      for (const [id, node] of net.nodes) node.setNeighbours(neighboursOf(net, id))
      converge(net)
      checkTrees(net)
    }
  ), { numRuns: 60 })
})

test('a root whose lines all close: the others elect the next smallest rank and re-attach', () => {
  const links: Array<[number, number]> = []
  for (let i = 0; i < 12; i++) links.push([i, (i + 1) % 12], [i, (i + 5) % 12])
  const net = makeNet(12, links)
  converge(net)
  checkTrees(net)
  const root = (net.nodes.get(name(0)) as TreeEmbedding).positions()[0]?.root as string
  for (const l of [...net.links]) if (l.split(' ').includes(root)) net.links.delete(l)
  for (const [id, node] of net.nodes) node.setNeighbours(neighboursOf(net, id))
  converge(net)
  checkTrees(net)
  assert.notEqual((net.nodes.get(root === name(0) ? name(1) : name(0)) as TreeEmbedding).positions()[0]?.root, root)
})

test('announcements are rate-limited per neighbour and sent only on change', () => {
  const net = makeNet(3, [[0, 1], [1, 2]])
  const a = net.nodes.get(name(1)) as TreeEmbedding
  assert.equal(a.poll(0).length, 2, 'a first announcement to each neighbour')
  assert.equal(a.poll(0).length, 0, 'nothing changed')
  a.receive(name(0), { trees: [{ root: name(0), depth: 0, coord: [], parent: false, index: null }] })
  assert.equal(a.poll(100).length, 0, 'a change within the interval waits')
  assert.ok((a.nextPollAt() ?? Infinity) <= 200)
  converge(net)
  const before = net.messages
  converge(net)
  assert.equal(net.messages, before, 'a converged network sends nothing')
})

test('cost: on a 300-node preferential-attachment graph, about 15 announcements per line to converge from cold, a few hundred to repair one line', (t) => {
  let seed = 1
  const random = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  const links: Array<[number, number]> = []
  const ends: number[] = []
  const have = new Set<string>()
  for (let i = 1; i < 300; i++) {
    for (let k = 0; k < Math.min(2, i); k++) {
      const j = ends.length === 0 ? 0 : ends[Math.floor(random() * ends.length)] as number
      if (j === i || have.has(key(name(i), name(j)))) continue
      have.add(key(name(i), name(j)))
      links.push([i, j])
      ends.push(i, j)
    }
  }
  const net = makeNet(300, links)
  const rounds = converge(net)
  checkTrees(net)
  const cold = net.messages
  const [hub] = [...net.nodes.keys()].sort((x, y) => neighboursOf(net, y).length - neighboursOf(net, x).length)
  const other = neighboursOf(net, hub as string)[0] as string
  net.links.delete(key(hub as string, other))
  for (const id of [hub as string, other]) net.nodes.get(id)?.setNeighbours(neighboursOf(net, id))
  const repairRounds = converge(net)
  checkTrees(net)
  t.diagnostic(`${net.links.size + 1} lines: ${cold} announcements to converge (${(cold / (net.links.size + 1)).toFixed(1)} per line) in ${rounds} rounds of 200 ms; closing one of the biggest hub's lines: ${net.messages - cold} more in ${repairRounds} rounds`)
  assert.ok(cold < 30 * (net.links.size + 1))
})
