/**
 * The request engine, on ky: the client's base URL, headers and `fetch`; per call a request id,
 * the idempotency key, the timeout and the retry policy (./retry.ts); ky's failures mapped to our
 * typed errors (../errors.ts). ky is loaded on the first request, so importing the SDK runs
 * nothing (ky's module probes the platform's Request when it loads).
 */
import type { KyInstance } from 'ky';
import { APIError, ConnectionError, TimeoutError } from '../errors';
import { randomId } from './ids';
import { retryPolicy } from './retry';

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

/** ky and the error classes the transport maps, loaded together on the first request. */
interface Engine {
  ky: KyInstance;
  isHTTPError: typeof import('ky').isHTTPError;
  isTimeoutError: typeof import('ky').isTimeoutError;
}

export class Transport {
  readonly baseUrl: string;
  private readonly options: { timeout: number; maxRetries: number };
  /** The client's headers (API key, `headers` option), names lower-cased, built once. */
  private readonly defaultHeaders: Record<string, string>;
  private readonly customFetch: typeof globalThis.fetch | undefined;
  private engine: Promise<Engine> | undefined;

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
  async send(request: TransportRequest): Promise<Response> {
    if (request.path.startsWith('/')) throw new Error('`path` must not begin with a slash');
    const engine = await (this.engine ??= this.start());
    // One request id for every attempt: the server's logs tie the retries together.
    const headers: Record<string, string> = { 'x-request-id': randomId() };
    mergeInto(headers, request.headers);
    if (request.idempotencyKey !== undefined) headers['idempotency-key'] = request.idempotencyKey;
    let body = request.body;
    if (request.json !== undefined) {
      body = JSON.stringify(request.json);
      headers['content-type'] ??= 'application/json';
    }
    const searchParams = request.query && definedEntries(request.query);
    // ky needs the body in its Request to report upload progress, or to tee a stream for retries.
    const kyCarriesBody = request.onUploadProgress !== undefined || isStream(body);
    try {
      return await engine.ky(request.path, {
        method: request.method,
        headers,
        timeout: request.timeout ?? this.options.timeout,
        retry: retryPolicy(request.method, request.maxRetries ?? this.options.maxRetries, request.idempotencyKey),
        ...(request.signal ? { signal: request.signal } : {}),
        ...(searchParams ? { searchParams } : {}),
        ...(kyCarriesBody ? { body: body as NonNullable<RequestInit['body']> } : { fetch: this.fetchWith(body) }),
        ...(request.onUploadProgress ? { onUploadProgress: request.onUploadProgress } : {}),
      });
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason ?? error;
      if (engine.isHTTPError(error)) throw await errorFromResponse(error.response);
      if (engine.isTimeoutError(error)) {
        throw new TimeoutError(`request timed out: ${error.request.method} ${error.request.url}`, { cause: error });
      }
      throw mapFailure(error);
    }
  }

  /**
   * ky's `fetch` for one call: each attempt ky makes is sent with `body` as given. In ky's Request
   * a body becomes a stream, teed for retries and read back chunk by chunk (BENCHMARKS.md, "SDK":
   * that cost the predict call more than its whole 5 % budget); a string, bytes, Blob or form
   * can be sent again as it is. ky still makes every attempt, with its timeout, signal and hooks.
   */
  private fetchWith(body: RequestBody | undefined): typeof globalThis.fetch {
    return (input, init) => {
      const request = input as Request;
      const parts: RequestInit = { ...init, method: request.method, headers: request.headers, signal: request.signal };
      if (body !== undefined) parts.body = body as NonNullable<RequestInit['body']>;
      return this.customFetch ? this.customFetch(request.url, parts) : globalThis.fetch(request.url, parts);
    };
  }

  private async start(): Promise<Engine> {
    const { default: ky, isHTTPError, isTimeoutError } = await import('ky');
    const instance = ky.create({
      prefixUrl: this.baseUrl,
      headers: this.defaultHeaders,
      ...(this.customFetch ? { fetch: this.customFetch } : {}),
      hooks: {
        beforeRetry: [
          ({ error }) => {
            // A failed response that is retried is never read: cancel it, so its connection is reused.
            if (isHTTPError(error)) void error.response.body?.cancel().catch(() => undefined);
          },
        ],
      },
    });
    return { ky: instance, isHTTPError, isTimeoutError };
  }
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

/** A failure without a response: fetch's TypeError (undici's cause says why) is a ConnectionError. */
function mapFailure(error: unknown): unknown {
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

/** The query without its undefined values; undefined when none is left (no bare `?`). */
function definedEntries(query: Record<string, string | number | boolean | undefined>): Record<string, string> | undefined {
  let result: Record<string, string> | undefined;
  for (const [key, value] of Object.entries(query)) if (value !== undefined) (result ??= {})[key] = String(value);
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
