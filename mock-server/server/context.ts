/**
 * One request on its way through the server. The middleware (server/app.ts lists them) fill in an
 * `Exchange` as they learn about the request: its id, its operation, who calls, its body. The
 * route handler at the end of the list sees the same object as a `RequestContext`.
 */
import type { Principal } from '../auth/keys';
import type { Operation } from '../contract/contract';
import type { IncomingRequest } from '../http/request';
import { setHeader, type RouteResult } from '../http/respond';
import type { Fault } from '../test-controls/faults';
import type { ServerState } from './state';

/** What a route handler receives: the request, read and validated against openapi.yaml, and the server's state. */
export interface RequestContext {
  readonly request: IncomingRequest;
  readonly url: URL;
  readonly operation: Operation;
  readonly params: Record<string, string>;
  readonly query: Record<string, string>;
  /** Parsed JSON body (or the JSON header of a binary body); undefined when there is none. */
  readonly body: unknown;
  /** The raw body bytes for binary content types. */
  readonly rawBody: Uint8Array | undefined;
  readonly requestId: string;
  /** Who is calling (undefined when auth is off or the operation is public). */
  readonly principal: Principal | undefined;
  readonly state: ServerState;
}

export type RouteHandler = (context: RequestContext) => Promise<RouteResult> | RouteResult;
export type RouteTable = Record<string, RouteHandler>;

/**
 * A step of the request path: does its part, then calls `next(c)` once for the rest of the list
 * (or answers by itself), and may look at the answer on its way back.
 */
export type Middleware = (c: Exchange, next: Next) => Promise<RouteResult> | RouteResult;
export type Next = (c: Exchange) => Promise<RouteResult> | RouteResult;

const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * A request and what the middleware found out about it. Once routed it holds everything a
 * `RequestContext` does, and the route handler is given it as one (middleware/routing.ts).
 */
export class Exchange {
  /** When the request arrived, for the usage meter and the journal. */
  readonly started = performance.now();
  readonly url: URL;
  /** Where in the middleware list the request is (kept here so that `next` is one shared function). */
  step = 0;
  requestId = '';
  /** The operation of openapi.yaml: set by routing (middleware after it may rely on it); undefined before, or when no route matched. */
  operation: Operation | undefined = undefined;
  params = NO_PARAMS;
  query = NO_PARAMS;
  body: unknown = undefined;
  rawBody: Uint8Array | undefined = undefined;
  principal: Principal | undefined = undefined;
  /** The injected fault that took this request, if any (test controls). */
  fault: Fault | undefined = undefined;
  /** Headers for the answer, set before it exists: name, value, name, value… */
  private readonly answerHeaders: string[] = [];

  constructor(
    readonly request: IncomingRequest,
    readonly state: ServerState,
  ) {
    this.url = new URL(request.url);
  }

  /** Sets a header on whatever the answer turns out to be (an error body included). */
  header(name: string, value: string): void {
    this.answerHeaders.push(name, value);
  }

  /** The answer with the headers set for it, in the order they were set. */
  withAnswerHeaders(answer: RouteResult): RouteResult {
    const headers = this.answerHeaders;
    for (let i = 0; i < headers.length; i += 2) setHeader(answer, headers[i]!, headers[i + 1]!);
    return answer;
  }
}
