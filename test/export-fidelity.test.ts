/**
 * The SavedModels `exportSavedModel` writes, checked with real TensorFlow: Python TensorFlow 2.21
 * loads each with tf.saved_model.load, and its serving_default signature (keys, dtypes, shapes =
 * the model's metadata) gives the outputs modelport's /v2 infer gives, within 1e-5, on held-out
 * digits and iris: for the bundled models, a copied SavedModel, a model trained by a training job
 * with each layer type jobs support, and uploaded-style functional models with branches.
 * What cannot be exported is refused with 422 not_exportable naming the layer, op or reason.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits, Modelport } from '../src/index';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { exportBlocker, exportSavedModel } from '../mock-server/export/saved-model-export';
import { resignSavedModel } from '../mock-server/export/saved-model-resign';
import { HttpError } from '../mock-server/http/errors';
import { servingConfig, type ModelConfig, type ServingConfig, type VersionInfo } from '../mock-server/registry/model-config';
import { loadRuntime, type Runtime } from '../mock-server/runtime/backend';
import type * as tfTypes from '../mock-server/runtime/tfjs';
import { loadIrisSplit } from '../mock-server/datasets/iris-split';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { addModel, BUNDLED, tempDataDir } from './helpers/data-dir';
import { buildDatatypeModels } from './helpers/datatype-models';
import { pythonTfForTests } from './support/python-tf';

const TOLERANCE = 1e-5;
const pythonTf = await pythonTfForTests();
const RUN_SAVED_MODELS = fileURLToPath(new URL('./support/run_saved_models.py', import.meta.url));
const SAVED_MODEL_FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Input values as numbers (BOOL as 0/1); written to Python in the input's datatype. */
type Values = Float32Array | Int32Array;
interface Case {
  /** Model (and version) as served, or a model built in this file. */
  name: string;
  config: ServingConfig;
  inputs: Values[];
  /** Outputs in config order (BOOL as 0/1): from the server's /v2 infer (served models) or TF.js predict (built here). */
  expected: ArrayLike<number>[];
  /** Where the expected outputs came from, for the printed table. */
  against: string;
}

let runtime: Runtime;
let server: RunningMockServer;
let data: Awaited<ReturnType<typeof tempDataDir>>;
let work: string;
const cases: Case[] = [];
let report: { tensorflow: string; models: Record<string, PythonResult> };
let stringsExpected: { echo: string[]; match: boolean[] };

interface PythonTensor {
  dtype: string;
  shape: number[];
}
type PythonResult =
  | { error: string }
  | {
      signature: { inputs: Record<string, PythonTensor>; outputs: Record<string, PythonTensor> };
      outputs: Record<string, PythonTensor & { file: string }>;
    };

const held = {
  digits: loadMnistSplit().test.x.slice(0, 200 * 784),
  iris: Float32Array.from(loadIrisSplit().test.x),
};

/** TF.js graph models of the datatype tests (test/helpers/datatype-models.ts), and 30 rows of 3 inputs for each. */
const GRAPH_MODELS: Record<string, Values> = {
  'int-int8': Int32Array.from(held.iris.slice(0, 90), (v) => Math.trunc(v * 3) - 10),
  'int-uint16': Int32Array.from(held.iris.slice(0, 90), (v) => Math.trunc(v * 300)),
  'int-int64': Int32Array.from(held.iris.slice(0, 90), (v) => Math.trunc(v * 1000) - 3000),
  logic: Int32Array.from(held.iris.slice(0, 90), (v) => Number(v > 3)),
  positive: Float32Array.from(held.iris.slice(0, 90), (v) => v - 3),
};

/** Layers models of the datatype tests declared with other datatypes than they compute in (the server converts; the export casts). */
const DATATYPE_LAYERS_MODELS: Record<string, Values> = {
  'affine-fp16': Float32Array.from(held.iris.slice(0, 90), (v) => v - 3),
  'affine-fp64': Float32Array.from(held.iris.slice(0, 90), (v) => v - 3),
  'affine-fp16-to-fp32': Float32Array.from(held.iris.slice(0, 90), (v) => v - 3),
  'affine-fp32-to-fp16': Float32Array.from(held.iris.slice(0, 90), (v) => v - 3),
  'affine-uint8': Int32Array.from(held.iris.slice(0, 90), (v) => Math.trunc(v * 30)),
  'identity-int16': Int32Array.from(held.iris.slice(0, 90), (v) => Math.trunc(v * 1000) - 4000),
  'identity-bool': Int32Array.from(held.iris.slice(0, 90), (v) => Number(v > 3)),
};

