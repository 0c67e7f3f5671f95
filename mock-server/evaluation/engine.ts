/**
 * Running a model version over a dataset on the real runtime, and timing it. Everything goes
 * through `ServedVersion.infer`, i.e. the version's dynamic batcher, so what is measured is what
 * clients get, and the work shows in the version's statistics (inference and execution counts).
 * Request latency windows are left to real client requests.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Datatype } from 'modelport';
import { HttpError, type ErrorDetail } from '../http/errors';
import type { ServedVersion } from '../serving/version-service';
import type { HostTensor, TfDtype } from '../runtime/tensors';
import { findNonFinite } from '../runtime/finite';
import type { DatasetData } from '../datasets/datasets';
import { ConfusionMatrix, LossAccumulator, argmax, percentile, roundMs, type ClassificationReport } from './metrics';

/** Warm-up requests before timed single-sample requests: the first few pay for kernel set-up and caches. */
export const MAX_WARMUP = 10;
/** How long an evaluation keeps retrying a version whose queue is full (503 overloaded) before failing. */
const OVERLOAD_PATIENCE_MS = 30_000;

/** How one dataset is fed to one version: checked once, before any work. */
export interface InputPlan {
  datatype: Datatype;
  dtype: TfDtype;
  /** Shape of one sample as the model takes it (without the batch dimension). */
  sampleShape: number[];
  /** Dataset class index → model class index. */
  classOf: Int32Array;
  /** The model's class names, in output order. */
  modelLabels: string[];
}

/** Why a version cannot be run on a dataset, as `details`; empty when it can. */
export function planInput(served: ServedVersion, data: DatasetData, where = ''): { plan?: InputPlan; problems: ErrorDetail[] } {
  const { config } = served;
  const problems: ErrorDetail[] = [];
  const name = `${served.name} version ${served.version}`;
  if (config.inputs.length !== 1)
    problems.push({ path: where, message: `${name} takes ${config.inputs.length} inputs; evaluation feeds one tensor per sample` });
  const input = config.inputs[0];
  const output = config.outputs[0];
  if (!input || !output) return { problems: problems.length ? problems : [{ path: where, message: `${name} has no inputs or outputs` }] };
  const datatype = input.datatype;
  if (datatype === 'BYTES' || datatype === 'BOOL')
    problems.push({ path: where, message: `${name}'s input '${input.name}' is ${datatype}; datasets hold numbers` });
  const dims = input.shape.slice(1);
  let sampleShape: number[] | undefined;
  if (input.shape[0] !== -1) {
    problems.push({
      path: where,
      message: `${name}'s input '${input.name}' has shape [${input.shape}]; evaluation needs a variable batch dimension`,
    });
  } else if (dims.every((d) => d > 0)) {
    const elements = dims.reduce((n, d) => n * d, 1);
    if (elements === data.width) sampleShape = dims;
    else
      problems.push({
        path: where,
        message: `${name} takes samples of shape [${dims}] (${elements} elements); dataset '${data.info.name}' records have ${data.width}`,
      });
  } else if (dims.length === data.info.shape.length && dims.every((d, i) => d === -1 || d === data.info.shape[i])) {
    sampleShape = data.info.shape;
  } else {
    problems.push({
      path: where,
      message: `${name} takes samples of shape [${dims}]; dataset '${data.info.name}' samples have shape [${data.info.shape}]`,
    });
  }
  if (datatype.startsWith('INT') || datatype.startsWith('UINT')) {
    const fractional = data.x.findIndex((v) => !Number.isInteger(v));
    if (fractional >= 0)
      problems.push({
        path: where,
        message: `${name}'s input is ${datatype} but the dataset holds non-integers (element ${fractional} is ${data.x[fractional]})`,
      });
  }
  const outputClasses = output.shape.length === 2 ? output.shape[1]! : -1;
  const modelLabels = config.labels?.length
    ? [...config.labels]
    : outputClasses > 0
      ? Array.from({ length: outputClasses }, (_, i) => String(i))
      : [];
  if (output.shape.length !== 2)
    problems.push({
      path: where,
      message: `${name}'s first output has shape [${output.shape}]; evaluation needs one score per class, [-1, classes]`,
    });
  else if (outputClasses > 0 && modelLabels.length !== outputClasses)
    problems.push({ path: where, message: `${name} has ${modelLabels.length} labels but ${outputClasses} output scores` });
  const index = new Map(modelLabels.map((label, i) => [label, i]));
  const missing = data.info.labels.filter((label) => !index.has(label));
  if (modelLabels.length && missing.length) {
    problems.push({
      path: where,
      message: `${name} has no class${missing.length > 1 ? 'es' : ''} '${missing.slice(0, 5).join("', '")}'${missing.length > 5 ? ', …' : ''} of dataset '${data.info.name}' (its labels: ${modelLabels.slice(0, 12).join(', ')}${modelLabels.length > 12 ? ', …' : ''})`,
    });
  }
  if (modelLabels.length === 0)
    problems.push({ path: where, message: `${name} declares no labels and its output does not say how many classes it has` });
  if (problems.length || !sampleShape) return { problems };
  const classOf = Int32Array.from(data.info.labels, (label) => index.get(label)!);
  const dtype: TfDtype = datatype.startsWith('FP') ? 'float32' : 'int32';
  return { plan: { datatype, dtype, sampleShape, classOf, modelLabels }, problems };
}

