/**
 * Cassette format v1: one JSON Lines file (UTF-8, one JSON object per line), diff-friendly and
 * append-only while recording. Line 1 is the header; every other line is one interaction:
 *
 *   {"cassette":"modelport","version":1,"recorded_at":"<ISO>","upstream":"<base URL>","server":<GET /v2 body or null>}
 *   {"type":"interaction","seq":1,"recorded_at":"<ISO>","latency_ms":12.5,
 *    "model":{"name":"iris","version":"1","metadata":{...}} | null,
 *    "request":{"method":"POST","path":"/v2/models/iris/infer","query":"","headers":{...},"body":<Body|null>},
 *    "response":{"status":200,"headers":{...},"body":<Body|null>}}
 *
 * A Body is `{"json": value}` for a JSON body, else `{"base64": "<exact bytes>"}` (binary tensor
 * bodies, anything that is not JSON, JSON whose numbers a float64 would not keep exactly). Only the
 * headers below are ever written: never Authorization, X-API-Key, Cookie or Set-Cookie.
 *
 * No `node:` import and no Buffer: this module runs in browsers (replay in a service worker).
 */
import { HEADER_LENGTH_HEADER, ModelportError } from 'modelport';

export const CASSETTE_VERSION = 1;

/** The only request headers a cassette keeps (lowercased): what decoding and content negotiation need. */
export const RECORDED_REQUEST_HEADERS: readonly string[] = ['content-type', HEADER_LENGTH_HEADER, 'accept'];
/** The only response headers a cassette keeps (lowercased). */
export const RECORDED_RESPONSE_HEADERS: readonly string[] = ['content-type', HEADER_LENGTH_HEADER];

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A body, exactly: parsed JSON (numbers are float64 text, so exact), or the raw bytes in base64. */
export type Body = { json: JsonValue } | { base64: string };

export interface CassetteHeader {
  cassette: 'modelport';
  version: typeof CASSETTE_VERSION;
  recorded_at: string;
  /** The base URL recorded from, without credentials. */
  upstream: string;
  /** The upstream's `GET /v2` body at record time, or null. */
  server: JsonValue;
}

export interface RecordedModel {
  name: string;
  version: string | null;
  /** `GET /v2/models/<name>[/versions/<version>]` at record time, or null. */
  metadata: JsonValue;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** The raw query string without `?`, or ''. */
  query: string;
  headers: Record<string, string>;
  body: Body | null;
}

export interface RecordedResponse {
  status: number;
  headers: Record<string, string>;
  body: Body | null;
}

export interface Interaction {
  type: 'interaction';
  /** From 1, unique in a cassette (lines may be deleted by hand, so not necessarily consecutive). */
  seq: number;
  recorded_at: string;
  latency_ms: number;
  model: RecordedModel | null;
  request: RecordedRequest;
  response: RecordedResponse;
}

export interface Cassette {
  header: CassetteHeader;
  interactions: Interaction[];
}

/** A cassette that cannot be read: `line` is 1-based, as an editor shows it. */
export class CassetteFormatError extends ModelportError {
  override name = 'CassetteFormatError';
  constructor(
    readonly line: number,
    problem: string,
  ) {
    super(`cassette line ${line}: ${problem}`);
  }
}

/** Reads a cassette file's text. Blank lines are skipped; a line that is not v1 is a CassetteFormatError naming it. */
export function parseCassette(text: string): Cassette {
  // An editor's byte order mark is not part of the header's JSON.
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let header: CassetteHeader | undefined;
  const interactions: Interaction[] = [];
  const seqLines = new Map<number, number>();
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new CassetteFormatError(line, `not valid JSON (${(error as Error).message})`);
    }
    if (header === undefined) {
      header = checkHeader(value, line);
      return;
    }
    const interaction = checkInteraction(value, line);
    const earlier = seqLines.get(interaction.seq);
    if (earlier !== undefined) throw new CassetteFormatError(line, `seq ${interaction.seq} is already used on line ${earlier}`);
    seqLines.set(interaction.seq, line);
    interactions.push(interaction);
  });
  if (header === undefined) throw new CassetteFormatError(1, 'the cassette is empty: the first line must be its header');
  return { header, interactions };
}

