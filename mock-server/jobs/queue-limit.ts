/**
 * How many jobs of one kind (training jobs, evaluations) may be queued or running, per API key and
 * on the server. Beyond, 429 `too_many_jobs` naming the cap and its flag: a burst of requests
 * cannot queue hours of work or fill the data dir with job records.
 */
import { HttpError } from '../http/errors';
import { isFinal } from './lifecycle';
import type { JobEvent } from './event-log';
import type { JobRecord, JobStore } from './store';

export interface QueueCaps {
  /** Jobs queued or running on the server. */
  all: number;
  /** Jobs queued or running that one API key created. */
  perKey: number;
}

/** Seconds a client refused for a full queue is told to wait: about one small job. */
const RETRY_SECONDS = 30;

export class JobQueueLimit<J extends JobRecord & { owner?: string }, E extends JobEvent> {
  /** Jobs accepted and being saved (a store lists a job only once it is saved): id → owner. */
  private readonly creating = new Map<string, string>();

  constructor(
    private readonly store: JobStore<J, E>,
    /** e.g. `training jobs`, as messages name them. */
    private readonly kind: string,
    private readonly caps: QueueCaps,
    /** The flags that set `all` and `perKey`, as messages name them. */
    private readonly flags: { all: string; perKey: string },
  ) {}

  /**
   * Saves `job` (queued, so the store runs it in its turn) if its owner and the server have a place
   * left, else throws 429. Jobs not yet final hold a place; a job being saved counts once.
   */
  async admit(job: J & { owner: string }): Promise<J> {
    const { id, owner } = job;
    const holders = new Map(this.creating);
    for (const saved of this.store.list()) if (!isFinal(saved.status)) holders.set(saved.id, saved.owner ?? '');
    let mine = 0;
    for (const holder of holders.values()) if (holder === owner) mine += 1;
    if (mine >= this.caps.perKey)
      throw this.refuse(
        `this key has ${mine} ${this.kind} queued or running; the limit is ${this.caps.perKey} per key (--${this.flags.perKey})`,
      );
    if (holders.size >= this.caps.all)
      throw this.refuse(
        `the server has ${holders.size} ${this.kind} queued or running; the limit is ${this.caps.all} (--${this.flags.all})`,
      );
    this.creating.set(id, owner);
    try {
      return await this.store.create(job);
    } finally {
      this.creating.delete(id);
    }
  }

  private refuse(message: string): HttpError {
    return new HttpError(429, 'too_many_jobs', `${message}; retry when one ends`, undefined, { 'retry-after': String(RETRY_SECONDS) });
  }
}
