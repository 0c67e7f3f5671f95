/** What every route handler receives: the parsed request and the server's shared state. */
import type { Contract, Operation } from './contract';
import type { Runtime } from './runtime/backend';
import type { ModelManager } from './runtime/model-manager';

export interface ServerOptions {
  /** Require API keys (default true; `startMockServer` tests often pass false). */
  auth?: boolean;
  /** Largest accepted request body in bytes (default 64 MiB). */
  maxBodyBytes?: number;
  /** Largest accepted model upload in bytes (default 512 MiB); archives may expand to 4×. */
  maxUploadBytes?: number;
}

export interface ServerState {
  readonly contract: Contract;
  readonly runtime: Runtime;
  readonly options: Required<ServerOptions>;
  readonly version: string;
  readonly models: ModelManager;
  /** False while start-up work (model loading) is still running. */
  ready: boolean;
}

export interface RequestContext {
  readonly request: Request;
  readonly url: URL;
  readonly operation: Operation;
  readonly params: Record<string, string>;
  readonly query: Record<string, string>;
  /** Parsed JSON body (or the JSON header of a binary body); undefined when there is none. */
  readonly body: unknown;
  /** The raw body bytes for binary content types. */
  readonly rawBody: Uint8Array | undefined;
  readonly requestId: string;
  readonly state: ServerState;
}

export type RouteHandler = (context: RequestContext) => Promise<Response> | Response;
export type RouteTable = Record<string, RouteHandler>;
