// Named errors of the networks layer.

import { PeernetError } from '../core/errors.ts'

/** A record (manifest, entry, invite, delegation) that is malformed or does not verify. */
export class InvalidRecordError extends PeernetError { override name = 'InvalidRecordError' }
/** A network id we do not know or cannot parse. */
export class UnknownNetworkError extends PeernetError { override name = 'UnknownNetworkError' }
/** An entry hash this node does not hold in that network. */
export class UnknownEntryError extends PeernetError { override name = 'UnknownEntryError' }
/** An invite that is forged, expired, used up, or for another network. */
export class InviteError extends PeernetError { override name = 'InviteError' }
/** An entry refused by membership, device or app rules, with the reason. */
export class EntryRejectedError extends PeernetError { override name = 'EntryRejectedError' }
/** Something the local account may not do (not a member, not an admin). */
export class NotPermittedError extends PeernetError { override name = 'NotPermittedError' }
/** Finding a network's members by its id failed: nobody found, or no usable answer. */
export class RendezvousError extends PeernetError { override name = 'RendezvousError' }
/** A device link or link request that is damaged, forged, expired, or for another device or account. */
export class DeviceLinkError extends PeernetError { override name = 'DeviceLinkError' }
/** A device this node has never seen write for its account. */
export class UnknownDeviceError extends PeernetError { override name = 'UnknownDeviceError' }
/** An account this node knows of in none of its networks (so it can neither name it nor reach it). */
export class UnknownAccountError extends PeernetError { override name = 'UnknownAccountError' }
/** A direct app message could not be delivered: the account's device is unknown, unreachable, or the wait ran out. */
export class AppMessageError extends PeernetError { override name = 'AppMessageError' }
