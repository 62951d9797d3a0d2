// Named errors of the mesh layer (STYLE.md §4): one class per condition, told apart by
// `.name`. Whoever adds a mesh error adds it here.

import { PeernetError } from '../core/errors.ts'

/** Anything the mesh layer refuses or cannot do. */
export class MeshError extends PeernetError { override name = 'MeshError' }
/** A control packet or envelope whose bytes do not parse. */
export class MalformedPacketError extends MeshError { override name = 'MalformedPacketError' }
/** A packet that ends in the middle of a field or a TLV. */
export class TruncatedPacketError extends MalformedPacketError { override name = 'TruncatedPacketError' }
/** A packet longer than the format allows. */
export class OversizedPacketError extends MalformedPacketError { override name = 'OversizedPacketError' }
/** A packet in a wire format version this node does not speak. */
export class UnsupportedVersionError extends MeshError { override name = 'UnsupportedVersionError' }
