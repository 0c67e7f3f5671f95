/**
 * CORS for the origins the server allows (`cors` option; in the list only when some are): a
 * preflight is answered here, and every other answer gets the CORS headers on its way out.
 * Nothing a caller sends is echoed as an allowed origin: with `*` the answer is the literal `*`
 * (keys travel in `Authorization`, never cookies, so credentials are never allowed), with a list
 * only a listed origin is named back, and `Origin: null` (sandboxed frames, `file:` pages, opaque
 * redirects: anyone can send it) is never allowed.
 */
import { Reply, appendHeader, setHeader, type RouteResult } from '../http/respond';
import type { Exchange, Middleware, Next } from '../server/context';

const EXPOSED_HEADERS =
  'x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset, inference-header-content-length, idempotent-replayed';

export const cors: Middleware = (c, next) => {
  const origin = allowedOrigin(c);
  if (!origin) return next(c);
  if (c.request.method === 'OPTIONS') return withCors(c.withAnswerHeaders(preflight(c)), origin);
  return answerWithCors(c, next, origin);
};

async function answerWithCors(c: Exchange, next: Next, origin: string): Promise<RouteResult> {
  return withCors(await next(c), origin);
}

/** What `access-control-allow-origin` says for this request: `*`, a listed origin, or nothing. */
function allowedOrigin(c: Exchange): string | undefined {
  const allowed = c.state.options.cors;
  const origin = c.request.headers.get('origin');
  if (!origin || origin === 'null') return undefined;
  if (allowed === '*') return '*';
  return allowed.includes(origin) ? origin : undefined;
}

function preflight(c: Exchange): Reply {
  return new Reply(
    204,
    {
      'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE',
      'access-control-allow-headers': c.request.headers.get('access-control-request-headers') ?? 'authorization, content-type',
      'access-control-max-age': '600',
    },
    null,
  );
}

function withCors(answer: RouteResult, origin: string): RouteResult {
  setHeader(answer, 'access-control-allow-origin', origin);
  setHeader(answer, 'access-control-expose-headers', EXPOSED_HEADERS);
  // A listed origin is named back, so caches must keep answers per origin.
  if (origin !== '*') appendHeader(answer, 'vary', 'Origin');
  return answer;
}
