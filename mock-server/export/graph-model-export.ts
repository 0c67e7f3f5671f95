/**
 * A TF.js graph model as a frozen SavedModel. Its model.json topology is a TensorFlow GraphDef in
 * protobuf's JSON form, the weights stripped out into shards: the GraphDef is written back in
 * binary with each weight as its Const node's value. The signature then takes the metadata's
 * datatypes: where the graph's placeholder or output has another dtype (the server converts
 * such inputs and outputs, e.g. INT8 requests for an int32 graph), a Cast sits at the boundary.
 *
 * Refused (the reason returned): graphs with functions (control flow), attributes or tensors in
 * forms the converter does not write, and weights whose dtype their Const node does not hold.
 */
import type { ServingConfig } from '../registry/model-config';
import type { Runtime } from '../runtime/backend';
import {
  attrShape,
  attrType,
  DT_OF_DATATYPE,
  GraphBuilder,
  Pb,
  savedModelProto,
  shapeProto,
  type SignatureTensor,
} from '../runtime/graph-protobuf';
import { readTfjsArtifacts } from '../runtime/loader';
import type * as tfTypes from '../runtime/tfjs';

/** TensorFlow DataType enum values (types.proto) by name. */
const DT: Record<string, number> = {
  DT_FLOAT: 1,
  DT_DOUBLE: 2,
  DT_INT32: 3,
  DT_UINT8: 4,
  DT_INT16: 5,
  DT_INT8: 6,
  DT_STRING: 7,
  DT_INT64: 9,
  DT_BOOL: 10,
  DT_UINT16: 17,
  DT_HALF: 19,
  DT_UINT32: 22,
  DT_UINT64: 23,
};

/** Ops whose output is bool whatever their `T`. */
const BOOL_OPS = new Set([
  'Equal',
  'NotEqual',
  'Greater',
  'GreaterEqual',
  'Less',
  'LessEqual',
  'LogicalNot',
  'LogicalAnd',
  'LogicalOr',
  'IsNan',
  'IsInf',
  'IsFinite',
]);

interface JsonNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, Record<string, unknown>>;
}

interface GraphJson {
  node?: JsonNode[];
  library?: { function?: unknown[] };
}

class Refused extends Error {}

/** saved_model.pb, or why not; `checkOnly` leaves the weights out (nothing is decoded or copied). */
export async function graphModelToSavedModel(
  runtime: Runtime,
  config: ServingConfig,
  versionDir: string,
  checkOnly = false,
): Promise<Uint8Array | string> {
  const artifacts = await readTfjsArtifacts(versionDir);
  const topology = artifacts.modelTopology as GraphJson;
  if ((topology.library?.function ?? []).length > 0)
    return 'the graph has functions (control flow such as while loops or conditionals), which this export does not convert';
  const model = await runtime.tf.loadGraphModel(runtime.tf.io.fromMemory(artifacts));
  const weights = checkOnly ? {} : runtime.tf.io.decodeWeights(artifacts.weightData as ArrayBuffer, artifacts.weightSpecs ?? []);
  try {
    return write(topology.node ?? [], weights, model, config);
  } catch (error) {
    if (error instanceof Refused) return error.message;
    throw error;
  } finally {
    runtime.tf.dispose(Object.values(weights));
    model.dispose();
  }
}

