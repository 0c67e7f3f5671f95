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
  const { http } = await importMsw(() => import('msw'));
  const server = await createModelServer({ mockControls: true, ...options });
  const base = options.baseUrl.replace(/\/+$/, '');
  const handlers = [http.all(`${base}/*`, ({ request }) => server.handler(request))];
  return Object.assign(handlers, { close: () => server.close(), adminKey: server.adminKey, controls: server.state.testControls });
}

/**
 * msw, an optional peer dependency: when it is not installed, say how to install it instead of
 * Node's bare "Cannot find package 'msw'".
 */
export async function importMsw<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error('mswHandlers needs msw 2, which is not installed here: npm install --save-dev msw', { cause: error });
    }
    throw error;
  }
}
