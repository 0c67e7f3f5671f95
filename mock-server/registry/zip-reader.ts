/**
 * Reads a zip archive from a file the way a careful unpacker must: the central directory first
 * (names, kinds and DECLARED sizes of every entry, zip64 included), so the caller can refuse a
 * bomb or a link before one byte is inflated; then each entry streamed through zlib with a hard
 * cap at its declared size, so an entry that lies about its size stops at the lie.
 */
import type { FileHandle } from 'node:fs/promises';
import { createInflateRaw } from 'node:zlib';
import { badRequest, type HttpError } from '../http/errors';

export interface ZipEntry {
  name: string;
  kind: 'file' | 'directory' | 'link' | 'special';
  /** 0 stored, 8 deflate; others are refused when extracted. */
  method: number;
  encrypted: boolean;
  compressedSize: number;
  /** The size the central directory declares once inflated. */
  size: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL_HEADER = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
const MAX_COMMENT = 0xffff;
/** Inflated bytes per chunk: 1 MiB writes unpack ~4× faster than zlib's 16 KiB default. */
export const INFLATE_CHUNK = 1024 * 1024;

/** The archive's entries as its central directory lists them; at most `maxEntries`. */
export async function readZipDirectory(file: FileHandle, fileSize: number, maxEntries: number): Promise<ZipEntry[]> {
  const tailLength = Math.min(fileSize, 22 + MAX_COMMENT);
  const tail = await readAt(file, fileSize - tailLength, tailLength);
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD && i + 22 + tail.readUInt16LE(i + 20) <= tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) throw invalidZip('no end of central directory record');
  let count = tail.readUInt16LE(at + 10);
  let size = tail.readUInt32LE(at + 12);
  let offset = tail.readUInt32LE(at + 16);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const locatorAt = fileSize - tailLength + at - 20;
    const locator = locatorAt >= 0 ? await readAt(file, locatorAt, 20) : undefined;
    if (!locator || locator.readUInt32LE(0) !== ZIP64_LOCATOR) throw invalidZip('a zip64 archive without its zip64 locator');
    const record = await readAt(file, safeNumber(locator.readBigUInt64LE(8)), 56);
    if (record.readUInt32LE(0) !== ZIP64_EOCD) throw invalidZip('the zip64 end of central directory record is missing');
    count = safeNumber(record.readBigUInt64LE(32));
    size = safeNumber(record.readBigUInt64LE(40));
    offset = safeNumber(record.readBigUInt64LE(48));
  }
  if (count > maxEntries) throw invalidZip(`its central directory lists ${count} entries; the limit is ${maxEntries}`);
  if (offset + size > fileSize) throw invalidZip('the central directory lies outside the file');
  const directory = await readAt(file, offset, size);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > directory.length || directory.readUInt32LE(p) !== CENTRAL_HEADER)
      throw invalidZip(`central directory entry ${i} is damaged`);
    const nameLength = directory.readUInt16LE(p + 28);
    const extraLength = directory.readUInt16LE(p + 30);
    const commentLength = directory.readUInt16LE(p + 32);
    const end = p + 46 + nameLength + extraLength + commentLength;
    if (end > directory.length) throw invalidZip(`central directory entry ${i} runs past the directory`);
    const flags = directory.readUInt16LE(p + 8);
    const nameBytes = directory.subarray(p + 46, p + 46 + nameLength);
    const name = nameBytes.toString(flags & 0x800 ? 'utf8' : 'latin1');
    const sizes = zip64Sizes(directory.subarray(p + 46 + nameLength, p + 46 + nameLength + extraLength), {
      size: directory.readUInt32LE(p + 24),
      compressedSize: directory.readUInt32LE(p + 20),
      localHeaderOffset: directory.readUInt32LE(p + 42),
    });
    entries.push({
      name,
      kind: kindOf(directory.readUInt16LE(p + 4) >> 8, directory.readUInt32LE(p + 38), name),
      method: directory.readUInt16LE(p + 10),
      encrypted: (flags & 1) === 1,
      ...sizes,
    });
    p = end;
  }
  return entries;
}

