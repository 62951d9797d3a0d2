// Named errors (STYLE.md §4): one class per condition, told apart by `.name`, each
// carrying the user-facing sentence and, where there is one, what to do next.

export interface PeernetErrorOptions {
  /** What the user should do next, shown after the message on the same line. */
  hint?: string
  cause?: unknown
}

export class PeernetError extends Error {
  override name = 'PeernetError'
  readonly hint: string | undefined

  constructor (message: string, options: PeernetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.hint = options.hint
  }

  /** One line for a terminal: the message and the hint. */
  toLine (): string {
    const line = this.hint === undefined ? this.message : `${this.message} — ${this.hint}`
    return line.replace(/\s*\n\s*/g, ' ').trim()
  }
}

/** Bad command-line usage: unknown flag, missing argument. */
export class UsageError extends PeernetError { override name = 'UsageError' }
/** The config file is unreadable, not JSON, or has a wrong field. */
export class ConfigError extends PeernetError { override name = 'ConfigError' }
/** The identity key file is unreadable, corrupt, or too open. */
export class IdentityError extends PeernetError { override name = 'IdentityError' }
/** The SQLite store cannot be opened or migrated. */
export class StoreError extends PeernetError { override name = 'StoreError' }
/** Bytes that are not canonical CBOR, or a value that cannot be encoded. */
export class EncodingError extends PeernetError { override name = 'EncodingError' }
/** A signature that does not verify. */
export class SignatureError extends PeernetError { override name = 'SignatureError' }
/** A string that is not a valid multiaddr. */
export class InvalidMultiaddrError extends PeernetError { override name = 'InvalidMultiaddrError' }
/** A string that is neither a peer id nor a multiaddr, or a peer we know no address of. */
export class PeerNotFoundError extends PeernetError { override name = 'PeerNotFoundError' }
/** A dial or ping that failed or timed out. */
export class DialError extends PeernetError { override name = 'DialError' }
/** A listen address (libp2p or API) already taken by another process. */
export class AddressInUseError extends PeernetError { override name = 'AddressInUseError' }
/** No daemon runs on this home. */
export class DaemonNotRunningError extends PeernetError { override name = 'DaemonNotRunningError' }
/** A daemon already runs on this home. */
export class DaemonRunningError extends PeernetError { override name = 'DaemonRunningError' }
/** The API refused the bearer token. */
export class UnauthorizedError extends PeernetError { override name = 'UnauthorizedError' }
/** A request body the API could not accept. */
export class BadRequestError extends PeernetError { override name = 'BadRequestError' }
