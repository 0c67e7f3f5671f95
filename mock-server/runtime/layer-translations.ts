/**
 * One Keras layer → the TensorFlow graph nodes computing what TF.js computes for it at inference,
 * op for op where it matters for the last bits (TF.js's batch norm is FusedBatchNorm, its LSTM
 * cell is the matmul / split / hard-sigmoid sequence below), so a translated model agrees with
 * the layers model within float rounding.
 */
import type * as tfTypes from './tfjs';
import {
  attrBool,
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  attrType,
  DT_FLOAT,
  DT_INT32,
  DT_OF_TFJS,
  type GraphBuilder,
} from './graph-protobuf';

/** A tensor of the graph being written: its node output, its static shape (batch first) and dtype. */
export interface GraphTensor {
  name: string;
  shape: (number | null)[];
  dtype: 'float32' | 'int32' | 'bool';
}

/** Layers whose output is their input's values rearranged, in the input's dtype; the others compute in float32. */
export const PASS_THROUGH_LAYERS = new Set([
  'Dropout',
  'SpatialDropout1D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  'Flatten',
  'Reshape',
]);

/** Thrown with the reason when a layer has no translation; the message names the layer. */
export class Untranslatable extends Error {}

type LayerConfig = Record<string, unknown>;

/** Layers serving compiles to one graph (checked against the layers model at load). */
const SERVING_LAYERS = new Set([...PASS_THROUGH_LAYERS, 'Dense', 'Conv2D', 'MaxPooling2D', 'AveragePooling2D', 'Activation']);

/** Layers only the SavedModel export translates (its fidelity is checked with Python TensorFlow). */
const EXPORT_LAYERS = new Set([
  'BatchNormalization',
  'Embedding',
  'LSTM',
  'Add',
  'Subtract',
  'Multiply',
  'Maximum',
  'Minimum',
  'Concatenate',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'ZeroPadding2D',
  'LeakyReLU',
  'ReLU',
  'Softmax',
]);

