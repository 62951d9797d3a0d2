// One account on two devices, each its own daemon: B links to A's account, writes into
// A's private network, and C sees B's messages as A's; A revokes B (stolen), and what B
// writes afterwards is refused by every member, B's own node included once it hears of
// the revocation. The codes' failure modes give one clear line each.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { cli, cliJson, daemonGroup, eventually, oneErrorLine, startDaemon } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'
import type { AccountView } from '../../src/networks/account-devices.ts'
import { readApiInfo } from '../../src/api/client.ts'

const { homes, daemons } = daemonGroup('dev', ['a', 'b', 'c'])

interface Message { id: string, author: string, ts: number, text: string }

const json = cliJson

async function fails (args: string[], pattern: RegExp): Promise<void> {
  const r = await cli(args)
  assert.equal(r.code, 1, `${args.join(' ')} should fail: ${r.stdout}`)
  assert.match(oneErrorLine(r), pattern)
}

/** Straight to the API: polls would spend most of their time starting CLI processes. */
async function api<T> (home: string, path: string, body?: object): Promise<T> {
  const info = readApiInfo(home)
  const res = await fetch(info.url + path, { method: body === undefined ? 'GET' : 'POST', headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  if (!res.ok) throw new Error(`${path}: ${await res.text()}`)
  return await res.json() as T
}

const messages = async (home: string, net: string): Promise<Message[]> => await api<Message[]>(home, `/v1/networks/${net}/app/read`)
const read = async (home: string, net: string): Promise<string[]> => (await messages(home, net)).map((m) => m.text)

test('link a device to an account, write from it, revoke it', async () => {
  const [homeA, homeB, homeC] = homes as [string, string, string]
  daemons.push(...await Promise.all(homes.map(async (h) => await startDaemon(h))))

  const { id: net, invite } = await json<{ id: string, invite: string }>(['net', 'create', 'family', '--app', 'chat', '--private', '--home', homeA])
  await json(['net', 'join', invite, '--home', homeC])
  const accountA = (await json<AccountView>(['account', 'devices', '--home', homeA])).account

  // Step 1 on B, step 2 on A; a damaged or expired link is refused on B, touching nothing.
  const { request, peerId: deviceB } = await json<{ request: string, peerId: string }>(['account', 'link-device', '--home', homeB])
  assert.match(request, /^pnlinkreq1/)
  await fails(['account', 'link-device', request.slice(0, -6) + 'AAAAAA', '--home', homeA], /link request/)
  const expired = await json<{ link: string }>(['account', 'link-device', request, '--expires', '0m', '--home', homeA])
  await fails(['account', 'link-device', expired.link, '--home', homeB], /expired/)
  const { link } = await json<{ link: string, networks: Array<{ id: string }> }>(['account', 'link-device', request, '--home', homeA])
  assert.match(link, /^pnlink1/)
  const damaged = link.slice(0, 300) + (link[300] === 'A' ? 'B' : 'A') + link.slice(301)
  await fails(['account', 'link-device', damaged, '--home', homeB], /damaged|forged/)
  await fails(['account', 'link-device', link, '--home', homeA], /for another device/)
  assert.equal((await json<AccountView>(['account', 'devices', '--home', homeB])).holdsAccountKey, true, 'B is still its own account')

  // Step 3 on B: it takes up A's account and network, and writes as A.
  const adopted = await json<{ account: string, networks: Array<{ id: string }>, connected: string[] }>(['account', 'link-device', link, '--home', homeB])
  assert.equal(adopted.account, accountA)
  assert.deepEqual(adopted.networks.map((n) => n.id), [net])
  assert.ok(adopted.connected.length > 0)
  await eventually(async () => await api(homeB, `/v1/networks/${net}/app/send`, { text: 'from my laptop' }), 'B to write once it has synced A\'s membership')
  const onC = await eventually(async () => (await messages(homeC, net)).find((m) => m.text === 'from my laptop'), 'C to see B\'s message')
  assert.equal(onC.author, accountA, 'C sees B\'s message authored by A\'s account')

  await eventually(async () => (await api<AccountView>(homeA, '/v1/account')).devices.find((d) => d.peerId === deviceB && d.status === 'active'), 'A to list B as an active device')
  const onA = await json<AccountView>(['account', 'devices', '--home', homeA])
  assert.deepEqual(onA.devices.map((d) => [d.kind, d.thisDevice]), [['account key', true], ['device', false]])
  const onB = await json<AccountView>(['account', 'devices', '--home', homeB])
  assert.equal(onB.account, accountA)
  assert.equal(onB.holdsAccountKey, false)
  assert.equal(onB.devices.find((d) => d.thisDevice)?.peerId, deviceB)

  // What a device home and unknown devices get.
  await fails(['account', 'revoke-device', accountA, '--home', homeB], /only the account's home can revoke/)
  await fails(['account', 'link-device', request, '--home', homeB], /only the account's home can link/)
  await fails(['account', 'revoke-device', 'deadbeefdeadbeef', '--home', homeA], /no device "deadbeefdeadbeef"/)
  await fails(['net', 'create', 'mine', '--app', 'chat', '--home', homeB], /only the account's home can create a network/)

  // B is stolen: A revokes it while B is off; C gets the revocation.
  await (daemons[1] as Daemon).stop()
  const revoked = await json<{ revoked: Array<{ id: string, lastSeq: number }> }>(['account', 'revoke-device', deviceB, '--home', homeA])
  assert.deepEqual(revoked.revoked, [{ id: net, name: 'family', lastSeq: 2 }], 'its delegation and one message stay valid')
  await eventually(async () => (await api<{ entries: Array<{ type: string }> }>(homeC, `/v1/networks/${net}/log`)).entries.some((e) => e.type === 'peernet/revoke') ? true : undefined, 'C to hold the revocation')

  // The thief's node comes back unaware of it (it forgot its peers, so it reaches no
  // one) and writes; then it meets the members.
  const db = new DatabaseSync(join(homeB, 'peernet.db'))
  db.prepare("DELETE FROM libp2p_datastore WHERE key LIKE '/peers/%'").run()
  db.close()
  daemons[1] = await startDaemon(homeB)
  const late = await cli(['chat', 'send', net, 'sent by the thief', '--home', homeB])
  assert.equal(late.code, 0, late.stderr)
  assert.ok((await read(homeB, net)).includes('sent by the thief'))
  for (const h of [homeC, homeA]) await api(h, '/v1/connect', { address: daemons[1].addresses[0] })
  // B hears of the revocation: its own late entry goes, and it refuses to write more.
  await eventually(async () => (await read(homeB, net)).includes('sent by the thief') ? undefined : true, 'B to drop its entry past the revocation')
  await fails(['chat', 'send', net, 'again', '--home', homeB], /revoked/)
  for (const h of [homeA, homeC]) assert.deepEqual(await read(h, net), ['from my laptop'], 'the thief\'s message is refused')
  for (const h of [homeA, homeB]) {
    const v = await json<AccountView>(['account', 'devices', '--home', h])
    assert.equal(v.devices.find((d) => d.peerId === deviceB)?.status, 'revoked', `${h} lists B as revoked`)
  }
  assert.deepEqual((await json<{ problems: string[] }>(['net', 'verify', net, '--home', homeB])).problems, [])
})
