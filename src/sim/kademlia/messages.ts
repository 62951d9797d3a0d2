// The kad-dht RPCs the simulator exchanges, and their size on the wire. Sizes follow the
// libp2p kad-dht protobuf (libp2p/specs kad-dht "RPC messages") over a fresh Yamux stream
// per request inside a Noise session, as js-libp2p's kad-dht does it:
//   - every request opens a stream: Yamux headers (12 B per frame: open, data, close) plus
//     multistream-select of the protocol id (~ 45 B each way), Noise framing (18 B/frame);
//   - a key is a CIDv1 of a sha256 multihash: 36 B, plus the field tag and length;
//   - a peer entry is a peer id (identity multihash of an Ed25519 key, 38 B) and two
//     multiaddrs (~ 10 B each), with tags and lengths ≈ 64 B.
// These are estimates to within tens of percent; what matters for the comparison is that
// a response grows with the number of peers and providers it carries.

export const REQUEST_OVERHEAD_BYTES = 110
export const RESPONSE_OVERHEAD_BYTES = 60
export const KEY_FIELD_BYTES = 40
export const PEER_ENTRY_BYTES = 64

export type DhtMessage =
  | { type: 'FIND_NODE', rpc: number, target: Uint32Array }
  | { type: 'GET_PROVIDERS', rpc: number, target: Uint32Array, key: number }
  | { type: 'ADD_PROVIDER', target: Uint32Array, key: number }
  | { type: 'CLOSER', rpc: number, closer: Int32Array, providers: ArrayLike<number> }

export function messageBytes (message: DhtMessage): number {
  switch (message.type) {
    case 'FIND_NODE':
    case 'GET_PROVIDERS':
      return REQUEST_OVERHEAD_BYTES + KEY_FIELD_BYTES
    case 'ADD_PROVIDER':
      // The record names the provider (us) with our addresses; there is no answer.
      return REQUEST_OVERHEAD_BYTES + KEY_FIELD_BYTES + PEER_ENTRY_BYTES
    case 'CLOSER':
      return RESPONSE_OVERHEAD_BYTES + KEY_FIELD_BYTES + PEER_ENTRY_BYTES * (message.closer.length + message.providers.length)
  }
}
