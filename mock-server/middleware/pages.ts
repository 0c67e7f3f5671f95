/**
 * The web pages (GET /docs/, /playground/, /openapi.yaml and their assets; pages/pages.ts):
 * public static files outside openapi.yaml, answered here, so not routed, authorised, metered,
 * journaled or validated.
 */
import { pages } from '../pages/pages';
import type { Middleware } from '../server/context';

export const servePages: Middleware = (c, next) => {
  if (c.request.method !== 'GET' || !pages.handles(c.url.pathname)) return next(c);
  return pages.serve(c.request, { auth: c.state.options.auth, requestId: c.requestId });
};
