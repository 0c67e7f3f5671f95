/**
 * Temporary folders named `<kind>-<host>-<pid>-…` belong to one process: a process killed while it
 * used one leaves it behind, and a later one removes this host's folders of processes that no
 * longer run (never a live one's). The host name keeps a sweep from judging another machine's or
 * container's folders (containers sharing a /tmp have their own pid numbering) by its own pids.
 */
import { readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** `<kind>-<host>-<pid>-`. */
export function tempDirPrefix(kind: string, pid: number): string {
  return `${kind}-${os.hostname().replace(/[^A-Za-z0-9.]/g, '_')}-${pid}-`;
}

/** Removes this host's `kind` folders in `tmp` whose process no longer runs; answers their names. */
export async function sweepStaleTempDirs(kind: string, tmp = os.tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  const ours = tempDirPrefix(kind, 0).slice(0, -2); // <kind>-<host>-
  const names = await readdir(tmp).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(ours)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(ours.length))?.[1]);
    if (!pid || isRunning(pid)) continue;
    await rm(path.join(tmp, name), { recursive: true, force: true }).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
