/**
 * A model repository as a streamed tar.gz. The repository is first written to a temporary folder
 * (every conversion done, so a refusal is an error answer and not a broken download), then packed
 * file by file as the client reads: a large SavedModel is never held in memory, and the folder is
 * removed once the archive is read to its end, fails, or is abandoned (and, should the server be
 * killed meanwhile, by the next server's first export).
 */
import { copyFile, link, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { create } from 'tar';
import { sweepStaleTempDirs, tempDirPrefix } from '../runtime/stale-temp-dirs';

/** How much of a file tar reads at once (its default, 16 MiB, held several reads of a large file in memory at a time). */
const READ_SIZE = 1024 * 1024;

/** A file of the repository: bytes or text, or a file on disk copied as it is. */
export interface RepositoryFile {
  /** Posix path relative to the repository's root. */
  path: string;
  data?: Uint8Array | string;
  /** An absolute path to copy. */
  source?: string;
}

/** Writes files into the repository being built. */
export class RepositoryWriter {
  constructor(private readonly root: string) {}

  async add(file: RepositoryFile): Promise<void> {
    const target = this.resolve(file.path);
    await mkdir(path.dirname(target), { recursive: true });
    if (file.source !== undefined) await linkOrCopy(file.source, target);
    else await writeFile(target, file.data ?? new Uint8Array(0), { flag: 'wx' });
  }

  /** `relative` inside the root; a path that would leave it is a bug in whoever named it. */
  private resolve(relative: string): string {
    const parts = relative.split('/');
    if (path.posix.isAbsolute(relative) || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\')))
      throw new Error(`repository path '${relative}' is not a plain relative path`);
    return path.join(this.root, ...parts);
  }
}

/** Once per process, before its first export: the folders of servers killed mid-export. */
let swept: Promise<unknown> | undefined;

/**
 * Builds a repository with `build` in a temporary folder and returns it as a gzip'd tar stream:
 * entries in path order, no owners, every time `mtime` (so the same repository gives the same
 * bytes). When `build` throws, the folder is removed and the error passes on.
 */
export async function repositoryArchive(
  build: (writer: RepositoryWriter) => Promise<void>,
  mtime: Date,
): Promise<ReadableStream<Uint8Array>> {
  swept ??= sweepStaleTempDirs('modelport-export');
  await swept;
  const root = await mkdtemp(path.join(os.tmpdir(), exportDirPrefix(process.pid)));
  let removed: Promise<void> | undefined;
  const remove = () => (removed ??= rm(root, { recursive: true, force: true }));
  try {
    await build(new RepositoryWriter(root));
    const entries = (await readdir(root, { recursive: true })).map((p) => p.split(path.sep).join('/')).sort();
    const pack = create({ cwd: root, gzip: true, portable: true, mtime, noDirRecurse: true, maxReadSize: READ_SIZE }, entries);
    const chunks = pack[Symbol.asyncIterator]();
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await chunks.next();
          if (!done) return controller.enqueue(value);
          controller.close();
        } catch (error) {
          controller.error(error);
        }
        await remove();
      },
      async cancel() {
        pack.destroy();
        await remove();
      },
    });
  } catch (error) {
    await remove();
    throw error;
  }
}

/**
 * A hard link where the file system allows (no bytes copied), else a copy. Only a file with no other
 * link is linked: tar writes a second name of one file as a link entry, which is no plain file (and
 * `modelport export` refuses links), so two names of one file in the repository become two files.
 */
async function linkOrCopy(source: string, target: string): Promise<void> {
  if ((await stat(source)).nlink === 1) {
    try {
      return await link(source, target);
    } catch {
      // another file system, or links not allowed: copied below
    }
  }
  await copyFile(source, target);
}

/** `modelport-export-<host>-<pid>-`: whose temporary folder this is (runtime/stale-temp-dirs.ts). */
export function exportDirPrefix(pid: number): string {
  return tempDirPrefix('modelport-export', pid);
}