function write(nodes: JsonNode[], weights: tfTypes.NamedTensorMap, model: tfTypes.GraphModel, config: ServingConfig): Uint8Array {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const inputNames = new Map(model.inputs.map((t, i) => [t.name, i]));
  const graph = new GraphBuilder();
  const inputs: SignatureTensor[] = [];
  for (const node of nodes) {
    const inputIndex = inputNames.get(node.name);
    if (inputIndex !== undefined) {
      // The signature's placeholder, and the graph's own input as a Cast from it when the dtypes differ.
      const spec = config.inputs[inputIndex]!;
      const wanted = DT_OF_DATATYPE[spec.datatype];
      const own = dtypeOf(node, byName);
      if (own === wanted) {
        graph.node(node.name, 'Placeholder', [], { dtype: attrType(own), shape: attrShape(spec.shape) });
        inputs.push({ key: spec.name, node: node.name, dims: spec.shape, dtype: own });
      } else {
        const placeholder = graph.node(`signature/${spec.name}`, 'Placeholder', [], {
          dtype: attrType(wanted),
          shape: attrShape(spec.shape),
        });
        graph.node(node.name, 'Cast', [placeholder], { SrcT: attrType(wanted), DstT: attrType(own) });
        inputs.push({ key: spec.name, node: placeholder, dims: spec.shape, dtype: wanted });
      }
      continue;
    }
    const attrs: Record<string, Pb> = {};
    for (const [key, value] of Object.entries(node.attr ?? {})) attrs[key] = attrValue(value, `node '${node.name}' attribute '${key}'`);
    const weight = weights[node.name];
    if (node.op === 'Const' && weight) attrs.value = new Pb().message(8, weightTensor(node, weight));
    graph.node(node.name, node.op, node.input ?? [], attrs);
  }
  const missing = model.inputs.find((t) => !byName.has(t.name));
  if (missing || inputs.length !== config.inputs.length)
    throw new Refused(`the graph's inputs are not its metadata's (${config.inputs.length} inputs)`);
  const outputs = model.outputs.map((tensor, i): SignatureTensor => {
    const spec = config.outputs[i];
    if (!spec) throw new Refused(`the graph has ${model.outputs.length} outputs, its metadata ${config.outputs.length}`);
    const [nodeName, index] = splitTensorName(tensor.name);
    const node = byName.get(nodeName);
    if (!node) throw new Refused(`output '${spec.name}' comes from no node of the graph ('${tensor.name}')`);
    const own = dtypeOf(node, byName);
    const wanted = DT_OF_DATATYPE[spec.datatype];
    const source = index === 0 ? nodeName : `${nodeName}:${index}`;
    const name =
      own === wanted
        ? graph.node(`signature/${spec.name}`, 'Identity', [source], { T: attrType(own) })
        : graph.node(`signature/${spec.name}`, 'Cast', [source], { SrcT: attrType(own), DstT: attrType(wanted) });
    return { key: spec.name, node: name, dims: spec.shape, dtype: wanted };
  });
  const ordered = config.inputs.map((spec) => inputs.find((t) => t.key === spec.name)!);
  return savedModelProto(graph, ordered, outputs);
}

function splitTensorName(name: string): [string, number] {
  const match = /^(.*):(\d+)$/.exec(name);
  return match ? [match[1]!, Number(match[2])] : [name, 0];
}

/** The dtype of a node's (first) output, from its attributes; refused when the op does not say. */
function dtypeOf(node: JsonNode, byName: Map<string, JsonNode>, depth = 0): number {
  const attr = node.attr ?? {};
  const named = (key: string) => (attr[key]?.type === undefined ? undefined : enumOf(attr[key]!.type, `node '${node.name}' ${key}`));
  if (BOOL_OPS.has(node.op)) return DT.DT_BOOL!;
  const found = node.op === 'Cast' ? named('DstT') : (named('dtype') ?? named('out_type') ?? named('T') ?? named('Tout'));
  if (found !== undefined) return found;
  // An op without a type attribute (Identity-like passes keep their input's).
  const first = node.input?.[0];
  const source = first ? byName.get(splitTensorName(first.replace(/^\^/, ''))[0]) : undefined;
  if (source && depth < 64) return dtypeOf(source, byName, depth + 1);
  throw new Refused(`cannot tell the dtype of node '${node.name}' (${node.op})`);
}

function enumOf(value: unknown, what: string): number {
  if (typeof value === 'number') return value;
  const dt = DT[String(value)];
  if (dt === undefined) throw new Refused(`${what}: dtype ${String(value)} is not converted`);
  return dt;
}

/** One attribute from protobuf JSON (AttrValue: list 1, s 2, i 3, f 4, b 5, type 6, shape 7, tensor 8). */
function attrValue(value: Record<string, unknown>, what: string): Pb {
  const pb = new Pb();
  const [kind, v] = Object.entries(value)[0] ?? [];
  switch (kind) {
    case 's':
      return pb.bytes(2, base64(v));
    case 'i':
      return pb.int(3, BigInt(v as string | number));
    case 'f':
      return pb.float(4, Number(v));
    case 'b':
      return pb.int(5, v ? 1 : 0);
    case 'type':
      return pb.int(6, enumOf(v, what));
    case 'shape':
      return pb.message(7, jsonShape(v as JsonShape));
    case 'tensor':
      return pb.message(8, jsonTensor(v as Record<string, unknown>, what));
    case 'list':
      return pb.message(1, listValue(v as Record<string, unknown[]>, what));
    case undefined:
      return pb; // an empty AttrValue (an unset list)
    default:
      throw new Refused(`${what}: attribute kind '${kind}' is not converted`);
  }
}

