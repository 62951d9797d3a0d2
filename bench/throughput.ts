// Stream throughput on loopback, three setups measured in the same run, round by round
// and interleaved, so a noisy shared machine slows them all alike:
//
//   raw-socket   a node:net socket pair: what this machine can do at all
//   bare-libp2p  two libp2p nodes from libp2p's own packages (TCP, Noise, Yamux)
//   peernet      two nodes from createPeernet()
//
// Each transfer writes `mib` MiB in `chunkKib` KiB pieces to the sink protocol and
// stops the clock on the sink's byte-count reply. Opening the socket or stream is not
// timed; the libp2p connections are made once, before the warm-up round.

import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import type { Server, Socket } from 'node:net'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createPeernet } from '../src/node.ts'
import type { Peernet } from '../src/node.ts'
import { createBareLibp2p, LOOPBACK_LISTEN } from './bare-libp2p.ts'
import { SINK_PROTOCOL, serveSinkSocket, serveSinkStream, writeToSinkSocket, writeToSinkStream } from './sink-protocol.ts'
import { median } from './statistics.ts'
import { BenchmarkError } from './errors.ts'

export const THROUGHPUT_SETUPS = ['raw-socket', 'bare-libp2p', 'peernet'] as const
export type ThroughputSetup = typeof THROUGHPUT_SETUPS[number]

export const SETUP_LABELS: Record<ThroughputSetup, string> = {
  'raw-socket': 'raw node:net socket pair',
  'bare-libp2p': 'bare libp2p (TCP + Noise + Yamux)',
  peernet: 'Peernet (createPeernet)'
}

export interface ThroughputOptions {
  /** Measured rounds; each runs every setup once. */
  rounds: number
  /** MiB per measured transfer. */
  mib: number
  /** MiB per warm-up transfer (not recorded). */
  warmupMib: number
  chunkKib: number
}

export const DEFAULT_THROUGHPUT_OPTIONS: Readonly<ThroughputOptions> = Object.freeze({
  rounds: 9,
  mib: 256,
  warmupMib: 64,
  chunkKib: 64
})

export interface ThroughputResult {
  parameters: ThroughputOptions & { bytesPerTransfer: number, unit: string, ratioMethod: string }
  /** Per setup, MB/s (10^6 bytes per second) of each measured round, in round order. */
  samples: Record<ThroughputSetup, number[]>
  /** The order the setups ran in, per round (rotated so no setup always goes first). */
  order: ThroughputSetup[][]
  medians: Record<ThroughputSetup, number>
  ratios: {
    /** Per-round peernet / bare-libp2p, and their median. */
    peernetToBare: { samples: number[], median: number }
    bareToRaw: { samples: number[], median: number }
    peernetToRaw: { samples: number[], median: number }
    /** Ratio of the medians, for reference. */
    peernetToBareOfMedians: number
  }
  /** 1 - median(peernet / bare-libp2p): Peernet's cost over bare libp2p. Goal: <= 0.05. */
  peernetOverhead: number
}

const SETUP_TIMEOUT_MS = 30_000
/** A transfer may take at most this long per MiB (i.e. slower than 1 MiB/s fails), and at least a minute. */
const TRANSFER_MS_PER_MIB = 1_000
const MIN_TRANSFER_TIMEOUT_MS = 60_000

/** A connected writer and sink, ready to run transfers between them. */
interface TransferPair {
  /** Sends `bytes` and returns the milliseconds the data phase took. */
  transfer: (bytes: number, chunk: Uint8Array, signal: AbortSignal) => Promise<number>
  close: () => Promise<void>
}

