/**
 * Runs a TF.js layers model as one TensorFlow graph: the model's layers are written out as a
 * frozen TensorFlow GraphDef (weights as constants) inside a SavedModel, which native
 * TensorFlow loads into a session. A batch is then one session call, optimised by Grappler and
 * oneDNN (fused conv + bias + relu, and so on), instead of one eager TensorFlow call per op.
 *
 * Done at load time from the model in memory, for any sequential chain of the layers below, so
 * bundled models and uploaded ones are served the same way and nothing extra ships or is stored.
 * The graph is used only after its outputs matched the layers model's on probe inputs; anything
 * else (an unsupported layer, a mismatch, no native backend) keeps the op-by-op layers model.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as tfTypes from './tfjs';
import { mulberry32 } from '../datasets/data-utils';
import type { Runtime } from './backend';

/** Largest |Δ| allowed between the graph's and the layers model's outputs on the probe inputs. */
export const GRAPH_TOLERANCE = 1e-5;

export interface LayersGraph {
  /** Runs one batch (the model's single input); the caller owns the output. */
  run(input: tfTypes.Tensor): tfTypes.Tensor;
  /** Largest |Δ| against the layers model measured at load time. */
  maxDelta: number;
  dispose(): void;
}

let compiled = 0;

/** Why a layers model is not run as one graph; `mismatch` means it was built but disagreed. */
export interface NotCompiled {
  reason: string;
  mismatch: boolean;
}

type Unsupported = string;

/**
 * Builds, loads and checks the graph. Returns the reason instead when the model cannot be run as
 * one graph; throws only on unexpected TensorFlow failures (the caller falls back then too).
 */
export async function compileLayersGraph(runtime: Runtime, model: tfTypes.LayersModel): Promise<LayersGraph | NotCompiled> {
  if (!runtime.node) return { reason: `graph execution needs the native TensorFlow backend (this server runs on '${runtime.backend}')`, mismatch: false };
  const built = buildGraph(model);
  if (typeof built === 'string') return { reason: built, mismatch: false };
  swept ??= sweepStaleGraphDirs().then(() => undefined);
  await swept;
  // A path never used before in this process: tfjs-node reuses the session of a path it loaded.
  const dir = await mkdtemp(path.join(os.tmpdir(), `${graphDirPrefix(process.pid)}${++compiled}-`));
  let saved: Awaited<ReturnType<NonNullable<Runtime['node']>['loadSavedModel']>>;
  try {
    await writeFile(path.join(dir, 'saved_model.pb'), built.savedModel);
    saved = await runtime.node.loadSavedModel(dir, ['serve'], 'serving_default');
  } finally {
    // The session holds the whole graph (weights are constants): the files are not needed again.
    await rm(dir, { recursive: true, force: true });
  }
  const run = (input: tfTypes.Tensor) => saved.predict(input) as tfTypes.Tensor;
  try {
    const maxDelta = compare(runtime.tf, model, run, built.inputShape);
    if (!(maxDelta <= GRAPH_TOLERANCE)) {
      saved.dispose();
      return { reason: `its TensorFlow graph's outputs differ from the layers model's by ${maxDelta} (> ${GRAPH_TOLERANCE})`, mismatch: true };
    }
    return { run, maxDelta, dispose: () => saved.dispose() };
  } catch (error) {
    saved.dispose();
    throw error;
  }
}

let swept: Promise<void> | undefined;

/**
 * `modelport-graph-<host>-<pid>-`: the host name keeps a sweep from judging another machine's or
 * container's folders (containers sharing a /tmp have their own pid numbering) by its own pids.
 */
export function graphDirPrefix(pid: number): string {
  return `modelport-graph-${os.hostname().replace(/[^A-Za-z0-9.]/g, '_')}-${pid}-`;
}

/**
 * Each graph's folder lives only while it loads, but a server killed during a load leaves it
 * behind: once per process, remove this host's folders of processes that no longer run (never a
 * live one's).
 */
export async function sweepStaleGraphDirs(tmp = os.tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  const ours = graphDirPrefix(0).slice(0, -2); // modelport-graph-<host>-
  const names = await readdir(tmp).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(ours)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(ours.length))?.[1]);
    if (!pid || isRunning(pid)) continue;
    await rm(path.join(tmp, name), { recursive: true, force: true }).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Largest |Δ| between the two on seeded probe batches (1 and 7 rows, values in [-1, 2)). */
