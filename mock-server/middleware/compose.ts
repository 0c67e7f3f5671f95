/**
 * A list of middleware as one function, in the manner of Hono's `compose`: the first runs first,
 * and each reaches the rest of the list through `next(c)`. `next` is one function for every
 * request (the position is kept on the exchange), so walking the list allocates nothing, and a
 * middleware that does not look at the answer returns `next(c)` without awaiting it.
 */
import type { RouteResult } from '../http/respond';
import type { Exchange, Middleware, Next } from '../server/context';

export function compose(middleware: readonly Middleware[]): (c: Exchange) => Promise<RouteResult> | RouteResult {
  const next: Next = (c) => middleware[++c.step]!(c, next);
  return (c) => middleware[c.step]!(c, next);
}
