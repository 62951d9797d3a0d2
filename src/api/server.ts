// The local HTTP JSON API of a running node. Bound to 127.0.0.1 by default; every
// request carries the bearer token the daemon wrote into its home. Live events stream
// as server-sent events on /v1/events. The routes are documented in docs/api.md.

import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { timingSafeEqual, createHash } from 'node:crypto'
import type { Peernet, PeernetEvent } from '../node.ts'
import { AddressInUseError, BadRequestError, DialError, InvalidMultiaddrError, PeerNotFoundError, PeernetError, UnauthorizedError } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'
import type { ApiAddress } from '../core/config.ts'
import { compileRoutes, matchRoute, requireString } from './routes.ts'
import { networkRoutes } from './network-routes.ts'
import { accountRoutes } from './account-routes.ts'
import { meshRoutes } from './mesh-routes.ts'
import { MalformedPayloadError, MeshDisabledError, UnknownPeerError } from '../mesh/errors.ts'
import { InvalidAmountError, LinePendingError, LineRuleError, PaymentFailedError, UnknownCreditAccountError } from '../apps/credit/errors.ts'
import { AppMessageError, DeviceLinkError, EntryRejectedError, InvalidRecordError, InviteError, NotPermittedError, RendezvousError, UnknownAccountError, UnknownDeviceError, UnknownEntryError, UnknownNetworkError } from '../networks/errors.ts'

// 256 KiB: an app command may carry images (a social post's attachments, base64).
const MAX_BODY_BYTES = 256 * 1024
const SSE_KEEPALIVE_MS = 15_000

export interface ApiServerOptions {
  node: Peernet
  token: string
  address: ApiAddress
  logger: Logger
  /** Called after the response to POST /v1/stop has been sent. */
  onStop: () => void
}

export interface ApiServer {
  readonly url: string
  close: () => Promise<void>
}

