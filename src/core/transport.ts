/**
 * The request engine, on ky: the client's base URL, headers and `fetch`; per call a request id,
 * the idempotency key, the timeout and the retry policy (./retry.ts); ky's failures mapped to our
 * typed errors (../errors.ts). ky is loaded on the first request, so importing the SDK runs
 * nothing (ky's module probes the platform's Request when it loads).
 */
import type { KyInstance } from 'ky';
import {
  APIError,
  ConfigurationError,
  ConnectionError,
  InvalidInputError,
  ModelportError,
  TimeoutError,
  UnexpectedResponseError,
} from '../errors';
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
  /**
   * The user's call as messages name it, e.g. `client.predict('iris')`, when this request is one
   * step of it (predict's metadata GET); default the method and URL of this request.
   */
  call?: string | undefined;
  /**
   * Error statuses that answer this call rather than fail it (a health probe's 400 or 503 "not
   * ready"): the response is returned as it is, and never retried.
   */
  answerStatuses?: readonly number[] | undefined;
}

export const DEFAULT_BASE_URL = 'http://127.0.0.1:8700';
export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_RETRIES = 2;

/** The longest timeout timers can wait (2^31 - 1 ms); ky refuses longer ones. */
const MAX_TIMEOUT_MS = 2_147_483_647;

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
    this.baseUrl = resolveBaseUrl(options.baseUrl);
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
    return withRequestId(await parseJsonBody<T>(response), response);
  }

  /** Sends the request and returns the successful Response (binary, text and stream bodies). */
  async send(request: TransportRequest): Promise<Response> {
    if (request.path.startsWith('/')) throw new InvalidInputError(`transport path '${request.path}' must not begin with a slash`);
    const timeout = request.timeout ?? this.options.timeout;
    if (!(timeout > 0 && timeout <= MAX_TIMEOUT_MS)) {
      throw new ConfigurationError(`timeout ${timeout} is not a number of milliseconds between 1 and ${MAX_TIMEOUT_MS}`);
    }
    const maxRetries = request.maxRetries ?? this.options.maxRetries;
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
    const answers = request.answerStatuses;
    let attempts = 1;
    try {
      return await engine.ky(request.path, {
        method: request.method,
        headers,
        timeout,
        retry: retryPolicy(request.method, maxRetries, request.idempotencyKey),
        hooks: { beforeRetry: [() => void attempts++] },
        ...(answers ? { throwHttpErrors: (status: number) => !answers.includes(status) } : {}),
        ...(request.signal ? { signal: request.signal } : {}),
        ...(searchParams ? { searchParams } : {}),
        ...(kyCarriesBody ? { body: body as NonNullable<RequestInit['body']> } : { fetch: this.fetchWith(body) }),
        ...(request.onUploadProgress ? { onUploadProgress: request.onUploadProgress } : {}),
      });
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason ?? error;
      if (engine.isHTTPError(error)) throw await errorFromResponse(error.response);
      const call = request.call ?? `${request.method} ${this.baseUrl}/${request.path}`;
      if (engine.isTimeoutError(error)) {
        const each = attempts > 1 ? ` on each of its ${attempts} attempts (maxRetries: ${maxRetries})` : '';
        throw new TimeoutError(`${call} timed out after ${timeout} ms (timeout option)${each}`, { cause: error });
      }
      throw mapFailure(error, call, this.baseUrl);
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

/**
 * A failure without a response is a ConnectionError: fetch's TypeError (undici's cause says why),
 * or whatever a custom `fetch` threw. In a web page calling another origin, fetch cannot tell a
 * server that is down from one that refused the page's origin (CORS): the message says both.
 */
function mapFailure(error: unknown, call: string, baseUrl: string): unknown {
  if (error instanceof ModelportError) return error;
  const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
  const pageOrigin = crossOriginPage(baseUrl);
  const cors =
    pageOrigin && error instanceof TypeError
      ? `. This page (${pageOrigin}) calls another origin: either the server is down, or it does not allow this origin ` +
        `(CORS; start modelport with --cors ${pageOrigin}, or allow the origin in your proxy); the browser console says which`
      : '';
  return new ConnectionError(`connection failed: ${call}: ${reason}${cors}`, { cause: error });
}

/** The origin of the web page this runs in, when `baseUrl` is on another origin; undefined outside pages. */
function crossOriginPage(baseUrl: string): string | undefined {
  const page = (globalThis as { document?: unknown; location?: { origin?: string } }).location;
  if (typeof (globalThis as { document?: unknown }).document === 'undefined' || typeof page?.origin !== 'string') return undefined;
  return new URL(baseUrl).origin === page.origin ? undefined : page.origin;
}

/** A successful response's JSON, or undefined when it has no body; a body that is not JSON is an UnexpectedResponseError. */
export async function parseJsonBody<T>(response: Response): Promise<T> {
  const text = await readBody(response, (r) => r.text());
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new UnexpectedResponseError(
      `${response.status} response from ${response.url || 'the server'} is not JSON (${(error as Error).message}): ${preview(text)}`,
      {
        status: response.status,
        headers: response.headers,
        requestId: response.headers.get('x-request-id') ?? undefined,
        body: text,
        cause: error,
      },
    );
  }
}

/**
 * Reads a successful response's body; a body that breaks off (the connection reset mid-body:
 * fetch's TypeError "terminated") is a ConnectionError. An abort stays the AbortError it is.
 */
export async function readBody<T>(response: Response, read: (response: Response) => Promise<T>): Promise<T> {
  try {
    return await read(response);
  } catch (error) {
    if (error instanceof ModelportError || (error as { name?: unknown })?.name === 'AbortError') throw error;
    const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    throw new ConnectionError(`the ${response.status} response from ${response.url || 'the server'} broke off: ${reason}`, {
      cause: error,
    });
  }
}

/** `data` with the response's `x-request-id` as a non-enumerable `_request_id` (objects only). */
export function withRequestId<T>(data: T, response: Response): T {
  if (data && typeof data === 'object') {
    Object.defineProperty(data, '_request_id', { value: response.headers.get('x-request-id'), enumerable: false });
  }
  return data;
}

function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat;
}

/**
 * The base URL from the option, else `MODELPORT_URL`, else the default, without trailing
 * slashes. An explicit option (even '') is used as given; it must be an absolute http(s) URL.
 */
function resolveBaseUrl(option: string | undefined): string {
  const fromEnv = option === undefined ? readEnv('MODELPORT_URL') : undefined;
  const value = option ?? fromEnv ?? DEFAULT_BASE_URL;
  const source = option !== undefined ? 'baseUrl' : fromEnv !== undefined ? 'MODELPORT_URL' : 'the default baseUrl';
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    const example = /^[\w.-]+(:\d+)?(\/|$)/.test(value) && !value.includes('://') ? `'http://${value}'` : `'http://127.0.0.1:8700'`;
    throw new ConfigurationError(`${source} '${value}' is not an http:// or https:// URL; give the scheme too, e.g. ${example}`);
  }
  return value.replace(/\/+$/, '');
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
