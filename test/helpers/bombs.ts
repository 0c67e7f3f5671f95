/**
 * Archive bombs for the upload limit tests, built in milliseconds however large they claim to be:
 * a deflate stream of repeated bytes is one compressed block repeated (each block is flushed fully,
 * so it depends on nothing before it), and the CRC of n repeats is computed by squaring: CRC-32
 * over a fixed block is an affine map of the running CRC, and maps compose.
 */
import { constants, crc32, deflateRawSync } from 'node:zlib';
import { Header } from 'tar';

const MiB = 1024 * 1024;
const ZEROS = Buffer.alloc(MiB);
const FULL_FLUSH = { finishFlush: constants.Z_FULL_FLUSH, level: 9 };
const ZERO_BLOCK = deflateRawSync(ZEROS, FULL_FLUSH);
const FINAL_BLOCK = deflateRawSync(Buffer.alloc(0));

interface Deflated {
  /** Raw deflate data. */
  data: Buffer;
  /** Bytes it inflates to, and their CRC-32. */
  size: number;
  crc: number;
}

/** `unit` (any bytes) repeated `times` times, deflated: each copy one fully flushed block. */
export function deflatedRepeats(unit: Uint8Array, times: number): Deflated {
  const block = unit.byteLength === MiB && Buffer.from(unit).equals(ZEROS) ? ZERO_BLOCK : deflateRawSync(unit, FULL_FLUSH);
  return { data: Buffer.concat([...Array(times).fill(block), FINAL_BLOCK]), size: unit.byteLength * times, crc: crcOfRepeats(unit, times) };
}

/** MiB of zeros, deflated. */
export function deflatedZeros(mib: number): Deflated {
  return deflatedRepeats(ZEROS, mib);
}

/** A gzip member around raw deflate data; `isize` overrides the trailer's declared size. */
export function gzipOf(deflated: Deflated, isize = deflated.size): Buffer {
  const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(deflated.crc >>> 0, 0);
  trailer.writeUInt32LE(isize % 2 ** 32, 4);
  return Buffer.concat([header, deflated.data, trailer]);
}

/** One tar header block: a file `name` of `size` bytes (the size may be any claim). */
export function tarHeader(name: string, size: number): Buffer {
  const block = Buffer.alloc(512);
  new Header({ path: name, mode: 0o644, size, type: 'File', mtime: new Date(0) }).encode(block, 0);
  return block;
}

/** A .tar.gz whose one entry's header claims `claimedBytes`, followed by `mib` MiB of zeros (≈ 1 KB gzip per MiB); `isize` as in gzipOf. */
export function tarGzClaiming(claimedBytes: number, mib: number, isize?: number): Buffer {
  const first = Buffer.concat([tarHeader('weights.bin', claimedBytes), ZEROS.subarray(512)]);
  const head = deflateRawSync(first, FULL_FLUSH);
  const rest = deflatedZeros(mib - 1);
  return gzipOf({ data: Buffer.concat([head, rest.data]), size: mib * MiB, crc: crcOfRepeats(ZEROS, mib - 1, crc32(first)) }, isize);
}

/** A .tar.gz of `entries` honest 1 MiB entries (all named w.bin), its gzip trailer declaring `isize`. */
export function tarGzOfEntries(entries: number, isize: number): Buffer {
  const unit = Buffer.concat([tarHeader('w.bin', MiB), ZEROS]);
  return gzipOf(deflatedRepeats(unit, entries), isize);
}

export interface ZipBombEntry {
  name: string;
  deflated: Deflated;
  /** What the local header and central directory declare (default the true size). */
  declaredSize?: number;
}

/** A zip of deflated entries whose headers declare what they are told to. */
export function zipOf(entries: ZipBombEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const declared = entry.declaredSize ?? entry.deflated.size;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(entry.deflated.crc >>> 0, 14);
    local.writeUInt32LE(entry.deflated.data.length, 18);
    local.writeUInt32LE(declared, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(entry.deflated.crc >>> 0, 16);
    central.writeUInt32LE(entry.deflated.data.length, 20);
    central.writeUInt32LE(declared, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, entry.deflated.data);
    centrals.push(central, name);
    offset += local.length + name.length + entry.deflated.data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A saved_model.pb of 9 bytes that tfjs-node's protobuf reader loops over for minutes (issue #18 item 8). */
export const NINE_BYTE_SAVED_MODEL = Uint8Array.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00, 0x00]);

/** An affine map of 32-bit CRC states: x ↦ L·x ⊕ b, L as its 32 columns. */
interface Affine {
  columns: number[];
  offset: number;
}

/** crc32 of `unit` repeated `times` times, continuing from `start`. */
function crcOfRepeats(unit: Uint8Array, times: number, start = 0): number {
  const offset = crc32(unit, 0);
  let step: Affine = { columns: Array.from({ length: 32 }, (_, i) => (crc32(unit, 2 ** i) ^ offset) >>> 0), offset };
  let result: Affine = { columns: Array.from({ length: 32 }, (_, i) => 2 ** i), offset: 0 };
  for (let n = times; n > 0; n = Math.floor(n / 2)) {
    if (n % 2) result = compose(step, result);
    step = compose(step, step);
  }
  return apply(result, start);
}

function apply(map: Affine, x: number): number {
  let y = map.offset;
  for (let i = 0; i < 32; i++) if ((x >>> i) & 1) y ^= map.columns[i]!;
  return y >>> 0;
}

/** outer ∘ inner. */
function compose(outer: Affine, inner: Affine): Affine {
  return { columns: inner.columns.map((c) => apply({ columns: outer.columns, offset: 0 }, c)), offset: apply(outer, inner.offset) };
}
