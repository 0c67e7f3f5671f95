/**
 * The binary tensor data extension of the Open Inference Protocol (as NVIDIA Triton defines it):
 * a body is the JSON header (its byte length in `Inference-Header-Content-Length`) followed by
 * the raw little-endian bytes of each binary tensor, in order. Used by the SDK and the server.
 */
import type { Datatype } from '../types';

/** A tensor's element type: openapi.yaml's `Datatype`, exported with the codecs that take it. */
export type { Datatype };

export const HEADER_LENGTH_HEADER = 'inference-header-content-length';

/** Bytes per element; BYTES elements are variable (4-byte length prefix + content). */
export const DATATYPE_SIZE: Record<Exclude<Datatype, 'BYTES'>, number> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};

/** Element values as plain JS: numbers, 64-bit integers (BigInt64Array, bigint[]), booleans, or byte strings. */
export type ElementArray = ArrayLike<number> | ArrayLike<bigint> | boolean[] | Uint8Array[];

const encoder = /* @__PURE__ */ new TextEncoder();

/**
 * A Uint8Array over its own ArrayBuffer: `Uint8Array<ArrayBuffer>` (what a `fetch` body takes) in
 * TypeScript 5.7 and later, plain `Uint8Array` before, so declarations read in either.
 */
export type ByteArray = ReturnType<Uint8Array['slice']>;

/** Concatenates the JSON header and the binary chunks. */
export function encodeBinaryBody(header: unknown, chunks: Uint8Array[]): { body: ByteArray; headerLength: number } {
  const json = encoder.encode(JSON.stringify(header));
  const total = json.byteLength + chunks.reduce((n, c) => n + c.byteLength, 0);
  const body = new Uint8Array(total);
  body.set(json, 0);
  let offset = json.byteLength;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { body, headerLength: json.byteLength };
}

/** Splits a binary body into its JSON header text and the bytes after it. */
export function splitBinaryBody(body: Uint8Array, headerLength: number): { headerText: string; rest: Uint8Array } {
  if (!Number.isInteger(headerLength) || headerLength < 0 || headerLength > body.byteLength) {
    throw new RangeError(`Inference-Header-Content-Length ${headerLength} does not fit a body of ${body.byteLength} bytes`);
  }
  return {
    headerText: new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(0, headerLength)),
    rest: body.subarray(headerLength),
  };
}

/** Element count from a shape. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Encodes elements of a datatype as little-endian bytes. */
export function toBytes(datatype: Datatype, values: ElementArray): Uint8Array {
  if (datatype === 'BYTES') {
    const items = values as Uint8Array[];
    const out = new Uint8Array(items.reduce((n, b) => n + 4 + b.byteLength, 0));
    const view = new DataView(out.buffer);
    let offset = 0;
    for (const item of items) {
      view.setUint32(offset, item.byteLength, true);
      out.set(item, offset + 4);
      offset += 4 + item.byteLength;
    }
    return out;
  }
  const n = values.length;
  const size = DATATYPE_SIZE[datatype];
  // Fast path: a typed array already in the wire layout (this machine and every target is little-endian).
  const direct = directView(datatype, values);
  if (direct) return direct;
  if (datatype === 'INT64' || datatype === 'UINT64') return int64Bytes(datatype, values as ArrayLike<number | bigint>);
  const out = new Uint8Array(n * size);
  const view = new DataView(out.buffer);
  const numbers = values as ArrayLike<number | boolean>;
  for (let i = 0; i < n; i++) {
    const v = Number(numbers[i]);
    switch (datatype) {
      case 'BOOL':
        out[i] = v ? 1 : 0;
        break;
      case 'UINT8':
        view.setUint8(i, v);
        break;
      case 'INT8':
        view.setInt8(i, v);
        break;
      case 'UINT16':
        view.setUint16(i * 2, v, true);
        break;
      case 'INT16':
        view.setInt16(i * 2, v, true);
        break;
      case 'FP16':
        view.setUint16(i * 2, float32ToFloat16Bits(v), true);
        break;
      case 'UINT32':
        view.setUint32(i * 4, v, true);
        break;
      case 'INT32':
        view.setInt32(i * 4, v, true);
        break;
      case 'FP32':
        view.setFloat32(i * 4, v, true);
        break;
      case 'FP64':
        view.setFloat64(i * 8, v, true);
        break;
    }
  }
  return out;
}

/**
 * INT64/UINT64 elements as 8 little-endian bytes each: bigints exactly (wrapping as BigInt64Array
 * does), numbers truncated to integers.
 */
function int64Bytes(datatype: 'INT64' | 'UINT64', values: ArrayLike<number | bigint>): Uint8Array {
  const out = datatype === 'INT64' ? new BigInt64Array(values.length) : new BigUint64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    out[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
  }
  return new Uint8Array(out.buffer);
}

