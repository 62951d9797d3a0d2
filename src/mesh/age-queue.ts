// Oldest-first order over keyed entries, for stores that drop their oldest entries (the
// duplicate filter, custody). A Map's insertion order would do in principle, but V8 leaves
// a tombstone for each deleted entry and every walk from the front steps over them until
// the table is rebuilt: a Map used as a FIFO under steady churn measured 3.6 µs per
// operation at 4096 entries (Node 24), while the duplicate filter on this queue takes
// 0.7 µs per check, most of it hashing its 80-char keys. The owner keeps its entries
// in its own map and says which slots are still live (entries may also leave from the
// middle); dead slots are skipped at the front and swept out once they outnumber the live.

export class AgeQueue {
  #keys: string[] = []
  #tokens: number[] = []
  #head = 0

  /** Slots held, live or dead. */
  get slots (): number { return this.#keys.length - this.#head }

  /** Appends `key`; `token` tells this slot from an older one of the same key. */
  push (key: string, token: number): void {
    this.#keys.push(key)
    this.#tokens.push(token)
  }

  /** The oldest live key (dead slots before it are discarded); undefined when none. */
  peek (isLive: (key: string, token: number) => boolean): string | undefined {
    while (this.#head < this.#keys.length) {
      const key = this.#keys[this.#head] as string
      if (isLive(key, this.#tokens[this.#head] as number)) return key
      this.#advance()
    }
    return undefined
  }

  /** Removes the oldest slot (the one `peek` returned). */
  shift (): void {
    if (this.#head < this.#keys.length) this.#advance()
  }

  /** Sweeps dead slots out once they outnumber the `live` ones (amortised O(1) per removal). */
  tidy (live: number, isLive: (key: string, token: number) => boolean): void {
    if (this.slots <= 2 * live + 32) return
    const keys: string[] = []
    const tokens: number[] = []
    for (let i = this.#head; i < this.#keys.length; i++) {
      const key = this.#keys[i] as string
      const token = this.#tokens[i] as number
      if (isLive(key, token)) { keys.push(key); tokens.push(token) }
    }
    this.#keys = keys
    this.#tokens = tokens
    this.#head = 0
  }

  #advance (): void {
    this.#head++
    if (this.#head >= 1024 && this.#head * 2 >= this.#keys.length) {
      this.#keys = this.#keys.slice(this.#head)
      this.#tokens = this.#tokens.slice(this.#head)
      this.#head = 0
    }
  }
}
