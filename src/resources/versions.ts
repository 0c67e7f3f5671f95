import { PagePromise } from '../core/pagination';
import { APIResource } from '../core/resource';
import { randomId } from '../core/ids';
import type { RequestOptions } from '../core/transport';
import type { ModelVersion, VersionUploadMetadata } from '../types';

export interface UploadProgress {
  /** 0 to 1. */
  percent: number;
  transferredBytes: number;
  totalBytes: number;
}

/** What to upload: a folder (Node), named files (Node or browser), or one archive. */
export type VersionSource =
  | { directory: string }
  | { files: (File | { name: string; data: Blob | Uint8Array })[] }
  | { archive: Blob | Uint8Array; format: 'zip' | 'tar.gz' | 'tar' };

export interface UploadOptions extends RequestOptions {
  /** Recorded on the version (e.g. held-out metrics), plus SavedModel `signature` and `tags`. */
  metadata?: VersionUploadMetadata;
  onProgress?: (progress: UploadProgress) => void;
}

const ARCHIVE_TYPES = { zip: 'application/zip', 'tar.gz': 'application/gzip', tar: 'application/x-tar' } as const;

/** Versions of a model: upload, list, get, delete, load and unload. */
export class Versions extends APIResource {
  /**
   * Uploads the model's next version: a TF.js model (model.json + shards) or a TensorFlow
   * SavedModel folder. The server checks it loads before accepting it; it serves at once.
   */
  async upload(model: string, source: VersionSource, options: UploadOptions = {}): Promise<ModelVersion> {
    const { metadata, onProgress, ...rest } = options;
    let body: BodyInit;
    const headers: Record<string, string> = {};
    if ('archive' in source) {
      body = source.archive as BodyInit;
      headers['content-type'] = ARCHIVE_TYPES[source.format];
    } else {
      const form = new FormData();
      const files = 'directory' in source ? await readDirectory(source.directory) : source.files;
      for (const file of files) {
        const blob = file instanceof Blob ? file : file.data instanceof Blob ? file.data : new Blob([file.data as Uint8Array<ArrayBuffer>]);
        form.append('files', blob, file.name);
      }
      if (metadata) form.append('metadata', JSON.stringify(metadata));
      body = form;
    }
    return this.transport.json({
      method: 'POST',
      path: `${versionsPath(model)}`,
      body,
      idempotencyKey: randomId(),
      ...rest,
      headers: { ...headers, ...rest.headers },
      ...(onProgress ? { onUploadProgress: (p: UploadProgress) => onProgress({ percent: p.percent, transferredBytes: p.transferredBytes, totalBytes: p.totalBytes }) } : {}),
    });
  }

  get(model: string, version: number, options?: RequestOptions): Promise<ModelVersion> {
    return this.transport.json({ method: 'GET', path: `${versionsPath(model)}/${version}`, ...options });
  }

  /** One page (`await`), or every version (`for await`), oldest first. */
  list(model: string, params: { limit?: number } = {}, options?: RequestOptions): PagePromise<ModelVersion> {
    return new PagePromise((after) => this.transport.json({ method: 'GET', path: versionsPath(model), query: { ...params, after }, ...options }));
  }

  /** Deletes a version; a version an alias points at is a ConflictError (move the alias first). */
  async delete(model: string, version: number, options?: RequestOptions): Promise<void> {
    await this.transport.send({ method: 'DELETE', path: `${versionsPath(model)}/${version}`, ...options });
  }

  load(model: string, version: number, options?: RequestOptions): Promise<ModelVersion> {
    return this.transport.json({ method: 'POST', path: `${versionsPath(model)}/${version}/load`, idempotencyKey: randomId(), ...options });
  }

  unload(model: string, version: number, options?: RequestOptions): Promise<ModelVersion> {
    return this.transport.json({ method: 'POST', path: `${versionsPath(model)}/${version}/unload`, idempotencyKey: randomId(), ...options });
  }
}

function versionsPath(model: string): string {
  return `v1/models/${encodeURIComponent(model)}/versions`;
}

/** Node only: every file under a folder, named by its path relative to the folder. */
async function readDirectory(directory: string): Promise<{ name: string; data: Uint8Array }[]> {
  // Imported lazily so that browser bundles never need node:fs.
  const { readdir, readFile } = await import(/* @vite-ignore */ 'node:fs/promises');
  const { join, relative, sep } = await import(/* @vite-ignore */ 'node:path');
  const entries = await readdir(directory, { withFileTypes: true, recursive: true });
  const files = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    files.push({ name: relative(directory, full).split(sep).join('/'), data: new Uint8Array(await readFile(full)) });
  }
  return files;
}
