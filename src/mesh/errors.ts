// Named errors of the mesh layer (STYLE.md §4): one class per condition, told apart by
// `.name`. Whoever adds a mesh error adds it here.

import { PeernetError } from '../core/errors.ts'

/** Anything the mesh layer refuses or cannot do. */
export class MeshError extends PeernetError { override name = 'MeshError' }
/** A control packet, envelope or frame whose bytes do not parse. */
export class MalformedPacketError extends MeshError { override name = 'MalformedPacketError' }
/** A packet that ends in the middle of a field or a TLV. */
export class TruncatedPacketError extends MalformedPacketError { override name = 'TruncatedPacketError' }
/** A packet or envelope longer than the format allows. */
export class OversizedPacketError extends MalformedPacketError { override name = 'OversizedPacketError' }
/** A packet or envelope in a wire format version this node does not speak. */
export class UnsupportedVersionError extends MeshError { override name = 'UnsupportedVersionError' }
/** An envelope that does not open: tampered with, forged, or sealed to another node. */
export class EnvelopeOpenError extends MeshError { override name = 'EnvelopeOpenError' }
/** The opened payload of an envelope does not parse, or a message is too big to send. */
export class MalformedPayloadError extends MeshError { override name = 'MalformedPayloadError' }
/** A peer id that names no Peernet node key. */
export class UnknownPeerError extends MeshError { override name = 'UnknownPeerError' }
/** The mesh is switched off on this node. */
export class MeshDisabledError extends MeshError { override name = 'MeshDisabledError' }
/** A link that cannot be opened or used. */
export class MeshLinkError extends MeshError { override name = 'MeshLinkError' }
/** A stream datagram that is malformed (wrong version, truncated, bad lengths). */
export class MalformedSegmentError extends MeshError { override name = 'MalformedSegmentError' }
/** A mesh stream the remote end reset, or that was refused (no listener, unknown connection). */
export class MeshStreamResetError extends MeshError { override name = 'MeshStreamResetError' }
/** A mesh stream whose remote end stopped answering: connect, retransmission or idle timeout. */
export class MeshStreamTimeoutError extends MeshError { override name = 'MeshStreamTimeoutError' }
/** A node key the mesh has no route to, so no stream can be opened to it. */
export class MeshUnreachableError extends MeshError { override name = 'MeshUnreachableError' }
/** The durable outbox holds as many unacknowledged messages (or bytes) as it may. */
export class OutboxFullError extends MeshError { override name = 'OutboxFullError' }
