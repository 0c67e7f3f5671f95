import { randomId } from '../core/ids';
import { PagePromise, type ListParams } from '../core/pagination';
import { path } from '../core/path';
import { APIResource } from '../core/resource';
import type { RequestOptions } from '../core/transport';
import type { ApiKey, ApiKeyCreateParams, ApiKeyCreated, Usage } from '../types';

/** API keys (admin): create (the secret is returned once), list, revoke; and usage metering. */
export class ApiKeys extends APIResource {
  create(params: ApiKeyCreateParams, options: RequestOptions = {}): Promise<ApiKeyCreated> {
    return this.transport.json({
      method: 'POST',
      path: 'v1/api-keys',
      json: params,
      ...options,
      idempotencyKey: options?.idempotencyKey ?? randomId(),
    });
  }

  list(params: ListParams<'listApiKeys'> = {}, options?: RequestOptions): PagePromise<ApiKey> {
    return new PagePromise((after) => this.transport.json({ method: 'GET', path: 'v1/api-keys', query: { ...params, after }, ...options }));
  }

  /** Revokes a key by id; it is refused from the next request on. */
  async revoke(id: string, options?: RequestOptions): Promise<void> {
    await this.transport.send({ method: 'DELETE', path: path`v1/api-keys/${id}`, ...options });
  }

  /** Requests, errors and compute milliseconds per key and per model in a window (default the last hour). */
  usage(params: { from?: string | Date | undefined; to?: string | Date | undefined } = {}, options?: RequestOptions): Promise<Usage> {
    const iso = (d: string | Date | undefined) => (d instanceof Date ? d.toISOString() : d);
    return this.transport.json({ method: 'GET', path: 'v1/usage', query: { from: iso(params.from), to: iso(params.to) }, ...options });
  }
}