function compare(tf: Runtime['tf'], model: tfTypes.LayersModel, run: (x: tfTypes.Tensor) => tfTypes.Tensor, sampleShape: number[]): number {
  let worst = 0;
  const random = mulberry32(0x9e3779b9);
  const size = sampleShape.reduce((n, d) => n * d, 1);
  for (const rows of [1, 7]) {
    const values = new Float32Array(rows * size);
    for (let i = 0; i < values.length; i++) values[i] = random() * 3 - 1;
    const delta = tf.tidy(() => {
      const x = tf.tensor(values, [rows, ...sampleShape], 'float32');
      const expected = model.predict(x) as tfTypes.Tensor;
      const got = run(x);
      if (got.shape.join() !== expected.shape.join()) return Infinity;
      return tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]!;
    });
    worst = Math.max(worst, Number.isNaN(delta) ? Infinity : delta);
  }
  return worst;
}

// ---- layers → GraphDef ----

interface Built {
  savedModel: Uint8Array;
  inputShape: number[];
}

const DT_FLOAT = 1;
const DT_INT32 = 3;

type LayerConfig = Record<string, unknown>;

function buildGraph(model: tfTypes.LayersModel): Built | Unsupported {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return 'only single-input, single-output models run as one graph';
  const input = model.inputs[0]!;
  if (input.dtype !== 'float32') return `input dtype ${input.dtype} is not float32`;
  const inputShape = input.shape.slice(1);
  if (inputShape.some((d) => d === null || d < 0)) return 'the input has a variable non-batch dimension';
  const chain = layerChain(model);
  if (typeof chain === 'string') return chain;

  const graph = new GraphBuilder();
  let x = graph.node('input', 'Placeholder', [], { dtype: attrType(DT_FLOAT), shape: attrShape([-1, ...(inputShape as number[])]) });
  let rank = inputShape.length + 1;
  for (const layer of chain) {
    const className = layer.getClassName();
    const config = layer.getConfig() as LayerConfig;
    const prefix = `l${graph.count()}`;
    const weights = layer.getWeights();
    switch (className) {
      case 'Dropout':
      case 'SpatialDropout1D':
      case 'GaussianNoise':
      case 'GaussianDropout':
      case 'AlphaDropout':
        break; // identity at inference
      case 'Flatten': {
        const outShape = outputShapeOf(layer);
        if (!outShape) return `layer '${layer.name}': unknown output shape`;
        x = graph.node(`${prefix}/flatten`, 'Reshape', [x, graph.constInt32(`${prefix}/shape`, [-1, outShape[1]!])], { T: attrType(DT_FLOAT), Tshape: attrType(DT_INT32) });
        rank = 2;
        break;
      }
      case 'Reshape': {
        const outShape = outputShapeOf(layer);
        if (!outShape) return `layer '${layer.name}': unknown output shape`;
        x = graph.node(`${prefix}/reshape`, 'Reshape', [x, graph.constInt32(`${prefix}/shape`, [-1, ...outShape.slice(1)])], { T: attrType(DT_FLOAT), Tshape: attrType(DT_INT32) });
        rank = outShape.length;
        break;
      }
      case 'Dense': {
        if (rank !== 2) return `layer '${layer.name}': Dense on a rank-${rank} input`;
        const [kernel, bias] = weights;
        x = graph.node(`${prefix}/matmul`, 'MatMul', [x, graph.constFloat(`${prefix}/kernel`, kernel!)], { T: attrType(DT_FLOAT), transpose_a: attrBool(false), transpose_b: attrBool(false) });
        if (config.useBias !== false) x = graph.node(`${prefix}/bias`, 'BiasAdd', [x, graph.constFloat(`${prefix}/bias_value`, bias!)], { T: attrType(DT_FLOAT), data_format: attrString('NHWC') });
        const act = activation(graph, `${prefix}/act`, x, config.activation);
        if (act === undefined) return `layer '${layer.name}': activation '${String(config.activation)}' is not supported`;
        x = act;
        break;
      }
      case 'Conv2D': {
        if (rank !== 4 || !channelsLast(config.dataFormat)) return `layer '${layer.name}': only channels_last 2D convolutions`;
        const strides = pair(config.strides);
        const dilations = pair(config.dilationRate ?? [1, 1]);
        const padding = paddingOf(config.padding);
        if (!strides || !dilations || !padding) return `layer '${layer.name}': unsupported strides, dilation or padding`;
        const [kernel, bias] = weights;
        x = graph.node(`${prefix}/conv`, 'Conv2D', [x, graph.constFloat(`${prefix}/kernel`, kernel!)], {
          T: attrType(DT_FLOAT),
          strides: attrInts([1, strides[0], strides[1], 1]),
          dilations: attrInts([1, dilations[0], dilations[1], 1]),
          padding: attrString(padding),
          data_format: attrString('NHWC'),
        });
        if (config.useBias !== false) x = graph.node(`${prefix}/bias`, 'BiasAdd', [x, graph.constFloat(`${prefix}/bias_value`, bias!)], { T: attrType(DT_FLOAT), data_format: attrString('NHWC') });
        const act = activation(graph, `${prefix}/act`, x, config.activation);
        if (act === undefined) return `layer '${layer.name}': activation '${String(config.activation)}' is not supported`;
        x = act;
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        if (rank !== 4 || !channelsLast(config.dataFormat)) return `layer '${layer.name}': only channels_last 2D pooling`;
        const size = pair(config.poolSize);
        const strides = pair(config.strides ?? config.poolSize);
        const padding = paddingOf(config.padding);
        if (!size || !strides || !padding) return `layer '${layer.name}': unsupported pool size, strides or padding`;
        x = graph.node(`${prefix}/pool`, className === 'MaxPooling2D' ? 'MaxPool' : 'AvgPool', [x], {
          T: attrType(DT_FLOAT),
          ksize: attrInts([1, size[0], size[1], 1]),
          strides: attrInts([1, strides[0], strides[1], 1]),
          padding: attrString(padding),
          data_format: attrString('NHWC'),
        });
        break;
      }
      case 'Activation': {
        const act = activation(graph, `${prefix}/act`, x, config.activation);
        if (act === undefined) return `layer '${layer.name}': activation '${String(config.activation)}' is not supported`;
        x = act;
        break;
      }
      default:
        return `layer '${layer.name}' (${className}) has no graph translation`;
    }
  }
  const output = graph.node('output', 'Identity', [x], { T: attrType(DT_FLOAT) });
  const outShape = model.outputs[0]!.shape.map((d) => d ?? -1);
  return { savedModel: savedModelProto(graph, `${input.name}`, [-1, ...(inputShape as number[])], 'output', outShape), inputShape: inputShape as number[] };
}

