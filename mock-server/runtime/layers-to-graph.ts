/**
 * Translates a TF.js layers model into a frozen TensorFlow graph (weights as constants) in a
 * SavedModel: one graph node or a few per Keras layer (layer-translations.ts).
 *
 * Serving (no options) compiles single-input, single-output chains of the layers it checks at load
 * and refuses the rest with the reason, and the model keeps running op by op. The SavedModel
 * export passes `signature`: then models with several inputs and outputs, branches joined by
 * merge layers, int32 inputs and the export-only layers (batch norm, embedding, LSTM) are
 * translated too, and the signature's keys, dtypes and shapes are the model's metadata.
 */
import type * as tfTypes from './tfjs';
import { attrShape, attrType, DT_OF_TFJS, GraphBuilder, savedModelProto } from './graph-protobuf';
import { type GraphTensor, PASS_THROUGH_LAYERS, translateLayer, Untranslatable } from './layer-translations';

/** The translated model: its saved_model.pb and the shape of one sample of its first input (no batch dimension). */
export interface TranslatedModel {
  savedModel: Uint8Array;
  inputShape: number[];
}

/** Why a model has no translation, in words for its execution note or the export's refusal. */
export type Unsupported = string;

/** A signature tensor as the export wants it: the key, and the shape (batch first, -1 for any). */
export interface SignatureSpec {
  key: string;
  dims: number[];
  /** The DataType callers send or receive (default: the model's); a Cast joins it to the model's dtype. */
  dtype?: number;
}

export interface TranslateOptions {
  /** The model's inputs and outputs in order, as the signature shows them; set by the export. */
  signature?: { inputs: SignatureSpec[]; outputs: SignatureSpec[] };
  /** Only check that the model translates: constants are written without values, so no weight is copied. */
  checkOnly?: boolean;
}

export function layersToSavedModel(model: tfTypes.LayersModel, options: TranslateOptions = {}): TranslatedModel | Unsupported {
  const forExport = options.signature !== undefined;
  if (!forExport) {
    if (model.inputs.length !== 1 || model.outputs.length !== 1) return 'only single-input, single-output models run as one graph';
    if (model.inputs[0]!.dtype !== 'float32') return `input dtype ${model.inputs[0]!.dtype} is not float32`;
    const chain = layerChain(model);
    if (typeof chain === 'string') return chain;
  }
  const signature = options.signature ?? {
    inputs: [{ key: model.inputs[0]!.name, dims: model.inputs[0]!.shape.map((d) => d ?? -1) }],
    outputs: [{ key: 'output', dims: model.outputs[0]!.shape.map((d) => d ?? -1) }],
  };
  if (signature.inputs.length !== model.inputs.length || signature.outputs.length !== model.outputs.length)
    return `the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs, its metadata ${signature.inputs.length} and ${signature.outputs.length}`;
  try {
    return translate(model, signature, forExport, options.checkOnly === true);
  } catch (error) {
    if (error instanceof Untranslatable) return error.message;
    throw error;
  }
}

