/**
 * The server's state: every service of one server hangs from this one object, which every
 * middleware and route handler reaches as `c.state`. Opened here, reset here (the test controls'
 * reset), and nowhere else.
 */
import { KeyStore } from '../auth/keys';
import { RateLimiter } from '../auth/rate-limit';
import { UsageMeter } from '../auth/usage';
import type { Contract } from '../contract/contract';
import { DEFAULT_EVALUATION_CAPS, EvaluationLab } from '../evaluation/lab';
import { BuildSlots, DEFAULT_EXPORT_BUILDS } from '../export/build-slots';
import { IdempotencyStore } from '../http/idempotency-store';
import type { Repository } from '../registry/repository';
import type { Runtime } from '../runtime/backend';
import { DEFAULT_INSPECTION_LIMITS, UploadInspector, type InspectionLimits } from '../serving/upload-inspector';
import { ModelManager } from '../serving/version-service';
import { testControls, type TestControls } from '../test-controls/controls';
import { FaultInjector } from '../test-controls/faults';
import { Journal } from '../test-controls/journal';
import { Vitals } from '../test-controls/vitals';
import { trainingLimits } from '../training/budget';
import { TrainingJobs } from '../training/jobs';

export interface ServerOptions {
  /** Require API keys (default true). */
  auth?: boolean;
  /** The bootstrap admin key; default MODELPORT_API_KEY, else one is generated. */
  apiKey?: string;
  /** Test controls under /_mock (default false here; startMockServer and msw mode turn them on). */
  mockControls?: boolean;
  /** Origins allowed by CORS ('*' for any); default none. */
  cors?: string[] | '*';
  /** Largest accepted request body in bytes (default 64 MiB). */
  maxBodyBytes?: number;
  /** Largest accepted JSON request body in bytes (default 4 MiB): JSON is parsed on the main thread in one step. */
  maxJsonBodyBytes?: number;
  /** Largest accepted model upload in bytes (default 512 MiB); archives may expand to 4×. */
  maxUploadBytes?: number;
  /** Inference requests one model may have in flight before 503 + Retry-After (default 1024). */
  maxInFlightPerModel?: number;
  /** Request headers must all arrive within this many ms, else Node answers 408 (default 20,000). */
  headersTimeoutMs?: number;
  /** A request body with no byte for this many ms is answered 408 and its connection closed (default 30,000). */
  bodyIdleTimeoutMs?: number;
  /** A request body not complete this many ms after it began is answered 408 (default 300,000). */
  bodyTimeoutMs?: number;
  /** Bytes of request bodies being received at once, by declared length (the operation's limit when none is declared); beyond, 503 (default 1 GiB). */
  maxBodyBytesInProgress?: number;
  /** A training job's estimated parameters, memory, work and epochs, and how many may wait or run (training/budget.ts has the defaults). */
  maxTrainingParams?: number;
  maxTrainingMemoryBytes?: number;
  maxTrainingWork?: number;
  maxTrainingEpochs?: number;
  maxTrainingJobs?: number;
  maxTrainingJobsPerKey?: number;
  /** Evaluations queued or running on the server (default 64), and per API key (default 8); beyond, 429 too_many_jobs. */
  maxEvaluations?: number;
  maxEvaluationsPerKey?: number;
  /** Elements one inference input may declare (numbers, BOOL, and decoded images' pixels; default 262,144). */
  maxInputElements?: number;
  /** Elements one BYTES inference input may declare (strings, encoded images; default 262,144). */
  maxInputStrings?: number;
  /** Pixels (× GIF frames) one encoded image input may declare in its header (default 16,777,216 = 4096²). */
  maxImagePixels?: number;
  /** Records one dataset upload may have (default 1,000,000). */
  maxDatasetRows?: number;
  /** Numbers one dataset upload may hold, records × elements (default 16,777,216). */
  maxDatasetElements?: number;
  /** Bytes the request journal (test controls) keeps, oldest entries dropped first (default 32 MiB). */
  maxJournalBytes?: number;
  /** Wall-clock time one upload's inspection (unpack, parse, test-load in a child process) may take (default 60,000 ms). */
  uploadInspectionTimeoutMs?: number;
  /** Resident memory one upload's inspection process may use (default 2,048 MB). */
  uploadInspectionMemoryMb?: number;
  /** Unpacked bytes per byte received an upload archive may expand to, above 8 MiB unpacked (default 100). */
  maxUploadExpansion?: number;
  /** Upload inspections running at once; more wait their turn (default 2). */
  uploadInspections?: number;
  /** Exports built (versions converted, the repository written) at once; more wait their turn (default 2). */
  exportBuilds?: number;
  /**
   * Skip the op allowlist of uploaded SavedModels (default false): a SavedModel is a program and may read or write
   * files; turn this on only for a local server whose uploaders you trust (`modelport serve --trust-models`).
   */
  trustUploadedModels?: boolean;
  /**
   * The longest an upload's test-load may take (default 10,000 ms): serving loads the model again
   * on the event loop, which a slower model would stall about as long.
   */
  maxModelLoadMs?: number;
  /** Rate limit for keys that have none of their own (default none). */
  defaultRateLimit?: { requests_per_second: number; burst?: number };
}

