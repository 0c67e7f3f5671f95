/**
 * Latency budgets derived from measurement, never hard-coded: absolute latencies vary by machine
 * and by the moment on a shared one.
 */
import type { Selection, SelectionCandidate } from '../../src/index';

export function candidate(selection: Selection, model: string): SelectionCandidate {
  const found = selection.candidates.find((c) => c.model === model);
  if (!found) throw new Error(`no candidate ${model} in ${selection.candidates.map((c) => c.model).join(', ')}`);
  return found;
}

export function p95(selection: Selection, model: string): number {
  const latency = candidate(selection, model).latency_ms;
  if (!latency) throw new Error(`${model} has no measured latency`);
  return latency.p95;
}

/** A budget between two measured p95s (their midpoint). */
export function between(slow: number, fast: number): number {
  return (slow + fast) / 2;
}

/** A budget no candidate can miss: ten times the slowest measured p95. */
export function loose(selection: Selection): number {
  return 10 * Math.max(...selection.candidates.map((c) => c.latency_ms?.p95 ?? 0));
}