/** The header line, newline included: the first thing written to a cassette file. Credentials in the upstream URL are dropped. */
export function serializeHeader(header: Omit<CassetteHeader, 'cassette' | 'version'>): string {
  const ordered: CassetteHeader = {
    cassette: 'modelport',
    version: CASSETTE_VERSION,
    recorded_at: header.recorded_at,
    upstream: withoutCredentials(header.upstream),
    server: header.server ?? null,
  };
  return jsonLine(ordered);
}

/**
 * One interaction line, newline included, ready to append. Keys are written in the format's order
 * (stable diffs), and headers other than the recorded ones are dropped here too, so that a secret
 * never reaches the file whatever the caller passed.
 */
export function serializeInteraction(interaction: Omit<Interaction, 'type'>): string {
  const { request, response, model } = interaction;
  const ordered: Interaction = {
    type: 'interaction',
    seq: interaction.seq,
    recorded_at: interaction.recorded_at,
    latency_ms: interaction.latency_ms,
    model: model === null ? null : { name: model.name, version: model.version ?? null, metadata: model.metadata ?? null },
    request: {
      method: request.method.toUpperCase(),
      path: request.path,
      query: request.query,
      headers: pickHeaders(request.headers, RECORDED_REQUEST_HEADERS),
      body: request.body,
    },
    response: { status: response.status, headers: pickHeaders(response.headers, RECORDED_RESPONSE_HEADERS), body: response.body },
  };
  return jsonLine(ordered);
}

/**
 * A value as one line. U+2028 and U+2029 are legal inside JSON strings but are line breaks to some
 * line readers (Python's `splitlines`, editors), so they are escaped: a line is always one line.
 */
function jsonLine(value: CassetteHeader | Interaction): string {
  return `${JSON.stringify(value)
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')}\n`;
}

