/**
 * Crash-safe file system steps: a file or folder becomes visible only complete (written to a
 * temporary name, flushed, renamed), and disappears in one step (renamed away, then removed).
 * A kill at any moment leaves the old state or the new one, plus temporaries that `sweep` removes.
 */
import { randomUUID } from 'node:crypto';
import { open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

export const TEMP_PREFIX = '.tmp-';
const TRASH_PREFIX = '.trash-';

export function tempPath(dir: string): string {
  return path.join(dir, `${TEMP_PREFIX}${randomUUID()}`);
}

/** Writes a file atomically: temp file, fsync, rename, fsync the folder. */
export async function writeFileAtomic(file: string, content: string | Uint8Array): Promise<void> {
  const temp = tempPath(path.dirname(file));
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await syncDir(path.dirname(file));
}

/**
 * Writes the latest state of something kept in memory (the API keys) to one file. Writes run one
 * at a time and each renders the state as it is when it starts: concurrent writes of snapshots
 * taken at different moments could otherwise land in any order, an older one last, undoing
 * changes already acknowledged. `save()` resolves once a write that started after the call (so
 * holds the caller's change) is durable; changes made while a write is under way share the next.
 */
export class SnapshotFile {
  /** The write under way (settled when none is). */
  private current: Promise<void> = Promise.resolve();
  /** The write that will start after it, shared by every change made meanwhile. */
  private queued: Promise<void> | undefined;

  constructor(
    readonly file: string,
    private readonly render: () => string,
  ) {}

  save(): Promise<void> {
    if (!this.queued) {
      const write = this.current.then(() => {
        this.queued = undefined; // changes from now on need the write after this one
        return writeFileAtomic(this.file, this.render());
      });
      this.queued = write;
      this.current = write.catch(() => undefined);
    }
    return this.queued;
  }
}

/**
 * Flushes every file and folder in a folder tree, then the folder itself, before it is renamed
 * into place (a nested folder's entries, such as a SavedModel's variables/, are durable only once
 * that folder is flushed too).
 */
export async function syncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const entryPath = path.join(entry.parentPath, entry.name);
    if (entry.isDirectory()) await syncDir(entryPath);
    else if (entry.isFile()) {
      const handle = await open(entryPath, 'r');
      await handle.sync().finally(() => handle.close());
    }
  }
  await syncDir(dir);
}

/** Makes a folder's entries (a rename into it) durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  await handle
    .sync()
    .catch(() => undefined)
    .finally(() => handle.close());
}

/** Removes a folder in one visible step: rename it away, then delete it. */
export async function removeAtomic(target: string): Promise<void> {
  const trash = path.join(path.dirname(target), `${TRASH_PREFIX}${randomUUID()}`);
  await rename(target, trash);
  await syncDir(path.dirname(target));
  await rm(trash, { recursive: true, force: true });
}

/** Deletes temporaries and trash left by a crash. */
export async function sweep(dir: string): Promise<number> {
  let removed = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (entry.name.startsWith(TEMP_PREFIX) || entry.name.startsWith(TRASH_PREFIX)) {
      await rm(path.join(dir, entry.name), { recursive: true, force: true });
      removed += 1;
    }
  }
  return removed;
}
