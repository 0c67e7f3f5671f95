import { Transport, type ClientOptions } from './core/transport';
import type { TensorLike } from './core/tensors';
import { ApiKeys } from './resources/api-keys';
import { Health } from './resources/health';
import { Inference } from './resources/inference';
import { Models } from './resources/models';
import { Predictions, type PredictOptions, type Prediction } from './resources/predictions';
import { Server } from './resources/server';

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
}
