// Errors of the credit simulator's inputs (STYLE.md §4): a CREDIT_LINKS file that cannot
// be read or parsed names the file and the line, so the CLI's one line is enough.

import { PeernetError } from '../../core/errors.ts'

/** A CREDIT_LINKS trace that cannot be read, or a line of it that does not parse. */
export class CreditLinksError extends PeernetError { override name = 'CreditLinksError' }
