/**
 * Training jobs: checked here (within the training budget, and the queue's limits per key and in
 * all), then kept, queued and run one at a time by the job store (jobs/store.ts) under
 * `<dataDir>/training/`, each in a worker process (runner.ts).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { notFound } from '../http/errors';
import { JobQueueLimit } from '../jobs/queue-limit';
import { JobStore } from '../jobs/store';
import type { Runtime } from '../runtime/backend';
import type { ModelManager } from '../serving/version-service';
import type { TrainingLimits } from './budget';
import type { TrainingJobCreate } from './protocol';
import { checkRequest } from './request';
import { runTraining, type TrainingEvent, type TrainingJob } from './runner';

export type { TrainingEvent, TrainingJob };

/** A job as stored: who created it (the API key's id), for the queue's limit per key; never shown. */
type StoredJob = TrainingJob & { owner?: string };

export class TrainingJobs {
  private readonly queue: JobQueueLimit<StoredJob, TrainingEvent>;

  private constructor(
    private readonly store: JobStore<StoredJob, TrainingEvent>,
    private readonly models: ModelManager,
    private readonly limits: TrainingLimits,
  ) {
    this.queue = new JobQueueLimit(
      store,
      'training jobs',
      { all: limits.maxTrainingJobs, perKey: limits.maxTrainingJobsPerKey },
      { all: 'max-training-jobs', perKey: 'max-training-jobs-per-key' },
    );
  }

  /** Loads the stored jobs: one the last process was running is now failed, `interrupted`; queued ones run. */
  static async open(dataDir: string, models: ModelManager, runtime: Runtime, limits: TrainingLimits): Promise<TrainingJobs> {
    const store = new JobStore<StoredJob, TrainingEvent>(path.join(dataDir, 'training'), {
      notFound: (id) => notFound(`training job '${id}' not found`, 'job_not_found'),
      events: true,
      run: (run) => runTraining(run, models, runtime),
    });
    await store.open();
    return new TrainingJobs(store, models, limits);
  }

  /** Checks the job (4xx, 413 over budget), then queues it unless `owner` or the server has as many as they may (429). */
  async create(request: TrainingJobCreate, owner = 'anonymous'): Promise<TrainingJob> {
    await checkRequest(request, this.models, this.limits);
    return view(
      await this.queue.admit({
        id: `tj_${randomUUID().replace(/-/g, '').slice(0, 12)}`,
        status: 'queued',
        model: request.model,
        ...(request.base_version !== undefined ? { base_version: request.base_version } : {}),
        dataset: request.dataset,
        epochs: request.epochs,
        progress: { epoch: 0, epochs: request.epochs, fraction: 0 },
        request,
        created_at: new Date().toISOString(),
        owner,
      }),
    );
  }

  get(id: string): TrainingJob {
    return view(this.store.get(id));
  }

  /** Newest first. */
  list(): TrainingJob[] {
    return this.store.list().map(view);
  }

  /** A queued job is dropped; a running one stops after its current batch. */
  async cancel(id: string): Promise<TrainingJob> {
    return view(await this.store.cancel(id));
  }

  /** Events so far after `afterSeq`, then live ones; returns an unsubscribe function. */
  subscribe(id: string, afterSeq: number, listener: (event: TrainingEvent) => void): () => void {
    return this.store.subscribe(id, afterSeq, listener);
  }

  /** Test-control reset: the running job is stopped, every job forgotten and its files deleted. */
  reset(): Promise<void> {
    return this.store.reset();
  }

  /** The server stops: the running job ends `interrupted`; queued ones wait for the next start. */
  close(): Promise<void> {
    return this.store.close();
  }
}

/** `error` repeats `failure.message` for clients that read only it; the owner is not shown. */
function view({ owner: _owner, ...job }: StoredJob): TrainingJob {
  return job.failure ? { ...job, error: job.failure.message } : job;
}
