// Trains the bundled models reproducibly and writes their artifacts:
//   mock-server/models/<name>/config.json            model config (task, labels, tensors, aliases)
//   mock-server/models/<name>/1/version.json         the version's signature and held-out metrics
//   mock-server/models/<name>/1/model.json, weights.bin   TF.js layers format, version 1
//
// Usage: npx tsx scripts/train-bundled-models.ts [digits|digits-mlp|iris ...]   (no args: all)
//
// Reproducibility: fixed data splits (mnist-split.ts, iris-split.ts), seeded weight
// initialisers, our own seeded per-epoch shuffle (fit runs with shuffle: false) and seeded
// dropout masks (see withSeededMathRandom). On one machine a rerun gives identical
// weights; other CPUs may differ in the last bits because TensorFlow's kernels do.
// A model that misses its accuracy floor is not written, so a bad run never replaces
// the bundled artifacts.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shuffleInPlace, type DatasetSplit, type LabeledSet } from '../mock-server/datasets/labeled-set';
import { mulberry32 } from '../mock-server/runtime/seeded-random';
import { evaluateClassifier, round4, type Evaluation } from './evaluate-bundled-models';
import { IRIS_LABELS } from '../mock-server/datasets/iris-data';
import { IRIS_FEATURES, loadIrisSplit } from '../mock-server/datasets/iris-split';
import { MNIST_SIDE, loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { tensorflowVersion, tf, tfjsNodeVersion } from './tf';
import type * as tfTypes from '../mock-server/runtime/tfjs';

const MODELS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'mock-server', 'models');
const SCRIPT = 'scripts/train-bundled-models.ts';
const SEED = 42;
const VERSION = '1';

interface ModelSpec {
  name: string;
  task: 'image-classification' | 'tabular-classification';
  description: string;
  labels: readonly string[];
  /** Input tensor name and per-sample shape (the config adds the -1 batch dimension). */
  input: { name: string; shape: number[] };
  preprocessing?: Record<string, unknown>;
  dataset: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Log every n-th epoch (plus the first and last). */
  logEvery: number;
  /** Held-out accuracy below this fails the run and writes nothing. */
  minAccuracy: number;
  load: () => DatasetSplit;
  build: (train: LabeledSet) => tfTypes.LayersModel;
}

const DIGIT_LABELS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const DIGIT_INPUT = { name: 'image', shape: [MNIST_SIDE, MNIST_SIDE, 1] };
// How the server turns an uploaded 8-bit grayscale image into the model input ([0, 1]).
const DIGIT_PREPROCESSING = {
  image: { input: 'image', width: MNIST_SIDE, height: MNIST_SIDE, channels: 1, scale: 1 / 255, invert: false },
};

const SPECS: readonly ModelSpec[] = [
  {
    name: 'digits',
    task: 'image-classification',
    description: 'Handwritten digit classifier: a small convolutional network trained on 8,000 MNIST digits.',
    labels: DIGIT_LABELS,
    input: DIGIT_INPUT,
    preprocessing: DIGIT_PREPROCESSING,
    dataset: 'mnist-holdout',
    epochs: 12,
    batchSize: 64,
    learningRate: 0.001,
    logEvery: 1,
    minAccuracy: 0.975,
    load: loadMnistSplit,
    build: buildDigitsCnn,
  },
  {
    name: 'digits-mlp',
    task: 'image-classification',
    description: 'Handwritten digit classifier: a fast one-hidden-layer perceptron, less accurate than digits.',
    labels: DIGIT_LABELS,
    input: DIGIT_INPUT,
    preprocessing: DIGIT_PREPROCESSING,
    dataset: 'mnist-holdout',
    epochs: 20,
    batchSize: 64,
    learningRate: 0.001,
    logEvery: 1,
    minAccuracy: 0.92,
    load: loadMnistSplit,
    build: buildDigitsMlp,
  },
  {
    name: 'iris',
    task: 'tabular-classification',
    description: "Iris species classifier from sepal and petal length and width in cm (Fisher's iris data).",
    labels: IRIS_LABELS,
    input: { name: 'features', shape: [IRIS_FEATURES] },
    dataset: 'iris-holdout',
    epochs: 100,
    batchSize: 16,
    learningRate: 0.01,
    logEvery: 10,
    minAccuracy: 0.95,
    load: loadIrisSplit,
    build: buildIris,
  },
];

