/**
 * Training jobs: validated and queued here, run one at a time in a worker process, persisted
 * (a record per job, rewritten atomically, and an append-only event log), so a restart shows
 * every job, and one that was running when the server died as `interrupted`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFile, cp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { TRAINING_WORKER as WORKER } from '../server/package-paths';
import type { components } from 'modelport';
import { badRequest, conflict, notFound } from '../http/errors';
import { sweep, writeFileAtomic } from '../registry/atomic';
import { inspectUpload } from '../serving/upload-inspection';
import type { ModelConfig } from '../registry/model-config';
import type { Runtime } from '../runtime/backend';
import type { ModelManager } from '../serving/version-service';
import { datasetShape, type DatasetRef } from './data';
import type { FromWorker, ToWorker, TrainingJobCreate } from './protocol';

export type TrainingJob = components['schemas']['TrainingJob'];
export type TrainingEvent = components['schemas']['TrainingEvent'];
type Listener = (event: TrainingEvent) => void;

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'interrupted']);
const CANCEL_GRACE_MS = 10_000;

interface Entry {
  /** The job as this process runs it; its changes are shown once saved. */
  job: TrainingJob;
  /**
   * The job as last saved: what the API shows, so that nothing a client saw (running, succeeded
   * with a version) is undone by a crash before the record reached the disk.
   */
  saved?: TrainingJob;
  /** The record's writes, one after another, so the file always ends with the newest state. */
  saving: Promise<void>;
  events: TrainingEvent[];
  listeners: Set<Listener>;
}

