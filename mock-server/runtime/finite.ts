/**
 * Non-finite model outputs (NaN, ±Infinity). JSON has no such numbers: `JSON.stringify` would
 * write `null` where the contract promises a number (KServe's orjson does the same), and Triton's
 * bare `NaN` tokens are not JSON at all (`JSON.parse` rejects them). So a JSON answer that would
 * carry one fails with `non_finite_output` naming the output, the first such element and the
 * count; binary outputs carry IEEE values as they are.
 */
import { badRequest, HttpError } from '../http/errors';
import type { TensorSpec } from '../registry/model-config';
import type { Runtime } from './backend';
import type { LoadedModel } from './loader';
import { type HostTensor, tfDtypeOf } from './tensors';

/**
 * 422, not 500: the server and the model ran as told, and running them again gives the same
 * numbers, so a retry (the SDK retries 5xx) cannot help; asking for the output in binary can.
 */
export const NON_FINITE_STATUS = 422;

export interface NonFinite {
  /** Flat index of the first non-finite element. */
  index: number;
  value: number;
  /** How many elements are not finite. */
  count: number;
}

/** The first non-finite element of a float array and how many there are, or undefined when all are finite. */
export function findNonFinite(values: ArrayLike<number>): NonFinite | undefined {
  let first = -1;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    // v - v is 0 for every finite number and NaN for NaN and ±Infinity: one test, no call.
    const v = values[i]!;
    if (v - v === 0) continue;
    if (first < 0) first = i;
    count++;
  }
  return first < 0 ? undefined : { index: first, value: values[first]!, count };
}

/** Whether these values are a float array that may hold non-finite numbers (integer and string outputs cannot). */
export function mayBeNonFinite(values: unknown): values is Float32Array | Float64Array {
  return values instanceof Float32Array || values instanceof Float64Array;
}

/** `[1, 2]` for flat index 5 of shape [2, 3]: where the element is, as a reader of the tensor counts. */
export function positionOf(index: number, shape: readonly number[]): number[] {
  const position: number[] = [];
  let rest = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d]! || 1;
    position.unshift(rest % size);
    rest = Math.floor(rest / size);
  }
  return position;
}

/** "element 3 ([1, 0] of shape [2, 3]) is NaN (2 of 6 elements are not finite)". */
export function describeNonFinite(found: NonFinite, shape: readonly number[], total: number): string {
  const where = shape.length > 1 ? ` ([${positionOf(found.index, shape).join(', ')}] of shape [${shape.join(', ')}])` : '';
  const others = found.count > 1 ? ` (${found.count} of ${total} elements are not finite)` : '';
  return `element ${found.index}${where} is ${found.value}${others}`;
}

/**
 * The error a JSON answer gets when output `name` holds non-finite numbers. `remedy` says what
 * the caller can do instead (e.g. ask for the output in binary).
 */
export function nonFiniteOutput(
  name: string,
  values: ArrayLike<number>,
  shape: readonly number[],
  context: { what: string; remedy?: string; path?: string },
): HttpError | undefined {
  const found = findNonFinite(values);
  if (!found) return undefined;
  const remedy = context.remedy ? `; ${context.remedy}` : '';
  return new HttpError(
    NON_FINITE_STATUS,
    'non_finite_output',
    `${context.what} output '${name}': ${describeNonFinite(found, shape, values.length)}, and JSON has no NaN or Infinity${remedy}`,
    context.path ? [{ path: context.path, message: `output '${name}' holds ${found.value} at element ${found.index}` }] : undefined,
  );
}

/**
 * The refusal of a model whose outputs are not finite on zeros: one run on an all-zeros batch of
 * one of its signature's shapes (a variable dimension taken as 1), the input serving's warm-up
 * runs too. Undefined when every float output is finite, when an input is BYTES (zeros mean
 * nothing there), or when the run itself fails (that failure shows at inference, with its message).
 */
export function refuseNonFiniteOnZeros(
  runtime: Runtime,
  loaded: LoadedModel,
  inputs: TensorSpec[],
  outputs: TensorSpec[],
): HttpError | undefined {
  if (inputs.some((spec) => spec.datatype === 'BYTES')) return undefined;
  const { tf } = runtime;
  const shapes = inputs.map((spec) => spec.shape.map((d) => (d < 0 ? 1 : d)));
  let results: { shape: number[]; values: ArrayLike<number> | undefined }[];
  try {
    if (loaded.runHost) {
      // Outputs in their own datatype: an FP64 output beyond float32's range is finite, not Infinity.
      results = loaded
        .runHost(inputs.map((spec, i) => zerosHost(spec, shapes[i]!)))
        .map(({ shape, values }) => ({ shape, values: mayBeNonFinite(values) ? values : undefined }));
    } else results = runOnTfjsZeros(tf, loaded, inputs, shapes);
  } catch {
    return undefined;
  }
  for (const [i, result] of results.entries()) {
    const found = result.values && findNonFinite(result.values);
    if (!found) continue;
    const name = outputs[i]?.name ?? `output ${i}`;
    const zeros = inputs.map((spec, k) => `'${spec.name}' [${shapes[k]!.join(', ')}]`).join(', ');
    return badRequest(
      `the model's output '${name}' is not finite on an all-zeros input (${zeros}): ${describeNonFinite(found, result.shape, result.values!.length)}; JSON answers cannot carry NaN or Infinity, so the upload is refused`,
      [{ path: '/outputs', message: `output '${name}' is ${found.value} at element ${found.index} on zeros` }],
      'non_finite_output',
    );
  }
  return undefined;
}

function zerosHost(spec: TensorSpec, shape: number[]): HostTensor {
  const dtype = tfDtypeOf(spec.datatype);
  const count = shape.reduce((n, d) => n * d, 1);
  const values = dtype === 'float32' ? new Float32Array(count) : dtype === 'bool' ? new Uint8Array(count) : new Int32Array(count);
  return { datatype: spec.datatype, dtype, shape, values };
}

function runOnTfjsZeros(
  tf: Runtime['tf'],
  loaded: LoadedModel,
  inputs: TensorSpec[],
  shapes: number[][],
): { shape: number[]; values: ArrayLike<number> | undefined }[] {
  const tensors = tf.tidy(() => loaded.run(inputs.map((spec, i) => tf.zeros(shapes[i]!, tfDtypeOf(spec.datatype)))));
  try {
    return tensors.map((t) => ({ shape: t.shape.slice(), values: t.dtype === 'float32' ? (t.dataSync() as Float32Array) : undefined }));
  } finally {
    tf.dispose(tensors);
  }
}
