// A link is how a mesh node reaches one neighbour: a libp2p connection (any transport),
// a UDP socket on a LAN interface, later a serial or LoRa radio. Whatever it is, it moves
// whole frames (datagrams) to exactly one neighbour, best effort: a frame may be lost,
// never damaged, split or merged. The router measures loss and round-trip time itself
// (with hellos), so links promise nothing more. Every implementation passes the shared
// compliance suite (test/mesh/link-compliance.ts).

/** Local name of a link, unique within one node while it is open. */
export type LinkId = string

export interface Link {
  readonly id: LinkId
  /** What carries it: 'libp2p', 'udp', … (shown to users, used in metrics). */
  readonly kind: string
  /** The neighbour's Ed25519 public key (32 bytes), authenticated by the link where the link can. */
  readonly remoteKey: Uint8Array
  /** Largest frame `send` accepts, in bytes. */
  readonly mtu: number
  /** Bytes per second the link can carry, about; control traffic is paced to a share of it. */
  readonly bitrate: number
  /**
   * Sends one frame. Returns false when the frame was not sent: the link is closed, its
   * queue is full, or the frame is over `mtu` (no exception: a mesh drops and goes on).
   */
  send: (frame: Uint8Array) => boolean
  /** Called for each frame received, in the order received. */
  onFrame: (handler: (frame: Uint8Array) => void) => void
  /** Called once when the link closes, from either side or from the medium. */
  onClose: (handler: (reason: string) => void) => void
  close: () => void
  readonly closed: boolean
}

/** Finds neighbours on some medium and opens a link to each. */
export interface LinkProvider {
  readonly kind: string
  /** Starts finding neighbours; `onLink` is called for each link that opens. */
  start: (onLink: (link: Link) => void) => Promise<void>
  /** Closes every link and stops looking. */
  stop: () => Promise<void>
}
