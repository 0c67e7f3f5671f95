/**
 * Translates a TF.js layers model into a frozen TensorFlow graph (weights as constants) in a
 * SavedModel: one graph node or a few per Keras layer, for a single chain of the layers below.
 * Anything else is refused with the reason, and the model keeps running op by op.
 */
import type * as tfTypes from './tfjs';
import { attrBool, attrInts, attrShape, attrString, attrType, DT_FLOAT, DT_INT32, GraphBuilder, savedModelProto } from './graph-protobuf';

/** The translated model: its saved_model.pb and the shape of one input sample (no batch dimension). */
export interface TranslatedModel {
  savedModel: Uint8Array;
  inputShape: number[];
}

/** Why a model has no translation, in words for its execution note. */
export type Unsupported = string;

type LayerConfig = Record<string, unknown>;

export function layersToSavedModel(model: tfTypes.LayersModel): TranslatedModel | Unsupported {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return 'only single-input, single-output models run as one graph';
  const input = model.inputs[0]!;
  if (input.dtype !== 'float32') return `input dtype ${input.dtype} is not float32`;
  const inputShape = input.shape.slice(1);
  if (inputShape.some((d) => d === null || d < 0)) return 'the input has a variable non-batch dimension';
  const chain = layerChain(model);
  if (typeof chain === 'string') return chain;

  const graph = new GraphBuilder();
  const placeholder = graph.node('input', 'Placeholder', [], {
    dtype: attrType(DT_FLOAT),
    shape: attrShape([-1, ...(inputShape as number[])]),
  });
  let x = placeholder;
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
        x = graph.node(`${prefix}/flatten`, 'Reshape', [x, graph.constInt32(`${prefix}/shape`, [-1, outShape[1]!])], {
          T: attrType(DT_FLOAT),
          Tshape: attrType(DT_INT32),
        });
        rank = 2;
        break;
      }
      case 'Reshape': {
        const outShape = outputShapeOf(layer);
        if (!outShape) return `layer '${layer.name}': unknown output shape`;
        x = graph.node(`${prefix}/reshape`, 'Reshape', [x, graph.constInt32(`${prefix}/shape`, [-1, ...outShape.slice(1)])], {
          T: attrType(DT_FLOAT),
          Tshape: attrType(DT_INT32),
        });
        rank = outShape.length;
        break;
      }
      case 'Dense': {
        if (rank !== 2) return `layer '${layer.name}': Dense on a rank-${rank} input`;
        const [kernel, bias] = weights;
        x = graph.node(`${prefix}/matmul`, 'MatMul', [x, graph.constFloat(`${prefix}/kernel`, kernel!.shape, kernel!.dataSync())], {
          T: attrType(DT_FLOAT),
          transpose_a: attrBool(false),
          transpose_b: attrBool(false),
        });
        const act = biasThenActivation(graph, prefix, x, bias, config);
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
        x = graph.node(`${prefix}/conv`, 'Conv2D', [x, graph.constFloat(`${prefix}/kernel`, kernel!.shape, kernel!.dataSync())], {
          T: attrType(DT_FLOAT),
          strides: attrInts([1, strides[0], strides[1], 1]),
          dilations: attrInts([1, dilations[0], dilations[1], 1]),
          padding: attrString(padding),
          data_format: attrString('NHWC'),
        });
        const act = biasThenActivation(graph, prefix, x, bias, config);
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
  const savedModel = savedModelProto(
    graph,
    { key: input.name, node: placeholder, dims: [-1, ...(inputShape as number[])] },
    { key: 'output', node: output, dims: outShape },
  );
  return { savedModel, inputShape: inputShape as number[] };
}

/** The model's layers in order when they form one chain from the input to the output. */
function layerChain(model: tfTypes.LayersModel): tfTypes.layers.Layer[] | Unsupported {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const topology = model.toJSON(null, false) as unknown as {
    class_name: string;
    config: { layers?: { name: string; class_name: string; inbound_nodes?: unknown[] }[] };
  };
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
      if (inbound.length !== 1 || !node || node.length !== 1 || (node[0] as unknown[])[0] !== previous)
        return `layer '${spec.name}' is not part of a single chain of layers`;
      previous = spec.name;
    }
    if (previous !== model.outputs[0]!.sourceLayer.name) return 'the output is not the last layer of the chain';
  }
  for (const layer of layers) {
    if (layer.getClassName() === 'Sequential' || layer.getClassName() === 'Model' || layer.getClassName() === 'Functional')
      return `layer '${layer.name}' is a nested model`;
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

/** The node applying a Keras activation (the input itself for linear); undefined if unsupported. */
/** After a Dense or Conv2D product: its bias (unless the layer has none), then its activation (undefined: no op for it). */
function biasThenActivation(
  graph: GraphBuilder,
  prefix: string,
  x: string,
  bias: tfTypes.Tensor | undefined,
  config: LayerConfig,
): string | undefined {
  const biased =
    config.useBias === false
      ? x
      : graph.node(`${prefix}/bias`, 'BiasAdd', [x, graph.constFloat(`${prefix}/bias_value`, bias!.shape, bias!.dataSync())], {
          T: attrType(DT_FLOAT),
          data_format: attrString('NHWC'),
        });
  return activation(graph, `${prefix}/act`, biased, config.activation);
}

function activation(graph: GraphBuilder, name: string, x: string, which: unknown): string | undefined {
  const key = which === undefined || which === null ? 'linear' : String(which);
  if (!(key in ACTIVATIONS)) return undefined;
  const op = ACTIVATIONS[key];
  return op ? graph.node(name, op, [x], { T: attrType(DT_FLOAT) }) : x;
}
