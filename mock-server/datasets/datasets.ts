/**
 * Datasets to evaluate on: the built-in splits the bundled models were trained and held out on
 * (computed from the bundled data, read-only) and uploaded ones, stored one folder each:
 *
 *   <dataDir>/datasets/<name>/dataset.json   what it is (the API's Dataset)
 *   <dataDir>/datasets/<name>/tensors.f32    samples × width float32, little-endian
 *   <dataDir>/datasets/<name>/labels.i32     one int32 class index per sample, little-endian
 *
 * A folder appears in one rename (temporary folder, flushed, renamed; see registry/atomic.ts), so
 * a crash leaves a dataset complete or absent, and start-up sweeps the temporaries.
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { components } from 'modelport';
import { conflict, notFound } from '../http/errors';
import type { LabeledSet } from './labeled-set';
import { IRIS_LABELS } from './iris-data';
import { loadIrisSplit } from './iris-split';
import { loadMnistSplit, MNIST_SIDE } from './mnist-split';
import { removeAtomic, sweep, syncDir, syncTree, tempPath, writeFileAtomic } from '../registry/atomic';
import type { DatasetFormat, ParsedDataset } from './formats';

export type DatasetInfo = components['schemas']['Dataset'];

/** A dataset's records in memory. */
export interface DatasetData {
  info: DatasetInfo;
  /** `samples × width` elements. */
  x: Float32Array;
  /** Class index into `info.labels` per sample. */
  y: Int32Array;
  width: number;
}

const INFO_FILE = 'dataset.json';
const TENSORS_FILE = 'tensors.f32';
const LABELS_FILE = 'labels.i32';

interface Builtin {
  description: string;
  task: string;
  shape: number[];
  labels: readonly string[];
  load: () => LabeledSet;
}

/**
 * The same names the training API accepts, so one name means one set of samples everywhere.
 * The held-out ones are what the bundled models' recorded metrics were measured on.
 */
const BUILTINS: Record<string, Builtin> = {
  'iris-holdout': {
    description: 'The 30 iris flowers held out from training the bundled iris model (10 per species).',
    task: 'tabular-classification',
    shape: [4],
    labels: IRIS_LABELS,
    load: () => loadIrisSplit().test,
  },
  'iris-train': {
    description: 'The 120 iris flowers the bundled iris model was trained on.',
    task: 'tabular-classification',
    shape: [4],
    labels: IRIS_LABELS,
    load: () => loadIrisSplit().train,
  },
  'mnist-holdout': {
    description: 'The 2,000 MNIST digits held out from training the bundled digits models.',
    task: 'image-classification',
    shape: [MNIST_SIDE, MNIST_SIDE, 1],
    labels: [...'0123456789'],
    load: () => loadMnistSplit().test,
  },
  'mnist-train': {
    description: 'The 8,000 MNIST digits the bundled digits models were trained on.',
    task: 'image-classification',
    shape: [MNIST_SIDE, MNIST_SIDE, 1],
    labels: [...'0123456789'],
    load: () => loadMnistSplit().train,
  },
};

/** The built-in datasets a selection judges on by default: held-out data only. */
export const DEFAULT_JUDGING_DATASETS = ['mnist-holdout', 'iris-holdout'];

/** Built-ins are computed once per process (MNIST takes ~0.1 s) and shared by every server in it. */
const builtinCache = new Map<string, DatasetData>();
const PROCESS_STARTED = new Date().toISOString();

export function builtin(name: string): DatasetData {
  const cached = builtinCache.get(name);
  if (cached) return cached;
  const spec = BUILTINS[name]!;
  const set = spec.load();
  const data: DatasetData = {
    info: {
      name,
      description: spec.description,
      task: spec.task,
      source: 'builtin',
      format: 'builtin',
      read_only: true,
      samples: set.n,
      shape: spec.shape,
      labels: [...spec.labels],
      class_counts: classCounts(set.y, spec.labels.length),
      size_bytes: 0,
      created_at: PROCESS_STARTED,
    },
    x: set.x,
    y: set.y,
    width: set.x.length / set.n,
  };
  builtinCache.set(name, data);
  return data;
}

export function isBuiltinDataset(name: string): boolean {
  return Object.hasOwn(BUILTINS, name);
}

export class DatasetStore {
  private readonly uploaded = new Map<string, DatasetInfo>();
  /** Serialises creates and deletes, so a name is checked and taken in one step. */
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(readonly dir: string) {}

