// The social app end to end, each daemon its own process: posts, replies, reactions,
// reposts, edits and deletes converge on three nodes and their timelines match; live
// events reach the event stream; a post written while partitioned arrives after the
// partition heals; a reply that arrives before its parent shows under a placeholder,
// and under the post once it comes.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cli, cliJson, daemonGroup, eventually, oneErrorLine, startDaemon } from '../helpers/processes.ts'
import type { Daemon } from '../helpers/processes.ts'
import { ApiClient, readApiInfo } from '../../src/api/client.ts'
import type { Page, PostView, ThreadView } from '../../src/apps/social/timeline.ts'

const { homes, daemons } = daemonGroup('social', ['a', 'b', 'c'])
const json = cliJson

/** The API of a home's daemon (cheaper than a CLI process for the many reads of `eventually`). */
const api = (home: string): ApiClient => new ApiClient(home, readApiInfo(home))

/** What must be the same on every node: the posts' ids, texts, counts, flags. */
const shape = (posts: PostView[]): string => JSON.stringify(posts.map((p) => [p.id, p.author, p.text, p.replyTo, p.reactions, p.replies, p.reposts, p.edited, p.deleted, p.attachments.map((a) => a.id), p.repost?.by ?? null]))

async function converged (net: string, hs: string[], test: (posts: PostView[]) => boolean, what: string): Promise<PostView[]> {
  return await eventually(async () => {
    const feeds = await Promise.all(hs.map(async (h) => (await api(h).get<Page>(`/v1/networks/${net}/app/feed?limit=100`)).posts))
    const first = feeds[0] as PostView[]
    return feeds.every((f) => shape(f) === shape(first)) && test(first) ? first : undefined
  }, what, 30_000)
}

/** Collects the app events of a daemon's event stream until `stop`. */
function appEvents (home: string): { events: Array<{ app: string, kind: string, data: Record<string, unknown> }>, stop: () => void } {
  const controller = new AbortController()
  const events: Array<{ app: string, kind: string, data: Record<string, unknown> }> = []
  void (async () => {
    const res = await api(home).events(controller.signal)
    let buffer = ''
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buffer += Buffer.from(chunk).toString('utf8')
      let end
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer.slice(0, end).split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('')
        buffer = buffer.slice(end + 2)
        if (data === '') continue
        const e = JSON.parse(data) as { type: string, app: string, kind: string, data: Record<string, unknown> }
        if (e.type === 'app') events.push(e)
      }
    }
  })().catch(() => { /* aborted */ })
  return { events, stop: () => { controller.abort() } }
}

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1])

