/**
 * Runs one training job for the job store: a worker process trains (worker.ts, speaking
 * protocol.ts), so training never blocks the server and a crash there cannot take it down; the
 * trained model then becomes the next version of its model, checked like an upload.
 */
import { fork } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import type { components } from 'modelport';
import type { Ending, JobRun, StopReason } from '../jobs/store';
import { exportWarnings } from '../export/export-warnings';
import type { ModelConfig } from '../registry/model-config';
import type { Runtime } from '../runtime/backend';
import { tensorflowLogLevel } from '../runtime/log-level';
import { TRAINING_WORKER as WORKER } from '../server/package-paths';
import { DEFAULT_INSPECTION_LIMITS, UploadInspector } from '../serving/upload-inspector';
import type { ModelManager } from '../serving/version-service';
import type { FromWorker, ToWorker } from './protocol';
import { datasetRef, inputShape } from './request';

export type TrainingJob = components['schemas']['TrainingJob'];
export type TrainingEvent = components['schemas']['TrainingEvent'];
type Run = JobRun<TrainingJob, TrainingEvent>;
type TrainingEnding = Ending<TrainingJob, TrainingEvent>;

/** How long a worker asked to cancel may take to stop before it is killed. */
const CANCEL_GRACE_MS = 10_000;

export async function runTraining(run: Run, models: ModelManager, runtime: Runtime): Promise<TrainingEnding | undefined> {
  const request = run.job.request!;
  let start: ToWorker;
  try {
    // The base model or version may have gone (deleted, reset) while the job was queued.
    start = {
      type: 'start',
      request,
      dataset: datasetRef(request.dataset, models),
      outDir: run.scratch,
      inputShape: inputShape(request, models),
      ...(request.base_version !== undefined ? { baseDir: models.repository.versionDir(request.model, request.base_version) } : {}),
    };
  } catch (error) {
    return { status: 'failed', failure: { reason: 'model_unavailable', message: (error as Error).message } };
  }
  if (!(await run.start())) return undefined;

  const worker = fork(WORKER, [], {
    execArgv: WORKER.endsWith('.ts') ? ['--import', 'tsx'] : [],
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: tensorflowLogLevel() },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => worker.on('exit', () => resolve()));
  let outcome: FromWorker | undefined;
  worker.on('message', (message: FromWorker) => {
    if (message.type === 'started') void run.emit({ type: 'started' });
    else if (message.type === 'epoch') recordEpoch(run, message);
    else outcome = message;
  });
  worker.on('error', (error) => console.error(`[modelport] training job ${run.job.id}: worker process error:`, error));
  const stop = () => {
    if ((run.signal.reason as StopReason) !== 'cancel') return worker.kill('SIGKILL'); // a reset or the server stopping
    // A worker that has just exited (the job is ending) has closed its channel: with a callback,
    // send reports that to it instead of emitting an 'error' that nothing handles.
    if (worker.connected) worker.send({ type: 'cancel' } satisfies ToWorker, () => undefined);
    setTimeout(() => worker.kill('SIGKILL'), CANCEL_GRACE_MS).unref(); // one that does not stop in time is killed
  };
  if (run.signal.aborted) stop();
  else run.signal.addEventListener('abort', stop, { once: true });
  worker.send(start, () => undefined); // a worker that died at once is reported by 'exit'
  await exited;

  // After a reset or with the server stopping, no result is registered: the store ends the job.
  const stopping = run.signal.aborted && (run.signal.reason as StopReason) !== 'cancel';
  if (outcome?.type === 'done' && !stopping) {
    try {
      return await register(run, outcome, models, runtime);
    } catch (error) {
      return { status: 'failed', failure: { reason: 'internal', message: (error as Error).message } };
    }
  }
  if (outcome?.type === 'cancelled') return { status: 'cancelled', event: { batches_after_cancel: outcome.batchesAfterCancel } };
  if (outcome?.type === 'error') return { status: 'failed', failure: { reason: 'training_error', message: outcome.message } };
  if (run.signal.aborted) return undefined; // killed as asked
  return { status: 'failed', failure: { reason: 'training_error', message: 'the training process exited unexpectedly' } };
}

/** An epoch's event, then the job's progress: both written in that order, neither awaited by the worker's messages. */
function recordEpoch(run: Run, message: Extract<FromWorker, { type: 'epoch' }>): void {
  void run.emit({
    type: 'epoch',
    epoch: message.epoch,
    epochs: message.epochs,
    ...message.metrics,
    seconds: message.seconds,
    eta_seconds: message.etaSeconds,
  });
  void run.update({
    progress: {
      epoch: message.epoch,
      epochs: message.epochs,
      fraction: Math.round((message.epoch / message.epochs) * 1000) / 1000,
      eta_seconds: message.etaSeconds,
    },
    metrics: message.metrics,
  });
}

/** The trained model becomes the next version of its model (created if new), checked like an upload. */
async function register(
  run: Run,
  done: Extract<FromWorker, { type: 'done' }>,
  models: ModelManager,
  runtime: Runtime,
): Promise<TrainingEnding> {
  const { job } = run;
  const request = job.request!;
  if (!models.has(request.model)) {
    const now = new Date().toISOString();
    const config: ModelConfig = {
      name: request.model,
      task: request.task ?? 'classification',
      labels: request.labels ?? [],
      tags: ['trained'],
      aliases: {},
      created_at: now,
      updated_at: now,
    };
    await models.createModel(config);
  }
  const staged = await models.repository.stagingDir(request.model);
  try {
    await cp(run.scratch, staged, { recursive: true });
    // Checked and test-loaded in a child process like an upload, then loaded here.
    const inspector = new UploadInspector(runtime, DEFAULT_INSPECTION_LIMITS, { keepSpare: false });
    const accepted = await inspector.accept(staged, models.config(request.model));
    const info = {
      ...accepted.info,
      export_warnings: await exportWarnings(runtime, models.config(request.model), accepted.info, staged),
      params: done.params,
      metrics: { ...done.metrics, dataset: request.dataset },
      training: {
        job: job.id,
        dataset: request.dataset,
        epochs: request.epochs,
        epochs_run: done.epochsRun,
        batch_size: request.batch_size ?? 32,
        optimizer: request.optimizer,
        seconds: done.seconds,
        backend: done.backend,
        ...(request.base_version !== undefined ? { base_version: request.base_version } : {}),
      },
    };
    if (!models.config(request.model).inputs) {
      await models.updateConfig(request.model, (c) => ({ ...c, platform: info.platform, inputs: info.inputs, outputs: info.outputs }));
    }
    const served = await models.addVersion(request.model, staged, info, accepted.loaded);
    if (request.alias) await models.setAlias(request.model, request.alias, [{ version: served.info.version, weight: 100 }]);
    return {
      status: 'succeeded',
      record: {
        metrics: done.metrics,
        result_version: served.info.version,
        ...(job.progress ? { progress: { ...job.progress, fraction: 1, eta_seconds: 0 } } : {}),
      },
      event: { version: served.info.version },
    };
  } catch (error) {
    await rm(staged, { recursive: true, force: true });
    throw error;
  }
}
