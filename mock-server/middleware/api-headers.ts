/**
 * Headers on every API answer, errors included: `Cache-Control: no-store` (answers carry models'
 * outputs, usage and, once, a new key's secret: no cache or proxy may keep them) and
 * `X-Content-Type-Options: nosniff` (a browser takes the declared type, never guesses HTML). The
 * one exception is an event stream, which says `no-cache` itself (what the SSE specification asks
 * for; with `no-store` a browser keeps the request open until the page reads the last byte). The
 * web pages (pages/pages.ts) set their own caching.
 */
import { type RouteResult, setHeader } from '../http/respond';
import type { Middleware } from '../server/context';

export const apiHeaders: Middleware = async (c, next) => {
  const answer = await next(c);
  if (!headerOf(answer, 'cache-control')) setHeader(answer, 'cache-control', 'no-store');
  setHeader(answer, 'x-content-type-options', 'nosniff');
  return answer;
};

function headerOf(answer: RouteResult, name: string): string | null | undefined {
  return answer instanceof Response ? answer.headers.get(name) : answer.headers[name];
}