/** Tiny training jobs on iris (120 samples) and digits (8,000), one per layer type jobs support. */
const JOBS = {
  'job-batchnorm-dropout': {
    dataset: 'iris-train',
    input: { name: 'features', shape: [4] },
    layers: [
      { type: 'dense', units: 8, activation: 'relu' },
      { type: 'batchNormalization' },
      { type: 'dropout', rate: 0.2 },
      { type: 'dense', units: 3, activation: 'softmax' },
    ],
    data: held.iris,
  },
  'job-embedding-lstm': {
    dataset: 'iris-train',
    input: { name: 'features', shape: [4], datatype: 'INT32' },
    layers: [
      { type: 'embedding', input_dim: 10, output_dim: 4 },
      { type: 'lstm', units: 6, return_sequences: true },
      { type: 'flatten' },
      { type: 'dense', units: 3, activation: 'softmax' },
    ],
    data: Int32Array.from(held.iris, Math.trunc),
  },
  'job-lstm': {
    dataset: 'iris-train',
    input: { name: 'features', shape: [4, 1] },
    layers: [{ type: 'lstm', units: 8 }, { type: 'batchNormalization' }, { type: 'dense', units: 3, activation: 'softmax' }],
    data: held.iris,
  },
  'job-conv': {
    dataset: 'mnist-train',
    input: { name: 'image', shape: [28, 28, 1] },
    layers: [
      { type: 'conv2d', filters: 4, kernel_size: 3, activation: 'relu' },
      { type: 'maxPooling2d', pool_size: 2 },
      { type: 'batchNormalization' },
      { type: 'flatten' },
      { type: 'dropout', rate: 0.25 },
      { type: 'dense', units: 10, activation: 'softmax' },
    ],
    data: held.digits,
  },
} as const;

beforeAll(async () => {
  runtime = await loadRuntime({ backend: 'tensorflow', warn: () => undefined });
  work = await mkdtemp(path.join(os.tmpdir(), 'modelport-export-fidelity-'));
  if (!pythonTf) return; // the refusals below need no Python
  data = await tempDataDir();
  for (const name of ['digits', 'digits-mlp', 'iris']) await addModel(data.dir, name, path.join(BUNDLED, name));
  await buildDatatypeModels(data.dir);
  await addSavedModel(data.dir, 'tiny-classifier', 'savedmodel/tiny-classifier', 'serving_default', [8, 4]);
  // Served with its second signature (softmax), which the export must make its serving_default.
  await addSavedModel(data.dir, 'two-signatures', 'export/two-signatures', 'predict_scores', [4, 3]);
  server = await startMockServer({ auth: false, dataDir: data.dir });
  const client = new Modelport({ baseUrl: server.url, maxRetries: 0 });

  const jobs = await Promise.all(
    Object.entries(JOBS).map(([model, job]) =>
      client.trainingJobs.create({
        model,
        task: 'classification',
        dataset: job.dataset,
        architecture: { input: job.input, layers: job.layers } as never,
        epochs: 2,
        batch_size: 64,
        optimizer: { name: 'adam', learning_rate: 0.01 },
        seed: 3,
      }),
    ),
  );
  for (const job of jobs) {
    const done = await job.wait();
    if (done.status !== 'succeeded') throw new Error(`training job for ${done.model} ended ${done.status}: ${JSON.stringify(done.error)}`);
  }

  const served: [string, Values][] = [
    ['digits', held.digits],
    ['digits-mlp', held.digits],
    ['iris', held.iris],
    ['tiny-classifier', tinyClassifierInput()],
    ['two-signatures', held.iris],
    ...Object.entries(JOBS).map(([model, job]): [string, Values] => [model, job.data]),
    ...Object.entries(GRAPH_MODELS),
    ...Object.entries(DATATYPE_LAYERS_MODELS),
  ];
  for (const [model, input] of served) {
    const config = await storedConfig(path.join(data.dir, 'models', model), 1);
    cases.push({ name: model, config, inputs: [input], expected: await inferOnServer(model, config, input), against: '/v2 infer' });
  }
  cases.push(...(await functionalCases()));

  const models = [];
  for (const c of cases) {
    const dir = path.join(work, 'saved', c.name);
    const versionDir = c.name.startsWith('functional-') ? path.join(work, 'tfjs', c.name) : path.join(data.dir, 'models', c.name, '1');
    await writeExport(await exportSavedModel(runtime, c.config, versionDir), dir);
    const inputs = Object.fromEntries(
      c.config.inputs.map((spec, i) => {
        const file = path.join(work, `${c.name}.in${i}.bin`);
        return [spec.name, { file, dtype: pyDtype(spec.datatype), shape: batchShape(spec.shape, c.inputs[i]!) }];
      }),
    );
    for (const [i, spec] of c.config.inputs.entries()) await writeFile(inputs[spec.name]!.file, bytesAs(spec.datatype, c.inputs[i]!));
    models.push({ name: c.name, dir, out: work, inputs });
  }
  // The BYTES graph model: strings in, strings and bools out (the inputs go to Python as JSON).
  const strings = ['yes', 'héllo', 'no', 'héllo', 'yes', '', 'Yes', 'héllo ', 'ü', 'héllo'];
  const stringsConfig = await storedConfig(path.join(data.dir, 'models', 'strings'), 1);
  await writeExport(
    await exportSavedModel(runtime, stringsConfig, path.join(data.dir, 'models', 'strings', '1')),
    path.join(work, 'saved', 'strings'),
  );
  const stringsFile = path.join(work, 'strings.in0.json');
  await writeFile(stringsFile, JSON.stringify(strings));
  const stringsInputs = { s: { file: stringsFile, dtype: 'string', shape: [5, 2] } };
  models.push({ name: 'strings', dir: path.join(work, 'saved', 'strings'), out: work, inputs: stringsInputs });
  stringsExpected = await inferStrings(strings);

  const manifest = path.join(work, 'manifest.json');
  await writeFile(manifest, JSON.stringify({ models }));
  const started = Date.now();
  report = JSON.parse(await pythonTf.run(RUN_SAVED_MODELS, [manifest]));
  console.log(`[export-fidelity] Python TensorFlow ${report.tensorflow} ran ${models.length} SavedModels in ${Date.now() - started} ms`);
}, 240_000);

