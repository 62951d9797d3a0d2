// Structured logs: one JSON object per line on stderr, never on stdout, so `--json`
// output stays machine-readable. Levels filter at the source.

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = typeof LOG_LEVELS[number]

export type LogFields = Record<string, unknown>

export interface Logger {
  readonly level: LogLevel
  error: (msg: string, fields?: LogFields) => void
  warn: (msg: string, fields?: LogFields) => void
  info: (msg: string, fields?: LogFields) => void
  debug: (msg: string, fields?: LogFields) => void
  child: (component: string) => Logger
}

export interface LoggerOptions {
  level: LogLevel
  component?: string
  /** Where lines go; stderr by default. */
  write?: (line: string) => void
}

export function isLogLevel (value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value)
}

export function createLogger (options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string) => { process.stderr.write(line) })
  const threshold = LOG_LEVELS.indexOf(options.level)
  const make = (component: string | undefined): Logger => {
    const at = (level: LogLevel) => (msg: string, fields: LogFields = {}): void => {
      if (LOG_LEVELS.indexOf(level) > threshold) return
      // No prototype: a field named "__proto__" is kept as a field, not taken as one.
      const record: LogFields = Object.assign(Object.create(null) as LogFields, { t: new Date().toISOString(), level, ...(component === undefined ? {} : { component }), msg })
      for (const [k, v] of Object.entries(fields)) {
        // A field never overwrites the record's own keys; it is kept beside them.
        record[RESERVED_KEYS.has(k) ? `field.${k}` : k] = v
      }
      write(serialise(record) + '\n')
    }
    return {
      level: options.level,
      error: at('error'),
      warn: at('warn'),
      info: at('info'),
      debug: at('debug'),
      child: (name) => make(component === undefined ? name : `${component}.${name}`)
    }
  }
  return make(options.component)
}

const RESERVED_KEYS = new Set(['t', 'level', 'component', 'msg'])

function serialise (record: LogFields): string {
  const seen = new WeakSet<object>()
  return JSON.stringify(record, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString()
    if (v instanceof Error) return v.message
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[circular]'
      seen.add(v)
    }
    return v
  })
}

/** A logger that drops everything (library use without logs). */
export const silentLogger: Logger = createLogger({ level: 'error', write: () => {} })