export async function startApiServer (options: ApiServerOptions): Promise<ApiServer> {
  const { node, logger } = options
  const tokenDigest = digest(options.token)
  const sseClients = new Set<ServerResponse>()

  const routes = compileRoutes([
    { method: 'GET', path: '/v1/id', handler: () => Promise.resolve({ peerId: node.peerId, publicKey: Buffer.from(node.identity.publicKey).toString('base64'), addresses: node.host.addresses() }) },
    { method: 'GET', path: '/v1/status', handler: () => Promise.resolve(node.status()) },
    { method: 'GET', path: '/v1/peers', handler: async () => ({ peers: await node.peers() }) },
    { method: 'POST', path: '/v1/connect', handler: async ({ body }) => await node.connect(requireString(body, 'address')) },
    { method: 'POST', path: '/v1/ping', handler: async ({ body }) => await node.ping(requireString(body, 'target')) },
    { method: 'POST', path: '/v1/stop', handler: () => Promise.resolve({ stopping: true }) },
    ...networkRoutes(node),
    ...accountRoutes(node),
    ...meshRoutes(node)
  ])

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (statusOf(err) >= 500) logger.error('API request failed', { url: req.url, err })
      else logger.debug('API request refused', { url: req.url, err })
      if (!res.headersSent) sendError(res, err)
      else res.destroy()
    })
  })

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!authorised(req.headers.authorization, tokenDigest)) {
      const missing = req.headers.authorization === undefined
      sendError(res, new UnauthorizedError(missing ? 'the API needs a bearer token' : 'the API token is wrong', {
        hint: 'send "Authorization: Bearer <token>" with the token from api.json in the node\'s home'
      }))
      return
    }
    const url = new URL(req.url ?? '/', 'http://localhost')
    const method = req.method ?? 'GET'
    const key = `${method} ${url.pathname}`
    if (key === 'GET /v1/events') {
      openEventStream(req, res)
      return
    }
    const match = matchRoute(routes, method, url.pathname)
    if (match === undefined || 'methodNotAllowed' in match) {
      const known = match !== undefined || url.pathname === '/v1/events'
      sendJson(res, known ? 405 : 404, { error: { name: known ? 'MethodNotAllowed' : 'NotFound', message: `${known ? 'method not allowed for' : 'no such route'}: ${key}`, hint: 'see docs/api.md for the routes' } })
      return
    }
    const body = method === 'POST' ? await readJsonBody(req) : {}
    const result = await match.route.handler({ params: match.params, query: url.searchParams, body })
    sendJson(res, 200, result)
    if (key === 'POST /v1/stop') res.once('finish', options.onStop)
  }

  function openEventStream (req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    res.write(`: peernet ${node.peerId}\n\n`)
    sseClients.add(res)
    const unsubscribe = node.subscribe((event: PeernetEvent) => {
      res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
    })
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS)
    keepalive.unref()
    const done = (): void => {
      clearInterval(keepalive)
      unsubscribe()
      sseClients.delete(res)
    }
    req.once('close', done)
    res.once('close', done)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new AddressInUseError(`API address ${options.address.host}:${options.address.port} is already in use`, {
          hint: 'another program, perhaps another Peernet daemon, holds it; pass --api 127.0.0.1:0 to pick a free port',
          cause: err
        }))
      } else {
        reject(new PeernetError(`cannot start the API on ${options.address.host}:${options.address.port}: ${err.message}`, { hint: 'check --api', cause: err }))
      }
    })
    server.listen(options.address.port, options.address.host, () => { resolve() })
  })
  const bound = server.address()
  if (bound === null || typeof bound === 'string') throw new PeernetError('the API server has no TCP address')
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address
  const url = `http://${host}:${bound.port}`
  logger.info('API listening', { url })

  return {
    url,
    close: async () => {
      for (const res of sseClients) res.end()
      sseClients.clear()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}

function digest (token: string): Buffer {
  return createHash('sha256').update(token).digest()
}

function authorised (header: string | undefined, expected: Buffer): boolean {
  const m = /^Bearer ([A-Za-z0-9_-]{16,200})$/.exec(header ?? '')
  if (m === null) return false
  // Compare digests so the comparison takes the same time whatever the token's length.
  return timingSafeEqual(digest(m[1] ?? ''), expected)
}

async function readJsonBody (req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength
    if (size > MAX_BODY_BYTES) throw new BadRequestError(`request body over ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk)
  }
  if (size === 0) return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new BadRequestError('request body is not valid JSON')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new BadRequestError('request body must be a JSON object')
  return parsed as Record<string, unknown>
}


function statusOf (err: unknown): number {
  if (err instanceof UnauthorizedError) return 401
  if (err instanceof BadRequestError || err instanceof InvalidMultiaddrError || err instanceof InvalidRecordError || err instanceof InviteError || err instanceof DeviceLinkError || err instanceof UnknownPeerError || err instanceof MalformedPayloadError) return 400
  if (err instanceof PeerNotFoundError || err instanceof UnknownNetworkError || err instanceof UnknownEntryError || err instanceof RendezvousError || err instanceof UnknownDeviceError || err instanceof UnknownAccountError) return 404
  if (err instanceof NotPermittedError) return 403
  if (err instanceof MeshDisabledError) return 409
  if (err instanceof EntryRejectedError) return 409
  if (err instanceof DialError) return 502
  // Credit: bad amounts or a change the line's rules forbid are the caller's; a payment
  // that failed, or a peer that did not answer, is a conflict with the world as it is.
  if (err instanceof InvalidAmountError || err instanceof LineRuleError) return 400
  if (err instanceof UnknownCreditAccountError) return 404
  if (err instanceof PaymentFailedError || err instanceof LinePendingError || err instanceof AppMessageError) return 409
  return 500
}

function sendError (res: ServerResponse, err: unknown): void {
  const e = err instanceof PeernetError ? err : new PeernetError(err instanceof Error ? err.message : String(err))
  sendJson(res, statusOf(e), { error: { name: e.name, message: e.message, hint: e.hint ?? null } })
}

function sendJson (res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  res.end(body)
}
