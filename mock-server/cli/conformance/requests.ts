/**
 * The inference requests the conformance checks send, built from the model's own metadata: zeros
 * of each input's datatype and shape (a variable dimension, -1, becomes 1), as JSON or with the
 * binary tensor extension.
 */
import { DATATYPE_SIZE, elementCount, encodeBinaryBody, type ByteArray, type Datatype } from 'modelport';

/** The tensor datatypes of the Open Inference Protocol (inference_rest.md, "Tensor Data Types"). */
export const OIP_DATATYPES: readonly string[] = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
];

/** An input or output as model metadata describes it (`$metadata_tensor`). */
export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

/** The id every request carries: the spec says a server must return it in the response. */
export const REQUEST_ID = 'modelport-conformance';

export function isOipDatatype(datatype: string): datatype is Datatype {
  return OIP_DATATYPES.includes(datatype);
}

/** The shape sent for a metadata shape: each variable dimension (-1) is 1. */
export function concreteShape(shape: readonly number[]): number[] {
  return shape.map((d) => (d < 0 ? 1 : d));
}

/** `count` zeros as JSON elements of `datatype`: false for BOOL, '' for BYTES, else 0 (also for a datatype the spec lacks). */
function zeros(datatype: string, count: number): (number | boolean | string)[] {
  const zero = datatype === 'BOOL' ? false : datatype === 'BYTES' ? '' : 0;
  return new Array<number | boolean | string>(count).fill(zero);
}

function jsonInput(input: TensorMetadata, elements = elementCount(concreteShape(input.shape))) {
  return { name: input.name, shape: concreteShape(input.shape), datatype: input.datatype, data: zeros(input.datatype, elements) };
}

/** An inference request with zeros for every input, all outputs by default. */
export function zerosRequest(inputs: readonly TensorMetadata[], outputs?: { name: string; parameters: Record<string, unknown> }[]) {
  return { id: REQUEST_ID, inputs: inputs.map((input) => jsonInput(input)), ...(outputs ? { outputs } : {}) };
}

/** A request whose first input's data does not fit its shape (one element short, or one too many for an empty shape). */
export function mismatchedRequest(inputs: readonly TensorMetadata[]) {
  const [first, ...rest] = inputs;
  if (!first) return { inputs: [{ name: 'input', shape: [1], datatype: 'FP32', data: [] }] };
  const count = elementCount(concreteShape(first.shape));
  return { inputs: [jsonInput(first, count > 0 ? count - 1 : 1), ...rest.map((input) => jsonInput(input))] };
}

/** Bytes of zeros for an input sent binary; undefined when the datatype has no binary layout the spec defines. */
function zeroBytes(input: TensorMetadata): Uint8Array | undefined {
  const count = elementCount(concreteShape(input.shape));
  if (input.datatype === 'BYTES') return new Uint8Array(count * 4); // each element: a 4-byte length of 0
  if (!isOipDatatype(input.datatype)) return undefined;
  return new Uint8Array(count * DATATYPE_SIZE[input.datatype as Exclude<Datatype, 'BYTES'>]);
}

/**
 * Every input binary and every output asked for binary (the binary tensor extension): the JSON
 * header, then the bytes. A string when an input's datatype cannot be encoded.
 */
export function binaryRequest(
  inputs: readonly TensorMetadata[],
  outputs: readonly TensorMetadata[],
): { body: ByteArray; headerLength: number } | string {
  const chunks: Uint8Array[] = [];
  const header = {
    id: REQUEST_ID,
    inputs: inputs.map((input) => {
      const bytes = zeroBytes(input);
      if (bytes) chunks.push(bytes);
      return {
        name: input.name,
        shape: concreteShape(input.shape),
        datatype: input.datatype,
        parameters: { binary_data_size: bytes?.byteLength },
      };
    }),
    outputs: outputs.map((output) => ({ name: output.name, parameters: { binary_data: true } })),
  };
  const unencodable = inputs.find((input) => !zeroBytes(input));
  if (unencodable) return `input '${unencodable.name}' has datatype '${unencodable.datatype}', which has no binary layout`;
  return encodeBinaryBody(header, chunks);
}

/** Classes asked of the classification extension: 2, or fewer when the output has fewer values per row. */
export function classCount(output: TensorMetadata): number {
  const perRow = elementCount(concreteShape(output.shape.slice(1)));
  return Math.max(1, Math.min(2, perRow));
}
