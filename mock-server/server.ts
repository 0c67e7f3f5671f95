/** Assembles the server: contract, runtime, state and routes into one handler. */
import { readFileSync } from 'node:fs';
import { createApp, type Handler } from './app';
import { Contract } from './contract';
import type { ServerOptions, ServerState } from './context';
import { loadRuntime, type BackendName } from './runtime/backend';
import { healthRoutes } from './routes/health';

export interface CreateServerOptions extends ServerOptions {
  /** Force a tfjs backend; default: native, then wasm, then cpu. */
  backend?: BackendName;
}

export interface ModelServer {
  handler: Handler;
  state: ServerState;
  close(): Promise<void>;
}

export const PACKAGE_VERSION: string = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
).version;

let sharedContract: Contract | undefined;

export async function createModelServer(options: CreateServerOptions = {}): Promise<ModelServer> {
  const runtime = await loadRuntime({ backend: options.backend });
  // Compiling the contract's validators is pure; one copy serves every server in the process.
  sharedContract ??= new Contract();
  const state: ServerState = {
    contract: sharedContract,
    runtime,
    version: PACKAGE_VERSION,
    options: { auth: options.auth ?? true, maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 * 1024 },
    ready: false,
  };
  const handler = createApp(state, { ...healthRoutes });
  state.ready = true;
  return { handler, state, close: async () => {} };
}