/** Adds the nodes for `layer` applied to `inputs`; returns the name of its output. */
export function translateLayer(graph: GraphBuilder, layer: tfTypes.layers.Layer, given: GraphTensor[], forExport: boolean): string {
  let inputs = given;
  const className = layer.getClassName();
  const named = `layer '${layer.name}' (${className})`;
  if (!SERVING_LAYERS.has(className) && !(forExport && EXPORT_LAYERS.has(className)))
    throw new Untranslatable(`${named} has no graph translation`);
  const config = layer.getConfig() as LayerConfig;
  const prefix = `l${graph.count()}`;
  const merge = ['Add', 'Subtract', 'Multiply', 'Maximum', 'Minimum', 'Concatenate'].includes(className);
  if (!merge && inputs.length !== 1) throw new Untranslatable(`${named} takes ${inputs.length} inputs`);
  if (inputs.some((t) => t.dtype !== 'float32') && !forExport) throw new Untranslatable(`${named} on a ${inputs[0]!.dtype} input`);
  // TF.js upcasts an int32 (or bool) operand of a float op to float32: the graph casts it.
  if (!PASS_THROUGH_LAYERS.has(className) && className !== 'Embedding')
    inputs = inputs.map((t, i) =>
      t.dtype === 'float32' ? t : { ...t, name: castToFloat(graph, `${prefix}/float${i}`, t), dtype: 'float32' },
    );
  if (className === 'Embedding' && inputs[0]!.dtype === 'bool') throw new Untranslatable(`${named} on a bool input`);
  const x = inputs[0]!;
  const rank = x.shape.length;
  switch (className) {
    case 'Dropout':
    case 'SpatialDropout1D':
    case 'GaussianNoise':
    case 'GaussianDropout':
    case 'AlphaDropout':
      return x.name; // identity at inference
    case 'Flatten':
    case 'Reshape': {
      const outShape = fixedOutputShape(layer, named);
      return reshape(graph, `${prefix}/reshape`, x.name, [-1, ...outShape.slice(1)], DT_OF_TFJS[x.dtype]);
    }
    case 'Dense':
      return dense(graph, prefix, layer, x, config, forExport, named);
    case 'Conv2D':
      return conv2d(graph, prefix, layer, x, config, named);
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      if (rank !== 4 || !channelsLast(config.dataFormat)) throw new Untranslatable(`${named}: only channels_last 2D pooling`);
      const size = pair(config.poolSize);
      const strides = pair(config.strides ?? config.poolSize);
      const padding = paddingOf(config.padding);
      if (!size || !strides || !padding) throw new Untranslatable(`${named}: unsupported pool size, strides or padding`);
      return graph.node(`${prefix}/pool`, className === 'MaxPooling2D' ? 'MaxPool' : 'AvgPool', [x.name], {
        T: attrType(DT_FLOAT),
        ksize: attrInts([1, size[0], size[1], 1]),
        strides: attrInts([1, strides[0], strides[1], 1]),
        padding: attrString(padding),
        data_format: attrString('NHWC'),
      });
    }
    case 'Activation':
      return activation(graph, `${prefix}/act`, x.name, config.activation, named);
    case 'BatchNormalization':
      return batchNormalization(graph, prefix, layer, x, config, named);
    case 'Embedding':
      return embedding(graph, prefix, layer, x, config, named);
    case 'LSTM':
      return lstm(graph, prefix, layer, x, config, named);
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D': {
      if (rank !== 4 || !channelsLast(config.dataFormat)) throw new Untranslatable(`${named}: only channels_last 2D pooling`);
      const op = className === 'GlobalMaxPooling2D' ? 'Max' : 'Mean';
      return graph.node(`${prefix}/${op.toLowerCase()}`, op, [x.name, graph.constInt32(`${prefix}/axes`, [1, 2])], {
        T: attrType(DT_FLOAT),
        Tidx: attrType(DT_INT32),
        keep_dims: attrBool(false),
      });
    }
    case 'ZeroPadding2D': {
      const padding = config.padding as number[][] | undefined;
      if (rank !== 4 || !channelsLast(config.dataFormat) || !Array.isArray(padding) || padding.length !== 2)
        throw new Untranslatable(`${named}: only channels_last padding of two (before, after) pairs`);
      const pads = [0, 0, ...padding[0]!, ...padding[1]!, 0, 0];
      return graph.node(`${prefix}/pad`, 'Pad', [x.name, graph.constInt32(`${prefix}/paddings`, pads, [4, 2])], {
        T: attrType(DT_FLOAT),
        Tpaddings: attrType(DT_INT32),
      });
    }
    case 'LeakyReLU':
      return graph.node(`${prefix}/leaky_relu`, 'LeakyRelu', [x.name], {
        T: attrType(DT_FLOAT),
        alpha: attrFloat(Number(config.alpha ?? 0.3)),
      });
    case 'ReLU': {
      // TF.js: relu, or clip to [0, maxValue] when the layer has one.
      if (config.maxValue === undefined || config.maxValue === null)
        return graph.node(`${prefix}/relu`, 'Relu', [x.name], { T: attrType(DT_FLOAT) });
      const bounds = [graph.constScalar(`${prefix}/zero`, 0), graph.constScalar(`${prefix}/max`, Number(config.maxValue))];
      return graph.node(`${prefix}/relu`, 'ClipByValue', [x.name, ...bounds], { T: attrType(DT_FLOAT) });
    }
    case 'Softmax': {
      const axis = config.axis ?? -1;
      if (axis !== -1 && axis !== rank - 1) throw new Untranslatable(`${named}: softmax over axis ${String(axis)}, not the last`);
      return graph.node(`${prefix}/softmax`, 'Softmax', [x.name], { T: attrType(DT_FLOAT) });
    }
    default:
      return mergeLayer(graph, prefix, className, inputs, config, named);
  }
}

function dense(
  graph: GraphBuilder,
  prefix: string,
  layer: tfTypes.layers.Layer,
  x: GraphTensor,
  config: LayerConfig,
  forExport: boolean,
  named: string,
): string {
  const kernel = weight(layer, 'kernel', named);
  const rank = x.shape.length;
  if (rank !== 2 && !forExport) throw new Untranslatable(`${named}: Dense on a rank-${rank} input`);
  // TF.js's dot on a rank > 2 input: reshape to rows of the last dimension, multiply, reshape back.
  const outShape = rank > 2 ? fixedOutputShape(layer, named) : undefined;
  const rows = rank > 2 ? reshape(graph, `${prefix}/rows`, x.name, [-1, x.shape[rank - 1]!]) : x.name;
  let y = graph.node(`${prefix}/matmul`, 'MatMul', [rows, graph.constFloat(`${prefix}/kernel`, kernel.shape, () => kernel.dataSync())], {
    T: attrType(DT_FLOAT),
    transpose_a: attrBool(false),
    transpose_b: attrBool(false),
  });
  y = bias(graph, prefix, layer, y, config, named);
  if (outShape) y = reshape(graph, `${prefix}/unrows`, y, [-1, ...outShape.slice(1)]);
  return activation(graph, `${prefix}/act`, y, config.activation, named);
}

