/**
 * A job's event history: an append-only JSON-lines file, `<id>.events.jsonl`, one event a line.
 * An append cut by a kill leaves a torn last line; reading drops it, and `repair` rewrites the
 * file without it so the next event starts on a line of its own.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../registry/atomic';

/** What every event carries; the rest is the kind's. */
export interface JobEvent {
  /** 1, 2, ...: the event's place in the job's history, and its SSE id. */
  seq: number;
  at: string;
  type: string;
}

export function eventLine(event: JobEvent): string {
  return `${JSON.stringify(event)}\n`;
}

/** The whole events of a log (none for a missing file), with the file cut back to them. */
export async function readEventLog<E extends JobEvent>(file: string): Promise<E[]> {
  const log = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const events: E[] = [];
  for (const line of log.split('\n')) {
    if (!line) continue;
    try {
      events.push(JSON.parse(line) as E);
    } catch {
      break; // a last line torn by a crash mid-append never happened
    }
  }
  const whole = events.map(eventLine).join('');
  if (whole.length !== log.length) await writeFileAtomic(file, whole);
  return events;
}
