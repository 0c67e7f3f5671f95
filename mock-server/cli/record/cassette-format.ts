/**
 * Cassette format v1 (issue #21): one JSON Lines file, a header line, then one line per
 * interaction. Only these headers are ever written, so secrets (Authorization, X-API-Key,
 * cookies) cannot reach a cassette whatever a client sends.
 */
import type { IncomingHttpHeaders } from 'node:http';

export const CASSETTE_VERSION = 1;

/** A body as bytes would be lossy to read and JSON would be lossy for binary tensors: each gets its own form. */
export type CassetteBody = { json: unknown } | { base64: string };

export interface CassetteHeader {
  cassette: 'modelport';
  version: typeof CASSETTE_VERSION;
  recorded_at: string;
  upstream: string;
  /** `GET /v2` of the upstream at record time, or null when it did not answer with JSON. */
  server: unknown;
}

export interface RecordedModel {
  name: string;
  version: string | null;
  /** `GET /v2/models/<name>[/versions/<version>]` at record time, or null when that failed. */
  metadata: unknown;
}

export interface Interaction {
  type: 'interaction';
  seq: number;
  recorded_at: string;
  latency_ms: number;
  model: RecordedModel | null;
  request: { method: string; path: string; query: string; headers: Record<string, string>; body: CassetteBody | null };
  response: { status: number; headers: Record<string, string>; body: CassetteBody | null };
}

/** Alphabetical, so that lines are written with the keys in the order the SDK's serializer (src/cassette/format.ts) writes them. */
export const RECORDED_REQUEST_HEADERS = ['accept', 'content-type', 'inference-header-content-length'] as const;
export const RECORDED_RESPONSE_HEADERS = ['content-type', 'inference-header-content-length'] as const;

/** The listed headers present in `headers`, in the list's order (Node lowercases names); repeated ones joined as Node joins them. */
export function recordedHeaders(headers: IncomingHttpHeaders, names: readonly string[]): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of names) {
    const value = headers[name];
    if (value !== undefined) kept[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return kept;
}

/**
 * One line of the file. U+2028 and U+2029 are legal inside JSON strings but are line breaks to
 * some line readers (Python's `splitlines`), so they are escaped: a line is always one line.
 */
export function cassetteLine(entry: CassetteHeader | Interaction): string {
  return `${JSON.stringify(entry)
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')}\n`;
}
