import { describe, expect, it } from 'vitest';
import {
  APIError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  InternalServerError,
  Modelport,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  ServiceUnavailableError,
  TimeoutError,
} from '../src/index';
import { errorReply, jsonReply, scriptedFetch } from './helpers/scripted-fetch';

const BASE = 'http://models.test';

describe('retries', () => {
  it('honours Retry-After on 429 and then succeeds', async () => {
    const { fetch, calls } = scriptedFetch([errorReply(429, 'rate_limited', { 'retry-after': '1' }), jsonReply(200, { live: true })]);
    const client = new Modelport({ baseUrl: BASE, fetch });
    await expect(client.health.live()).resolves.toEqual({ live: true });
    expect(calls).toHaveLength(2);
    // Retry-After: 1 means the retry waits a second; backoff alone would wait 250-500 ms.
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('does not retry a 400', async () => {
    const { fetch, calls } = scriptedFetch([errorReply(400, 'invalid_request')]);
    const client = new Modelport({ baseUrl: BASE, fetch });
    await expect(client.server.metadata()).rejects.toBeInstanceOf(BadRequestError);
    expect(calls).toHaveLength(1);
  });

  it('retries 5xx up to maxRetries, then throws the mapped error', async () => {
    const { fetch, calls } = scriptedFetch([errorReply(500, 'internal_error')]);
    const client = new Modelport({ baseUrl: BASE, fetch, maxRetries: 2 });
    const error = await client.health.live().catch((e) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect(calls).toHaveLength(3);
    // Exponential backoff with equal jitter: first wait 250-500 ms, second 500-1000 ms.
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(240);
    expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(490);
  });

  it('per-call maxRetries overrides the client', async () => {
    const { fetch, calls } = scriptedFetch([errorReply(503, 'unavailable')]);
    const client = new Modelport({ baseUrl: BASE, fetch, maxRetries: 5 });
    await expect(client.server.metadata({ maxRetries: 0 })).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(calls).toHaveLength(1);
  });

  it('never retries a POST without an idempotency key', async () => {
    const { fetch, calls } = scriptedFetch([errorReply(503, 'unavailable', { 'retry-after': '0' })]);
    const client = new Modelport({ baseUrl: BASE, fetch });
    await expect(client.transport.json({ method: 'POST', path: 'v1/things', json: {} })).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(calls).toHaveLength(1);
  });

  it('retries a POST that carries an idempotency key, with the same key and request id', async () => {
    const { fetch, calls } = scriptedFetch([errorReply(503, 'unavailable', { 'retry-after': '0' }), jsonReply(201, { id: 't1' })]);
    const client = new Modelport({ baseUrl: BASE, fetch });
    const created = await client.transport.json({ method: 'POST', path: 'v1/things', json: {}, idempotencyKey: 'k-1' });
    expect(created).toEqual({ id: 't1' });
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => c.headers.get('idempotency-key'))).toEqual(['k-1', 'k-1']);
    expect(calls[1]!.headers.get('x-request-id')).toBe(calls[0]!.headers.get('x-request-id'));
  });

  it('retries a 409 only when the server says when', async () => {
    const plain = scriptedFetch([errorReply(409, 'conflict')]);
    await expect(new Modelport({ baseUrl: BASE, fetch: plain.fetch }).health.live()).rejects.toBeInstanceOf(ConflictError);
    expect(plain.calls).toHaveLength(1);
    const inFlight = scriptedFetch([errorReply(409, 'idempotency_in_progress', { 'retry-after': '0' }), jsonReply(200, { live: true })]);
    await expect(new Modelport({ baseUrl: BASE, fetch: inFlight.fetch }).health.live()).resolves.toEqual({ live: true });
    expect(inFlight.calls).toHaveLength(2);
  });

  it('retries connection errors and then reports a ConnectionError', async () => {
    const { fetch, calls } = scriptedFetch([new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') })]);
    const client = new Modelport({ baseUrl: BASE, fetch, maxRetries: 1 });
    const error = await client.health.live().catch((e) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.status).toBeUndefined();
    expect(calls).toHaveLength(2);
  });

  it('reports a refused connection to a real closed port as ConnectionError', async () => {
    const client = new Modelport({ baseUrl: 'http://127.0.0.1:9', maxRetries: 0 });
    await expect(client.health.live()).rejects.toBeInstanceOf(ConnectionError);
  });
});

describe('error mapping', () => {
  const table: [number, typeof APIError][] = [
    [400, BadRequestError],
    [401, AuthenticationError],
    [403, PermissionDeniedError],
    [404, NotFoundError],
    [409, ConflictError],
    [413, BadRequestError],
    [415, BadRequestError],
    [422, BadRequestError],
    [429, RateLimitError],
    [500, InternalServerError],
    [502, InternalServerError],
    [503, ServiceUnavailableError],
    [504, InternalServerError],
    [418, APIError],
  ];
  it.each(table)('%i becomes %o with status, code, details and request id', async (status, ErrorClass) => {
    const body = {
      error: 'bad thing',
      code: `code_${status}`,
      status,
      details: [{ path: '/inputs/0', message: 'is wrong' }],
      request_id: `rid-${status}`,
    };
    const { fetch } = scriptedFetch([jsonReply(status, body, { 'retry-after': '7' })]);
    // GET /v2 (a health probe would answer 400 and 503 as `false`: test/sdk-fidelity.test.ts).
    const error = await new Modelport({ baseUrl: BASE, fetch, maxRetries: 0 }).server.metadata().catch((e) => e);
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error.constructor).toBe(ErrorClass);
    expect(error).toMatchObject({
      status,
      code: `code_${status}`,
      requestId: `rid-${status}`,
      details: body.details,
      message: `${status} bad thing`,
    });
    if (error instanceof RateLimitError || error instanceof ServiceUnavailableError) expect(error.retryAfter).toBe(7);
  });

  it('keeps a non-JSON error body as text and takes the request id from the header', async () => {
    const { fetch } = scriptedFetch([new Response('<html>Bad Gateway</html>', { status: 502, headers: { 'x-request-id': 'proxy-1' } })]);
    const error = await new Modelport({ baseUrl: BASE, fetch, maxRetries: 0 }).health.live().catch((e) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error.body).toBe('<html>Bad Gateway</html>');
    expect(error.requestId).toBe('proxy-1');
    expect(error.code).toBeUndefined();
  });
});

describe('timeouts, abort and headers', () => {
  const slow = (ms: number) => async (input: RequestInfo | URL, init?: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
      const timer = setTimeout(() => resolve(jsonReply(200, { live: true })), ms);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(signal.reason);
      });
    });

  it('times out a slow call with TimeoutError', async () => {
    const client = new Modelport({ baseUrl: BASE, fetch: slow(2_000) as typeof fetch, timeout: 100, maxRetries: 0 });
    await expect(client.health.live()).rejects.toBeInstanceOf(TimeoutError);
  });

  it('per-call timeout overrides the client', async () => {
    const client = new Modelport({ baseUrl: BASE, fetch: slow(300) as typeof fetch, timeout: 50, maxRetries: 0 });
    await expect(client.health.live({ timeout: 5_000 })).resolves.toEqual({ live: true });
  });

  it('an AbortSignal cancels the call with its reason', async () => {
    const client = new Modelport({ baseUrl: BASE, fetch: slow(5_000) as typeof fetch });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user gave up')), 50);
    await expect(client.health.live({ signal: controller.signal })).rejects.toThrow('user gave up');
  });

  it('sends the API key, a request id and custom headers; exposes the response request id', async () => {
    const { fetch, calls } = scriptedFetch([jsonReply(200, { live: true }, { 'x-request-id': 'server-42' })]);
    const client = new Modelport({ baseUrl: `${BASE}/prefix/`, apiKey: 'mp_secret', fetch, headers: { 'x-team': 'a' } });
    const live = await client.health.live({ headers: { 'x-call': 'b' } });
    expect((live as unknown as { _request_id: string })._request_id).toBe('server-42');
    expect(JSON.stringify(live)).toBe('{"live":true}');
    const sent = calls[0]!;
    expect(sent.url).toBe(`${BASE}/prefix/v2/health/live`);
    expect(sent.headers.get('authorization')).toBe('Bearer mp_secret');
    expect(sent.headers.get('x-team')).toBe('a');
    expect(sent.headers.get('x-call')).toBe('b');
    expect(sent.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
