// Named errors of the mesh layer (STYLE.md §4): one class per condition, told apart by
// `.name`. Relays meet hostile or damaged bytes every day, so every decoder throws one of
// these and nothing else; callers drop the packet and go on. Whoever adds a mesh error
// adds it here.

import { PeernetError } from '../core/errors.ts'

/** Anything the mesh layer refuses or cannot do: the base class callers catch. */
export class MeshError extends PeernetError { override name = 'MeshError' }
/** A control packet or envelope whose bytes do not parse: truncated, trailing bytes, bad field. */
export class MalformedPacketError extends MeshError { override name = 'MalformedPacketError' }
/** A packet that ends in the middle of a field or a TLV. */
export class TruncatedPacketError extends MalformedPacketError { override name = 'TruncatedPacketError' }
/** A packet longer than the format allows (larger than the mesh ever carries). */
export class OversizedPacketError extends MalformedPacketError { override name = 'OversizedPacketError' }
/** A packet in a wire format version this node does not speak. */
export class UnsupportedVersionError extends MeshError { override name = 'UnsupportedVersionError' }
/** A data envelope that does not open for this identity: sealed to another key, forged or damaged. */
export class EnvelopeOpenError extends MeshError { override name = 'EnvelopeOpenError' }
/** A channel write larger than the room left in its send buffer. */
export class ChannelBufferFullError extends MeshError { override name = 'ChannelBufferFullError' }
/** A write on a channel that was closed, reset or has failed. */
export class ChannelClosedError extends MeshError { override name = 'ChannelClosedError' }
