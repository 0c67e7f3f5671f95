/**
 * One job's lifecycle, the same for every kind of job (training, evaluation). `status` is what a
 * client sees and what is on disk; the phase adds what this process is doing with the job:
 *
 *   creating ─▶ queued ─▶ starting ─▶ running ─▶ cancelling
 *                 │          │           │           │
 *                 ▼          ▼           ▼           ▼
 *             cancelled   failed | cancelled   succeeded | failed | cancelled
 *
 * `creating`: being written, not yet shown or run. `starting`: picked by the queue, the job's
 * runner prepares it (still `queued` on disk; back to `queued` when the server stops before it
 * starts). A job running when the server stops is `failed` with reason `interrupted`.
 */
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type JobPhase = 'creating' | 'queued' | 'starting' | 'running' | 'cancelling' | 'succeeded' | 'failed' | 'cancelled';
export type FinalStatus = 'succeeded' | 'failed' | 'cancelled';

/** Why a job failed; each kind names its own reasons, `interrupted` is every kind's. */
export interface JobFailure {
  reason: string;
  message: string;
}

/** The one meaning of `interrupted`: the server stopped while the job was running. */
export const INTERRUPTED: JobFailure = { reason: 'interrupted', message: 'the server stopped while this job was running' };

export const FINAL: readonly string[] = ['succeeded', 'failed', 'cancelled'] satisfies FinalStatus[];
export const STATUSES: readonly string[] = ['queued', 'running', ...FINAL];

const NEXT: Record<JobPhase, readonly JobPhase[]> = {
  creating: ['queued', 'cancelled'],
  queued: ['starting', 'cancelled'],
  starting: ['queued', 'running', 'failed', 'cancelled'],
  running: ['cancelling', 'succeeded', 'failed', 'cancelled'],
  cancelling: ['succeeded', 'failed', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export function isFinal(phase: string): phase is FinalStatus {
  return FINAL.includes(phase);
}

/** The phase after `to`; a move the diagram does not draw is a bug in the store, so it throws. */
export function advance(from: JobPhase, to: JobPhase): JobPhase {
  if (!NEXT[from].includes(to)) throw new Error(`a job cannot go from ${from} to ${to}`);
  return to;
}
