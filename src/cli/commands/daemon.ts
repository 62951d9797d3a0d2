import type { Command } from '../command.ts'
import { runDaemon } from '../daemon.ts'
import { parseApiAddress, parseMultiaddr } from '../../core/config.ts'
import type { PeernetConfig } from '../../core/config.ts'
import { isLogLevel } from '../../core/log.ts'
import { UsageError } from '../../core/errors.ts'

export const daemonCommand: Command = {
  name: 'daemon',
  summary: 'Run the node in the foreground until SIGINT, SIGTERM or `peernet stop`.',
  usage: 'daemon [--listen MULTIADDR]… [--api HOST:PORT] [--bootstrap MULTIADDR]… [--no-mdns]',
  help: `Prints the peer id, the listen addresses and the API URL, and writes the API URL
and a fresh bearer token to api.json in the home (mode 0600). Logs are JSON lines
on stderr. Flags override the home's config.json for this run.

  --listen MULTIADDR     listen address (repeatable), e.g. /ip4/0.0.0.0/tcp/4610
  --api HOST:PORT        API address (default 127.0.0.1:4612; port 0 = any free port)
  --bootstrap MULTIADDR  peer to dial and keep connected (repeatable)
  --no-mdns              do not discover peers on the LAN by multicast DNS
  --public-dht           also join the public IPFS DHT for rendezvous
  --relay                serve as a circuit relay for other nodes
  --upnp                 ask the LAN gateway to map ports (UPnP)
  --no-rendezvous        do not look up or announce network members in the DHT
  --log-level LEVEL      error, warn, info (default) or debug`,
  options: {
    listen: { type: 'string', multiple: true },
    api: { type: 'string' },
    bootstrap: { type: 'string', multiple: true },
    mdns: { type: 'boolean' },
    'public-dht': { type: 'boolean' },
    relay: { type: 'boolean' },
    upnp: { type: 'boolean' },
    rendezvous: { type: 'boolean' },
    'log-level': { type: 'string' }
  },
  read: false,
  positionals: { min: 0, max: 0 },
  run: async (ctx) => {
    const v = ctx.values
    const overrides: Partial<PeernetConfig> = {}
    if (Array.isArray(v.listen)) overrides.listen = v.listen.map((a) => parseMultiaddr(a, 'listen address'))
    if (Array.isArray(v.bootstrap)) overrides.bootstrap = v.bootstrap.map((a) => parseMultiaddr(a, 'bootstrap address'))
    if (typeof v.api === 'string') { parseApiAddress(v.api); overrides.api = v.api }
    if (typeof v.mdns === 'boolean') overrides.mdns = v.mdns
    if (typeof v['public-dht'] === 'boolean') overrides.publicDht = v['public-dht']
    if (typeof v.relay === 'boolean') overrides.relay = v.relay
    if (typeof v.upnp === 'boolean') overrides.upnp = v.upnp
    if (typeof v.rendezvous === 'boolean') overrides.rendezvous = v.rendezvous
    const level = v['log-level']
    if (typeof level === 'string' && !isLogLevel(level)) throw new UsageError(`unknown log level "${level}"`, { hint: 'use error, warn, info or debug' })
    await runDaemon({ home: ctx.home, overrides, logLevel: typeof level === 'string' && isLogLevel(level) ? level : undefined, out: ctx.out })
  }
}
