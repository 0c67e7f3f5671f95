/**
 * The request engine: auth, request ids, retries with exponential backoff and jitter, per-call
 * overrides, and error mapping to our typed errors. Requests go straight to `fetch` (no Request
 * objects, clones or body streams: about 0.5 ms a call less than through ky); ky handles upload
 * progress and ReadableStream bodies, and is imported only when one of those is sent.
 */
import type { KyInstance } from 'ky';
import { APIError, ConnectionError, TimeoutError } from '../errors';
import { randomId } from './ids';

/**
 * How to reach the server. Every option may be left out, or given as `undefined` (as
 * `process.env.X` is when unset), which is the same as leaving it out.
 *
 * In Node (and Bun, and Deno when allowed to read the environment) `baseUrl` and `apiKey` that
 * are not given are read from the environment variables `MODELPORT_URL` and `MODELPORT_API_KEY`,
 * as openai-node reads `OPENAI_API_KEY`. An option that is given always wins over the
 * environment. Where there is no `process` (browsers, edge runtimes) nothing is read.
 */
export interface ClientOptions {
  /**
   * Server URL, e.g. `http://127.0.0.1:8700` or a KServe/Triton endpoint. Default: the
   * `MODELPORT_URL` environment variable in Node, else `http://127.0.0.1:8700`.
   */
  baseUrl?: string | undefined;
  /**
   * Sent as `Authorization: Bearer <apiKey>`. Default: the `MODELPORT_API_KEY` environment
   * variable in Node, else no key. `null` sends no key even when that variable is set.
   */
  apiKey?: string | null | undefined;
  /** Milliseconds to wait for each attempt. Default 60,000. */
  timeout?: number | undefined;
  /** Retries after the first attempt for retryable failures. Default 2. */
  maxRetries?: number | undefined;
  /** A custom fetch (tests, proxies, msw). Defaults to the global fetch. */
  fetch?: typeof globalThis.fetch | undefined;
  /** Extra headers sent with every request (an `undefined` value is not sent). */
  headers?: Record<string, string | undefined> | undefined;
}

/** Options every SDK call accepts as its last argument (`undefined` is the same as left out). */
export interface RequestOptions {
  /** Milliseconds to wait for each attempt of this call. */
  timeout?: number | undefined;
  /** Retries after the first attempt of this call. */
  maxRetries?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Extra headers for this call (an `undefined` value is not sent). */
  headers?: Record<string, string | undefined> | undefined;
  /**
   * Makes a POST safe to retry: the server performs it at most once per key. Calls that
   * create resources set one automatically; without one a POST is never retried.
   */
  idempotencyKey?: string | undefined;
}

/**
 * A request body as `fetch` takes it. (The DOM lib calls this `BodyInit`; it is spelled out here
 * so that apps compiled without the DOM lib type-check against the SDK.)
 */
export type RequestBody = string | Blob | FormData | URLSearchParams | ArrayBuffer | ArrayBufferView | ReadableStream<Uint8Array>;

/** Upload progress as the transport reports it. */
export interface TransferProgress {
  /** 0 to 1. */
  percent: number;
  transferredBytes: number;
  totalBytes: number;
}

export interface TransportRequest extends RequestOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path relative to the base URL, without a leading slash: `v2/health/live`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined> | undefined;
  json?: unknown;
  body?: RequestBody | undefined;
  onUploadProgress?: ((progress: TransferProgress, chunk: Uint8Array) => void) | undefined;
}

export const DEFAULT_BASE_URL = 'http://127.0.0.1:8700';
export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_RETRIES = 2;

/** 409 is retried only when the server says when (an idempotent request still in flight). */
const RETRY_STATUS_CODES = [408, 409, 429, 500, 502, 503, 504];
const RETRY_AFTER_STATUS_CODES = [409, 429, 503];
const IDEMPOTENT_METHODS = ['get', 'put', 'head', 'delete', 'options', 'trace'];
const MAX_RETRY_AFTER_MS = 60_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_LIMIT_MS = 8_000;

