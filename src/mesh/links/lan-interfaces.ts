// The IPv4 LAN interfaces a UDP mesh link may use, and who is on their subnets. A mesh
// hop is one link-layer segment: a node talks only to neighbours on its own subnets, so
// IP routing never stands in for a mesh hop.
//
// os.networkInterfaces() (libuv) lists only interfaces that are up and running: an
// interface whose cable is pulled or that is set down drops out of the list, which is
// how the UDP provider notices it.

import { networkInterfaces } from 'node:os'
import { isIPv4 } from 'node:net'

export interface LanInterface {
  /** Interface name (eth0, wlan0, a veth). */
  name: string
  /** This node's IPv4 address on it. */
  address: string
  netmask: string
  /** The subnet's broadcast address. */
  broadcast: string
}

export function ipv4ToInt (address: string): number {
  const parts = address.split('.').map(Number)
  return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0
}

export function intToIpv4 (n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.')
}

export function onSubnet (iface: LanInterface, address: string): boolean {
  if (!isIPv4(address)) return false
  const mask = ipv4ToInt(iface.netmask)
  return ((ipv4ToInt(address) & mask) >>> 0) === ((ipv4ToInt(iface.address) & mask) >>> 0)
}

/**
 * The interfaces that are up now: those holding one of `addresses` when given (loopback
 * included, for tests), otherwise every non-internal IPv4 interface.
 */
export function lanInterfaces (addresses?: readonly string[]): LanInterface[] {
  const found: LanInterface[] = []
  for (const [name, infos] of Object.entries(networkInterfaces())) {
    for (const info of infos ?? []) {
      if (info.family !== 'IPv4') continue
      if (addresses === undefined ? info.internal : !addresses.includes(info.address)) continue
      const mask = ipv4ToInt(info.netmask)
      const broadcast = intToIpv4(((ipv4ToInt(info.address) & mask) | (~mask >>> 0)) >>> 0)
      found.push({ name, address: info.address, netmask: info.netmask, broadcast })
    }
  }
  return found
}
