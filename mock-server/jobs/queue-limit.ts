/**
 * How many jobs of one kind (training jobs, evaluations) may be queued or running, per API key and
 * on the server. Beyond, 429 `too_many_jobs` naming the cap and its flag: a burst of requests
 * cannot queue hours of work or fill the data dir with job records.
 */
import { HttpError } from '../http/errors';

export interface QueueCaps {
  /** Jobs queued or running on the server. */
  all: number;
  /** Jobs queued or running that one API key created. */
  perKey: number;
}

/** Seconds a client refused for a full queue is told to wait: about one small job. */
const RETRY_SECONDS = 30;

export class JobQueueLimit {
  /** Jobs accepted and being saved (a store lists a job only once it is saved): id → owner. */
  private readonly creating = new Map<string, string>();

  constructor(
    /** e.g. `training jobs`, as messages name them. */
    private readonly kind: string,
    private readonly caps: QueueCaps,
    /** The flags that set `all` and `perKey`, as messages name them. */
    private readonly flags: { all: string; perKey: string },
  ) {}

  /**
   * Runs `create` with a place held for `owner`, or throws 429 when the owner or the server has
   * none left. `unfinished` are the saved jobs not yet final; a job being saved counts once.
   */
  async reserve<T>(id: string, owner: string, unfinished: Iterable<{ id: string; owner?: string }>, create: () => Promise<T>): Promise<T> {
    const holders = new Map(this.creating);
    for (const job of unfinished) holders.set(job.id, job.owner ?? '');
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
      return await create();
    } finally {
      this.creating.delete(id);
    }
  }

  private refuse(message: string): HttpError {
    return new HttpError(429, 'too_many_jobs', `${message}; retry when one ends`, undefined, { 'retry-after': String(RETRY_SECONDS) });
  }
}
