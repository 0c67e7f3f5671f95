/**
 * OIP tensors ↔ host arrays ready for TensorFlow. Every way a request can be wrong about a tensor
 * (datatype, shape, element values, data length, binary sizes) becomes a 400 that names the input.
 */
import { DATATYPE_SIZE, elementCount, float16BitsToFloat32, float32ToFloat16Bits, fromBytes, toBytes, type Datatype } from 'modelport';
import type { components, TypedArray } from 'modelport';
import { badRequest, HttpError } from '../http/errors';
import type { TensorSpec } from '../registry/model-config';

export type RequestInput = components['schemas']['RequestInput'];
export type ResponseOutput = components['schemas']['ResponseOutput'];

/** The storage tfjs computes with. */
export type TfDtype = 'float32' | 'int32' | 'bool' | 'string';
/** Numbers in the typed array of their datatype (the SDK's own set), or BYTES elements. */
export type HostValues = TypedArray | Uint8Array[];

/**
 * How a model computes, so how its inputs are decoded: `tfjs` in TF.js storage (float32, int32,
 * bool, string: FP64 rounded to float32, integers within int32), `exact` in each datatype's own
 * array (SavedModels run on the binding: FP64 as Float64Array, INT64 as BigInt64Array, ...).
 */
export type Storage = 'tfjs' | 'exact';

export interface HostTensor {
  datatype: Datatype;
  shape: number[];
  dtype: TfDtype;
  values: HostValues;
}

export function tfDtypeOf(datatype: Datatype): TfDtype {
  switch (datatype) {
    case 'FP16':
    case 'FP32':
    case 'FP64':
      return 'float32';
    case 'BOOL':
      return 'bool';
    case 'BYTES':
      return 'string';
    default:
      return 'int32';
  }
}

/** The integer datatypes that TF.js holds whole, in inputs and outputs alike. */
const SMALL_INTEGER_RANGES: Partial<Record<Datatype, [number, number]>> = {
  INT8: [-128, 127],
  UINT8: [0, 255],
  INT16: [-32768, 32767],
  UINT16: [0, 65535],
};

const INTEGER_RANGES: Partial<Record<Datatype, [number, number]>> = {
  ...SMALL_INTEGER_RANGES,
  // TF.js computes integers as int32; wider values cannot be represented and are refused.
  INT32: [-2147483648, 2147483647],
  UINT32: [0, 2147483647],
  INT64: [-2147483648, 2147483647],
  UINT64: [0, 2147483647],
};

type ExactArrayConstructor = new (length: number) => Exclude<HostValues, Uint8Array[]>;

const EXACT_ARRAYS: Partial<Record<Datatype, ExactArrayConstructor>> = {
  FP64: Float64Array,
  INT8: Int8Array,
  UINT8: Uint8Array,
  INT16: Int16Array,
  UINT16: Uint16Array,
  INT32: Int32Array,
  UINT32: Uint32Array,
  INT64: BigInt64Array as unknown as ExactArrayConstructor,
  UINT64: BigUint64Array as unknown as ExactArrayConstructor,
};

/**
 * What each integer datatype holds, for outputs, and for JSON inputs in `exact` storage: JSON
 * numbers are doubles, so INT64 and UINT64 in JSON must be exact integers (within ±(2^53−1));
 * binary carries their whole range.
 */
const EXACT_RANGES: Partial<Record<Datatype, [number, number]>> = {
  ...SMALL_INTEGER_RANGES,
  INT32: [-2147483648, 2147483647],
  UINT32: [0, 4294967295],
  INT64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};

/** The nearest half-precision value, as a number. */
const toHalf = (v: number) => float16BitsToFloat32(float32ToFloat16Bits(v));

const utf8 = new TextEncoder();

