// The CLI's (and any local program's) way to a running daemon: read the API URL and
// token from the home, call the JSON API, and turn its errors back into named errors.

import { readFileSync } from 'node:fs'
import { homePaths } from '../core/home.ts'
import { DaemonNotRunningError, PeernetError, UnauthorizedError } from '../core/errors.ts'

export interface ApiInfo {
  url: string
  token: string
  pid: number
}

const REQUEST_TIMEOUT_MS = 30_000

export function readApiInfo (home: string): ApiInfo {
  const path = homePaths(home).api
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notRunning(home)
    throw new PeernetError(`cannot read ${path}: ${(err as Error).message}`, { hint: 'check its permissions', cause: err })
  }
  let info: unknown
  try { info = JSON.parse(text) } catch { info = undefined }
  const { url, token, pid } = (info ?? {}) as Partial<ApiInfo>
  if (typeof url !== 'string' || typeof token !== 'string' || typeof pid !== 'number') {
    throw new PeernetError(`${path} is corrupt`, { hint: 'restart the daemon; it rewrites the file' })
  }
  return { url, token, pid }
}

function notRunning (home: string): DaemonNotRunningError {
  return new DaemonNotRunningError(`no Peernet daemon is running on ${home}`, { hint: `start one with \`peernet daemon --home ${home}\`` })
}

export class ApiClient {
  readonly home: string
  readonly info: ApiInfo

  constructor (home: string, info: ApiInfo = readApiInfo(home)) {
    this.home = home
    this.info = info
  }

  async get<T>(path: string, options: { timeoutMs?: number } = {}): Promise<T> {
    return this.request<T>('GET', path, undefined, options.timeoutMs)
  }

  async post<T>(path: string, body: Record<string, unknown> = {}, options: { timeoutMs?: number } = {}): Promise<T> {
    return this.request<T>('POST', path, body, options.timeoutMs)
  }

  /** Opens the event stream; the caller reads `response.body` as server-sent events. */
  async events (signal?: AbortSignal): Promise<Response> {
    const res = await this.fetch('/v1/events', { method: 'GET', headers: this.headers(), ...(signal === undefined ? {} : { signal }) })
    if (!res.ok) throw await errorFrom(res)
    return res
  }

  private headers (): Record<string, string> {
    return { authorization: `Bearer ${this.info.token}`, 'content-type': 'application/json' }
  }

  private async request<T>(method: string, path: string, body: Record<string, unknown> | undefined, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    const res = await this.fetch(path, {
      method,
      headers: this.headers(),
      signal: AbortSignal.timeout(timeoutMs),
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    if (!res.ok) throw await errorFrom(res)
    return await res.json() as T
  }

  private async fetch (path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(new URL(path, this.info.url), init)
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'ECONNREFUSED' || cause?.code === 'ECONNRESET') throw notRunning(this.home)
      if ((err as Error).name === 'TimeoutError') {
        throw new PeernetError(`the daemon did not answer ${path} in time`, { hint: 'it may be overloaded; try again, or restart it', cause: err })
      }
      throw new PeernetError(`cannot reach the daemon at ${this.info.url}: ${(err as Error).message}`, { hint: 'is it running? `peernet status`', cause: err })
    }
  }
}

async function errorFrom (res: Response): Promise<PeernetError> {
  let payload: { error?: { name?: string, message?: string, hint?: string | null } } = {}
  try { payload = await res.json() as typeof payload } catch { /* not JSON */ }
  const message = payload.error?.message ?? `the daemon answered HTTP ${res.status}`
  const hint = payload.error?.hint ?? undefined
  if (res.status === 401) return new UnauthorizedError(message, { hint: 'the token in api.json does not match the running daemon; restart it' })
  const err = new PeernetError(message, hint === undefined ? {} : { hint })
  err.name = payload.error?.name ?? 'PeernetError'
  return err
}
