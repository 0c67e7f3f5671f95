/**
 * Dynamic batching: requests that arrive while a batch runs, or within `max_queue_delay_ms` of the
 * first waiting one, are run together, up to `max_batch_size` samples. The delay is only spent
 * under concurrent load (the last batch held more than one request): a lone request runs at once,
 * so batching costs nothing at low load. The queue is bounded; beyond `max_queue_size` waiting
 * samples a request is refused rather than held in memory.
 */
import type { BatchingConfig } from '../registry/model-config';

export interface Pending<Item, Result> {
  item: Item;
  size: number;
  enqueuedAt: bigint;
  resolve(result: Result): void;
  reject(error: unknown): void;
}

export class QueueFullError extends Error {}

export class Batcher<Item, Result> {
  private queue: Pending<Item, Result>[] = [];
  private queuedSamples = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Requests in the last batch: more than one means concurrent traffic, worth waiting for. */
  private lastBatchRequests = 0;

  constructor(
    private readonly config: BatchingConfig,
    /** Runs one batch; returns one result per item, in order. */
    private readonly runBatch: (batch: Pending<Item, Result>[]) => Promise<Result[]> | Result[],
  ) {}

  get waiting(): number {
    return this.queuedSamples;
  }

  submit(item: Item, size: number): Promise<Result> {
    if (this.queuedSamples + size > this.config.max_queue_size && this.queue.length > 0) {
      return Promise.reject(new QueueFullError(`the queue holds ${this.queuedSamples} samples (limit ${this.config.max_queue_size})`));
    }
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ item, size, enqueuedAt: process.hrtime.bigint(), resolve, reject });
      this.queuedSamples += size;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running) return; // the running batch drains the queue when it finishes
    const maxBatch = Math.max(1, this.config.max_batch_size);
    const busy = this.lastBatchRequests > 1;
    if (!busy || this.queuedSamples >= maxBatch || this.config.max_queue_delay_ms <= 0 || maxBatch === 1) {
      this.flush();
    } else {
      this.timer ??= setTimeout(() => this.flush(), this.config.max_queue_delay_ms);
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    // setImmediate lets requests parsed in this turn of the event loop join the batch.
    setImmediate(async () => {
      const maxBatch = Math.max(1, this.config.max_batch_size);
      const batch: Pending<Item, Result>[] = [];
      let samples = 0;
      // Always take the first request, even one larger than max_batch_size on its own.
      while (this.queue.length && (batch.length === 0 || samples + this.queue[0]!.size <= maxBatch)) {
        const next = this.queue.shift()!;
        samples += next.size;
        batch.push(next);
      }
      this.queuedSamples -= samples;
      this.lastBatchRequests = batch.length;
      try {
        const results = await this.runBatch(batch);
        batch.forEach((pending, i) => pending.resolve(results[i]!));
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      } finally {
        this.running = false;
        if (this.queue.length) this.schedule();
      }
    });
  }
}
