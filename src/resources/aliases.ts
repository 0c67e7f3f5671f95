import { path } from '../core/path';
import { APIResource } from '../core/resource';
import type { RequestOptions } from '../core/transport';
import type { Alias, AliasTarget } from '../types';

/** Aliases: names (`production`, `staging`, …) that point at a version or at weighted versions. */
export class Aliases extends APIResource {
  list(model: string, options?: RequestOptions): Promise<{ data: Alias[] }> {
    return this.transport.json({ method: 'GET', path: path`v1/models/${model}/aliases`, ...options });
  }

  /**
   * Points `alias` at one version (`set('digits', 'production', 2)`) or at weighted versions for
   * a canary (`set('digits', 'production', [{ version: 1, weight: 90 }, { version: 2, weight: 10 }])`).
   */
  set(model: string, alias: string, target: number | AliasTarget[], options?: RequestOptions): Promise<Alias> {
    const json = typeof target === 'number' ? { version: target } : { targets: target };
    return this.transport.json({ method: 'PUT', path: path`v1/models/${model}/aliases/${alias}`, json, ...options });
  }

  async delete(model: string, alias: string, options?: RequestOptions): Promise<void> {
    await this.transport.send({ method: 'DELETE', path: path`v1/models/${model}/aliases/${alias}`, ...options });
  }
}
