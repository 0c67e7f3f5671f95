/**
 * One request to the server under test and its answer, kept whole as the evidence of a check.
 * Plain fetch, not the SDK: the evidence is what the server sent, not what the SDK made of it.
 */

export interface Target {
  baseUrl: string;
  apiKey?: string | undefined;
  timeoutMs: number;
}

export interface Exchange {
  /** `GET /v2/health/live`: what the table shows as the request. */
  request: string;
  status: number;
  headers: Headers;
  bytes: Uint8Array;
  text: string;
  /** The body as JSON; undefined when it is empty or not JSON. */
  json: unknown;
}

/** The server did not answer (connection refused, reset, timed out). */
export class NoAnswer extends Error {}

export interface Send {
  json?: unknown;
  body?: Uint8Array;
  headers?: Record<string, string>;
}

export async function send(target: Target, method: string, path: string, init: Send = {}): Promise<Exchange> {
  const headers: Record<string, string> = { ...init.headers };
  if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`;
  let body: BodyInit | undefined;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  } else if (init.body) {
    body = init.body as Uint8Array<ArrayBuffer>;
  }
  const request = `${method} ${path}`;
  let response: Response;
  let bytes: Uint8Array;
  try {
    response = await fetch(`${target.baseUrl}${path}`, { method, headers, body, signal: AbortSignal.timeout(target.timeoutMs) });
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${target.timeoutMs} ms (--timeout)`
        : (cause?.code ?? cause?.message ?? String(error));
    throw new NoAnswer(`${request}: ${reason}`);
  }
  const text = new TextDecoder().decode(bytes);
  return { request, status: response.status, headers: response.headers, bytes, text, json: parseJson(text) };
}

function parseJson(text: string): unknown {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A body for the evidence column: compact, cut at `limit` characters; `empty body` when there is none. */
export function quote(exchange: Pick<Exchange, 'text' | 'json'>, limit = 120): string {
  if (!exchange.text) return 'empty body';
  const compact = exchange.json === undefined ? exchange.text.replace(/\s+/g, ' ').trim() : JSON.stringify(exchange.json);
  return compact.length > limit ? `${compact.slice(0, limit - 1)}…` : compact;
}

/** Any JSON value, cut for the evidence column. */
export function excerpt(value: unknown, limit = 80): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
