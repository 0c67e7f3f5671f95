/**
 * The training worker: a child process, so training never blocks the server's event loop and a
 * crash here cannot take the server down. One job per process; it exits when done or when the
 * server goes away.
 */
import type * as tfTypes from '../runtime/tfjs';
import { loadRuntime } from '../runtime/backend';
import { buildModel, buildOptimizer, LOSSES } from './architecture';
import { loadDataset } from './data';
import { shuffleInPlace } from '../datasets/labeled-set';
import { mulberry32 } from '../runtime/seeded-random';
import type { FromWorker, ToWorker } from './protocol';

let cancelled = false;
let batchesAfterCancel = 0;
const send = (message: FromWorker) => process.send!(message);

process.on('disconnect', () => process.exit(1)); // the server died: do not train for nobody
process.on('message', (message: ToWorker) => {
  if (message.type === 'cancel') cancelled = true;
  else
    train(message).then(
      () => process.disconnect(),
      (error) => {
        send({ type: 'error', message: (error as Error).message });
        process.disconnect();
      },
    );
});

async function train(job: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  const { request } = job;
  const { tf, backend } = await loadRuntime();
  const seed = request.seed ?? 42;
  const data = await loadDataset(job.dataset);
  send({ type: 'started' });

  // Shuffle once with the job's seed so the validation split is a fair sample.
  const order = shuffleInPlace(
    Array.from({ length: data.n }, (_, i) => i),
    mulberry32(seed),
  );
  const x = new Float32Array(data.n * data.features);
  const labels = new Int32Array(data.n);
  order.forEach((from, to) => {
    x.set(data.x.subarray(from * data.features, (from + 1) * data.features), to * data.features);
    labels[to] = data.y[from]!;
  });

  const model: tfTypes.LayersModel = job.baseDir
    ? await tf.loadLayersModel(`file://${job.baseDir}/model.json`)
    : buildModel(tf, request.architecture!, seed);
  if (job.baseDir && request.freeze_layers) model.layers.slice(0, request.freeze_layers).forEach((layer) => (layer.trainable = false));
  const loss = request.loss ?? 'categorical_crossentropy';
  model.compile({ optimizer: buildOptimizer(tf, request.optimizer), loss: LOSSES[loss]!, metrics: request.metrics ?? ['accuracy'] });

  const xs = tf.tensor(x, [data.n, ...job.inputShape]);
  const ys =
    loss === 'sparse_categorical_crossentropy'
      ? tf.tensor2d(labels, [data.n, 1], 'float32')
      : tf.oneHot(tf.tensor1d(labels, 'int32'), data.classes).toFloat();
  const epochs = request.epochs;
  const started = performance.now();
  let epochStarted = started;
  let last: Record<string, number> = {};
  let epochsRun = 0;
  const callbacks: tfTypes.CustomCallbackArgs = {
    onBatchEnd: async () => {
      if (!cancelled) return;
      batchesAfterCancel += 1;
      model.stopTraining = true; // fit checks this after every batch
    },
    onEpochEnd: async (epoch, logs) => {
      epochsRun = epoch + 1;
      last = logs ?? {};
      const now = performance.now();
      const seconds = (now - epochStarted) / 1000;
      epochStarted = now;
      const perEpoch = (now - started) / 1000 / (epoch + 1);
      send({
        type: 'epoch',
        epoch: epoch + 1,
        epochs,
        metrics: metricsOf(last),
        seconds: round(seconds),
        etaSeconds: round(perEpoch * (epochs - epoch - 1)),
      });
    },
  };
  const early = request.early_stopping
    ? [
        tf.callbacks.earlyStopping({
          monitor: monitorName(request.early_stopping.monitor ?? 'val_loss'),
          patience: request.early_stopping.patience ?? 0,
          minDelta: request.early_stopping.min_delta ?? 0,
        }),
      ]
    : [];
  try {
    await model.fit(xs, ys, {
      epochs,
      batchSize: request.batch_size ?? 32,
      validationSplit: request.validation_split ?? 0.1,
      shuffle: true,
      verbose: 0,
      // Instances only: given a plain object first, tfjs wraps every entry as a CustomCallback,
      // which calls EarlyStopping's methods without their `this` ("getMonitorValue is not a function").
      callbacks: [new tf.CustomCallback(callbacks), ...early],
    });
  } finally {
    xs.dispose();
    ys.dispose();
  }
  if (cancelled) {
    send({ type: 'cancelled', batchesAfterCancel });
    return;
  }
  await model.save(`file://${job.outDir}`);
  send({
    type: 'done',
    metrics: metricsOf(last),
    epochsRun,
    seconds: round((performance.now() - started) / 1000),
    params: model.countParams(),
    backend,
  });
}

/** TF.js names accuracy `acc`; the API says `accuracy`. */
function metricsOf(logs: Record<string, number>) {
  const pick = (...keys: string[]) => keys.map((k) => logs[k]).find((v) => v !== undefined);
  const metrics: Record<string, number> = {};
  for (const [name, keys] of Object.entries({
    loss: ['loss'],
    accuracy: ['acc', 'accuracy'],
    val_loss: ['val_loss'],
    val_accuracy: ['val_acc', 'val_accuracy'],
  })) {
    const value = pick(...keys);
    if (value !== undefined && Number.isFinite(value)) metrics[name] = round(value, 5);
  }
  return metrics;
}

function monitorName(monitor: string): string {
  return monitor.replace('accuracy', 'acc');
}

function round(value: number, digits = 3): number {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}