function conv2d(
  graph: GraphBuilder,
  prefix: string,
  layer: tfTypes.layers.Layer,
  x: GraphTensor,
  config: LayerConfig,
  named: string,
): string {
  if (x.shape.length !== 4 || !channelsLast(config.dataFormat)) throw new Untranslatable(`${named}: only channels_last 2D convolutions`);
  const strides = pair(config.strides);
  const dilations = pair(config.dilationRate ?? [1, 1]);
  const padding = paddingOf(config.padding);
  if (!strides || !dilations || !padding) throw new Untranslatable(`${named}: unsupported strides, dilation or padding`);
  const kernel = weight(layer, 'kernel', named);
  const y = graph.node(`${prefix}/conv`, 'Conv2D', [x.name, graph.constFloat(`${prefix}/kernel`, kernel.shape, () => kernel.dataSync())], {
    T: attrType(DT_FLOAT),
    strides: attrInts([1, strides[0], strides[1], 1]),
    dilations: attrInts([1, dilations[0], dilations[1], 1]),
    padding: attrString(padding),
    data_format: attrString('NHWC'),
  });
  return activation(graph, `${prefix}/act`, bias(graph, prefix, layer, y, config, named), config.activation, named);
}

/** The layer's bias added on the last axis, unless it has none. */
function bias(graph: GraphBuilder, prefix: string, layer: tfTypes.layers.Layer, x: string, config: LayerConfig, named: string): string {
  if (config.useBias === false) return x;
  const value = weight(layer, 'bias', named);
  return graph.node(`${prefix}/bias`, 'BiasAdd', [x, graph.constFloat(`${prefix}/bias_value`, value.shape, () => value.dataSync())], {
    T: attrType(DT_FLOAT),
    data_format: attrString('NHWC'),
  });
}

/**
 * Inference batch norm with the moving statistics, as TF.js runs it: FusedBatchNorm on the input
 * seen as NHWC (a rank-2 or rank-3 input is reshaped to rank 4 and back, as tf.batchNorm does).
 */
function batchNormalization(
  graph: GraphBuilder,
  prefix: string,
  layer: tfTypes.layers.Layer,
  x: GraphTensor,
  config: LayerConfig,
  named: string,
): string {
  const rank = x.shape.length;
  const axis = Array.isArray(config.axis) ? config.axis : [config.axis ?? -1];
  if (axis.length !== 1 || ((axis[0] as number) !== -1 && axis[0] !== rank - 1))
    throw new Untranslatable(`${named}: only the last axis is normalized`);
  if (rank < 2 || rank > 4 || x.shape.slice(1).some((d) => d === null))
    throw new Untranslatable(`${named}: input of rank ${rank} with unknown dimensions`);
  const channels = x.shape[rank - 1] as number;
  const mean = weight(layer, 'moving_mean', named);
  const variance = weight(layer, 'moving_variance', named);
  const gammaWeight = config.scale === false ? undefined : weight(layer, 'gamma', named);
  const betaWeight = config.center === false ? undefined : weight(layer, 'beta', named);
  const gamma = () => gammaWeight?.dataSync() ?? new Float32Array(channels).fill(1);
  const beta = () => betaWeight?.dataSync() ?? new Float32Array(channels);
  const x4 =
    rank === 4 ? x.name : reshape(graph, `${prefix}/as4d`, x.name, rank === 2 ? [-1, 1, 1, channels] : [-1, 1, x.shape[1]!, channels]);
  const normed = graph.node(
    `${prefix}/batchnorm`,
    'FusedBatchNorm',
    [
      x4,
      graph.constFloat(`${prefix}/gamma`, [channels], gamma),
      graph.constFloat(`${prefix}/beta`, [channels], beta),
      graph.constFloat(`${prefix}/mean`, [channels], () => mean.dataSync()),
      graph.constFloat(`${prefix}/variance`, [channels], () => variance.dataSync()),
    ],
    {
      T: attrType(DT_FLOAT),
      epsilon: attrFloat(Number(config.epsilon ?? 1e-3)),
      data_format: attrString('NHWC'),
      is_training: attrBool(false),
    },
  );
  return rank === 4 ? normed : reshape(graph, `${prefix}/from4d`, normed, [-1, ...(x.shape.slice(1) as number[])]);
}

