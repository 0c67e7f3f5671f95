import { randomId } from '../core/ids';
import { PagePromise, type ListParams } from '../core/pagination';
import { path } from '../core/path';
import { APIResource } from '../core/resource';
import type { RequestOptions } from '../core/transport';
import { ModelportError, TimeoutError } from '../errors';
import type { Evaluation, EvaluationCreateParams, EvaluationListParams, EvaluationSummary } from '../types';

/** An evaluation that ended `failed`; `evaluation.failure` says why (e.g. `interrupted`). */
export class EvaluationFailedError extends ModelportError {
  override name = 'EvaluationFailedError';
  /** Why it failed: `interrupted`, `model_unavailable`, `dataset_unavailable`, `invalid_output` or `internal`. */
  readonly reason: string | undefined;

  constructor(readonly evaluation: Evaluation) {
    super(
      `evaluation ${evaluation.id} failed (${evaluation.failure?.reason ?? 'unknown'}): ${evaluation.failure?.message ?? 'no reason given'}`,
    );
    this.reason = evaluation.failure?.reason;
  }
}

export interface EvaluationWaitOptions extends RequestOptions {
  /** First pause between polls in ms (default 200); it grows by half each poll. */
  pollInterval?: number | undefined;
  /** Longest pause between polls in ms (default 2,000). */
  maxPollInterval?: number | undefined;
  /** Give up (TimeoutError) after this many ms in all (default: wait as long as it takes). */
  maxWait?: number | undefined;
  /** Called with the job after every poll, e.g. to show `progress`. */
  onProgress?: ((evaluation: Evaluation) => void) | undefined;
}

/** A job with its live helper (not part of its JSON). */
export type EvaluationRun = Evaluation & {
  /** Resolves with the succeeded evaluation; rejects with EvaluationFailedError when it failed. */
  wait(options?: EvaluationWaitOptions): Promise<Evaluation>;
};

/** Evaluation jobs: model versions measured on a dataset (metrics, latency, size). */
export class Evaluations extends APIResource {
  /** Starts an evaluation (202, queued); `await (await create(...)).wait()` for the results. */
  async create(params: EvaluationCreateParams, options: RequestOptions = {}): Promise<EvaluationRun> {
    const evaluation = await this.transport.json<Evaluation>({
      method: 'POST',
      path: 'v1/evaluations',
      json: params,
      ...options,
      idempotencyKey: options?.idempotencyKey ?? randomId(),
    });
    return this.withHelpers(evaluation);
  }

  async get(id: string, options?: RequestOptions): Promise<EvaluationRun> {
    return this.withHelpers(await this.transport.json<Evaluation>({ method: 'GET', path: path`v1/evaluations/${id}`, ...options }));
  }

  /** One page (`await`), or every evaluation (`for await`), newest first. */
  list(params: EvaluationListParams = {}, options?: RequestOptions): PagePromise<Evaluation> {
    return new PagePromise((after) =>
      this.transport.json({ method: 'GET', path: 'v1/evaluations', query: { ...params, after }, ...options }),
    );
  }

  /** The succeeded evaluations of one version, newest first, as summaries. */
  listForVersion(
    model: string,
    version: number,
    params: ListParams<'listVersionEvaluations'> = {},
    options?: RequestOptions,
  ): PagePromise<EvaluationSummary> {
    return new PagePromise((after) =>
      this.transport.json({
        method: 'GET',
        path: path`v1/models/${model}/versions/${version}/evaluations`,
        query: { ...params, after },
        ...options,
      }),
    );
  }

  /**
   * Polls until the job ends, pausing longer each time (200 ms growing by half, up to 2 s):
   * the succeeded evaluation, or EvaluationFailedError when it failed.
   */
  async wait(id: string, options: EvaluationWaitOptions = {}): Promise<Evaluation> {
    const { pollInterval = 200, maxPollInterval = 2_000, maxWait, onProgress, ...requestOptions } = options;
    const deadline = maxWait === undefined ? Infinity : Date.now() + maxWait;
    for (let pause = pollInterval; ; pause = Math.min(maxPollInterval, pause * 1.5)) {
      const evaluation = await this.transport.json<Evaluation>({ method: 'GET', path: path`v1/evaluations/${id}`, ...requestOptions });
      onProgress?.(evaluation);
      if (evaluation.status === 'succeeded') return evaluation;
      if (evaluation.status === 'failed') throw new EvaluationFailedError(evaluation);
      if (Date.now() + pause > deadline)
        throw new TimeoutError(`evaluation ${id} is still ${evaluation.status} (progress ${evaluation.progress}) after ${maxWait} ms`);
      await sleep(pause, requestOptions.signal);
    }
  }

  private withHelpers(evaluation: Evaluation): EvaluationRun {
    return Object.defineProperty(evaluation, 'wait', {
      value: (options?: EvaluationWaitOptions) => this.wait(evaluation.id, options),
      enumerable: false,
    }) as EvaluationRun;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