// ---------------------------------------------------------------------------------------
// Architectures. Every layer is named explicitly: tfjs otherwise numbers layers globally
// (conv2d_Conv2D3, ...), so the saved model.json would depend on what else the process
// built before. Each initialiser gets its own seed so equal-shaped layers differ.

function glorot(k: number): ReturnType<typeof tf.initializers.glorotUniform> {
  return tf.initializers.glorotUniform({ seed: SEED + k });
}

/** Anything with a functional-API `apply`; avoids depending on tfjs's internal Layer type. */
interface Applicable {
  apply(input: tfTypes.SymbolicTensor): unknown;
}

function chain(name: string, input: tfTypes.SymbolicTensor, layers: Applicable[]): tfTypes.LayersModel {
  const output = layers.reduce((x, layer) => layer.apply(x) as tfTypes.SymbolicTensor, input);
  return tf.model({ name, inputs: input, outputs: output });
}

function buildDigitsCnn(): tfTypes.LayersModel {
  return chain('digits', tf.input({ name: 'image', shape: DIGIT_INPUT.shape }), [
    tf.layers.conv2d({ name: 'conv1', filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: glorot(1) }),
    tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }),
    tf.layers.conv2d({ name: 'conv2', filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: glorot(2) }),
    tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }),
    tf.layers.conv2d({ name: 'conv3', filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: glorot(3) }),
    tf.layers.flatten({ name: 'flatten' }),
    // No seed on purpose: a seeded tfjs dropout redraws the *same* mask every step.
    // Its masks come from Math.random, which withSeededMathRandom makes deterministic.
    tf.layers.dropout({ name: 'dropout', rate: 0.5 }),
    tf.layers.dense({ name: 'probabilities', units: 10, activation: 'softmax', kernelInitializer: glorot(4) }),
  ]);
}

function buildDigitsMlp(): tfTypes.LayersModel {
  return chain('digits-mlp', tf.input({ name: 'image', shape: DIGIT_INPUT.shape }), [
    tf.layers.flatten({ name: 'flatten' }),
    tf.layers.dense({ name: 'hidden', units: 64, activation: 'relu', kernelInitializer: glorot(1) }),
    tf.layers.dense({ name: 'probabilities', units: 10, activation: 'softmax', kernelInitializer: glorot(2) }),
  ]);
}

function buildIris(train: LabeledSet): tfTypes.LayersModel {
  // Standardisation baked into the model, so clients send raw centimetres: a frozen
  // diagonal dense layer computing (x - mean) / std with the training set's statistics.
  const width = IRIS_FEATURES;
  const mean = new Float32Array(width);
  const std = new Float32Array(width);
  for (let k = 0; k < width; k++) {
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < train.n; i++) {
      const v = train.x[i * width + k] as number;
      sum += v;
      sumSq += v * v;
    }
    const m = sum / train.n;
    mean[k] = m;
    std[k] = Math.sqrt(Math.max(sumSq / train.n - m * m, 1e-12));
  }
  const kernel = tf.buffer([width, width], 'float32');
  for (let k = 0; k < width; k++) kernel.set(1 / (std[k] as number), k, k);
  const bias = tf.tensor1d(Array.from(mean, (m, k) => -m / (std[k] as number)));

  return chain('iris', tf.input({ name: 'features', shape: [width] }), [
    tf.layers.dense({ name: 'standardize', units: width, trainable: false, weights: [kernel.toTensor(), bias] }),
    tf.layers.dense({ name: 'hidden', units: 16, activation: 'relu', kernelInitializer: glorot(1) }),
    tf.layers.dense({ name: 'probabilities', units: 3, activation: 'softmax', kernelInitializer: glorot(2) }),
  ]);
}

// ---------------------------------------------------------------------------------------
// Training

/**
 * Runs `fn` with Math.random replaced by a seeded PRNG. tfjs draws unseeded random
 * numbers (dropout masks) from Math.random; passing a fixed seed to the layer instead
 * would reuse one mask for every batch, which weakens dropout.
 */
async function withSeededMathRandom<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  const original = Math.random;
  Math.random = mulberry32(seed);
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}

