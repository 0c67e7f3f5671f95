/**
 * The server as a function: request → answer. Reads top to bottom: request id, CORS, routing,
 * authentication and scopes, rate limits, injected faults, body parsing within limits,
 * validation against openapi.yaml, the route handler; then one error body for anything that
 * went wrong, and the journal and usage records.
 *
 * `createApp` returns the fetch-style handler (Request → Response, for msw and any fetch-based
 * framework); its `[APP]` property is the same app on the light request and `Reply` types, which
 * the node:http adapter (http.ts) calls directly.
 */
import { randomUUID } from 'node:crypto';
import { authorize } from '../auth/guard';
import type { Principal } from '../auth/keys';
import type { Contract, Operation } from '../contract/contract';
import type { HeaderBag, IncomingRequest, RequestContext, RouteTable, ServerState } from './context';
import { HttpError, badRequest } from './errors';
import type { Fault } from '../test-controls/faults';
import { Reply, appendHeader, errorResponse, json, setHeader, toResponse, type RouteResult } from './respond';
import { mediaType, parseJson, readBody } from './body';
import { pages } from '../pages/pages';

export type Handler = (request: Request) => Promise<Response>;
/** The app on the light request type; answers with a `Reply` or a `Response`. */
export type AppHandler = (request: IncomingRequest) => Promise<RouteResult>;
/** Where a handler made by `createApp` keeps its `AppHandler`. */
export const APP = Symbol.for('modelport.app');

export interface AppHooks {
  /** Sees every finished response (but canned fault responses), e.g. to check it against openapi.yaml. */
  onResponse?: (request: { method: string; url: string }, operation: Operation | undefined, response: RouteResult) => Promise<void>;
}

