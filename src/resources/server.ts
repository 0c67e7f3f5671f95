import { APIResource } from '../core/resource';
import type { RequestOptions } from '../core/transport';
import type { ServerMetadata } from '../types';

/** OIP server metadata. */
export class Server extends APIResource {
  /** `GET /v2`: name, version, extensions and the TensorFlow runtime in use. */
  metadata(options?: RequestOptions): Promise<ServerMetadata> {
    return this.transport.json({ method: 'GET', path: 'v2', ...options });
  }
}