/** The `allowed` headers (lowercased names, sorted for stable diffs), from a plain object or a `Headers`. */
export function pickHeaders(headers: Record<string, string> | Headers, allowed: readonly string[]): Record<string, string> {
  const kept = Object.entries(lowercaseHeaders(headers))
    .filter(([name]) => allowed.includes(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(kept);
}

function lowercaseHeaders(headers: Record<string, string> | Headers): Record<string, string> {
  const lowered: Record<string, string> = {};
  if (headers instanceof Headers) headers.forEach((value, name) => (lowered[name] = value));
  else for (const [name, value] of Object.entries(headers)) lowered[name.toLowerCase()] = String(value);
  return lowered;
}

/** A whole cassette file's text: the header line, then one line per interaction, in the order given. */
export function serializeCassette(cassette: Cassette): string {
  return serializeHeader(cassette.header) + cassette.interactions.map(serializeInteraction).join('');
}

/**
 * A body as the cassette stores it: null when empty; `{ json }` when it is JSON (and not a binary
 * tensor body, which has an Inference-Header-Content-Length) and parsing keeps every number
 * exactly; else `{ base64 }`.
 */
export function bodyFromBytes(bytes: Uint8Array | null | undefined, headers: Record<string, string> | Headers = {}): Body | null {
  if (!bytes || bytes.byteLength === 0) return null;
  if (!(HEADER_LENGTH_HEADER in lowercaseHeaders(headers))) {
    const json = exactJson(bytes);
    if (json !== undefined) return { json: json.value };
  }
  return { base64: encodeBase64(bytes) };
}

/** The bytes a body stands for: the exact bytes of a base64 body, the JSON text of a JSON body, nothing for null. */
export function bytesOfBody(body: Body | null): Uint8Array {
  if (body === null) return new Uint8Array(0);
  if ('base64' in body) return decodeBase64(body.base64);
  return new TextEncoder().encode(JSON.stringify(body.json));
}

// A JSON string, or a number: strings are matched whole so that digits inside them are not taken for numbers.
// The string part is written as an unrolled loop: `(?:[^"\\]|\\.)*` overflows V8's regexp stack on a string of some MB.
const JSON_TOKEN = /"[^"\\]*(?:\\.[^"\\]*)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/**
 * The parsed value of a UTF-8 JSON text, or undefined when it is not JSON or a float64 would not keep
 * one of its numbers (an integer beyond 2^53, such as an INT64 tensor element, -0, or a number that
 * overflows to Infinity): such a body goes to base64 instead, because the cassette never loses data.
 */
function exactJson(bytes: Uint8Array): { value: JsonValue } | undefined {
  let text: string;
  let value: JsonValue;
  try {
    // ignoreBOM keeps a leading byte order mark in the text, so such a body is not JSON and keeps its 3 bytes in base64.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    value = JSON.parse(text) as JsonValue;
  } catch {
    return undefined;
  }
  for (const [token] of text.matchAll(JSON_TOKEN)) {
    if (token.startsWith('"')) continue;
    const number = Number(token);
    // -0 would come back as 0: the sign of a zero is data (1/x, a float tensor's exact bits).
    if (!Number.isFinite(number) || Object.is(number, -0)) return undefined;
    if (!/[.eE]/.test(token) && !Number.isSafeInteger(number)) return undefined;
  }
  return { value };
}

function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}

// btoa/atob work on "binary strings" (one char per byte); chunks keep String.fromCharCode's argument list short.
const CHUNK = 0x8000;

export function encodeBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.byteLength; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

export function decodeBase64(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// ---- Validation of parsed lines: each failure names the line and the field.

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkHeader(value: unknown, line: number): CassetteHeader {
  if (!isObject(value) || value.cassette !== 'modelport') {
    throw new CassetteFormatError(line, 'the first line must be the header {"cassette":"modelport","version":1,...}');
  }
  if (value.version !== CASSETTE_VERSION) {
    throw new CassetteFormatError(
      line,
      `cassette version ${JSON.stringify(value.version)} is not supported (this modelport reads version 1)`,
    );
  }
  requireString(value, 'recorded_at', line, 'header');
  requireString(value, 'upstream', line, 'header');
  return { ...value, server: value.server ?? null } as unknown as CassetteHeader;
}

function checkInteraction(value: unknown, line: number): Interaction {
  if (!isObject(value) || value.type !== 'interaction') {
    throw new CassetteFormatError(line, 'expected an interaction ({"type":"interaction",...}); a cassette has one header, on line 1');
  }
  if (!Number.isInteger(value.seq) || (value.seq as number) < 1) throw new CassetteFormatError(line, 'seq must be an integer from 1');
  requireString(value, 'recorded_at', line, 'interaction');
  if (typeof value.latency_ms !== 'number') throw new CassetteFormatError(line, 'latency_ms must be a number');
  checkModel(value.model, line);
  const request = requireObject(value.request, 'request', line);
  requireString(request, 'method', line, 'request');
  if (typeof request.path !== 'string' || !request.path.startsWith('/')) {
    throw new CassetteFormatError(line, 'request.path must be a string starting with "/"');
  }
  requireString(request, 'query', line, 'request');
  checkHeaders(request.headers, 'request.headers', line);
  checkBody(request.body, 'request.body', line);
  const response = requireObject(value.response, 'response', line);
  if (!Number.isInteger(response.status)) throw new CassetteFormatError(line, 'response.status must be an integer');
  checkHeaders(response.headers, 'response.headers', line);
  checkBody(response.body, 'response.body', line);
  return value as unknown as Interaction;
}

function checkModel(model: unknown, line: number): void {
  if (model === null) return;
  const fields = requireObject(model, 'model', line);
  requireString(fields, 'name', line, 'model');
  if (fields.version !== null && typeof fields.version !== 'string')
    throw new CassetteFormatError(line, 'model.version must be a string or null');
}

function checkHeaders(headers: unknown, where: string, line: number): void {
  const fields = requireObject(headers, where, line);
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value !== 'string') throw new CassetteFormatError(line, `${where}.${name} must be a string`);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function checkBody(body: unknown, where: string, line: number): void {
  if (body === null) return;
  const fields = requireObject(body, where, line);
  const keys = Object.keys(fields);
  if (keys.length === 1 && keys[0] === 'json') return;
  if (keys.length === 1 && keys[0] === 'base64' && typeof fields.base64 === 'string' && BASE64.test(fields.base64)) {
    if (fields.base64.length % 4 === 0) return;
  }
  throw new CassetteFormatError(line, `${where} must be null, {"json": <value>} or {"base64": "<base64 text>"}`);
}

function requireObject(value: unknown, where: string, line: number): Fields {
  if (!isObject(value)) throw new CassetteFormatError(line, `${where} must be an object`);
  return value;
}

function requireString(fields: Fields, key: string, line: number, where: string): void {
  if (typeof fields[key] !== 'string') throw new CassetteFormatError(line, `${where}.${key} must be a string`);
}
