// Named errors of the mesh (STYLE.md §4). Relays meet hostile or damaged bytes every day,
// so every decoder throws one of these and nothing else; callers drop the packet and go on.

import { PeernetError } from '../core/errors.ts'

/** Anything the mesh refuses: the base class callers catch. */
export class MeshError extends PeernetError { override name = 'MeshError' }
/** A link's medium misbehaved or was misused: an oversized frame on a stream, a bad option. */
export class MeshLinkError extends MeshError { override name = 'MeshLinkError' }
