// The social app's markdown subset as the terminal shows it, mention tokens, and images
// told apart by magic number and size.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mentionTokens, renderMarkdown } from '../../../src/apps/social/markdown.ts'
import { imageProblem, MAX_IMAGE_BYTES, sniffImage } from '../../../src/apps/social/images.ts'
import { decodeBlob, decodePost, decodeReact, emojiProblem } from '../../../src/apps/social/bodies.ts'

test('markdown subset: markers dropped, links spelled out, quotes and list items marked', () => {
  assert.deepEqual(renderMarkdown('**bold** and *it* and _it_ and `x = 1`\n> quoted [site](https://example.org)\n- one\n* two\nsnake_case_name stays, 2*3*4 too'), [
    'bold and it and it and x = 1',
    '│ quoted site <https://example.org>',
    '• one',
    '• two',
    'snake_case_name stays, 2*3*4 too'
  ])
  assert.deepEqual(renderMarkdown('[x](javascript:alert(1))'), ['[x](javascript:alert(1))'], 'only http(s) links are links')
})

test('mention tokens: names and key prefixes, not e-mail addresses', () => {
  assert.deepEqual(mentionTokens('hi @alice and @0123abcd, mail me at bob@example.org; @alice again.'), ['alice', '0123abcd'])
})

test('images by magic number, within the size limit', () => {
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1])
  const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0])
  const gif = new TextEncoder().encode('GIF89a....')
  const webp = new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 ')
  assert.deepEqual([png, jpeg, gif, webp].map(sniffImage), ['image/png', 'image/jpeg', 'image/gif', 'image/webp'])
  assert.equal(sniffImage(new TextEncoder().encode('RIFF\0\0\0\0WAVEfmt ')), undefined)
  assert.equal(sniffImage(new TextEncoder().encode('<svg/>')), undefined)
  const big = new Uint8Array(MAX_IMAGE_BYTES + 1)
  big.set(png)
  assert.match(imageProblem(big) ?? '', /limit is/)
  assert.throws(() => decodeBlob({ data: new TextEncoder().encode('%PDF-1.7') }), /not a PNG, JPEG, GIF or WebP/)
  assert.equal(decodeBlob({ data: png }).type, 'image/png')
})

test('bodies: limits and shapes every peer checks the same way', () => {
  assert.throws(() => decodePost({ text: 'x'.repeat(5001) }), /5001 characters/)
  assert.equal(decodePost({ text: '😀'.repeat(5000) }).text.length, 10_000, 'characters are code points')
  assert.throws(() => decodePost({ text: 'hi', extra: 1 }), /no field "extra"/)
  assert.throws(() => decodePost({ text: 'hi', reply: new Uint8Array(31) }), /32-byte/)
  assert.equal(decodeReact({ post: new Uint8Array(32), emoji: '👍🏽' }).emoji, '👍🏽')
  assert.equal(emojiProblem('🇫🇷'), undefined)
  assert.equal(emojiProblem('👩‍👩‍👧'), undefined)
  assert.match(emojiProblem('ok') ?? '', /not an emoji/)
  assert.match(emojiProblem('1') ?? '', /not an emoji/)
})
