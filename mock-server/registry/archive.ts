/**
 * Unpacks an uploaded version (multipart files, .zip, .tar.gz or .tar) into a staging folder,
 * refusing any path that would leave it, links, and archives that expand beyond the limit.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, unzipSync } from 'fflate';
import { Parser, type ReadEntry } from 'tar';
import { HttpError, badRequest } from '../http/errors';

export interface UploadedFile {
  path: string;
  bytes: Uint8Array;
}

const MAX_FILES = 10_000;

/** The files of an upload, by relative path. */
export async function filesOfUpload(
  mediaType: string,
  body: Uint8Array,
  contentType: string,
  maxExpandedBytes: number,
): Promise<{ files: UploadedFile[]; metadata: unknown }> {
  if (mediaType === 'multipart/form-data') return fromMultipart(body, contentType);
  if (mediaType === 'application/zip') return { files: fromZip(body, maxExpandedBytes), metadata: undefined };
  if (mediaType === 'application/gzip' || mediaType === 'application/x-gzip') {
    let tar: Uint8Array;
    try {
      tar = gunzipSync(body);
    } catch {
      throw invalidArchive('the body is not valid gzip data');
    }
    if (tar.byteLength > maxExpandedBytes) throw tooLarge(maxExpandedBytes);
    return { files: await fromTar(tar, maxExpandedBytes), metadata: undefined };
  }
  return { files: await fromTar(body, maxExpandedBytes), metadata: undefined };
}

/**
 * Writes the files under `dir`, dropping one common top folder (archives of "mymodel/...") and
 * any version.json, which the server writes itself. Returns the paths written.
 */
export async function writeFiles(dir: string, files: UploadedFile[]): Promise<string[]> {
  const paths = stripCommonFolder(files.map((f) => f.path));
  const written: string[] = [];
  for (let i = 0; i < files.length; i++) {
    if (paths[i] === 'version.json') continue;
    written.push(paths[i]!);
    const target = path.join(dir, paths[i]!);
    if (!target.startsWith(dir + path.sep)) throw unsafePath(files[i]!.path);
    try {
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, files[i]!.bytes);
    } catch (error) {
      // A file where a folder must go (`a` and `a/b`), or a name the file system refuses.
      const code = (error as NodeJS.ErrnoException).code;
      if (code && ['EEXIST', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'EINVAL'].includes(code)) {
        throw badRequest(
          `the upload's file '${files[i]!.path.slice(0, 100)}' cannot be stored (${code})`,
          [{ path: `/${files[i]!.path.slice(0, 100)}`, message: 'conflicts with another file of the upload, or is not a valid file name' }],
          'invalid_archive',
        );
      }
      throw error;
    }
  }
  return written;
}

/** A path inside the version folder, or a 400 saying why not. */
export function safeRelativePath(raw: string): string {
  const normalised = raw.replace(/\\/g, '/');
  if (!normalised || normalised.includes('\0') || normalised.startsWith('/') || /^[A-Za-z]:/.test(normalised)) throw unsafePath(raw);
  const segments = normalised.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.length === 0 || segments.some((s) => s === '..')) throw unsafePath(raw);
  return segments.join('/');
}

async function fromMultipart(body: Uint8Array, contentType: string): Promise<{ files: UploadedFile[]; metadata: unknown }> {
  let form: FormData;
  try {
    form = await new Response(body as Uint8Array<ArrayBuffer>, { headers: { 'content-type': contentType } }).formData();
  } catch (error) {
    throw badRequest(`the multipart body could not be parsed: ${(error as Error).message}`, undefined, 'invalid_multipart');
  }
  const files: UploadedFile[] = [];
  let metadata: unknown;
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
    files.push({ path: safeRelativePath(value.name), bytes: new Uint8Array(await value.arrayBuffer()) });
    if (files.length > MAX_FILES) throw badRequest(`more than ${MAX_FILES} files`, undefined, 'invalid_archive');
  }
  if (!files.length)
    throw badRequest(
      'the upload has no files; send model.json and its weight shards, or a SavedModel folder',
      [{ path: '/files', message: 'is required' }],
      'invalid_archive',
    );
  return { files, metadata };
}

function fromZip(body: Uint8Array, maxExpandedBytes: number): UploadedFile[] {
  let expanded = 0;
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(body, {
      filter: (file) => {
        expanded += file.originalSize;
        if (expanded > maxExpandedBytes) throw tooLarge(maxExpandedBytes);
        safeRelativePath(file.name);
        return !file.name.endsWith('/');
      },
    });
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw invalidArchive(`the body is not a valid zip archive (${(error as Error).message})`);
  }
  const files = Object.entries(entries).map(([name, bytes]) => ({ path: safeRelativePath(name), bytes }));
  if (files.length > MAX_FILES) throw invalidArchive(`more than ${MAX_FILES} files`);
  return files;
}

function fromTar(body: Uint8Array, maxExpandedBytes: number): Promise<UploadedFile[]> {
  return new Promise((resolve, reject) => {
    const files: UploadedFile[] = [];
    let expanded = 0;
    let failure: unknown;
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        if (failure) return entry.resume();
        try {
          if (entry.type === 'Directory') return entry.resume();
          if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
            throw badRequest(
              `archive entry '${entry.path}' is a ${entry.type}; only files and folders are accepted`,
              [{ path: `/${entry.path}`, message: `${entry.type} entries are not allowed` }],
              'unsafe_path',
            );
          }
          const relative = safeRelativePath(entry.path);
          const chunks: Buffer[] = [];
          entry.on('data', (chunk: Buffer) => {
            expanded += chunk.byteLength;
            if (expanded > maxExpandedBytes) failure ??= tooLarge(maxExpandedBytes);
            else chunks.push(chunk);
          });
          entry.on('end', () => files.push({ path: relative, bytes: new Uint8Array(Buffer.concat(chunks)) }));
        } catch (error) {
          failure = error;
          entry.resume();
        }
      },
    });
    parser.on('error', (error: Error) => (failure ??= invalidArchive(`the body is not a valid tar archive (${error.message})`)));
    parser.on('warn', (_code: string, message: string) => (failure ??= invalidArchive(`the body is not a valid tar archive (${message})`)));
    parser.on('end', () => {
      if (failure) reject(failure);
      else if (files.length > MAX_FILES) reject(invalidArchive(`more than ${MAX_FILES} files`));
      else if (!files.length) reject(invalidArchive('the archive holds no files'));
      else resolve(files);
    });
    parser.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });
}

function stripCommonFolder(paths: string[]): string[] {
  const first = paths[0]?.split('/')[0];
  const atRoot = paths.some((p) => !p.includes('/'));
  if (!first || atRoot || !paths.every((p) => p.startsWith(`${first}/`))) return paths;
  return paths.map((p) => p.slice(first.length + 1));
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

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'payload_too_large', `the upload expands beyond ${limit} bytes`);
}