/** The model's layers in order when they form one chain from the input to the output. */
function layerChain(model: tfTypes.LayersModel): tfTypes.layers.Layer[] | Unsupported {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const topology = model.toJSON(null, false) as unknown as { class_name: string; config: { layers?: { name: string; class_name: string; inbound_nodes?: unknown[] }[] } };
  if (topology.class_name !== 'Sequential') {
    const specs = topology.config.layers ?? [];
    let previous: string | undefined;
    for (const spec of specs) {
      if (spec.class_name === 'InputLayer') {
        if (previous !== undefined) return 'the model has more than one input layer';
        previous = spec.name;
        continue;
      }
      const inbound = spec.inbound_nodes ?? [];
      const node = inbound[0] as unknown[][] | undefined;
      if (inbound.length !== 1 || !node || node.length !== 1 || (node[0] as unknown[])[0] !== previous) return `layer '${spec.name}' is not part of a single chain of layers`;
      previous = spec.name;
    }
    if (previous !== model.outputs[0]!.sourceLayer.name) return 'the output is not the last layer of the chain';
  }
  for (const layer of layers) {
    if (layer.getClassName() === 'Sequential' || layer.getClassName() === 'Model' || layer.getClassName() === 'Functional') return `layer '${layer.name}' is a nested model`;
  }
  return layers;
}

function outputShapeOf(layer: tfTypes.layers.Layer): number[] | undefined {
  const shape = layer.outputShape as (number | null)[];
  if (!Array.isArray(shape) || shape.slice(1).some((d) => typeof d !== 'number' || d < 0)) return undefined;
  return shape.map((d) => d ?? -1);
}

function channelsLast(value: unknown): boolean {
  return value === undefined || value === null || value === 'channelsLast' || value === 'channels_last';
}

function pair(value: unknown): [number, number] | undefined {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((n) => Number.isInteger(n) && n > 0)) return [value[0], value[1]];
  return undefined;
}

function paddingOf(value: unknown): 'SAME' | 'VALID' | undefined {
  return value === 'same' ? 'SAME' : value === 'valid' || value === undefined ? 'VALID' : undefined;
}

const ACTIVATIONS: Record<string, string | null> = { linear: null, relu: 'Relu', relu6: 'Relu6', sigmoid: 'Sigmoid', tanh: 'Tanh', softmax: 'Softmax', elu: 'Elu', selu: 'Selu', softplus: 'Softplus', softsign: 'Softsign' };

/** The node applying a Keras activation (the input itself for linear); undefined if unsupported. */
function activation(graph: GraphBuilder, name: string, x: string, which: unknown): string | undefined {
  const key = which === undefined || which === null ? 'linear' : String(which);
  if (!(key in ACTIVATIONS)) return undefined;
  const op = ACTIVATIONS[key];
  return op ? graph.node(name, op, [x], { T: attrType(DT_FLOAT) }) : x;
}

// ---- a minimal protobuf writer for the few TensorFlow messages a frozen SavedModel needs ----

