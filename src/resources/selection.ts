import { randomId } from '../core/ids';
import { APIResource } from '../core/resource';
import type { RequestOptions } from '../core/transport';
import type { Selection, SelectionParams } from '../types';

/** Model selection: which version serves a task best under constraints, from figures measured now. */
export class ModelSelection extends APIResource {
  /**
   * `POST /v1/models:select`. Always answers with every candidate's figures and checks; when
   * nothing meets the constraints `chosen` is null and each candidate's `excluded_by` says why.
   * Retried safely: the idempotency key makes a retry get the first answer.
   */
  select(params: SelectionParams, options: RequestOptions = {}): Promise<Selection> {
    return this.transport.json({
      method: 'POST',
      path: 'v1/models:select',
      json: params,
      ...options,
      idempotencyKey: options?.idempotencyKey ?? randomId(),
    });
  }
}
