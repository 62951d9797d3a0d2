// Images the social app accepts as avatars and attachments: PNG, JPEG, GIF or WebP, told
// apart by their magic numbers (never by a file name or a claimed type), and small enough
// to travel as one entry body.

import { MAX_BODY_BYTES } from '../../networks/entry.ts'

/**
 * The largest image: an entry body is at most MAX_BODY_BYTES (64 KiB), and the blob's body
 * also carries its CBOR framing and, in a private network, the sealing's nonce and tag.
 */
export const MAX_IMAGE_BYTES = MAX_BODY_BYTES - 4 * 1024

export type ImageType = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp'

const startsWith = (bytes: Uint8Array, prefix: number[], at = 0): boolean => prefix.every((b, i) => bytes[at + i] === b)
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0))

/** The image's type by its magic number, or undefined when it is none of the four. */
export function sniffImage (bytes: Uint8Array): ImageType | undefined {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png'
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg'
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'image/gif'
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'image/webp'
  return undefined
}

/** Why these bytes are not an image the app takes, or undefined if they are. */
export function imageProblem (bytes: Uint8Array): string | undefined {
  if (bytes.byteLength > MAX_IMAGE_BYTES) return `the image is ${bytes.byteLength} bytes; the limit is ${MAX_IMAGE_BYTES} (${Math.floor(MAX_IMAGE_BYTES / 1024)} KiB)`
  if (sniffImage(bytes) === undefined) return 'not a PNG, JPEG, GIF or WebP image'
  return undefined
}
