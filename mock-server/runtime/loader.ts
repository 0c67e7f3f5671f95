/**
 * Loads a model version from its folder into something that runs a batch: TF.js layers and
 * graph models (model.json + weight shards, read from disk so every backend can load them) and
 * TensorFlow SavedModels (native backend only).
 *
 * On the native backend a layers model is served as one TensorFlow graph (layers-graph.ts) once
 * its outputs matched the layers model's; the layers model stays loaded for what needs it
 * (explanations differentiate it). MODELPORT_GRAPH=off keeps every layers model op by op.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { components } from 'modelport';
import type * as tfTypes from './tfjs';
import type { Platform, ServingConfig } from '../registry/model-config';
import type { Runtime } from './backend';
import { compileLayersGraph, type LayersGraph, type NotCompiled } from './layers-graph';
import { nativeBinding, runSignature, type SavedModelOutput, type SignatureTensor } from './saved-model-runner';
import type { HostTensor, HostValues, TfDtype } from './tensors';

/** How a batch runs, as a version's `execution.mode` reports it. */
type ExecutionMode = NonNullable<components['schemas']['ModelVersion']['execution']>['mode'];

export interface LoadedModel {
  readonly platform: Platform;
  /** Runs one batch: inputs in config order, outputs in config order. Caller owns (and disposes) the result. */
  run(inputs: tfTypes.Tensor[]): tfTypes.Tensor[];
  /**
   * Runs one batch on host arrays of each tensor's exact datatype (SavedModels: INT64 as
   * BigInt64Array, FP64 as Float64Array, ...); serving uses it instead of `run` when present.
   */
  runHost?: (inputs: HostTensor[]) => SavedModelOutput[];
  /** The same computation in a form tf.grad can differentiate (TF.js models only; SavedModels run opaque). */
  differentiable?: (inputs: tfTypes.Tensor[]) => tfTypes.Tensor[];
  /** Bytes of weights on disk. */
  readonly sizeBytes: number;
  /**
   * How a batch runs: `graph` is one TensorFlow session call (a SavedModel, or a layers model
   * compiled to a graph), `ops` one TensorFlow.js call per op (layers and graph models otherwise).
   */
  readonly execution: ExecutionMode;
  /** Why a layers model is not run as one graph (set when execution is `ops` for a layers model). */
  readonly executionNote?: string;
  /** Already run once at load time on a batch of one, so no warm-up run is needed. */
  readonly warm?: boolean;
  dispose(): void;
}

