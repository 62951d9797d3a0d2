// The simulator's only source of randomness: xoshiro128** (Blackman and Vigna, "Scrambled
// linear pseudorandom number generators", 2018), seeded through splitmix32 so that any
// 32-bit seed, even 0, gives a well-mixed starting state. Same seed, same sequence, on
// every platform: everything here is 32-bit integer arithmetic (Math.imul, >>> 0).

/** splitmix32: a one-word generator, used to expand a seed into xoshiro's four words. */
export function splitmix32 (state: number): { value: number, next: number } {
  const next = (state + 0x9e3779b9) >>> 0
  let z = next
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return { value: (z ^ (z >>> 16)) >>> 0, next }
}

export class Random {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number) {
    let s = seed >>> 0
    const words: number[] = []
    for (let i = 0; i < 4; i++) {
      const r = splitmix32(s)
      words.push(r.value)
      s = r.next
    }
    this.a = words[0] ?? 1
    this.b = words[1] ?? 0
    this.c = words[2] ?? 0
    this.d = words[3] ?? 0
    // xoshiro's one forbidden state is all zeros; splitmix32 cannot produce four zeros in a row.
  }

  /** A generator in the given raw xoshiro128** state (for checking against the reference implementation). */
  static fromState (a: number, b: number, c: number, d: number): Random {
    if ((a | b | c | d) === 0) throw new RangeError('xoshiro128** state must not be all zeros')
    const r = new Random(0)
    r.a = a >>> 0
    r.b = b >>> 0
    r.c = c >>> 0
    r.d = d >>> 0
    return r
  }

  /** The next 32 random bits as an unsigned integer (xoshiro128**, reference step). */
  uint32 (): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return result
  }

  /** A float uniform in [0, 1), with 53 random bits. */
  float (): number {
    const hi = this.uint32() >>> 5
    const lo = this.uint32() >>> 6
    return (hi * 67108864 + lo) / 9007199254740992
  }

  /** An integer uniform in [0, n) for 1 ≤ n ≤ 2^32, without modulo bias (rejection). */
  int (n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) throw new RangeError(`Random.int needs an integer bound in [1, 2^32], got ${n}`)
    const limit = 0x100000000 - (0x100000000 % n)
    for (;;) {
      const x = this.uint32()
      if (x < limit) return x % n
    }
  }

  /** A float uniform in [min, max). */
  between (min: number, max: number): number {
    return min + (max - min) * this.float()
  }

  /** An independent generator derived from this one: for a sub-experiment that must not shift the main sequence. */
  fork (): Random {
    return new Random(this.uint32())
  }

  /** Fills `out` with random 32-bit words. */
  fill (out: Uint32Array): Uint32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.uint32()
    return out
  }
}

function rotl (x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}

/** Uniform floats in [0, 1) from a seeded generator: a seed replays a run exactly. */
export function seededFloats (seed: number): () => number {
  const r = new Random(seed)
  return () => r.float()
}
