import { APIResource } from '../core/resource';
import type { RequestOptions } from '../core/transport';
import type { ModelMetadata, ModelReadyResponse } from '../types';

export interface ModelVersionOptions extends RequestOptions {
  version?: string | number;
}

/** Models: OIP metadata and readiness. */
export class Models extends APIResource {
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