export class Transport {
  readonly baseUrl: string;
  /** Made on the first request that needs ky (upload progress or a stream body). */
  private ky: KyInstance | undefined;
  private readonly options: { timeout: number; maxRetries: number };
  /** The client's headers (API key, `headers` option), names lower-cased, built once. */
  private readonly defaultHeaders: Record<string, string>;
  private readonly customFetch: typeof globalThis.fetch | undefined;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl || readEnv('MODELPORT_URL') || DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.options = {
      timeout: options.timeout ?? DEFAULT_TIMEOUT_MS,
      maxRetries: options.maxRetries ?? DEFAULT_MAX_RETRIES,
    };
    const headers: Record<string, string> = {};
    mergeInto(headers, options.headers);
    const apiKey = options.apiKey === undefined ? readEnv('MODELPORT_API_KEY') : options.apiKey;
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    this.defaultHeaders = headers;
    this.customFetch = options.fetch;
  }

  /** Sends the request and parses a JSON response; the request id is attached as `_request_id`. */
  async json<T>(request: TransportRequest): Promise<T> {
    const response = await this.send(request);
    const text = await response.text();
    const data = (text ? JSON.parse(text) : undefined) as T;
    if (data && typeof data === 'object') {
      Object.defineProperty(data, '_request_id', { value: response.headers.get('x-request-id'), enumerable: false });
    }
    return data;
  }

  /** Sends the request and returns the successful Response (binary, text and stream bodies). */
  send(request: TransportRequest): Promise<Response> {
    if (request.onUploadProgress || isStream(request.body)) return this.sendWithKy(request);
    return this.sendDirect(request);
  }

  /**
   * The common path: one `fetch(url, init)` per attempt with plain-object headers and the body as
   * given (a string for JSON), no Request objects, clones or body streams. Retries, backoff,
   * Retry-After, timeouts and aborts follow the same rules as the ky path below.
   */
  private async sendDirect(request: TransportRequest): Promise<Response> {
    const method = request.method;
    const retryable = request.idempotencyKey !== undefined || IDEMPOTENT_METHODS.includes(method.toLowerCase());
    const limit = request.maxRetries ?? this.options.maxRetries;
    const timeout = request.timeout ?? this.options.timeout;
    const signal = request.signal;
    if (timeout > MAX_SAFE_TIMEOUT) throw new RangeError(`The \`timeout\` option cannot be greater than ${MAX_SAFE_TIMEOUT}`);
    if (request.path.startsWith('/')) throw new Error('`path` must not begin with a slash');

    const headers: Record<string, string> = { ...this.defaultHeaders, 'x-request-id': randomId() };
    mergeInto(headers, request.headers);
    if (request.idempotencyKey !== undefined) headers['idempotency-key'] = request.idempotencyKey;
    let body = request.body as RequestInit['body'];
    if (request.json !== undefined) {
      body = JSON.stringify(request.json);
      headers['content-type'] ??= 'application/json';
    }
    let url = `${this.baseUrl}/${request.path}`;
    if (request.query) {
      const search = new URLSearchParams(definedEntries(request.query)).toString();
      if (search) url += `?${search}`;
    }

    for (let retryCount = 0; ; ) {
      let response: Response | undefined;
      let failure: unknown;
      try {
        response = await this.attempt(url, body === undefined ? { method, headers } : { method, headers, body }, timeout, signal);
        if (response.ok) return response;
      } catch (error) {
        failure = error;
      }
      if (signal?.aborted) {
        if (response) cancelBody(response);
        throw signal.reason ?? failure;
      }
      retryCount++;
      const wait = retryable && retryCount <= limit ? retryDelay(response, failure, retryCount) : undefined;
      if (wait === undefined) {
        if (response) throw await errorFromResponse(response);
        throw mapFailure(failure, method, url);
      }
      if (response) cancelBody(response);
      await sleep(Math.min(wait, MAX_SAFE_TIMEOUT), signal);
    }
  }

  /** One fetch, aborted after `timeout` ms (a TimeoutError) or when `signal` aborts. */
  private attempt(url: string, init: RequestInit, timeout: number, signal: AbortSignal | undefined): Promise<Response> {
    const controller = new AbortController();
    init.signal = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
    const pending = this.customFetch ? this.customFetch(url, init) : globalThis.fetch(url, init);
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        controller.abort();
        reject(new RequestTimeout());
      }, timeout);
      pending.then(
        (response) => {
          clearTimeout(timer);
          resolve(response);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /**
   * Upload progress and stream bodies go through ky (it wraps and re-reads the body stream),
   * imported here on first use, so that apps that never upload neither load nor run it.
   */
  private async sendWithKy(request: TransportRequest): Promise<Response> {
    const { default: ky, HTTPError, TimeoutError: KyTimeoutError } = await import('ky');
    this.ky ??= ky.create({
      prefixUrl: this.baseUrl,
      headers: this.defaultHeaders,
      ...(this.customFetch ? { fetch: this.customFetch } : {}),
    });
    const method = request.method.toLowerCase();
    const retryable = request.idempotencyKey !== undefined || IDEMPOTENT_METHODS.includes(method);
    const headers: Record<string, string | undefined> = { 'x-request-id': randomId(), ...request.headers };
    if (request.idempotencyKey !== undefined) headers['idempotency-key'] = request.idempotencyKey;
    const searchParams = request.query ? definedEntries(request.query) : undefined;
    try {
      return await this.ky(request.path, {
        method: request.method,
        headers,
        timeout: request.timeout ?? this.options.timeout,
        ...(request.signal ? { signal: request.signal } : {}),
        ...(searchParams ? { searchParams } : {}),
        ...(request.json !== undefined ? { json: request.json } : {}),
        ...(request.body !== undefined ? { body: request.body as NonNullable<RequestInit['body']> } : {}),
        ...(request.onUploadProgress ? { onUploadProgress: request.onUploadProgress } : {}),
        retry: {
          limit: request.maxRetries ?? this.options.maxRetries,
          methods: retryable ? [method] : [],
          statusCodes: RETRY_STATUS_CODES,
          afterStatusCodes: RETRY_AFTER_STATUS_CODES,
          maxRetryAfter: MAX_RETRY_AFTER_MS,
          backoffLimit: BACKOFF_LIMIT_MS,
          delay: backoff,
          jitter,
          shouldRetry: ({ error }) =>
            error instanceof HTTPError && error.response.status === 409 && !error.response.headers.has('retry-after')
              ? false
              : undefined,
        },
      });
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason ?? error;
      if (error instanceof HTTPError) throw await errorFromResponse(error.response);
      if (error instanceof KyTimeoutError) {
        throw new TimeoutError(`request timed out: ${error.request.method} ${error.request.url}`, { cause: error });
      }
      throw mapFailure(error, '', '');
    }
  }
}

const MAX_SAFE_TIMEOUT = 2_147_483_647;
const backoff = (attempt: number) => BACKOFF_BASE_MS * 2 ** (attempt - 1);
// Equal jitter: half the delay fixed, half random, so herds spread but never retry at once.
const jitter = (delay: number) => delay / 2 + Math.random() * (delay / 2);

/** The direct path's per-attempt timeout (mapped to our TimeoutError). */
class RequestTimeout extends Error {
  override name = 'TimeoutError';
}

/**
 * Milliseconds to wait before retry number `retryCount`, or undefined when this failure is not
 * retried. The same rules as ky's retry (which the upload path still uses): Retry-After (and the
 * rate-limit reset headers) on 409/429/503, capped at a minute; otherwise exponential backoff with
 * equal jitter up to 8 s; 409 only with Retry-After; timeouts and other statuses never.
 */
function retryDelay(response: Response | undefined, failure: unknown, retryCount: number): number | undefined {
  if (response) {
    const { status, headers } = response;
    if (status === 409 && !headers.has('retry-after')) return undefined;
    if (!RETRY_STATUS_CODES.includes(status)) return undefined;
    const retryAfter =
      headers.get('retry-after') ?? headers.get('ratelimit-reset') ?? headers.get('x-ratelimit-retry-after') ?? headers.get('x-ratelimit-reset') ?? headers.get('x-rate-limit-reset');
    if (retryAfter && RETRY_AFTER_STATUS_CODES.includes(status)) {
      let after = Number(retryAfter) * 1000;
      if (Number.isNaN(after)) after = Date.parse(retryAfter) - Date.now();
      else if (after >= Date.parse('2024-01-01')) after -= Date.now(); // a large number is a timestamp
      return after < MAX_RETRY_AFTER_MS ? after : MAX_RETRY_AFTER_MS;
    }
  } else if (failure instanceof RequestTimeout) {
    return undefined;
  }
  const delay = backoff(retryCount);
  let jittered = jitter(delay);
  if (!Number.isFinite(jittered) || jittered < 0) jittered = delay;
  return Math.min(BACKOFF_LIMIT_MS, jittered);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function cancelBody(response: Response): void {
  void response.body?.cancel().catch(() => undefined);
}

async function errorFromResponse(response: Response): Promise<unknown> {
  const text = await response.text().catch(() => '');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text, e.g. a proxy's HTML error page
  }
  return APIError.fromResponse(response.status, body, response.headers);
}

function mapFailure(error: unknown, method: string, url: string): unknown {
  if (error instanceof RequestTimeout) return new TimeoutError(`request timed out: ${method} ${url}`, { cause: error });
  if (error instanceof TypeError || (error instanceof Error && error.name === 'FetchError')) {
    const reason = error.cause instanceof Error ? error.cause.message : error.message;
    return new ConnectionError(`connection failed: ${reason}`, { cause: error });
  }
  return error;
}

function isStream(body: RequestBody | undefined): boolean {
  return typeof ReadableStream !== 'undefined' && body instanceof ReadableStream;
}

/** Copies headers with lower-cased names, so a later `Content-Type` replaces an earlier `content-type`. */
function mergeInto(target: Record<string, string>, headers: Record<string, string | undefined> | undefined): void {
  if (!headers) return;
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) target[name.toLowerCase()] = value;
  }
}

function definedEntries(query: Record<string, string | number | boolean | undefined>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) if (value !== undefined) result[key] = String(value);
  return result;
}

/**
 * `process.env[name]` where there is a `process` (Node, Bun, Deno), trimmed; undefined when
 * empty, where there is none (browsers, edge runtimes), or where reading it throws (Deno
 * without --allow-env).
 */
function readEnv(name: string): string | undefined {
  try {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
    return env?.[name]?.trim() || undefined;
  } catch {
    return undefined;
  }
}