export async function measureThroughput (options: ThroughputOptions, progress: (line: string) => void): Promise<ThroughputResult> {
  const chunk = new Uint8Array(options.chunkKib * 1024).fill(0xa5)
  const bytes = options.mib * 1024 * 1024
  const pairs = new Map<ThroughputSetup, TransferPair>()
  try {
    progress('throughput: starting the three pairs')
    pairs.set('raw-socket', await rawSocketPair())
    pairs.set('bare-libp2p', await bareLibp2pPair())
    pairs.set('peernet', await peernetPair())

    const run = async (setup: ThroughputSetup, size: number): Promise<number> => {
      const pair = pairs.get(setup)
      if (pair === undefined) throw new BenchmarkError(`no pair for ${setup}`)
      const timeoutMs = Math.max(MIN_TRANSFER_TIMEOUT_MS, (size / 1024 / 1024) * TRANSFER_MS_PER_MIB)
      const ms = await pair.transfer(size, chunk, AbortSignal.timeout(timeoutMs))
      return size / 1e6 / (ms / 1000)
    }

    for (const setup of THROUGHPUT_SETUPS) {
      progress(`throughput warm-up: ${setup}, ${options.warmupMib} MiB`)
      await run(setup, options.warmupMib * 1024 * 1024)
    }

    const samples: Record<ThroughputSetup, number[]> = { 'raw-socket': [], 'bare-libp2p': [], peernet: [] }
    const order: ThroughputSetup[][] = []
    for (let round = 0; round < options.rounds; round++) {
      const roundOrder = THROUGHPUT_SETUPS.map((_, i) => THROUGHPUT_SETUPS[(i + round) % THROUGHPUT_SETUPS.length] as ThroughputSetup)
      order.push(roundOrder)
      for (const setup of roundOrder) {
        const mbps = await run(setup, bytes)
        samples[setup].push(mbps)
        progress(`throughput round ${round + 1}/${options.rounds}: ${setup.padEnd(11)} ${mbps.toFixed(1)} MB/s`)
      }
    }

    const paired = (a: ThroughputSetup, b: ThroughputSetup): { samples: number[], median: number } => {
      const ratios = samples[a].map((v, i) => v / (samples[b][i] ?? NaN))
      return { samples: ratios, median: median(ratios) }
    }
    const medians = {
      'raw-socket': median(samples['raw-socket']),
      'bare-libp2p': median(samples['bare-libp2p']),
      peernet: median(samples.peernet)
    }
    const peernetToBare = paired('peernet', 'bare-libp2p')
    return {
      parameters: {
        ...options,
        bytesPerTransfer: bytes,
        unit: 'MB/s (10^6 bytes per second)',
        ratioMethod: 'median over rounds of the per-round ratio (setups interleaved within each round)'
      },
      samples,
      order,
      medians,
      ratios: {
        peernetToBare,
        bareToRaw: paired('bare-libp2p', 'raw-socket'),
        peernetToRaw: paired('peernet', 'raw-socket'),
        peernetToBareOfMedians: medians.peernet / medians['bare-libp2p']
      },
      peernetOverhead: 1 - peernetToBare.median
    }
  } finally {
    progress('throughput: stopping the pairs')
    const results = await Promise.allSettled([...pairs.values()].map(async (p) => { await p.close() }))
    for (const r of results) if (r.status === 'rejected') progress(`throughput: a pair failed to stop: ${String(r.reason)}`)
  }
}

// ---- the three pairs ---------------------------------------------------------------

async function rawSocketPair (): Promise<TransferPair> {
  const server: Server = createServer({ allowHalfOpen: true }, serveSinkSocket)
  const sockets = new Set<Socket>()
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening', { signal: AbortSignal.timeout(SETUP_TIMEOUT_MS) })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new BenchmarkError('the raw socket server has no TCP address')
  return {
    transfer: async (bytes, chunk, signal) => {
      const socket = connect({ host: '127.0.0.1', port: address.port })
      try {
        await once(socket, 'connect', { signal })
        const start = performance.now()
        await writeToSinkSocket(socket, bytes, chunk, signal)
        return performance.now() - start
      } finally {
        socket.destroy()
      }
    },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    }
  }
}

async function bareLibp2pPair (): Promise<TransferPair> {
  const nodes: Libp2p[] = []
  try {
    nodes.push(await createBareLibp2p(), await createBareLibp2p())
  } catch (err) {
    await Promise.allSettled(nodes.map(async (n) => { await n.stop() }))
    throw err
  }
  const [writer, sink] = nodes as [Libp2p, Libp2p]
  return await libp2pPair(writer, sink, async () => {
    await Promise.allSettled(nodes.map(async (n) => { await n.stop() }))
  })
}

async function peernetPair (): Promise<TransferPair> {
  const homes: string[] = []
  const nodes: Peernet[] = []
  const close = async (): Promise<void> => {
    await Promise.allSettled(nodes.map(async (n) => { await n.stop() }))
    await Promise.allSettled(homes.map(async (h) => { await rm(h, { recursive: true, force: true }) }))
  }
  try {
    for (let i = 0; i < 2; i++) {
      const home = await mkdtemp(join(tmpdir(), 'peernet-bench-'))
      homes.push(home)
      nodes.push(await createPeernet({ home, config: { listen: [LOOPBACK_LISTEN], mdns: false, meshUdp: false } }))
    }
  } catch (err) {
    await close()
    throw err
  }
  const [writer, sink] = nodes as [Peernet, Peernet]
  return await libp2pPair(writer.host.libp2p, sink.host.libp2p, close)
}

/** Registers the sink on `sink`, connects `writer` to it, and runs transfers over new streams. */
async function libp2pPair (writer: Libp2p, sink: Libp2p, stop: () => Promise<void>): Promise<TransferPair> {
  let target: Multiaddr
  try {
    await sink.handle(SINK_PROTOCOL, async (stream) => { await serveSinkStream(stream) })
    const address = sink.getMultiaddrs().find((a) => a.toString().startsWith('/ip4/127.0.0.1/tcp/'))
    if (address === undefined) throw new BenchmarkError(`the sink has no loopback TCP address: ${sink.getMultiaddrs().join(', ')}`)
    target = multiaddr(address.toString())
    await writer.dial(target, { signal: AbortSignal.timeout(SETUP_TIMEOUT_MS) })
  } catch (err) {
    await stop()
    throw err
  }
  return {
    transfer: async (bytes, chunk, signal) => {
      const stream = await writer.dialProtocol(target, SINK_PROTOCOL, { signal })
      const start = performance.now()
      await writeToSinkStream(stream, bytes, chunk, signal)
      return performance.now() - start
    },
    close: stop
  }
}
