// Deterministic CBOR (RFC 8949 §4.2.1): round trips, Appendix A vectors, and the strict
// decoder's refusal of every non-canonical form.

import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { decode as cborgDecode } from 'cborg'
import { CanonicalWriter, encodeCanonical, decodeCanonical, decodeStructural, bytesEqual, itemEnd } from '../../src/core/encoding.ts'
import type { CanonicalValue } from '../../src/core/encoding.ts'

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'))

const isEncodingError = (err: unknown): boolean => err instanceof Error && err.name === 'EncodingError'

// Integers CBOR carries (major types 0 and 1: -2^64 … 2^64-1) that a JS number cannot hold
// exactly; the decoder hands these back as bigints.
const bigOutsideSafe = fc.oneof(
  fc.bigInt(2n ** 53n, 2n ** 64n - 1n),
  fc.bigInt(-(2n ** 64n), -(2n ** 53n))
)

// Well-formed Unicode only: lone surrogates have no UTF-8 form (see the regression tests below).
const text = fc.string({ unit: 'grapheme', maxLength: 12 })

const { value: canonicalValue } = fc.letrec<{ value: CanonicalValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    bigOutsideSafe,
    text,
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(text, tie('value'), { maxKeys: 5, noNullPrototype: true })
  )
}))

/** The same value with every object's keys inserted in reverse order. */
function reverseKeyOrder (value: CanonicalValue): CanonicalValue {
  if (Array.isArray(value)) return value.map(reverseKeyOrder)
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value
  return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeyOrder(v)]))
}

describe('canonical CBOR round trip', () => {
  test('decode(encode(v)) deep-equals v for arbitrary canonical values', () => {
    fc.assert(fc.property(canonicalValue, (v) => {
      assert.deepStrictEqual(decodeCanonical(encodeCanonical(v)), v)
    }), { numRuns: 500 })
  })

  test('re-encoding a decoded value gives the very same bytes', () => {
    fc.assert(fc.property(canonicalValue, (v) => {
      const bytes = encodeCanonical(v)
      assert.equal(hex(encodeCanonical(decodeCanonical(bytes))), hex(bytes))
    }))
  })

  test('the encoding does not depend on object key insertion order', () => {
    fc.assert(fc.property(canonicalValue, (v) => {
      assert.equal(hex(encodeCanonical(reverseKeyOrder(v))), hex(encodeCanonical(v)))
    }))
  })

  test('any permutation of a map\'s keys encodes identically', () => {
    const mapAndOrder = fc.dictionary(text, canonicalValue, { minKeys: 1, maxKeys: 8, noNullPrototype: true })
      .chain((obj) => {
        const keys = Object.keys(obj)
        return fc.tuple(fc.constant(obj), fc.shuffledSubarray(keys, { minLength: keys.length, maxLength: keys.length }))
      })
    fc.assert(fc.property(mapAndOrder, ([obj, order]) => {
      const permuted = Object.fromEntries(order.map((k) => [k, obj[k] ?? null]))
      // JS puts array-index keys ("0", "17") first whatever the insertion order; the rest keep it.
      const isIndex = (k: string): boolean => /^(0|[1-9]\d*)$/.test(k) && Number(k) < 2 ** 32 - 1
      assert.deepStrictEqual(Object.keys(permuted).filter((k) => !isIndex(k)), order.filter((k) => !isIndex(k)))
      assert.equal(hex(encodeCanonical(permuted)), hex(encodeCanonical(obj)))
    }))
  })

  test('distinct values have distinct encodings', () => {
    fc.assert(fc.property(canonicalValue, canonicalValue, (a, b) => {
      fc.pre(!isDeepStrictEqual(a, b))
      assert.notEqual(hex(encodeCanonical(a)), hex(encodeCanonical(b)))
    }))
  })

  test('arbitrary bytes either fail with EncodingError or are exactly the encoding of what they decode to', () => {
    const mutated = fc.tuple(canonicalValue, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([v, at, byte]) => {
      const bytes = encodeCanonical(v).slice()
      bytes[at % bytes.byteLength] = byte
      return bytes
    })
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 24 }), mutated), (bytes) => {
      let value: CanonicalValue
      try {
        value = decodeCanonical(bytes)
      } catch (err) {
        assert.ok(isEncodingError(err), `unexpected ${String(err)}`)
        return
      }
      assert.equal(hex(encodeCanonical(value)), hex(bytes))
    }), { numRuns: 1000 })
  })
})

