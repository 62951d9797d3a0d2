// Whether this node reaches the Internet by itself, for `meshGateway: 'auto'`: it has a
// public IPv4 or global IPv6 address on an interface that is up. A node behind a home
// router's NAT has none and does not call itself a gateway by this test; set
// `meshGateway: 'on'` on such a node to offer its uplink to the mesh.

import { networkInterfaces } from 'node:os'
import { BlockList } from 'node:net'

const NOT_PUBLIC = new BlockList()
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 3]] as const) {
  NOT_PUBLIC.addSubnet(net, bits, 'ipv4')
}

export function isPublicAddress (address: string, family: 'IPv4' | 'IPv6'): boolean {
  if (family === 'IPv4') return !NOT_PUBLIC.check(address, 'ipv4')
  // Global unicast IPv6 is 2000::/3.
  return /^[23][0-9a-f]{0,3}:/i.test(address)
}

export function hasPublicAddress (): boolean {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (!a.internal && (a.family === 'IPv4' || a.family === 'IPv6') && isPublicAddress(a.address, a.family)) return true
    }
  }
  return false
}
