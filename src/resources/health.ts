import { NOT_READY_STATUSES, probeAnswer } from '../core/probe';
import { APIResource } from '../core/resource';
import type { RequestOptions } from '../core/transport';
import type { LiveResponse, ReadyResponse } from '../types';

/**
 * OIP health probes. The status is the answer (../core/probe.ts): 200 with an empty body
 * (Triton, the OIP spec) or JSON (modelport) is `true`; 400 (Triton) or 503 (a server still
 * loading) is `false`, not an error. Other failures (401, no connection, ...) still throw.
 */
export class Health extends APIResource {
  /** `GET /v2/health/live`: `{ live: true }`, or `{ live: false }` on 400 or 503. */
  async live(options?: RequestOptions): Promise<LiveResponse> {
    const response = await this.transport.send({ method: 'GET', path: 'v2/health/live', ...options, answerStatuses: NOT_READY_STATUSES });
    return probeAnswer<'live', LiveResponse>(response, 'live', {});
  }

  /** `GET /v2/health/ready`: `{ ready: true }`, or `{ ready: false }` on 400 or 503 (modelport still loading its models). */
  async ready(options?: RequestOptions): Promise<ReadyResponse> {
    const response = await this.transport.send({ method: 'GET', path: 'v2/health/ready', ...options, answerStatuses: NOT_READY_STATUSES });
    return probeAnswer<'ready', ReadyResponse>(response, 'ready', {});
  }
}
