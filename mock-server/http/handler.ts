/**
 * The server as a function, in its two shapes: `Handler` takes a fetch `Request` and answers with
 * a `Response` (msw, any fetch-based framework); `AppHandler` takes the light `IncomingRequest`
 * and answers with a `Reply` or a `Response`, which the node:http adapter writes without building
 * web objects. A `Handler` made by `fetchHandler` carries its `AppHandler` under `APP`, so the
 * adapter finds the fast path.
 */
import { readBody } from './body';
import type { IncomingRequest } from './request';
import { toResponse, type RouteResult } from './respond';

export type Handler = (request: Request) => Promise<Response>;
export type AppHandler = (request: IncomingRequest) => Promise<RouteResult> | RouteResult;
/** Where a handler made by `fetchHandler` keeps its `AppHandler`. */
export const APP = Symbol.for('modelport.app');

export function fetchHandler(app: AppHandler): Handler & { [APP]: AppHandler } {
  const handler: Handler = async (request) => toResponse(await app(fromFetch(request)));
  return Object.assign(handler, { [APP]: app });
}

/** A fetch `Request` as the app reads it. */
function fromFetch(request: Request): IncomingRequest {
  return {
    method: request.method,
    url: request.url,
    headers: request.headers,
    bytes: (maxBytes, timeouts) => readBody(request, maxBytes, timeouts),
  };
}