class Pb {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): this {
    this.parts.push(bytes);
    this.length += bytes.length;
    return this;
  }

  private tag(field: number, wire: number): this {
    return this.push(varint(BigInt((field << 3) | wire)));
  }

  int(field: number, value: number | bigint): this {
    return this.tag(field, 0).push(varint(BigInt.asUintN(64, BigInt(value))));
  }

  bytes(field: number, value: Uint8Array): this {
    return this.tag(field, 2).push(varint(BigInt(value.length))).push(value);
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: Pb): this {
    return this.bytes(field, value.finish());
  }

  packedInts(field: number, values: number[]): this {
    const body = new Pb();
    for (const v of values) body.push(varint(BigInt.asUintN(64, BigInt(v))));
    return this.bytes(field, body.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

function varint(value: bigint): Uint8Array {
  const out: number[] = [];
  do {
    let byte = Number(value & 0x7fn);
    value >>= 7n;
    if (value) byte |= 0x80;
    out.push(byte);
  } while (value);
  return Uint8Array.from(out);
}

// AttrValue (tensorflow/core/framework/attr_value.proto)
const attrType = (dtype: number) => new Pb().int(6, dtype);
const attrBool = (value: boolean) => new Pb().int(5, value ? 1 : 0);
const attrString = (value: string) => new Pb().string(2, value);
const attrInts = (values: number[]) => new Pb().message(1, new Pb().packedInts(3, values));
const attrShape = (dims: number[]) => new Pb().message(7, shapeProto(dims));
const attrTensor = (tensor: Pb) => new Pb().message(8, tensor);

// TensorShapeProto: repeated Dim dim = 2 { int64 size = 1 }
function shapeProto(dims: number[]): Pb {
  const shape = new Pb();
  for (const d of dims) shape.message(2, new Pb().int(1, d));
  return shape;
}

// TensorProto: dtype = 1, tensor_shape = 2, tensor_content = 4 (little-endian raw values)
function tensorProto(dtype: number, dims: number[], content: Float32Array | Int32Array): Pb {
  const bytes = new Uint8Array(content.buffer, content.byteOffset, content.byteLength);
  return new Pb().int(1, dtype).message(2, shapeProto(dims)).bytes(4, bytes);
}

class GraphBuilder {
  private readonly nodes: Pb[] = [];

  count(): number {
    return this.nodes.length;
  }

  /** Adds a NodeDef (name = 1, op = 2, input = 3, attr = 5) and returns its name. */
  node(name: string, op: string, inputs: string[], attrs: Record<string, Pb>): string {
    const node = new Pb().string(1, name).string(2, op);
    for (const input of inputs) node.string(3, input);
    for (const [key, value] of Object.entries(attrs)) node.message(5, new Pb().string(1, key).message(2, value));
    this.nodes.push(node);
    return name;
  }

  constFloat(name: string, tensor: tfTypes.Tensor): string {
    const values = Float32Array.from(tensor.dataSync() as Float32Array);
    return this.node(name, 'Const', [], { dtype: attrType(DT_FLOAT), value: attrTensor(tensorProto(DT_FLOAT, tensor.shape, values)) });
  }

  constInt32(name: string, values: number[]): string {
    return this.node(name, 'Const', [], { dtype: attrType(DT_INT32), value: attrTensor(tensorProto(DT_INT32, [values.length], Int32Array.from(values))) });
  }

  /** GraphDef: node = 1, versions = 4 { producer = 1 }. */
  graphDef(): Pb {
    const graph = new Pb();
    for (const node of this.nodes) graph.message(1, node);
    return graph.message(4, new Pb().int(1, GRAPH_PRODUCER));
  }
}

/** GraphDef version the graph is written for (TensorFlow 2.x; these ops are unchanged for years). */
const GRAPH_PRODUCER = 1700;

function tensorInfo(name: string, dims: number[]): Pb {
  return new Pb().string(1, `${name}:0`).int(2, DT_FLOAT).message(3, shapeProto(dims));
}

/** SavedModel { schema = 1, meta_graphs = 2 { meta_info_def = 1 { tags = 4 }, graph_def = 2, signature_def = 5 } }. */
function savedModelProto(graph: GraphBuilder, inputKey: string, inputDims: number[], outputNode: string, outputDims: number[]): Uint8Array {
  const signature = new Pb()
    .message(1, new Pb().string(1, inputKey).message(2, tensorInfo('input', inputDims)))
    .message(2, new Pb().string(1, 'output').message(2, tensorInfo(outputNode, outputDims)))
    .string(3, 'tensorflow/serving/predict');
  const metaGraph = new Pb()
    .message(1, new Pb().string(4, 'serve'))
    .message(2, graph.graphDef())
    .message(5, new Pb().string(1, 'serving_default').message(2, signature));
  return new Pb().int(1, 1).message(2, metaGraph).finish();
}
