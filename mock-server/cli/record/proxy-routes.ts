/**
 * What the recording proxy sends on: every method under /v2 (the Open Inference Protocol), GET and
 * HEAD under /v1 (modelport's control plane, read-only: a recorder must not train, delete or mint
 * keys). Everything else is answered here with `{ error }` and never reaches the upstream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Refusal {
  status: number;
  error: string;
  headers?: Record<string, string>;
}

const READ_ONLY = new Set(['GET', 'HEAD']);

/** Why a request is not forwarded, or undefined when it is. `rawPath` is the path as sent, query excluded. */
export function refusalOf(method: string, rawPath: string): Refusal | undefined {
  // `/v2/../_mock/reset` would leave /v2 on a server that resolves dot segments.
  if (rawPath.split('/').some((segment) => ['.', '..'].includes(segment.replace(/%2e/gi, '.')))) {
    return { status: 400, error: `modelport record does not forward paths with '.' or '..' segments (${rawPath})` };
  }
  if (under('/v2', rawPath)) return undefined;
  if (under('/v1', rawPath)) {
    if (READ_ONLY.has(method)) return undefined;
    return {
      status: 405,
      error: `modelport record forwards /v1 read-only (GET and HEAD only): ${method} ${rawPath} was not sent to the upstream and not recorded`,
      headers: { allow: 'GET, HEAD' },
    };
  }
  return { status: 404, error: `modelport record forwards /v2 and read-only /v1 only: ${rawPath} was not sent to the upstream` };
}

function under(prefix: string, rawPath: string): boolean {
  return rawPath === prefix || rawPath.startsWith(`${prefix}/`);
}

/**
 * Answers with `{ error }`. A request whose body was not read closes its connection after the
 * answer, so the unread bytes are never taken for the next request.
 */
export function answerError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  error: string,
  headers: Record<string, string> = {},
) {
  const body = JSON.stringify({ error });
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(req.complete ? {} : { connection: 'close' }),
  });
  res.end(body);
  req.resume();
}
