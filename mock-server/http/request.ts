/**
 * What the server reads of a request. The node:http adapter builds it straight from the socket
 * (node-adapter.ts), without web objects per request; a fetch `Request` (msw, `handler(request)`)
 * is wrapped into the same shape (handler.ts).
 */

/** Request headers: names case-insensitive, repeated headers joined with `, ` (as `Headers` does). */
export interface HeaderBag {
  get(name: string): string | null;
  /** Every header, lower-case names in sorted order. */
  forEach(callback: (value: string, name: string) => void): void;
}

export interface IncomingRequest {
  readonly method: string;
  /** The absolute URL. */
  readonly url: string;
  readonly headers: HeaderBag;
  /**
   * The whole body (empty for GET and HEAD). A Content-Length above `maxBytes`, or a body that
   * grows beyond it, is a 413; a body cut short by the client a 400 `malformed_body`.
   */
  bytes(maxBytes: number): Promise<Uint8Array>;
}