/** Row lookup: the indices cast to int32 (TF.js truncates floats the same way), then GatherV2 on axis 0. */
function embedding(
  graph: GraphBuilder,
  prefix: string,
  layer: tfTypes.layers.Layer,
  x: GraphTensor,
  config: LayerConfig,
  named: string,
): string {
  if (config.maskZero === true) throw new Untranslatable(`${named}: mask_zero (masking) is not translated`);
  const table = weight(layer, 'embeddings', named);
  const indices =
    x.dtype === 'int32'
      ? x.name
      : graph.node(`${prefix}/indices`, 'Cast', [x.name], {
          SrcT: attrType(DT_FLOAT),
          DstT: attrType(DT_INT32),
          Truncate: attrBool(false),
        });
  const params = graph.constFloat(`${prefix}/embeddings`, table.shape, () => table.dataSync());
  const axis = graph.constInt32(`${prefix}/axis`, [0], true);
  return graph.node(`${prefix}/gather`, 'GatherV2', [params, indices, axis], {
    Tparams: attrType(DT_FLOAT),
    Tindices: attrType(DT_INT32),
    Taxis: attrType(DT_INT32),
    batch_dims: attrInt(0),
  });
}

/**
 * An LSTM unrolled over its fixed number of time steps, each step TF.js's LSTMCell:
 * z = x·W (+ h·U after the first step, whose h is zero) + b; i, f, g, o = split(z);
 * c = f·c + i·act(g) (the first step: i·act(g), its c being zero); h = o·act(c).
 */
function lstm(
  graph: GraphBuilder,
  prefix: string,
  layer: tfTypes.layers.Layer,
  x: GraphTensor,
  config: LayerConfig,
  named: string,
): string {
  if (config.returnState === true || config.stateful === true || config.goBackwards === true)
    throw new Untranslatable(`${named}: return_state, stateful and go_backwards are not translated`);
  if (x.shape.length !== 3 || x.shape[1] === null || x.shape[2] === null)
    throw new Untranslatable(`${named}: the sequence length must be fixed (input shape ${JSON.stringify(x.shape)})`);
  const steps = x.shape[1]!;
  const kernel = weight(layer, 'kernel', named);
  const recurrent = weight(layer, 'recurrent_kernel', named);
  const W = graph.constFloat(`${prefix}/kernel`, kernel.shape, () => kernel.dataSync());
  const U = graph.constFloat(`${prefix}/recurrent_kernel`, recurrent.shape, () => recurrent.dataSync());
  const b = config.useBias === false ? undefined : weight(layer, 'bias', named);
  const B = b ? graph.constFloat(`${prefix}/bias`, b.shape, () => b.dataSync()) : undefined;
  const splitAxis = graph.constInt32(`${prefix}/split_axis`, [1], true);
  const unstacked = graph.node(`${prefix}/unstack`, 'Unpack', [x.name], { T: attrType(DT_FLOAT), num: attrInt(steps), axis: attrInt(1) });
  const matmul = (name: string, a: string, w: string) =>
    graph.node(name, 'MatMul', [a, w], { T: attrType(DT_FLOAT), transpose_a: attrBool(false), transpose_b: attrBool(false) });
  const binary = (name: string, op: string, a: string, c: string) => graph.node(name, op, [a, c], { T: attrType(DT_FLOAT) });
  const act = (name: string, input: string) => activation(graph, name, input, config.activation ?? 'tanh', named);
  const recurrentAct = (name: string, input: string) => activation(graph, name, input, config.recurrentActivation ?? 'hardSigmoid', named);
  let h: string | undefined;
  let c: string | undefined;
  const hs: string[] = [];
  for (let t = 0; t < steps; t++) {
    const s = `${prefix}/t${t}`;
    let z = matmul(`${s}/xw`, `${unstacked}:${t}`, W);
    if (h) z = binary(`${s}/plus_hu`, 'AddV2', z, matmul(`${s}/hu`, h, U));
    if (B) z = graph.node(`${s}/bias`, 'BiasAdd', [z, B], { T: attrType(DT_FLOAT), data_format: attrString('NHWC') });
    const gates = graph.node(`${s}/split`, 'Split', [splitAxis, z], { T: attrType(DT_FLOAT), num_split: attrInt(4) });
    const i = recurrentAct(`${s}/i`, `${gates}:0`);
    const f = recurrentAct(`${s}/f`, `${gates}:1`);
    const ig = binary(`${s}/i_g`, 'Mul', i, act(`${s}/g`, `${gates}:2`));
    c = c ? binary(`${s}/c`, 'AddV2', binary(`${s}/f_c`, 'Mul', f, c), ig) : ig;
    const o = recurrentAct(`${s}/o`, `${gates}:3`);
    h = binary(`${s}/h`, 'Mul', o, act(`${s}/act_c`, c));
    hs.push(h);
  }
  if (!config.returnSequences) return h!;
  return graph.node(`${prefix}/sequences`, 'Pack', hs, { T: attrType(DT_FLOAT), N: attrInt(steps), axis: attrInt(1) });
}