/** The decode limits' defaults: what one request may make the server decode and keep (issue #18). */
export const DEFAULT_LIMITS = {
  maxJsonBodyBytes: 4 * 1024 * 1024,
  maxInputElements: 262_144,
  maxInputStrings: 262_144,
  maxImagePixels: 4096 * 4096,
  maxDatasetRows: 1_000_000,
  maxDatasetElements: 16_777_216,
  maxJournalBytes: 32 * 1024 * 1024,
} as const;

/** The options with their defaults filled in; fixed for the server's life. */
export type ResolvedOptions = Required<Omit<ServerOptions, 'apiKey' | 'defaultRateLimit'>> & Pick<ServerOptions, 'defaultRateLimit'>;

export interface ServerState {
  readonly contract: Contract;
  readonly runtime: Runtime;
  readonly options: ResolvedOptions;
  readonly version: string;
  readonly models: ModelManager;
  readonly training: TrainingJobs;
  /** Datasets, evaluation jobs and their measurements, opened on first use. */
  readonly lab: EvaluationLab;
  readonly keys: KeyStore;
  readonly rateLimiter: RateLimiter;
  readonly usage: UsageMeter;
  readonly faults: FaultInjector;
  readonly journal: Journal;
  /** Event-loop delay and peak memory over a window (GET /_mock/vitals). */
  readonly vitals: Vitals;
  /** Reset, faults and the journal as functions (the /_mock routes, startMockServer, mswHandlers). */
  readonly testControls: TestControls;
  readonly idempotency: IdempotencyStore;
  /** New versions' inspection in a child process, within the upload limits. */
  readonly uploads: UploadInspector;
  /** Exports being built, within `exportBuilds`. */
  readonly exports: BuildSlots;
  /** Inference requests in flight per model. */
  readonly inFlight: Map<string, number>;
  /** Bytes of request bodies being received now (what `maxBodyBytesInProgress` bounds). */
  bodyBytesInProgress: number;
  /** False while start-up work (model loading) is still running. */
  ready: boolean;
}

interface StateParts {
  contract: Contract;
  runtime: Runtime;
  repository: Repository;
  adminKey: string;
  version: string;
  options: ServerOptions;
}

