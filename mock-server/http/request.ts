/**
 * What the server reads of a request. The node:http adapter builds it straight from the socket
 * (node-adapter.ts), without web objects per request; a fetch `Request` (msw, `handler(request)`)
 * is wrapped into the same shape (handler.ts).
 */

/**
 * How long a body may take: a client that sends nothing for `idleMs`, or has not sent all of it
 * after `totalMs`, is answered 408 and its connection closed, so a stalled upload holds a socket
 * for a bounded time and never a model's admission slot (those are taken once the body is in).
 * `onChunk` sees each chunk's size as it arrives; an error it throws ends the read with that error.
 */
export interface BodyLimits {
  idleMs: number;
  totalMs: number;
  onChunk?(byteLength: number): void;
}

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
   * grows beyond it, is a 413; a body cut short by the client a 400 `malformed_body`; one that
   * stalls past `limits` a 408 `request_timeout` (and its connection is closed).
   */
  bytes(maxBytes: number, limits?: BodyLimits): Promise<Uint8Array>;
}
