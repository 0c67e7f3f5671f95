/**
 * Routing: `route` finds the operation of openapi.yaml for the method and path (404 or 405 when
 * there is none; the test controls' paths are 404 while they are off); at the end of the list,
 * `handle` runs that operation's route handler (routes/).
 */
import { HttpError } from '../http/errors';
import type { Middleware, RequestContext, RouteTable } from '../server/context';

export const route: Middleware = (c, next) => {
  const { method } = c.request;
  const { pathname } = c.url;
  const matched = c.state.contract.match(method, pathname);
  const controlsOff = pathname.startsWith('/_mock/') && !c.state.options.mockControls;
  if (!matched.operation || controlsOff) {
    throw 'pathExists' in matched && matched.pathExists && !controlsOff
      ? new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${pathname}`)
      : new HttpError(404, 'route_not_found', `no route for ${method} ${pathname}`);
  }
  c.operation = matched.operation;
  c.params = matched.params;
  c.query = Object.fromEntries(c.url.searchParams);
  return next(c);
};

/** The last of the list: routed, authorised, admitted and validated, the exchange is the handler's `RequestContext`. */
export function handle(routes: RouteTable): Middleware {
  return (c) => routes[c.operation!.operationId]!(c as RequestContext);
}
