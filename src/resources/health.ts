import { APIResource } from '../core/resource';
import type { RequestOptions } from '../core/transport';
import type { LiveResponse, ReadyResponse } from '../types';

/** OIP health probes. */
export class Health extends APIResource {
  /** `GET /v2/health/live`. */
  live(options?: RequestOptions): Promise<LiveResponse> {
    return this.transport.json({ method: 'GET', path: 'v2/health/live', ...options });
  }

  /** `GET /v2/health/ready`; a server still loading models answers 503 (ServiceUnavailableError). */
  ready(options?: RequestOptions): Promise<ReadyResponse> {
    return this.transport.json({ method: 'GET', path: 'v2/health/ready', ...options });
  }
}
