// Amounts of credit. A unit is any name (`USD`, `hours`); an amount is a non-negative
// integer count of millionths of it, a bigint, so sums are exact and fit the ILPv4
// packet's UInt64 amount field (RFC 0027 §"ILP Prepare"). People type and read decimals.

import { InvalidAmountError } from './errors.ts'

/** Millionths per unit: `1.5 USD` is 1_500_000n. */
export const AMOUNT_SCALE = 1_000_000n
const DECIMALS = 6
/** ILPv4 amounts are UInt64. */
export const MAX_AMOUNT = (1n << 64n) - 1n

/** Parses `12`, `12.5`, `0.000001` into millionths; throws on anything else. */
export function parseAmount (text: string): bigint {
  const m = /^(\d{1,20})(?:\.(\d{1,6}))?$/.exec(text.trim())
  if (m === null) {
    throw new InvalidAmountError(`"${text}" is not an amount`, { hint: 'write a non-negative decimal number with at most 6 digits after the point, e.g. 12.5' })
  }
  const whole = BigInt(m[1] as string)
  const fraction = BigInt((m[2] ?? '').padEnd(DECIMALS, '0'))
  const value = whole * AMOUNT_SCALE + fraction
  if (value > MAX_AMOUNT) throw new InvalidAmountError(`${text} is too large`, { hint: `amounts go up to ${formatAmount(MAX_AMOUNT)}` })
  return value
}

/** Millionths as a decimal without trailing zeros: 1_500_000n → "1.5"; negative amounts keep their sign. */
export function formatAmount (value: bigint): string {
  const sign = value < 0n ? '-' : ''
  const abs = value < 0n ? -value : value
  const whole = abs / AMOUNT_SCALE
  const fraction = (abs % AMOUNT_SCALE).toString().padStart(DECIMALS, '0').replace(/0+$/, '')
  return fraction === '' ? `${sign}${whole}` : `${sign}${whole}.${fraction}`
}

/** A unit's name: letters, digits, `_` and `-`, 1–16 characters (it travels in every line state). */
export function checkUnit (unit: string): string {
  if (!/^[A-Za-z0-9_-]{1,16}$/.test(unit)) {
    throw new InvalidAmountError(`"${unit}" is not a unit name`, { hint: 'use 1–16 letters, digits, _ or -, e.g. USD or hours' })
  }
  return unit
}
