/**
 * How far one input tensor is from its recording, element by element.
 *
 * Floating-point elements (FP16, FP32, FP64) match when |received − recorded| ≤ atol + rtol·|recorded|
 * (numpy's `isclose`, with the recording as the reference); NaN matches NaN and an infinity matches the
 * same infinity. Integer, BOOL and BYTES elements match only when equal: they are ids, counts, flags
 * and text, where "close" is a different value (token 250001 is not token 250000, whatever rtol says).
 */
import type { NamedTensor } from './tensors';

/** numpy's `isclose` defaults are rtol 1e-5, atol 1e-8; atol here is 1e-6 because inputs are often FP32 (ε ≈ 1.2e-7). */
export const DEFAULT_RTOL = 1e-5;
export const DEFAULT_ATOL = 1e-6;

export interface Tolerance {
  rtol: number;
  atol: number;
}

/** How one input of a request differs from the same input (same name, datatype and shape) of a recording. */
export interface InputDelta {
  input: string;
  elements: number;
  /** Elements outside the tolerance (or, for integers, BOOL and BYTES, not equal). */
  outside: number;
  /** The largest |received − recorded| (1 for a flipped BOOL, 0 for BYTES, whose elements have no distance). */
  maxDelta: number;
  /** The element of `maxDelta`, or of the first unequal BYTES element; undefined when every element is equal. */
  worst?: { index: number; recorded: string; received: string } | undefined;
}

const FLOATS: readonly string[] = ['FP16', 'FP32', 'FP64'];

export function compareTensor(received: NamedTensor, recorded: NamedTensor, tolerance: Tolerance): InputDelta {
  const delta: InputDelta = { input: received.name, elements: recorded.data.length, outside: 0, maxDelta: 0 };
  if (recorded.datatype === 'BYTES') return compareBytes(received.data as Uint8Array[], recorded.data as Uint8Array[], delta);
  const isFloat = FLOATS.includes(recorded.datatype);
  const a = received.data as ArrayLike<number | bigint | boolean>;
  const b = recorded.data as ArrayLike<number | bigint | boolean>;
  for (let i = 0; i < b.length; i++) {
    const distance = elementDistance(a[i]!, b[i]!);
    if (distance === 0) continue;
    const within = isFloat && distance <= tolerance.atol + tolerance.rtol * Math.abs(Number(b[i]));
    if (!within) delta.outside++;
    if (distance > delta.maxDelta || delta.worst === undefined) {
      delta.maxDelta = Math.max(delta.maxDelta, distance);
      delta.worst = { index: i, recorded: String(b[i]), received: String(a[i]) };
    }
  }
  return delta;
}

/** 0 when equal (NaN and NaN included), else |a − b|; NaN against a number, or infinities apart, is Infinity (the largest distance there is). */
export function elementDistance(a: number | bigint | boolean, b: number | bigint | boolean): number {
  if (a === b) return 0;
  if (typeof a === 'bigint' || typeof b === 'bigint') return Math.abs(Number(BigInt(a) - BigInt(b)));
  if (typeof a === 'boolean' || typeof b === 'boolean') return 1;
  if (Number.isNaN(a) && Number.isNaN(b)) return 0;
  const distance = Math.abs(a - b);
  return Number.isNaN(distance) ? Number.POSITIVE_INFINITY : distance;
}

function compareBytes(a: Uint8Array[], b: Uint8Array[], delta: InputDelta): InputDelta {
  for (let i = 0; i < b.length; i++) {
    if (bytesEqual(a[i]!, b[i]!)) continue;
    delta.outside++;
    delta.worst ??= { index: i, recorded: showBytes(b[i]!), received: showBytes(a[i]!) };
  }
  return delta;
}

/** A BYTES element for a message: its text when it is UTF-8 (quoted, shortened), else its first bytes in hex. */
function showBytes(bytes: Uint8Array): string {
  const LIMIT = 40;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return JSON.stringify(text.length > LIMIT ? `${text.slice(0, LIMIT)}…` : text);
  } catch {
    const hex = Array.from(bytes.subarray(0, 16), (byte) => byte.toString(16).padStart(2, '0')).join(' ');
    return `bytes ${hex}${bytes.byteLength > 16 ? ' …' : ''}`;
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The position of a flat (row-major) element index in a shape: element 123 of [2, 100] is [1, 23]. */
export function positionInShape(index: number, shape: readonly number[]): number[] {
  const position = new Array<number>(shape.length).fill(0);
  let rest = index;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const size = shape[axis]!;
    position[axis] = size === 0 ? 0 : rest % size;
    rest = size === 0 ? 0 : Math.floor(rest / size);
  }
  return position;
}