export async function loadModel(runtime: Runtime, config: ServingConfig, dir: string): Promise<LoadedModel> {
  const sizeBytes = await folderSize(dir);
  switch (config.platform) {
    case 'tfjs_layers': {
      const model = await runtime.tf.loadLayersModel(runtime.tf.io.fromMemory(await readTfjsArtifacts(dir)));
      const differentiable = (inputs: tfTypes.Tensor[]) =>
        toList(model.apply(inputs.length === 1 ? inputs[0]! : inputs, { training: false }) as tfTypes.Tensor | tfTypes.Tensor[]);
      const skipped = !runtime.node
        ? `the '${runtime.backend}' backend runs TF.js ops only`
        : graphDisabled()
          ? 'MODELPORT_GRAPH is off'
          : undefined;
      let graph: LayersGraph | NotCompiled;
      try {
        graph = skipped ? { reason: skipped, mismatch: false } : await compileLayersGraph(runtime, model);
      } catch (error) {
        graph = { reason: `compiling its TensorFlow graph failed: ${(error as Error).message.split('\n')[0]}`, mismatch: true };
      }
      if ('reason' in graph) {
        // A layer with no graph translation is expected (the model still runs); a graph that was
        // built and then disagreed, or failed, is worth a warning.
        if (graph.mismatch) console.warn(`[modelport] model '${config.name}' runs op by op, not as one TensorFlow graph: ${graph.reason}`);
        return {
          platform: config.platform,
          sizeBytes,
          execution: 'ops',
          executionNote: graph.reason,
          run: (inputs) => toList(model.predict(inputs.length === 1 ? inputs[0]! : inputs)),
          differentiable,
          dispose: () => model.dispose(),
        };
      }
      const compiled = graph;
      return {
        platform: config.platform,
        sizeBytes,
        execution: 'graph',
        warm: true,
        run: (inputs) => [compiled.run(inputs[0]!)],
        differentiable,
        dispose: () => {
          compiled.dispose();
          model.dispose();
        },
      };
    }
    case 'tfjs_graph': {
      const model = await runtime.tf.loadGraphModel(runtime.tf.io.fromMemory(await readTfjsArtifacts(dir)));
      const inputNames = model.inputs.map((i) => i.name);
      const outputNames = model.outputs.map((o) => o.name);
      return {
        platform: config.platform,
        sizeBytes,
        execution: 'ops',
        run: (inputs) => toList(model.execute(Object.fromEntries(inputNames.map((n, i) => [n, inputs[i]!])), outputNames)),
        differentiable: (inputs) => toList(model.execute(Object.fromEntries(inputNames.map((n, i) => [n, inputs[i]!])), outputNames)),
        dispose: () => model.dispose(),
      };
    }
    case 'tensorflow_savedmodel': {
      if (!runtime.node) throw new Error(`SavedModels need the native TensorFlow backend; this server runs on '${runtime.backend}'`);
      const model = await runtime.node.loadSavedModel(dir, config.info.tags ?? ['serve'], config.info.signature ?? 'serving_default');
      const { sessionId, signature } = model as unknown as {
        sessionId: number;
        signature: { inputs: Record<string, SignatureTensor>; outputs: Record<string, SignatureTensor> };
      };
      const tensorOf = (kind: 'inputs' | 'outputs', name: string) => {
        const tensor = signature[kind][name];
        if (!tensor)
          throw new Error(`SavedModel signature has no ${kind.slice(0, -1)} '${name}' (it has ${Object.keys(signature[kind]).join(', ')})`);
        return tensor;
      };
      const inputTensors = config.inputs.map((spec) => tensorOf('inputs', spec.name));
      const outputTensors = config.outputs.map((spec) => tensorOf('outputs', spec.name));
      const binding = nativeBinding(runtime.tf);
      const runHost = (inputs: HostTensor[]) =>
        runSignature(
          binding,
          sessionId,
          inputs.map((host, i) => ({ tensor: inputTensors[i]!, host })),
          outputTensors,
        );
      const { tf } = runtime;
      return {
        platform: config.platform,
        sizeBytes,
        execution: 'graph',
        runHost,
        // For callers holding TF.js tensors (serving uses runHost): the same run, its outputs in the
        // nearest TF.js dtype (FP64 and FP16 as float32, the other integers as int32). tfjs-node's own
        // predict cannot feed DT_DOUBLE or DT_HALF inputs at all.
        run: (inputs) => {
          const hosts = inputs.map(
            (t, i): HostTensor => ({
              datatype: config.inputs[i]!.datatype,
              dtype: t.dtype as TfDtype,
              shape: t.shape,
              values: (t.dtype === 'string' ? tf.engine().readSync(t.dataId) : t.dataSync()) as HostValues,
            }),
          );
          return runHost(hosts).map(({ shape, values }, i) => {
            if (Array.isArray(values)) return tf.tensor(values, shape, 'string');
            if (outputTensors[i]!.tfDtype === 'DT_BOOL') return tf.tensor(values as Uint8Array, shape, 'bool');
            if (values instanceof Float32Array || values instanceof Float64Array)
              return tf.tensor(Float32Array.from(values), shape, 'float32');
            return tf.tensor(Int32Array.from(values as ArrayLike<number | bigint>, Number), shape, 'int32');
          });
        },
        dispose: () => model.dispose(),
      };
    }
    default:
      throw new Error(`unknown platform '${(config as { platform: string }).platform}'`);
  }
}

/** MODELPORT_GRAPH=off (or 0, false, no) keeps layers models op by op, e.g. to compare the two. */
function graphDisabled(): boolean {
  return /^(off|0|false|no)$/i.test(process.env.MODELPORT_GRAPH ?? '');
}

interface ModelJson {
  modelTopology: unknown;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  signature?: unknown;
  userDefinedMetadata?: Record<string, object>;
  weightsManifest: { paths: string[]; weights: tfTypes.io.WeightsManifestEntry[] }[];
}

/** model.json and its weight shards as in-memory artifacts, checking every shard stays in the folder. */
export async function readTfjsArtifacts(dir: string): Promise<tfTypes.io.ModelArtifacts> {
  const modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as ModelJson;
  const weightSpecs: tfTypes.io.WeightsManifestEntry[] = [];
  const shards: Uint8Array[] = [];
  for (const group of modelJson.weightsManifest ?? []) {
    weightSpecs.push(...group.weights);
    for (const shard of group.paths) {
      const file = path.resolve(dir, shard);
      if (!file.startsWith(path.resolve(dir) + path.sep)) throw new Error(`weight shard '${shard}' is outside the model folder`);
      shards.push(await readFile(file));
    }
  }
  const weightData = new Uint8Array(shards.reduce((n, s) => n + s.byteLength, 0));
  let offset = 0;
  for (const shard of shards) {
    weightData.set(shard, offset);
    offset += shard.byteLength;
  }
  return {
    modelTopology: modelJson.modelTopology as tfTypes.io.ModelArtifacts['modelTopology'],
    weightSpecs,
    weightData: weightData.buffer,
    format: modelJson.format,
    generatedBy: modelJson.generatedBy,
    convertedBy: modelJson.convertedBy ?? undefined,
    signature: modelJson.signature as tfTypes.io.ModelArtifacts['signature'],
    userDefinedMetadata: modelJson.userDefinedMetadata,
  };
}

function toList(result: tfTypes.Tensor | tfTypes.Tensor[] | tfTypes.NamedTensorMap): tfTypes.Tensor[] {
  if (Array.isArray(result)) return result;
  if ('dataSync' in result) return [result as tfTypes.Tensor];
  return Object.values(result);
}

async function folderSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}
