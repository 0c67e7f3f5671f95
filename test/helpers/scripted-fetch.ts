/** A fetch that answers from a script and records every call, for transport tests. */
export interface RecordedCall {
  method: string;
  url: string;
  headers: Headers;
  at: number;
}

export type Reply = Response | (() => Response | Promise<Response>) | Error;

export function scriptedFetch(replies: Reply[]) {
  const calls: RecordedCall[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    calls.push({ method: request.method, url: request.url, headers: request.headers, at: Date.now() });
    const reply = replies[Math.min(calls.length - 1, replies.length - 1)]!;
    if (reply instanceof Error) throw reply;
    return typeof reply === 'function' ? reply() : reply.clone();
  };
  return { fetch: fetch as typeof globalThis.fetch, calls };
}

export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

export function errorReply(status: number, code: string, headers: Record<string, string> = {}): Response {
  return jsonReply(status, { error: `${code} happened`, code, status, request_id: `req-${status}` }, headers);
}
