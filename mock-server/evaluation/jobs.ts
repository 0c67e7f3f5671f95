/**
 * Evaluation jobs: checked and queued on create, run one at a time, persisted as one record per
 * job (`<dataDir>/evaluations/<id>.json`, rewritten atomically at every status change and after
 * each version), so results survive restarts and a job the server was running when it died is
 * reported `failed` with reason `interrupted`.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { components } from 'modelport';
import { HttpError, badRequest, conflict, notFound, type ErrorDetail } from '../http/errors';
import { sweep, writeFileAtomic } from '../registry/atomic';
import { aliasTargets, type ModelManager, type ServedVersion } from '../serving/version-service';
import type { DatasetStore } from '../datasets/datasets';
import { Bench, EvaluationError, MAX_WARMUP, artifactBytes, datasetSamples, measureLatency, percentiles, planInput, runPass } from './engine';

type Schemas = components['schemas'];
export type Evaluation = Schemas['Evaluation'];
export type EvaluationCreate = Schemas['EvaluationCreate'];
export type EvaluationResult = Schemas['EvaluationResult'];
export type EvaluationSummary = Schemas['EvaluationSummary'];

export const DEFAULT_BATCH_SIZE = 250;
export const DEFAULT_LATENCY_SAMPLES = 50;

/** The record on disk: the API's view plus what guards results against reused version numbers. */
interface StoredEvaluation extends Evaluation {
  /** `created_at` of each evaluated version: a version deleted and re-uploaded under the same number is another model. */
  version_created_at: string[];
}

export class EvaluationJobs {
  private readonly jobs = new Map<string, StoredEvaluation>();
  private readonly queue: string[] = [];
  private pumping = false;

  private constructor(
    private readonly dir: string,
    private readonly models: ModelManager,
    private readonly datasets: DatasetStore,
    private readonly bench: Bench,
  ) {}

  /** Loads every stored job; one the last process had queued or running is now failed, `interrupted`. */
  static async open(dataDir: string, models: ModelManager, datasets: DatasetStore, bench: Bench): Promise<EvaluationJobs> {
    const jobs = new EvaluationJobs(path.join(dataDir, 'evaluations'), models, datasets, bench);
    await mkdir(jobs.dir, { recursive: true });
    await sweep(jobs.dir);
    for (const file of (await readdir(jobs.dir)).filter((f) => f.endsWith('.json'))) {
      let record: StoredEvaluation;
      try {
        record = JSON.parse(await readFile(path.join(jobs.dir, file), 'utf8')) as StoredEvaluation;
      } catch (error) {
        // Records are written atomically, so this is a hand-edited file: skip it, serve the rest.
        console.warn(`[modelport] skipping evaluation record ${file}: ${(error as Error).message}`);
        continue;
      }
      jobs.jobs.set(record.id, record);
      if (record.status === 'queued' || record.status === 'running') {
        const ran = record.status === 'running';
        jobs.fail(record, 'interrupted', ran ? 'the server stopped while this evaluation was running' : 'the server stopped before this evaluation ran');
        await jobs.save(record);
      }
    }
    return jobs;
  }