export class TrainingJobs {
  private readonly jobs = new Map<string, Entry>();
  private running: { id: string; worker: ChildProcess } | undefined;
  /** The run in progress, from the worker's start to its result registered. */
  private current: Promise<void> | undefined;
  private resetting = false;
  /** Jobs being created: not to be started until saved with their first event. */
  private readonly creating = new Set<string>();
  /** Event and progress writes under way for the worker's messages. */
  private readonly writes = new Set<Promise<void>>();
  private readonly cancelling = new Set<string>();
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly models: ModelManager,
    private readonly runtime: Runtime,
  ) {}

  /** Loads persisted jobs; a job the last process was running is now `interrupted`. */
  static async open(dataDir: string, models: ModelManager, runtime: Runtime): Promise<TrainingJobs> {
    const jobs = new TrainingJobs(path.join(dataDir, 'training'), models, runtime);
    await mkdir(jobs.dir, { recursive: true });
    // What a kill left: temporaries of job records, and the output folders of interrupted runs.
    await sweep(jobs.dir);
    for (const name of (await readdir(jobs.dir)).filter((f) => f.endsWith('.out'))) await rm(path.join(jobs.dir, name), { recursive: true, force: true });
    for (const file of (await readdir(jobs.dir)).filter((f) => f.endsWith('.json'))) {
      const job = JSON.parse(await readFile(path.join(jobs.dir, file), 'utf8')) as TrainingJob;
      const logFile = path.join(jobs.dir, `${job.id}.events.jsonl`);
      const log = await readFile(logFile, 'utf8').catch(() => '');
      const events = readEventLog(log);
      // A kill between saving a new job and appending its first event leaves the job without it.
      if (events.length === 0) events.push({ seq: 1, at: job.created_at, type: 'queued' });
      // A tail torn by a crash mid-append is cut off, so the next event starts on a line of its own.
      const whole = events.map((e) => `${JSON.stringify(e)}\n`).join('');
      if (whole.length !== log.length) await writeFileAtomic(logFile, whole);
      jobs.jobs.set(job.id, { job, saved: structuredClone(job), saving: Promise.resolve(), events, listeners: new Set() });
      if (job.status === 'running') await jobs.finish(job.id, 'interrupted', { error: 'the server stopped while this job was running' });
    }
    jobs.pump();
    return jobs;
  }

  async create(request: TrainingJobCreate): Promise<TrainingJob> {
    await this.check(request);
    const id = `tj_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const job: TrainingJob = {
      id,
      status: 'queued',
      model: request.model,
      ...(request.base_version !== undefined ? { base_version: request.base_version } : {}),
      dataset: request.dataset,
      epochs: request.epochs,
      progress: { epoch: 0, epochs: request.epochs, fraction: 0 },
      request,
      created_at: new Date().toISOString(),
    };
    this.jobs.set(id, { job, saving: Promise.resolve(), events: [], listeners: new Set() });
    // Not started before it is saved and its log begins with `queued` (a job ending meanwhile pumps).
    this.creating.add(id);
    try {
      await this.save(job);
      await this.emit(id, { type: 'queued' });
    } finally {
      this.creating.delete(id);
    }
    this.pump();
    return this.get(id);
  }

  get(id: string): TrainingJob {
    const { saved } = this.entry(id);
    if (!saved) throw notFound(`training job '${id}' not found`, 'job_not_found');
    return saved;
  }

  list(): TrainingJob[] {
    return [...this.jobs.values()].flatMap((e) => (e.saved ? [e.saved] : [])).sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
  }

  async cancel(id: string): Promise<TrainingJob> {
    const { job } = this.entry(id);
    if (TERMINAL.has(job.status)) throw conflict(`job ${id} has already ${job.status === 'succeeded' ? 'succeeded' : `ended (${job.status})`}`, 'job_finished');
    if (job.status === 'queued') {
      await this.finish(id, 'cancelled', {});
      return this.get(id);
    }
    const worker = this.running?.id === id ? this.running.worker : undefined;
    this.cancelling.add(id);
    // A worker that has just exited (the job is ending) has closed its channel: with a callback,
    // send reports that to it instead of emitting an 'error' that nothing handles.
    if (worker?.connected) worker.send({ type: 'cancel' } satisfies ToWorker, () => undefined);
    // A worker that does not stop within the grace period is killed.
    setTimeout(() => worker?.kill('SIGKILL'), CANCEL_GRACE_MS).unref();
    return this.get(id);
  }

  /** Events so far after `afterSeq`, then live ones; returns an unsubscribe function. */
  subscribe(id: string, afterSeq: number, listener: Listener): () => void {
    const entry = this.entry(id);
    for (const event of entry.events) if (event.seq > afterSeq) listener(event);
    entry.listeners.add(listener);
    return () => entry.listeners.delete(listener);
  }

  isFinished(id: string): boolean {
    return TERMINAL.has(this.entry(id).job.status);
  }

  /**
   * Test-control reset: every job is forgotten and its files deleted. Jobs not yet ended end as
   * `cancelled` first, so event streams that follow them see a last event and close.
   */
  async reset(): Promise<void> {
    this.resetting = true; // no job starts until the reset is done
    try {
      this.running?.worker.kill('SIGKILL');
      // The current run ends: a killed worker writes nothing more, and a result already being
      // registered lands now, before the models are reset after this, rather than after them.
      await this.current;
      await Promise.all(this.writes);
      for (const { job } of [...this.jobs.values()]) if (!TERMINAL.has(job.status)) await this.finish(job.id, 'cancelled', { error: 'the server was reset' });
      this.jobs.clear();
      this.cancelling.clear();
      await rm(this.dir, { recursive: true, force: true });
      await mkdir(this.dir, { recursive: true });
    } finally {
      this.resetting = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const running = this.running;
    if (running) {
      running.worker.kill('SIGKILL');
      await this.finish(running.id, 'interrupted', { error: 'the server stopped while this job was running' });
    }
  }

  /** Everything that can be checked before a job is queued is checked here, as a 4xx. */
  private async check(request: TrainingJobCreate): Promise<void> {
    if ((request.architecture === undefined) === (request.base_version === undefined)) {
      throw badRequest('give either architecture (a new model) or base_version (fine-tuning), not both or neither', [{ path: '/architecture', message: 'exactly one of architecture and base_version' }]);
    }
    if (request.freeze_layers !== undefined && request.base_version === undefined) {
      throw badRequest('freeze_layers applies to fine-tuning only', [{ path: '/freeze_layers', message: 'needs base_version' }]);
    }
    const shape = await datasetShape(this.datasetRef(request.dataset));
    const inputShape = this.inputShape(request);
    const features = inputShape.reduce((a, b) => a * b, 1);
    if (features !== shape.features) {
      throw badRequest(`the model's input [${inputShape}] has ${features} elements; dataset '${request.dataset}' samples have ${shape.features}`, [{ path: '/architecture/input/shape', message: `needs ${shape.features} elements` }], 'shape_mismatch');
    }
    const last = request.architecture?.layers.at(-1);
    if (last?.type === 'dense' && last.units !== shape.classes && (request.loss ?? 'categorical_crossentropy') !== 'mean_squared_error') {
      throw badRequest(`the last layer has ${last.units} units; dataset '${request.dataset}' has ${shape.classes} classes`, [{ path: `/architecture/layers/${request.architecture!.layers.length - 1}/units`, message: `must be ${shape.classes}` }], 'shape_mismatch');
    }
    if (request.batch_size !== undefined && request.batch_size > shape.samples) {
      throw badRequest(`batch_size ${request.batch_size} exceeds the ${shape.samples} samples of '${request.dataset}'`, [{ path: '/batch_size', message: `at most ${shape.samples}` }]);
    }
  }

  private datasetRef(name: string): DatasetRef {
    return { name, dataDir: this.models.repository.dataDir };
  }

  private inputShape(request: TrainingJobCreate): number[] {
    if (request.architecture) {
      if (this.models.has(request.model)) {
        const declared = this.models.config(request.model).inputs?.[0]?.shape.slice(1);
        if (declared && declared.join() !== request.architecture.input.shape.join()) {
          throw badRequest(`model '${request.model}' takes [${declared}]; the architecture's input is [${request.architecture.input.shape}]`, [{ path: '/architecture/input/shape', message: `must be [${declared}]` }], 'signature_mismatch');
        }
      }
      return request.architecture.input.shape;
    }
    const base = this.models.exactVersion(request.model, request.base_version!);
    if (base.info.platform !== 'tfjs_layers') {
      throw badRequest(`fine-tuning needs a TF.js layers model; version ${request.base_version} of '${request.model}' is ${base.info.platform}`, undefined, 'unsupported_model');
    }
    return base.config.inputs[0]!.shape.slice(1);
  }

  private pump(): void {
    if (this.running || this.closed || this.resetting) return;
    const next = [...this.jobs.values()].map((e) => e.job).filter((j) => j.status === 'queued' && !this.creating.has(j.id)).sort((a, b) => a.created_at.localeCompare(b.created_at))[0];
    if (!next) return;
    const current: Promise<void> = this.run(next)
      .catch((error) => console.error(`[modelport] training job ${next.id} could not run:`, error))
      .finally(() => {
        if (this.current === current) this.current = undefined;
      });
    this.current = current;
  }

  private async run(job: TrainingJob): Promise<void> {
    const request = job.request!;
    const outDir = path.join(this.dir, `${job.id}.out`);
    let start: ToWorker;
    try {
      // The base model or version may have gone (deleted, reset) while the job was queued.
      start = {
        type: 'start',
        request,
        dataset: this.datasetRef(request.dataset),
        outDir,
        inputShape: this.inputShape(request),
        ...(request.base_version !== undefined ? { baseDir: this.models.repository.versionDir(request.model, request.base_version) } : {}),
      };
    } catch (error) {
      await this.finish(job.id, 'failed', { error: (error as Error).message });
      this.pump();
      return;
    }
    await rm(outDir, { recursive: true, force: true });
    if (this.resetting) return; // the job ends as cancelled with the reset
    const worker = fork(WORKER, [], {
      execArgv: WORKER.endsWith('.ts') ? ['--import', 'tsx'] : [],
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const exited = new Promise<void>((resolve) => worker.on('exit', () => resolve()));
    this.running = { id: job.id, worker };
    job.status = 'running';
    job.started_at = new Date().toISOString();
    await this.save(job);
    let outcome: FromWorker | undefined;
    worker.on('message', (message: FromWorker) => {
      if (this.resetting) return; // the reset ends this job; nothing more is written for it
      if (message.type === 'started') this.track(this.emit(job.id, { type: 'started' }));
      else if (message.type === 'epoch') this.track(this.onEpoch(job, message));
      else outcome = message;
    });
    worker.on('error', (error) => console.error(`[modelport] training job ${job.id}: worker process error:`, error));
    worker.send(start, () => undefined); // a worker that died at once is reported by 'exit'
    await exited;
    this.running = undefined;
    try {
      if (this.closed || (this.resetting && outcome?.type !== 'done')) return; // the reset ends it as cancelled
      if (outcome?.type === 'done') await this.register(job, outcome, outDir);
      else if (outcome?.type === 'cancelled' || (!outcome && this.cancelling.has(job.id))) await this.finish(job.id, 'cancelled', outcome?.type === 'cancelled' ? { batchesAfterCancel: outcome.batchesAfterCancel } : {});
      else await this.finish(job.id, 'failed', { error: outcome?.type === 'error' ? outcome.message : 'the training process exited unexpectedly' });
    } catch (error) {
      await this.finish(job.id, 'failed', { error: (error as Error).message });
    } finally {
      this.cancelling.delete(job.id);
      await rm(outDir, { recursive: true, force: true });
      this.pump();
    }
  }

  private track(write: Promise<void>): void {
    const tracked = write
      .catch((error) => console.error('[modelport] could not record training progress:', error))
      .finally(() => this.writes.delete(tracked));
    this.writes.add(tracked);
  }

  private async onEpoch(job: TrainingJob, message: Extract<FromWorker, { type: 'epoch' }>): Promise<void> {
    job.progress = { epoch: message.epoch, epochs: message.epochs, fraction: Math.round((message.epoch / message.epochs) * 1000) / 1000, eta_seconds: message.etaSeconds };
    job.metrics = message.metrics;
    await this.emit(job.id, { type: 'epoch', epoch: message.epoch, epochs: message.epochs, ...message.metrics, seconds: message.seconds, eta_seconds: message.etaSeconds });
    await this.save(job);
  }

  /** The trained model becomes the next version of its model (created if new), checked like an upload. */
  private async register(job: TrainingJob, done: Extract<FromWorker, { type: 'done' }>, outDir: string): Promise<void> {
    const request = job.request!;
    if (!this.models.has(request.model)) {
      const now = new Date().toISOString();
      const config: ModelConfig = { name: request.model, task: request.task ?? 'classification', labels: request.labels ?? [], tags: ['trained'], aliases: {}, created_at: now, updated_at: now };
      await this.models.createModel(config);
    }
    const staged = await this.models.repository.stagingDir(request.model);
    try {
      await cp(outDir, staged, { recursive: true });
      const files = await readdir(staged, { recursive: true });
      const inspected = await inspectUpload(this.runtime, staged, files.map(String), this.models.config(request.model), {});
      const info = {
        ...inspected.info,
        params: done.params,
        metrics: { ...done.metrics, dataset: request.dataset },
        training: {
          job: job.id, dataset: request.dataset, epochs: request.epochs, epochs_run: done.epochsRun, batch_size: request.batch_size ?? 32,
          optimizer: request.optimizer, seconds: done.seconds, backend: done.backend, ...(request.base_version !== undefined ? { base_version: request.base_version } : {}),
        },
      };
      if (!this.models.config(request.model).inputs) {
        await this.models.updateConfig(request.model, (c) => ({ ...c, platform: info.platform, inputs: info.inputs, outputs: info.outputs }));
      }
      const served = await this.models.addVersion(request.model, staged, info, inspected.loaded);
      if (request.alias) await this.models.setAlias(request.model, request.alias, [{ version: served.info.version, weight: 100 }]);
      job.metrics = done.metrics;
      await this.finish(job.id, 'succeeded', { result_version: served.info.version });
    } catch (error) {
      await rm(staged, { recursive: true, force: true });
      throw error;
    }
  }

  private async finish(id: string, status: TrainingJob['status'], extra: { error?: string; result_version?: number; batchesAfterCancel?: number }): Promise<void> {
    const { job } = this.entry(id);
    job.status = status;
    job.finished_at = new Date().toISOString();
    if (extra.error) job.error = extra.error;
    if (extra.result_version !== undefined) job.result_version = extra.result_version;
    if (status === 'succeeded' && job.progress) job.progress = { ...job.progress, fraction: 1, eta_seconds: 0 };
    await this.save(job);
    await this.emit(id, {
      type: status as TrainingEvent['type'],
      ...(extra.error ? { error: extra.error } : {}),
      ...(extra.result_version !== undefined ? { version: extra.result_version } : {}),
      ...(extra.batchesAfterCancel !== undefined ? { batches_after_cancel: extra.batchesAfterCancel } : {}),
    });
  }

  private async emit(id: string, event: Omit<TrainingEvent, 'seq' | 'at'>): Promise<void> {
    const entry = this.entry(id);
    const full = { seq: entry.events.length + 1, at: new Date().toISOString(), ...event } as TrainingEvent;
    entry.events.push(full);
    await appendFile(path.join(this.dir, `${id}.events.jsonl`), `${JSON.stringify(full)}\n`);
    for (const listener of entry.listeners) listener(full);
  }

  /** Writes the job's record as it is now; once on disk, that state is what the API shows. */
  private save(job: TrainingJob): Promise<void> {
    const entry = this.entry(job.id);
    const snapshot = structuredClone(job);
    const write = entry.saving.catch(() => undefined).then(async () => {
      await writeFileAtomic(path.join(this.dir, `${job.id}.json`), JSON.stringify(snapshot));
      entry.saved = snapshot;
    });
    entry.saving = write;
    return write;
  }

  private entry(id: string): Entry {
    const entry = this.jobs.get(id);
    if (!entry) throw notFound(`training job '${id}' not found`, 'job_not_found');
    return entry;
  }
}

/** The events of a job's append-only log; a last line torn by a crash mid-append never happened. */
function readEventLog(log: string): TrainingEvent[] {
  const events: TrainingEvent[] = [];
  for (const line of log.split('\n')) {
    if (!line) continue;
    try {
      events.push(JSON.parse(line) as TrainingEvent);
    } catch {
      break;
    }
  }
  return events;
}
