/**
 * What a training job would cost, estimated from its request before it is queued: parameters,
 * memory of the worker process and work (multiply-adds), each against a configurable budget, so a
 * request for 2.7e11 parameters is a 413 naming the estimate and the limit, not a worker that
 * allocates until the machine gives out. Also how many jobs may wait or run, per key and in all.
 */
import type { components } from 'modelport';
import { HttpError } from '../http/errors';

type Layer = components['schemas']['Layer'];
type TrainingJobCreate = components['schemas']['TrainingJobCreate'];
type Architecture = NonNullable<TrainingJobCreate['architecture']>;

export interface TrainingLimits {
  /** Trainable and non-trainable parameters of the model (default 50,000,000). */
  maxTrainingParams: number;
  /** Estimated memory of the training worker: weights, gradients, optimizer slots, one batch's activations, the dataset (default 2 GiB). */
  maxTrainingMemoryBytes: number;
  /** Multiply-adds per sample × samples × epochs (default 1e12, some minutes of CPU). */
  maxTrainingWork: number;
  /** Epochs one job may ask for (default 200). */
  maxTrainingEpochs: number;
  /** Jobs queued or running on the server (default 64). */
  maxTrainingJobs: number;
  /** Jobs queued or running that one API key created (default 8). */
  maxTrainingJobsPerKey: number;
}

export const DEFAULT_TRAINING_LIMITS: TrainingLimits = {
  maxTrainingParams: 50_000_000,
  maxTrainingMemoryBytes: 2 * 1024 ** 3,
  maxTrainingWork: 1e12,
  maxTrainingEpochs: 200,
  maxTrainingJobs: 64,
  maxTrainingJobsPerKey: 8,
};

/** The limits with their defaults, from the server options. */
export function trainingLimits(options: Partial<TrainingLimits>): TrainingLimits {
  const limits = { ...DEFAULT_TRAINING_LIMITS };
  for (const name of Object.keys(limits) as (keyof TrainingLimits)[]) limits[name] = options[name] ?? limits[name];
  return limits;
}

export interface TrainingEstimate {
  params: number;
  memoryBytes: number;
  /** Multiply-adds of one pass over one sample × samples × epochs. */
  work: number;
}

/** What the job is trained on, as the request checks found it. */
export interface TrainingData {
  samples: number;
  features: number;
}

const BYTES_PER_NUMBER = 4; // float32
/** Copies of the weights training keeps besides them: gradients, and the optimizer's slots. */
const OPTIMIZER_SLOTS: Record<string, number> = { sgd: 0, momentum: 1, adagrad: 1, rmsprop: 2, adam: 2 };

/** A new model's estimate, from its architecture and input shape (without the batch dimension). */
export function estimateArchitecture(request: TrainingJobCreate, architecture: Architecture, data: TrainingData): TrainingEstimate {
  let shape = architecture.input.shape;
  let params = 0;
  let macs = 0;
  let activations = 0;
  for (const layer of architecture.layers) {
    const cost = layerCost(layer, shape);
    // A layer that cannot take its input fails the job when the worker builds it; nothing after it is built.
    if (!cost) break;
    params += cost.params;
    macs += cost.macs;
    activations += product(cost.output) + (cost.internal ?? 0);
    shape = cost.output;
  }
  return finish(request, data, params, macs, activations);
}

/** Fine-tuning: the base version's parameters (from its record, else its size), one multiply-add each per sample. */
export function estimateFineTuning(
  request: TrainingJobCreate,
  base: { params?: number; size_bytes?: number },
  data: TrainingData,
): TrainingEstimate {
  const params = base.params ?? Math.ceil((base.size_bytes ?? 0) / BYTES_PER_NUMBER);
  return finish(request, data, params, params, 0);
}

function finish(request: TrainingJobCreate, data: TrainingData, params: number, macs: number, activations: number): TrainingEstimate {
  const batch = Math.min(request.batch_size ?? 32, data.samples);
  const copies = 2 + (OPTIMIZER_SLOTS[request.optimizer.name] ?? 2);
  const numbers = params * copies + 2 * batch * activations + 2 * data.samples * data.features;
  return { params, memoryBytes: numbers * BYTES_PER_NUMBER, work: macs * data.samples * request.epochs };
}

