// Named errors of the mesh.

import { PeernetError } from '../core/errors.ts'

export class MeshError extends PeernetError { override name = 'MeshError' }
/** A control packet, envelope or frame that does not parse. */
export class MalformedPacketError extends MeshError { override name = 'MalformedPacketError' }
/** The opened payload of an envelope does not parse, or a message is too big to send. */
export class MalformedPayloadError extends MeshError { override name = 'MalformedPayloadError' }
/** A peer id that names no Peernet node key. */
export class UnknownPeerError extends MeshError { override name = 'UnknownPeerError' }
/** The mesh is switched off on this node. */
export class MeshDisabledError extends MeshError { override name = 'MeshDisabledError' }
