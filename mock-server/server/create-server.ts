/** Assembles the server: contract, runtime, repository, models, access control and routes into one handler. */
import { mkdtemp, rm } from 'node:fs/promises';
import { PACKAGE_VERSION } from './package-paths';
import os from 'node:os';
import path from 'node:path';
import { createApp, type Handler } from '../http/app';
import { KeyStore, generateAdminKey } from '../auth/keys';
import { RateLimiter } from '../auth/rate-limit';
import { UsageMeter } from '../auth/usage';
import { Contract } from '../contract/contract';
import type { RouteTable, ServerOptions, ServerState } from '../http/context';
import { FaultInjector } from '../test-controls/faults';
import { Journal } from '../test-controls/journal';
import { IdempotencyStore } from '../middleware/idempotency';
import { Repository } from '../registry/repository';
import { responseHook, responseValidationFromEnv } from '../contract/response-validation';
import { loadRuntime, type BackendName } from '../runtime/backend';
import { ModelManager } from '../serving/version-service';
import { accessRoutes } from '../routes/access';
import { healthRoutes } from '../routes/health';
import { inferenceRoutes } from '../routes/inference';
import { mockRoutes } from '../routes/test-controls';
import { modelRoutes } from '../routes/models';
import { repositoryRoutes } from '../routes/repository';
import { statisticsRoutes } from '../routes/statistics';
import { TrainingJobs } from '../training/jobs';

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

export { PACKAGE_VERSION };

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

/**
 * The route modules of the registry (uploads: tar, fflate), training, evaluations, datasets,
 * model selection and explanations: imported on the first request to any of their operations,
 * not at start-up (through tsx, every module loaded at start costs start-up time).
 */
async function loadOtherRoutes(): Promise<RouteTable> {
  const [registry, training, evaluations, explanations] = await Promise.all([
    import('../routes/registry'), import('../routes/training'), import('../routes/evaluations'), import('../routes/explanations'),
  ]);
  return { ...registry.registryRoutes, ...training.trainingRoutes, ...evaluations.evaluationRoutes, ...explanations.explanationRoutes };
}

/** A route for every operation of the contract that `eager` lacks, each loading `load()`'s table on first use. */
function lazyRoutes(contract: Contract, eager: RouteTable, load: () => Promise<RouteTable>): RouteTable {
  const ids = [...contract.operations.keys()].filter((id) => !eager[id]);
  let loaded: Promise<RouteTable> | undefined;
  const table = () => (loaded ??= load().then((routes) => {
    const missing = ids.filter((id) => !routes[id]);
    const unknown = Object.keys(routes).filter((id) => !ids.includes(id));
    if (missing.length || unknown.length) throw new Error(`routes and openapi.yaml disagree: no handler for [${missing.join(', ')}], no operation for [${unknown.join(', ')}]`);
    return routes;
  }));
  return Object.fromEntries(ids.map((id) => [id, async (context) => (await table())[id]!(context)]));
}

let sharedContract: Contract | undefined;

export async function createModelServer(options: CreateServerOptions = {}): Promise<ModelServer> {
  const runtime = await withoutSourceMaps(() => loadRuntime({ backend: options.backend }));
  const temporary = options.dataDir === undefined ? await mkdtemp(path.join(os.tmpdir(), 'modelport-')) : undefined;
  const dataDir = options.dataDir ?? temporary!;
  const repository = await Repository.open(dataDir);
  const given = options.apiKey ?? process.env.MODELPORT_API_KEY;
  const adminKey = given || generateAdminKey();
  // Compiling the contract's validators is pure; one copy serves every server in the process.
  sharedContract ??= new Contract();
  const models = new ModelManager(runtime, repository);
  const state: ServerState = {
    contract: sharedContract,
    runtime,
    models,
    training: await TrainingJobs.open(repository.dataDir, models, runtime),
    keys: await KeyStore.open(repository.dataDir, adminKey),
    rateLimiter: new RateLimiter(),
    usage: new UsageMeter(),
    faults: new FaultInjector(),
    journal: new Journal(),
    idempotency: new IdempotencyStore(),
    inFlight: new Map(),
    version: PACKAGE_VERSION,
    options: {
      auth: options.auth ?? true,
      mockControls: options.mockControls ?? false,
      cors: options.cors ?? [],
      maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 * 1024,
      maxUploadBytes: options.maxUploadBytes ?? 512 * 1024 * 1024,
      maxInFlightPerModel: options.maxInFlightPerModel ?? 1024,
      ...(options.defaultRateLimit ? { defaultRateLimit: options.defaultRateLimit } : {}),
    },
    ready: false,
  };
  const validation = responseValidationFromEnv();
  const validate = options.validateResponses ?? validation.enabled;
  const eager: RouteTable = {
    ...healthRoutes,
    ...modelRoutes,
    ...inferenceRoutes,
    ...repositoryRoutes,
    ...statisticsRoutes,
    ...accessRoutes,
    ...mockRoutes,
  };
  const handler = createApp(state, { ...eager, ...lazyRoutes(sharedContract, eager, loadOtherRoutes) }, validate ? { onResponse: responseHook(sharedContract, validation.logFile) } : {});
  await state.models.loadAll();
  state.ready = true;
  return {
    handler,
    state,
    adminKey,
    adminKeyGenerated: !given,
    close: async () => {
      await state.training.close();
      state.models.dispose();
      if (temporary) await rm(temporary, { recursive: true, force: true });
    },
  };
}
