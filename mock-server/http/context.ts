/** What every route handler receives: the parsed request and the server's shared state. */
import type { KeyStore, Principal } from '../auth/keys';
import type { RateLimiter } from '../auth/rate-limit';
import type { UsageMeter } from '../auth/usage';
import type { Contract, Operation } from '../contract/contract';
import type { FaultInjector } from '../test-controls/faults';
import type { Journal } from '../test-controls/journal';
import type { IdempotencyStore } from '../middleware/idempotency';
import type { Runtime } from '../runtime/backend';
import type { RouteResult } from './respond';
import type { ModelManager } from '../serving/version-service';
import type { TrainingJobs } from '../training/jobs';

export interface ServerOptions {
  /** Require API keys (default true). */
  auth?: boolean;
  /** The bootstrap admin key; default MODELPORT_API_KEY, else one is generated. */
  apiKey?: string;
  /** Test controls under /_mock (default false here; startMockServer and msw mode turn them on). */
  mockControls?: boolean;
  /** Origins allowed by CORS ('*' for any); default none. */
  cors?: string[] | '*';
  /** Largest accepted request body in bytes (default 64 MiB). */
  maxBodyBytes?: number;
  /** Largest accepted model upload in bytes (default 512 MiB); archives may expand to 4×. */
  maxUploadBytes?: number;
  /** Inference requests one model may have in flight before 503 + Retry-After (default 1024). */
  maxInFlightPerModel?: number;
  /** Rate limit for keys that have none of their own (default none). */
  defaultRateLimit?: { requests_per_second: number; burst?: number };
}

export interface ServerState {
  readonly contract: Contract;
  readonly runtime: Runtime;
  readonly options: Required<Omit<ServerOptions, 'apiKey' | 'defaultRateLimit'>> & Pick<ServerOptions, 'defaultRateLimit'>;
  readonly version: string;
  readonly models: ModelManager;
  readonly training: TrainingJobs;
  readonly keys: KeyStore;
  readonly rateLimiter: RateLimiter;
  readonly usage: UsageMeter;
  readonly faults: FaultInjector;
  readonly journal: Journal;
  readonly idempotency: IdempotencyStore;
  /** Inference requests in flight per model. */
  readonly inFlight: Map<string, number>;
  /** False while start-up work (model loading) is still running. */
  ready: boolean;
}

/** Request headers: names case-insensitive, repeated headers joined with `, ` (as `Headers` does). */
export interface HeaderBag {
  get(name: string): string | null;
  /** Every header, lower-case names in sorted order. */
  forEach(callback: (value: string, name: string) => void): void;
}

/**
 * What the app reads of a request: a fetch `Request` (msw, `handler(request)`) or a node:http
 * request read directly (http.ts), without building web objects per request.
 */
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
