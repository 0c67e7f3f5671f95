/** Assembles one server: runtime, repository, contract and state (server/state.ts), then the request path (server/app.ts). */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateAdminKey } from '../auth/keys';
import { Contract } from '../contract/contract';
import { responseValidationFromEnv } from '../contract/response-validation';
import type { Handler } from '../http/handler';
import { Repository } from '../registry/repository';
import { loadRuntime, type BackendName } from '../runtime/backend';
import { createApp } from './app';
import { PACKAGE_VERSION } from './package-paths';
import { routeTable } from './route-table';
import { openServerState, type ServerOptions, type ServerState } from './state';

export interface CreateServerOptions extends ServerOptions {
  /**
   * Check every response against openapi.yaml, logging and recording violations (for tests;
   * see contract/response-validation.ts). Default: the MODELPORT_VALIDATE_RESPONSES environment variable.
   */
  validateResponses?: boolean;
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
  /** The bootstrap admin key (given, from MODELPORT_API_KEY, or generated). */
  adminKey: string;
  /** True when the admin key was generated here (so the caller should show it). */
  adminKeyGenerated: boolean;
  close(): Promise<void>;
}

/**
 * Runs `load` with Node's source-map support off. tsx turns it on, and then Node reads and
 * parses the source map of every module it loads: for the multi-megabyte bundles of tfjs that
 * was ~0.1-0.25 s of start-up, for stack traces into tfjs's own bundles.
 */
async function withoutSourceMaps<T>(load: () => Promise<T>): Promise<T> {
  const enabled = (process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled === true;
  if (!enabled) return load();
  process.setSourceMapsEnabled(false);
  try {
    return await load();
  } finally {
    process.setSourceMapsEnabled(true);
  }
}

let sharedContract: Contract | undefined;

export async function createModelServer(options: CreateServerOptions = {}): Promise<ModelServer> {
  const runtime = await withoutSourceMaps(() => loadRuntime({ backend: options.backend }));
  const temporary = options.dataDir === undefined ? await mkdtemp(path.join(os.tmpdir(), 'modelport-')) : undefined;
  const repository = await Repository.open(options.dataDir ?? temporary!);
  const given = options.apiKey ?? process.env.MODELPORT_API_KEY;
  const adminKey = given || generateAdminKey();
  // Compiling the contract's validators is pure; one copy serves every server in the process.
  sharedContract ??= new Contract();
  const state = await openServerState({ contract: sharedContract, runtime, repository, adminKey, version: PACKAGE_VERSION, options });
  const validation = responseValidationFromEnv();
  const validate = options.validateResponses ?? validation.enabled;
  const handler = createApp(state, routeTable(sharedContract), validate ? { responseValidation: { logFile: validation.logFile } } : {});
  await state.models.loadAll();
  state.ready = true;
  return {
    handler,
    state,
    adminKey,
    adminKeyGenerated: !given,
    close: async () => {
      await state.training.close();
      state.uploads.close();
      state.vitals.close();
      state.models.dispose();
      if (temporary) await rm(temporary, { recursive: true, force: true });
    },
  };
}
