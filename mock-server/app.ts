/**
 * The server as a function: Request → Response. Reads top to bottom: request id, routing,
 * body parsing within limits, validation against openapi.yaml, the route handler, and one
 * error body for everything that goes wrong.
 */
import type { Contract } from './contract';
import type { RequestContext, RouteTable, ServerState } from './context';
import { HttpError, badRequest } from './errors';
import { errorResponse } from './respond';
import { mediaType, parseJson, readBody } from './body';
import { randomUUID } from 'node:crypto';

export type Handler = (request: Request) => Promise<Response>;

/** Media types read as JSON: curl's default form type too, as OIP servers accept it. */
const JSON_MEDIA_TYPES = new Set([undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded']);
const REQUEST_ID_PATTERN = /^[\w.:-]{1,128}$/;

export function createApp(state: ServerState, routes: RouteTable): Handler {
  assertEveryOperationHasARoute(state.contract, routes);

  return async function handle(request: Request): Promise<Response> {
    const incomingId = request.headers.get('x-request-id');
    const requestId = incomingId && REQUEST_ID_PATTERN.test(incomingId) ? incomingId : randomUUID();
    let response: Response;
    try {
      response = await dispatch(request, requestId);
    } catch (error) {
      response = errorResponse(toHttpError(error, requestId), requestId);
    }
    response.headers.set('x-request-id', requestId);
    return response;
  };

  async function dispatch(request: Request, requestId: string): Promise<Response> {
    const url = new URL(request.url);
    const matched = state.contract.match(request.method, url.pathname);
    if (!matched.operation) {
      throw matched.pathExists
        ? new HttpError(405, 'method_not_allowed', `${request.method} is not allowed on ${url.pathname}`)
        : new HttpError(404, 'route_not_found', `no route for ${request.method} ${url.pathname}`);
    }
    const { operation, params } = matched;
    const query = Object.fromEntries(url.searchParams);

    let body: unknown;
    let rawBody: Uint8Array | undefined;
    if (operation.bodyContentTypes.length) {
      const type = mediaType(request);
      const bytes = await readBody(request, operation.isUpload ? state.options.maxUploadBytes : state.options.maxBodyBytes);
      if (bytes.byteLength === 0) {
        if (operation.bodyRequired) throw badRequest('request body is required', [{ path: '/', message: 'is required' }]);
      } else if (JSON_MEDIA_TYPES.has(type) || type?.endsWith('+json')) {
        if (!operation.bodyContentTypes.includes('application/json')) throw unsupported(type, operation.bodyContentTypes);
        body = parseJson(bytes);
      } else if (type && operation.bodyContentTypes.includes(type)) {
        rawBody = bytes;
      } else {
        throw unsupported(type, operation.bodyContentTypes);
      }
    }

    const header = Object.fromEntries(request.headers);
    const details = operation.validateParams({ path: params, query, header });
    if (body !== undefined && operation.validateBody) details.push(...operation.validateBody(body));
    if (details.length) {
      throw badRequest(`invalid request: ${details.map((d) => `${d.path} ${d.message}`).slice(0, 3).join('; ')}`, details);
    }

    const context: RequestContext = { request, url, operation, params, query, body, rawBody, requestId, state };
    return routes[operation.operationId]!(context);
  }
}

function unsupported(type: string | undefined, accepted: string[]): HttpError {
  return new HttpError(415, 'unsupported_media_type', `content type '${type}' is not supported here; use ${accepted.join(' or ')}`);
}

function toHttpError(error: unknown, requestId: string): HttpError {
  if (error instanceof HttpError) return error;
  console.error(`[modelport] internal error in request ${requestId}:`, error);
  return new HttpError(500, 'internal_error', `internal error (request ${requestId})`);
}

function assertEveryOperationHasARoute(contract: Contract, routes: RouteTable): void {
  const missing = [...contract.operations.keys()].filter((id) => !routes[id]);
  const unknown = Object.keys(routes).filter((id) => !contract.operations.has(id));
  if (missing.length || unknown.length) {
    throw new Error(`routes and openapi.yaml disagree: no handler for [${missing.join(', ')}], no operation for [${unknown.join(', ')}]`);
  }
}
