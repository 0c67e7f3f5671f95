// TF.js side of the model-execution and training benchmarks, in its own process so that the
// backend (native `tensorflow` or pure-JS `cpu`) is chosen the way the server chooses it:
//   node --import tsx bench/workers/tfjs-model.ts --backend tensorflow|cpu --data FILE --samples N
//        [--batch-size 64] [--predict-batch 256 | 0] [--warmup-samples n] [--epochs 3] [--savedmodel DIR]
// FILE: N*784 float32 pixels then N int32 labels. Prints one JSON line.
// Training: Adam(0.001), categorical cross-entropy, shuffle off, one warm-up fit on the first
// batch (or --warmup-samples), then --epochs timed epochs over the N samples (median reported). Predict: median of 30 `model.predict` +
// `dataSync` calls on a batch of --predict-batch (and of 1) after 5 warm-up calls: the layers model op by
// op (MODELPORT_GRAPH=off), the layers model compiled to one graph (as the server serves it), and
// --savedmodel (the same weights exported by Keras).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Tensor } from '../../mock-server/runtime/tfjs';
import { loadRuntime, type BackendName } from '../../mock-server/runtime/backend';
import { compileLayersGraph } from '../../mock-server/runtime/layers-graph';
import { readTfjsArtifacts } from '../../mock-server/runtime/loader';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'tensorflow' },
    data: { type: 'string' },
    samples: { type: 'string' },
    'batch-size': { type: 'string', default: '64' },
    'predict-batch': { type: 'string', default: '0' },
    'warmup-samples': { type: 'string' },
    epochs: { type: 'string', default: '1' },
    savedmodel: { type: 'string' },
  },
});
const MODEL_DIR = fileURLToPath(new URL('../../mock-server/models/digits/1/', import.meta.url));
const n = Number(values.samples);
const batchSize = Number(values['batch-size']);
const predictBatch = Number(values['predict-batch']);
const warmupSamples = Math.min(n, Number(values['warmup-samples'] ?? batchSize));

const runtime = await loadRuntime({ backend: values.backend as BackendName, warn: () => undefined });
const { tf } = runtime;
const raw = readFileSync(values.data!);
const xData = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + n * 784 * 4));
const yData = new Int32Array(raw.buffer.slice(raw.byteOffset + n * 784 * 4, raw.byteOffset + n * 784 * 4 + n * 4));

const result: Record<string, unknown> = {
  backend: runtime.backend,
  tensorflow: runtime.tensorflowVersion ?? null,
  tfjs: runtime.tfjsVersion,
  samples: n,
  batch_size: batchSize,
};

if (predictBatch > 0) {
  const model = await tf.loadLayersModel(tf.io.fromMemory(await readTfjsArtifacts(MODEL_DIR)));
  const layers = (x: Tensor) => model.predict(x) as Tensor;
  result.predict_batch = predictBatch;
  result.predict_ms = predictMs(predictBatch, layers);
  result.predict_b1_ms = predictMs(1, layers);
  // What the server runs on the native backend: the same layers model compiled to one TensorFlow
  // graph at load (mock-server/runtime/layers-graph.ts).
  const graph = await compileLayersGraph(runtime, model);
  if ('run' in graph) {
    result.served_graph_max_delta = graph.maxDelta;
    result.served_predict_ms = predictMs(predictBatch, graph.run);
    result.served_predict_b1_ms = predictMs(1, graph.run);
    graph.dispose();
  } else {
    result.served_graph_skipped = graph.reason;
  }
  model.dispose();
}

// The same weights as one TensorFlow graph (a SavedModel written by Python Keras), run through
// tfjs-node's SavedModel support: one session call per batch instead of one call per op.
if (predictBatch > 0 && values.savedmodel && runtime.node) {
  const model = await runtime.node.loadSavedModel(values.savedmodel, ['serve'], 'serving_default');
  const keras = (x: Tensor) => Object.values(model.predict({ image: x }) as Record<string, Tensor>);
  result.savedmodel_predict_ms = predictMs(predictBatch, keras);
  result.savedmodel_predict_b1_ms = predictMs(1, keras);
  model.dispose();
}

if (n > 0) {
  const model = await tf.loadLayersModel(tf.io.fromMemory(await readTfjsArtifacts(MODEL_DIR)));
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy' });
  const x = tf.tensor(xData, [n, 28, 28, 1]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(yData, 'int32'), 10).toFloat());
  const xb = x.slice([0, 0, 0, 0], [warmupSamples, 28, 28, 1]);
  const yb = y.slice([0, 0], [warmupSamples, 10]);
  let t = performance.now();
  await model.fit(xb, yb, { batchSize: Math.min(batchSize, warmupSamples), epochs: 1, shuffle: false, verbose: 0 });
  result.train_warmup_s = (performance.now() - t) / 1000;
  // Each timed epoch is its own fit call; the median of --epochs of them is reported.
  const epochs: number[] = [];
  for (let e = 0; e < Number(values.epochs); e++) {
    t = performance.now();
    await model.fit(x, y, { batchSize, epochs: 1, shuffle: false, verbose: 0 });
    epochs.push((performance.now() - t) / 1000);
  }
  result.train_epochs_s = epochs;
  result.train_epoch_s = [...epochs].sort((a, b) => a - b)[Math.floor(epochs.length / 2)];
}
console.log(JSON.stringify(result));
process.exit(0);

/** `size` digits from the data (repeating when size > n), as one flat batch. */
function rows(size: number): Float32Array {
  const batch = new Float32Array(size * 784);
  for (let i = 0; i < size; i++) batch.set(xData.subarray((i % n) * 784, ((i % n) + 1) * 784), i * 784);
  return batch;
}

/** Median ms of `run` + `dataSync` of its outputs on `size` digits. */
function predictMs(size: number, run: (x: Tensor) => Tensor | Tensor[]): number {
  const x = tf.tensor(rows(size), [size, 28, 28, 1]);
  const ms = medianMs(() => {
    const outputs = [run(x)].flat();
    for (const y of outputs) y.dataSync();
    tf.dispose(outputs);
  });
  x.dispose();
  return ms;
}

/** Median of 30 timed calls after 5 warm-up calls. */
function medianMs(once: () => void): number {
  for (let i = 0; i < 5; i++) once();
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    once();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
