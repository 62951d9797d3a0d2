// Named errors of the credit app (STYLE.md §4): one class per condition, each with a hint
// that says what to do next.

import { PeernetError } from '../../core/errors.ts'

/** An amount that is not a decimal number of units, negative, or too large. */
export class InvalidAmountError extends PeernetError { override name = 'InvalidAmountError' }
/**
 * A trust-line change that breaks the line's rules: over the credit limit, a hold from
 * the wrong side, a wrong fulfillment, an expiry in the past. Carries the reason.
 */
export class LineRuleError extends PeernetError { override name = 'LineRuleError' }
/** A line state or update that is malformed, forged (a signature fails) or replayed (an old sequence number). */
export class InvalidLineStateError extends PeernetError { override name = 'InvalidLineStateError' }
/** A payment that did not go through: no balance moved. Carries the ILP error code (F02 unreachable, T04 insufficient liquidity, R00 expired, …). */
export class PaymentFailedError extends PeernetError {
  override name = 'PaymentFailedError'
  readonly code: string
  constructor (code: string, message: string, options: { hint?: string } = {}) {
    super(`${message} (ILP ${code})`, options)
    this.code = code
  }
}
/** A line update the other side has not countersigned within the wait: it stays queued and goes through once the peer answers. */
export class LinePendingError extends PeernetError { override name = 'LinePendingError' }
/** An account given to a credit command that names no member of a network this node is in (or several). */
export class UnknownCreditAccountError extends PeernetError { override name = 'UnknownCreditAccountError' }
/** ILP packet bytes that are not a well-formed ILPv4 prepare, fulfill or reject (RFC 0027, OER per RFC 0030). */
export class InvalidIlpPacketError extends PeernetError { override name = 'InvalidIlpPacketError' }
/** A payment asked of the engine that cannot be started as given (no path, a malformed condition, a path that does not end at the payee). */
export class InvalidPaymentError extends PeernetError { override name = 'InvalidPaymentError' }