/** Decodes a JSON input (flat data, or nested data with the shape's structure) to host values. */
export function decodeJsonInput(
  input: RequestInput,
  index: number,
  options: { base64Bytes?: boolean; storage?: Storage } = {},
): HostTensor {
  const where = `/inputs/${index}`;
  if (input.data === undefined)
    throw badRequest(`input '${input.name}' has no data`, [
      { path: `${where}/data`, message: 'is required (or send it in binary with parameters.binary_data_size)' },
    ]);
  const count = elementCount(input.shape);
  const flat = flatten(input.data as unknown[], input, where);
  if (flat.length !== count) {
    throw badRequest(
      `input '${input.name}': shape [${input.shape}] needs ${count} elements, data has ${flat.length}`,
      [{ path: `${where}/data`, message: `expected ${count} elements for shape [${input.shape}], received ${flat.length}` }],
      'data_length_mismatch',
    );
  }
  const datatype = input.datatype as Datatype;
  const dtype = tfDtypeOf(datatype);
  const bad = (i: number, expected: string) =>
    badRequest(
      `input '${input.name}': element ${i} is ${JSON.stringify(flat[i])}, expected ${expected}`,
      [{ path: `${where}/data`, message: `element ${i} must be ${expected}` }],
      'invalid_tensor_data',
    );

  if (dtype === 'string') {
    return {
      datatype,
      shape: input.shape,
      dtype,
      values: flat.map((v, i) => {
        if (typeof v !== 'string') throw bad(i, 'a string');
        return options.base64Bytes ? base64ToBytes(v, () => bad(i, 'base64 data')) : utf8.encode(v);
      }),
    };
  }
  if (dtype === 'bool') {
    const values = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (v === true || v === 1) values[i] = 1;
      else if (v !== false && v !== 0) throw bad(i, 'a boolean');
    }
    return { datatype, shape: input.shape, dtype, values };
  }
  const Exact = options.storage === 'exact' ? EXACT_ARRAYS[datatype] : undefined;
  if (Exact && datatype === 'FP64') {
    const values = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(i, 'a finite number (FP64)');
      values[i] = v;
    }
    return { datatype, shape: input.shape, dtype, values };
  }
  if (Exact) {
    const [min, max] = EXACT_RANGES[datatype]!;
    const wide = datatype === 'INT64' || datatype === 'UINT64';
    const values = new Exact(count);
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
        throw bad(i, `an integer in [${min}, ${max}] (${datatype}${wide ? '; send larger values in binary' : ''})`);
      values[i] = (wide ? BigInt(v) : v) as never;
    }
    return { datatype, shape: input.shape, dtype, values };
  }
  if (dtype === 'float32') {
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== 'number') throw bad(i, 'a number');
      // FP16 numbers are rounded to half precision, as their binary form is. A number too large
      // for FP16 (or, for FP32/FP64, for TF.js float32) would silently become Infinity: refused.
      const stored = datatype === 'FP16' ? toHalf(v) : Math.fround(v);
      if (!Number.isFinite(stored))
        throw bad(i, datatype === 'FP16' ? 'a number within FP16 range (±65504)' : 'a number within TF.js float32 range (±3.4028235e38)');
      values[i] = stored;
    }
    return { datatype, shape: input.shape, dtype, values };
  }
  const [min, max] = INTEGER_RANGES[datatype]!;
  const values = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = flat[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(i, `an integer in [${min}, ${max}] (${datatype})`);
    values[i] = v;
  }
  return { datatype, shape: input.shape, dtype, values };
}

/** Decodes an input sent in binary. */
export function decodeBinaryInput(input: RequestInput, index: number, bytes: Uint8Array, storage: Storage = 'tfjs'): HostTensor {
  const datatype = input.datatype as Datatype;
  const count = elementCount(input.shape);
  if (datatype !== 'BYTES' && bytes.byteLength !== count * DATATYPE_SIZE[datatype]) {
    throw badRequest(
      `input '${input.name}': shape [${input.shape}] of ${datatype} needs ${count * DATATYPE_SIZE[datatype]} bytes, binary_data_size is ${bytes.byteLength}`,
      [{ path: `/inputs/${index}/parameters/binary_data_size`, message: `expected ${count * DATATYPE_SIZE[datatype]} bytes` }],
      'data_length_mismatch',
    );
  }
  // One byte per element: copied straight (the SDK's fromBytes makes an array of booleans, 8× the size).
  if (datatype === 'BOOL') {
    const values = new Uint8Array(bytes.byteLength);
    for (let i = 0; i < values.length; i++) values[i] = bytes[i] === 0 ? 0 : 1;
    return { datatype, shape: input.shape, dtype: 'bool', values };
  }
  let elements;
  try {
    elements = fromBytes(datatype, bytes, count);
  } catch (error) {
    throw badRequest(
      `input '${input.name}': ${(error as Error).message}`,
      [{ path: `/inputs/${index}/parameters/binary_data_size`, message: (error as Error).message }],
      'data_length_mismatch',
    );
  }
  const dtype = tfDtypeOf(datatype);
  if (dtype === 'string') return { datatype, shape: input.shape, dtype, values: elements as Uint8Array[] };
  // Every datatype's bytes are its values exactly (FP16 as the numbers its half bits hold).
  if (storage === 'exact') return { datatype, shape: input.shape, dtype, values: elements as Exclude<HostValues, Uint8Array[]> };
  if (dtype === 'float32') {
    const values = elements instanceof Float32Array ? elements : Float32Array.from(elements as ArrayLike<number>);
    // FP64: a finite double beyond float32 would silently become Infinity (infinities sent as such stay).
    const doubles = elements as ArrayLike<number>;
    for (let i = 0; datatype === 'FP64' && i < values.length; i++) {
      if (Number.isFinite(doubles[i]!) && !Number.isFinite(values[i]!)) {
        throw badRequest(
          `input '${input.name}': element ${i} (${doubles[i]}) does not fit TF.js float32`,
          [{ path: `/inputs/${index}`, message: `element ${i} out of range` }],
          'invalid_tensor_data',
        );
      }
    }
    return { datatype, shape: input.shape, dtype, values };
  }
  const [min, max] = INTEGER_RANGES[datatype]!;
  // INT64/UINT64 arrive as BigInt64Array/BigUint64Array: compared as numbers (exact within int32).
  const numbers = (
    elements instanceof BigInt64Array || elements instanceof BigUint64Array ? Array.from(elements, Number) : elements
  ) as ArrayLike<number>;
  for (let i = 0; i < numbers.length; i++) {
    const v = numbers[i]!;
    if (v < min || v > max) {
      throw badRequest(
        `input '${input.name}': element ${i} (${v}) does not fit TF.js int32`,
        [{ path: `/inputs/${index}`, message: `element ${i} out of range` }],
        'invalid_tensor_data',
      );
    }
  }
  return { datatype, shape: input.shape, dtype, values: numbers instanceof Int32Array ? numbers : Int32Array.from(numbers) };
}

