// Errors of the mesh simulator's inputs (STYLE.md §4): a topology or events file that
// cannot be read or parsed. Each names the file and line, so the CLI's one line is enough.

import { PeernetError } from '../../core/errors.ts'

/** A topology that cannot be built: unknown kind, unreadable or malformed file, bad size. */
export class TopologyError extends PeernetError { override name = 'TopologyError' }
/** An events file that cannot be read, or a line of it that does not parse. */
export class EventsFileError extends PeernetError { override name = 'EventsFileError' }
