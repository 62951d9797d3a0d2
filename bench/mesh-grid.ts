// The namespace topology both halves of the mesh benchmark run on: a grid of hosts, each
// a network namespace that reaches only its grid neighbours over its own veth links (one
// /24 per link, test/helpers/netns.ts). Every host also has one address of its own on
// loopback (10.255.x.y/32) that a router must carry across the grid, IP forwarding on, and
// nftables counters that split what the host sends by UDP port.

import { execFileSync } from 'node:child_process'
import { createNetnsLab } from '../test/helpers/netns.ts'
import type { NetnsHost, NetnsLab } from '../test/helpers/netns.ts'

export interface GridHost extends NetnsHost {
  row: number
  col: number
  /** The host's own address (on lo, /32): what routes point at. */
  loopback: string
}

export interface GridLink {
  a: GridHost
  b: GridHost
}

export interface Grid {
  rows: number
  cols: number
  hosts: GridHost[]
  links: GridLink[]
  lab: NetnsLab
  at: (row: number, col: number) => GridHost
  /** The link between two hosts, whichever way round. */
  linkBetween: (x: GridHost, y: GridHost) => GridLink
  /** The host owning a link address (10.2xx.n.1/2) or a loopback address. */
  hostByAddress: (address: string) => GridHost | undefined
  destroy: () => void
}

/** Runs a command inside a namespace and returns its stdout. */
export function inNetns (ns: string, command: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, command, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

const labs = new Set<NetnsLab>()
let exitHookInstalled = false

/** Namespaces live in the kernel past this process: delete them on any exit, Ctrl-C included. */
function installExitHook (): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const lab of labs) lab.destroy()
  })
}

/** Builds a rows × cols grid; each host's links are its up/down/left/right neighbours. */
export function createGrid (rows: number, cols: number): Grid {
  installExitHook()
  const lab = createNetnsLab()
  labs.add(lab)
  const hosts: GridHost[] = []
  const links: GridLink[] = []
  try {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const h = lab.host(`r${r}c${c}`)
        const i = r * cols + c
        const loopback = `10.255.${i >> 8}.${(i & 0xff) + 1}`
        execFileSync('ip', ['-n', h.name, 'addr', 'add', `${loopback}/32`, 'dev', 'lo'])
        for (const [key, value] of [
          ['net.ipv4.ip_forward', '1'],
          // A grid has many equal paths: replies may come back another way than requests went.
          ['net.ipv4.conf.all.rp_filter', '0'],
          ['net.ipv4.conf.default.rp_filter', '0']
        ]) inNetns(h.name, 'sysctl', '-qw', `${key}=${value}`)
        hosts.push(Object.assign(h, { row: r, col: c, loopback }))
      }
    }
    const at = (r: number, c: number): GridHost => {
      const h = hosts[r * cols + c]
      if (h === undefined) throw new RangeError(`no host at row ${r}, column ${c}`)
      return h
    }
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        if (c + 1 < cols) { lab.link(at(r, c), at(r, c + 1)); links.push({ a: at(r, c), b: at(r, c + 1) }) }
        if (r + 1 < rows) { lab.link(at(r, c), at(r + 1, c)); links.push({ a: at(r, c), b: at(r + 1, c) }) }
      }
    }
    const byAddress = new Map<string, GridHost>()
    for (const h of hosts) {
      byAddress.set(h.loopback, h)
      for (const a of h.addresses) byAddress.set(a, h)
    }
    return {
      rows,
      cols,
      hosts,
      links,
      lab,
      at,
      linkBetween: (x, y) => {
        const l = links.find((k) => (k.a === x && k.b === y) || (k.a === y && k.b === x))
        if (l === undefined) throw new RangeError(`${x.name} and ${y.name} are not neighbours`)
        return l
      },
      hostByAddress: (address) => byAddress.get(address),
      destroy: () => { lab.destroy(); labs.delete(lab) }
    }
  } catch (err) {
    lab.destroy()
    labs.delete(lab)
    throw err
  }
}

/** Waits until every link's IPv6 link-local address has finished duplicate address detection. */
export async function linkLocalReady (grid: Grid, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const h of grid.hosts) {
    for (;;) {
      const out = execFileSync('ip', ['-n', h.name, '-6', 'addr', 'show', 'scope', 'link'], { encoding: 'utf8' })
      const ready = h.devices.every((d) => new RegExp(`${d}@`).test(out)) && !/tentative/.test(out)
      if (ready) break
      if (Date.now() > deadline) throw new Error(`IPv6 link-local addresses in ${h.name} still tentative after ${timeoutMs} ms`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

// ---- Byte counters ------------------------------------------------------------------

/** Bytes and packets a host sent, by kind; bytes are whole IP packets (IP + UDP headers included). */
export interface SentCounters {
  /** UDP to or from `port` (the router's own port), IPv4 and IPv6 apart for header arithmetic. */
  portV4: { packets: number, bytes: number }
  portV6: { packets: number, bytes: number }
  /** Everything else the host sent (for Peernet: libp2p, mDNS, DHT, identify…). */
  other: { packets: number, bytes: number }
}

const COUNTER_TABLE = 'pnbench'

/**
 * Installs output counters in every host: packets the host itself sends (the output hook
 * sees locally made packets, not forwarded ones), split into the router's UDP port and the
 * rest. Reset by re-installing.
 */
export function installCounters (grid: Grid, port: number): void {
  for (const h of grid.hosts) {
    try { inNetns(h.name, 'nft', 'delete', 'table', 'inet', COUNTER_TABLE) } catch { /* first time */ }
    const ruleset = [
      `table inet ${COUNTER_TABLE} {`,
      '  chain out {',
      '    type filter hook output priority 0; policy accept;',
      // Babel and the mesh send from their port to it; either port marks the packet.
      `    meta nfproto ipv4 udp sport ${port} counter accept`,
      `    meta nfproto ipv4 udp dport ${port} counter accept`,
      `    meta nfproto ipv6 udp sport ${port} counter accept`,
      `    meta nfproto ipv6 udp dport ${port} counter accept`,
      // Loopback traffic (the API, local sockets) never reaches a link: not counted.
      '    oifname "lo" accept',
      '    counter',
      '  }',
      '}'
    ].join('\n')
    execFileSync('ip', ['netns', 'exec', h.name, 'nft', '-f', '-'], { input: ruleset, stdio: ['pipe', 'ignore', 'pipe'] })
  }
}

interface NftCounter { packets: number, bytes: number }

export function readCounters (host: GridHost): SentCounters {
  const json = JSON.parse(inNetns(host.name, 'nft', '-j', 'list', 'table', 'inet', COUNTER_TABLE)) as { nftables: Array<{ rule?: { expr: Array<{ counter?: NftCounter }> } }> }
  const counters = json.nftables.flatMap((e) => e.rule === undefined ? [] : e.rule.expr.flatMap((x) => x.counter === undefined ? [] : [x.counter]))
  if (counters.length !== 5) throw new Error(`expected 5 counters in ${host.name}, found ${counters.length}`)
  const [s4, d4, s6, d6, other] = counters as [NftCounter, NftCounter, NftCounter, NftCounter, NftCounter]
  return {
    portV4: { packets: s4.packets + d4.packets, bytes: s4.bytes + d4.bytes },
    portV6: { packets: s6.packets + d6.packets, bytes: s6.bytes + d6.bytes },
    other: { packets: other.packets, bytes: other.bytes }
  }
}

/** IP + UDP header bytes per packet, to give UDP payload bytes as well as bytes on the wire. */
export const UDP_HEADER_BYTES = { v4: 20 + 8, v6: 40 + 8 }
