// What every CLI command is: a name, its help, its own flags, and a run function. The
// shared flags (--home, --help, and --json on read commands) are added here once.

import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { UsageError } from '../core/errors.ts'
import { resolveHome } from '../core/home.ts'

type Options = NonNullable<ParseArgsConfig['options']>

export interface CommandContext {
  home: string
  json: boolean
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
  out: (line: string) => void
  /** Prints JSON with --json, the human lines otherwise. */
  print: (value: unknown, human: () => string[]) => void
}

export interface Command {
  name: string
  summary: string
  /** e.g. 'connect <multiaddr>' */
  usage: string
  /** Longer help: what it does, flags, examples. */
  help: string
  options: Options
  /** Read commands take --json. */
  read: boolean
  positionals: { min: number, max: number }
  run: (ctx: CommandContext) => Promise<void>
}

export const COMMON_OPTIONS: Options = {
  home: { type: 'string' },
  help: { type: 'boolean', short: 'h' }
}

export const COMMON_HELP = `  --home DIR         the node's home (default: $PEERNET_HOME, else ~/.peernet)
  -h, --help         show this help`

export function commandHelp (cmd: Command): string {
  return `Usage: peernet ${cmd.usage}

${cmd.summary}
${cmd.help === '' ? '' : `\n${cmd.help}\n`}
Options:
${cmd.read ? '  --json             print JSON only (for scripts)\n' : ''}${COMMON_HELP}
`
}

export interface ParsedCommand {
  help: boolean
  ctx: Omit<CommandContext, 'out' | 'print'>
}

export function parseCommandArgs (cmd: Command, args: string[]): ParsedCommand {
  const options: Options = { ...COMMON_OPTIONS, ...(cmd.read ? { json: { type: 'boolean' } } : {}), ...cmd.options }
  let parsed
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true, allowNegative: true })
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/\. To specify a positional.*$/s, '')}`, { hint: `see \`peernet ${cmd.name} --help\`` })
  }
  const values = parsed.values as CommandContext['values']
  if (values.help === true) return { help: true, ctx: { home: '', json: false, values, positionals: [] } }
  const n = parsed.positionals.length
  if (n < cmd.positionals.min || n > cmd.positionals.max) {
    throw new UsageError(n < cmd.positionals.min ? `missing argument: peernet ${cmd.usage}` : `too many arguments: peernet ${cmd.usage}`, {
      hint: `see \`peernet ${cmd.name} --help\``
    })
  }
  const home = resolveHome(typeof values.home === 'string' ? values.home : undefined)
  return { help: false, ctx: { home, json: values.json === true, values, positionals: parsed.positionals } }
}

/** A whole-number flag in [1, max], or `fallback` when absent. */
export function positiveIntFlag (ctx: CommandContext, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = ctx.values[name]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} must be a whole number from 1 to ${max}, got "${String(raw)}"`)
  return n
}
