/**
 * A global setup for test runners: one mock server for the whole run, on a free 127.0.0.1 port
 * with a temporary data directory, torn down at the end. For import and require alike:
 *
 *   // vitest.config.ts
 *   test: { globalSetup: ['@modelport/server/testing'] }
 *   // jest.config.js
 *   globalSetup: '@modelport/server/testing', globalTeardown: '@modelport/server/testing'
 *
 * Tests find it in MODELPORT_URL and MODELPORT_API_KEY (which `new Modelport()` reads by itself
 * in Node), and in vitest also through `inject('modelport')` (typed by `@modelport/server/vitest`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startMockServer, type RunningMockServer, type StartMockServerOptions } from './index';

/** What `inject('modelport')` returns in a vitest test. */
export interface ProvidedModelport {
  url: string;
  apiKey: string;
}

interface Running {
  server: RunningMockServer;
  dataDir: string;
}

const KEY = Symbol.for('modelport.testing');
type Holder = { [KEY]?: Running };

/** Starts the server; returns the teardown (vitest calls it; jest calls the `teardown` export). */
export default async function setup(
  context?: { provide?: (key: string, value: unknown) => void },
  options: StartMockServerOptions = {},
): Promise<() => Promise<void>> {
  const holder = globalThis as Holder;
  // jest calls this module for both globalSetup and globalTeardown.
  if (holder[KEY]) {
    await teardown();
    return async () => {};
  }
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'modelport-tests-'));
  const server = await startMockServer({ dataDir, ...options });
  holder[KEY] = { server, dataDir };
  process.env.MODELPORT_URL = server.url;
  process.env.MODELPORT_API_KEY = server.adminKey;
  context?.provide?.('modelport', { url: server.url, apiKey: server.adminKey } satisfies ProvidedModelport);
  return teardown;
}

export async function teardown(): Promise<void> {
  const holder = globalThis as Holder;
  const running = holder[KEY];
  if (!running) return;
  delete holder[KEY];
  await running.server.close();
  await rm(running.dataDir, { recursive: true, force: true });
}
