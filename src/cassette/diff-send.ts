/**
 * The drift report's requests to the server: plain fetch (browser-safe), each answer read whole
 * and timed. No answer at all to a metadata or alias read is a ConnectionError (or TimeoutError)
 * naming the server; for a re-sent infer request it is that request's failure, reported.
 */
import { ConnectionError, TimeoutError } from 'modelport';
import type { RecordedRequest } from './format';

export interface ServerAccess {
  /** The base URL, without a trailing slash. */
  against: string;
  fetch: typeof fetch;
  /** Added to every request (Authorization from the API key, the caller's headers). */
  headers: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** Each answer must arrive within this, else it is no answer. */
  timeoutMs: number;
}

export interface JsonAnswer {
  status: number;
  text: string;
  json: unknown;
}

/** A GET whose answer is read whole. No answer throws a ConnectionError or TimeoutError naming the server. */
export async function getJson(access: ServerAccess, path: string): Promise<JsonAnswer> {
  let text: string;
  let status: number;
  const { signal, release } = withTimeout(access.signal, access.timeoutMs);
  try {
    const response = await access.fetch(`${access.against}${path}`, { headers: access.headers, signal });
    status = response.status;
    text = await response.text();
  } catch (error) {
    if (access.signal?.aborted) throw error;
    throw noAnswer(access, `GET ${path}`, error);
  } finally {
    release();
  }
  return { status, text, json: parseJson(text) };
}

export type Resent =
  | { answered: true; status: number; headers: Headers; bytes: Uint8Array; elapsedMs: number }
  | { answered: false; error: string };

/** POSTs a recorded request's exact body and recorded headers to `path`; the caller's abort is thrown, anything else is no answer. */
export async function resend(
  access: ServerAccess,
  path: string,
  request: Pick<RecordedRequest, 'query' | 'headers'>,
  body: Uint8Array,
): Promise<Resent> {
  const url = `${access.against}${path}${request.query ? `?${request.query}` : ''}`;
  const { signal, release } = withTimeout(access.signal, access.timeoutMs);
  const started = performance.now();
  try {
    const response = await access.fetch(url, {
      method: 'POST',
      headers: { ...request.headers, ...access.headers },
      body: body as Uint8Array<ArrayBuffer>,
      signal,
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    const elapsedMs = Math.round((performance.now() - started) * 1000) / 1000;
    return { answered: true, status: response.status, headers: response.headers, bytes, elapsedMs };
  } catch (error) {
    if (access.signal?.aborted) throw error;
    return { answered: false, error: noAnswer(access, `POST ${path}`, error).message };
  } finally {
    release();
  }
}

function noAnswer(access: ServerAccess, request: string, error: unknown): Error {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === 'TimeoutError') {
    return new TimeoutError(`${access.against} did not answer ${request} within ${access.timeoutMs} ms`, { cause: error });
  }
  const reason = cause?.code ?? cause?.message ?? (error as Error).message;
  return new ConnectionError(`${access.against} did not answer ${request}: ${reason}`, { cause: error });
}

/** The caller's signal or a timeout, whichever aborts first (AbortSignal.any is not in every Node 20); `release` when done. */
function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): { signal: AbortSignal; release(): void } {
  const timeout = AbortSignal.timeout(timeoutMs);
  if (!signal) return { signal: timeout, release() {} };
  const both = new AbortController();
  const fromCaller = () => both.abort(signal.reason);
  const fromTimeout = () => both.abort(timeout.reason);
  if (signal.aborted) fromCaller();
  signal.addEventListener('abort', fromCaller, { once: true });
  timeout.addEventListener('abort', fromTimeout, { once: true });
  return {
    signal: both.signal,
    release() {
      signal.removeEventListener('abort', fromCaller);
      timeout.removeEventListener('abort', fromTimeout);
    },
  };
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The `error` of a JSON error body, else the start of the text. */
export function errorText(answer: Pick<JsonAnswer, 'text' | 'json'>): string {
  const error = (answer.json as { error?: unknown } | null)?.error;
  if (typeof error === 'string') return error;
  const text = answer.text.replace(/\s+/g, ' ').trim();
  if (text === '') return '(empty body)';
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

/** Runs `run` on every item, `concurrency` at a time. */
export async function inPool<T>(items: readonly T[], concurrency: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
