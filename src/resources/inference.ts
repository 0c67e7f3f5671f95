import { HEADER_LENGTH_HEADER, encodeBinaryBody, splitBinaryBody } from '../core/binary';
import { randomId } from '../core/ids';
import { path } from '../core/path';
import { APIResource } from '../core/resource';
import type { RequestOptions } from '../core/transport';
import { fromResponseOutput, type Tensor } from '../core/tensors';
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
    return decodeInferResponse(response);
  }
}

export async function decodeInferResponse(response: Response): Promise<DecodedInferenceResponse> {
  const headerLength = response.headers.get(HEADER_LENGTH_HEADER);
  if (headerLength === null) {
    const json = (await response.json()) as InferenceResponse;
    return { ...json, outputs: json.outputs.map((o) => fromResponseOutput(o)) };
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  const { headerText, rest } = splitBinaryBody(bytes, Number(headerLength));
  const header = JSON.parse(headerText) as InferenceResponse;
  let offset = 0;
  const outputs = header.outputs.map((output) => {
    const size = output.parameters?.binary_data_size as number | undefined;
    if (size === undefined) return fromResponseOutput(output);
    const tensor = fromResponseOutput(output, rest.subarray(offset, offset + size));
    offset += size;
    return tensor;
  });
  return { ...header, outputs };
}

export function inferPath(model: string, version: string | number | undefined): string {
  return version === undefined ? path`v2/models/${model}/infer` : path`v2/models/${model}/versions/${version}/infer`;
}