afterAll(async () => {
  await server?.close();
  await data?.remove();
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(!pythonTf)('exported SavedModels in Python TensorFlow 2.21', () => {
  const names = [
    'digits',
    'digits-mlp',
    'iris',
    'tiny-classifier',
    'two-signatures',
    ...Object.keys(JOBS),
    ...Object.keys(GRAPH_MODELS),
    ...Object.keys(DATATYPE_LAYERS_MODELS),
    'functional-branches',
    'functional-embedding-cast',
    'functional-image-layers',
  ];
  it.each(names)('%s: serving_default has the metadata signature and reproduces the outputs within 1e-5', async (name) => {
    const c = cases.find((x) => x.name === name)!;
    const result = report.models[name]!;
    if ('error' in result) throw new Error(`Python TensorFlow could not run ${name}: ${result.error}`);
    expect(result.signature.inputs).toEqual(
      Object.fromEntries(c.config.inputs.map((t) => [t.name, { dtype: pyDtype(t.datatype), shape: t.shape }])),
    );
    expect(result.signature.outputs).toEqual(
      Object.fromEntries(c.config.outputs.map((t) => [t.name, { dtype: pyDtype(t.datatype), shape: t.shape }])),
    );
    let worst = 0;
    for (const [i, spec] of c.config.outputs.entries()) {
      const out = result.outputs[spec.name]!;
      const got = valuesOf(out.dtype, await readFile(out.file));
      const expected = c.expected[i]!;
      expect(got.length).toBe(expected.length);
      for (let k = 0; k < got.length; k++) worst = Math.max(worst, Math.abs(got[k]! - expected[k]!));
      if (!Number.isFinite(worst) || Array.from(got).some(Number.isNaN)) worst = Infinity;
    }
    const rows = c.inputs[0]!.length / c.config.inputs[0]!.shape.slice(1).reduce((a, b) => a * b, 1);
    console.log(`[export-fidelity] ${name}: max |Δ| = ${worst.toExponential(2)} over ${rows} samples (against ${c.against})`);
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe.skipIf(!pythonTf)('a TF.js graph model on strings (BYTES)', () => {
  it('strings: serving_default takes and gives strings as metadata says, and equals /v2 infer', async () => {
    const result = report.models.strings!;
    if ('error' in result) throw new Error(result.error);
    expect(result.signature).toEqual({
      inputs: { s: { dtype: 'string', shape: [-1, 2] } },
      outputs: { echo: { dtype: 'string', shape: [-1, 2] }, match: { dtype: 'bool', shape: [-1, 2] } },
    });
    expect(JSON.parse(await readFile(result.outputs.echo!.file, 'utf8'))).toEqual(stringsExpected.echo);
    expect(valuesOf('bool', await readFile(result.outputs.match!.file)).map(Boolean)).toEqual(stringsExpected.match);
    expect(stringsExpected.match).toContain(true);
  });
});

describe.skipIf(!pythonTf)('a SavedModel version serving another signature', () => {
  it('is exported with that signature as serving_default: rows of its softmax sum to 1, where the original serving_default gave logits', async () => {
    const result = report.models['two-signatures']!;
    if ('error' in result) throw new Error(result.error);
    const scores = valuesOf('float32', await readFile(result.outputs.scores!.file));
    for (let row = 0; row < 30; row++) expect(scores.slice(row * 3, row * 3 + 3).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(Math.min(...scores)).toBeGreaterThanOrEqual(0);
  });
});

describe('what is not exported: 422 not_exportable naming it', () => {
  it('a layer type with no translation (GRU) is named with its layer', async () => {
    const { tf } = runtime;
    const input = tf.input({ shape: [5, 2], name: 'sequence' });
    const output = tf.layers
      .dense({ units: 2 })
      .apply(tf.layers.gru({ units: 3, name: 'gru_layer' }).apply(input)) as tfTypes.SymbolicTensor;
    const refusal = await refusedExport('refused-gru', tf.model({ inputs: input, outputs: output }));
    expect(refusal.message).toBe("refused-gru version 1 cannot be exported: layer 'gru_layer' (GRU) has no graph translation");
  });

  it('a layer applied twice (a shared layer) is named', async () => {
    const { tf } = runtime;
    const a = tf.input({ shape: [3], name: 'a' });
    const b = tf.input({ shape: [3], name: 'b' });
    const shared = tf.layers.dense({ units: 2, name: 'shared_dense' });
    const sum = tf.layers.add().apply([shared.apply(a), shared.apply(b)] as tfTypes.SymbolicTensor[]) as tfTypes.SymbolicTensor;
    const refusal = await refusedExport('refused-shared', tf.model({ inputs: [a, b], outputs: sum }));
    expect(refusal.message).toBe(
      "refused-shared version 1 cannot be exported: layer 'shared_dense' is applied 2 times (shared layers are not translated)",
    );
  });

  it('a SavedModel serving a signature it lacks or other tags, and a TF.js graph model with functions, say why', async () => {
    const tensors = {
      inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [-1, 2] }],
      outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [-1, 2] }],
    };
    const savedModel = path.join(SAVED_MODEL_FIXTURES, 'export', 'two-signatures');
    const missing = configFor('resigned', { version: 2, platform: 'tensorflow_savedmodel', ...tensors, signature: 'predict_proba' });
    const refusal = await caught(exportSavedModel(runtime, missing, savedModel));
    expect(refusal).toMatchObject({ status: 422, code: 'not_exportable' });
    expect(refusal.message).toBe(
      'resigned version 2 cannot be exported: saved_model.pb has no signature \'predict_proba\' in the meta graph tagged ["serve"]',
    );
    expect(resignSavedModel(Uint8Array.of(0x12, 0x7f, 0x01), 'predict_proba', ['serve'])).toBe(
      'saved_model.pb cannot be re-signed: field 2 claims more bytes than remain',
    );
    const gpu = configFor('gpu-only', { version: 1, platform: 'tensorflow_savedmodel', ...tensors, tags: ['serve', 'gpu'] });
    expect(await exportBlocker(runtime, gpu, savedModel)).toBe(
      'it serves the meta graph tagged ["serve","gpu"], and servers load the one tagged ["serve"]',
    );
    const loopDir = path.join(work, 'tfjs', 'graph-loop');
    await mkdir(loopDir, { recursive: true });
    const nodes = [
      { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' } } },
      { name: 'y', op: 'Identity', input: ['x'] },
    ];
    const topology = { node: nodes, library: { function: [{ signature: { name: 'while_body' } }] }, versions: { producer: 1 } };
    await writeFile(
      path.join(loopDir, 'model.json'),
      JSON.stringify({ format: 'graph-model', modelTopology: topology, weightsManifest: [] }),
    );
    const graph = configFor('graph-loop', { version: 1, platform: 'tfjs_graph', ...tensors });
    const loop = await caught(exportSavedModel(runtime, graph, loopDir));
    expect(loop).toMatchObject({ status: 422, code: 'not_exportable' });
    expect(loop.message).toBe(
      'graph-loop version 1 cannot be exported: the graph has functions (control flow such as while loops or conditionals), which this export does not convert',
    );
    const digits = path.join(BUNDLED, 'digits');
    expect(await exportBlocker(runtime, await storedConfig(digits, 1), path.join(digits, '1'))).toBe(undefined);
  });
});

/** Saves a TF.js model as a version folder and expects its export to be refused; returns the error. */
async function refusedExport(name: string, model: tfTypes.LayersModel): Promise<HttpError> {
  const dir = path.join(work, 'tfjs', name);
  await saveTfjs(model, dir);
  const config = configFor(name, { version: 1, platform: 'tfjs_layers', ...metadataOf(model) });
  const refusal = await caught(exportSavedModel(runtime, config, dir));
  expect(refusal).toMatchObject({ status: 422, code: 'not_exportable' });
  expect(await exportBlocker(runtime, config, dir)).toBe(refusal.message.replace(/^.*? cannot be exported: /, ''));
  return refusal;
}

async function caught(promise: Promise<unknown>): Promise<HttpError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

/** Functional models as users upload them: two inputs and two outputs joined by add and concatenate; an int32 input cast for an embedding. */
async function functionalCases(): Promise<Case[]> {
  const { tf } = runtime;
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const a = tf.input({ shape: [4], name: 'measurements' });
  const b = tf.input({ shape: [3], name: 'extra' });
  const left = tf.layers.dense({ units: 5, activation: 'relu', kernelInitializer: init(1) }).apply(a) as tfTypes.SymbolicTensor;
  const right = tf.layers.dense({ units: 5, activation: 'tanh', kernelInitializer: init(2) }).apply(b) as tfTypes.SymbolicTensor;
  const sum = tf.layers.add().apply([left, right]) as tfTypes.SymbolicTensor;
  const joined = tf.layers.concatenate().apply([sum, left]) as tfTypes.SymbolicTensor;
  const probabilities = tf.layers
    .dense({ units: 3, activation: 'softmax', name: 'probabilities', kernelInitializer: init(3) })
    .apply(joined) as tfTypes.SymbolicTensor;
  const score = tf.layers.dense({ units: 1, name: 'score', kernelInitializer: init(4) }).apply(sum) as tfTypes.SymbolicTensor;
  const branches = tf.model({ inputs: [a, b], outputs: [probabilities, score] });

  const tokens = tf.input({ shape: [4], name: 'tokens', dtype: 'float32' });
  const embedded = tf.layers
    .embedding({ inputDim: 10, outputDim: 3, embeddingsInitializer: init(5) })
    .apply(tokens) as tfTypes.SymbolicTensor;
  const flat = tf.layers.flatten().apply(embedded) as tfTypes.SymbolicTensor;
  const tokenModel = tf.model({
    inputs: tokens,
    outputs: tf.layers.dense({ units: 2, kernelInitializer: init(6) }).apply(flat) as tfTypes.SymbolicTensor,
  });

  // Image-side layers jobs do not make but uploads may hold: padding, leaky and capped ReLU, global pooling, a softmax layer.
  const image = tf.input({ shape: [6, 6, 2], name: 'patch' });
  const padded = tf.layers
    .zeroPadding2d({
      padding: [
        [1, 0],
        [2, 1],
      ],
    })
    .apply(image) as tfTypes.SymbolicTensor;
  const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3, kernelInitializer: init(7) }).apply(padded) as tfTypes.SymbolicTensor;
  const leaky = tf.layers.leakyReLU({ alpha: 0.2 }).apply(conv) as tfTypes.SymbolicTensor;
  const pooled = tf.layers
    .concatenate()
    .apply([tf.layers.globalAveragePooling2d({}).apply(leaky), tf.layers.globalMaxPooling2d({}).apply(leaky)] as tfTypes.SymbolicTensor[]);
  const hidden = tf.layers.dense({ units: 4, kernelInitializer: init(8) }).apply(pooled) as tfTypes.SymbolicTensor;
  const capped = tf.layers.reLU({ maxValue: 0.5 }).apply(hidden) as tfTypes.SymbolicTensor;
  const logits = tf.layers.dense({ units: 3, kernelInitializer: init(9) }).apply(capped) as tfTypes.SymbolicTensor;
  const imageModel = tf.model({
    inputs: image,
    outputs: tf.layers.softmax({ name: 'probabilities' }).apply(logits) as tfTypes.SymbolicTensor,
  });
  const patches = Float32Array.from({ length: 30 * 72 }, (_, i) => Math.sin(i * 0.37) * 1.5);

  const extra = Float32Array.from({ length: (held.iris.length / 4) * 3 }, (_, i) => Math.sin(i) * 2);
  const built: [string, tfTypes.LayersModel, Values[]][] = [
    ['functional-branches', branches, [held.iris, extra]],
    ['functional-embedding-cast', tokenModel, [held.iris]],
    ['functional-image-layers', imageModel, [patches]],
  ];
  const out: Case[] = [];
  for (const [name, model, inputs] of built) {
    await saveTfjs(model, path.join(work, 'tfjs', name));
    const config = configFor(name, { version: 1, platform: 'tfjs_layers', ...metadataOf(model) });
    const predicted = tf.tidy(() => {
      const feeds = inputs.map((x, i) => tf.tensor(x, batchShape(config.inputs[i]!.shape, x), 'float32'));
      const result = model.predict(feeds.length === 1 ? feeds[0]! : feeds);
      return (Array.isArray(result) ? result : [result]).map((t) => t.dataSync() as Float32Array);
    });
    out.push({ name, config, inputs, expected: predicted, against: 'TF.js predict' });
  }
  return out;
}

function metadataOf(model: tfTypes.LayersModel): Pick<VersionInfo, 'inputs' | 'outputs'> {
  const tensor = (t: tfTypes.SymbolicTensor, name: string) => ({
    name,
    datatype: t.dtype === 'int32' ? ('INT32' as const) : ('FP32' as const),
    shape: t.shape.map((d) => d ?? -1),
  });
  return {
    inputs: model.inputs.map((t) => tensor(t, t.sourceLayer.name)),
    outputs: model.outputs.map((t) => tensor(t, t.sourceLayer.name)),
  };
}

function configFor(name: string, info: VersionInfo): ServingConfig {
  return servingConfig({ name, task: 'test', platform: info.platform, inputs: info.inputs, outputs: info.outputs }, info);
}

async function saveTfjs(model: tfTypes.LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(
    runtime.tf.io.withSaveHandler(async (artifacts) => {
      const weightsManifest = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs! }];
      await writeFile(
        path.join(dir, 'model.json'),
        JSON.stringify({ modelTopology: artifacts.modelTopology, format: 'layers-model', weightsManifest }),
      );
      await writeFile(path.join(dir, 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** A model folder's config.json and a version's version.json, as the server combines them. */
async function storedConfig(folder: string, version: number): Promise<ServingConfig> {
  const config = JSON.parse(await readFile(path.join(folder, 'config.json'), 'utf8')) as ModelConfig;
  const info = JSON.parse(await readFile(path.join(folder, String(version), 'version.json'), 'utf8')) as VersionInfo;
  return servingConfig(config, info);
}

/** The server's outputs for all rows, asked for in JSON 50 rows at a time (within every model's batch limit). */
async function inferStrings(strings: string[]): Promise<{ echo: string[]; match: boolean[] }> {
  const body = { inputs: [{ name: 's', datatype: 'BYTES', shape: [strings.length / 2, 2], data: strings }] };
  const response = await fetch(`${server.url}/v2/models/strings/versions/1/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as { outputs: { name: string; data: never[] }[] };
  if (response.status !== 200) throw new Error(`strings infer: ${response.status} ${JSON.stringify(answer)}`);
  const output = (name: string) => answer.outputs.find((o) => o.name === name)!.data;
  return { echo: output('echo'), match: output('match') };
}

async function inferOnServer(model: string, config: ServingConfig, input: Values): Promise<number[][]> {
  const spec = config.inputs[0]!;
  const sample = spec.shape.slice(1).reduce((a, b) => a * b, 1);
  const rows = input.length / sample;
  const outputs = config.outputs.map(() => [] as number[]);
  for (let start = 0; start < rows; start += 50) {
    const n = Math.min(50, rows - start);
    const body = {
      inputs: [
        {
          name: spec.name,
          datatype: spec.datatype,
          shape: [n, ...spec.shape.slice(1)],
          data: Array.from(input.subarray(start * sample, (start + n) * sample), (v) => (spec.datatype === 'BOOL' ? v !== 0 : v)),
        },
      ],
    };
    const response = await fetch(`${server.url}/v2/models/${model}/versions/1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = (await response.json()) as { outputs: { name: string; data: (number | boolean)[] }[] };
    if (response.status !== 200) throw new Error(`${model} infer: ${response.status} ${JSON.stringify(answer)}`);
    config.outputs.forEach((o, i) => outputs[i]!.push(...answer.outputs.find((x) => x.name === o.name)!.data.map(Number)));
  }
  return outputs;
}

/** A SavedModel fixture as model `name` version 1, serving `signature` ([-1, in] features → [-1, out] scores). */
async function addSavedModel(dataDir: string, name: string, fixture: string, signature: string, [width, classes]: number[]): Promise<void> {
  const target = path.join(dataDir, 'models', name);
  await mkdir(target, { recursive: true });
  await cp(path.join(SAVED_MODEL_FIXTURES, fixture), path.join(target, '1'), { recursive: true });
  const tensors = {
    platform: 'tensorflow_savedmodel',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, width] }],
    outputs: [{ name: 'scores', datatype: 'FP32', shape: [-1, classes] }],
  };
  await writeFile(path.join(target, 'config.json'), JSON.stringify({ name, task: 'tabular-classification', ...tensors }));
  await writeFile(path.join(target, '1', 'version.json'), JSON.stringify({ version: 1, ...tensors, signature, tags: ['serve'] }));
}

/** 30 rows of 8 features: the iris test measurements, then their squares over 10. */
function tinyClassifierInput(): Float32Array {
  return Float32Array.from({ length: 30 * 8 }, (_, i) => {
    const value = held.iris[Math.floor(i / 8) * 4 + (i % 4)]!;
    return i % 8 < 4 ? value : (value * value) / 10;
  });
}

async function writeExport(exported: Awaited<ReturnType<typeof exportSavedModel>>, dir: string): Promise<void> {
  for (const file of exported.files) {
    const target = path.join(dir, ...file.path.split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    if (file.data) await writeFile(target, file.data);
    else await cp(file.source!, target);
  }
}

function batchShape(shape: number[], values: Values): number[] {
  const sample = shape.slice(1).reduce((a, b) => a * b, 1);
  return [values.length / sample, ...shape.slice(1)];
}

const TYPED = {
  FP32: Float32Array,
  FP64: Float64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  BOOL: Uint8Array,
} as const;

/** The values as raw little-endian bytes of the datatype (this machine is little-endian, as TensorFlow's x86 and arm builds). */
function bytesAs(datatype: string, values: Values): Uint8Array {
  const typed =
    datatype === 'FP16'
      ? Uint16Array.from(values, float32ToFloat16Bits)
      : datatype === 'INT64'
        ? BigInt64Array.from(values, (v) => BigInt(v))
        : datatype === 'UINT64'
          ? BigUint64Array.from(values, (v) => BigInt(v))
          : TYPED[datatype as keyof typeof TYPED].from(values);
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

/** Raw values Python wrote, as numbers. */
function valuesOf(dtype: string, bytes: Buffer): number[] {
  const buffer = new Uint8Array(bytes).buffer;
  if (dtype === 'int64') return Array.from(new BigInt64Array(buffer), Number);
  if (dtype === 'uint64') return Array.from(new BigUint64Array(buffer), Number);
  if (dtype === 'float16') return Array.from(new Uint16Array(buffer), float16BitsToFloat32);
  const datatype = Object.entries(PY_DTYPES).find(([, py]) => py === dtype)?.[0] as keyof typeof TYPED | undefined;
  if (!datatype || !(datatype in TYPED)) throw new Error(`no reader for Python dtype ${dtype}`);
  return Array.from(new TYPED[datatype](buffer));
}

const PY_DTYPES: Record<string, string> = {
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  BOOL: 'bool',
  BYTES: 'string',
};

function pyDtype(datatype: string): string {
  return PY_DTYPES[datatype]!;
}