/** Trains for spec.epochs on our own seeded shuffle of `train`; returns wall seconds. */
async function fit(model: tfTypes.LayersModel, spec: ModelSpec, train: LabeledSet): Promise<number> {
  const classes = spec.labels.length;
  const xAll = tf.tensor(train.x, [train.n, ...spec.input.shape], 'float32');
  const yAll = tf.tidy(() => tf.oneHot(tf.tensor1d(train.y, 'int32'), classes).toFloat());
  const order = Array.from({ length: train.n }, (_, i) => i);
  const shuffleRandom = mulberry32(SEED);
  const started = performance.now();

  try {
    await withSeededMathRandom(SEED + 1, async () => {
      for (let epoch = 1; epoch <= spec.epochs; epoch++) {
        shuffleInPlace(order, shuffleRandom);
        const [xs, ys] = tf.tidy(() => {
          const idx = tf.tensor1d(order, 'int32');
          return [tf.gather(xAll, idx), tf.gather(yAll, idx)];
        });
        const history = await model.fit(xs, ys, {
          epochs: 1,
          batchSize: spec.batchSize,
          shuffle: false,
          verbose: 0,
        });
        tf.dispose([xs, ys]);

        if (epoch === 1 || epoch === spec.epochs || epoch % spec.logEvery === 0) {
          const logs = history.history;
          const loss = Number(logs.loss?.[0]);
          const acc = Number((logs.acc ?? logs.accuracy)?.[0]);
          const seconds = (performance.now() - started) / 1000;
          console.log(
            `[${spec.name}] epoch ${String(epoch).padStart(3)}/${spec.epochs}` +
              `  loss ${loss.toFixed(4)}  acc ${acc.toFixed(4)}  ${seconds.toFixed(1)}s`,
          );
        }
      }
    });
  } finally {
    tf.dispose([xAll, yAll]);
  }
  return (performance.now() - started) / 1000;
}

// ---------------------------------------------------------------------------------------
// Artifacts

/**
 * Saves the model as version VERSION via a temp folder, with its version.json, so no half
 * version is ever visible. Returns the size of the artifacts.
 */
async function saveVersion(model: tfTypes.LayersModel, modelDir: string, versionInfo: (sizeBytes: number) => unknown): Promise<number> {
  const finalDir = join(modelDir, VERSION);
  const tmpDir = join(modelDir, `.${VERSION}.tmp`);
  mkdirSync(modelDir, { recursive: true });
  rmSync(tmpDir, { recursive: true, force: true });
  await model.save(`file://${tmpDir}`);
  const sizeBytes = readdirSync(tmpDir).reduce((sum, file) => sum + statSync(join(tmpDir, file)).size, 0);
  writeJsonAtomic(join(tmpDir, 'version.json'), versionInfo(sizeBytes));
  rmSync(finalDir, { recursive: true, force: true });
  renameSync(tmpDir, finalDir);
  return sizeBytes;
}

