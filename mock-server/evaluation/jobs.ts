/**
 * Evaluation jobs: checked on create, then kept, queued and run one at a time by the job store
 * (jobs/store.ts) as one record per job (`<dataDir>/evaluations/<id>.json`, rewritten atomically
 * at every status change and after each version), so results survive restarts.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { components } from 'modelport';
import { HttpError, badRequest, conflict, notFound, type ErrorDetail } from '../http/errors';
import { INTERRUPTED } from '../jobs/lifecycle';
import { JobQueueLimit, type QueueCaps } from '../jobs/queue-limit';
import type { JobEvent } from '../jobs/event-log';
import { JobStore, type Ending, type JobRun } from '../jobs/store';
import { aliasTargets, type ModelManager, type ServedVersion } from '../serving/version-service';
import type { DatasetStore } from '../datasets/datasets';
import {
  EvaluationError,
  MAX_WARMUP,
  type MeasurementQueue,
  artifactBytes,
  datasetSamples,
  measureLatency,
  percentiles,
  planInput,
  runPass,
} from './engine';

type Schemas = components['schemas'];
export type Evaluation = Schemas['Evaluation'];
export type EvaluationCreate = Schemas['EvaluationCreate'];
export type EvaluationResult = Schemas['EvaluationResult'];
export type EvaluationSummary = Schemas['EvaluationSummary'];
type Failure = NonNullable<Evaluation['failure']>;

export const DEFAULT_BATCH_SIZE = 250;
export const DEFAULT_LATENCY_SAMPLES = 50;

/** The record on disk: the API's view plus what guards results against reused version numbers. */
interface StoredEvaluation extends Evaluation {
  /** `created_at` of each evaluated version: a version deleted and re-uploaded under the same number is another model. */
  version_created_at: string[];
  /** Who created it (the API key's id), for the queue's limit per key; never shown. */
  owner?: string;
}

export class EvaluationJobs {
  private readonly queue: JobQueueLimit<StoredEvaluation, JobEvent>;

  private constructor(
    private readonly store: JobStore<StoredEvaluation>,
    private readonly models: ModelManager,
    private readonly datasets: DatasetStore,
    caps: QueueCaps,
  ) {
    this.queue = new JobQueueLimit(store, 'evaluations', caps, { all: 'max-evaluations', perKey: 'max-evaluations-per-key' });
  }

  /** Loads every stored job: one the last process was running is now failed, `interrupted`; queued ones run. */
  static async open(
    dataDir: string,
    models: ModelManager,
    datasets: DatasetStore,
    measurements: MeasurementQueue,
    caps: QueueCaps,
  ): Promise<EvaluationJobs> {
    const store = new JobStore<StoredEvaluation>(path.join(dataDir, 'evaluations'), {
      notFound: (id) => notFound(`evaluation '${id}' not found`, 'evaluation_not_found'),
      events: false,
      // Progress moves with every batch; saving it each time would cost more than the batch.
      live: ['progress'],
      run: (run) => runEvaluation(run, models, datasets, measurements),
    });
    await store.open();
    return new EvaluationJobs(store, models, datasets, caps);
  }