/**
 * Streams one entry's inflated bytes to `onChunk`, never more than its declared size: an entry
 * that inflates further is refused at that point, one that inflates to less is refused at its end.
 */
export async function extractZipEntry(
  file: FileHandle,
  fileSize: number,
  entry: ZipEntry,
  onChunk: (chunk: Buffer) => void,
): Promise<void> {
  if (entry.encrypted) throw invalidZip(`entry '${entry.name}' is encrypted`);
  if (entry.method !== 0 && entry.method !== 8)
    throw invalidZip(`entry '${entry.name}' uses compression method ${entry.method}; only stored (0) and deflate (8) are accepted`);
  const local = await readAt(file, entry.localHeaderOffset, 30);
  if (local.length < 30 || local.readUInt32LE(0) !== LOCAL_HEADER) throw invalidZip(`entry '${entry.name}' has no local header`);
  const start = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  if (start + entry.compressedSize > fileSize) throw invalidZip(`entry '${entry.name}' runs past the end of the file`);
  if (entry.method === 0 && entry.compressedSize !== entry.size)
    throw invalidZip(`stored entry '${entry.name}' declares ${entry.size} bytes but holds ${entry.compressedSize}`);
  if (entry.compressedSize === 0) {
    if (entry.size !== 0) throw invalidZip(`entry '${entry.name}' declares ${entry.size} bytes but holds none`);
    return;
  }
  const raw = file.createReadStream({ start, end: start + entry.compressedSize - 1, autoClose: false });
  const source = entry.method === 8 ? raw.pipe(createInflateRaw({ chunkSize: INFLATE_CHUNK })) : raw;
  let produced = 0;
  await new Promise<void>((resolve, reject) => {
    const fail = (error: unknown) => {
      raw.destroy();
      source.destroy();
      reject(error);
    };
    raw.on('error', fail);
    source.on('error', (error: Error) => fail(invalidZip(`entry '${entry.name}' is not valid deflate data (${error.message})`)));
    source.on('data', (chunk: Buffer) => {
      produced += chunk.length;
      if (produced > entry.size) return fail(lyingSize(entry));
      try {
        onChunk(chunk);
      } catch (error) {
        fail(error);
      }
    });
    source.on('end', () => (produced === entry.size ? resolve() : fail(lyingSize(entry, produced))));
  });
}

function zip64Sizes(extra: Buffer, sizes: { size: number; compressedSize: number; localHeaderOffset: number }) {
  const wanted = (['size', 'compressedSize', 'localHeaderOffset'] as const).filter((k) => sizes[k] === 0xffffffff);
  if (!wanted.length) return sizes;
  for (let p = 0; p + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(p);
    const length = extra.readUInt16LE(p + 2);
    if (id === 0x0001) {
      if (length < wanted.length * 8 || p + 4 + length > extra.length) throw invalidZip('a zip64 extra field is too short');
      const found = { ...sizes };
      wanted.forEach((k, i) => (found[k] = safeNumber(extra.readBigUInt64LE(p + 4 + i * 8))));
      return found;
    }
    p += 4 + length;
  }
  throw invalidZip('an entry declares zip64 sizes without a zip64 extra field');
}

/** What an entry is, from the host that made it (3 is Unix: the file mode in the upper 16 bits). */
function kindOf(host: number, external: number, name: string): ZipEntry['kind'] {
  if (host === 3) {
    const type = (external >>> 16) & 0o170000;
    if (type === 0o120000) return 'link';
    if (type === 0o040000) return 'directory';
    if (type !== 0 && type !== 0o100000) return 'special';
  }
  return name.endsWith('/') || (host === 0 && external & 0x10) ? 'directory' : 'file';
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

function safeNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidZip(`a size or offset of ${value} bytes`);
  return Number(value);
}

function lyingSize(entry: ZipEntry, produced?: number): HttpError {
  const what = produced === undefined ? `more than the ${entry.size} bytes` : `${produced} bytes, not the ${entry.size}`;
  return invalidZip(`entry '${entry.name}' inflates to ${what} its central directory declares`);
}

function invalidZip(reason: string): HttpError {
  return badRequest(`the body is not a valid zip archive: ${reason}`, undefined, 'invalid_archive');
}