function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${formatJson(value)}\n`);
  renameSync(tmp, path);
}

/** Like JSON.stringify(value, null, 2), but arrays of scalars stay on one line, e.g. shapes. */
function formatJson(value: unknown, indent = ''): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) {
      return `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
    }
    return `[\n${value.map((v) => inner + formatJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatJson(v, inner)}`).join(',\n')}\n${indent}}`;
}

interface Result {
  spec: ModelSpec;
  trainSamples: number;
  params: number;
  seconds: number;
  holdout: Evaluation;
  sizeBytes: number | null;
  passed: boolean;
}

/** The model's config.json: what it is and how to serve it. */
function buildConfig(spec: ModelSpec): unknown {
  return {
    name: spec.name,
    task: spec.task,
    description: spec.description,
    platform: 'tfjs_layers',
    labels: spec.labels,
    inputs: tensorsOf(spec).inputs,
    outputs: tensorsOf(spec).outputs,
    ...(spec.preprocessing ? { preprocessing: spec.preprocessing } : {}),
    batching: { max_batch_size: 64, max_queue_delay_ms: 2, max_queue_size: 1024 },
    aliases: { production: [{ version: Number(VERSION), weight: 100 }] },
  };
}

function tensorsOf(spec: ModelSpec) {
  return {
    inputs: [{ name: spec.input.name, datatype: 'FP32', shape: [-1, ...spec.input.shape] }],
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, spec.labels.length] }],
  };
}

/** The version's version.json: its signature, held-out metrics and how it was trained. */
function buildVersionInfo(r: Result, sizeBytes: number): unknown {
  const { spec } = r;
  return {
    version: Number(VERSION),
    platform: 'tfjs_layers',
    ...tensorsOf(spec),
    metrics: {
      dataset: spec.dataset,
      samples: r.holdout.samples,
      accuracy: round4(r.holdout.accuracy),
      loss: round4(r.holdout.loss),
    },
    training: {
      script: SCRIPT,
      train_samples: r.trainSamples,
      epochs: spec.epochs,
      batch_size: spec.batchSize,
      optimizer: 'adam',
      learning_rate: spec.learningRate,
      seed: SEED,
      seconds: Math.round(r.seconds * 10) / 10,
      backend: tf.getBackend(),
      tensorflow: tensorflowVersion,
      tfjs_node: tfjsNodeVersion,
    },
    params: r.params,
    size_bytes: sizeBytes,
  };
}

async function trainOne(spec: ModelSpec): Promise<Result> {
  const { train, test } = spec.load();
  console.log(`[${spec.name}] ${train.n} training / ${test.n} held-out samples`);

  const model = spec.build(train);
  if (model.inputNames[0] !== spec.input.name || model.outputNames[0] !== 'probabilities') {
    throw new Error(`[${spec.name}] tensor names ${model.inputNames} -> ${model.outputNames} do not match the config`);
  }
  model.compile({
    optimizer: tf.train.adam(spec.learningRate),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });

  try {
    const seconds = await fit(model, spec, train);
    const holdout = evaluateClassifier(model, test, spec.input.shape);
    const passed = holdout.accuracy >= spec.minAccuracy;
    console.log(
      `[${spec.name}] held-out accuracy ${holdout.accuracy.toFixed(4)} (${holdout.correct}/${holdout.samples}),` +
        ` loss ${holdout.loss.toFixed(4)}, ${seconds.toFixed(1)}s` +
        (passed ? '' : ` -- BELOW the floor ${spec.minAccuracy}, artifacts not written`),
    );

    const result: Result = {
      spec,
      trainSamples: train.n,
      params: model.countParams(),
      seconds,
      holdout,
      sizeBytes: null,
      passed,
    };
    if (passed) {
      const modelDir = join(MODELS_DIR, spec.name);
      result.sizeBytes = await saveVersion(model, modelDir, (size) => buildVersionInfo(result, size));
      writeJsonAtomic(join(modelDir, 'config.json'), buildConfig(spec));
    }
    return result;
  } finally {
    model.dispose();
  }
}

function printSummary(results: readonly Result[]): void {
  const rows = [
    ['model', 'params', 'size', 'train s', 'held-out acc', 'loss', 'floor', 'status'],
    ...results.map((r) => [
      r.spec.name,
      String(r.params),
      r.sizeBytes === null ? '-' : `${(r.sizeBytes / 1024).toFixed(1)} KiB`,
      r.seconds.toFixed(1),
      `${round4(r.holdout.accuracy).toFixed(4)} (${r.holdout.correct}/${r.holdout.samples})`,
      round4(r.holdout.loss).toFixed(4),
      String(r.spec.minAccuracy),
      r.passed ? 'ok' : 'FAILED',
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  console.log('');
  for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  '));
  console.log(`\nbackend ${tf.getBackend()}, TensorFlow ${tensorflowVersion}, tfjs-node ${tfjsNodeVersion}`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const known = SPECS.map((s) => s.name);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`usage: npx tsx ${SCRIPT} [${known.join('|')} ...]   (no arguments: all)`);
    return;
  }
  const unknown = args.filter((a) => !known.includes(a));
  if (unknown.length > 0) {
    throw new Error(`unknown model(s) ${unknown.join(', ')}; expected some of ${known.join(', ')}`);
  }
  const selected = args.length === 0 ? SPECS : SPECS.filter((s) => args.includes(s.name));

  console.log(`backend ${tf.getBackend()}, TensorFlow ${tensorflowVersion}`);
  const results: Result[] = [];
  for (const spec of selected) results.push(await trainOne(spec));
  printSummary(results);
  if (results.some((r) => !r.passed)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
