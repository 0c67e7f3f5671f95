/** Cursor pagination for /v1 lists: `limit` and `after` in, `{ data, next_cursor }` out. */
import { badRequest } from './errors';

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** Items must be sorted by `key`; the cursor is the key of the last item of the previous page. */
export function paginate<T>(
  items: T[],
  key: (item: T) => string | number,
  query: Record<string, string>,
  order: 'ascending' | 'descending' = 'ascending',
): Page<T> {
  const direction = order === 'ascending' ? 1 : -1;
  const limit = query.limit === undefined ? 20 : Number(query.limit);
  let start = 0;
  if (query.after !== undefined) {
    const after = decodeCursor(query.after);
    start = items.findIndex((item) => direction * compare(key(item), after) > 0);
    if (start < 0) start = items.length;
  }
  const data = items.slice(start, start + limit);
  const more = start + limit < items.length;
  return { data, next_cursor: more && data.length ? encodeCursor(key(data.at(-1)!)) : null };
}

function encodeCursor(key: string | number): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeCursor(cursor: string): string | number {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof value === 'string' || typeof value === 'number') return value;
  } catch {
    // fall through
  }
  throw badRequest(
    'the cursor is not one this server issued',
    [{ path: 'query/after', message: 'is not a valid cursor' }],
    'invalid_cursor',
  );
}

function compare(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}
