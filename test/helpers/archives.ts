/** Builds upload archives in tests: zip (fflate) and tar / tar.gz (node-tar), including hostile ones. */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { zipSync, gzipSync } from 'fflate';
import { Header } from 'tar';

export async function filesOf(dir: string): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full).split(path.sep).join('/')] = new Uint8Array(await readFile(full));
  }
  return out;
}

export function zip(files: Record<string, Uint8Array>): Uint8Array {
  return zipSync(files);
}

/** A tar archive built entry by entry, so tests can include links and `..` paths. */
export function tar(entries: { path: string; data?: Uint8Array; type?: 'File' | 'SymbolicLink'; linkpath?: string }[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const entry of entries) {
    const data = entry.data ?? new Uint8Array(0);
    const header = new Header({
      path: entry.path,
      mode: 0o644,
      size: entry.type === 'SymbolicLink' ? 0 : data.byteLength,
      type: entry.type ?? 'File',
      linkpath: entry.linkpath,
      mtime: new Date(0),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (entry.type !== 'SymbolicLink' && data.byteLength) {
      const padded = new Uint8Array(Math.ceil(data.byteLength / 512) * 512);
      padded.set(data);
      blocks.push(padded);
    }
  }
  blocks.push(new Uint8Array(1024));
  return Buffer.concat(blocks);
}

export function tarGz(entries: Parameters<typeof tar>[0]): Uint8Array {
  return gzipSync(tar(entries));
}
