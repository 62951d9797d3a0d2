// What the credit app's queries and commands return (JSON): the API's and the CLI's
// shapes. Amounts are decimal strings of units (formatAmount), keys are hex.

export interface LineView {
  line: string
  /** The other account, and the device of it that holds the line. */
  account: string
  device: string
  unit: string
  seq: number
  /** SHA-256 of the newest state both signed (hex): the same on both sides of a line. */
  stateHash: string
  /** What the other account owes you (negative: what you owe it). */
  balance: string
  /** The credit you extend to the other account. */
  trustGiven: string
  /** The credit the other account extends to you. */
  trustReceived: string
  /** Pending holds (payments in flight) on the line. */
  holds: number
  /** What you can still pay over the line now. */
  available: string
  /** An update is proposed and not yet countersigned. */
  pending: boolean
  updatedAt: number
}

export interface TrustResult { line: string, account: string, unit: string, limit: string, seq: number }

export interface RouteView {
  /** What this path delivered to the payee. */
  amount: string
  /** Whether this path's hold settled. */
  ok: boolean
  /** The accounts after the payer, the payee last, each with the unit of the line into it. */
  hops: Array<{ account: string, unit: string }>
}

export interface PayResult {
  id: string
  account: string
  amount: string
  unit: string
  /** What the payer paid beyond the amount, in its first line's unit. */
  fee: string
  routes: RouteView[]
  /** How the router found the routes (neighbourhood max flow, tree embedding, or unit-converting offers) and the messages that took, payment included. */
  routing?: { method: string, messages: number }
}

export interface HistoryView {
  id: string
  direction: 'sent' | 'received' | 'forwarded'
  peer: string
  amount: string
  unit: string
  fee: string
  status: 'pending' | 'done' | 'failed'
  code: string | null
  message: string | null
  routes: unknown
  createdAt: number
  doneAt: number | null
}
