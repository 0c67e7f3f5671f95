/** @modelport/server: the local model server, for tests and for `modelport serve`. */
import type { TestControls } from './test-controls/controls';
import { listen } from './http/node-adapter';
import { createModelServer, type CreateServerOptions } from './server/create-server';

export { createModelServer, type CreateServerOptions, type ModelServer } from './server/create-server';
export type { Handler } from './http/handler';
export type { TestControls, FaultCreate } from './test-controls/controls';

export interface StartMockServerOptions extends CreateServerOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Serve HTTPS with this PEM certificate and key. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface RunningMockServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** The admin key (all scopes): use it to call the server, or to create narrower keys. */
  adminKey: string;
  /** Faults, the request journal and reset, without HTTP. */
  controls: TestControls;
  close(): Promise<void>;
}

/**
 * Starts a server on 127.0.0.1 (a free port by default) for tests, with test controls
 * (`/_mock/...`) on. Auth is on unless `auth: false`; `adminKey` opens every door.
 */
export async function startMockServer(options: StartMockServerOptions = {}): Promise<RunningMockServer> {
  const server = await createModelServer({ mockControls: true, ...options });
  const { headersTimeoutMs, bodyTimeoutMs } = server.state.options;
  const listening = await listen(server.handler, {
    port: options.port,
    host: options.host,
    tls: options.tls,
    headersTimeoutMs,
    bodyTimeoutMs,
  });
  return {
    url: listening.url,
    adminKey: server.adminKey,
    controls: server.state.testControls,
    close: async () => {
      await listening.close();
      await server.close();
    },
  };
}

/** The fetch-style handler alone (no port), for msw or any fetch-based framework. */
export async function createHandler(options: CreateServerOptions = {}) {
  return (await createModelServer(options)).handler;
}

export { mswHandlers, type MswHandlersOptions } from './msw';
