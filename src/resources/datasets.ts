import { randomId } from '../core/ids';
import { PagePromise, type ListParams } from '../core/pagination';
import { path } from '../core/path';
import { APIResource } from '../core/resource';
import type { RequestOptions } from '../core/transport';
import type { Dataset } from '../types';

/** One labelled sample: its tensor's elements (flat, row-major) and its class name. */
export interface DatasetRecord {
  tensor: ArrayLike<number>;
  /** A class name; an integer is read as its decimal text (`7` and `'7'` are one class). */
  label: string | number;
}

/** What to upload: records (sent as JSON lines), or a CSV or JSON lines body as it is. */
export type DatasetSource =
  | { records: Iterable<DatasetRecord> }
  | { csv: string | Blob | Uint8Array }
  | { jsonl: string | Blob | Uint8Array };

export interface DatasetCreateParams {
  name: string;
  /** The class names in class order; records must use them. Default: the distinct labels of the records. */
  labels?: string[] | undefined;
  /** The shape of one sample, e.g. `[28, 28, 1]`; default `[width]`. */
  shape?: number[] | undefined;
  task?: string | undefined;
  description?: string | undefined;
}

/** Labelled datasets to evaluate models on: the built-in held-out splits and your own. */
export class Datasets extends APIResource {
  /**
   * Uploads a dataset: `records`, or a `csv` / `jsonl` body in the formats openapi.yaml
   * (`createDataset`) describes. Retried safely: an idempotency key is sent automatically.
   */
  create(params: DatasetCreateParams & DatasetSource, options: RequestOptions = {}): Promise<Dataset> {
    const { name, labels, shape, task, description } = params;
    const [body, contentType] =
      'csv' in params
        ? [params.csv, 'text/csv']
        : 'jsonl' in params
          ? [params.jsonl, 'application/x-ndjson']
          : [toJsonLines(params.records), 'application/x-ndjson'];
    return this.transport.json({
      method: 'POST',
      path: 'v1/datasets',
      query: { name, labels: labels?.join(','), shape: shape?.join(','), task, description },
      body,
      ...options,
      idempotencyKey: options.idempotencyKey ?? randomId(),
      headers: { 'content-type': contentType, ...options.headers },
    });
  }

  get(name: string, options?: RequestOptions): Promise<Dataset> {
    return this.transport.json({ method: 'GET', path: path`v1/datasets/${name}`, ...options });
  }

  /** One page (`await`), or every dataset (`for await`), by name. */
  list(params: ListParams<'listDatasets'> = {}, options?: RequestOptions): PagePromise<Dataset> {
    return new PagePromise((after) => this.transport.json({ method: 'GET', path: 'v1/datasets', query: { ...params, after }, ...options }));
  }

  /** Deletes an uploaded dataset; built-in ones are read-only (ConflictError). */
  async delete(name: string, options?: RequestOptions): Promise<void> {
    await this.transport.send({ method: 'DELETE', path: path`v1/datasets/${name}`, ...options });
  }
}

function toJsonLines(records: Iterable<DatasetRecord>): string {
  let text = '';
  for (const record of records) text += `${JSON.stringify({ tensor: Array.from(record.tensor), label: record.label })}\n`;
  return text;
}