const MERGE_OPS: Record<string, string> = { Add: 'AddV2', Subtract: 'Sub', Multiply: 'Mul', Maximum: 'Maximum', Minimum: 'Minimum' };

/** Merge layers: element-wise ops folded left to right as TF.js does, or one ConcatV2. */
function mergeLayer(
  graph: GraphBuilder,
  prefix: string,
  className: string,
  inputs: GraphTensor[],
  config: LayerConfig,
  named: string,
): string {
  if (inputs.some((t) => t.shape.join() !== inputs[0]!.shape.join()) && className !== 'Concatenate')
    throw new Untranslatable(`${named}: inputs of different shapes (broadcasting) are not translated`);
  if (className === 'Concatenate') {
    const rank = inputs[0]!.shape.length;
    const axis = Number(config.axis ?? -1);
    return graph.node(
      `${prefix}/concat`,
      'ConcatV2',
      [...inputs.map((t) => t.name), graph.constInt32(`${prefix}/axis`, [axis < 0 ? axis + rank : axis], true)],
      { T: attrType(DT_FLOAT), N: attrInt(inputs.length), Tidx: attrType(DT_INT32) },
    );
  }
  let y = inputs[0]!.name;
  inputs.slice(1).forEach((t, i) => {
    y = graph.node(`${prefix}/${MERGE_OPS[className]!.toLowerCase()}${i}`, MERGE_OPS[className]!, [y, t.name], { T: attrType(DT_FLOAT) });
  });
  return y;
}

const ACTIVATIONS: Record<string, string | null> = {
  linear: null,
  relu: 'Relu',
  relu6: 'Relu6',
  sigmoid: 'Sigmoid',
  tanh: 'Tanh',
  softmax: 'Softmax',
  elu: 'Elu',
  selu: 'Selu',
  softplus: 'Softplus',
  softsign: 'Softsign',
};

/** The node applying a Keras activation (the input itself for linear). */
function activation(graph: GraphBuilder, name: string, x: string, which: unknown, named: string): string {
  const key = which === undefined || which === null ? 'linear' : String(which);
  if (key === 'hardSigmoid') {
    // TF.js: clip(0.5 + 0.2·x, 0, 1)
    const scaled = graph.node(`${name}/scaled`, 'Mul', [graph.constScalar(`${name}/slope`, 0.2), x], { T: attrType(DT_FLOAT) });
    const shifted = graph.node(`${name}/shifted`, 'AddV2', [graph.constScalar(`${name}/half`, 0.5), scaled], { T: attrType(DT_FLOAT) });
    return graph.node(name, 'ClipByValue', [shifted, graph.constScalar(`${name}/zero`, 0), graph.constScalar(`${name}/one`, 1)], {
      T: attrType(DT_FLOAT),
    });
  }
  if (!(key in ACTIVATIONS)) throw new Untranslatable(`${named}: activation '${key}' is not supported`);
  const op = ACTIVATIONS[key];
  return op ? graph.node(name, op, [x], { T: attrType(DT_FLOAT) }) : x;
}

function castToFloat(graph: GraphBuilder, name: string, x: GraphTensor): string {
  return graph.node(name, 'Cast', [x.name], { SrcT: attrType(DT_OF_TFJS[x.dtype]), DstT: attrType(DT_FLOAT), Truncate: attrBool(false) });
}

function reshape(graph: GraphBuilder, name: string, x: string, dims: number[], dtype: number = DT_FLOAT): string {
  return graph.node(name, 'Reshape', [x, graph.constInt32(`${name}/shape`, dims)], { T: attrType(dtype), Tshape: attrType(DT_INT32) });
}

/** The layer's weight whose name ends in `/<suffix>` (kernel, bias, gamma, moving_mean, ...). */
function weight(layer: tfTypes.layers.Layer, suffix: string, named: string): tfTypes.Tensor {
  const variable = layer.weights.find((w) => w.originalName.endsWith(`/${suffix}`) || w.originalName === suffix);
  if (!variable) throw new Untranslatable(`${named} has no weight '${suffix}'`);
  return variable.read();
}

function fixedOutputShape(layer: tfTypes.layers.Layer, named: string): number[] {
  const shape = layer.outputShape as (number | null)[];
  if (!Array.isArray(shape) || shape.slice(1).some((d) => typeof d !== 'number' || d < 0))
    throw new Untranslatable(`${named}: unknown output shape`);
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
