// The `peernet` command line. Each command talks to the running daemon through the
// local API (except `init` and `daemon`). Errors are one line on stderr and a non-zero
// exit: 2 for usage mistakes, 1 for everything else.

import { PeernetError, UsageError } from '../core/errors.ts'
import { PEERNET_VERSION } from '../host/protocols.ts'
import { commandHelp, parseCommandArgs } from './command.ts'
import type { Command, CommandContext } from './command.ts'
import { initCommand } from './commands/init.ts'
import { daemonCommand } from './commands/daemon.ts'
import { idCommand } from './commands/id.ts'
import { statusCommand } from './commands/status.ts'
import { peersCommand } from './commands/peers.ts'
import { connectCommand } from './commands/connect.ts'
import { pingCommand } from './commands/ping.ts'
import { stopCommand } from './commands/stop.ts'
import { eventsCommand } from './commands/events.ts'
import { netCreateCommand, netDeleteCommand, netInfoCommand, netInviteCommand, netJoinCommand, netLeaveCommand, netLogCommand, netLsCommand, netMembersCommand, netQuotaCommand, netRekeyCommand, netRemoveCommand, netRoleCommand, netVerifyCommand } from './commands/net.ts'
import { chatReadCommand, chatSendCommand } from './commands/chat.ts'
import { SOCIAL_COMMANDS } from './commands/social.ts'
import { CREDIT_COMMANDS } from './commands/credit.ts'
import { socialDmCommand, socialInboxCommand } from './commands/social-dm.ts'
import { accountDevicesCommand, accountLinkDeviceCommand, accountRevokeDeviceCommand } from './commands/account.ts'
import { simCreditCommand, simMeshCommand, simRendezvousCommand } from './commands/sim.ts'
import { meshInboxCommand, meshNeighboursCommand, meshOutboxCommand, meshRoutesCommand, meshSendCommand } from './commands/mesh.ts'

const COMMANDS: readonly Command[] = [
  initCommand, daemonCommand, idCommand, statusCommand, peersCommand, connectCommand, pingCommand, eventsCommand, stopCommand,
  netCreateCommand, netInviteCommand, netJoinCommand, netLsCommand, netInfoCommand, netMembersCommand, netLeaveCommand, netLogCommand, netVerifyCommand, netDeleteCommand, netQuotaCommand, netRemoveCommand, netRekeyCommand, netRoleCommand,
  chatSendCommand, chatReadCommand, ...SOCIAL_COMMANDS, socialDmCommand, socialInboxCommand, ...CREDIT_COMMANDS, accountDevicesCommand, accountLinkDeviceCommand, accountRevokeDeviceCommand,
  meshNeighboursCommand, meshRoutesCommand, meshSendCommand, meshInboxCommand, meshOutboxCommand, simRendezvousCommand, simMeshCommand, simCreditCommand
]

/** Command groups (`net`, `chat`, `social`, `account`) and their subcommands. */
function groupHelp (group: string): string | undefined {
  const subs = COMMANDS.filter((c) => c.name.startsWith(`${group} `))
  if (subs.length === 0) return undefined
  const width = Math.max(...subs.map((c) => c.name.length))
  return `Usage: peernet ${group} <command> [options]

Commands:
${subs.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Every command takes --home DIR and --help; read commands take --json.
`
}

function mainHelp (): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return `Peernet ${PEERNET_VERSION} — one node, a million networks.

Usage: peernet <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Every command takes --home DIR (default: $PEERNET_HOME, else ~/.peernet) and --help;
read commands take --json. Start with: peernet daemon
`
}

const out = (line: string): void => { process.stdout.write(line + '\n') }

export async function main (argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined
    process.stdout.write(topic === undefined ? mainHelp() : commandHelp(topic))
    return name === undefined ? 2 : 0
  }
  if (name === '--version' || name === '-v') {
    out(PEERNET_VERSION)
    return 0
  }
  let cmd = COMMANDS.find((c) => c.name === name)
  let args = rest
  if (cmd === undefined) {
    const group = groupHelp(name)
    if (group === undefined) throw new UsageError(`unknown command "${name}"`, { hint: 'see `peernet --help` for the commands' })
    const [sub, ...subArgs] = rest
    if (sub === undefined || sub === '--help' || sub === '-h') {
      process.stdout.write(group)
      return sub === undefined ? 2 : 0
    }
    cmd = COMMANDS.find((c) => c.name === `${name} ${sub}`)
    if (cmd === undefined) throw new UsageError(`unknown command "${name} ${sub}"`, { hint: `see \`peernet ${name} --help\`` })
    args = subArgs
  }
  const parsed = parseCommandArgs(cmd, args)
  if (parsed.help) {
    process.stdout.write(commandHelp(cmd))
    return 0
  }
  const ctx: CommandContext = {
    ...parsed.ctx,
    out,
    print: (value, human) => {
      if (parsed.ctx.json) out(JSON.stringify(value, null, 2))
      else for (const line of human()) out(line)
    }
  }
  await cmd.run(ctx)
  return 0
}

function report (err: unknown): number {
  if (err instanceof PeernetError) {
    process.stderr.write(`peernet: ${err.toLine()}\n`)
    return err instanceof UsageError ? 2 : 1
  }
  const message = err instanceof Error ? err.message : String(err)
  process.stderr.write(`peernet: unexpected error: ${message} — run with --log-level debug and report it if it persists\n`)
  if (process.env.PEERNET_DEBUG !== undefined && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`)
  return 1
}

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0) // output piped into `head` and closed early
})

main(process.argv.slice(2)).then(
  (code) => { if (code !== 0) process.exitCode = code },
  (err: unknown) => { process.exitCode = report(err) }
)
