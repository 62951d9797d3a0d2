// Named errors of the mesh (STYLE.md §4). Relays meet hostile or damaged bytes every day,
// so every decoder throws one of these and nothing else; callers drop the packet and go on.

import { PeernetError } from '../core/errors.ts'

/** Anything the mesh refuses: the base class callers catch. */
export class MeshError extends PeernetError { override name = 'MeshError' }
/** Bytes that do not decode as a mesh packet: truncated, trailing bytes, bad field. */
export class MalformedPacketError extends MeshError { override name = 'MalformedPacketError' }
/** A packet whose version byte this node does not speak. */
export class UnsupportedVersionError extends MeshError { override name = 'UnsupportedVersionError' }
/** A packet larger than the mesh ever carries. */
export class OversizedPacketError extends MeshError { override name = 'OversizedPacketError' }
/** A data envelope that does not open for this identity: sealed to another key, forged or damaged. */
export class EnvelopeOpenError extends MeshError { override name = 'EnvelopeOpenError' }
