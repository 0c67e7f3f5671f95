/**
 * A minimal protobuf writer for the few TensorFlow messages a frozen SavedModel needs: NodeDefs
 * with their attributes and constant tensors, one GraphDef, and the SavedModel around it with
 * one serving signature. Writing them by hand keeps a protobuf library and TensorFlow's .proto
 * files out of the package; field numbers are those of tensorflow/core/framework/*.proto and
 * tensorflow/core/protobuf/{meta_graph,saved_model}.proto.
 */

/** TensorFlow DataType enum values (types.proto). */
export const DT_FLOAT = 1;
export const DT_INT32 = 3;
export const DT_BOOL = 10;

/** The DataType of each TF.js dtype a layers model computes in. */
export const DT_OF_TFJS = { float32: DT_FLOAT, int32: DT_INT32, bool: DT_BOOL } as const;

/** The DataType of a signature tensor of each Open Inference Protocol datatype. */
export const DT_OF_DATATYPE = {
  BOOL: 10,
  UINT8: 4,
  UINT16: 17,
  UINT32: 22,
  UINT64: 23,
  INT8: 6,
  INT16: 5,
  INT32: 3,
  INT64: 9,
  FP16: 19,
  FP32: 1,
  FP64: 2,
  BYTES: 7,
} as const;

/** One protobuf message being written: fields are appended in order, then `finish` joins them. */
export class Pb {
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
    return this.tag(field, 2)
      .push(varint(BigInt(value.length)))
      .push(value);
  }

  /** A `float` field (wire type 5: four little-endian bytes). */
  float(field: number, value: number): this {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    return this.tag(field, 5).push(bytes);
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: Pb): this {
    return this.bytes(field, value.finish());
  }

  packedInts(field: number, values: (number | bigint)[]): this {
    const body = new Pb();
    for (const v of values) body.push(varint(BigInt.asUintN(64, BigInt(v))));
    return this.bytes(field, body.finish());
  }

  packedFloats(field: number, values: number[]): this {
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    return this.bytes(field, bytes);
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
export const attrType = (dtype: number) => new Pb().int(6, dtype);
export const attrBool = (value: boolean) => new Pb().int(5, value ? 1 : 0);
export const attrString = (value: string) => new Pb().string(2, value);
export const attrInt = (value: number) => new Pb().int(3, value);
export const attrFloat = (value: number) => new Pb().float(4, value);
export const attrInts = (values: number[]) => new Pb().message(1, new Pb().packedInts(3, values));
export const attrShape = (dims: number[]) => new Pb().message(7, shapeProto(dims));
const attrTensor = (tensor: Pb) => new Pb().message(8, tensor);

// TensorShapeProto: repeated Dim dim = 2 { int64 size = 1 }
export function shapeProto(dims: number[]): Pb {
  const shape = new Pb();
  for (const d of dims) shape.message(2, new Pb().int(1, d));
  return shape;
}

// TensorProto: dtype = 1, tensor_shape = 2, tensor_content = 4 (little-endian raw values)
function tensorProto(dtype: number, dims: number[], content: Float32Array | Int32Array): Pb {
  const bytes = new Uint8Array(content.buffer, content.byteOffset, content.byteLength);
  return new Pb().int(1, dtype).message(2, shapeProto(dims)).bytes(4, bytes);
}

/** The nodes of one GraphDef, added in order; each method returns the name of the node it added. */
export class GraphBuilder {
  private readonly nodes: Pb[] = [];

  /** `valuesOmitted`: constants are written without their values (a check that a model translates reads no weight). */
  constructor(readonly valuesOmitted = false) {}

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

  /** A float constant; `values` may be a function, called only when values are written. */
  constFloat(name: string, shape: number[], values: ArrayLike<number> | (() => ArrayLike<number>)): string {
    const content = this.valuesOmitted ? new Float32Array(0) : Float32Array.from(typeof values === 'function' ? values() : values);
    return this.node(name, 'Const', [], {
      dtype: attrType(DT_FLOAT),
      value: attrTensor(tensorProto(DT_FLOAT, shape, content)),
    });
  }

  /** An int32 constant: a vector of `values`, a scalar when `scalar` is set (one value), or of the shape given. */
  constInt32(name: string, values: number[], scalar: boolean | number[] = false): string {
    const dims = Array.isArray(scalar) ? scalar : scalar ? [] : [values.length];
    return this.node(name, 'Const', [], {
      dtype: attrType(DT_INT32),
      value: attrTensor(tensorProto(DT_INT32, dims, Int32Array.from(values))),
    });
  }

  constScalar(name: string, value: number): string {
    return this.constFloat(name, [], [value]);
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

/** A tensor of the signature: the key callers use, the graph node it is, its shape and its DataType (default float). */
export interface SignatureTensor {
  key: string;
  node: string;
  dims: number[];
  dtype?: number;
}

function tensorInfo(tensor: SignatureTensor): Pb {
  return new Pb()
    .string(1, `${tensor.node}:0`)
    .int(2, tensor.dtype ?? DT_FLOAT)
    .message(3, shapeProto(tensor.dims));
}

/**
 * saved_model.pb for the graph, tagged `serve`, with one `serving_default` predict signature:
 * SavedModel { schema = 1, meta_graphs = 2 { meta_info_def = 1 { tags = 4 }, graph_def = 2, signature_def = 5 } }.
 */
export function savedModelProto(graph: GraphBuilder, inputs: SignatureTensor[], outputs: SignatureTensor[]): Uint8Array {
  const signature = new Pb();
  for (const input of inputs) signature.message(1, new Pb().string(1, input.key).message(2, tensorInfo(input)));
  for (const output of outputs) signature.message(2, new Pb().string(1, output.key).message(2, tensorInfo(output)));
  signature.string(3, 'tensorflow/serving/predict');
  const metaGraph = new Pb()
    .message(1, new Pb().string(4, 'serve'))
    .message(2, graph.graphDef())
    .message(5, new Pb().string(1, 'serving_default').message(2, signature));
  return new Pb().int(1, 1).message(2, metaGraph).finish();
}
