import { PagePromise } from '../core/pagination';
import { NOT_READY_STATUSES, probeAnswer } from '../core/probe';
import { path } from '../core/path';
import { APIResource } from '../core/resource';
import { randomId } from '../core/ids';
import { readBody, type RequestOptions, type Transport } from '../core/transport';
import type {
  ExplainRequest,
  Explanation,
  ExportFormat,
  Model,
  ModelCreateParams,
  ModelListParams,
  ModelMetadata,
  ModelReadyResponse,
  ModelUpdateParams,
} from '../types';
import { UnexpectedResponseError } from '../errors';
import { Aliases } from './aliases';
import { Versions } from './versions';

export interface ModelVersionOptions extends RequestOptions {
  version?: string | number | undefined;
}

export interface ExplainOptions extends RequestOptions {
  version?: string | number | undefined;
  /** The class to explain; default the predicted one. */
  target?: number | undefined;
  methods?: ExplainRequest['methods'] | undefined;
  /** `zeros` (default), one number for every element, or a full tensor. */
  baseline?: 'zeros' | number | ArrayLike<number> | undefined;
  /** Integrated-gradients steps (default 64). */
  steps?: number | undefined;
  output?: string | undefined;
}

export interface AttributionTensor {
  shape: number[];
  data: Float32Array;
}

export interface DecodedExplanation extends Omit<Explanation, 'attributions'> {
  attributions: { integrated_gradients?: AttributionTensor; gradients?: AttributionTensor };
}

export interface ExportOptions extends RequestOptions {
  /** The server the repository is for. */
  format: ExportFormat;
  /** `kserve` only, and required there: where the repository will be copied (KServe's `storageUri`, e.g. `s3://bucket/models/iris`). */
  storageUri?: string | undefined;
}

/** Models: the registry (`/v1`) and OIP metadata and readiness (`/v2`). */
export class Models extends APIResource {
  readonly versions: Versions;
  readonly aliases: Aliases;

  constructor(transport: Transport) {
    super(transport);
    this.versions = new Versions(transport);
    this.aliases = new Aliases(transport);
  }

  /** Registers a model. Retried safely: an idempotency key is sent automatically. */
  create(params: ModelCreateParams, options: RequestOptions = {}): Promise<Model> {
    return this.transport.json({
      method: 'POST',
      path: 'v1/models',
      json: params,
      ...options,
      idempotencyKey: options?.idempotencyKey ?? randomId(),
    });
  }

  get(model: string, options?: RequestOptions): Promise<Model> {
    return this.transport.json({ method: 'GET', path: path`v1/models/${model}`, ...options });
  }

  /** One page (`await`), or every model (`for await`). */
  list(params: ModelListParams = {}, options?: RequestOptions): PagePromise<Model> {
    return new PagePromise((after) => this.transport.json({ method: 'GET', path: 'v1/models', query: { ...params, after }, ...options }));
  }

  update(model: string, params: ModelUpdateParams, options?: RequestOptions): Promise<Model> {
    return this.transport.json({ method: 'PATCH', path: path`v1/models/${model}`, json: params, ...options });
  }

  /** Deletes the model, its versions and aliases. */
  async delete(model: string, options?: RequestOptions): Promise<void> {
    await this.transport.send({ method: 'DELETE', path: path`v1/models/${model}`, ...options });
  }

  /**
   * Attributions of one prediction to the input elements (integrated gradients and gradients),
   * for the predicted class or `target`. Attributions come back as Float32Arrays with their shape.
   */
  async explain(
    model: string,
    input: { data: ArrayLike<number>; shape: number[]; name?: string | undefined },
    options: ExplainOptions = {},
  ): Promise<DecodedExplanation> {
    const { version, target, methods, baseline, steps, output, ...options_ } = options;
    // The metadata GET and the explain POST are named as the user's call in errors.
    const rest = { ...options_, call: `client.models.explain('${model}')` };
    const name =
      input.name ?? (await this.transport.json<ModelMetadata>({ method: 'GET', path: modelPath(model, version), ...rest })).inputs[0]!.name;
    const request: ExplainRequest = {
      inputs: [{ name, shape: input.shape, datatype: 'FP32', data: Array.from(input.data) }],
      ...(version !== undefined ? { version: String(version) } : {}),
      ...(target !== undefined ? { target } : {}),
      ...(methods ? { methods } : {}),
      ...(baseline !== undefined ? { baseline: typeof baseline === 'object' ? Array.from(baseline) : baseline } : {}),
      ...(steps !== undefined ? { steps } : {}),
      ...(output !== undefined ? { output } : {}),
    };
    const explanation = await this.transport.json<Explanation>({
      method: 'POST',
      path: path`v1/models/${model}/explain`,
      json: request,
      ...rest,
      idempotencyKey: rest.idempotencyKey ?? randomId(),
    });
    if (typeof explanation?.attributions !== 'object' || explanation.attributions === null) {
      throw new UnexpectedResponseError(`${rest.call}: the server's response has no \`attributions\``, { status: 200, body: explanation });
    }
    const decode = (t: { shape: number[]; data: number[] }): AttributionTensor => ({ shape: t.shape, data: Float32Array.from(t.data) });
    return {
      ...explanation,
      attributions: {
        ...(explanation.attributions.integrated_gradients
          ? { integrated_gradients: decode(explanation.attributions.integrated_gradients) }
          : {}),
        ...(explanation.attributions.gradients ? { gradients: decode(explanation.attributions.gradients) } : {}),
      },
    };
  }

  /**
   * A version, or every version an alias points at, as a model repository for Triton, TF Serving
   * or KServe: the bytes of a tar.gz (its layout: the `exportModel` operation of openapi.yaml). A
   * version that cannot be converted to a TensorFlow SavedModel is a BadRequestError of status 422
   * (`not_exportable`) naming the layer or op.
   */
  async export(model: string, versionOrAlias: string | number, options: ExportOptions): Promise<Uint8Array> {
    const { format, storageUri, ...rest } = options;
    const response = await this.transport.send({
      method: 'GET',
      path: path`v1/models/${model}/versions/${versionOrAlias}/export`,
      query: { format, storage_uri: storageUri },
      ...rest,
    });
    return new Uint8Array(await readBody(response, (r) => r.arrayBuffer()));
  }

  /** `GET /v2/models/{model}[/versions/{version}]`: inputs, outputs, platform, versions, task, labels. */
  metadata(model: string, options: ModelVersionOptions = {}): Promise<ModelMetadata> {
    const { version, ...rest } = options;
    return this.transport.json({ method: 'GET', path: modelPath(model, version), ...rest });
  }

  /**
   * `GET /v2/models/{model}[/versions/{version}]/ready`: `{ name, ready }`. An empty 200 (Triton)
   * is ready; 400 (Triton's "Model version not ready") or 503 is `ready: false`, not an error.
   * An unknown model is still a NotFoundError where the server answers 404 (modelport, KServe).
   */
  async ready(model: string, options: ModelVersionOptions = {}): Promise<ModelReadyResponse> {
    const { version, ...rest } = options;
    const response = await this.transport.send({
      method: 'GET',
      path: `${modelPath(model, version)}/ready`,
      ...rest,
      answerStatuses: NOT_READY_STATUSES,
    });
    return probeAnswer<'ready', ModelReadyResponse>(response, 'ready', { name: model });
  }
}

/** `v2/models/{model}`, or `v2/models/{model}/versions/{version}` when a version is given. */
export function modelPath(model: string, version: string | number | undefined): string {
  return version === undefined ? path`v2/models/${model}` : path`v2/models/${model}/versions/${version}`;
}
