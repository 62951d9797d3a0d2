// Two daemons as separate processes on loopback with separate homes: connect, peers,
// ping, live events, and a restart that keeps the identity and reconnects.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { cli, eventually, removeHome, startDaemon, tempHome } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'
import { readApiInfo } from '../../src/api/client.ts'

interface PeerJson { peerId: string, addresses: string[], direction: string, agent: string | null }

const homes = [tempHome('a'), tempHome('b')]
const running: Daemon[] = []
after(async () => {
  await Promise.all(running.map(async (d) => { await d.stop() }))
  for (const h of homes) removeHome(h)
})

async function peersOf (home: string): Promise<PeerJson[]> {
  const r = await cli(['peers', '--json', '--home', home])
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout) as PeerJson[]
}

test('two daemons connect, list each other, ping, and reconnect after a restart', async (t) => {
  const [homeA, homeB] = homes as [string, string]
  let a = await startDaemon(homeA)
  const b = await startDaemon(homeB)
  running.push(a, b)
  assert.match(a.peerId, /^12D3KooW/)
  assert.notEqual(a.peerId, b.peerId)
  assert.ok(b.addresses.length > 0, 'daemon prints its listen addresses')

  await t.test('events stream reports the connection', async () => {
    const info = readApiInfo(homeB)
    const controller = new AbortController()
    const res = await fetch(`${info.url}/v1/events`, { headers: { authorization: `Bearer ${info.token}` }, signal: controller.signal })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/)
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const seen = (async () => {
      let text = ''
      const decoder = new TextDecoder()
      while (!text.includes(`"peerId":"${a.peerId}"`)) {
        const { value, done } = await reader.read()
        if (done) break
        text += decoder.decode(value, { stream: true })
      }
      return text
    })()

    const r = await cli(['connect', b.addresses[0] ?? '', '--home', homeA])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`connected to ${b.peerId}`))

    const text = await Promise.race([seen, new Promise<string>((_resolve, reject) => setTimeout(() => { reject(new Error('no peer:connect event within 10 s')) }, 10_000))])
    controller.abort()
    assert.match(text, /event: peer:connect/)
  })

  await t.test('peers --json on each lists the other', async () => {
    const onA = await peersOf(homeA)
    const onB = await eventually(async () => { const p = await peersOf(homeB); return p.some((x) => x.peerId === a.peerId) ? p : undefined }, 'B to list A')
    assert.ok(onA.some((p) => p.peerId === b.peerId && p.direction === 'outbound'), JSON.stringify(onA))
    const aOnB = onB.find((p) => p.peerId === a.peerId)
    assert.ok(aOnB !== undefined)
    assert.equal(aOnB.direction, 'inbound')
    assert.match(aOnB.agent ?? '', /^peernet\//)
  })

  await t.test('ping reports a round-trip time, by peer id and by multiaddr', async () => {
    const byId = await cli(['ping', b.peerId, '--count', '2', '--json', '--home', homeA])
    assert.equal(byId.code, 0, byId.stderr)
    const j = JSON.parse(byId.stdout) as { peerId: string, rttMs: number[], min: number, avg: number, max: number }
    assert.equal(j.peerId, b.peerId)
    assert.equal(j.rttMs.length, 2)
    for (const rtt of j.rttMs) assert.ok(Number.isFinite(rtt) && rtt >= 0 && rtt < 5000, `rtt ${rtt}`)
    assert.ok(j.min <= j.avg && j.avg <= j.max)

    const byAddr = await cli(['ping', b.addresses[0] ?? '', '--count', '1', '--home', homeA])
    assert.equal(byAddr.code, 0, byAddr.stderr)
    assert.match(byAddr.stdout, new RegExp(`pong from ${b.peerId}: time=\\d+ ms`))
  })

  await t.test('status and id read the running node', async () => {
    const s = await cli(['status', '--json', '--home', homeA])
    assert.equal(s.code, 0, s.stderr)
    const status = JSON.parse(s.stdout) as { peerId: string, peers: number, protocols: string[] }
    assert.equal(status.peerId, a.peerId)
    assert.ok(status.peers >= 1)
    assert.ok(status.protocols.includes('/peernet/kad/1.0.0'))
    const id = await cli(['id', '--json', '--home', homeB])
    const idJson = JSON.parse(id.stdout) as { peerId: string, online: boolean, addresses: string[] }
    assert.equal(idJson.peerId, b.peerId)
    assert.equal(idJson.online, true)
    assert.ok(idJson.addresses.length > 0)
  })

  await t.test('a restarted daemon keeps its peer id and reconnects to the peer it knew', async () => {
    const oldId = a.peerId
    await a.stop()
    assert.equal(a.process.exitCode, 0, a.stderr())
    assert.match(a.stdout(), /peernet daemon stopped/)
    await eventually(async () => (await peersOf(homeB)).some((p) => p.peerId === oldId) ? undefined : true, 'B to notice A left')

    const offline = await cli(['id', '--json', '--home', homeA])
    assert.equal(offline.code, 0, offline.stderr)
    assert.deepEqual(JSON.parse(offline.stdout), { peerId: oldId, publicKey: (JSON.parse(offline.stdout) as { publicKey: string }).publicKey, addresses: [], online: false })

    a = await startDaemon(homeA)
    running.push(a)
    assert.equal(a.peerId, oldId)
    // Nobody runs `connect` again: A redials B from its persisted peer store.
    await eventually(async () => (await peersOf(homeA)).some((p) => p.peerId === b.peerId) ? true : undefined, 'A to reconnect to B')
    await eventually(async () => (await peersOf(homeB)).some((p) => p.peerId === oldId) ? true : undefined, 'B to see A again')
  })
})
