/**
 * The test controls on the request path (on in startMockServer and msw mode, off in `modelport
 * serve` unless --mock-controls): the journal records every request it answers; injected faults
 * delay a request or answer it with a canned response before it is admitted.
 */
import { HttpError } from '../http/errors';
import { errorResponse, json, Reply, type RouteResult } from '../http/respond';
import type { Exchange, Middleware, Next } from '../server/context';
import type { Fault } from '../test-controls/faults';

export const journalRequests: Middleware = async (c, next) => {
  const answer = await next(c);
  // The test controls' own requests are not journaled: reading the journal would fill it.
  if (c.operation?.pathTemplate.startsWith('/_mock/')) return answer;
  try {
    const ms = performance.now() - c.started;
    const model = c.params.model_name;
    // What was sent: the query before validation coerced it and filled in defaults.
    const query = c.operation ? Object.fromEntries(c.url.searchParams) : {};
    c.state.journal.record({
      request_id: c.requestId,
      time: new Date().toISOString(),
      method: c.request.method,
      path: c.url.pathname,
      ...(Object.keys(query).length ? { query } : {}),
      ...(c.operation ? { operation: c.operation.operationId } : {}),
      ...(model !== undefined ? { model } : {}),
      ...(c.principal ? { key: c.principal.keyId } : {}),
      ...(c.fault ? { fault: c.fault.id } : {}),
      status: answer.status,
      duration_ms: Math.round(ms * 1000) / 1000,
      headers: c.request.headers,
      body: c.body,
      rawBytes: c.rawBody?.byteLength,
      ...declaredLength(c),
    });
  } catch (error) {
    console.error(`[modelport] could not record request ${c.requestId} in the journal:`, error); // the answer still goes out
  }
  return answer;
};

/** The body's size as its Content-Length says (the journal keeps only the start of a long body). */
function declaredLength(c: Exchange): { declaredBytes?: number } {
  const bytes = Number(c.request.headers.get('content-length') ?? Number.NaN);
  return Number.isSafeInteger(bytes) && bytes >= 0 ? { declaredBytes: bytes } : {};
}

export const injectFaults: Middleware = (c, next) => {
  const operation = c.operation!;
  const fault = c.state.faults.take({
    operationId: operation.operationId,
    method: c.request.method,
    path: c.url.pathname,
    model: c.params.model_name,
  });
  if (!fault) return next(c);
  c.fault = fault;
  return delayOrAnswer(c, next, fault);
};

async function delayOrAnswer(c: Exchange, next: Next, fault: Fault): Promise<RouteResult> {
  if (fault.latency_ms) await new Promise((resolve) => setTimeout(resolve, fault.latency_ms));
  if (fault.status === undefined) return next(c);
  const headers = fault.headers ?? {};
  if (fault.status === 204 || fault.status === 304) return noBody(fault.status, headers); // faults.ts refuses a body with them
  if (fault.body !== undefined) return json(fault.body, fault.status, headers);
  if (fault.status < 400) return json({}, fault.status, headers);
  return errorResponse(new HttpError(fault.status, 'injected_fault', `injected fault ${fault.id}`, undefined, headers), c.requestId);
}

/** A 204 or 304: no body, so no Content-Length or Content-Type either. */
function noBody(status: number, headers: Record<string, string>): Reply {
  return new Reply(status, Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])), null);
}