  /** Checks everything that can be checked up front (as 4xx), then queues the job. */
  async create(request: EvaluationCreate): Promise<Evaluation> {
    const dataset = this.datasets.info(request.dataset);
    const data = await this.datasets.load(request.dataset);
    const targets = request.models.map((target, i) => resolveTarget(this.models, target, `/models/${i}`));
    const seen = new Map<string, number>();
    const problems: ErrorDetail[] = [];
    targets.forEach(({ served }, i) => {
      const key = `${served.name}@${served.version}`;
      if (seen.has(key)) problems.push({ path: `/models/${i}`, message: `${served.name} version ${served.version} is already target ${seen.get(key)}` });
      seen.set(key, i);
    });
    if (problems.length) throw badRequest('each model version may be evaluated once per job', problems);
    for (const [i, { served }] of targets.entries()) {
      if (served.state !== 'READY') {
        throw conflict(`${served.name} version ${served.version} is not loaded (${served.reason ?? served.state.toLowerCase()}); load it first (POST /v1/models/${served.name}/versions/${served.version}/load)`, 'version_not_ready');
      }
      problems.push(...planInput(served, data, `/models/${i}`).problems);
    }
    if (problems.length) {
      throw badRequest(`cannot evaluate on dataset '${dataset.name}': ${problems[0]!.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`, problems, 'incompatible_dataset');
    }
    const record: StoredEvaluation = {
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
    };
    this.jobs.set(record.id, record);
    try {
      // Accepted only once it is on disk: a 202 is a promise that a restart will still know the job.
      await writeFileAtomic(this.file(record.id), `${JSON.stringify(record, null, 2)}\n`);
    } catch (error) {
      this.jobs.delete(record.id);
      throw error;
    }
    this.queue.push(record.id);
    // The answer is the job as accepted; the pump may start it before the response is sent.
    const accepted = view(record);
    void this.pump();
    return accepted;
  }

  get(id: string): Evaluation {
    return view(this.record(id));
  }

  /** Newest first. */
  list(): Evaluation[] {
    return [...this.jobs.values()].sort(newestFirst).map(view);
  }

  /** Summaries of the succeeded results of one version, newest first. */
  summaries(served: ServedVersion): EvaluationSummary[] {
    const summaries: EvaluationSummary[] = [];
    for (const job of [...this.jobs.values()].sort(newestFirst)) {
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
   * a job still running finishes its current step unseen, and is never saved again.
   */
  async reset(): Promise<void> {
    this.queue.length = 0;
    const ids = [...this.jobs.keys()];
    this.jobs.clear();
    for (const id of ids) await rm(this.file(id), { force: true });
  }

  private file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  private record(id: string): StoredEvaluation {
    const record = this.jobs.get(id);
    if (!record) throw notFound(`evaluation '${id}' not found`, 'evaluation_not_found');
    return record;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let id = this.queue.shift(); id !== undefined; id = this.queue.shift()) await this.run(this.jobs.get(id)!);
    } finally {
      this.pumping = false;
    }
  }