  /** Opens `<dataDir>/datasets`: sweeps what a crash left half-written and reads every dataset. */
  static async open(dataDir: string): Promise<DatasetStore> {
    const store = new DatasetStore(path.join(dataDir, 'datasets'));
    await mkdir(store.dir, { recursive: true });
    await sweep(store.dir);
    for (const entry of await readdir(store.dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const text = await readFile(path.join(store.dir, entry.name, INFO_FILE), 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      const info = JSON.parse(text) as DatasetInfo;
      store.uploaded.set(info.name, info);
    }
    return store;
  }

  /** Every dataset, built-in and uploaded, by name. */
  list(): DatasetInfo[] {
    return [...Object.keys(BUILTINS).map((name) => builtin(name).info), ...this.uploaded.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
  }

  has(name: string): boolean {
    return isBuiltinDataset(name) || this.uploaded.has(name);
  }

  info(name: string): DatasetInfo {
    if (isBuiltinDataset(name)) return builtin(name).info;
    const info = this.uploaded.get(name);
    if (!info) throw notFound(`dataset '${name}' not found`, 'dataset_not_found');
    return info;
  }

  /** The records; for uploads read from disk on each call (evaluations run one at a time). */
  async load(name: string): Promise<DatasetData> {
    if (isBuiltinDataset(name)) return builtin(name);
    return readStoredDataset(path.join(this.dir, name), this.info(name));
  }

  async create(
    name: string,
    parsed: ParsedDataset,
    meta: { format: DatasetFormat; shape: number[]; task?: string; description?: string },
  ): Promise<DatasetInfo> {
    return this.exclusive(async () => {
      if (this.has(name))
        throw conflict(`a dataset named '${name}' already exists${isBuiltinDataset(name) ? ' (it is built in)' : ''}`, 'dataset_exists');
      const tensors = new Uint8Array(parsed.x.length * 4);
      const labels = new Uint8Array(parsed.y.length * 4);
      const xv = new DataView(tensors.buffer);
      const yv = new DataView(labels.buffer);
      for (let i = 0; i < parsed.x.length; i++) xv.setFloat32(i * 4, parsed.x[i]!, true);
      for (let i = 0; i < parsed.y.length; i++) yv.setInt32(i * 4, parsed.y[i]!, true);
      const info: DatasetInfo = {
        name,
        ...(meta.description !== undefined ? { description: meta.description } : {}),
        ...(meta.task !== undefined ? { task: meta.task } : {}),
        source: 'upload',
        format: meta.format,
        read_only: false,
        samples: parsed.samples,
        shape: meta.shape,
        labels: parsed.labels,
        class_counts: classCounts(parsed.y, parsed.labels.length),
        size_bytes: tensors.byteLength + labels.byteLength,
        created_at: new Date().toISOString(),
      };
      const temp = tempPath(this.dir);
      await mkdir(temp);
      try {
        await writeFile(path.join(temp, TENSORS_FILE), tensors);
        await writeFile(path.join(temp, LABELS_FILE), labels);
        await writeFileAtomic(path.join(temp, INFO_FILE), `${JSON.stringify(info, null, 2)}\n`);
        await syncTree(temp);
        await rename(temp, path.join(this.dir, name));
        await syncDir(this.dir);
      } catch (error) {
        await removeAtomic(temp).catch(() => undefined);
        throw error;
      }
      this.uploaded.set(name, info);
      return info;
    });
  }

  async delete(name: string): Promise<void> {
    await this.exclusive(async () => {
      if (isBuiltinDataset(name)) throw conflict(`dataset '${name}' is built in and read-only`, 'dataset_read_only');
      this.info(name); // 404
      await removeAtomic(path.join(this.dir, name));
      this.uploaded.delete(name);
    });
  }

  /** Deletes every uploaded dataset (test controls' reset); the built-ins stay. */
  async reset(): Promise<void> {
    await this.exclusive(async () => {
      for (const name of [...this.uploaded.keys()]) {
        await removeAtomic(path.join(this.dir, name));
        this.uploaded.delete(name);
      }
    });
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.lock.then(work, work);
    this.lock = next.catch(() => undefined);
    return next;
  }
}

/** The info of an uploaded dataset straight from disk (for other processes, such as the training worker). */
export async function storedDatasetInfo(dataDir: string, name: string): Promise<DatasetInfo | undefined> {
  const text = await readFile(path.join(dataDir, 'datasets', name, INFO_FILE), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as DatasetInfo);
}

/** An uploaded dataset's records from its folder. */
export async function readStoredDataset(folder: string, info: DatasetInfo): Promise<DatasetData> {
  const [tensors, labels] = await Promise.all([readFile(path.join(folder, TENSORS_FILE)), readFile(path.join(folder, LABELS_FILE))]);
  const width = info.shape.reduce((n, d) => n * d, 1);
  const x = new Float32Array(info.samples * width);
  const y = new Int32Array(info.samples);
  const xv = new DataView(tensors.buffer, tensors.byteOffset, tensors.byteLength);
  const yv = new DataView(labels.buffer, labels.byteOffset, labels.byteLength);
  for (let i = 0; i < x.length; i++) x[i] = xv.getFloat32(i * 4, true);
  for (let i = 0; i < y.length; i++) y[i] = yv.getInt32(i * 4, true);
  return { info, x, y, width };
}

function classCounts(y: Int32Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const c of y) counts[c]! += 1;
  return counts;
}
