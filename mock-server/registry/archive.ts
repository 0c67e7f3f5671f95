/**
 * Unpacks an uploaded version (multipart files, .zip, .tar.gz or .tar) from the file its body was
 * written to into a staging folder, refusing any path that would leave it, links, and archives
 * that expand beyond the limits: on their declared sizes before inflating (zip central directory,
 * gzip trailer, tar headers) and on the bytes inflated (expansion-budget.ts). Entries stream to
 * disk one chunk at a time. Runs in the inspection child process (serving/inspection-child.ts),
 * never in the server's, so even the work that is bounded does not hold the event loop.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, openSync, writeSync } from 'node:fs';
import { open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { HttpError, badRequest } from '../http/errors';
import { ExpansionBudget, count, type ExpansionLimits } from './expansion-budget';
import { INFLATE_CHUNK, extractZipEntry, readZipDirectory } from './zip-reader';

export interface UploadSource {
  /** The request body, written to a file by the server. */
  bodyFile: string;
  /** `application/zip`, `application/gzip`, `application/x-tar`, `multipart/form-data`. */
  mediaType: string;
  /** The full Content-Type header (multipart needs its boundary). */
  contentType: string;
}

export interface Unpacked {
  /** Relative paths written under the staging folder. */
  files: string[];
  /** The multipart `metadata` field, parsed as JSON (unchecked). */
  metadata: unknown;
}

const MAX_FILES = 10_000;

/** Unpacks `source` into the empty folder `dir`. */
export async function unpackUpload(source: UploadSource, dir: string, limits: ExpansionLimits): Promise<Unpacked> {
  const received = (await stat(source.bodyFile)).size;
  const sink = new FileSink(path.join(dir, `.unpacking-${randomUUID()}`), new ExpansionBudget(limits, received));
  let metadata: unknown;
  if (source.mediaType === 'multipart/form-data') metadata = await fromMultipart(source, sink);
  else if (source.mediaType === 'application/zip') await fromZip(source.bodyFile, received, sink);
  else if (source.mediaType === 'application/gzip' || source.mediaType === 'application/x-gzip')
    await fromTarGz(source.bodyFile, received, sink, limits);
  else await fromTar(createReadStream(source.bodyFile), sink);
  return { files: await sink.finish(dir), metadata };
}

/** A path inside the version folder, or a 400 saying why not. */
export function safeRelativePath(raw: string): string {
  const normalised = raw.replace(/\\/g, '/');
  if (!normalised || normalised.includes('\0') || normalised.startsWith('/') || /^[A-Za-z]:/.test(normalised)) throw unsafePath(raw);
  const segments = normalised.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.length === 0 || segments.some((s) => s === '..')) throw unsafePath(raw);
  return segments.join('/');
}

/**
 * Writes entries under a private folder (synchronously: this runs in the child process, which
 * does nothing else), then moves them into place without one common top folder (archives of
 * "mymodel/...") and without a top-level version.json, which the server writes itself.
 */
class FileSink {
  private readonly paths: string[] = [];

  constructor(
    private readonly root: string,
    readonly budget: ExpansionBudget,
  ) {
    mkdirSync(root);
  }

  /** Opens the file an entry names; returns its descriptor. */
  open(raw: string): number {
    const relative = safeRelativePath(raw);
    if (this.paths.length >= MAX_FILES) throw invalidArchive(`the upload holds more than ${MAX_FILES} files`);
    const target = path.join(this.root, relative);
    if (!target.startsWith(this.root + path.sep)) throw unsafePath(raw);
    try {
      mkdirSync(path.dirname(target), { recursive: true });
      const fd = openSync(target, 'w');
      this.paths.push(relative);
      return fd;
    } catch (error) {
      // A file where a folder must go (`a` and `a/b`), or a name the file system refuses.
      const code = (error as NodeJS.ErrnoException).code;
      if (code && ['EEXIST', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'EINVAL'].includes(code)) {
        throw badRequest(
          `the upload's file '${raw.slice(0, 100)}' cannot be stored (${code})`,
          [{ path: `/${raw.slice(0, 100)}`, message: 'conflicts with another file of the upload, or is not a valid file name' }],
          'invalid_archive',
        );
      }
      throw error;
    }
  }

  write(fd: number, chunk: Uint8Array): void {
    this.budget.produce(chunk.byteLength);
    writeSync(fd, chunk);
  }

  /** Moves the files into `dir`; returns their paths there. */
  async finish(dir: string): Promise<string[]> {
    if (!this.paths.length) throw invalidArchive('the upload holds no files');
    const unique = [...new Set(this.paths)];
    const first = unique[0]!.split('/')[0]!;
    const common = unique.every((p) => p.startsWith(`${first}/`));
    const from = common ? path.join(this.root, first) : this.root;
    for (const name of await readdir(from)) if (name !== 'version.json') await rename(path.join(from, name), path.join(dir, name));
    await rm(this.root, { recursive: true, force: true });
    return unique.map((p) => (common ? p.slice(first.length + 1) : p)).filter((p) => p !== 'version.json');
  }
}

