/**
 * The job store of every kind of job (training jobs, evaluations): one folder per kind, a record
 * per job (`<id>.json`, rewritten atomically at every change) and, for kinds with event streams,
 * an append-only history (`<id>.events.jsonl`). Jobs run one at a time, oldest first; the kind
 * supplies the runner. A job is shown only as saved, so a kill never undoes what a client saw;
 * at start-up a job the last process was running is `failed` (`interrupted`) and queued jobs run.
 */
import { appendFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { conflict, type HttpError } from '../http/errors';
import { sweep, writeFileAtomic } from '../registry/atomic';
import { eventLine, readEventLog, type JobEvent } from './event-log';
import { INTERRUPTED, STATUSES, advance, isFinal, type FinalStatus, type JobFailure, type JobPhase, type JobStatus } from './lifecycle';

/** What the store reads and writes of every job record; the rest is the kind's. */
export interface JobRecord {
  id: string;
  status: JobStatus;
  created_at: string;
  started_at?: string;
  finished_at?: string;
  failure?: JobFailure;
}

/** Why the store aborts a run (the signal's reason): a cancel, the test controls' reset, the server stopping. */
export type StopReason = 'cancel' | 'reset' | 'close';

/** An event as a runner gives it: the store numbers and dates it. */
export type EventBody<E> = E extends unknown ? Omit<E, 'seq' | 'at'> : never;

/** How a run ended, as its runner reports it. */
export type Ending<J, E = JobEvent> =
  | { status: 'succeeded'; record?: Partial<J>; event?: Partial<E> }
  | { status: 'failed'; failure: JobFailure }
  | { status: 'cancelled'; event?: Partial<E> };

/** What a runner gets for the job it runs. */
export interface JobRun<J extends JobRecord, E extends JobEvent = JobEvent> {
  /** The job as this process has it: read it, change it through `update` and `set`. */
  readonly job: Readonly<J>;
  /** Aborted, with a StopReason, when the job is cancelled or the store resets or closes. */
  readonly signal: AbortSignal;
  /** A folder for the run's files: absent when the run starts, removed when it ends and at start-up. */
  readonly scratch: string;
  /** Marks the job running (saved); false when it was cancelled or the store stopped meanwhile: return then. */
  start(): Promise<boolean>;
  /** Changes the job and saves it; shown once saved. */
  update(patch: Partial<J>): Promise<void>;
  /** Changes the job without saving it: shown at once for the kind's live fields, else with the next save. */
  set(patch: Partial<J>): void;
  /** Adds an event to the job's history; subscribers get it once written. */
  emit(event: EventBody<E>): Promise<void>;
}

export interface JobKind<J extends JobRecord, E extends JobEvent> {
  /** The 404 for an id no job has. */
  notFound(id: string): HttpError;
  /** Whether jobs keep an event history, for their event streams. */
  events: boolean;
  /** Fields shown as they change rather than once saved: progress, which costs nothing to lose. */
  live?: readonly (keyof J)[];
  /**
   * Runs one job. Failures it expects end as `failed` with the kind's reason; undefined means it
   * stopped because its signal was aborted or `start()` said so.
   */
  run(run: JobRun<J, E>): Promise<Ending<J, E> | undefined>;
}

interface Entry<J, E> {
  phase: JobPhase;
  /** The job as this process has it. */
  record: J;
  /** The job as last saved: what the API shows. */
  saved?: J;
  /** The job's writes, record and events, one after another: the files always end with the newest. */
  writes: Promise<void>;
  /** The events written so far. */
  events: E[];
  nextSeq: number;
  listeners: Set<(event: E) => void>;
}

const RESET_MESSAGE = 'the server was reset';

export class JobStore<J extends JobRecord, E extends JobEvent = JobEvent> {
  private readonly entries = new Map<string, Entry<J, E>>();
  private active: { entry: Entry<J, E>; controller: AbortController; done: Promise<void> } | undefined;
  /** `open` runs jobs; `resetting` runs none until the reset is done; `closed` none again. */
  private mode: 'open' | 'resetting' | 'closed' = 'open';
  /** The reset under way: new jobs wait for it, so that it cannot delete their files. */
  private resetting: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly kind: JobKind<J, E>,
  ) {}

  /** Loads the stored jobs, ends the ones the last process was running, and starts the queue. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    // What a kill left: temporaries of records, and scratch folders of runs.
    await sweep(this.dir);
    for (const name of (await readdir(this.dir)).filter((f) => f.endsWith('.out')))
      await rm(path.join(this.dir, name), { recursive: true, force: true });
    for (const file of (await readdir(this.dir)).filter((f) => f.endsWith('.json'))) {
      let record: J;
      try {
        record = JSON.parse(await readFile(path.join(this.dir, file), 'utf8')) as J;
        if (!STATUSES.includes(record.status)) throw new Error(`unknown status '${record.status}'`);
      } catch (error) {
        // Records are written atomically, so this is a hand-edited file: skip it, serve the rest.
        console.warn(`[modelport] skipping job record ${path.join(this.dir, file)}: ${(error as Error).message}`);
        continue;
      }
      const events = this.kind.events ? await readEventLog<E>(this.eventFile(record.id)) : [];
      const entry: Entry<J, E> = {
        phase: record.status,
        record,
        saved: structuredClone(record),
        writes: Promise.resolve(),
        events,
        nextSeq: events.length + 1,
        listeners: new Set(),
      };
      this.entries.set(record.id, entry);
      // A kill between writing a new job and its first event leaves the job without it.
      if (this.kind.events && events.length === 0) await this.emit(entry, { type: 'queued' } as EventBody<E>, record.created_at);
      if (entry.phase === 'running') await this.finish(entry, { status: 'failed', failure: INTERRUPTED });
    }
    this.pump();
  }

  /** Saves a new job (queued) with its first event, then queues it; the job as saved. */
  async create(record: J): Promise<J> {
    await this.resetting;
    const accepted = structuredClone(record);
    const entry: Entry<J, E> = { phase: 'creating', record, writes: Promise.resolve(), events: [], nextSeq: 1, listeners: new Set() };
    this.entries.set(record.id, entry);
    try {
      // Accepted only once on disk: a 202 promises that a restart will still know the job.
      await this.save(entry);
      if (this.kind.events) await this.emit(entry, { type: 'queued' } as EventBody<E>);
    } catch (error) {
      if (this.entries.get(record.id) === entry) this.entries.delete(record.id);
      throw error;
    }
    if (entry.phase !== 'creating') return accepted; // a reset meanwhile ended and forgot it
    entry.phase = advance(entry.phase, 'queued');
    this.pump();
    return entry.saved!;
  }

  get(id: string): J {
    return this.view(this.visible(id));
  }

  /** Newest first. */
  list(): J[] {
    return [...this.entries.values()]
      .filter((e) => e.saved)
      .map((e) => this.view(e))
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
  }

  /** A queued job ends now; a running one is asked to stop (its runner decides how it ends). */
  async cancel(id: string): Promise<J> {
    const entry = this.visible(id);
    if (isFinal(entry.phase))
      throw conflict(`job ${id} has already ${entry.phase === 'succeeded' ? 'succeeded' : `ended (${entry.phase})`}`, 'job_finished');
    if (entry.phase === 'running') {
      entry.phase = advance(entry.phase, 'cancelling');
      this.active?.controller.abort('cancel' satisfies StopReason);
    } else if (entry.phase === 'queued' || entry.phase === 'starting') {
      if (this.active?.entry === entry) this.active.controller.abort('cancel' satisfies StopReason);
      await this.finish(entry, { status: 'cancelled' });
    }
    return this.get(id);
  }

  /** Written events after `afterSeq`, then live ones; returns an unsubscribe function. */
  subscribe(id: string, afterSeq: number, listener: (event: E) => void): () => void {
    const entry = this.visible(id);
    for (const event of entry.events) if (event.seq > afterSeq) listener(event);
    entry.listeners.add(listener);
    return () => entry.listeners.delete(listener);
  }

  /**
   * Test-control reset: every job is forgotten and its files deleted. The running job is stopped
   * first (what its runner has under way lands before this returns), and jobs not yet ended end
   * `cancelled`, so event streams that follow them see a last event and close.
   */
  async reset(): Promise<void> {
    await this.resetting; // one reset at a time
    this.mode = 'resetting';
    this.resetting = (async () => {
      this.active?.controller.abort('reset' satisfies StopReason);
      await this.active?.done;
      for (const entry of this.entries.values()) if (!isFinal(entry.phase)) this.endUnsaved(entry, 'cancelled', { error: RESET_MESSAGE });
      const entries = [...this.entries.values()];
      this.entries.clear(); // writes not yet begun are skipped
      await Promise.all(entries.map((e) => e.writes));
      await rm(this.dir, { recursive: true, force: true });
      await mkdir(this.dir, { recursive: true });
    })();
    try {
      await this.resetting;
    } finally {
      this.mode = 'open';
      this.resetting = undefined;
    }
  }

  /** The server stops: no job starts again, the running one is stopped and ends `interrupted`. */
  async close(): Promise<void> {
    this.mode = 'closed';
    this.active?.controller.abort('close' satisfies StopReason);
    await this.active?.done;
    await Promise.all([...this.entries.values()].map((e) => e.writes));
  }

  private pump(): void {
    if (this.active || this.mode !== 'open') return;
    const next = [...this.entries.values()]
      .filter((e) => e.phase === 'queued')
      .sort((a, b) => a.record.created_at.localeCompare(b.record.created_at) || a.record.id.localeCompare(b.record.id))[0];
    if (!next) return;
    next.phase = advance(next.phase, 'starting');
    const controller = new AbortController();
    const done = this.run(next, controller.signal)
      .catch((error) => console.error(`[modelport] job ${next.record.id} could not be run or recorded:`, error))
      .finally(() => {
        this.active = undefined;
        this.pump();
      });
    this.active = { entry: next, controller, done };
  }

  private async run(entry: Entry<J, E>, signal: AbortSignal): Promise<void> {
    const scratch = path.join(this.dir, `${entry.record.id}.out`);
    await rm(scratch, { recursive: true, force: true });
    let ending: Ending<J, E> | undefined;
    try {
      ending = await this.kind.run(this.runFor(entry, signal, scratch));
    } catch (error) {
      console.error(`[modelport] job ${entry.record.id} failed:`, error);
      ending = { status: 'failed', failure: { reason: 'internal', message: `internal error: ${(error as Error).message}` } };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    if (isFinal(entry.phase) || this.mode === 'resetting') return; // cancelled while starting; a reset ends the rest
    if (this.mode === 'closed') {
      // A job that never started stays queued for the next process; a result that landed stands;
      // anything else was cut short by the server stopping.
      if (entry.phase === 'starting') entry.phase = advance(entry.phase, 'queued');
      else
        await this.finish(
          entry,
          ending?.status === 'succeeded' || ending?.status === 'cancelled' ? ending : { status: 'failed', failure: INTERRUPTED },
        );
      return;
    }
    if (ending) await this.finish(entry, ending);
    else if (entry.phase === 'cancelling') await this.finish(entry, { status: 'cancelled' });
    else
      await this.finish(entry, {
        status: 'failed',
        failure: { reason: 'internal', message: 'internal error: the job stopped without an outcome' },
      });
  }

  private runFor(entry: Entry<J, E>, signal: AbortSignal, scratch: string): JobRun<J, E> {
    // Once the job has ended, or the store resets or closes, nothing the runner reports is kept.
    const current = () => !isFinal(entry.phase) && this.mode === 'open' && this.entries.get(entry.record.id) === entry;
    return {
      job: entry.record,
      signal,
      scratch,
      start: async () => {
        if (entry.phase !== 'starting' || signal.aborted || !current()) return false;
        entry.phase = advance(entry.phase, 'running');
        const record: JobRecord = entry.record;
        record.status = 'running';
        record.started_at = new Date().toISOString();
        await this.save(entry);
        return true;
      },
      update: async (patch) => {
        if (!current()) return;
        Object.assign(entry.record, patch);
        await this.save(entry).catch((error) => logWriteError(entry.record.id, error));
      },
      set: (patch) => {
        if (current()) Object.assign(entry.record, patch);
      },
      emit: async (event) => {
        if (current()) await this.emit(entry, event).catch((error) => logWriteError(entry.record.id, error));
      },
    };
  }

  /** Ends a job: its record saved, then its last event written and sent. */
  private async finish(entry: Entry<J, E>, ending: Ending<J, E>): Promise<void> {
    entry.phase = advance(entry.phase, ending.status);
    const record: JobRecord = entry.record;
    record.status = ending.status;
    if (ending.status === 'failed') record.failure = ending.failure;
    record.finished_at = new Date().toISOString();
    if (ending.status === 'succeeded') Object.assign(record, ending.record);
    await this.save(entry);
    if (this.kind.events) await this.emit(entry, this.lastEvent(ending));
  }

  /** Ends a job that is about to be forgotten: nothing is written, its subscribers are told. */
  private endUnsaved(entry: Entry<J, E>, status: FinalStatus, fields: Record<string, unknown>): void {
    entry.phase = advance(entry.phase, status);
    const record: JobRecord = entry.record;
    record.status = status;
    record.finished_at = new Date().toISOString();
    this.send(entry, { seq: entry.nextSeq++, at: record.finished_at, type: status, ...fields } as unknown as E);
  }

  private lastEvent(ending: Ending<J, E>): EventBody<E> {
    const failure = ending.status === 'failed' ? { error: ending.failure.message, reason: ending.failure.reason } : {};
    return { type: ending.status, ...failure, ...(ending.status === 'failed' ? {} : ending.event) } as EventBody<E>;
  }

  /** Writes the job's record as it is now; once on disk, that is what the API shows. */
  private save(entry: Entry<J, E>): Promise<void> {
    const snapshot = structuredClone(entry.record);
    return this.write(entry, async () => {
      await writeFileAtomic(path.join(this.dir, `${snapshot.id}.json`), `${JSON.stringify(snapshot, null, 2)}\n`);
      entry.saved = snapshot;
    });
  }

  private emit(entry: Entry<J, E>, body: EventBody<E>, at = new Date().toISOString()): Promise<void> {
    const event = { seq: entry.nextSeq++, at, ...body } as unknown as E;
    return this.write(entry, async () => {
      await appendFile(this.eventFile(entry.record.id), eventLine(event));
      entry.events.push(event);
      this.send(entry, event);
    });
  }

  private send(entry: Entry<J, E>, event: E): void {
    for (const listener of entry.listeners) listener(event);
  }

  /** Queues a write after the job's earlier ones; skipped once a reset has forgotten the job. */
  private write(entry: Entry<J, E>, step: () => Promise<void>): Promise<void> {
    const next = entry.writes.then(() => (this.entries.get(entry.record.id) === entry ? step() : undefined));
    entry.writes = next.catch(() => undefined);
    return next;
  }

  /** The job as saved, with the kind's live fields as they are now. */
  private view(entry: Entry<J, E>): J {
    const live = this.kind.live ?? [];
    if (live.length === 0) return entry.saved!;
    return { ...entry.saved!, ...Object.fromEntries(live.map((key) => [key, entry.record[key]])) };
  }

  /** A job a client may know: saved at least once. */
  private visible(id: string): Entry<J, E> {
    const entry = this.entries.get(id);
    if (!entry?.saved) throw this.kind.notFound(id);
    return entry;
  }

  private eventFile(id: string): string {
    return path.join(this.dir, `${id}.events.jsonl`);
  }
}

function logWriteError(id: string, error: unknown): void {
  // A server closed with a temporary data dir removes it under a job still finishing.
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') console.error(`[modelport] could not record the progress of job ${id}:`, error);
}