function translate(
  model: tfTypes.LayersModel,
  signature: NonNullable<TranslateOptions['signature']>,
  forExport: boolean,
  checkOnly: boolean,
): TranslatedModel {
  const graph = new GraphBuilder(checkOnly);
  const tensors = new Map<string, GraphTensor>();
  const placeholders = model.inputs.map((input, i) => {
    const spec = signature.inputs[i]!;
    const shape = input.shape.map((d) => d ?? -1);
    if (shape.slice(1).some((d) => d < 0)) throw new Untranslatable(`input '${spec.key}' has a variable non-batch dimension`);
    if (spec.dims.length !== shape.length || spec.dims.some((d, k) => d >= 0 && shape[k]! >= 0 && d !== shape[k]))
      throw new Untranslatable(
        `input '${spec.key}': the metadata shape ${JSON.stringify(spec.dims)} is not the model's ${JSON.stringify(shape)}`,
      );
    if (input.dtype !== 'float32' && input.dtype !== 'int32' && input.dtype !== 'bool')
      throw new Untranslatable(`input '${spec.key}' has dtype ${input.dtype}`);
    const own = DT_OF_TFJS[input.dtype];
    const dtype = spec.dtype ?? own;
    const name = graph.node(model.inputs.length === 1 && !forExport ? 'input' : `input${i}`, 'Placeholder', [], {
      dtype: attrType(dtype),
      shape: attrShape(spec.dims),
    });
    // The server converts such inputs (FP16, FP64 → float32; INT8, INT64, UINT8 ... → int32) before the model sees them.
    const cast = dtype === own ? name : graph.node(`${name}/cast`, 'Cast', [name], { SrcT: attrType(dtype), DstT: attrType(own) });
    tensors.set(input.sourceLayer.name, { name: cast, shape: input.shape, dtype: input.dtype });
    return { key: spec.key, node: name, dims: spec.dims, dtype };
  });
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    if (['Sequential', 'Model', 'Functional'].includes(layer.getClassName()))
      throw new Untranslatable(`layer '${layer.name}' is a nested model`);
    const inputs = inboundTensors(layer, tensors);
    const name = translateLayer(graph, layer, inputs, forExport);
    const shape = layer.outputShape as (number | null)[];
    tensors.set(layer.name, { name, shape, dtype: PASS_THROUGH_LAYERS.has(layer.getClassName()) ? inputs[0]!.dtype : 'float32' });
  }
  const outputs = model.outputs.map((output, i) => {
    const spec = signature.outputs[i]!;
    const tensor = tensors.get(output.sourceLayer.name);
    if (!tensor) throw new Untranslatable(`output '${spec.key}' comes from no translated layer`);
    const own = DT_OF_TFJS[tensor.dtype];
    const dtype = spec.dtype ?? own;
    const name = model.outputs.length === 1 && !forExport ? 'output' : `output${i}`;
    if (dtype === own) graph.node(name, 'Identity', [tensor.name], { T: attrType(own) });
    else graph.node(name, 'Cast', [tensor.name], { SrcT: attrType(own), DstT: attrType(dtype) });
    return { key: spec.key, node: name, dims: spec.dims, dtype };
  });
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  return { savedModel: savedModelProto(graph, placeholders, outputs), inputShape };
}

/** Internal view of a TF.js graph node: which layers (and which of their outputs) feed a layer. */
interface InboundNode {
  inboundLayers: tfTypes.layers.Layer[];
  tensorIndices: number[];
}

/** The tensors a layer is applied to; a layer applied more than once (shared) or fed a second output is refused. */
function inboundTensors(layer: tfTypes.layers.Layer, tensors: Map<string, GraphTensor>): GraphTensor[] {
  const nodes = (layer as unknown as { inboundNodes: InboundNode[] }).inboundNodes;
  if (nodes.length !== 1)
    throw new Untranslatable(`layer '${layer.name}' is applied ${nodes.length} times (shared layers are not translated)`);
  const node = nodes[0]!;
  return node.inboundLayers.map((source, k) => {
    if (node.tensorIndices[k] !== 0)
      throw new Untranslatable(`layer '${layer.name}' takes output ${node.tensorIndices[k]} of layer '${source.name}'`);
    const tensor = tensors.get(source.name);
    if (!tensor) throw new Untranslatable(`layer '${layer.name}' comes before its input '${source.name}' is computed`);
    return tensor;
  });
}

/** Serving's condition: the model's layers form one chain from the input to the output. */
function layerChain(model: tfTypes.LayersModel): Unsupported | undefined {
  const topology = model.toJSON(null, false) as unknown as {
    class_name: string;
    config: { layers?: { name: string; class_name: string; inbound_nodes?: unknown[] }[] };
  };
  if (topology.class_name === 'Sequential') return undefined;
  let previous: string | undefined;
  for (const spec of topology.config.layers ?? []) {
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
  return undefined;
}
