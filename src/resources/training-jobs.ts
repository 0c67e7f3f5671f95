import { randomId } from '../core/ids';
import { PagePromise, type ListParams } from '../core/pagination';
import { path } from '../core/path';
import { APIResource } from '../core/resource';
import { readEvents } from '../core/sse';
import type { RequestOptions } from '../core/transport';
import { ConnectionError, ModelportError, TrainingJobError, UnexpectedResponseError } from '../errors';
import type { TrainingEvent, TrainingJob, TrainingJobCreateParams, TrainingJobStatus } from '../types';

const TERMINAL: TrainingJobStatus[] = ['succeeded', 'failed', 'cancelled'];

/** A job with its live helpers (not part of its JSON). */
export type TrainingJobRun = TrainingJob & {
  /** Resolves with the finished job when it succeeds; rejects with TrainingJobError otherwise. */
  wait(options?: RequestOptions): Promise<TrainingJob>;
  /** Every event of the job from the start, then live ones until it ends. */
  events(options?: RequestOptions): AsyncGenerator<TrainingEvent>;
};

/** Training jobs: train a new model or fine-tune a version, with progress as events. */
export class TrainingJobs extends APIResource {
  async create(params: TrainingJobCreateParams, options: RequestOptions = {}): Promise<TrainingJobRun> {
    const job = await this.transport.json<TrainingJob>({
      method: 'POST',
      path: 'v1/training-jobs',
      json: params,
      ...options,
      idempotencyKey: options?.idempotencyKey ?? randomId(),
    });
    return this.withHelpers(job);
  }

  async get(id: string, options?: RequestOptions): Promise<TrainingJobRun> {
    return this.withHelpers(await this.transport.json<TrainingJob>({ method: 'GET', path: path`v1/training-jobs/${id}`, ...options }));
  }

  list(params: ListParams<'listTrainingJobs'> = {}, options?: RequestOptions): PagePromise<TrainingJob> {
    return new PagePromise((after) =>
      this.transport.json({ method: 'GET', path: 'v1/training-jobs', query: { ...params, after }, ...options }),
    );
  }

  /** Queued jobs are dropped; a running one stops after its current batch. */
  cancel(id: string, options?: RequestOptions): Promise<TrainingJob> {
    return this.transport.json({
      method: 'POST',
      path: path`v1/training-jobs/${id}/cancel`,
      ...options,
      idempotencyKey: options?.idempotencyKey ?? randomId(),
    });
  }

  /** The job's events from the start (replayed), then live; reconnects after a dropped connection. */
  async *events(id: string, options: RequestOptions = {}): AsyncGenerator<TrainingEvent> {
    let lastSeq = 0;
    for (let reconnects = 0; ; ) {
      const response = await this.transport.send({
        method: 'GET',
        path: path`v1/training-jobs/${id}/events`,
        ...options,
        // A stream may run for a long time: the per-attempt timeout must not cut it.
        timeout: options.timeout ?? 24 * 60 * 60 * 1000,
        headers: { accept: 'text/event-stream', ...(lastSeq ? { 'last-event-id': String(lastSeq) } : {}), ...options.headers },
      });
      try {
        for await (const message of readEvents(response.body!)) {
          const event = JSON.parse(message.data) as TrainingEvent;
          lastSeq = event.seq;
          yield event;
          if ((TERMINAL as string[]).includes(event.type)) return;
        }
      } catch (error) {
        if (options.signal?.aborted) throw error;
        if (++reconnects > (options.maxRetries ?? 2)) throw streamFailure(error, id, response);
      }
    }
  }

  /** Waits for the job to end: the finished job, or TrainingJobError when it failed (`job.failure` says why) or was cancelled. */
  async wait(id: string, options: RequestOptions = {}): Promise<TrainingJob> {
    for await (const _event of this.events(id, options)) {
      // drain until the terminal event
    }
    const job = await this.transport.json<TrainingJob>({ method: 'GET', path: path`v1/training-jobs/${id}`, ...options });
    if (job.status !== 'succeeded') throw new TrainingJobError(`training job ${id} ${job.status}${job.error ? `: ${job.error}` : ''}`, job);
    return job;
  }

  private withHelpers(job: TrainingJob): TrainingJobRun {
    return Object.defineProperties(job, {
      wait: { value: (options?: RequestOptions) => this.wait(job.id, options), enumerable: false },
      events: { value: (options?: RequestOptions) => this.events(job.id, options), enumerable: false },
    }) as TrainingJobRun;
  }
}

/**
 * How an event stream that kept failing after its reconnects is reported: an event that is not
 * JSON is an UnexpectedResponseError; a stream that broke (fetch's TypeError "terminated") a
 * ConnectionError.
 */
function streamFailure(error: unknown, id: string, response: Response): ModelportError {
  if (error instanceof ModelportError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  if (error instanceof SyntaxError) {
    return new UnexpectedResponseError(`training job ${id}: an event is not JSON (${reason})`, {
      status: response.status,
      headers: response.headers,
      requestId: response.headers.get('x-request-id') ?? undefined,
      cause: error,
    });
  }
  return new ConnectionError(`training job ${id}: the event stream broke: ${reason}`, { cause: error });
}
