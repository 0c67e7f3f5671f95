import { PagePromise, type ListParams } from '../core/pagination';
import { path } from '../core/path';
import { APIResource } from '../core/resource';
import { randomId } from '../core/ids';
import type { RequestBody, RequestOptions } from '../core/transport';
import type { ModelVersion, VersionUploadMetadata } from '../types';
import { InvalidInputError } from '../errors';

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
  metadata?: VersionUploadMetadata | undefined;
  onProgress?: ((progress: UploadProgress) => void) | undefined;
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
    let body: RequestBody;
    let size = 0;
    const headers: Record<string, string> = {};
    if ('archive' in source) {
      body = source.archive;
      size = source.archive instanceof Blob ? source.archive.size : source.archive.byteLength;
      headers['content-type'] = ARCHIVE_TYPES[source.format];
    } else {
      const form = new FormData();
      const files = 'directory' in source ? await readDirectory(source.directory) : source.files;
      for (const file of files) {
        const blob = file instanceof Blob ? file : file.data instanceof Blob ? file.data : new Blob([file.data as Uint8Array<ArrayBuffer>]);
        form.append('files', blob, file.name);
        size += blob.size;
      }
      if (metadata) form.append('metadata', JSON.stringify(metadata));
      body = form;
    }
    return this.transport
      .json({
        method: 'POST',
        path: path`v1/models/${model}/versions`,
        body,
        ...rest,
        idempotencyKey: rest.idempotencyKey ?? randomId(),
        headers: { ...headers, ...rest.headers },
        ...(onProgress && streamingUploads()
          ? {
              onUploadProgress: (p: UploadProgress) =>
                onProgress({ percent: p.percent, transferredBytes: p.transferredBytes, totalBytes: p.totalBytes }),
            }
          : {}),
      })
      .then((version) => {
        // Where bodies cannot stream (browsers over HTTP/1.1), progress is reported once, at the end.
        if (onProgress && !streamingUploads()) onProgress({ percent: 1, transferredBytes: size, totalBytes: size });
        return version as ModelVersion;
      });
  }

  get(model: string, version: number, options?: RequestOptions): Promise<ModelVersion> {
    return this.transport.json({ method: 'GET', path: path`v1/models/${model}/versions/${version}`, ...options });
  }

  /** One page (`await`), or every version (`for await`), oldest first. */
  list(model: string, params: ListParams<'listVersions'> = {}, options?: RequestOptions): PagePromise<ModelVersion> {
    return new PagePromise((after) =>
      this.transport.json({ method: 'GET', path: path`v1/models/${model}/versions`, query: { ...params, after }, ...options }),
    );
  }

  /** Deletes a version; a version an alias points at is a ConflictError (move the alias first). */
  async delete(model: string, version: number, options?: RequestOptions): Promise<void> {
    await this.transport.send({ method: 'DELETE', path: path`v1/models/${model}/versions/${version}`, ...options });
  }

  load(model: string, version: number, options?: RequestOptions): Promise<ModelVersion> {
    return this.transport.json({
      method: 'POST',
      path: path`v1/models/${model}/versions/${version}/load`,
      ...options,
      idempotencyKey: options?.idempotencyKey ?? randomId(),
    });
  }

  unload(model: string, version: number, options?: RequestOptions): Promise<ModelVersion> {
    return this.transport.json({
      method: 'POST',
      path: path`v1/models/${model}/versions/${version}/unload`,
      ...options,
      idempotencyKey: options?.idempotencyKey ?? randomId(),
    });
  }
}

/**
 * Progress needs a streamed request body. Node streams over any HTTP version; Chromium only over
 * HTTP/2 or QUIC (net::ERR_ALPN_NEGOTIATION_FAILED otherwise), so browsers send the body whole.
 */
function streamingUploads(): boolean {
  return typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
}

/** Node only: every file under a folder, named by its path relative to the folder. */
async function readDirectory(directory: string): Promise<{ name: string; data: Uint8Array }[]> {
  // Imported lazily, by names bundlers do not follow, so browser bundles never need node:fs.
  const fsModule = 'node:fs/promises';
  const pathModule = 'node:path';
  const { readdir, readFile } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ fsModule)) as typeof import('node:fs/promises');
  const { join, relative, sep } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ pathModule)) as typeof import('node:path');
  try {
    const entries = await readdir(directory, { withFileTypes: true, recursive: true });
    const files = [];
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const full = join(entry.parentPath, entry.name);
      files.push({ name: relative(directory, full).split(sep).join('/'), data: new Uint8Array(await readFile(full)) });
    }
    return files;
  } catch (error) {
    throw new InvalidInputError(`cannot read the model folder '${directory}': ${(error as Error).message}`, undefined, { cause: error });
  }
}