/** How many elements one input may hold; checked on what it declares, before its data is read. */
export interface InputLimits {
  /** Elements of a number or BOOL input, and of the FP32 tensor decoded images become (--max-input-elements). */
  maxElements: number;
  /** Elements of a BYTES input (strings, encoded images): each becomes an object of its own (--max-input-strings). */
  maxStrings: number;
}

/**
 * Checks what an input declares (datatype, shape, element count) against the model's tensor and
 * the server's limits BEFORE its data is decoded: a request that is wrong about them costs nothing
 * beyond its parsed body. Returns the declared element count.
 */
export function checkDeclaredInput(input: RequestInput, spec: TensorSpec, index: number, limits: InputLimits): number {
  checkAgainstSpec(input, spec, index);
  const count = elementCount(input.shape);
  const strings = input.datatype === 'BYTES';
  checkElementLimit(
    input.name,
    index,
    count,
    strings ? limits.maxStrings : limits.maxElements,
    strings ? 'max-input-strings' : 'max-input-elements',
  );
  return count;
}

/** Checks an input's datatype and shape (declared or decoded) against the model's tensor. */
export function checkAgainstSpec(input: { datatype: string; shape: number[] }, spec: TensorSpec, index: number): void {
  if (input.datatype !== spec.datatype) {
    throw badRequest(
      `input '${spec.name}': expected datatype ${spec.datatype}, received ${input.datatype}`,
      [{ path: `/inputs/${index}/datatype`, message: `expected ${spec.datatype}, received ${input.datatype}` }],
      'datatype_mismatch',
    );
  }
  const fits = input.shape.length === spec.shape.length && spec.shape.every((d, i) => d === -1 || d === input.shape[i]);
  if (!fits) {
    throw badRequest(
      `input '${spec.name}': expected shape [${spec.shape}], received [${input.shape}]`,
      [{ path: `/inputs/${index}/shape`, message: `expected [${spec.shape}], received [${input.shape}]` }],
      'shape_mismatch',
    );
  }
}

/** A 413 `input_too_large` when `count` elements exceed `limit` (the flag that sets it is named). */
export function checkElementLimit(name: string, index: number, count: number, limit: number, flag: string, what = 'elements'): void {
  if (count <= limit) return;
  throw new HttpError(
    413,
    'input_too_large',
    `input '${name}' has ${count.toLocaleString('en-US')} ${what}; the limit is ${limit.toLocaleString('en-US')} per input (--${flag})`,
    [{ path: `/inputs/${index}/shape`, message: `holds ${count} ${what}, more than the limit of ${limit}` }],
  );
}

