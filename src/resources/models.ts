import { PagePromise } from '../core/pagination';
import { APIResource } from '../core/resource';
import { randomId } from '../core/ids';
import type { RequestOptions, Transport } from '../core/transport';
import type { Model, ModelCreateParams, ModelMetadata, ModelReadyResponse, ModelStatus, ModelUpdateParams } from '../types';
import { Aliases } from './aliases';
import { Versions } from './versions';

export interface ModelVersionOptions extends RequestOptions {
  version?: string | number;
}

export interface ModelListParams {
  task?: string;
  tag?: string;
  status?: ModelStatus;
  /** Page size (1-100, default 20). */
  limit?: number;
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
    return this.transport.json({ method: 'POST', path: 'v1/models', json: params, idempotencyKey: randomId(), ...options });
  }

  get(model: string, options?: RequestOptions): Promise<Model> {
    return this.transport.json({ method: 'GET', path: `v1/models/${encodeURIComponent(model)}`, ...options });
  }

  /** One page (`await`), or every model (`for await`). */
  list(params: ModelListParams = {}, options?: RequestOptions): PagePromise<Model> {
    return new PagePromise((after) =>
      this.transport.json({ method: 'GET', path: 'v1/models', query: { ...params, after }, ...options }));
  }

  update(model: string, params: ModelUpdateParams, options?: RequestOptions): Promise<Model> {
    return this.transport.json({ method: 'PATCH', path: `v1/models/${encodeURIComponent(model)}`, json: params, ...options });
  }

  /** Deletes the model, its versions and aliases. */
  async delete(model: string, options?: RequestOptions): Promise<void> {
    await this.transport.send({ method: 'DELETE', path: `v1/models/${encodeURIComponent(model)}`, ...options });
  }

  /** `GET /v2/models/{model}[/versions/{version}]`: inputs, outputs, platform, versions, task, labels. */
  metadata(model: string, options: ModelVersionOptions = {}): Promise<ModelMetadata> {
    const { version, ...rest } = options;
    return this.transport.json({ method: 'GET', path: modelPath(model, version), ...rest });
  }

  /** `GET /v2/models/{model}[/versions/{version}]/ready`. */
  ready(model: string, options: ModelVersionOptions = {}): Promise<ModelReadyResponse> {
    const { version, ...rest } = options;
    return this.transport.json({ method: 'GET', path: `${modelPath(model, version)}/ready`, ...rest });
  }
}

function modelPath(model: string, version: string | number | undefined): string {
  const base = `v2/models/${encodeURIComponent(model)}`;
  return version === undefined ? base : `${base}/versions/${encodeURIComponent(String(version))}`;
}