describe('the one-pass decoder', () => {
  /** What decodeCanonical did before it read the common case in one pass: decode, re-encode, compare. */
  function reference (bytes: Uint8Array): { value: CanonicalValue } | 'refused' {
    try {
      const value = cborgDecode(bytes, { strict: true, rejectDuplicateMapKeys: true, allowUndefined: false, allowIndefinite: false, allowNaN: false, allowInfinity: false, allowBigInt: true, useMaps: false }) as CanonicalValue
      return bytesEqual(encodeCanonical(value), bytes) ? { value } : 'refused'
    } catch {
      return 'refused'
    }
  }

  const mutated = fc.tuple(canonicalValue, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([v, at, byte]) => {
    const bytes = encodeCanonical(v).slice()
    bytes[at % bytes.byteLength] = byte
    return bytes
  })

  test('property: accepts exactly what decode-and-re-encode accepts, and reads the same values', () => {
    fc.assert(fc.property(fc.oneof(canonicalValue.map(encodeCanonical), mutated, fc.uint8Array({ maxLength: 24 })), (bytes) => {
      const want = reference(bytes)
      let got: { value: CanonicalValue } | 'refused'
      try { got = { value: decodeCanonical(bytes) } } catch (err) { assert.ok(isEncodingError(err)); got = 'refused' }
      assert.deepEqual(got, want)
    }), { numRuns: 2000 })
  })

  test('property: decodeStructural reads canonical input as decodeCanonical does', () => {
    fc.assert(fc.property(canonicalValue, (v) => {
      const bytes = encodeCanonical(v)
      assert.deepEqual(decodeStructural(bytes), decodeCanonical(bytes))
    }), { numRuns: 300 })
  })

  test('non-canonical forms the one pass leaves to the general path are still refused', () => {
    for (const h of [
      'a2616201616101', // keys out of order
      'a2616101616101', // duplicate key
      '1817', // 23 in two bytes
      '5f41614162ff', // indefinite byte string
      '63efbbbf61', // text with a leading BOM (the general path drops it, so it cannot re-encode)
      '62c328', // invalid UTF-8
      'f93c00', // 1.0 as a half float: an integer must be an integer
      'f7' // undefined
    ]) assert.throws(() => decodeCanonical(fromHex(h)), isEncodingError, h)
  })
})

describe('CanonicalWriter and itemEnd', () => {
  /** Writes a value item by item, keys sorted as §4.2.1 says, with the writer. */
  function write (w: CanonicalWriter, v: CanonicalValue): void {
    if (v === null) w.null()
    else if (typeof v === 'number') w.int(v)
    else if (typeof v === 'string') w.text(v)
    else if (v instanceof Uint8Array) w.bytes(v)
    else if (Array.isArray(v)) { w.array(v.length); for (const x of v) write(w, x) } else if (typeof v === 'object') {
      const keys = Object.keys(v).sort((a, b) => Buffer.compare(encodeCanonical(a), encodeCanonical(b)))
      w.map(keys.length)
      for (const k of keys) { w.key(k); write(w, v[k] as CanonicalValue) }
    }
  }
  const { value: writable } = fc.letrec<{ value: CanonicalValue }>((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.maxSafeInteger(), text, fc.uint8Array({ maxLength: 300 }),
      fc.array(tie('value'), { maxLength: 5 }), fc.dictionary(text, tie('value'), { maxKeys: 5, noNullPrototype: true }))
  }))

  test('property: writing a value item by item gives encodeCanonical byte for byte; itemEnd finds its end', () => {
    fc.assert(fc.property(writable, writable, (v, after) => {
      const w = new CanonicalWriter(1)
      write(w, v)
      const bytes = w.finish()
      assert.equal(hex(bytes), hex(encodeCanonical(v)))
      const both = new Uint8Array([...bytes, ...encodeCanonical(after)])
      assert.equal(itemEnd(both, 0), bytes.byteLength)
      assert.equal(itemEnd(both, bytes.byteLength), both.byteLength)
    }), { numRuns: 300 })
  })

  test('itemEnd refuses an item cut short', () => {
    const bytes = encodeCanonical({ a: new Uint8Array(10) })
    assert.throws(() => itemEnd(bytes.subarray(0, bytes.byteLength - 1), 0), isEncodingError)
  })
})