/** Refuses the job (413 `training_too_large`) when an estimate or its epochs pass the budget. */
export function checkBudget(request: TrainingJobCreate, estimate: TrainingEstimate, limits: TrainingLimits): void {
  if (request.epochs > limits.maxTrainingEpochs) {
    throw tooLarge(
      `epochs ${count(request.epochs)} exceeds the limit of ${count(limits.maxTrainingEpochs)} (--max-training-epochs)`,
      '/epochs',
    );
  }
  if (estimate.params > limits.maxTrainingParams) {
    throw tooLarge(
      `the model would have ${count(estimate.params)} parameters; the limit is ${count(limits.maxTrainingParams)} (--max-training-params)`,
      request.architecture ? '/architecture/layers' : '/base_version',
    );
  }
  if (estimate.memoryBytes > limits.maxTrainingMemoryBytes) {
    throw tooLarge(
      `training would need about ${mib(estimate.memoryBytes)} of memory (weights, gradients, optimizer state, a batch's activations, the dataset); the limit is ${mib(limits.maxTrainingMemoryBytes)} (--max-training-memory-mb)`,
      request.batch_size !== undefined ? '/batch_size' : '/architecture/layers',
    );
  }
  if (estimate.work > limits.maxTrainingWork) {
    throw tooLarge(
      `training would take about ${estimate.work.toExponential(2)} multiply-adds (per sample × samples × epochs); the limit is ${limits.maxTrainingWork.toExponential(2)} (--max-training-work)`,
      '/epochs',
    );
  }
}

function tooLarge(message: string, path: string): HttpError {
  return new HttpError(413, 'training_too_large', message, [{ path, message: 'over the training budget' }]);
}

// ---- layers ----

interface LayerCost {
  params: number;
  /** Multiply-adds of the forward pass for one sample. */
  macs: number;
  output: number[];
  /** Numbers a layer keeps per sample besides its output (an LSTM's gates at every step). */
  internal?: number;
}

/** A layer's parameters, work and output shape for `input` (no batch dimension); undefined when it cannot take that input. */
export function layerCost(layer: Layer, input: number[]): LayerCost | undefined {
  const last = input.at(-1) ?? 0;
  switch (layer.type) {
    case 'dense': {
      const units = layer.units ?? 0;
      return {
        params: last * units + (layer.use_bias === false ? 0 : units),
        macs: product(input) * units,
        output: [...input.slice(0, -1), units],
      };
    }
    case 'conv2d': {
      if (input.length !== 3) return undefined;
      const [kh, kw] = pair(layer.kernel_size ?? 1);
      const [sh, sw] = pair(layer.strides ?? 1);
      const filters = layer.filters ?? 0;
      const same = layer.padding === 'same';
      const out = [outputSize(input[0]!, kh, sh, same), outputSize(input[1]!, kw, sw, same)];
      if (out[0]! < 1 || out[1]! < 1) return undefined;
      return {
        params: kh * kw * last * filters + filters,
        macs: out[0]! * out[1]! * kh * kw * last * filters,
        output: [out[0]!, out[1]!, filters],
      };
    }
    case 'maxPooling2d': {
      if (input.length !== 3) return undefined;
      const [ph, pw] = pair(layer.pool_size ?? 2);
      const [sh, sw] = layer.strides === undefined ? [ph, pw] : pair(layer.strides);
      const out = [outputSize(input[0]!, ph, sh, false), outputSize(input[1]!, pw, sw, false)];
      if (out[0]! < 1 || out[1]! < 1) return undefined;
      return { params: 0, macs: out[0]! * out[1]! * ph * pw * last, output: [out[0]!, out[1]!, last] };
    }
    case 'flatten':
      return { params: 0, macs: 0, output: [product(input)] };
    case 'dropout':
      return { params: 0, macs: product(input), output: input };
    case 'batchNormalization':
      return { params: 4 * last, macs: 2 * product(input), output: input };
    case 'embedding': {
      const dim = layer.output_dim ?? 0;
      return { params: (layer.input_dim ?? 0) * dim, macs: product(input) * dim, output: [...input, dim] };
    }
    case 'lstm': {
      if (input.length !== 2) return undefined;
      const units = layer.units ?? 0;
      const steps = input[0]!;
      const perStep = 4 * units * (last + units);
      return {
        params: 4 * (units * (last + units) + units),
        macs: steps * perStep,
        output: layer.return_sequences ? [steps, units] : [units],
        internal: steps * 6 * units,
      };
    }
  }
}

function outputSize(size: number, window: number, stride: number, same: boolean): number {
  return same ? Math.ceil(size / stride) : Math.floor((size - window) / stride) + 1;
}

function pair(value: number | number[]): [number, number] {
  return typeof value === 'number' ? [value, value] : [value[0] ?? 1, value[1] ?? value[0] ?? 1];
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function mib(bytes: number): string {
  return `${count(Math.ceil(bytes / 1024 ** 2))} MiB`;
}
