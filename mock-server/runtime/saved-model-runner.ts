/**
 * Runs a SavedModel's signature on tfjs-node's binding directly, with host arrays of each tensor's
 * exact TensorFlow dtype: TF.js tensors hold only float32, int32, bool and string, so going through
 * them (tfjs-node's TFSavedModel.predict) turned DT_INT64 and DT_UINT8 into int32 and could not
 * carry DT_DOUBLE, DT_INT8 ... at all. The binding's C++ is patched at vendoring time to take and
 * give every numeric dtype (runtime/native/vendor-tfjs-node.mjs); every handle made here is deleted.
 */
import { float16BitsToFloat32, float32ToFloat16Bits, type Datatype } from 'modelport';
import type * as tfTypes from './tfjs';
import type { HostTensor, HostValues } from './tensors';

/** The dtypes served, by their SavedModel name: the binding's TF_DataType number and the OIP datatype. */
const SERVED_DTYPES: Record<string, { code: number; datatype: Datatype }> = {
  DT_FLOAT: { code: 1, datatype: 'FP32' },
  DT_DOUBLE: { code: 2, datatype: 'FP64' },
  DT_INT32: { code: 3, datatype: 'INT32' },
  DT_UINT8: { code: 4, datatype: 'UINT8' },
  DT_INT16: { code: 5, datatype: 'INT16' },
  DT_INT8: { code: 6, datatype: 'INT8' },
  DT_STRING: { code: 7, datatype: 'BYTES' },
  DT_INT64: { code: 9, datatype: 'INT64' },
  DT_BOOL: { code: 10, datatype: 'BOOL' },
  DT_UINT16: { code: 17, datatype: 'UINT16' },
  DT_HALF: { code: 19, datatype: 'FP16' },
  DT_UINT32: { code: 22, datatype: 'UINT32' },
  DT_UINT64: { code: 23, datatype: 'UINT64' },
};

export const SERVED_TF_DTYPES = Object.keys(SERVED_DTYPES);

/** The OIP datatype a SavedModel tensor of `tfDtype` is served as; undefined when it cannot be served. */
export function datatypeOfTfDtype(tfDtype: string | undefined): Datatype | undefined {
  return tfDtype === undefined ? undefined : SERVED_DTYPES[tfDtype]?.datatype;
}

type BindingArray = Exclude<HostValues, Uint8Array[]> | Uint8Array[];

/** What of tfjs-node's binding (tfjs_binding.cc) the runner uses. */
interface Binding {
  createTensor(shape: number[], dtype: number, values: BindingArray): number;
  deleteTensor(id: number): void;
  tensorDataSync(id: number): BindingArray;
  runSavedModel(
    sessionId: number,
    inputIds: number[],
    inputNames: string,
    outputNames: string,
  ): { id: number; shape: number[]; dtype: number }[];
  getNumOfTensors(): number;
}

export interface SignatureTensor {
  /** The graph tensor the signature maps it to, e.g. `serving_default_x:0`. */
  name: string;
  tfDtype: string;
}

export interface SavedModelOutput {
  shape: number[];
  values: HostValues;
}

/** The binding behind the `tensorflow` backend. */
export function nativeBinding(tf: typeof tfTypes): Binding {
  const binding = (tf.backend() as unknown as { binding?: Binding }).binding;
  if (!binding?.runSavedModel) throw new Error(`SavedModels need the native TensorFlow backend; the backend is '${tf.getBackend()}'`);
  return binding;
}

/** Handles the binding holds (tensors not yet deleted): tests check that serving leaves none behind. */
export function bindingTensorCount(tf: typeof tfTypes): number {
  return nativeBinding(tf).getNumOfTensors();
}

/**
 * Runs the signature once: `inputs` in signature order (any numeric host array: it is converted
 * to the tensor's dtype), outputs in `outputs` order as host arrays of their dtype (FP16 as the
 * numbers its half bits hold, in a Float32Array).
 */
export function runSignature(
  binding: Binding,
  sessionId: number,
  inputs: { tensor: SignatureTensor; host: HostTensor }[],
  outputs: SignatureTensor[],
): SavedModelOutput[] {
  const inputIds: number[] = [];
  let outputIds: number[] = [];
  try {
    for (const { tensor, host } of inputs) {
      const { code } = servedDtype(tensor);
      inputIds.push(binding.createTensor(host.shape, code, toBindingArray(host.values, tensor.tfDtype)));
    }
    const produced = binding.runSavedModel(
      sessionId,
      inputIds,
      inputs.map((i) => i.tensor.name).join(','),
      outputs.map((o) => o.name).join(','),
    );
    outputIds = produced.map((p) => p.id);
    return produced.map((p) => {
      const data = binding.tensorDataSync(p.id);
      const values = p.dtype === SERVED_DTYPES.DT_HALF!.code ? Float32Array.from(data as Uint16Array, float16BitsToFloat32) : data;
      return { shape: p.shape.map(Number), values: values as HostValues };
    });
  } finally {
    for (const id of [...inputIds, ...outputIds]) binding.deleteTensor(id);
  }
}

function servedDtype(tensor: SignatureTensor): { code: number; datatype: Datatype } {
  const served = SERVED_DTYPES[tensor.tfDtype];
  if (!served) throw new Error(`the signature tensor '${tensor.name}' is ${tensor.tfDtype}, which is not served`);
  return served;
}

/** Host values as the typed array the binding takes for `tfDtype` (int64 as pairs of int32 words). */
function toBindingArray(values: HostValues, tfDtype: string): BindingArray {
  if (Array.isArray(values)) return values;
  switch (tfDtype) {
    case 'DT_FLOAT':
      return numbersAs(Float32Array, values);
    case 'DT_DOUBLE':
      return numbersAs(Float64Array, values);
    case 'DT_HALF':
      return Uint16Array.from(values as ArrayLike<number>, (v) => float32ToFloat16Bits(Number(v)));
    case 'DT_INT32':
      return numbersAs(Int32Array, values);
    case 'DT_INT16':
      return numbersAs(Int16Array, values);
    case 'DT_INT8':
      return numbersAs(Int8Array, values);
    case 'DT_UINT8':
    case 'DT_BOOL':
      return numbersAs(Uint8Array, values);
    case 'DT_UINT16':
      return numbersAs(Uint16Array, values);
    case 'DT_UINT32':
      return numbersAs(Uint32Array, values);
    case 'DT_INT64': {
      const big = values instanceof BigInt64Array ? values : BigInt64Array.from(values as ArrayLike<number | bigint>, toBigInt);
      return new Int32Array(big.buffer, big.byteOffset, big.length * 2);
    }
    case 'DT_UINT64':
      return values instanceof BigUint64Array ? values : BigUint64Array.from(values as ArrayLike<number | bigint>, toBigInt);
    default:
      throw new Error(`${tfDtype} is not served`);
  }
}

type NumberArrayConstructor<T> = { new (length: number): T; from(values: ArrayLike<number>): T };

function numbersAs<T>(Ctor: NumberArrayConstructor<T>, values: Exclude<HostValues, Uint8Array[]>): T {
  if (values instanceof (Ctor as unknown as typeof Float32Array)) return values as unknown as T;
  if (values instanceof BigInt64Array || values instanceof BigUint64Array) return Ctor.from(Array.from(values, Number));
  return Ctor.from(values);
}

function toBigInt(value: number | bigint): bigint {
  return typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
}
