import { HEADER_LENGTH_HEADER, encodeBinaryBody } from '../core/binary';
import { randomId } from '../core/ids';
import { APIResource } from '../core/resource';
import type { RequestOptions } from '../core/transport';
import { encodeInferRequest, toRequestInput, type Tensor, type TensorLike } from '../core/tensors';
import { InvalidInputError, ModelportError } from '../errors';
import type { InferenceRequest, ModelMetadata } from '../types';
import { decodeInferResponse, inferPath } from './inference';
import { modelPath } from './models';

export interface PredictOptions extends RequestOptions {
  /** A version number or alias; default: what the server resolves (`production`, else newest). */
  version?: string | number | undefined;
  /** Only these outputs (default: all). */
  outputs?: string[] | undefined;
  /** Send inputs and receive outputs with the binary tensor extension (smaller, faster). */
  binary?: boolean | undefined;
  /** For classifiers: how many classes to return per row in `classes` (default 1). */
  topK?: number | undefined;
}

export interface ClassScore {
  index: number;
  label: string;
  score: number;
}

export interface Prediction {
  model: string;
  version: string | undefined;
  /** Every returned output, by name. */
  outputs: Record<string, Tensor>;
  /** The first returned output (most models have one). */
  output: Tensor;
  /**
   * Classifiers: the top class label of each row. Present when the model's metadata has
   * `labels` and its first output is `[rows, classes]` floats; `client.classify` promises it.
   */
  labels?: string[];
  /** Classifiers: the top `topK` classes of each row, best first (present with `labels`). */
  classes?: ClassScore[][];
}

/** What `client.classify` returns: a prediction whose `labels` and `classes` are always there. */
export interface Classification extends Prediction {
  /** The top class label of each row. */
  labels: string[];
  /** The top `topK` classes of each row, best first. */
  classes: ClassScore[][];
}

/** The high-level predict: user-shaped tensors in, decoded tensors (and classes) out. */
export class Predictions extends APIResource {
  private readonly metadataCache = new Map<string, Promise<ModelMetadata>>();

  async predict(
    model: string,
    inputs: TensorLike | Record<string, TensorLike>,
    options: PredictOptions = {},
    classify = false,
  ): Promise<Prediction> {
    const { version, outputs: outputNames, binary = false, topK = 1, ...callOptions } = options;
    // Every request of this call (the metadata GET, the infer POST) is named as the user's call in errors.
    const call = `client.${classify ? 'classify' : 'predict'}('${model}')`;
    const requestOptions = { ...callOptions, call };
    const metadata = await this.metadata(model, version, requestOptions);
    if (classify && !metadata.labels?.length) throw notAClassifier(model, 'its metadata has no labels');
    const named = isNamedInputs(inputs) ? inputs : { [soleInputName(metadata, call)]: inputs };

    const encoded = Object.entries(named).map(([name, value]) =>
      buildInput(
        call,
        name,
        value,
        metadata.inputs.find((spec) => spec.name === name),
        binary,
      ),
    );
    const request: InferenceRequest = {
      inputs: encoded.map((e) => e.input),
      ...(outputNames ? { outputs: outputNames.map((name) => ({ name, ...(binary ? { parameters: { binary_data: true } } : {}) })) } : {}),
      ...(binary && !outputNames ? { parameters: { binary_data_output: true } } : {}),
    };
    const response = binary
      ? await this.sendBinary(
          model,
          version,
          request,
          encoded.map((e) => e.bytes!),
          requestOptions,
        )
      : await this.transport.send({
          method: 'POST',
          path: inferPath(model, version),
          // Typed arrays are written straight to JSON text (no number array, no generic stringify).
          body: encodeInferRequest(
            request,
            encoded.map((e) => e.dataJson),
          ),
          ...requestOptions,
          idempotencyKey: requestOptions.idempotencyKey ?? randomId(),
          headers: { 'content-type': 'application/json', ...requestOptions.headers },
        });
    const decoded = await decodeInferResponse(response, call);
    const outputs = Object.fromEntries(decoded.outputs.map((t) => [t.name, t]));
    const prediction: Prediction = {
      model: decoded.model_name ?? model,
      version: decoded.model_version,
      outputs,
      output: decoded.outputs[0]!,
    };
    if (metadata.labels && prediction.output?.shape.length === 2 && prediction.output.datatype.startsWith('FP')) {
      prediction.classes = topClasses(prediction.output, metadata.labels, topK);
      prediction.labels = prediction.classes.map((row) => row[0]!.label);
    } else if (classify) {
      throw notAClassifier(model, `its output '${prediction.output?.name}' is not [rows, classes] floats`);
    }
    return prediction;
  }

  /** Metadata is fetched once per model and version, then reused. */
  private metadata(
    model: string,
    version: string | number | undefined,
    options: RequestOptions & { call: string },
  ): Promise<ModelMetadata> {
    const key = `${model}\u0000${version ?? ''}`;
    let cached = this.metadataCache.get(key);
    if (!cached) {
      cached = this.transport.json<ModelMetadata>({ method: 'GET', path: modelPath(model, version), ...options });
      cached.catch(() => this.metadataCache.delete(key));
      this.metadataCache.set(key, cached);
    }
    return cached;
  }

  private sendBinary(
    model: string,
    version: string | number | undefined,
    request: InferenceRequest,
    chunks: Uint8Array[],
    options: RequestOptions & { call: string },
  ) {
    const { body, headerLength } = encodeBinaryBody(request, chunks);
    return this.transport.send({
      method: 'POST',
      path: inferPath(model, version),
      body,
      ...options,
      idempotencyKey: options.idempotencyKey ?? randomId(),
      headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH_HEADER]: String(headerLength), ...options.headers },
    });
  }
}

function notAClassifier(model: string, why: string): ModelportError {
  return new ModelportError(`model '${model}' is not a classifier: ${why}; use predict`);
}

function isNamedInputs(inputs: TensorLike | Record<string, TensorLike>): inputs is Record<string, TensorLike> {
  return typeof inputs === 'object' && !Array.isArray(inputs) && !ArrayBuffer.isView(inputs) && !('data' in inputs && 'shape' in inputs);
}

function soleInputName(metadata: ModelMetadata, call: string): string {
  if (metadata.inputs.length !== 1) {
    throw new InvalidInputError(
      `${call}: the model has ${metadata.inputs.length} inputs (${metadata.inputs.map((i) => i.name).join(', ')}); pass them by name`,
    );
  }
  return metadata.inputs[0]!.name;
}

/**
 * `toRequestInput`, with its refusals of the data (a length that does not match the shape,
 * values that fit no shape: RangeErrors) as InvalidInputErrors naming the call and the input.
 */
function buildInput(call: string, ...args: Parameters<typeof toRequestInput>): ReturnType<typeof toRequestInput> {
  try {
    return toRequestInput(...args);
  } catch (error) {
    if (error instanceof ModelportError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidInputError(`${call}: ${reason}`, args[0], { cause: error });
  }
}

function topClasses(output: Tensor, labels: string[], k: number): ClassScore[][] {
  const [rows = 0, classes = 0] = output.shape;
  const scores = output.data as Float32Array;
  const result: ClassScore[][] = [];
  for (let r = 0; r < rows; r++) {
    const row = Array.from({ length: classes }, (_, index) => ({
      index,
      label: labels[index] ?? String(index),
      score: scores[r * classes + index]!,
    }));
    row.sort((a, b) => b.score - a.score);
    result.push(row.slice(0, Math.max(1, k)));
  }
  return result;
}
