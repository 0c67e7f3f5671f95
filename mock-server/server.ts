/** Assembles the server: contract, runtime, repository, models and routes into one handler. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApp, type Handler } from './app';
import { Contract } from './contract';
import type { ServerOptions, ServerState } from './context';
import { Repository } from './registry/repository';
import { loadRuntime, type BackendName } from './runtime/backend';
import { ModelManager } from './runtime/model-manager';
import { healthRoutes } from './routes/health';
import { inferenceRoutes } from './routes/inference';
import { modelRoutes } from './routes/models';
import { repositoryRoutes } from './routes/repository';
import { statisticsRoutes } from './routes/statistics';
import { registryRoutes } from './routes/registry';
import { IdempotencyStore } from './idempotency';

export interface CreateServerOptions extends ServerOptions {
  /** Force a tfjs backend; default: native, then wasm, then cpu. */
  backend?: BackendName;
  /**
   * The model repository. An empty or new directory is seeded with the bundled models.
   * Default: a fresh temporary directory, removed by `close()`.
   */
  dataDir?: string;
}

export interface ModelServer {
  handler: Handler;
  state: ServerState;
  close(): Promise<void>;
}

export const PACKAGE_VERSION: string = JSON.parse(
  await readFile(new URL('../package.json', import.meta.url), 'utf8'),
).version;

let sharedContract: Contract | undefined;

export async function createModelServer(options: CreateServerOptions = {}): Promise<ModelServer> {
  const runtime = await loadRuntime({ backend: options.backend });
  const temporary = options.dataDir === undefined ? await mkdtemp(path.join(os.tmpdir(), 'modelport-')) : undefined;
  const repository = await Repository.open(options.dataDir ?? temporary!);
  const models = new ModelManager(runtime, repository);
  // Compiling the contract's validators is pure; one copy serves every server in the process.
  sharedContract ??= new Contract();
  const state: ServerState = {
    contract: sharedContract,
    runtime,
    models,
    version: PACKAGE_VERSION,
    options: {
      auth: options.auth ?? true,
      maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 * 1024,
      maxUploadBytes: options.maxUploadBytes ?? 512 * 1024 * 1024,
    },
    ready: false,
  };
  const handler = createApp(state, {
    ...healthRoutes,
    ...modelRoutes,
    ...inferenceRoutes,
    ...repositoryRoutes,
    ...statisticsRoutes,
    ...registryRoutes(new IdempotencyStore()),
  });
  await models.loadAll();
  state.ready = true;
  return {
    handler,
    state,
    close: async () => {
      models.dispose();
      if (temporary) await rm(temporary, { recursive: true, force: true });
    },
  };
}
