/** The request journal (test controls): what the server received, for assertions. Never secrets. */
import type { components, operations } from 'modelport';
import type { HeaderBag } from '../http/request';

export type JournalEntry = components['schemas']['JournalEntry'];
/** GET /_mock/requests's query: `status` and `limit` arrive as numbers once validated, as strings from a raw query. */
export type JournalFilter = { [K in keyof JournalQuery]?: JournalQuery[K] | string };
type JournalQuery = NonNullable<operations['listJournal']['parameters']['query']>;
const MAX_ENTRIES = 10_000;
const MAX_BODY_CHARS = 64 * 1024;
const SECRET_HEADERS = new Set(['authorization', 'x-api-key', 'proxy-authorization', 'cookie']);

export class Journal {
  private entries: JournalEntry[] = [];

  record(entry: Omit<JournalEntry, 'headers' | 'body'> & { headers: HeaderBag; body: unknown; rawBytes?: number }): void {
    const headers: Record<string, string> = {};
    entry.headers.forEach((value, name) => {
      if (!SECRET_HEADERS.has(name)) headers[name] = value;
    });
    const { rawBytes, body, ...rest } = entry;
    const recorded: JournalEntry = { ...rest, headers };
    if (body !== undefined) recorded.body = truncate(body);
    else if (rawBytes) recorded.body = { binary_bytes: rawBytes };
    this.entries.push(recorded);
    if (this.entries.length > MAX_ENTRIES) this.entries.splice(0, this.entries.length - MAX_ENTRIES);
  }

  list(filter: JournalFilter): JournalEntry[] {
    const limit = filter.limit === undefined ? undefined : Number(filter.limit);
    const found = this.entries.filter(
      (e) =>
        (filter.operation === undefined || e.operation === filter.operation) &&
        (filter.method === undefined || e.method === filter.method.toUpperCase()) &&
        (filter.path === undefined || e.path.includes(filter.path)) &&
        (filter.model === undefined || e.model === filter.model) &&
        (filter.status === undefined || e.status === Number(filter.status)),
    );
    return limit === undefined ? found : found.slice(-limit);
  }

  clear(): void {
    this.entries = [];
  }
}

function truncate(body: unknown): unknown {
  const text = JSON.stringify(body);
  return text.length <= MAX_BODY_CHARS ? body : { truncated: true, bytes: text.length, start: text.slice(0, 1024) };
}