describe('RFC 8949 Appendix A vectors', () => {
  // Only the vectors whose Appendix A encoding is also the deterministic one (§4.2.1).
  const vectors: Array<[string, CanonicalValue, string]> = [
    ['0', 0, '00'],
    ['1', 1, '01'],
    ['10', 10, '0a'],
    ['23', 23, '17'],
    ['24', 24, '1818'],
    ['25', 25, '1819'],
    ['100', 100, '1864'],
    ['1000', 1000, '1903e8'],
    ['1000000', 1000000, '1a000f4240'],
    ['1000000000000', 1000000000000, '1b000000e8d4a51000'],
    ['18446744073709551615', 18446744073709551615n, '1bffffffffffffffff'],
    ['-18446744073709551616', -18446744073709551616n, '3bffffffffffffffff'],
    ['-1', -1, '20'],
    ['-10', -10, '29'],
    ['-100', -100, '3863'],
    ['-1000', -1000, '3903e7'],
    ['1.5', 1.5, 'f93e00'],
    ['false', false, 'f4'],
    ['true', true, 'f5'],
    ['null', null, 'f6'],
    ["h''", new Uint8Array(0), '40'],
    ["h'01020304'", fromHex('01020304'), '4401020304'],
    ['""', '', '60'],
    ['"a"', 'a', '6161'],
    ['"IETF"', 'IETF', '6449455446'],
    ['"\\"\\\\"', '"\\', '62225c'],
    ['"\\u00fc"', '\u00fc', '62c3bc'],
    ['"\\u6c34"', '\u6c34', '63e6b0b4'],
    ['"\\ud800\\udd51"', '\ud800\udd51', '64f0908591'],
    ['[]', [], '80'],
    ['[1, 2, 3]', [1, 2, 3], '83010203'],
    ['[1, [2, 3], [4, 5]]', [1, [2, 3], [4, 5]], '8301820203820405'],
    ['[1, 2, …, 25]', Array.from({ length: 25 }, (_, i) => i + 1), '98190102030405060708090a0b0c0d0e0f101112131415161718181819'],
    ['{}', {}, 'a0'],
    ['{"a": 1, "b": [2, 3]}', { a: 1, b: [2, 3] }, 'a26161016162820203'],
    ['["a", {"b": "c"}]', ['a', { b: 'c' }], '826161a161626163'],
    ['{"a": "A", …, "e": "E"}', { a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, 'a56161614161626142616361436164614461656145']
  ]
  for (const [name, value, expected] of vectors) {
    test(`${name} <-> 0x${expected}`, () => {
      assert.equal(hex(encodeCanonical(value)), expected)
      assert.deepStrictEqual(decodeCanonical(fromHex(expected)), value)
    })
  }

  test('map keys sort by their encoded bytes, so a shorter key comes first', () => {
    // §4.2.1: "b" (0x6162) sorts before "aa" (0x626161) although "aa" < "b" as text.
    assert.equal(hex(encodeCanonical({ aa: 1, b: 2 })), 'a2616202626161' + '01')
  })
})

describe('strict decoding rejects non-canonical CBOR', () => {
  const rejected: Array<[string, string]> = [
    ['0 as a one-byte argument (non-shortest)', '1800'],
    ['1 as a two-byte argument (non-shortest)', '190001'],
    ['1 as an eight-byte argument (non-shortest)', '1b0000000000000001'],
    ['byte string with a non-shortest length', '58014100'],
    ['text string with a non-shortest length', '780161'],
    ['array with a non-shortest length', '980101'],
    ['map with a non-shortest length', 'b801616101'],
    ['indefinite-length empty array', '9fff'],
    ['indefinite-length array [1]', '9f01ff'],
    ['indefinite-length map', 'bfff'],
    ['indefinite-length byte string', '5f41014102ff'],
    ['indefinite-length text string', '7f6161ff'],
    ['lone break code', 'ff'],
    ['duplicate map keys {"a":1,"a":2}', 'a2616101616102'],
    ['unsorted map keys {"b":1,"a":2}', 'a2616201616102'],
    ['unsorted map keys {"aa":1,"b":2}', 'a2626161016162' + '02'],
    ['trailing bytes after 0', '0000'],
    ['trailing bytes after null', 'f6f6'],
    ['empty input', ''],
    ['truncated uint32', '1a000f'],
    ['truncated array', '8201'],
    ['truncated text string', '6261'],
    ['truncated byte string', '4401'],
    ['map with a key and no value', 'a16161'],
    ['undefined', 'f7'],
    ['NaN', 'f97e00'],
    ['Infinity', 'f97c00'],
    ['-0.0 (half float)', 'f98000'],
    ['1.5 as a double (non-shortest float)', 'fb3ff8000000000000'],
    ['100000.0 as a single float (integral value must be an integer)', 'fa47c35000'],
    ['1.0 as a double', 'fb3ff0000000000000'],
    ['tag 1 (epoch date)', 'c11a514b67b0'],
    ['tag 2 (bignum 2^64)', 'c249010000000000000000'],
    ['simple value 16', 'f0'],
    ['simple value 32', 'f820'],
    ['reserved additional info 28', '1c'],
    ['invalid UTF-8 in a text string', '62c328'],
    ['non-string map key {1: 2}', 'a10102']
  ]
  for (const [name, h] of rejected) {
    test(`rejects ${name} (0x${h})`, () => {
      assert.throws(() => decodeCanonical(fromHex(h)), (err: unknown) => {
        assert.ok(err instanceof Error)
        assert.equal(err.name, 'EncodingError')
        return true
      })
    })
  }

  test('accepts the canonical counterparts of the rejected forms', () => {
    assert.equal(decodeCanonical(fromHex('00')), 0)
    assert.deepStrictEqual(decodeCanonical(fromHex('a2616101616202')), { a: 1, b: 2 })
    assert.deepStrictEqual(decodeCanonical(fromHex('a2616202626161' + '01')), { b: 2, aa: 1 })
    assert.deepStrictEqual(decodeCanonical(fromHex('8101')), [1])
  })
})

describe('encoding refuses values it cannot carry', () => {
  const unencodable: Array<[string, unknown]> = [
    ['a bigint above 2^64-1', 2n ** 64n],
    ['a bigint below -2^64', -(2n ** 64n) - 1n],
    ['a Date', new Date(0)],
    ['a Set', new Set([1])],
    ['a function', () => 1],
    ['a symbol', Symbol('x')]
  ]
  for (const [name, value] of unencodable) {
    test(`encodeCanonical throws EncodingError for ${name}`, () => {
      assert.throws(() => encodeCanonical(value as CanonicalValue), isEncodingError)
    })
  }
})

describe('bytesEqual', () => {
  test('agrees with comparing hex strings', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (a, b) => {
      assert.equal(bytesEqual(a, b), hex(a) === hex(b))
      assert.equal(bytesEqual(a, a.slice()), true)
    }))
  })

  test('a one-byte difference or a length difference is unequal', () => {
    assert.equal(bytesEqual(fromHex('0102'), fromHex('0103')), false)
    assert.equal(bytesEqual(fromHex('0102'), fromHex('010200')), false)
    assert.equal(bytesEqual(new Uint8Array(0), new Uint8Array(0)), true)
  })
})