/** Media types read as JSON: curl's default form type too, as OIP servers accept it. */
const JSON_MEDIA_TYPES = new Set([undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded']);
const REQUEST_ID_PATTERN = /^[\w.:-]{1,128}$/;
/** Operations that run a model, counted against `maxInFlightPerModel`. */
const INFERENCE_OPERATIONS = new Set(['modelInfer', 'modelVersionInfer']);
const EXPOSED_HEADERS = 'x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset, inference-header-content-length, idempotent-replayed';

/** What one request turned out to be, for the journal and usage meter. */
interface Trace {
  operation?: Operation;
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  rawBytes?: number;
  principal?: Principal;
  fault?: Fault;
  rateHeaders?: Record<string, string>;
}

export function createApp(state: ServerState, routes: RouteTable, hooks: AppHooks = {}): Handler {
  assertEveryOperationHasARoute(state.contract, routes);

  const app: AppHandler = async function handle(request: IncomingRequest): Promise<RouteResult> {
    const started = performance.now();
    const incomingId = request.headers.get('x-request-id');
    const requestId = incomingId && REQUEST_ID_PATTERN.test(incomingId) ? incomingId : randomUUID();
    const url = new URL(request.url);
    // Web pages (GET /docs/, /playground/, /openapi.yaml and their assets; mock-server/pages/):
    // public static files outside openapi.yaml, so not routed, authorised, journaled or validated.
    if (request.method === 'GET' && pages.handles(url.pathname)) return pages.serve(request, { state, requestId });
    const trace: Trace = {};
    let response: RouteResult;
    try {
      response = await dispatch(request, url, requestId, trace);
    } catch (error) {
      response = errorResponse(toHttpError(error, requestId), requestId);
    }
    setHeader(response, 'x-request-id', requestId);
    if (trace.rateHeaders) for (const name of Object.keys(trace.rateHeaders)) setHeader(response, name, trace.rateHeaders[name]!);
    applyCors(request, response);
    try {
      record(request, url, requestId, trace, response.status, performance.now() - started);
    } catch (error) {
      console.error(`[modelport] could not record request ${requestId} in the journal and usage:`, error); // the answer still goes out
    }
    if (hooks.onResponse && trace.fault?.status === undefined) await hooks.onResponse(request, trace.operation, response);
    return response;
  };

  const handler: Handler = async (request) => toResponse(await app(fromFetch(request)));
  return Object.assign(handler, { [APP]: app });

  async function dispatch(request: IncomingRequest, url: URL, requestId: string, trace: Trace): Promise<RouteResult> {
    if (request.method === 'OPTIONS' && corsOrigin(request)) return preflight(request);
    const matched = state.contract.match(request.method, url.pathname);
    const controlsOff = url.pathname.startsWith('/_mock/') && !state.options.mockControls;
    if (!matched.operation || controlsOff) {
      throw 'pathExists' in matched && matched.pathExists && !controlsOff
        ? new HttpError(405, 'method_not_allowed', `${request.method} is not allowed on ${url.pathname}`)
        : new HttpError(404, 'route_not_found', `no route for ${request.method} ${url.pathname}`);
    }
    const { operation, params } = matched;
    const query = Object.fromEntries(url.searchParams);
    // Validation coerces `query` in place (limit=5 becomes a number); the journal keeps what was sent.
    Object.assign(trace, { operation, params, query: { ...query } });

    const principal = authorize(state, operation, request, params);
    trace.principal = principal;
    enforceRateLimit(principal, trace);

    const fault = state.options.mockControls ? state.faults.take({ operationId: operation.operationId, method: request.method, path: url.pathname, model: params.model_name }) : undefined;
    if (fault) {
      trace.fault = fault;
      if (fault.latency_ms) await new Promise((resolve) => setTimeout(resolve, fault.latency_ms));
      if (fault.status !== undefined) return faultResponse(fault, requestId);
    }

    // Inference beyond a model's in-flight limit is shed here, before its body is read and parsed:
    // when the server is saturated, saying no must cost next to nothing.
    const release = admit(operation, params);
    try {
      return await readValidateAndRoute(request, url, operation, params, query, requestId, principal, trace);
    } finally {
      release?.();
    }
  }

  async function readValidateAndRoute(
    request: IncomingRequest, url: URL, operation: Operation, params: Record<string, string>, query: Record<string, string>,
    requestId: string, principal: Principal | undefined, trace: Trace,
  ): Promise<RouteResult> {
    let body: unknown;
    let rawBody: Uint8Array | undefined;
    if (operation.bodyContentTypes.length) {
      const type = mediaType(request);
      const bytes = await request.bytes(operation.isUpload ? state.options.maxUploadBytes : state.options.maxBodyBytes);
      if (bytes.byteLength === 0) {
        if (operation.bodyRequired) throw badRequest('request body is required', [{ path: '/', message: 'is required' }]);
      } else if (JSON_MEDIA_TYPES.has(type) || type?.endsWith('+json')) {
        if (!operation.bodyContentTypes.includes('application/json')) throw unsupported(type, operation.bodyContentTypes);
        body = parseJson(bytes);
        trace.body = body;
      } else if (type && operation.bodyContentTypes.includes(type)) {
        rawBody = bytes;
        trace.rawBytes = bytes.byteLength;
      } else {
        throw unsupported(type, operation.bodyContentTypes);
      }
    }

    // Header parameters are validated only for operations that declare some.
    const header = operation.hasHeaderParams ? headerRecord(request.headers) : NO_HEADERS;
    const details = operation.validateParams({ path: params, query, header });
    if (body !== undefined && operation.validateBody) details.push(...operation.validateBody(body));
    if (details.length) {
      throw badRequest(`invalid request: ${details.map((d) => `${d.path} ${d.message}`).slice(0, 3).join('; ')}`, details);
    }

    const context: RequestContext = { request, url, operation, params, query, body, rawBody, requestId, principal, state };
    return routes[operation.operationId]!(context);
  }

  /** Counts an inference request against its model's in-flight limit; returns its release. */
  function admit(operation: Operation, params: Record<string, string>): (() => void) | undefined {
    if (!INFERENCE_OPERATIONS.has(operation.operationId)) return undefined;
    const model = params.model_name!;
    const { inFlight, options } = state;
    const current = inFlight.get(model) ?? 0;
    if (current >= options.maxInFlightPerModel) {
      throw new HttpError(503, 'overloaded', `model '${model}' has ${options.maxInFlightPerModel} requests in flight; retry shortly`, undefined, { 'retry-after': '1' });
    }
    inFlight.set(model, current + 1);
    return () => {
      const left = inFlight.get(model)! - 1;
      if (left) inFlight.set(model, left);
      else inFlight.delete(model); // no entry per made-up model name
    };
  }

  function enforceRateLimit(principal: Principal | undefined, trace: Trace): void {
    const limit = principal?.rateLimit ?? (principal ? state.options.defaultRateLimit : undefined);
    if (!principal || !limit) return;
    const decision = state.rateLimiter.take(principal.keyId, limit);
    trace.rateHeaders = {
      'ratelimit-limit': String(decision.limit),
      'ratelimit-remaining': String(decision.remaining),
      'ratelimit-reset': String(decision.resetSeconds),
    };
    if (!decision.allowed) {
      throw new HttpError(429, 'rate_limited', `rate limit of ${limit.requests_per_second} requests/s exceeded; retry in ${decision.resetSeconds} s`, undefined, { 'retry-after': String(decision.resetSeconds) });
    }
  }

  function record(request: IncomingRequest, url: URL, requestId: string, trace: Trace, status: number, ms: number): void {
    const model = trace.params?.model_name;
    // Per model only for models that exist: made-up names would each add a row, kept for a day.
    state.usage.record(trace.principal?.keyId ?? 'anonymous', model !== undefined && state.models.has(model) ? model : undefined, status, ms);
    if (!state.options.mockControls || trace.operation?.pathTemplate.startsWith('/_mock/')) return;
    state.journal.record({
      request_id: requestId,
      time: new Date().toISOString(),
      method: request.method,
      path: url.pathname,
      ...(trace.query && Object.keys(trace.query).length ? { query: trace.query } : {}),
      ...(trace.operation ? { operation: trace.operation.operationId } : {}),
      ...(model !== undefined ? { model } : {}),
      ...(trace.principal ? { key: trace.principal.keyId } : {}),
      ...(trace.fault ? { fault: trace.fault.id } : {}),
      status,
      duration_ms: Math.round(ms * 1000) / 1000,
      headers: request.headers,
      body: trace.body,
      rawBytes: trace.rawBytes,
    });
  }

  function corsOrigin(request: IncomingRequest): string | undefined {
    const allowed = state.options.cors;
    if (!allowed.length) return undefined;
    const origin = request.headers.get('origin');
    if (!origin) return undefined;
    return allowed === '*' || allowed.includes(origin) ? origin : undefined;
  }

  function applyCors(request: IncomingRequest, response: RouteResult): void {
    const origin = corsOrigin(request);
    if (!origin) return;
    setHeader(response, 'access-control-allow-origin', origin);
    setHeader(response, 'access-control-expose-headers', EXPOSED_HEADERS);
    appendHeader(response, 'vary', 'Origin');
  }

  function preflight(request: IncomingRequest): Reply {
    return new Reply(204, {
      'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE',
      'access-control-allow-headers': request.headers.get('access-control-request-headers') ?? 'authorization, content-type',
      'access-control-max-age': '600',
    }, null);
  }
}

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Header parameters as ajv validates them: lower-case names, repeated headers joined. */
function headerRecord(headers: HeaderBag): Record<string, string> {
  const record: Record<string, string> = {};
  headers.forEach((value, name) => {
    record[name] = value;
  });
  return record;
}

/** A fetch `Request` as the app reads it. */
function fromFetch(request: Request): IncomingRequest {
  return { method: request.method, url: request.url, headers: request.headers, bytes: (maxBytes) => readBody(request, maxBytes) };
}

function faultResponse(fault: Fault, requestId: string): RouteResult {
  const status = fault.status!;
  const headers = fault.headers ?? {};
  if (fault.body !== undefined) return json(fault.body, status, headers);
  if (status < 400) return json({}, status, headers);
  return errorResponse(new HttpError(status, 'injected_fault', `injected fault ${fault.id}`, undefined, headers), requestId);
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
