import { isIPv4 } from 'node:net'
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
  --no-mesh              do not route other nodes' traffic (the last-mile mesh)
  --no-mesh-udp          mesh over libp2p connections only: no UDP links on the LAN
  --mesh-port PORT       UDP port of the mesh's LAN links (default 4613, the same on every node)
  --mesh-interface ADDR  IPv4 address of an interface to run UDP mesh links on (repeatable; default all)
  --mesh-gateway MODE    offer this node's Internet to the mesh: auto (default), on, off
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
    mesh: { type: 'boolean' },
    'mesh-udp': { type: 'boolean' },
    'mesh-port': { type: 'string' },
    'mesh-interface': { type: 'string', multiple: true },
    'mesh-gateway': { type: 'string' },
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
    if (typeof v.mesh === 'boolean') overrides.mesh = v.mesh
    if (typeof v['mesh-udp'] === 'boolean') overrides.meshUdp = v['mesh-udp']
    if (typeof v['mesh-port'] === 'string') {
      const port = Number(v['mesh-port'])
      if (!Number.isSafeInteger(port) || port < 1 || port > 65535) throw new UsageError(`invalid --mesh-port "${v['mesh-port']}"`, { hint: 'a UDP port, 1 to 65535' })
      overrides.meshPort = port
    }
    if (Array.isArray(v['mesh-interface'])) {
      const bad = v['mesh-interface'].find((a) => !isIPv4(a))
      if (bad !== undefined) throw new UsageError(`invalid --mesh-interface "${bad}"`, { hint: 'give the IPv4 address of the interface, e.g. 192.168.1.20' })
      overrides.meshInterfaces = v['mesh-interface']
    }
    const gateway = v['mesh-gateway']
    if (typeof gateway === 'string') {
      if (gateway !== 'auto' && gateway !== 'on' && gateway !== 'off') throw new UsageError(`invalid --mesh-gateway "${gateway}"`, { hint: 'use auto, on or off' })
      overrides.meshGateway = gateway
    }
    const level = v['log-level']
    if (typeof level === 'string' && !isLogLevel(level)) throw new UsageError(`unknown log level "${level}"`, { hint: 'use error, warn, info or debug' })
    await runDaemon({ home: ctx.home, overrides, logLevel: typeof level === 'string' && isLogLevel(level) ? level : undefined, out: ctx.out })
  }
}
