// Linux network namespaces made by a test: hosts that reach each other only over the
// veth links the test creates. Traffic never leaves the namespaces. Needs root (CI and
// developers run as root); `netnsUnavailable()` says why they cannot be used, if so.

import { execFile, execFileSync } from 'node:child_process'
import { after } from 'node:test'
import { removeHome } from './processes.ts'
import type { Daemon } from './processes.ts'

export interface NetnsHost {
  /** Namespace name (unique per test process). */
  name: string
  /** The IPv4 addresses given to this host's links. */
  addresses: string[]
  /** This host's end of each link, in the order of `addresses`. */
  devices: string[]
}

export interface NetnsLab {
  hosts: NetnsHost[]
  /** Adds a host (namespace with loopback up). */
  host: (label: string) => NetnsHost
  /** Joins two hosts with a veth pair on their own /24 subnet; returns [addrA, addrB]. */
  link: (a: NetnsHost, b: NetnsHost) => [string, string]
  /** Brings the link between two hosts down (a partition) or back up. */
  setLink: (a: NetnsHost, b: NetnsHost, up: boolean) => void
  /**
   * Drops every frame arriving on both ends of the link (nftables netdev ingress) or stops
   * dropping: a silent cut, like a radio link fading. Unlike `setLink` the carrier stays
   * up, so nothing on the hosts is told; only missing traffic shows it.
   */
  setLinkSilent: (a: NetnsHost, b: NetnsHost, silent: boolean) => void
  /** `setLinkSilent` on every link of the lab at once (links already so are left alone). */
  setAllSilent: (silent: boolean) => Promise<void>
  /**
   * Makes `router` a NAT router for `inside` (both already linked to it, and `router` to
   * the outside): `inside` gets a default route through `router`, which forwards and
   * masquerades what leaves by any other link. Like a home router: `inside` dials out,
   * nothing outside can dial in (nothing outside has a route to its subnet).
   */
  nat: (router: NetnsHost, inside: NetnsHost) => void
  /** The two ends of the link between two hosts: [namespace, device] each. */
  linkEnds: (a: NetnsHost, b: NetnsHost) => Array<[string, string]>
  /** Deletes every namespace (and with them, the veth links). */
  destroy: () => void
}

function ip (...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Runs `nft ARGS…` inside a namespace (Debian package nftables). */
function nft (ns: string, ...args: string[]): void {
  ip('netns', 'exec', ns, 'nft', ...args)
}

// A silent cut is one netdev table per device, so each is made and undone on its own.
function silenceTable (dev: string): string {
  return `pncut_${dev}`
}

function silenceRule (dev: string): string {
  return `table netdev ${silenceTable(dev)} { chain in { type filter hook ingress device "${dev}" priority -500; policy drop; }; }`
}

function silenced (ns: string, dev: string): boolean {
  try {
    nft(ns, 'list', 'table', 'netdev', silenceTable(dev))
    return true
  } catch {
    return false
  }
}

/** Why namespaces cannot be made here, or undefined when they can. */
export function netnsUnavailable (): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  const probe = `pnprobe${process.pid}`
  try {
    ip('netns', 'add', probe)
    ip('netns', 'del', probe)
    return undefined
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim()
    return `the kernel refused a network namespace (${stderr ?? (err as Error).message})`
  }
}

let labCount = 0

