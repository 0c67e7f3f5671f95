/**
 * The request engine: one ky instance per client, with auth, request ids, retries with
 * exponential backoff and jitter, per-call overrides, and error mapping to our typed errors.
 */
import ky, { HTTPError, TimeoutError as KyTimeoutError, type KyInstance, type Options as KyOptions } from 'ky';
import { APIError, ConnectionError, TimeoutError } from '../errors';
import { randomId } from './ids';

export interface ClientOptions {
  /** Server URL, e.g. `http://127.0.0.1:8700` or a KServe/Triton endpoint. */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Milliseconds to wait for each attempt. Default 60,000. */
  timeout?: number;
  /** Retries after the first attempt for retryable failures. Default 2. */
  maxRetries?: number;
  /** A custom fetch (tests, proxies, msw). Defaults to the global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
}

/** Options every SDK call accepts as its last argument. */
export interface RequestOptions {
  timeout?: number;
  maxRetries?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /**
   * Makes a POST safe to retry: the server performs it at most once per key. Calls that
   * create resources set one automatically; without one a POST is never retried.
   */
  idempotencyKey?: string;
}

export interface TransportRequest extends RequestOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path relative to the base URL, without a leading slash: `v2/health/live`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  body?: BodyInit;
  onUploadProgress?: KyOptions['onUploadProgress'];
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
  private readonly ky: KyInstance;
  private readonly options: Required<Pick<ClientOptions, 'timeout' | 'maxRetries'>>;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.options = {
      timeout: options.timeout ?? DEFAULT_TIMEOUT_MS,
      maxRetries: options.maxRetries ?? DEFAULT_MAX_RETRIES,
    };
    const headers: Record<string, string> = { ...options.headers };
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    this.ky = ky.create({
      prefixUrl: this.baseUrl,
      headers,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
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
  async send(request: TransportRequest): Promise<Response> {
    const method = request.method.toLowerCase();
    const retryable = request.idempotencyKey !== undefined || IDEMPOTENT_METHODS.includes(method);
    const headers: Record<string, string> = { 'x-request-id': randomId(), ...request.headers };
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
        ...(request.body !== undefined ? { body: request.body } : {}),
        ...(request.onUploadProgress ? { onUploadProgress: request.onUploadProgress } : {}),
        retry: {
          limit: request.maxRetries ?? this.options.maxRetries,
          methods: retryable ? [method] : [],
          statusCodes: RETRY_STATUS_CODES,
          afterStatusCodes: RETRY_AFTER_STATUS_CODES,
          maxRetryAfter: MAX_RETRY_AFTER_MS,
          backoffLimit: BACKOFF_LIMIT_MS,
          delay: (attempt) => BACKOFF_BASE_MS * 2 ** (attempt - 1),
          // Equal jitter: half the delay fixed, half random, so herds spread but never retry at once.
          jitter: (delay) => delay / 2 + Math.random() * (delay / 2),
          shouldRetry: ({ error }) =>
            error instanceof HTTPError && error.response.status === 409 && !error.response.headers.has('retry-after')
              ? false
              : undefined,
        },
      });
    } catch (error) {
      throw await toModelportError(error, request.signal);
    }
  }
}

async function toModelportError(error: unknown, signal: AbortSignal | undefined): Promise<unknown> {
  if (signal?.aborted) return signal.reason ?? error;
  if (error instanceof HTTPError) {
    const text = await error.response.text().catch(() => '');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text, e.g. a proxy's HTML error page
    }
    return APIError.fromResponse(error.response.status, body, error.response.headers);
  }
  if (error instanceof KyTimeoutError) {
    return new TimeoutError(`request timed out: ${error.request.method} ${error.request.url}`, { cause: error });
  }
  if (error instanceof TypeError || (error instanceof Error && error.name === 'FetchError')) {
    const reason = error.cause instanceof Error ? error.cause.message : error.message;
    return new ConnectionError(`connection failed: ${reason}`, { cause: error });
  }
  return error;
}

function definedEntries(query: Record<string, string | number | boolean | undefined>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) if (value !== undefined) result[key] = String(value);
  return result;
}
