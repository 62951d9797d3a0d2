// Throughput of a libp2p stream over the mesh transport: two in-process Peernet nodes
// whose only path is the lossy in-memory datagram service of the tests (seeded loss and
// random delay, which reorders), one protocol stream moving `mib` MiB one way. It shows
// what the stream channel (stream-channel.ts: RACK, AIMD, flow control) makes of loss
// and reordering under the real stack (Noise, yamux), not the speed of any radio.

import { randomBytes } from 'node:crypto'
import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { Cluster } from '../test/host/cluster.ts'
import { LossyDatagramHub } from '../test/mesh/transport/lossy-datagrams.ts'
import type { Peernet } from '../src/node.ts'
import { meshAddress, meshTransport } from '../src/mesh/transport/mesh-transport.ts'

export interface MeshStreamOptions {
  rounds: number
  mib: number
}

export const DEFAULT_MESH_STREAM_OPTIONS: MeshStreamOptions = { rounds: 3, mib: 4 }

/** Loss and one-way delay (base + up to jitter, at random) of each setting. */
export const MESH_STREAM_SETTINGS = [
  { loss: 0, baseDelayMs: 2, jitterMs: 0 },
  { loss: 0, baseDelayMs: 2, jitterMs: 8 },
  { loss: 0.01, baseDelayMs: 2, jitterMs: 8 },
  { loss: 0.05, baseDelayMs: 2, jitterMs: 8 }
] as const

export interface MeshStreamSample { seconds: number, datagrams: number, dropped: number }

export interface MeshStreamResult {
  parameters: MeshStreamOptions & { mtu: number }
  settings: Array<{ loss: number, baseDelayMs: number, jitterMs: number, samples: MeshStreamSample[], medianMiBps: number }>
}

const SINK = '/peernet-bench/mesh-sink/1.0.0'
const MTU = 1000
const TRANSFER_TIMEOUT_MS = 300_000

async function transfer (setting: typeof MESH_STREAM_SETTINGS[number], mib: number, seed: number): Promise<MeshStreamSample> {
  const hub = new LossyDatagramHub({ ...setting, duplicate: 0, mtu: MTU, seed })
  const cluster = new Cluster()
  try {
    const node = async (): Promise<Peernet> => {
      const endpoint = hub.endpoint()
      const n = await cluster.start({ listen: ['/peernet-mesh'] }, cluster.home(), { transports: [meshTransport(endpoint)] })
      endpoint.bind(n.identity.publicKey)
      return n
    }
    const a = await node()
    const b = await node()
    await b.host.libp2p.handle(SINK, async (stream: Stream) => {
      for await (const _ of stream) { /* drain */ }
      stream.send(new Uint8Array([1]))
      await stream.close({ signal: AbortSignal.timeout(TRANSFER_TIMEOUT_MS) })
    })
    const signal = AbortSignal.timeout(TRANSFER_TIMEOUT_MS)
    await a.host.connect(meshAddress(b.peerId).toString(), { signal })
    const data = randomBytes(mib * 1024 * 1024)
    const sentBefore = hub.sent
    const droppedBefore = hub.dropped
    const started = performance.now()
    const stream = await a.host.libp2p.dialProtocol(peerIdFromString(b.peerId), SINK, { signal })
    for (let at = 0; at < data.byteLength; at += 64 * 1024) {
      if (!stream.send(data.subarray(at, at + 64 * 1024))) await stream.onDrain({ signal })
    }
    await stream.close({ signal })
    for await (const _ of stream) { /* the sink's one-byte answer: everything arrived */ }
    return { seconds: (performance.now() - started) / 1000, datagrams: hub.sent - sentBefore, dropped: hub.dropped - droppedBefore }
  } finally {
    await cluster.close()
    hub.close()
  }
}

export async function measureMeshStream (options: MeshStreamOptions, progress: (line: string) => void): Promise<MeshStreamResult> {
  const settings: MeshStreamResult['settings'] = MESH_STREAM_SETTINGS.map((s) => ({ ...s, samples: [], medianMiBps: 0 }))
  for (let round = 0; round < options.rounds; round++) {
    for (const [i, setting] of MESH_STREAM_SETTINGS.entries()) {
      const sample = await transfer(setting, options.mib, round * 16 + i + 1)
      settings[i]?.samples.push(sample)
      progress(`mesh-stream: round ${round + 1}, loss ${setting.loss * 100}% jitter ${setting.jitterMs} ms: ${options.mib} MiB in ${sample.seconds.toFixed(2)} s`)
    }
  }
  for (const s of settings) {
    const rates = s.samples.map((x) => options.mib / x.seconds).sort((a, b) => a - b)
    s.medianMiBps = rates[Math.floor(rates.length / 2)] ?? 0
  }
  return { parameters: { ...options, mtu: MTU }, settings }
}

export function meshStreamTable (r: MeshStreamResult): string {
  const lines = [
    `**A libp2p stream over the mesh transport** — ${r.parameters.mib} MiB one way per transfer, two in-process nodes joined only by a lossy in-memory datagram service (${r.parameters.mtu}-byte datagrams), ${r.parameters.rounds} rounds.`,
    '',
    '| Loss | One-way delay | Median MiB/s | Range s | Datagrams (one transfer) |',
    '|---:|---:|---:|---:|---:|'
  ]
  for (const s of r.settings) {
    const secs = s.samples.map((x) => x.seconds)
    lines.push(`| ${(s.loss * 100).toFixed(0)} % | ${s.baseDelayMs}–${s.baseDelayMs + s.jitterMs} ms | ${s.medianMiBps.toFixed(2)} | ${Math.min(...secs).toFixed(2)}–${Math.max(...secs).toFixed(2)} | ${s.samples[0]?.datagrams ?? 0} |`)
  }
  return lines.join('\n')
}
