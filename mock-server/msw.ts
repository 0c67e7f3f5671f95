/** @modelport/server/msw: msw request handlers that answer with the real server function. */
import { createModelServer, type CreateServerOptions } from './server/create-server';

export interface MswHandlersOptions extends CreateServerOptions {
  /** The base URL your app calls, e.g. `http://models.test` or `http://127.0.0.1:8700`. */
  baseUrl: string;
}

/**
 * msw request handlers that route every request under `baseUrl` into the real server function:
 * real model outputs, no port. Use with `setupServer(...(await mswHandlers({ baseUrl })))`.
 * `close()` on the returned array frees the models.
 */
export async function mswHandlers(options: MswHandlersOptions) {
  const { http } = await import('msw');
  const server = await createModelServer({ mockControls: true, ...options });
  const base = options.baseUrl.replace(/\/+$/, '');
  const handlers = [http.all(`${base}/*`, ({ request }) => server.handler(request))];
  return Object.assign(handlers, { close: () => server.close(), adminKey: server.adminKey, controls: server.state.testControls });
}
