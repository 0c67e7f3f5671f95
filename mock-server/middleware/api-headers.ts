/**
 * Headers on every API answer, errors included: `Cache-Control: no-store` (answers carry models'
 * outputs, usage and, once, a new key's secret: no cache or proxy may keep them) and
 * `X-Content-Type-Options: nosniff` (a browser takes the declared type, never guesses HTML). The
 * web pages (pages/pages.ts) set their own caching. Set here, applied by `errors` to whatever the
 * answer turns out to be.
 */
import type { Middleware } from '../server/context';

export const apiHeaders: Middleware = (c, next) => {
  c.header('cache-control', 'no-store');
  c.header('x-content-type-options', 'nosniff');
  return next(c);
};