test('three daemons: the social app converges, and heals after a partition', async (t) => {
  const [homeA, homeB, homeC] = homes as [string, string, string]
  daemons.push(...await Promise.all(homes.map(async (h) => await startDaemon(h))))
  const { id: net, invite } = await json<{ id: string, invite: string }>(['net', 'create', 'town', '--app', 'social', '--home', homeA])
  await Promise.all([homeB, homeC].map(async (h) => await api(h).post('/v1/networks/join', { invite })))
  const accounts = await Promise.all(homes.map(async (h) => (await api(h).get<{ account: string }>('/v1/apps/social/profile')).account))
  const [alice, bob] = accounts as [string, string, string]

  await t.test('posts, replies, reactions, reposts, edits and deletes converge; timelines match', async () => {
    const onA = appEvents(homeA)
    const onC = appEvents(homeC)
    t.after(() => { onA.stop(); onC.stop() })
    const avatar = join(homeA, 'avatar.png')
    writeFileSync(avatar, PNG)
    const notImage = join(homeA, 'notes.txt')
    writeFileSync(notImage, 'just text')
    await json(['social', 'profile', 'set', '--name', 'alice', '--bio', 'first *here*', '--avatar', avatar, '--home', homeA])
    const bad = await cli(['social', 'post', net, 'look', '--attach', notImage, '--home', homeA])
    assert.equal(bad.code, 2)
    assert.match(oneErrorLine(bad), /not a PNG, JPEG, GIF or WebP image/)

    const p1 = (await json<{ id: string }>(['social', 'post', net, 'hello **town**', '--attach', avatar, '--home', homeA])).id
    await eventually(async () => (await api(homeB).get<{ name: string | null }>(`/v1/apps/social/profile?account=${alice}`)).name === 'alice' ? true : undefined, 'A\'s profile on B')
    await api(homeB).post('/v1/apps/social/follow', { account: 'alice' })
    await eventually(async () => (await api(homeB).get<Page>('/v1/apps/social/feed')).posts.some((p) => p.id === p1) ? true : undefined, 'P1 on B')
    await eventually(async () => (await api(homeC).get<Page>(`/v1/networks/${net}/app/feed`)).posts.some((p) => p.id === p1) ? true : undefined, 'P1 on C')
    const r1 = (await json<{ id: string }>(['social', 'post', net, 'hi @alice', '--reply-to', p1.slice(0, 12), '--home', homeB])).id
    await json(['social', 'react', p1, '👍', '--home', homeC])
    await api(homeC).post('/v1/apps/social/repost', { id: p1 })
    const p2 = (await api(homeB).post<{ id: string }>(`/v1/networks/${net}/app/post`, { text: 'regrettable' })).id

    // Only the author edits or deletes: clear one-line errors elsewhere.
    const foreignEdit = await cli(['social', 'edit', p1, 'hijacked', '--home', homeB])
    assert.equal(foreignEdit.code, 1)
    assert.match(oneErrorLine(foreignEdit), /only its author can edit it/)
    await assert.rejects(api(homeA).post('/v1/apps/social/delete', { id: p2 }), /only its author can delete it/)
    const unknown = await cli(['social', 'thread', 'ffffffffff', '--home', homeA])
    assert.equal(unknown.code, 1)
    assert.match(oneErrorLine(unknown), /no post ffffffffff here/)

    await api(homeA).post('/v1/apps/social/edit', { id: p1, text: 'hello **town**, edited' })
    await json(['social', 'delete', p2, '--home', homeB])

    const feed = await converged(net, homes, (posts) => posts.length === 3 && posts.some((p) => p.id === p1 && p.edited !== null && p.reposts === 1) && !posts.some((p) => p.id === p2), 'the same feed on all three: P1 edited and reposted, R1, no P2')
    const v1 = feed.find((p) => p.id === p1 && p.repost === undefined) as PostView
    assert.deepEqual([v1.text, v1.reactions, v1.replies, v1.attachments.length], ['hello **town**, edited', { '👍': 1 }, 1, 1])
    // The threads match, and each home timeline holds what its follows say.
    const threads = await Promise.all(homes.map(async (h) => h === homeC ? await json<ThreadView>(['social', 'thread', r1, '--home', h]) : await api(h).get<ThreadView>(`/v1/apps/social/thread?id=${r1}`)))
    for (const th of threads) assert.equal(shape(th.posts), shape((threads[0] as ThreadView).posts))
    assert.deepEqual(threads[0]?.posts.map((p) => [p.id, p.depth]), [[p1, 0], [r1, 1]])
    const homeOfB = await api(homeB).get<Page>('/v1/apps/social/feed')
    assert.deepEqual(homeOfB.posts.map((p) => p.id).sort(), [p1, r1].sort(), 'B: its own reply and what Alice wrote')
    const history = await api(homeC).get<{ versions: Array<{ text: string }> }>(`/v1/apps/social/history?id=${p1}`)
    assert.deepEqual(history.versions.map((v) => v.text), ['hello **town**', 'hello **town**, edited'])
    // The deleted post: its body gone everywhere, its header and the signed tombstone kept.
    for (const h of homes) {
      const log = (await api(h).get<{ entries: Array<{ hash: string, type: string, pruned: boolean }> }>(`/v1/networks/${net}/log?limit=1000`)).entries
      assert.equal(log.find((e) => e.hash === p2)?.pruned, true)
      assert.ok(log.some((e) => e.type === 'peernet/delete'))
    }
    const human = await cli(['social', 'feed', net, '--home', homeC])
    assert.match(human.stdout, /hello town, edited/, 'markdown rendered plainly')
    const notes = await api(homeA).get<Array<{ kind: string, from: string }>>('/v1/apps/social/notifications')
    assert.deepEqual(notes.map((n) => n.kind).sort(), ['reaction', 'reply'], 'a reply that mentions counts once')
    // Live events: the reply and the reaction reached A's event stream as they synced in.
    await eventually(async () => await Promise.resolve(['reply', 'reaction'].every((k) => onA.events.some((e) => e.app === 'social' && e.kind === k)) ? true : undefined), 'reply and reaction events on A')
    assert.ok(onC.events.some((e) => e.kind === 'post' && e.data.id === p1), 'a post event on C')
  })

  await t.test('a post written while partitioned arrives after healing; a reply before its parent waits under a placeholder', async () => {
    const [a, b, c] = daemons as [Daemon, Daemon, Daemon]
    await Promise.all([b.stop(), c.stop()])
    // A alone: posting needs no peer.
    const p3 = (await api(homeA).post<{ id: string }>(`/v1/networks/${net}/app/post`, { text: 'written while alone' })).id
    await a.stop()
    daemons[1] = await startDaemon(homeB)
    daemons[2] = await startDaemon(homeC)
    await api(homeB).post('/v1/connect', { address: (daemons[2]).addresses[0] ?? '' })
    // B knows P3's id from elsewhere (a link), not the post: its reply waits for it.
    const early = await json<{ id: string, parentHere: boolean }>(['social', 'post', net, 'replying ahead', '--reply-to', p3, '--home', homeB])
    assert.equal(early.parentHere, false)
    const waiting = await eventually(async () => {
      const th = await api(homeC).get<ThreadView>(`/v1/apps/social/thread?id=${early.id}`)
      return th.posts.length === 2 ? th : undefined
    }, 'the early reply on C')
    assert.deepEqual(waiting.posts.map((p) => [p.id, p.missing, p.text]), [[p3, true, null], [early.id, false, 'replying ahead']])

    daemons[0] = await startDaemon(homeA)
    await api(homeA).post('/v1/connect', { address: (daemons[1]).addresses[0] ?? '' })
    const healed = await eventually(async () => {
      const th = await api(homeC).get<ThreadView>(`/v1/apps/social/thread?id=${early.id}`)
      return th.posts[0]?.text === 'written while alone' ? th : undefined
    }, 'P3 on C after healing, with the reply under it')
    assert.deepEqual(healed.posts.map((p) => [p.id, p.depth]), [[p3, 0], [early.id, 1]])
    await converged(net, homes, (posts) => posts.some((p) => p.id === p3) && posts.some((p) => p.id === early.id), 'all three feeds the same after healing')
    assert.ok((await api(homeB).get<Page>('/v1/apps/social/feed')).posts.some((p) => p.id === p3 && p.author === alice), 'in B\'s home timeline (B follows alice)')
    assert.notEqual(bob, alice)
  })
})
