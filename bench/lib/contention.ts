/**
 * How much CPU other processes took while we measured (Linux /proc): the machine is shared, and
 * a test run elsewhere on the same 2 cores moves every figure. Busy CPU time of the whole machine
 * minus that of this process and its descendants, as average cores used by others.
 */
import { readFileSync, readdirSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function machineBusyTicks(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return total - fields[3]! - fields[4]!; // minus idle and iowait
}

/**
 * utime + stime + cutime + cstime of this process and every live descendant: a child that exits
 * and is reaped moves its time into its parent's cutime/cstime, so nothing is lost or counted twice.
 */
function ourTicks(): number {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const { pid, fields } of processStats()) {
    parent.set(pid, Number(fields[1]));
    ticks.set(pid, Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]));
  }
  let sum = 0;
  for (const [pid, t] of ticks) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parent.get(p)) {
      if (p === process.pid) {
        sum += t;
        break;
      }
    }
  }
  return sum;
}

export interface Contention {
  /** Average cores used by processes that are not the bench or its children. */
  otherCores: number;
}

/** Starts a window; the returned function ends it. Undefined where /proc is not there. */
export function contentionWindow(): () => Contention | undefined {
  let start: { machine: number; ours: number; at: number };
  try {
    start = { machine: machineBusyTicks(), ours: ourTicks(), at: performance.now() };
  } catch {
    return () => undefined;
  }
  return () => {
    try {
      const seconds = (performance.now() - start.at) / 1000;
      const others = Math.max(0, machineBusyTicks() - start.machine - Math.max(0, ourTicks() - start.ours));
      return { otherCores: others / TICKS_PER_SECOND / seconds };
    } catch {
      return undefined;
    }
  };
}

/** Every live process's /proc/<pid>/stat fields after the command name (fields[1] is the parent pid). */
export function processStats(): { pid: number; fields: string[] }[] {
  const stats: { pid: number; fields: string[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      stats.push({ pid: Number(entry), fields: stat.slice(stat.lastIndexOf(')') + 2).split(' ') });
    } catch {
      // exited meanwhile
    }
  }
  return stats;
}
