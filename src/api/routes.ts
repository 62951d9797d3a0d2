// Routes of the local API: method, a path pattern with :params, and a handler. The
// server matches them; each layer's routes live beside the others in one table.

import { BadRequestError } from '../core/errors.ts'

export interface RouteRequest {
  params: Record<string, string>
  query: URLSearchParams
  body: Record<string, unknown>
}

export interface Route {
  method: 'GET' | 'POST'
  path: string
  handler: (req: RouteRequest) => Promise<unknown>
}

export interface CompiledRoute extends Route {
  regex: RegExp
  names: string[]
}

export function compileRoutes (routes: Route[]): CompiledRoute[] {
  return routes.map((r) => {
    const names: string[] = []
    const source = r.path.split('/').map((part) => {
      if (!part.startsWith(':')) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      names.push(part.slice(1))
      return '([^/]+)'
    }).join('/')
    return { ...r, regex: new RegExp(`^${source}$`), names }
  })
}

export type RouteMatch = { route: CompiledRoute, params: Record<string, string> } | { methodNotAllowed: true } | undefined

export function matchRoute (routes: CompiledRoute[], method: string, path: string): RouteMatch {
  let pathMatched = false
  for (const r of routes) {
    const m = r.regex.exec(path)
    if (m === null) continue
    pathMatched = true
    if (r.method !== method) continue
    const params: Record<string, string> = {}
    r.names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1] ?? '') })
    return { route: r, params }
  }
  return pathMatched ? { methodNotAllowed: true } : undefined
}

/** A required, non-empty string field of a request body. */
export function requireString (body: Record<string, unknown>, field: string): string {
  const value = body[field]
  if (typeof value !== 'string' || value === '') throw new BadRequestError(`field "${field}" must be a non-empty string`)
  return value
}

/** An optional non-negative whole-number field (null when absent); `what` words the error. */
export function optionalWhole (body: Record<string, unknown>, field: string, what = 'a non-negative integer'): number | null {
  const value = body[field]
  if (value === undefined || value === null) return null
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new BadRequestError(`field "${field}" must be ${what}`)
  return value as number
}
