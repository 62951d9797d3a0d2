import type { Command } from '../command.ts'
import { ApiClient } from '../../api/client.ts'
import type { PeernetEvent } from '../../node.ts'

export const eventsCommand: Command = {
  name: 'events',
  summary: 'Follow the node\'s live events (peers connecting and leaving, …) until Ctrl-C.',
  usage: 'events [--json]',
  help: 'With --json, prints one JSON object per line.',
  options: {},
  read: true,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const res = await new ApiClient(ctx.home).events()
    if (res.body === null) return
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      let end
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = frame.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')
        if (data === '') continue
        const event = JSON.parse(data) as PeernetEvent
        if (ctx.json) ctx.out(JSON.stringify(event))
        else ctx.out(`${new Date(event.at).toISOString()}  ${event.type}  ${describeEvent(event)}`)
      }
    }
  }
}

function describeEvent (e: PeernetEvent): string {
  switch (e.type) {
    case 'peer:connect': return `${e.peerId}${e.address === null ? '' : `  ${e.address}`}`
    case 'peer:disconnect': return e.peerId
    case 'entry': return `${e.net}  ${e.entryType}  by ${e.author.slice(0, 12)}…${e.local ? '  (local)' : ''}`
    case 'app': return `${e.app}:${e.kind}  ${e.net}  ${typeof e.data.summary === 'string' ? e.data.summary : JSON.stringify(e.data)}`
    case 'mesh:message': return `from ${e.message.from}  (${e.message.hops} hops)  ${e.message.text}`
    case 'mesh:neighbour': return `${e.peerId} ${e.up ? 'up' : 'down'} (${e.kind})`
  }
}
