/**
 * Responses shared by every route. `json()` builds a `Reply`: status, lower-case headers and the
 * body already serialised. The node:http adapter (node-adapter.ts) writes it with one `res.end`, without a
 * WHATWG Response and its body stream; the fetch-style handler (msw, tests) turns it into a
 * `Response` (`toResponse`). Routes that stream (event streams) or serve pages still return a
 * `Response`, which both paths also take.
 */
import type { ErrorBody, HttpError } from './errors';

export class Reply {
  constructor(
    readonly status: number,
    /** Lower-case names. */
    readonly headers: Record<string, string>,
    readonly body: string | Uint8Array | null,
  ) {}
}

/** What a route (or the app) answers with. */
export type RouteResult = Response | Reply;

export function json(body: unknown, status = 200, headers?: Record<string, string>): Reply {
  return new Reply(
    status,
    headers ? foldHeaders({ 'content-type': 'application/json', ...headers }) : { 'content-type': 'application/json' },
    JSON.stringify(body),
  );
}

/** A binary (or any bytes) answer. */
export function bytes(body: Uint8Array, status: number, headers: Record<string, string>): Reply {
  return new Reply(status, foldHeaders(headers), body);
}

export function errorResponse(error: HttpError, requestId: string): Reply {
  const body: ErrorBody = { error: error.message, code: error.code, status: error.status, request_id: requestId };
  if (error.details?.length) body.details = error.details;
  return json(body, error.status, error.headers);
}

export function toResponse(result: RouteResult): Response {
  if (result instanceof Response) return result;
  return new Response(result.body as BodyInit | null, { status: result.status, headers: result.headers });
}

/** Sets a header (replacing any value), as `Headers.set` does. */
export function setHeader(result: RouteResult, name: string, value: string): void {
  if (result instanceof Reply) result.headers[name] = value;
  else result.headers.set(name, value);
}

/** Adds a value to a header, as `Headers.append` does (`a, b`). */
export function appendHeader(result: RouteResult, name: string, value: string): void {
  if (result instanceof Reply) {
    const current = result.headers[name];
    result.headers[name] = current === undefined ? value : `${current}, ${value}`;
  } else {
    result.headers.append(name, value);
  }
}

/** A header record as a `Headers` built from it holds it: names lower-cased, repeats joined, values trimmed. */
function foldHeaders(headers: Record<string, string>): Record<string, string> {
  const folded: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    const key = name.toLowerCase();
    const value = trimHttpWhitespace(String(headers[name]));
    const current = folded[key];
    folded[key] = current === undefined ? value : `${current}, ${value}`;
  }
  return folded;
}

function trimHttpWhitespace(value: string): string {
  return value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
}