/** Samples [start, end) of the dataset as the version's one input tensor. */
function inputOf(data: DatasetData, plan: InputPlan, start: number, end: number): HostTensor[] {
  const flat = data.x.slice(start * data.width, end * data.width);
  const values = plan.dtype === 'float32' ? flat : Int32Array.from(flat);
  return [{ datatype: plan.datatype, dtype: plan.dtype, shape: [end - start, ...plan.sampleShape], values }];
}

/** `served.infer`, waiting out a full queue (503 overloaded) for a while: an evaluation is not in a hurry. */
async function inferPatiently(served: ServedVersion, inputs: HostTensor[]) {
  const deadline = Date.now() + OVERLOAD_PATIENCE_MS;
  for (let wait = 10; ; wait = Math.min(wait * 2, 500)) {
    try {
      return await served.infer(inputs);
    } catch (error) {
      if (!(error instanceof HttpError && error.code === 'overloaded') || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

export interface PassResult {
  report: ClassificationReport;
  confusion: number[][];
  loss: number;
  probabilities: 'output' | 'softmax';
  /** Wall milliseconds of each inference call. */
  batchMs: number[];
}

/** Runs every sample through the version in batches and scores the argmax of the first output. */
export async function runPass(
  served: ServedVersion,
  data: DatasetData,
  plan: InputPlan,
  batchSize: number,
  onSamples: (done: number) => void,
): Promise<PassResult> {
  const classes = plan.modelLabels.length;
  const matrix = new ConfusionMatrix(classes);
  const loss = new LossAccumulator();
  const nonFinite = new NonFiniteScores(classes);
  const batchMs: number[] = [];
  const n = data.info.samples;
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const started = process.hrtime.bigint();
    const [scores] = await inferPatiently(served, inputOf(data, plan, start, end));
    batchMs.push(Number(process.hrtime.bigint() - started) / 1e6);
    const values = scores?.values as Float32Array | Int32Array | undefined;
    if (
      !scores ||
      !values ||
      Array.isArray(values) ||
      scores.shape.length !== 2 ||
      scores.shape[0] !== end - start ||
      scores.shape[1] !== classes
    ) {
      throw new EvaluationError(
        'invalid_output',
        `${served.name} version ${served.version} returned scores of shape [${scores?.shape ?? ''}]; expected [${end - start}, ${classes}], one score per class`,
      );
    }
    for (let i = 0; i < end - start; i++) {
      const truth = plan.classOf[data.y[start + i]!]!;
      matrix.add(truth, argmax(values, i * classes, classes));
      loss.add(values, i * classes, classes, truth);
    }
    nonFinite.add(values, start);
    onSamples(end);
  }
  const result = loss.result();
  // JSON has no NaN: a loss that is not a number fails the evaluation, naming where it came from.
  if (!Number.isFinite(result.loss)) throw nonFinite.error(served, plan.modelLabels, result.loss);
  return { report: matrix.report(plan.modelLabels), confusion: matrix.counts, ...result, batchMs };
}

/** Where the first NaN or ±Infinity score of a pass was, and how many there were. */
class NonFiniteScores {
  private first: { sample: number; label: number; value: number } | undefined;
  private count = 0;
  private scores = 0;

  constructor(private readonly classes: number) {}

  add(values: ArrayLike<number>, firstSample: number): void {
    this.scores += values.length;
    const found = findNonFinite(values);
    if (!found) return;
    this.count += found.count;
    this.first ??= {
      sample: firstSample + Math.floor(found.index / this.classes),
      label: found.index % this.classes,
      value: found.value,
    };
  }

  error(served: ServedVersion, labels: string[], loss: number): EvaluationError {
    const output = served.config.outputs[0]?.name ?? 'output 0';
    const where = this.first
      ? `: output '${output}' scores sample ${this.first.sample} as ${this.first.value} for class '${labels[this.first.label]}' (${this.count} of ${this.scores} scores are not finite)`
      : '';
    return new EvaluationError('non_finite_output', `${served.name} version ${served.version}'s loss is ${loss}${where}`);
  }
}

export interface LatencyProbe {
  served: ServedVersion;
  /** How many single-sample requests to time. */
  count: number;
  /** The i-th sample (0 ≤ i < count) as the version's inputs. */
  sample: (i: number) => HostTensor[];
}

export interface SampleLatency {
  p50: number;
  p95: number;
  samples: number;
  warmup: number;
}

/** Samples of a dataset as latency probe inputs. */
export function datasetSamples(data: DatasetData, plan: InputPlan): (i: number) => HostTensor[] {
  return (i) => inputOf(data, plan, i, i + 1);
}

/**
 * Times single-sample requests, one at a time (as a client sending one request at a time sees
 * them, batching delay included), after `min(count, MAX_WARMUP)` untimed ones. With several
 * probes the requests take turns (A1 B1 A2 B2 …), so a burst of load on the machine slows every
 * candidate alike instead of deciding a comparison by when it happened. A probe whose requests
 * fail stops there and gets its error instead of figures; the others go on.
 */
export async function measureLatency(probes: LatencyProbe[], onRequest: () => void = () => {}): Promise<(SampleLatency | Error)[]> {
  const warmups = probes.map((p) => Math.min(p.count, MAX_WARMUP));
  const times: number[][] = probes.map(() => []);
  const failed: (Error | undefined)[] = probes.map(() => undefined);
  const rounds = Math.max(0, ...probes.map((p, k) => p.count + warmups[k]!));
  for (let round = 0; round < rounds; round++) {
    for (const [k, probe] of probes.entries()) {
      if (failed[k] || round >= probe.count + warmups[k]!) continue;
      const timed = round >= warmups[k]!;
      const inputs = probe.sample(timed ? round - warmups[k]! : round);
      const started = process.hrtime.bigint();
      try {
        await inferPatiently(probe.served, inputs);
      } catch (error) {
        failed[k] = error as Error;
        continue;
      }
      if (timed) times[k]!.push(Number(process.hrtime.bigint() - started) / 1e6);
      onRequest();
    }
  }
  return times.map((all, k) => failed[k] ?? { ...percentiles(all), samples: all.length, warmup: warmups[k]! });
}

/** Bytes of a version's artifacts on disk: every file in its folder but version.json (the registry's own record). */
export async function artifactBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (path.relative(dir, file) === 'version.json') continue;
    total += (await stat(file)).size;
  }
  return total;
}

/** A failure that ends an evaluation with a reason the API names. */
export class EvaluationError extends Error {
  constructor(
    readonly reason: 'interrupted' | 'model_unavailable' | 'dataset_unavailable' | 'invalid_output' | 'non_finite_output' | 'internal',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Runs measurement work (evaluation jobs and selections) one at a time: two of them at once on a
 * 2-core machine would inflate each other's latency figures.
 */
export class MeasurementQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.tail.then(work, work);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export function percentiles(values: number[]): { p50: number; p95: number } {
  return { p50: roundMs(percentile(values, 0.5)), p95: roundMs(percentile(values, 0.95)) };
}