/** Encodes an output for the response: JSON data, or bytes for the binary section. */
export function encodeOutput(
  name: string,
  datatype: Datatype,
  shape: number[],
  values: HostValues | string[],
  binary: boolean,
): { output: ResponseOutput; bytes?: Uint8Array } {
  if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
    if (datatype === 'INT64' || datatype === 'UINT64') return encodeWideOutput(name, datatype, shape, values, binary);
    values = Float64Array.from(values, Number); // another declared datatype: range-checked below
  }
  const range = EXACT_RANGES[datatype];
  if (range && !Array.isArray(values)) {
    // The model's numbers must fit the declared integer datatype: binary would wrap them, JSON would not.
    const numbers = values as ArrayLike<number>;
    for (let i = 0; i < numbers.length; i++) {
      const v = numbers[i]!;
      if (!Number.isInteger(v) || v < range[0] || v > range[1]) {
        throw new HttpError(
          500,
          'output_out_of_range',
          `output '${name}': element ${i} is ${v}, which its declared datatype ${datatype} cannot hold (check the datatype in the model's config)`,
        );
      }
    }
  }
  if (binary) {
    const elements = Array.isArray(values) && typeof values[0] === 'string' ? (values as string[]).map((s) => utf8.encode(s)) : values;
    const bytes = toBytes(datatype, elements as Parameters<typeof toBytes>[1]);
    return { output: { name, datatype, shape, parameters: { binary_data_size: bytes.byteLength } }, bytes };
  }
  let data: (number | string | boolean)[];
  if (datatype === 'BYTES')
    data = (values as (Uint8Array | string)[]).map((v) => (typeof v === 'string' ? v : new TextDecoder().decode(v)));
  else if (datatype === 'BOOL') data = Array.from(values as Uint8Array, (v) => v !== 0);
  else if (datatype === 'FP16')
    data = Array.from(values as ArrayLike<number>, toHalf); // what binary FP16 holds
  else data = Array.from(values as ArrayLike<number>);
  return { output: { name, datatype, shape, data } };
}

/**
 * INT64/UINT64 outputs: binary carries them exactly (8 bytes each); JSON numbers are doubles, so a
 * value beyond ±(2^53−1) cannot be written exactly and the request fails naming the output.
 */
function encodeWideOutput(
  name: string,
  datatype: 'INT64' | 'UINT64',
  shape: number[],
  values: BigInt64Array | BigUint64Array,
  binary: boolean,
): { output: ResponseOutput; bytes?: Uint8Array } {
  if (binary) {
    const bytes = toBytes(datatype, values);
    return { output: { name, datatype, shape, parameters: { binary_data_size: bytes.byteLength } }, bytes };
  }
  const limit = BigInt(Number.MAX_SAFE_INTEGER);
  const data = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v > limit || v < -limit) {
      throw new HttpError(
        422,
        'output_exceeds_json_range',
        `output '${name}': element ${i} is ${v}, beyond ±(2^53−1), which a JSON number cannot hold exactly; ask for '${name}' in binary (parameters.binary_data: true)`,
        [{ path: '/outputs', message: `'${name}' holds ${datatype} values beyond ±9007199254740991` }],
      );
    }
    data[i] = Number(v);
  }
  return { output: { name, datatype, shape, data } };
}

/**
 * Flat data, or nested arrays with exactly the shape's structure (every level as long as its
 * dimension, numbers only at the innermost one): ragged data is refused even when its element
 * count happens to match, naming where it departs from the shape.
 */
function flatten(data: unknown[], input: RequestInput, where: string): unknown[] {
  if (!data.some(Array.isArray)) return data;
  const { shape } = input;
  if (shape.length > 32) throw badRequest('tensor data is nested more than 32 levels deep', undefined, 'invalid_tensor_data');
  const out: unknown[] = [];
  const ragged = (path: number[], message: string) =>
    badRequest(
      `input '${input.name}': data${path.map((i) => `[${i}]`).join('')} ${message}; nested data must have the structure of shape [${shape}] (or send it flat)`,
      [{ path: `${where}/data${path.map((i) => `/${i}`).join('')}`, message }],
      'invalid_tensor_data',
    );
  const path: number[] = []; // where the walk is; copied only into an error
  const walk = (node: unknown) => {
    const depth = path.length;
    if (depth === shape.length) {
      if (Array.isArray(node)) throw ragged(path, `is an array, where shape [${shape}] has an element`);
      out.push(node);
      return;
    }
    if (!Array.isArray(node)) throw ragged(path, `is an element, where shape [${shape}] has an array of ${shape[depth]}`);
    if (node.length !== shape[depth])
      throw ragged(path, `has ${node.length} ${node.length === 1 ? 'entry' : 'entries'}, where shape [${shape}] has ${shape[depth]}`);
    for (let i = 0; i < node.length; i++) {
      path.push(i);
      walk(node[i]);
      path.pop();
    }
  };
  walk(data);
  return out;
}

function base64ToBytes(text: string, onError: () => Error): Uint8Array {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) throw onError();
  return new Uint8Array(Buffer.from(text, 'base64'));
}
