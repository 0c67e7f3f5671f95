/** A server on a temporary data dir and a client for it, for the evaluation and selection suites. */
import path from 'node:path';
import { Modelport } from '../../src/index';
import { startMockServer, type RunningMockServer } from '../../mock-server/index';
import { tempDataDir } from './data-dir';

export interface EvalServer {
  server: RunningMockServer;
  client: Modelport;
  /** The server's data dir (models, datasets, evaluations). */
  dataDir: string;
  /** Closes the server; the data dir stays until `remove`. */
  close(): Promise<void>;
  remove(): Promise<void>;
}

/** Starts a server (auth off) on `dataDir`, or on a fresh temporary one. */
export async function startEvalServer(dataDir?: string): Promise<EvalServer> {
  const temp = dataDir ? undefined : await tempDataDir();
  const dir = dataDir ?? path.join(temp!.dir, 'data');
  const server = await startMockServer({ auth: false, dataDir: dir });
  return {
    server,
    client: new Modelport({ baseUrl: server.url, maxRetries: 0 }),
    dataDir: dir,
    close: () => server.close(),
    remove: async () => {
      await server.close().catch(() => undefined);
      await temp?.remove();
    },
  };
}

/** A raw request (for bodies and content types the SDK would not send). */
export async function raw(
  server: RunningMockServer,
  method: string,
  pathAndQuery: string,
  body?: string,
  contentType = 'application/json',
) {
  const response = await fetch(`${server.url}${pathAndQuery}`, {
    method,
    ...(body !== undefined ? { body, headers: { 'content-type': contentType } } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}
