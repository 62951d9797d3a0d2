// What a link frame carries: its first byte says which layer of the mesh reads the rest.
// Links stay ignorant of both; a frame of a kind this node does not know is dropped, so a
// later version can add kinds without breaking older neighbours.

export const FRAME_CONTROL = 0x01
export const FRAME_DATA = 0x02

export function frameOf (kind: number, body: Uint8Array): Uint8Array {
  const f = new Uint8Array(body.byteLength + 1)
  f[0] = kind
  f.set(body, 1)
  return f
}

/** The frame's kind and body, or undefined for an empty frame. */
export function readFrame (frame: Uint8Array): { kind: number, body: Uint8Array } | undefined {
  if (frame.byteLength < 1) return undefined
  return { kind: frame[0] as number, body: frame.subarray(1) }
}
