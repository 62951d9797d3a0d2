// The social app's entry bodies and their decoders. A decoder checks a body's shape and
// limits and nothing that depends on state (validators do that), so every node accepts or
// refuses the same body the same way. References to other entries (a reply's parent, an
// attachment, the post an edit changes) are entry hashes in the same network.

import type { CanonicalValue } from '../../core/encoding.ts'
import { imageProblem, sniffImage } from './images.ts'
import type { ImageType } from './images.ts'

/** Characters (code points) in a post or an edit. */
export const MAX_POST_CHARS = 5000
export const MAX_ATTACHMENTS = 4
export const MAX_MENTIONS = 32
export const MAX_NAME_CHARS = 64
export const MAX_BIO_CHARS = 1000
export const MAX_EMOJI_CHARS = 16

/** `social/post`: text (the markdown subset), a reply's parent, attached images, mentioned accounts. */
export interface PostBody { text: string, reply?: Uint8Array, attach?: Uint8Array[], mentions?: Uint8Array[] }
/** `social/edit`: the post's new text; only its author's edits count. */
export interface EditBody { post: Uint8Array, text: string, mentions?: Uint8Array[] }
/** `social/react`: an emoji on a post. */
export interface ReactBody { post: Uint8Array, emoji: string }
/** `social/repost`: shares a post into the author's followers' timelines. */
export interface RepostBody { post: Uint8Array }
/** `social/blob`: an image (an avatar or an attachment), replicated like any body. */
export interface BlobBody { data: Uint8Array, type: ImageType }
/** `social/profile`: the account's name, bio and avatar (a blob in the same network). */
export interface ProfileBody { name: string, bio: string, avatar?: Uint8Array }
/** `social/follow`: starts (`on`) or stops following an account. */
export interface FollowBody { account: Uint8Array, on: boolean }

type Fields = Record<string, CanonicalValue | undefined>

function fields (value: CanonicalValue, what: string, allowed: string[]): Fields {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || Array.isArray(value)) throw new Error(`a ${what} is a map`)
  const f = value as Fields
  for (const k of Object.keys(f)) if (!allowed.includes(k)) throw new Error(`a ${what} has no field "${k}"`)
  return f
}

function hash (v: CanonicalValue | undefined, what: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.byteLength !== 32) throw new Error(`${what} must be a 32-byte hash`)
  return v
}

function hashes (v: CanonicalValue | undefined, what: string, max: number): Uint8Array[] | undefined {
  if (v === undefined) return undefined
  if (!Array.isArray(v) || v.length === 0 || v.length > max) throw new Error(`${what} must list 1–${max} keys`)
  return v.map((x) => hash(x, what))
}

function chars (s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

function text (v: CanonicalValue | undefined, what: string, max: number, allowEmpty: boolean): string {
  if (typeof v !== 'string') throw new Error(`${what} must be text`)
  // A string has at most as many code points as UTF-16 units: count them only when that could be too many.
  const n = v.length <= max ? v.length : chars(v)
  if ((!allowEmpty && n === 0) || n > max) throw new Error(`${what} has ${n} characters; it must have ${allowEmpty ? 0 : 1}–${max}`)
  return v
}

export function decodePost (value: CanonicalValue): PostBody {
  const f = fields(value, 'post', ['text', 'reply', 'attach', 'mentions'])
  const attach = hashes(f.attach, 'attach', MAX_ATTACHMENTS)
  const body: PostBody = { text: text(f.text, 'a post', MAX_POST_CHARS, attach !== undefined) }
  if (f.reply !== undefined) body.reply = hash(f.reply, 'reply')
  if (attach !== undefined) body.attach = attach
  const mentions = hashes(f.mentions, 'mentions', MAX_MENTIONS)
  if (mentions !== undefined) body.mentions = mentions
  return body
}

export function decodeEdit (value: CanonicalValue): EditBody {
  const f = fields(value, 'edit', ['post', 'text', 'mentions'])
  const body: EditBody = { post: hash(f.post, 'post'), text: text(f.text, 'an edit', MAX_POST_CHARS, false) }
  const mentions = hashes(f.mentions, 'mentions', MAX_MENTIONS)
  if (mentions !== undefined) body.mentions = mentions
  return body
}

/** An emoji: pictographs, flags, and the joiners and modifiers between them; nothing else. */
export function emojiProblem (emoji: string): string | undefined {
  if (chars(emoji) === 0 || chars(emoji) > MAX_EMOJI_CHARS) return `a reaction is one emoji (1–${MAX_EMOJI_CHARS} code points)`
  if (!/^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}|\p{Emoji_Component}|\u200d|\ufe0f)+$/u.test(emoji) || !/\p{Extended_Pictographic}|\p{Regional_Indicator}/u.test(emoji)) {
    return `"${emoji}" is not an emoji`
  }
  return undefined
}

export function decodeReact (value: CanonicalValue): ReactBody {
  const f = fields(value, 'reaction', ['post', 'emoji'])
  if (typeof f.emoji !== 'string') throw new Error('a reaction\'s emoji must be text')
  const why = emojiProblem(f.emoji)
  if (why !== undefined) throw new Error(why)
  return { post: hash(f.post, 'post'), emoji: f.emoji }
}

export function decodeRepost (value: CanonicalValue): RepostBody {
  const f = fields(value, 'repost', ['post'])
  return { post: hash(f.post, 'post') }
}

export function decodeBlob (value: CanonicalValue): BlobBody {
  const f = fields(value, 'blob', ['data'])
  if (!(f.data instanceof Uint8Array)) throw new Error('a blob\'s data must be bytes')
  const why = imageProblem(f.data)
  if (why !== undefined) throw new Error(why)
  return { data: f.data, type: sniffImage(f.data) as ImageType }
}

export function decodeProfile (value: CanonicalValue): ProfileBody {
  const f = fields(value, 'profile', ['name', 'bio', 'avatar'])
  const body: ProfileBody = { name: text(f.name, 'a name', MAX_NAME_CHARS, true), bio: text(f.bio, 'a bio', MAX_BIO_CHARS, true) }
  if (/[\n\r\t]/.test(body.name)) throw new Error('a name is one line')
  if (f.avatar !== undefined) body.avatar = hash(f.avatar, 'avatar')
  return body
}

export function decodeFollow (value: CanonicalValue): FollowBody {
  const f = fields(value, 'follow', ['account', 'on'])
  if (typeof f.on !== 'boolean') throw new Error('a follow\'s "on" must be true or false')
  return { account: hash(f.account, 'account'), on: f.on }
}

/** The canonical value of a body (no absent fields: CBOR has no undefined). */
export function bodyValue (body: object): CanonicalValue {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined))
}
