import { Transport, type ClientOptions } from './core/transport';
import type { TensorLike } from './core/tensors';
import { ApiKeys } from './resources/api-keys';
import { Health } from './resources/health';
import { Inference } from './resources/inference';
import { Models } from './resources/models';
import { Predictions, type Classification, type PredictOptions, type Prediction } from './resources/predictions';
import { Server } from './resources/server';
import { TrainingJobs } from './resources/training-jobs';
import { Datasets } from './resources/datasets';
import { Evaluations } from './resources/evaluations';
import { ModelSelection } from './resources/selection';
import type { Selection, SelectionParams } from './types';
import type { RequestOptions } from './core/transport';

/**
 * The modelport client. One instance per server; resources hang off it:
 * `client.health.ready()`, `client.models.metadata('digits')`, `client.inference.infer(...)`,
 * and the high-level `client.predict('digits', pixels)`.
 */
export class Modelport {
  readonly health: Health;
  readonly server: Server;
  readonly models: Models;
  readonly inference: Inference;
  readonly apiKeys: ApiKeys;
  readonly trainingJobs: TrainingJobs;
  readonly datasets: Datasets;
  readonly evaluations: Evaluations;
  /** Model selection; `client.select(...)` is the shortcut. */
  readonly selection: ModelSelection;
  /** The underlying transport, for calls the SDK does not wrap yet. */
  readonly transport: Transport;
  private readonly predictions: Predictions;

  constructor(options: ClientOptions = {}) {
    this.transport = new Transport(options);
    this.health = new Health(this.transport);
    this.server = new Server(this.transport);
    this.models = new Models(this.transport);
    this.inference = new Inference(this.transport);
    this.apiKeys = new ApiKeys(this.transport);
    this.trainingJobs = new TrainingJobs(this.transport);
    this.datasets = new Datasets(this.transport);
    this.evaluations = new Evaluations(this.transport);
    this.selection = new ModelSelection(this.transport);
    this.predictions = new Predictions(this.transport);
  }

  get baseUrl(): string {
    return this.transport.baseUrl;
  }

  /**
   * Runs a model on typed arrays, nested arrays or `{ data, shape }` (one input, or inputs by
   * name) and returns decoded tensors, plus `labels` and `classes` for classifiers.
   */
  predict(model: string, inputs: TensorLike | Record<string, TensorLike>, options?: PredictOptions): Promise<Prediction> {
    return this.predictions.predict(model, inputs, options);
  }

  /**
   * `predict` for a classifier: the same call, with `labels` (the top class of each row) and
   * `classes` (the top `topK` of each row, best first) always present in the type. Rejects
   * with a `ModelportError`, before running anything, when the model's metadata has no labels
   * (and after, when its first output is not `[rows, classes]` floats).
   */
  classify(model: string, inputs: TensorLike | Record<string, TensorLike>, options?: PredictOptions): Promise<Classification> {
    return this.predictions.predict(model, inputs, options, true) as Promise<Classification>;
  }

  /**
   * Chooses the model version that best serves a task under constraints (accuracy, p95 latency,
   * size), from figures measured now on the server: `POST /v1/models:select`.
   */
  select(params: SelectionParams, options?: RequestOptions): Promise<Selection> {
    return this.selection.select(params, options);
  }
}