/** What `fromBytes` decodes to. */
export type DecodedElements = ArrayLike<number> | BigInt64Array | BigUint64Array | boolean[] | Uint8Array[];

/**
 * Decodes little-endian bytes into elements: FP16/FP32/FP64 → Float32Array/Float64Array, integer
 * types → their typed array (Int32Array/Uint8Array/…), INT64/UINT64 → BigInt64Array/BigUint64Array
 * (exact), BOOL → boolean[], BYTES → Uint8Array[]. Throws RangeError when the byte length does not match.
 */
export function fromBytes(datatype: Datatype, bytes: Uint8Array, count?: number): DecodedElements {
  if (datatype === 'BYTES') {
    const items: Uint8Array[] = [];
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    while (offset < bytes.byteLength) {
      if (offset + 4 > bytes.byteLength) throw new RangeError('BYTES element length prefix is truncated');
      const length = view.getUint32(offset, true);
      if (offset + 4 + length > bytes.byteLength) throw new RangeError(`BYTES element of ${length} bytes overruns the data`);
      items.push(bytes.subarray(offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    if (count !== undefined && items.length !== count) throw new RangeError(`expected ${count} BYTES elements, found ${items.length}`);
    return items;
  }
  const size = DATATYPE_SIZE[datatype];
  if (bytes.byteLength % size !== 0) throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${datatype} elements`);
  const n = bytes.byteLength / size;
  if (count !== undefined && n !== count)
    throw new RangeError(`expected ${count} ${datatype} elements (${count * size} bytes), received ${bytes.byteLength} bytes`);
  // Copy into an aligned buffer: a subarray of a request body need not be aligned for typed views.
  // (Uint8Array's own slice: a Node Buffer's slice would share the unaligned memory.)
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : Uint8Array.prototype.slice.call(bytes);
  const buffer = aligned.buffer as ArrayBuffer;
  const offset = aligned.byteOffset;
  switch (datatype) {
    case 'BOOL':
      return Array.from(aligned, (b) => b !== 0);
    case 'UINT8':
      return new Uint8Array(buffer, offset, n);
    case 'INT8':
      return new Int8Array(buffer, offset, n);
    case 'UINT16':
      return new Uint16Array(buffer, offset, n);
    case 'INT16':
      return new Int16Array(buffer, offset, n);
    case 'UINT32':
      return new Uint32Array(buffer, offset, n);
    case 'INT32':
      return new Int32Array(buffer, offset, n);
    case 'FP32':
      return new Float32Array(buffer, offset, n);
    case 'FP64':
      return new Float64Array(buffer, offset, n);
    case 'FP16': {
      const halves = new Uint16Array(buffer, offset, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = float16BitsToFloat32(halves[i]!);
      return out;
    }
    case 'INT64':
      return new BigInt64Array(buffer, offset, n);
    case 'UINT64':
      return new BigUint64Array(buffer, offset, n);
  }
}

function directView(datatype: Datatype, values: ElementArray): Uint8Array | undefined {
  const matches =
    (datatype === 'FP32' && values instanceof Float32Array) ||
    (datatype === 'INT32' && values instanceof Int32Array) ||
    (datatype === 'UINT8' && values instanceof Uint8Array) ||
    (datatype === 'FP64' && values instanceof Float64Array) ||
    (datatype === 'INT16' && values instanceof Int16Array) ||
    (datatype === 'UINT16' && values instanceof Uint16Array) ||
    (datatype === 'INT8' && values instanceof Int8Array) ||
    (datatype === 'UINT32' && values instanceof Uint32Array) ||
    (datatype === 'INT64' && values instanceof BigInt64Array) ||
    (datatype === 'UINT64' && values instanceof BigUint64Array);
  if (!matches) return undefined;
  const typed = values as unknown as ArrayBufferView;
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

// One 4-byte scratch word seen as a float and as its bits (pure: a bundler may drop it unused).
const scratch = /* @__PURE__ */ new ArrayBuffer(4);
const f32 = /* @__PURE__ */ new Float32Array(scratch);
const u32 = /* @__PURE__ */ new Uint32Array(scratch);

/** IEEE 754 binary32 → binary16 bits, rounding to nearest even. */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf / NaN
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → 0
    // Subnormal: shift in the implicit 1; bits shifted out still count for rounding (sticky bit).
    const full = mantissa | 0x800000;
    mantissa = (full >>> (1 - e)) | (full & ((1 << (1 - e)) - 1) ? 1 : 0);
    if (mantissa & 0x1000 && mantissa & 0x2fff) mantissa += 0x2000;
    return sign | (mantissa >>> 13);
  }
  if (mantissa & 0x1000 && mantissa & 0x2fff) {
    mantissa += 0x2000;
    if (mantissa & 0x800000) {
      mantissa = 0;
      e += 1;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | (mantissa >>> 13);
}

export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (mantissa / 1024);
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}
