// Named errors of the mesh.

import { PeernetError } from '../core/errors.ts'

export class MeshError extends PeernetError { override name = 'MeshError' }
/** A control packet, envelope or frame that does not parse. */
export class MalformedPacketError extends MeshError { override name = 'MalformedPacketError' }
/** A packet or envelope of a wire version this node does not read. */
export class UnsupportedVersionError extends MeshError { override name = 'UnsupportedVersionError' }
/** A packet or envelope over its size limit. */
export class OversizedPacketError extends MeshError { override name = 'OversizedPacketError' }
/** An envelope that does not open: tampered with, forged, or sealed to another node. */
export class EnvelopeOpenError extends MeshError { override name = 'EnvelopeOpenError' }
/** A stream channel's send buffer is full. */
export class ChannelBufferFullError extends MeshError { override name = 'ChannelBufferFullError' }
/** A stream channel that is closed. */
export class ChannelClosedError extends MeshError { override name = 'ChannelClosedError' }
/** The opened payload of an envelope does not parse, or a message is too big to send. */
export class MalformedPayloadError extends MeshError { override name = 'MalformedPayloadError' }
/** A peer id that names no Peernet node key. */
export class UnknownPeerError extends MeshError { override name = 'UnknownPeerError' }
/** The mesh is switched off on this node. */
export class MeshDisabledError extends MeshError { override name = 'MeshDisabledError' }