export function createNetnsLab (): NetnsLab {
  const lab = labCount++
  const prefix = `pn${process.pid % 100000}x${lab}`
  const hosts: NetnsHost[] = []
  let links = 0
  const devices = new Map<string, Array<[string, string]>>()
  const key = (a: NetnsHost, b: NetnsHost): string => [a.name, b.name].sort().join('|')
  const endsOf = (a: NetnsHost, b: NetnsHost): Array<[string, string]> => {
    const ends = devices.get(key(a, b))
    if (ends === undefined) throw new Error(`no link between ${a.name} and ${b.name}`)
    return ends
  }
  return {
    hosts,
    host: (label) => {
      const name = `${prefix}${label}`.slice(0, 15)
      ip('netns', 'add', name)
      ip('-n', name, 'link', 'set', 'lo', 'up')
      const h: NetnsHost = { name, addresses: [], devices: [] }
      hosts.push(h)
      return h
    },
    link: (a, b) => {
      const n = links++
      // 10.201.0.0/16 carved into one /24 per link, private to these namespaces.
      const subnet = `10.${201 + (lab % 50)}.${n}`
      const va = `${prefix}v${n}a`.slice(0, 15)
      const vb = `${prefix}v${n}b`.slice(0, 15)
      ip('link', 'add', va, 'type', 'veth', 'peer', 'name', vb)
      ip('link', 'set', va, 'netns', a.name)
      ip('link', 'set', vb, 'netns', b.name)
      const addrA = `${subnet}.1`
      const addrB = `${subnet}.2`
      for (const [host, dev, addr] of [[a, va, addrA], [b, vb, addrB]] as const) {
        ip('-n', host.name, 'addr', 'add', `${addr}/24`, 'dev', dev)
        ip('-n', host.name, 'link', 'set', dev, 'up')
        // Multicast (mDNS) goes out of this link; it never leaves the namespaces.
        try { ip('-n', host.name, 'route', 'add', '224.0.0.0/4', 'dev', dev) } catch { /* a route exists already */ }
        host.addresses.push(addr)
        host.devices.push(dev)
      }
      devices.set(key(a, b), [[a.name, va], [b.name, vb]])
      return [addrA, addrB]
    },
    setLink: (a, b, up) => {
      const ends = endsOf(a, b)
      for (const [ns, dev] of ends) ip('-n', ns, 'link', 'set', dev, up ? 'up' : 'down')
      if (up) {
        for (const [ns, dev] of ends) {
          try { ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', dev) } catch { /* a route exists already */ }
        }
      }
    },
    setLinkSilent: (a, b, silent) => {
      for (const [ns, dev] of endsOf(a, b)) {
        // One command per end: the cut is in place as soon as it returns.
        if (silent) execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: silenceRule(dev), stdio: ['pipe', 'ignore', 'pipe'] })
        else try { nft(ns, 'delete', 'table', 'netdev', silenceTable(dev)) } catch { /* not cut */ }
      }
    },
    setAllSilent: async (silent) => {
      // One command per host, all hosts at once: every link goes silent (or speaks again)
      // within a few milliseconds of the others.
      await Promise.all(hosts.map(async (h) => {
        const cut = h.devices.filter((d) => silent !== silenced(h.name, d))
        if (cut.length === 0) return
        const input = cut.map((d) => silent ? silenceRule(d) : `delete table netdev ${silenceTable(d)}`).join('\n')
        await new Promise<void>((resolve, reject) => {
          const child = execFile('ip', ['netns', 'exec', h.name, 'nft', '-f', '-'], (err) => { if (err === null) resolve(); else reject(new Error(`nft in ${h.name}: ${err.message}`, { cause: err })) })
          child.stdin?.end(input)
        })
      }))
    },
    nat: (router, inside) => {
      const [[nsA, devA], [, devB]] = endsOf(router, inside) as [[string, string], [string, string]]
      const [routerDev, insideDev] = nsA === router.name ? [devA, devB] : [devB, devA]
      const gateway = router.addresses[router.devices.indexOf(routerDev)] ?? ''
      ip('-n', inside.name, 'route', 'add', 'default', 'via', gateway, 'dev', insideDev)
      ip('netns', 'exec', router.name, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1')
      const subnet = gateway.replace(/\.\d+$/, '.0/24')
      const rule = `table ip pnnat { chain post { type nat hook postrouting priority 100; policy accept; ip saddr ${subnet} oifname != "${routerDev}" masquerade; }; }`
      execFileSync('ip', ['netns', 'exec', router.name, 'nft', '-f', '-'], { input: rule, stdio: ['pipe', 'ignore', 'pipe'] })
    },
    linkEnds: (a, b) => endsOf(a, b).map(([ns, dev]) => [ns, dev]),
    destroy: () => {
      for (const h of hosts.splice(0)) {
        try { ip('netns', 'del', h.name) } catch { /* already gone */ }
      }
    }
  }
}

/**
 * What a namespace test file starts, torn down after its tests, pass or fail: the daemons
 * in `running` killed, then the labs destroyed and the homes removed.
 */
export function netnsGroup (): { labs: NetnsLab[], running: Daemon[], homes: string[] } {
  const group = { labs: [] as NetnsLab[], running: [] as Daemon[], homes: [] as string[] }
  after(async () => {
    await Promise.all(group.running.map(async (d) => { await d.kill() }))
    for (const lab of group.labs) lab.destroy()
    for (const h of group.homes) removeHome(h)
  })
  return group
}
