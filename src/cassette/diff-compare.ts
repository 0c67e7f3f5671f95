/**
 * How one output differs between its recording and a live answer: |Δ| over every element (floats
 * and integers; BOOL counts 1 per flipped element; BYTES elements are equal or not), and the
 * predicted label of each row, the argmax over the last axis (floating-point outputs whose last axis
 * has at least 2 classes; the first maximum wins, as the SDK's `predict` labels do). Outputs whose
 * datatype or shape differ are not compared element by element: that is a difference of its own.
 */
import type { NamedTensor } from './tensors';
import { bytesEqual, elementDistance } from './tolerance';

export interface LabelFlip {
  seq: number;
  /** The row of the batch (every axis but the last, flattened row-major). */
  row: number;
  /** The argmax recorded and now, with the model's label for it when its metadata has labels. */
  recorded: number;
  now: number;
  recorded_label?: string;
  now_label?: string;
}

/** An output whose datatype or shape is not what was recorded, or that is missing from one side. */
export interface OutputMismatch {
  seq: number;
  /** `FP32 [1,10]`, or `missing`. */
  recorded: string;
  now: string;
}

/** The running totals of one output name over a model's requests. */
export interface OutputAccumulator {
  name: string;
  compared: number;
  elements: number;
  changed_elements: number;
  sumAbsDelta: number;
  /** Elements that have a distance (every datatype but BYTES): the mean's denominator. */
  measured: number;
  max_abs_delta: number | null;
  worst?: { seq: number; index: number; recorded: string; now: string };
  rows: number;
  flips: LabelFlip[];
  mismatches: OutputMismatch[];
}

export interface Labels {
  recorded?: string[] | undefined;
  now?: string[] | undefined;
}

export function newAccumulator(name: string): OutputAccumulator {
  return {
    name,
    compared: 0,
    elements: 0,
    changed_elements: 0,
    sumAbsDelta: 0,
    measured: 0,
    max_abs_delta: null,
    rows: 0,
    flips: [],
    mismatches: [],
  };
}

export function describeTensor(tensor: NamedTensor | undefined): string {
  return tensor === undefined ? 'missing' : `${tensor.datatype} [${tensor.shape.join(',')}]`;
}

/** Adds one request's output (`recorded`, live `now`; either may be missing) to `acc`. */
export function compareOutput(
  acc: OutputAccumulator,
  seq: number,
  recorded: NamedTensor | undefined,
  now: NamedTensor | undefined,
  labels: Labels,
): void {
  const sameKind =
    recorded !== undefined && now !== undefined && recorded.datatype === now.datatype && sameShape(recorded.shape, now.shape);
  if (!sameKind) {
    acc.mismatches.push({ seq, recorded: describeTensor(recorded), now: describeTensor(now) });
    return;
  }
  acc.compared++;
  acc.elements += recorded.data.length;
  if (recorded.datatype === 'BYTES') {
    const a = recorded.data as Uint8Array[];
    const b = now.data as Uint8Array[];
    for (let i = 0; i < a.length; i++) if (!bytesEqual(a[i]!, b[i]!)) acc.changed_elements++;
    return;
  }
  const a = recorded.data as ArrayLike<number | bigint | boolean>;
  const b = now.data as ArrayLike<number | bigint | boolean>;
  for (let i = 0; i < a.length; i++) {
    const distance = elementDistance(a[i]!, b[i]!);
    acc.measured++;
    if (distance === 0) continue;
    acc.changed_elements++;
    acc.sumAbsDelta += distance;
    if (acc.max_abs_delta === null || distance > acc.max_abs_delta || acc.worst === undefined) {
      acc.max_abs_delta = Math.max(acc.max_abs_delta ?? 0, distance);
      acc.worst = { seq, index: i, recorded: String(a[i]), now: String(b[i]) };
    }
  }
  acc.max_abs_delta ??= 0;
  countFlips(acc, seq, recorded, now, labels);
}

/** Outputs whose argmax is a predicted label: scores, logits, probabilities. An integer output is ids or counts, whose argmax means nothing. */
const SCORES: readonly string[] = ['FP16', 'FP32', 'FP64'];

function countFlips(acc: OutputAccumulator, seq: number, recorded: NamedTensor, now: NamedTensor, labels: Labels): void {
  const classes = recorded.shape.at(-1) ?? 0;
  if (!SCORES.includes(recorded.datatype) || classes < 2) return;
  const a = recorded.data as ArrayLike<number | bigint>;
  const b = now.data as ArrayLike<number | bigint>;
  const rows = a.length / classes;
  for (let row = 0; row < rows; row++) {
    const before = argmax(a, row * classes, classes);
    const after = argmax(b, row * classes, classes);
    acc.rows++;
    if (before === after) continue;
    acc.flips.push({
      seq,
      row,
      recorded: before,
      now: after,
      ...(labels.recorded?.[before] !== undefined ? { recorded_label: labels.recorded[before] } : {}),
      ...(labels.now?.[after] !== undefined ? { now_label: labels.now[after] } : {}),
    });
  }
}

/** The index of the first largest element of `values[start, start + length)`; NaN is never the largest. */
function argmax(values: ArrayLike<number | bigint>, start: number, length: number): number {
  let best = 0;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < length; i++) {
    const value = Number(values[start + i]!);
    if (value > bestValue) {
      best = i;
      bestValue = value;
    }
  }
  return best;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((size, i) => size === b[i]);
}

/** The nearest-rank percentile (p in 0..100) of `values`, or null when there are none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}
