/**
 * One model version being served: its state (READY, LOADING, UNAVAILABLE), the loaded model,
 * its dynamic batcher and its statistics.
 */
import type { components } from 'modelport';
import type * as tfTypes from './tfjs';
import { HttpError, unavailable } from '../http/errors';
import { DEFAULT_BATCHING, servingConfig, type ModelConfig, type ServingConfig, type VersionInfo } from '../registry/model-config';
import type { Runtime } from './backend';
import { Batcher, QueueFullError, type Pending } from './batcher';
import { loadModel, type LoadedModel } from './loader';
import { VersionStats } from './stats';
import { tfDtypeOf, type HostTensor, type HostValues, type Storage } from './tensors';

export type VersionState = components['schemas']['ModelVersion']['state'];

export interface OutputTensor {
  shape: number[];
  values: HostValues;
}

export class ServedVersion {
  state: VersionState = 'UNAVAILABLE';
  reason: string | undefined = 'not loaded';
  loaded: LoadedModel | undefined;
  readonly stats = new VersionStats();
  private batcher: Batcher<HostTensor[], OutputTensor[]> | undefined;

  constructor(
    /** The model's entry: its config changes (aliases, labels) are seen at once. */
    private readonly model: { config: ModelConfig },
    readonly info: VersionInfo,
    private readonly runtime: Runtime,
  ) {}

  get name(): string {
    return this.model.config.name;
  }

  get version(): string {
    return String(this.info.version);
  }

  get config(): ServingConfig {
    return servingConfig(this.model.config, this.info);
  }

  /** How requests' inputs are decoded for this model: each datatype exactly when it runs on host arrays (SavedModels). */
  get storage(): Storage {
    return this.loaded?.runHost ? 'exact' : 'tfjs';
  }

  async load(dir: string): Promise<void> {
    if (this.state === 'READY') return;
    this.state = 'LOADING';
    this.reason = undefined;
    try {
      this.adopt(await loadModel(this.runtime, this.config, dir));
    } catch (error) {
      this.state = 'UNAVAILABLE';
      this.reason = `failed to load: ${(error as Error).message}`;
      throw error;
    }
  }

  /** Serves an already loaded model (an upload is loaded once, to check it, and kept). */
  adopt(loaded: LoadedModel): void {
    this.loaded = loaded;
    // Only a leading variable dimension can be batched across requests.
    const batchable = this.config.inputs.every((spec) => spec.shape[0] === -1);
    const batching = this.config.batching ?? DEFAULT_BATCHING;
    this.batcher = new Batcher(batchable ? batching : { ...batching, max_batch_size: 0 }, (batch) => this.runBatch(batch));
    this.warmUp();
    this.state = 'READY';
    this.reason = undefined;
  }

  /**
   * One run on zeros so the first real request does not pay for kernel set-up (tens of ms).
   * A model compiled to a graph already ran at load time (checking it against the layers model).
   */
  private warmUp(): void {
    if (this.loaded?.warm) return;
    const dims = this.config.inputs.map((spec) => spec.shape.slice(1));
    if (dims.some((d) => d.some((n) => n < 0)) || this.config.inputs.some((s) => s.datatype === 'BYTES')) return;
    const inputs = this.config.inputs.map((spec, i): HostTensor => {
      const count = dims[i]!.reduce((n, d) => n * d, 1);
      const dtype = tfDtypeOf(spec.datatype);
      const values = dtype === 'float32' ? new Float32Array(count) : dtype === 'bool' ? new Uint8Array(count) : new Int32Array(count);
      return { datatype: spec.datatype, dtype, shape: [1, ...dims[i]!], values };
    });
    this.execute(this.loaded!, [inputs]);
  }

  unload(): void {
    this.loaded?.dispose();
    this.loaded = undefined;
    this.batcher = undefined;
    this.state = 'UNAVAILABLE';
    this.reason = 'unloaded';
  }

  /** Runs one request (inputs in config order) through the batcher. */
  async infer(inputs: HostTensor[]): Promise<OutputTensor[]> {
    if (this.state !== 'READY' || !this.batcher) {
      throw unavailable(
        `model '${this.name}' version ${this.version} is not ready (${this.reason ?? this.state.toLowerCase()})`,
        1,
        'model_not_ready',
      );
    }
    const batchSize = inputs[0]?.shape[0] ?? 1;
    try {
      return await this.batcher.submit(inputs, batchSize);
    } catch (error) {
      if (error instanceof QueueFullError) {
        throw new HttpError(503, 'overloaded', `model '${this.name}' is overloaded: ${error.message}`, undefined, { 'retry-after': '1' });
      }
      throw error;
    }
  }