  /** Checks everything that can be checked up front (as 4xx), then queues the job unless `owner` or the server has as many as they may (429). */
  async create(request: EvaluationCreate, owner = 'anonymous'): Promise<Evaluation> {
    const dataset = this.datasets.info(request.dataset);
    const data = await this.datasets.load(request.dataset);
    const targets = request.models.map((target, i) => resolveTarget(this.models, target, `/models/${i}`));
    const seen = new Map<string, number>();
    const problems: ErrorDetail[] = [];
    targets.forEach(({ served }, i) => {
      const key = `${served.name}@${served.version}`;
      if (seen.has(key))
        problems.push({ path: `/models/${i}`, message: `${served.name} version ${served.version} is already target ${seen.get(key)}` });
      seen.set(key, i);
    });
    if (problems.length) throw badRequest('each model version may be evaluated once per job', problems);
    for (const [i, { served }] of targets.entries()) {
      if (served.state !== 'READY') {
        throw conflict(
          `${served.name} version ${served.version} is not loaded (${served.reason ?? served.state.toLowerCase()}); load it first (POST /v1/models/${served.name}/versions/${served.version}/load)`,
          'version_not_ready',
        );
      }
      problems.push(...planInput(served, data, `/models/${i}`).problems);
    }
    if (problems.length) {
      throw badRequest(
        `cannot evaluate on dataset '${dataset.name}': ${problems[0]!.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
        problems,
        'incompatible_dataset',
      );
    }
    return view(
      await this.queue.admit({
        id: `ev_${randomUUID().replace(/-/g, '').slice(0, 12)}`,
        status: 'queued',
        progress: 0,
        dataset: dataset.name,
        models: targets.map(({ served, requested }) => ({ model: served.name, version: served.info.version, requested })),
        batch_size: request.batch_size ?? DEFAULT_BATCH_SIZE,
        latency_samples: request.latency_samples ?? DEFAULT_LATENCY_SAMPLES,
        results: [],
        created_at: new Date().toISOString(),
        version_created_at: targets.map(({ served }) => served.info.created_at ?? ''),
        owner,
      }),
    );
  }

  get(id: string): Evaluation {
    return view(this.store.get(id));
  }

  /** Newest first. */
  list(): Evaluation[] {
    return this.store.list().map(view);
  }

  /** Summaries of the succeeded results of one version, newest first. */
  summaries(served: ServedVersion): EvaluationSummary[] {
    const summaries: EvaluationSummary[] = [];
    for (const job of this.store.list()) {
      if (job.status !== 'succeeded') continue;
      job.results.forEach((result, i) => {
        if (result.model !== served.name || result.version !== served.info.version) return;
        if ((job.version_created_at[i] ?? '') !== (served.info.created_at ?? '')) return;
        summaries.push({
          evaluation_id: job.id,
          model: result.model,
          version: result.version,
          dataset: result.dataset,
          samples: result.samples,
          accuracy: result.accuracy,
          loss: result.loss,
          macro_f1: result.macro.f1,
          weighted_f1: result.weighted.f1,
          latency_p50_ms: result.latency_ms.per_sample?.p50 ?? null,
          latency_p95_ms: result.latency_ms.per_sample?.p95 ?? null,
          size_bytes: result.size_bytes,
          finished_at: job.finished_at!,
        });
      });
    }
    return summaries;
  }

  /**
   * Forgets every evaluation (test controls' reset): records are deleted and queued jobs dropped;
   * a job still running finishes its current step unseen.
   */
  reset(): Promise<void> {
    return this.store.reset();
  }

  /** The server stops: the running job ends `interrupted`; queued ones wait for the next start. */
  close(): Promise<void> {
    return this.store.close();
  }
}

async function runEvaluation(
  run: JobRun<StoredEvaluation>,
  models: ModelManager,
  datasets: DatasetStore,
  measurements: MeasurementQueue,
): Promise<Ending<StoredEvaluation> | undefined> {
  if (!(await run.start())) return undefined;
  const { job } = run;
  try {
    const data = await datasets.load(job.dataset).catch((error) => {
      throw new EvaluationError('dataset_unavailable', `dataset '${job.dataset}' could not be read: ${(error as Error).message}`);
    });
    const latencyCount = Math.min(job.latency_samples, data.info.samples);
    const perVersion = data.info.samples + latencyCount + Math.min(latencyCount, MAX_WARMUP);
    const total = perVersion * job.models.length;
    for (const [i, target] of job.models.entries()) {
      if (run.signal.aborted) return undefined;
      const served = currentVersion(models, target.model, target.version, job.version_created_at[i] ?? '');
      const { plan, problems } = planInput(served, data);
      if (!plan)
        throw new EvaluationError(
          'dataset_unavailable',
          `dataset '${job.dataset}' changed since the job was created: ${problems[0]?.message}`,
        );
      const done = i * perVersion;
      const measured = measurements.run(async () => {
        const started = performance.now();
        const pass = await runPass(served, data, plan, job.batch_size, (samples) =>
          run.set({ progress: round4((done + samples) / total) }),
        );
        let requests = 0;
        const [latency] =
          latencyCount > 0
            ? await measureLatency([{ served, count: latencyCount, sample: datasetSamples(data, plan) }], () =>
                run.set({ progress: round4((done + data.info.samples + ++requests) / total) }),
              )
            : [undefined];
        if (latency instanceof Error) throw latency;
        const size = await artifactBytes(models.repository.versionDir(served.name, served.version)).catch(
          (error: NodeJS.ErrnoException) => {
            // Deleted while it was being evaluated: its folder went away under the job.
            if (error.code === 'ENOENT')
              throw new EvaluationError(
                'model_unavailable',
                `${served.name} version ${served.info.version} was deleted while it was evaluated`,
              );
            throw error;
          },
        );
        const result: EvaluationResult = {
          model: served.name,
          version: served.info.version,
          dataset: job.dataset,
          samples: pass.report.samples,
          correct: pass.report.correct,
          accuracy: pass.report.accuracy,
          loss: pass.loss,
          probabilities: pass.probabilities,
          per_class: pass.report.perClass,
          macro: pass.report.macro,
          weighted: pass.report.weighted,
          confusion_matrix: { labels: plan.modelLabels, matrix: pass.confusion },
          latency_ms: {
            per_sample: latency ? { p50: latency.p50, p95: latency.p95, samples: latency.samples, warmup: latency.warmup } : null,
            per_batch: { ...percentiles(pass.batchMs), batches: pass.batchMs.length, batch_size: job.batch_size },
          },
          size_bytes: size,
          duration_ms: Math.round((performance.now() - started) * 10) / 10,
        };
        return result;
      });
      // A reset or the server stopping does not wait for the version being measured: it finishes unseen.
      const result = await untilAborted(measured, run.signal);
      if (!result) return undefined;
      await run.update({ results: [...job.results, result], progress: round4((i + 1) / job.models.length) });
    }
    return { status: 'succeeded', record: { progress: 1 } };
  } catch (error) {
    return { status: 'failed', failure: classify(error, models) };
  }
}

/** The version as it is now; gone, replaced or unloaded versions end the job. */
function currentVersion(models: ModelManager, model: string, version: number, createdAt: string): ServedVersion {
  let served: ServedVersion;
  try {
    served = models.exactVersion(model, version);
  } catch {
    throw new EvaluationError('model_unavailable', `${model} version ${version} was deleted before it was evaluated`);
  }
  if ((served.info.created_at ?? '') !== createdAt)
    throw new EvaluationError('model_unavailable', `${model} version ${version} was replaced before it was evaluated`);
  return served;
}

function classify(error: unknown, models: ModelManager): Failure {
  if (error instanceof EvaluationError) return { reason: error.reason, message: error.message };
  if (error instanceof HttpError && (error.code === 'model_not_ready' || error.status === 404)) {
    // Every version unloaded at once is the server shutting down (close() disposes all models):
    // that is an interruption, not something wrong with the model.
    const all = models.all();
    if (all.length > 0 && all.every((v) => v.state !== 'READY')) return INTERRUPTED as Failure;
    return { reason: 'model_unavailable', message: error.message };
  }
  if (error instanceof HttpError && error.code === 'overloaded')
    return { reason: 'model_unavailable', message: `${error.message} (for more than 30 s)` };
  console.error('[modelport] evaluation failed:', error);
  return { reason: 'internal', message: `internal error: ${(error as Error).message}` };
}

/** The work's result, or undefined as soon as the signal is aborted (the work goes on unwatched). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const abort = () => resolve(undefined);
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

/**
 * A target's version: a number, an alias with one target, or (without `version`) `production`,
 * else the newest ready version. Aliases pointing at a canary are refused: an evaluation
 * measures one version, and picking one by weight would make the result depend on chance.
 */
function resolveTarget(
  models: ModelManager,
  target: Schemas['EvaluationTarget'],
  where: string,
): { served: ServedVersion; requested: string } {
  const config = models.config(target.model);
  const asked = target.version;
  if (asked !== undefined && /^\d+$/.test(String(asked)))
    return { served: models.exactVersion(target.model, String(Number(asked))), requested: String(asked) };
  const alias = asked === undefined ? 'production' : String(asked);
  const targets = aliasTargets(config, alias);
  if (targets) {
    if (targets.length > 1) {
      throw badRequest(
        `alias '${alias}' of '${target.model}' points at versions ${targets.map((t) => t.version).join(' and ')} (a canary); name one version`,
        [{ path: `${where}/version`, message: 'names a canary alias; give a version number' }],
        'ambiguous_alias',
      );
    }
    return { served: models.exactVersion(target.model, targets[0]!.version), requested: asked === undefined ? 'default' : alias };
  }
  if (asked !== undefined) throw notFound(`model '${target.model}' has no version or alias '${asked}'`, 'version_not_found');
  const versions = models.versions(target.model);
  const newest = versions.filter((v) => v.state === 'READY').at(-1) ?? versions.at(-1);
  if (!newest) throw conflict(`model '${target.model}' has no versions yet`, 'version_not_ready');
  return { served: newest, requested: 'default' };
}

function view(record: StoredEvaluation): Evaluation {
  const { version_created_at: _guard, owner: _owner, ...evaluation } = record;
  return structuredClone(evaluation);
}

function round4(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
