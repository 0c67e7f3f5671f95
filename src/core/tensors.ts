/**
 * Tensors as users hold them (typed arrays, nested arrays, `{ data, shape }`) ↔ OIP tensors.
 */
import { elementCount, fromBytes, toBytes, type Datatype } from './binary';
import type { RequestInput, ResponseOutput, TensorMetadata } from '../types';

export type TypedArray = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;
export type NestedArray<T> = T | NestedArray<T>[];

/** What `predict` accepts for one input. */
export type TensorLike =
  | TypedArray
  | NestedArray<number>[]
  | NestedArray<boolean>[]
  | NestedArray<string>[]
  | { data: TypedArray | readonly unknown[]; shape: number[]; datatype?: Datatype };

/** A decoded output tensor. */
export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** FP* → Float32Array/Float64Array, integers → Int32Array/…, BOOL → boolean[], BYTES → string[]. */
  data: TypedArray | boolean[] | string[];
}

const TYPED_DATATYPES: [new (...args: never[]) => TypedArray, Datatype][] = [
  [Float32Array, 'FP32'], [Float64Array, 'FP64'], [Int32Array, 'INT32'], [Int16Array, 'INT16'], [Int8Array, 'INT8'],
  [Uint8Array, 'UINT8'], [Uint16Array, 'UINT16'], [Uint32Array, 'UINT32'],
];

/** Builds an OIP input; with `binary`, the data goes out as bytes after the JSON header. */
export function toRequestInput(name: string, value: TensorLike, spec: TensorMetadata | undefined, binary: boolean): { input: RequestInput; bytes?: Uint8Array } {
  const isObject = typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value);
  const data = isObject ? (value as { data: TypedArray | unknown[] }).data : (value as TypedArray | unknown[]);
  const flat = ArrayBuffer.isView(data) ? (data as TypedArray) : (data as unknown[]).flat(Infinity);
  const datatype = (isObject && (value as { datatype?: Datatype }).datatype) || spec?.datatype || inferDatatype(data);
  const shape = isObject
    ? (value as { shape: number[] }).shape
    : ArrayBuffer.isView(data)
      ? shapeFromSpec(flat.length, spec, name)
      : nestedShape(data as unknown[]);
  const count = elementCount(shape);
  if (count !== flat.length) throw new RangeError(`input '${name}': shape [${shape}] needs ${count} elements, got ${flat.length}`);
  if (binary) {
    const bytes = toBytes(datatype, datatype === 'BYTES' ? (flat as string[]).map((s) => new TextEncoder().encode(String(s))) : (flat as ArrayLike<number>));
    return { input: { name, shape, datatype, parameters: { binary_data_size: bytes.byteLength } }, bytes };
  }
  return { input: { name, shape, datatype, data: ArrayBuffer.isView(flat) ? Array.from(flat as TypedArray) : (flat as number[]) } };
}

/** Decodes an OIP output, from JSON `data` or from its bytes in a binary response. */
export function fromResponseOutput(output: ResponseOutput, bytes?: Uint8Array): Tensor {
  const datatype = output.datatype as Datatype;
  let data: Tensor['data'];
  if (bytes) {
    const decoded = fromBytes(datatype, bytes, elementCount(output.shape));
    data = datatype === 'BYTES' ? (decoded as Uint8Array[]).map((b) => new TextDecoder().decode(b)) : (decoded as Tensor['data']);
  } else {
    const values = ((output.data ?? []) as unknown[]).flat(Infinity);
    data = typedFromValues(datatype, values);
  }
  return { name: output.name, datatype, shape: output.shape, data };
}

function typedFromValues(datatype: Datatype, values: unknown[]): Tensor['data'] {
  switch (datatype) {
    // JSON has no NaN or ±Infinity: servers write null, which must not read as 0.
    case 'FP16': case 'FP32': return Float32Array.from(values as (number | null)[], (v) => v ?? NaN);
    case 'FP64': return Float64Array.from(values as (number | null)[], (v) => v ?? NaN);
    case 'INT64': case 'UINT64': return Float64Array.from(values as number[]);
    case 'INT32': return Int32Array.from(values as number[]);
    case 'INT16': return Int16Array.from(values as number[]);
    case 'INT8': return Int8Array.from(values as number[]);
    case 'UINT32': return Uint32Array.from(values as number[]);
    case 'UINT16': return Uint16Array.from(values as number[]);
    case 'UINT8': return Uint8Array.from(values as number[]);
    case 'BOOL': return values.map(Boolean);
    case 'BYTES': return values.map(String);
  }
}

function inferDatatype(data: TypedArray | unknown[]): Datatype {
  if (ArrayBuffer.isView(data)) return TYPED_DATATYPES.find(([Ctor]) => data instanceof Ctor)?.[1] ?? 'FP32';
  const first = (data as unknown[]).flat(Infinity)[0];
  if (typeof first === 'boolean') return 'BOOL';
  if (typeof first === 'string') return 'BYTES';
  return 'FP32';
}

/** A flat typed array takes the model's shape with the batch dimension worked out. */
function shapeFromSpec(length: number, spec: TensorMetadata | undefined, name: string): number[] {
  if (!spec) return [length];
  const fixed = spec.shape.reduce((n, d) => (d === -1 ? n : n * d), 1);
  const variable = spec.shape.filter((d) => d === -1).length;
  if (variable === 0) return spec.shape;
  if (variable > 1 || length % fixed !== 0) {
    throw new RangeError(`input '${name}': cannot fit ${length} values to shape [${spec.shape}]; pass { data, shape }`);
  }
  return spec.shape.map((d) => (d === -1 ? length / fixed : d));
}

function nestedShape(data: unknown[]): number[] {
  const shape: number[] = [];
  let level: unknown = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  return shape;
}