  /** Concatenates the requests along the batch axis, runs the model once, and splits the outputs. */
  private runBatch(batch: Pending<HostTensor[], OutputTensor[]>[]): OutputTensor[][] {
    const model = this.loaded;
    if (!model) throw unavailable(`model '${this.name}' version ${this.version} was unloaded`, 1, 'model_not_ready');
    const started = process.hrtime.bigint();
    for (const pending of batch) this.stats.recordQueue(Number(started - pending.enqueuedAt));
    // Requests whose non-batch dimensions differ cannot share a tensor; run each such group apart.
    const groups = new Map<string, Pending<HostTensor[], OutputTensor[]>[]>();
    for (const pending of batch) {
      const key = pending.item.map((t) => t.shape.slice(1).join('x')).join('|');
      groups.set(key, [...(groups.get(key) ?? []), pending]);
    }
    const results = new Map<Pending<HostTensor[], OutputTensor[]>, OutputTensor[]>();
    for (const group of groups.values()) {
      const outputs = this.execute(
        model,
        group.map((p) => p.item),
      );
      let row = 0;
      for (const pending of group) {
        results.set(
          pending,
          outputs.map((o) => sliceRows(o, row, pending.size)),
        );
        row += pending.size;
      }
    }
    const samples = batch.reduce((n, p) => n + p.size, 0);
    this.stats.recordExecution(samples, Number(process.hrtime.bigint() - started));
    return batch.map((p) => results.get(p)!);
  }

  private execute(model: LoadedModel, requests: HostTensor[][]): OutputTensor[] {
    const { tf } = this.runtime;
    const inputCount = requests[0]!.length;
    if (model.runHost) {
      const inputs = Array.from({ length: inputCount }, (_, i): HostTensor => {
        const parts = requests.map((r) => r[i]!);
        const first = parts[0]!;
        if (parts.length === 1) return first;
        const rows = parts.reduce((n, p) => n + (p.shape[0] ?? 1), 0);
        return { ...first, shape: [rows, ...first.shape.slice(1)], values: concatValues(parts.map((p) => p.values)) };
      });
      return model.runHost(inputs);
    }
    const outputs = tf.tidy(() => {
      const tensors: tfTypes.Tensor[] = [];
      for (let i = 0; i < inputCount; i++) {
        const parts = requests.map((r) => r[i]!);
        const first = parts[0]!;
        const rows = parts.reduce((n, p) => n + (p.shape[0] ?? 1), 0);
        const values = parts.length === 1 ? first.values : concatValues(parts.map((p) => p.values));
        tensors.push(tf.tensor(values as never, [rows, ...first.shape.slice(1)], first.dtype));
      }
      return model.run(tensors);
    });
    try {
      // String tensors are read as raw bytes: dataSync() would decode them as UTF-8 and mangle binary BYTES.
      return outputs.map((t) => ({
        shape: t.shape.slice(),
        values: (t.dtype === 'string' ? tf.engine().readSync(t.dataId) : t.dataSync()) as unknown as HostValues,
      }));
    } finally {
      tf.dispose(outputs);
    }
  }
}

function concatValues(parts: HostValues[]): HostValues {
  if (Array.isArray(parts[0])) return (parts as Uint8Array[][]).flat();
  const total = parts.reduce((n, p) => n + (p as Float32Array).length, 0);
  const Ctor = (parts[0] as Float32Array).constructor as new (n: number) => Float32Array;
  const out = new Ctor(total);
  let offset = 0;
  for (const part of parts as Float32Array[]) {
    out.set(part.constructor === Ctor ? part : sameKind(part, out), offset);
    offset += part.length;
  }
  return out;
}

/**
 * A batch may join requests decoded into different arrays (an evaluation's Int32Array beside a
 * request's BigInt64Array for an INT64 SavedModel): `set` cannot mix bigints and numbers.
 */
function sameKind(part: ArrayLike<number | bigint>, like: ArrayLike<number | bigint>): ArrayLike<number> {
  const bigints = like instanceof BigInt64Array || like instanceof BigUint64Array;
  return Array.from(part, (v) => (bigints ? BigInt(Math.trunc(Number(v))) : Number(v))) as ArrayLike<number>;
}

function sliceRows(tensor: OutputTensor, start: number, count: number): OutputTensor {
  const rows = tensor.shape[0] ?? 1;
  const rowSize = rows === 0 ? 0 : (Array.isArray(tensor.values) ? tensor.values.length : (tensor.values as Float32Array).length) / rows;
  const from = start * rowSize;
  const to = (start + count) * rowSize;
  const values = Array.isArray(tensor.values) ? tensor.values.slice(from, to) : (tensor.values as Float32Array).subarray(from, to);
  return { shape: [count, ...tensor.shape.slice(1)], values };
}