/** ListValue: s 2, i 3 (packed), f 4 (packed), b 5 (packed), type 6 (packed), shape 7. */
function listValue(list: Record<string, unknown[]>, what: string): Pb {
  const pb = new Pb();
  for (const s of list.s ?? []) pb.bytes(2, base64(s));
  if (list.i?.length)
    pb.packedInts(
      3,
      list.i.map((n) => BigInt(n as string | number)),
    );
  if (list.f?.length) pb.packedFloats(4, list.f.map(Number));
  if (list.b?.length)
    pb.packedInts(
      5,
      list.b.map((b) => (b ? 1 : 0)),
    );
  if (list.type?.length)
    pb.packedInts(
      6,
      list.type.map((t) => enumOf(t, what)),
    );
  for (const shape of list.shape ?? []) pb.message(7, jsonShape(shape as JsonShape));
  for (const key of Object.keys(list))
    if (!['s', 'i', 'f', 'b', 'type', 'shape'].includes(key)) throw new Refused(`${what}: list of '${key}' is not converted`);
  return pb;
}

interface JsonShape {
  dim?: { size?: string | number }[];
  unknownRank?: boolean;
}

function jsonShape(shape: JsonShape): Pb {
  if (shape.unknownRank) return new Pb().int(3, 1);
  return shapeProto((shape.dim ?? []).map((d) => Number(d.size ?? 0)));
}

/** A TensorProto written in JSON in the graph (small constants the converter left in place). */
function jsonTensor(tensor: Record<string, unknown>, what: string): Pb {
  const pb = new Pb().int(1, enumOf(tensor.dtype, what));
  if (tensor.tensorShape) pb.message(2, jsonShape(tensor.tensorShape as JsonShape));
  for (const [key, value] of Object.entries(tensor)) {
    const values = value as unknown[];
    if (key === 'dtype' || key === 'tensorShape' || key === 'versionNumber') continue;
    else if (key === 'tensorContent') pb.bytes(4, base64(value));
    else if (key === 'floatVal') pb.packedFloats(5, values.map(Number));
    else if (key === 'intVal') pb.packedInts(7, values.map(Number));
    else if (key === 'stringVal') for (const s of values) pb.bytes(8, base64(s));
    else if (key === 'int64Val')
      pb.packedInts(
        10,
        values.map((n) => BigInt(n as string | number)),
      );
    else if (key === 'boolVal')
      pb.packedInts(
        11,
        values.map((b) => (b ? 1 : 0)),
      );
    else throw new Refused(`${what}: tensor field '${key}' is not converted`);
  }
  return pb;
}

/** A weight as its Const node's TensorProto, in the dtype the node declares (TF.js keeps int64 weights as int32). */
function weightTensor(node: JsonNode, weight: tfTypes.Tensor): Pb {
  const dtype = enumOf(node.attr?.dtype?.type, `node '${node.name}' dtype`);
  const pb = new Pb().int(1, dtype).message(2, shapeProto(weight.shape));
  if (weight.dtype === 'string') {
    if (dtype !== DT.DT_STRING) throw new Refused(`weight '${node.name}' holds strings; its node is not DT_STRING`);
    for (const s of weight.dataSync() as unknown as Uint8Array[]) pb.bytes(8, typeof s === 'string' ? new TextEncoder().encode(s) : s);
    return pb;
  }
  const values = weight.dataSync();
  const content =
    dtype === DT.DT_FLOAT
      ? Float32Array.from(values)
      : dtype === DT.DT_DOUBLE
        ? Float64Array.from(values)
        : dtype === DT.DT_INT32
          ? Int32Array.from(values)
          : dtype === DT.DT_INT64
            ? BigInt64Array.from(values, (v) => BigInt(v))
            : dtype === DT.DT_BOOL
              ? Uint8Array.from(values)
              : undefined;
  if (!content) throw new Refused(`weight '${node.name}': its node's dtype ${node.attr?.dtype?.type} is not converted`);
  return pb.bytes(4, new Uint8Array(content.buffer, content.byteOffset, content.byteLength));
}

function base64(value: unknown): Uint8Array {
  return Uint8Array.from(Buffer.from(String(value), 'base64'));
}
