/**
 * The request journal (test controls): what the server received, for assertions. Never secrets.
 *
 * Bounded in bytes, not only in entries: each entry is kept as its JSON text, a body as its first
 * MAX_BODY_CHARS characters at most (measured while it is written, so a 60 MB body is never
 * stringified whole), and the oldest entries go once the texts add up to `maxBytes`. A listing
 * answers the newest matching entries up to MAX_LIST_BYTES.
 */
import type { components, operations } from 'modelport';
import type { HeaderBag } from '../http/request';
import { boundedJson } from './bounded-json';

export type JournalEntry = components['schemas']['JournalEntry'];
/** GET /_mock/requests's query: `status` and `limit` arrive as numbers once validated, as strings from a raw query. */
export type JournalFilter = { [K in keyof JournalQuery]?: JournalQuery[K] | string };
type JournalQuery = NonNullable<operations['listJournal']['parameters']['query']>;

const MAX_ENTRIES = 10_000;
/** A body whose JSON is longer is kept as `{truncated, bytes, start}`. */
export const MAX_BODY_CHARS = 8 * 1024;
const BODY_START_CHARS = 1024;
/** The most one listing answers, in characters of entries (the newest matching ones). */
export const MAX_LIST_BYTES = 8 * 1024 * 1024;
const SECRET_HEADERS = new Set(['authorization', 'x-api-key', 'proxy-authorization', 'cookie']);

/** An entry as kept: what the filters look at, and the whole entry as JSON text. */
interface Kept {
  operation: string | undefined;
  method: string;
  path: string;
  model: string | undefined;
  status: number;
  text: string;
}

export class Journal {
  private entries: Kept[] = [];
  /** Index of the oldest live entry: dropping from the front is a counter, compacted now and then. */
  private first = 0;
  private bytes = 0;
  private readonly maxBytes: number;

  constructor(options: { maxBytes: number }) {
    this.maxBytes = options.maxBytes;
  }

  record(
    entry: Omit<JournalEntry, 'headers' | 'body'> & { headers: HeaderBag; body: unknown; rawBytes?: number; declaredBytes?: number },
  ): void {
    const headers: Record<string, string> = {};
    entry.headers.forEach((value, name) => {
      if (!SECRET_HEADERS.has(name)) headers[name] = value;
    });
    const { rawBytes, declaredBytes, body, ...rest } = entry;
    let bodyText: string | undefined;
    if (body !== undefined) bodyText = bodyJson(body, declaredBytes);
    else if (rawBytes) bodyText = JSON.stringify({ binary_bytes: rawBytes });
    const head = JSON.stringify({ ...rest, headers });
    const text = bodyText === undefined ? head : `${head.slice(0, -1)},"body":${bodyText}}`;
    this.entries.push({ operation: rest.operation, method: rest.method, path: rest.path, model: rest.model, status: rest.status, text });
    this.bytes += text.length;
    while (this.entries.length - this.first > MAX_ENTRIES || (this.bytes > this.maxBytes && this.entries.length - this.first > 1)) {
      this.bytes -= this.entries[this.first]!.text.length;
      this.first += 1;
    }
    if (this.first > 1024 && this.first * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.first);
      this.first = 0;
    }
  }

  /** The newest matching entries (at most `limit`), as many as fit in MAX_LIST_BYTES, oldest first. */
  list(filter: JournalFilter): JournalEntry[] {
    const limit = filter.limit === undefined ? Infinity : Number(filter.limit);
    const method = filter.method?.toUpperCase();
    const status = filter.status === undefined ? undefined : Number(filter.status);
    const found: JournalEntry[] = [];
    let size = 0;
    for (let i = this.entries.length - 1; i >= this.first && found.length < limit; i--) {
      const e = this.entries[i]!;
      const matches =
        (filter.operation === undefined || e.operation === filter.operation) &&
        (method === undefined || e.method === method) &&
        (filter.path === undefined || e.path.includes(filter.path)) &&
        (filter.model === undefined || e.model === filter.model) &&
        (status === undefined || e.status === status);
      if (!matches) continue;
      size += e.text.length;
      if (size > MAX_LIST_BYTES && found.length > 0) break;
      found.push(JSON.parse(e.text) as JournalEntry);
    }
    return found.reverse();
  }

  /** Characters the kept entries take (their JSON text). */
  get size(): number {
    return this.bytes;
  }

  clear(): void {
    this.entries = [];
    this.first = 0;
    this.bytes = 0;
  }
}

/** The body's JSON when short; else its start, written only as far as needed. */
function bodyJson(body: unknown, declaredBytes: number | undefined): string {
  const { text, complete } = boundedJson(body, MAX_BODY_CHARS);
  if (complete) return text;
  return JSON.stringify({
    truncated: true,
    ...(declaredBytes !== undefined ? { bytes: declaredBytes } : {}),
    start: text.slice(0, BODY_START_CHARS),
  });
}
