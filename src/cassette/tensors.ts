/**
 * The tensors of a recorded inference call: the inputs of its request and the outputs of its
 * response, decoded from JSON or from Triton binary bodies with the SDK's own codecs
 * (core/binary.ts, core/tensors.ts), so a replayed answer decodes exactly as a live one.
 */
import {
  DATATYPE_SIZE,
  HEADER_LENGTH_HEADER,
  elementCount,
  fromBytes,
  fromResponseOutput,
  splitBinaryBody,
  type Datatype,
  type ResponseOutput,
  type Tensor,
} from 'modelport';
import { decodeBase64, type Body, type Interaction, type RecordedRequest, type RecordedResponse } from './format';

/**
 * One named tensor. `data` is what the SDK decodes (Float32Array for FP32, BigInt64Array for
 * INT64, boolean[] for BOOL, …), except BYTES: the exact bytes of each element (Uint8Array[]),
 * so that comparing two BYTES tensors never depends on how invalid UTF-8 would be read as text.
 */
export interface NamedTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: Exclude<Tensor['data'], string[]> | Uint8Array[];
}

/** The JSON part of an inference body (parameters, id, …) and its decoded tensors. */
export interface DecodedInferenceBody {
  header: Record<string, unknown>;
  tensors: NamedTensor[];
}

/** The inputs of a recorded (or live, see match.ts) infer request. Throws an error naming what is wrong. */
export function decodeRequestTensors(request: Pick<RecordedRequest, 'headers' | 'body'>): DecodedInferenceBody {
  return decodeInferenceBody(request.body, request.headers, 'inputs');
}

/** The outputs of a recorded infer response. Throws an error naming what is wrong. */
export function decodeResponseTensors(response: Pick<RecordedResponse, 'headers' | 'body'>): DecodedInferenceBody {
  return decodeInferenceBody(response.body, response.headers, 'outputs');
}

/** The inputs and outputs of a recorded infer call (a 200 with an `outputs` array). Throws an error naming what is wrong. */
export function interactionTensors(interaction: Pick<Interaction, 'request' | 'response'>): {
  inputs: NamedTensor[];
  outputs: NamedTensor[];
} {
  return { inputs: decodeRequestTensors(interaction.request).tensors, outputs: decodeResponseTensors(interaction.response).tensors };
}

/** The Open Inference Protocol's datatypes: the fixed-size ones the SDK encodes, and BYTES. */
const DATATYPES: readonly string[] = [...Object.keys(DATATYPE_SIZE), 'BYTES'];

function decodeInferenceBody(body: Body | null, headers: Record<string, string>, key: 'inputs' | 'outputs'): DecodedInferenceBody {
  if (body === null) throw new TypeError(`there is no body, so no ${key}`);
  let header: unknown;
  let rest: Uint8Array = new Uint8Array(0);
  if ('json' in body) {
    header = body.json;
  } else {
    const bytes = decodeBase64(body.base64);
    const headerLength = headers[HEADER_LENGTH_HEADER];
    // A base64 body without the header length is JSON kept as bytes (numbers a float64 would not hold).
    const parts = splitBinaryBody(bytes, headerLength === undefined ? bytes.byteLength : Number(headerLength));
    header = parseJson(parts.headerText);
    rest = parts.rest;
  }
  if (typeof header !== 'object' || header === null || !Array.isArray((header as Record<string, unknown>)[key])) {
    throw new TypeError(`the body has no "${key}" array`);
  }
  let offset = 0;
  const tensors = ((header as Record<string, unknown>)[key] as unknown[]).map((entry, index) => {
    const tensor = checkEntry(entry, `${key}[${index}]`);
    const size = tensor.parameters?.binary_data_size;
    if (size === undefined) return decodeEntry(tensor);
    if (!Number.isInteger(size) || offset + (size as number) > rest.byteLength) {
      throw new TypeError(
        `${key} '${tensor.name}': binary_data_size ${size} at offset ${offset} overruns the ${rest.byteLength} binary bytes`,
      );
    }
    const bytes = rest.subarray(offset, offset + (size as number));
    offset += size as number;
    return decodeEntry(tensor, bytes);
  });
  return { header: header as Record<string, unknown>, tensors };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TypeError(`the body is not JSON: ${(error as Error).message}`);
  }
}

function checkEntry(entry: unknown, where: string): ResponseOutput {
  const fields = entry as Record<string, unknown> | null;
  if (typeof fields !== 'object' || fields === null || typeof fields.name !== 'string') throw new TypeError(`${where} has no name`);
  if (typeof fields.datatype !== 'string' || !DATATYPES.includes(fields.datatype)) {
    throw new TypeError(`${where} '${fields.name}' has datatype ${JSON.stringify(fields.datatype)}, not one of ${DATATYPES.join(', ')}`);
  }
  if (!Array.isArray(fields.shape) || !fields.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new TypeError(`${where} '${fields.name}' has no shape of non-negative integers`);
  }
  return fields as unknown as ResponseOutput;
}

function decodeEntry(entry: ResponseOutput, bytes?: Uint8Array): NamedTensor {
  const datatype = entry.datatype as Datatype;
  const count = elementCount(entry.shape);
  const data = datatype === 'BYTES' ? bytesElements(entry, bytes, count) : fromResponseOutput(entry, bytes).data;
  if (data.length !== count) throw new TypeError(`'${entry.name}' has ${data.length} elements; its shape [${entry.shape}] needs ${count}`);
  return { name: entry.name, datatype, shape: [...entry.shape], data: data as NamedTensor['data'] };
}

/** BYTES elements as bytes: from the binary data, or each JSON string as UTF-8. */
function bytesElements(entry: ResponseOutput, bytes: Uint8Array | undefined, count: number): Uint8Array[] {
  if (bytes) return fromBytes('BYTES', bytes, count) as Uint8Array[];
  const values = ((entry.data ?? []) as unknown[]).flat(Infinity);
  const encoder = new TextEncoder();
  return values.map((value) => encoder.encode(typeof value === 'string' ? value : JSON.stringify(value)));
}
