/**
 * Open Inference Protocol datatypes as Triton's model configuration names them (the `DataType` enum of
 * Triton's model_config.proto). Triton's protocol datatypes are the OIP's, and its configuration
 * names are `TYPE_` + that name, except BYTES, which the configuration calls TYPE_STRING (in the
 * exported SavedModel a BYTES tensor is a TensorFlow DT_STRING, which Triton's TensorFlow backend
 * matches with TYPE_STRING).
 */
import type { components } from 'modelport';

/** BF16 is an OIP datatype modelport does not serve (its `Datatype` enum lacks it); exports name it all the same. */
export type OipDatatype = components['schemas']['Datatype'] | 'BF16';

export type TritonDatatype =
  | 'TYPE_BOOL'
  | 'TYPE_UINT8'
  | 'TYPE_UINT16'
  | 'TYPE_UINT32'
  | 'TYPE_UINT64'
  | 'TYPE_INT8'
  | 'TYPE_INT16'
  | 'TYPE_INT32'
  | 'TYPE_INT64'
  | 'TYPE_FP16'
  | 'TYPE_FP32'
  | 'TYPE_FP64'
  | 'TYPE_STRING'
  | 'TYPE_BF16';

const TRITON_DATATYPES: Record<OipDatatype, TritonDatatype> = {
  BOOL: 'TYPE_BOOL',
  UINT8: 'TYPE_UINT8',
  UINT16: 'TYPE_UINT16',
  UINT32: 'TYPE_UINT32',
  UINT64: 'TYPE_UINT64',
  INT8: 'TYPE_INT8',
  INT16: 'TYPE_INT16',
  INT32: 'TYPE_INT32',
  INT64: 'TYPE_INT64',
  FP16: 'TYPE_FP16',
  FP32: 'TYPE_FP32',
  FP64: 'TYPE_FP64',
  BYTES: 'TYPE_STRING',
  BF16: 'TYPE_BF16',
};

export const OIP_DATATYPES = Object.keys(TRITON_DATATYPES) as OipDatatype[];

export function tritonDatatype(datatype: OipDatatype): TritonDatatype {
  const triton = TRITON_DATATYPES[datatype];
  // The registry only holds the enum's datatypes; a config edited by hand may not.
  if (!triton) throw new Error(`'${datatype}' is not an Open Inference Protocol datatype`);
  return triton;
}

/** The OIP datatype a Triton configuration datatype is served as (TYPE_STRING → BYTES). */
export function oipDatatypeOfTriton(triton: TritonDatatype): OipDatatype {
  return triton === 'TYPE_STRING' ? 'BYTES' : (triton.slice('TYPE_'.length) as OipDatatype);
}