export async function openServerState({ contract, runtime, repository, adminKey, version, options }: StateParts): Promise<ServerState> {
  const models = new ModelManager(runtime, repository);
  const uploads = uploadLimits(options);
  const faults = new FaultInjector();
  const journal = new Journal({ maxBytes: options.maxJournalBytes ?? DEFAULT_LIMITS.maxJournalBytes });
  const state: ServerState = {
    contract,
    runtime,
    models,
    training: await TrainingJobs.open(repository.dataDir, models, runtime, trainingLimits(options)),
    lab: new EvaluationLab(repository.dataDir, models, {
      all: options.maxEvaluations ?? DEFAULT_EVALUATION_CAPS.all,
      perKey: options.maxEvaluationsPerKey ?? DEFAULT_EVALUATION_CAPS.perKey,
    }),
    keys: await KeyStore.open(repository.dataDir, adminKey),
    rateLimiter: new RateLimiter(),
    usage: new UsageMeter(),
    faults,
    journal,
    vitals: new Vitals(),
    testControls: testControls(faults, journal, () => resetServerState(state)),
    idempotency: new IdempotencyStore(),
    uploads: new UploadInspector(runtime, uploads),
    exports: new BuildSlots(options.exportBuilds ?? DEFAULT_EXPORT_BUILDS),
    inFlight: new Map(),
    bodyBytesInProgress: 0,
    version,
    options: {
      auth: options.auth ?? true,
      mockControls: options.mockControls ?? false,
      cors: options.cors ?? [],
      maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 * 1024,
      maxJsonBodyBytes: options.maxJsonBodyBytes ?? DEFAULT_LIMITS.maxJsonBodyBytes,
      maxUploadBytes: options.maxUploadBytes ?? 512 * 1024 * 1024,
      maxInFlightPerModel: options.maxInFlightPerModel ?? 1024,
      headersTimeoutMs: options.headersTimeoutMs ?? 20_000,
      bodyIdleTimeoutMs: options.bodyIdleTimeoutMs ?? 30_000,
      bodyTimeoutMs: options.bodyTimeoutMs ?? 300_000,
      maxBodyBytesInProgress: options.maxBodyBytesInProgress ?? 1024 * 1024 * 1024,
      ...trainingLimits(options),
      maxEvaluations: options.maxEvaluations ?? DEFAULT_EVALUATION_CAPS.all,
      maxEvaluationsPerKey: options.maxEvaluationsPerKey ?? DEFAULT_EVALUATION_CAPS.perKey,
      maxInputElements: options.maxInputElements ?? DEFAULT_LIMITS.maxInputElements,
      maxInputStrings: options.maxInputStrings ?? DEFAULT_LIMITS.maxInputStrings,
      maxImagePixels: options.maxImagePixels ?? DEFAULT_LIMITS.maxImagePixels,
      maxDatasetRows: options.maxDatasetRows ?? DEFAULT_LIMITS.maxDatasetRows,
      maxDatasetElements: options.maxDatasetElements ?? DEFAULT_LIMITS.maxDatasetElements,
      maxJournalBytes: options.maxJournalBytes ?? DEFAULT_LIMITS.maxJournalBytes,
      uploadInspectionTimeoutMs: uploads.timeoutMs,
      uploadInspectionMemoryMb: uploads.memoryMb,
      maxUploadExpansion: uploads.maxRatio,
      uploadInspections: uploads.concurrency,
      exportBuilds: options.exportBuilds ?? DEFAULT_EXPORT_BUILDS,
      trustUploadedModels: options.trustUploadedModels ?? false,
      maxModelLoadMs: uploads.maxLoadMs,
      ...(options.defaultRateLimit ? { defaultRateLimit: options.defaultRateLimit } : {}),
    },
    ready: false,
  };
  return state;
}

/** What an upload may take to inspect: time, memory, expansion (4 × the upload limit at most). */
function uploadLimits(options: ServerOptions): InspectionLimits {
  const defaults = DEFAULT_INSPECTION_LIMITS;
  return {
    ...defaults,
    timeoutMs: options.uploadInspectionTimeoutMs ?? defaults.timeoutMs,
    memoryMb: options.uploadInspectionMemoryMb ?? defaults.memoryMb,
    maxExpandedBytes: 4 * (options.maxUploadBytes ?? 512 * 1024 * 1024),
    maxRatio: options.maxUploadExpansion ?? defaults.maxRatio,
    concurrency: options.uploadInspections ?? defaults.concurrency,
    trusted: options.trustUploadedModels ?? false,
    maxLoadMs: options.maxModelLoadMs ?? defaults.maxLoadMs,
  };
}

/** Back to a fresh server: the bundled models; keys, datasets, evaluations, jobs, faults, journal, limits and usage cleared. */
async function resetServerState(state: ServerState): Promise<void> {
  await state.training.reset(); // first: a running job would otherwise register its result after the models reset
  await state.models.reset();
  await state.keys.reset();
  await state.lab.reset(); // uploaded datasets and evaluations
  state.faults.clear();
  state.journal.clear();
  state.rateLimiter.reset();
  state.usage.reset();
  state.idempotency.clear();
}
