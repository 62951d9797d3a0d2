// Idle control traffic, from the per-host nftables output counters (mesh-grid.ts): bytes
// each host sent on the router's UDP port while nothing else happened, per node per
// second, both as whole IP packets and as UDP payload, and everything else it sent.

import type { SentCounters } from './mesh-grid.ts'
import { UDP_HEADER_BYTES } from './mesh-grid.ts'
import { max } from './statistics.ts'

export interface IdleHost {
  host: string
  counters: SentCounters
}

export interface IdleFigures {
  seconds: number
  nodes: number
  perNode: {
    /** Router port, whole IP packets (IP and UDP headers included). */
    portBytesPerSecond: number
    /** Router port, UDP payload only (what the protocol itself put in the datagrams). */
    portPayloadBytesPerSecond: number
    portPacketsPerSecond: number
    /** Everything else sent on the links (for Peernet: libp2p — mDNS, DHT, identify, pings). */
    otherBytesPerSecond: number
    otherPacketsPerSecond: number
  }
  /** The busiest host's router-port IP bytes per second. */
  maxHostPortBytesPerSecond: number
  hosts: Array<{ host: string, portBytes: number, portPackets: number, otherBytes: number, otherPackets: number }>
}

export function summarizeIdle (hosts: IdleHost[], seconds: number): IdleFigures {
  const rows = hosts.map(({ host, counters: c }) => ({
    host,
    portBytes: c.portV4.bytes + c.portV6.bytes,
    portPackets: c.portV4.packets + c.portV6.packets,
    portPayload: c.portV4.bytes - c.portV4.packets * UDP_HEADER_BYTES.v4 + c.portV6.bytes - c.portV6.packets * UDP_HEADER_BYTES.v6,
    otherBytes: c.other.bytes,
    otherPackets: c.other.packets
  }))
  const sum = (f: (r: typeof rows[number]) => number): number => rows.reduce((s, r) => s + f(r), 0)
  const per = (total: number): number => total / rows.length / seconds
  return {
    seconds: Math.round(seconds * 10) / 10,
    nodes: rows.length,
    perNode: {
      portBytesPerSecond: per(sum((r) => r.portBytes)),
      portPayloadBytesPerSecond: per(sum((r) => r.portPayload)),
      portPacketsPerSecond: per(sum((r) => r.portPackets)),
      otherBytesPerSecond: per(sum((r) => r.otherBytes)),
      otherPacketsPerSecond: per(sum((r) => r.otherPackets))
    },
    maxHostPortBytesPerSecond: max(rows.map((r) => r.portBytes)) / seconds,
    hosts: rows.map(({ host, portBytes, portPackets, otherBytes, otherPackets }) => ({ host, portBytes, portPackets, otherBytes, otherPackets }))
  }
}
