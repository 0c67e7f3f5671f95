/**
 * Where an upload's records go while it is read: one growing Float32Array of elements and one
 * Int32Array of label ids, so memory is four bytes per accepted number (not an object per record or
 * per field), and every limit is checked as the records arrive, before the next one is stored.
 */
import { HttpError } from '../http/errors';

/** What one upload may hold (server options, see server/state.ts). */
export interface DatasetLimits {
  /** Records (--max-dataset-rows). */
  maxRows: number;
  /** Numbers, records × elements (--max-dataset-elements). */
  maxElements: number;
}

/** The longest line read (a record of an image of 150,528 numbers fits several times over). */
export const MAX_LINE_CHARS = 4 * 1024 * 1024;
/** The longest CSV field or label. */
export const MAX_FIELD_CHARS = 256;
/** Distinct labels (classes) one dataset may have. */
export const MAX_CLASSES = 65_536;

export function tooLarge(message: string): HttpError {
  return new HttpError(413, 'dataset_too_large', message);
}

const count = (n: number) => n.toLocaleString('en-US');

export class Records {
  private x = new Float32Array(1024);
  private y = new Int32Array(256);
  private readonly labelIds = new Map<string, number>();
  readonly labelNames: string[] = [];
  samples = 0;
  width: number | undefined;

  constructor(private readonly limits: DatasetLimits) {}

  /** Checks a record of `width` elements may be added, before its fields are read. */
  admit(width: number): void {
    const rows = this.samples + 1;
    if (rows > this.limits.maxRows) {
      throw tooLarge(
        `the dataset has more than ${count(this.limits.maxRows)} records; the limit is ${count(this.limits.maxRows)} (--max-dataset-rows)`,
      );
    }
    if (rows * width > this.limits.maxElements) {
      throw tooLarge(
        `the dataset holds more than ${count(this.limits.maxElements)} numbers (${count(rows)} records of ${count(width)} elements); the limit is ${count(this.limits.maxElements)} (--max-dataset-elements)`,
      );
    }
  }

  /** Adds a record; `admit` has checked its size. */
  add(values: ArrayLike<number>, label: string): void {
    this.width ??= values.length;
    const at = this.samples * values.length;
    if (at + values.length > this.x.length) this.x = grow(this.x, at + values.length, this.limits.maxElements, Float32Array);
    this.x.set(values, at);
    let id = this.labelIds.get(label);
    if (id === undefined) {
      if (this.labelNames.length >= MAX_CLASSES)
        throw tooLarge(`the dataset has more than ${count(MAX_CLASSES)} distinct labels; the limit is ${count(MAX_CLASSES)}`);
      id = this.labelNames.length;
      this.labelIds.set(label, id);
      this.labelNames.push(label);
    }
    if (this.samples >= this.y.length) this.y = grow(this.y, this.samples + 1, this.limits.maxRows, Int32Array);
    this.y[this.samples] = id;
    this.samples += 1;
  }

  /** The elements, exactly `samples × width` of them. */
  elements(): Float32Array {
    return this.x.slice(0, this.samples * (this.width ?? 0));
  }

  /** Each record's class index in `labels` (which hold every label seen). */
  classes(labels: readonly string[]): Int32Array {
    const index = new Map(labels.map((label, i) => [label, i]));
    const remap = Int32Array.from(this.labelNames, (name) => index.get(name)!);
    const out = new Int32Array(this.samples);
    for (let i = 0; i < this.samples; i++) out[i] = remap[this.y[i]!]!;
    return out;
  }
}

/** Doubles, but never past `cap` (what the limits allow): the buffer is at most the accepted data. */
function grow<T extends Float32Array | Int32Array>(array: T, needed: number, cap: number, Type: new (length: number) => T): T {
  const bigger = new Type(Math.max(needed, Math.min(array.length * 2, cap)));
  bigger.set(array);
  return bigger;
}

/**
 * Lets other requests run: ask `due()` per line (a clock read) and `await pause()` when it says so; that
 * is once every SLICE_MS of work, so a large upload is read in slices and never blocks for long.
 */
export class Slicer {
  private sliceStarted = performance.now();

  due(): boolean {
    return performance.now() - this.sliceStarted >= SLICE_MS;
  }

  async pause(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.sliceStarted = performance.now();
  }
}

const SLICE_MS = 20;