  private async run(job: StoredEvaluation): Promise<void> {
    job.status = 'running';
    job.started_at = new Date().toISOString();
    await this.save(job);
    try {
      const data = await this.datasets.load(job.dataset).catch((error) => {
        throw new EvaluationError('dataset_unavailable', `dataset '${job.dataset}' could not be read: ${(error as Error).message}`);
      });
      const latencyCount = Math.min(job.latency_samples, data.info.samples);
      const perVersion = data.info.samples + latencyCount + Math.min(latencyCount, MAX_WARMUP);
      const total = perVersion * job.models.length;
      for (const [i, target] of job.models.entries()) {
        if (this.jobs.get(job.id) !== job) return; // forgotten by a reset
        const served = this.currentVersion(target.model, target.version, job.version_created_at[i] ?? '');
        const { plan, problems } = planInput(served, data);
        if (!plan) throw new EvaluationError('dataset_unavailable', `dataset '${job.dataset}' changed since the job was created: ${problems[0]?.message}`);
        const done = i * perVersion;
        const result = await this.bench.run(async () => {
          const started = performance.now();
          const pass = await runPass(served, data, plan, job.batch_size, (samples) => { job.progress = round4((done + samples) / total); });
          let requests = 0;
          const [latency] = latencyCount > 0
            ? await measureLatency([{ served, count: latencyCount, sample: datasetSamples(data, plan) }], () => { job.progress = round4((done + data.info.samples + ++requests) / total); })
            : [undefined];
          if (latency instanceof Error) throw latency;
          const size = await artifactBytes(this.models.repository.versionDir(served.name, served.version)).catch((error: NodeJS.ErrnoException) => {
            // Deleted while it was being evaluated: its folder went away under the job.
            if (error.code === 'ENOENT') throw new EvaluationError('model_unavailable', `${served.name} version ${served.info.version} was deleted while it was evaluated`);
            throw error;
          });
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
        job.results.push(result);
        job.progress = round4((i + 1) / job.models.length);
        await this.save(job);
      }
      job.status = 'succeeded';
      job.progress = 1;
      job.finished_at = new Date().toISOString();
    } catch (error) {
      const [reason, message] = this.classify(error);
      this.fail(job, reason, message);
    }
    await this.save(job);
  }

  /** The version as it is now; gone, replaced or unloaded versions end the job. */
  private currentVersion(model: string, version: number, createdAt: string): ServedVersion {
    let served: ServedVersion;
    try {
      served = this.models.exactVersion(model, version);
    } catch {
      throw new EvaluationError('model_unavailable', `${model} version ${version} was deleted before it was evaluated`);
    }
    if ((served.info.created_at ?? '') !== createdAt) throw new EvaluationError('model_unavailable', `${model} version ${version} was replaced before it was evaluated`);
    return served;
  }

  private classify(error: unknown): [NonNullable<Evaluation['failure']>['reason'], string] {
    if (error instanceof EvaluationError) return [error.reason, error.message];
    if (error instanceof HttpError && (error.code === 'model_not_ready' || error.status === 404)) {
      // Every version unloaded at once is the server shutting down (close() disposes all models):
      // that is an interruption, not something wrong with the model.
      const all = this.models.all();
      if (all.length > 0 && all.every((v) => v.state !== 'READY')) return ['interrupted', 'the server stopped while this evaluation was running'];
      return ['model_unavailable', error.message];
    }
    if (error instanceof HttpError && error.code === 'overloaded') return ['model_unavailable', `${error.message} (for more than 30 s)`];
    console.error('[modelport] evaluation failed:', error);
    return ['internal', `internal error: ${(error as Error).message}`];
  }

  private fail(job: StoredEvaluation, reason: NonNullable<Evaluation['failure']>['reason'], message: string): void {
    job.status = 'failed';
    job.failure = { reason, message };
    job.finished_at = new Date().toISOString();
  }

  private async save(job: StoredEvaluation): Promise<void> {
    if (this.jobs.get(job.id) !== job) return; // forgotten by a reset while it ran
    try {
      await writeFileAtomic(this.file(job.id), `${JSON.stringify(job, null, 2)}\n`);
    } catch (error) {
      // A server closed with a temporary data dir removes it under a job still finishing.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') console.error(`[modelport] could not save evaluation ${job.id}:`, error);
    }
  }
}

/**
 * A target's version: a number, an alias with one target, or (without `version`) `production`,
 * else the newest ready version. Aliases pointing at a canary are refused: an evaluation
 * measures one version, and picking one by weight would make the result depend on chance.
 */
function resolveTarget(models: ModelManager, target: Schemas['EvaluationTarget'], where: string): { served: ServedVersion; requested: string } {
  const config = models.config(target.model);
  const asked = target.version;
  if (asked !== undefined && /^\d+$/.test(String(asked))) return { served: models.exactVersion(target.model, String(Number(asked))), requested: String(asked) };
  const alias = asked === undefined ? 'production' : String(asked);
  const targets = aliasTargets(config, alias);
  if (targets) {
    if (targets.length > 1) {
      throw badRequest(`alias '${alias}' of '${target.model}' points at versions ${targets.map((t) => t.version).join(' and ')} (a canary); name one version`, [{ path: `${where}/version`, message: 'names a canary alias; give a version number' }], 'ambiguous_alias');
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
  const { version_created_at: _guard, ...evaluation } = record;
  return structuredClone(evaluation);
}

function newestFirst(a: Evaluation, b: Evaluation): number {
  return b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id);
}

function round4(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
