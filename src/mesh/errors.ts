// Named errors of the mesh layer (STYLE.md §4).

import { PeernetError } from '../core/errors.ts'

/** Base of every mesh error. */
export class MeshError extends PeernetError { override name = 'MeshError' }
/** A stream datagram that is malformed (wrong version, truncated, bad lengths). */
export class MalformedSegmentError extends MeshError { override name = 'MalformedSegmentError' }
/** A mesh stream the remote end reset, or that was refused (no listener, unknown connection). */
export class MeshStreamResetError extends MeshError { override name = 'MeshStreamResetError' }
/** A mesh stream whose remote end stopped answering: connect, retransmission or idle timeout. */
export class MeshStreamTimeoutError extends MeshError { override name = 'MeshStreamTimeoutError' }
/** A node key the mesh has no route to, so no stream can be opened to it. */
export class MeshUnreachableError extends MeshError { override name = 'MeshUnreachableError' }
