import { DATATYPE_SIZE, HEADER_LENGTH_HEADER, encodeBinaryBody, splitBinaryBody } from '../core/binary';
import { randomId } from '../core/ids';
import { path } from '../core/path';
import { APIResource } from '../core/resource';
import { parseJsonBody, readBody, type RequestOptions } from '../core/transport';
import { fromResponseOutput, type Tensor } from '../core/tensors';
import { ModelportError, UnexpectedResponseError } from '../errors';
import type { InferenceRequest, InferenceResponse } from '../types';

export interface InferOptions extends RequestOptions {
  /** A version number or alias; default: what the server resolves (`production`, else newest). */
  version?: string | number | undefined;
}

export interface BinaryInput {
  /** Bytes of inputs whose `parameters.binary_data_size` is set, in the order of those inputs. */
  binaryInputs: Uint8Array[];
}

/** A response whose outputs are decoded tensors, whether they came as JSON or binary. */
export interface DecodedInferenceResponse extends Omit<InferenceResponse, 'outputs'> {
  outputs: Tensor[];
}

/** The Open Inference Protocol infer call, as KServe and Triton also serve it. */
export class Inference extends APIResource {
  /** `POST /v2/models/{model}[/versions/{version}]/infer` with a JSON body; the raw OIP response. */
  infer(model: string, request: InferenceRequest, options: InferOptions = {}): Promise<InferenceResponse> {
    const { version, ...rest } = options;
    // Inference has no side effects, so it is always safe to retry: the key lets the transport do so.
    return this.transport.json({
      method: 'POST',
      path: inferPath(model, version),
      json: request,
      ...rest,
      idempotencyKey: rest.idempotencyKey ?? randomId(),
    });
  }

  /**
   * Infer with the binary tensor extension: inputs with `parameters.binary_data_size` send their
   * bytes after the JSON header; outputs asked for with `binary_data` come back as bytes. Returns
   * every output decoded.
   */
  async inferBinary(model: string, request: InferenceRequest, options: InferOptions & BinaryInput): Promise<DecodedInferenceResponse> {
    const { version, binaryInputs, ...rest } = options;
    const { body, headerLength } = encodeBinaryBody(request, binaryInputs);
    const response = await this.transport.send({
      method: 'POST',
      path: inferPath(model, version),
      body,
      ...rest,
      idempotencyKey: rest.idempotencyKey ?? randomId(),
      headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH_HEADER]: String(headerLength), ...rest.headers },
    });
    return decodeInferResponse(response, `client.inference.inferBinary('${model}')`);
  }
}

/** The datatypes this SDK decodes (openapi.yaml's `Datatype`); a function, so importing the SDK runs nothing. */
const knownDatatypes = (): string[] => [...Object.keys(DATATYPE_SIZE), 'BYTES'];

/**
 * Decodes an infer response, JSON or binary. What cannot be decoded (a body that is not JSON, no
 * `outputs`, a datatype this SDK does not know, binary parts that do not add up) is an
 * UnexpectedResponseError naming `call` and the output, never `data: undefined` or a RangeError.
 */
export async function decodeInferResponse(response: Response, call: string): Promise<DecodedInferenceResponse> {
  const unexpected = (why: string, cause?: unknown) =>
    new UnexpectedResponseError(`${call}: the server's ${response.status} response ${why}`, {
      status: response.status,
      headers: response.headers,
      requestId: response.headers.get('x-request-id') ?? undefined,
      cause,
    });
  const headerLength = response.headers.get(HEADER_LENGTH_HEADER);
  let header: InferenceResponse;
  let rest: Uint8Array = new Uint8Array(0);
  if (headerLength === null) {
    header = await parseJsonBody<InferenceResponse>(response);
  } else {
    const bytes = new Uint8Array(await readBody(response, (r) => r.arrayBuffer()));
    try {
      const parts = splitBinaryBody(bytes, Number(headerLength));
      rest = parts.rest;
      header = JSON.parse(parts.headerText) as InferenceResponse;
    } catch (error) {
      throw unexpected(`has a binary body whose JSON header cannot be read: ${(error as Error).message}`, error);
    }
  }
  if (!header || !Array.isArray(header.outputs)) throw unexpected('has no `outputs` array');
  let offset = 0;
  const outputs = header.outputs.map((output) => {
    if (!knownDatatypes().includes(output.datatype)) {
      throw unexpected(
        `has output '${output.name}' of datatype '${output.datatype}', which this SDK does not know (${knownDatatypes().join(', ')})`,
      );
    }
    const size = output.parameters?.binary_data_size as number | undefined;
    try {
      if (size === undefined) return fromResponseOutput(output);
      if (offset + size > rest.byteLength)
        throw new RangeError(`${size} bytes at offset ${offset} overrun the ${rest.byteLength} bytes after the header`);
      const tensor = fromResponseOutput(output, rest.subarray(offset, offset + size));
      offset += size;
      return tensor;
    } catch (error) {
      if (error instanceof ModelportError) throw error;
      throw unexpected(`has output '${output.name}' that cannot be decoded: ${(error as Error).message}`, error);
    }
  });
  return { ...header, outputs };
}

export function inferPath(model: string, version: string | number | undefined): string {
  return version === undefined ? path`v2/models/${model}/infer` : path`v2/models/${model}/versions/${version}/infer`;
}