async function fromMultipart(source: UploadSource, sink: FileSink): Promise<unknown> {
  let form: FormData;
  try {
    form = await new Response(await readFile(source.bodyFile), { headers: { 'content-type': source.contentType } }).formData();
  } catch (error) {
    throw badRequest(`the multipart body could not be parsed: ${(error as Error).message}`, undefined, 'invalid_multipart');
  }
  let metadata: unknown;
  let files = 0;
  for (const [field, value] of form) {
    if (typeof value === 'string') {
      if (field !== 'metadata') continue;
      try {
        metadata = JSON.parse(value);
      } catch {
        throw badRequest('the metadata field is not valid JSON', [{ path: '/metadata', message: 'must be JSON' }]);
      }
      continue;
    }
    files += 1;
    const fd = sink.open(value.name);
    try {
      sink.write(fd, new Uint8Array(await value.arrayBuffer()));
    } finally {
      closeSync(fd);
    }
  }
  if (!files)
    throw badRequest(
      'the upload has no files; send model.json and its weight shards, or a SavedModel folder',
      [{ path: '/files', message: 'is required' }],
      'invalid_archive',
    );
  return metadata;
}

async function fromZip(bodyFile: string, received: number, sink: FileSink): Promise<void> {
  const file = await open(bodyFile);
  try {
    const entries = await readZipDirectory(file, received, MAX_FILES);
    // Every name and kind, and the sizes declared in all, are checked before anything inflates.
    for (const entry of entries) {
      safeRelativePath(entry.name);
      if (entry.kind === 'link' || entry.kind === 'special')
        throw notAFile(entry.name, entry.kind === 'link' ? 'SymbolicLink' : 'special file');
    }
    const files = entries.filter((e) => e.kind === 'file');
    const declared = files.reduce((sum, e) => sum + e.size, 0);
    const largest = files.reduce((a, b) => (b.size > a.size ? b : a), files[0] ?? { name: '', size: 0 });
    sink.budget.declare(
      declared,
      `the zip's central directory (${files.length} files, the largest '${largest.name}' of ${count(largest.size)} bytes)`,
    );
    for (const entry of files) {
      const fd = sink.open(entry.name);
      try {
        await extractZipEntry(file, received, entry, (chunk) => sink.write(fd, chunk));
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    await file.close();
  }
}

async function fromTarGz(bodyFile: string, received: number, sink: FileSink, limits: ExpansionLimits): Promise<void> {
  if (received < 18) throw invalidArchive('the body is not valid gzip data (too short)');
  // ISIZE, the gzip trailer: the inflated size modulo 2^32 as the sender claims it.
  const trailer = Buffer.alloc(4);
  const file = await open(bodyFile);
  try {
    await file.read(trailer, 0, 4, received - 4);
  } finally {
    await file.close();
  }
  const declared = trailer.readUInt32LE(0);
  const stream = new ExpansionBudget(limits, received);
  stream.declare(declared, 'the gzip trailer');
  const gunzip = createReadStream(bodyFile).pipe(createGunzip({ chunkSize: INFLATE_CHUNK }));
  const counted = gunzip.on('data', (chunk: Buffer) => {
    try {
      stream.produce(chunk.byteLength, `its gzip trailer declared ${count(declared)}`);
    } catch (error) {
      gunzip.destroy(error as Error);
    }
  });
  await fromTar(counted, sink, (error) => invalidArchive(`the body is not valid gzip data (${error.message})`));
}

/** Streams a tar archive into the sink; each header's size counts against the budget before its data. */
function fromTar(
  input: NodeJS.ReadableStream,
  sink: FileSink,
  streamError = (error: Error) => invalidArchive(`the body is not a valid tar archive (${error.message})`),
): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: unknown;
    let sniffed = false;
    const fail = (error: unknown) => {
      failure ??= error;
      parser.abort(error as Error);
      (input as NodeJS.ReadableStream & { destroy?(): void }).destroy?.();
    };
    const parser = new Parser({
      strict: true,
      brotli: false,
      zstd: false,
      onReadEntry: (entry: ReadEntry) => {
        if (failure) return entry.resume();
        try {
          if (entry.type === 'Directory') return entry.resume();
          if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') throw notAFile(entry.path, entry.type);
          sink.budget.declare(entry.size ?? 0, `tar entry '${entry.path}'`);
          const fd = sink.open(entry.path);
          entry.on('data', (chunk: Buffer) => {
            if (failure) return;
            try {
              sink.write(fd, chunk);
            } catch (error) {
              fail(error);
            }
          });
          entry.on('end', () => closeSync(fd));
        } catch (error) {
          fail(error);
          entry.resume();
        }
      },
    });
    parser.on('warn', (_code: string, message: string) => fail(invalidArchive(`the body is not a valid tar archive (${message})`)));
    parser.on('error', (error: Error) => fail(failure ?? invalidArchive(`the body is not a valid tar archive (${error.message})`)));
    parser.on('abort', () => reject(failure));
    parser.on('end', () => (failure ? reject(failure) : resolve()));
    input.on('error', (error: Error) => fail(error instanceof HttpError ? error : streamError(error)));
    input.on('data', (chunk: Buffer) => {
      // Only one layer of compression: the tar parser would otherwise inflate a gzip inside it.
      if (!sniffed && ((sniffed = true), chunk[0] === 0x1f && chunk[1] === 0x8b))
        return fail(invalidArchive('the tar stream is itself gzip-compressed; send one layer of compression'));
      if (!failure) parser.write(chunk);
    });
    input.on('end', () => {
      if (!failure) parser.end();
    });
  });
}

function notAFile(name: string, type: string): HttpError {
  return badRequest(
    `archive entry '${name}' is a ${type}; only files and folders are accepted`,
    [{ path: `/${name}`, message: `${type} entries are not allowed` }],
    'unsafe_path',
  );
}

function unsafePath(raw: string): HttpError {
  return badRequest(
    `path '${raw}' would leave the version folder`,
    [{ path: `/${raw}`, message: 'absolute paths and .. are not allowed' }],
    'unsafe_path',
  );
}

function invalidArchive(message: string): HttpError {
  return badRequest(message, undefined, 'invalid_archive');
}
