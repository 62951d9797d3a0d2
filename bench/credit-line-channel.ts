// How many changes per second one trust line commits through a pair of LineChannels in
// memory (signatures, canonical encoding and rule checks included; no disk, no network),
// when payments arrive faster than round trips: each payment is a hold proposed by the
// payer's side and, once committed, a settle proposed by the payee's side (issue 6's
// 1,000 payments/s on one route = 2,000 line updates/s per line).
//
//   node bench/credit-line-channel.ts [--payments N] [--per-rtt K,K,...]
//
// `--per-rtt K`: K payments arrive per round trip (the pipe delivers everything in flight
// once per round), so the channel batches about K changes per proposal. Holds beyond the
// line's MAX_HOLDS (512) pending at once are refused and counted apart (at K = 100 the
// settles lag the holds by a few rounds and the line fills up). Not registered in
// bench/run.ts (a CPU micro-benchmark of the sans-IO core, seconds long).

import { createHash, randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { generateIdentity } from '../src/core/identity.ts'
import { LineChannel, decodeLineMessage } from '../src/apps/credit/line-channel.ts'
import type { LineOutput } from '../src/apps/credit/line-channel.ts'
import type { Side } from '../src/apps/credit/line.ts'

interface Result { perRtt: number, payments: number, refused: number, seconds: number, cpuSeconds: number, changesPerSecond: number, paymentsPerSecond: number, proposals: number }

function run (payments: number, perRtt: number): Result {
  const dPayer = generateIdentity()
  const dPayee = generateIdentity()
  const payer = { account: new Uint8Array(randomBytes(32)), device: dPayer.publicKey }
  const payee = { account: new Uint8Array(randomBytes(32)), device: dPayee.publicKey }
  const now = 1_800_000_000_000
  const x = LineChannel.open({ self: payer, peer: payee, unit: 'USD', signer: dPayer })
  let y: LineChannel | null = null
  const wire: Array<{ toPayee: boolean, bytes: Uint8Array }> = []
  const fulfillments = new Map<string, Uint8Array>()
  let proposals = 0
  let refused = 0
  const act = (fromPayer: boolean, out: LineOutput[]): void => {
    for (const o of out) {
      if (o.do === 'send') {
        wire.push({ toPayee: fromPayer, bytes: o.bytes })
        if (o.message.type === 'propose') proposals++
      } else if (o.do === 'committed' && !fromPayer) {
        // The payee settles every hold it sees committed (the receiver's payment engine).
        for (const c of o.commit.changes) {
          if (c.kind !== 'hold' || y === null) continue
          const f = fulfillments.get(Buffer.from(c.hold.condition).toString('hex')) as Uint8Array
          act(false, y.enqueue({ kind: 'settle', id: c.hold.id, fulfillment: f }, { fulfill: f }, now))
        }
      } else if (o.do === 'refused') {
        // Only a hold over the line's MAX_HOLDS pending holds is refused here: the payer's engine would reject that payment.
        if (o.change.kind !== 'hold' || !/pending holds/.test(o.reason)) throw new Error(`refused: ${o.reason}`)
        refused++
      }
    }
  }
  const deliverAll = (): void => {
    const batch = wire.splice(0, wire.length)
    for (const w of batch) {
      const m = decodeLineMessage(w.bytes)
      if (w.toPayee) {
        y ??= LineChannel.fromOpen(m, { self: payee, peer: payer, signer: dPayee })
        act(false, y.receive(m, now))
      } else {
        act(true, x.receive(m, now))
      }
    }
  }
  const sx: Side = x.side
  // The payee extends enough credit for every payment.
  act(true, x.enqueue({ kind: 'limit', side: sx, limit: 0n }, null, now))
  while (wire.length > 0) deliverAll()
  act(false, (y as unknown as LineChannel).enqueue({ kind: 'limit', side: sx === 'a' ? 'b' : 'a', limit: BigInt(payments) * 1_000n }, null, now))
  while (wire.length > 0) deliverAll()
  const start = process.hrtime.bigint()
  const cpu = process.cpuUsage()
  let sent = 0
  while (sent < payments || wire.length > 0) {
    for (let i = 0; i < perRtt && sent < payments; i++, sent++) {
      const f = new Uint8Array(randomBytes(32))
      const condition = new Uint8Array(createHash('sha256').update(f).digest())
      fulfillments.set(Buffer.from(condition).toString('hex'), f)
      act(true, x.enqueue({ kind: 'hold', hold: { id: new Uint8Array(randomBytes(16)), payer: sx, amount: 1_000n, condition, expiresAt: now + 30_000 } }, { ilp: new Uint8Array(randomBytes(200)) }, now))
    }
    deliverAll()
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const used = process.cpuUsage(cpu)
  const cpuSeconds = (used.user + used.system) / 1e6
  const state = x.state
  if (state.holds.length !== 0 || (y as unknown as LineChannel).state.seq !== state.seq) throw new Error('did not settle every payment on both sides')
  // Two committed line changes per payment: its hold and its settle.
  const done = payments - refused
  return { perRtt, payments: done, refused, seconds, cpuSeconds, changesPerSecond: (2 * done) / seconds, paymentsPerSecond: done / seconds, proposals }
}

const { values } = parseArgs({ options: { payments: { type: 'string', default: '20000' }, 'per-rtt': { type: 'string', default: '1,10,50,100' } } })
const payments = Number(values.payments)
// On a shared machine wall-clock time includes other processes' turns; the CPU time of
// this (single-threaded) process is the steadier measure of what the core costs.
console.log('| payments per round trip | payments done | refused (line full) | wall s | CPU s | line changes/s (wall) | payments/s (wall) | payments/s (CPU) | proposals |')
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
for (const k of values['per-rtt'].split(',').map(Number)) {
  const r = run(k === 1 ? Math.min(payments, 2_000) : payments, k)
  console.log(`| ${r.perRtt} | ${r.payments} | ${r.refused} | ${r.seconds.toFixed(2)} | ${r.cpuSeconds.toFixed(2)} | ${Math.round(r.changesPerSecond)} | ${Math.round(r.paymentsPerSecond)} | ${Math.round(r.payments / r.cpuSeconds)} | ${r.proposals} |`)
}
