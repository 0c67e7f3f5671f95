/** Assembles the server: contract, runtime, repository, models, access control and routes into one handler. */
import { mkdtemp, rm } from 'node:fs/promises';
import { PACKAGE_VERSION } from './paths';
import os from 'node:os';
import path from 'node:path';
import { createApp, type Handler } from './app';
import { KeyStore, generateAdminKey } from './auth/keys';
import { RateLimiter } from './auth/rate-limit';
import { UsageMeter } from './auth/usage';
import { Contract } from './contract';
import type { ServerOptions, ServerState } from './context';
import { FaultInjector } from './faults/faults';
import { Journal } from './faults/journal';
import { IdempotencyStore } from './idempotency';
import { Repository } from './registry/repository';
import { responseHook, responseValidationFromEnv } from './response-validation';
import { loadRuntime, type BackendName } from './runtime/backend';
import { ModelManager } from './runtime/model-manager';
import { accessRoutes } from './routes/access';
import { evaluationRoutes } from './routes/evaluations';
import { explanationRoutes } from './routes/explanations';
import { healthRoutes } from './routes/health';
import { inferenceRoutes } from './routes/inference';
import { mockRoutes } from './routes/mock';
import { modelRoutes } from './routes/models';
import { registryRoutes } from './routes/registry';
import { repositoryRoutes } from './routes/repository';
import { statisticsRoutes } from './routes/statistics';
import { trainingRoutes } from './routes/training';
import { TrainingJobs } from './training/jobs';

export interface CreateServerOptions extends ServerOptions {
  /**
   * Check every response against openapi.yaml, logging and recording violations (for tests;
   * see response-validation.ts). Default: the MODELPORT_VALIDATE_RESPONSES environment variable.
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

let sharedContract: Contract | undefined;

export async function createModelServer(options: CreateServerOptions = {}): Promise<ModelServer> {
  const runtime = await loadRuntime({ backend: options.backend });
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
  const handler = createApp(state, {
    ...healthRoutes,
    ...modelRoutes,
    ...inferenceRoutes,
    ...repositoryRoutes,
    ...statisticsRoutes,
    ...registryRoutes,
    ...accessRoutes,
    ...mockRoutes,
    ...explanationRoutes,
    ...trainingRoutes,
    ...evaluationRoutes,
  }, validate ? { onResponse: responseHook(sharedContract, validation.logFile) } : {});
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