// Regression tests for defects once found in src/core/encoding.ts: encodeCanonical must
// refuse what decodeCanonical refuses.
describe('encode accepts only what decode accepts', () => {
  test('a string with a lone surrogate is refused rather than encoded as U+FFFD', () => {
    assert.throws(() => encodeCanonical('\ud800'), isEncodingError)
  })

  test('an object field holding undefined is refused rather than encoded as 0xf7', () => {
    type WithOptional = { a: number, b?: string }
    const record: WithOptional = { a: 1, b: undefined } // type-checks as a CanonicalValue
    assert.throws(() => encodeCanonical(record), isEncodingError)
  })

  test('NaN and Infinity are refused rather than encoded', () => {
    assert.throws(() => encodeCanonical(NaN), isEncodingError)
    assert.throws(() => encodeCanonical(Infinity), isEncodingError)
  })
})

test('property: the direct encoder writes exactly the bytes cborg\'s RFC 8949 encoder does', async () => {
  const { encode: cborgEncode, rfc8949EncodeOptions } = await import('cborg')
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.maxSafeInteger(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array(b)),
      fc.array(tie('value'), { maxLength: 30 }),
      fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 30 }), tie('value'), { maxKeys: 30 })
    )
  }))
  fc.assert(fc.property(value, (v) => {
    let theirs: Uint8Array
    try { theirs = cborgEncode(v, rfc8949EncodeOptions) } catch {
      // What cborg cannot encode (integers beyond 64 bits) the encoder refuses too.
      assert.throws(() => encodeCanonical(v as CanonicalValue), { name: 'EncodingError' })
      return
    }
    const ours = encodeCanonical(v as CanonicalValue)
    assert.equal(Buffer.compare(ours, theirs), 0)
    assert.ok(isDeepStrictEqual(decodeCanonical(ours), decodeCanonical(theirs)))
  }), { numRuns: 2000 })
})
