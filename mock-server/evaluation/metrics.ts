/**
 * Classification metrics, computed exactly from counts: no TensorFlow here, so every figure can
 * be checked by hand. Definitions (documented in openapi.yaml `EvaluationResult`):
 *
 * - precision = TP / predicted, recall = TP / support, F1 = 2PR / (P + R); each 0/0 is 0, as
 *   scikit-learn's `zero_division=0`, so a class nobody predicted has precision 0, not NaN.
 * - macro averages run over the classes that occur as a true or a predicted class (scikit-learn's
 *   default label set); a class of the model absent from both is reported but not averaged, so a
 *   small dataset of two digits is not judged on the other eight.
 * - weighted averages weight each class by its support.
 * - loss is the mean categorical cross-entropy, natural log, probabilities clipped to
 *   [1e-7, 1 - 1e-7] as Keras does (and as the training script that recorded the bundled
 *   models' figures did).
 */
import type { components } from 'modelport';

export const LOSS_EPSILON = 1e-7;

export type ClassMetrics = components['schemas']['ClassMetrics'];
export type AveragedMetrics = components['schemas']['AveragedMetrics'];

export interface ClassificationReport {
  samples: number;
  correct: number;
  accuracy: number;
  perClass: ClassMetrics[];
  macro: AveragedMetrics & { classes: number };
  weighted: AveragedMetrics;
}

/** 0/0 (and x/0) is 0: the convention for classes with no predictions or no samples. */
export function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

export function f1Score(precision: number, recall: number): number {
  return ratio(2 * precision * recall, precision + recall);
}

/** A classes × classes count matrix, rows = true class, columns = predicted class. */
export class ConfusionMatrix {
  readonly counts: number[][];

  constructor(readonly classes: number) {
    this.counts = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  }

  add(truth: number, predicted: number): void {
    this.counts[truth]![predicted]! += 1;
  }

  static from(truths: ArrayLike<number>, predictions: ArrayLike<number>, classes: number): ConfusionMatrix {
    const matrix = new ConfusionMatrix(classes);
    for (let i = 0; i < truths.length; i++) matrix.add(truths[i]!, predictions[i]!);
    return matrix;
  }

  report(labels: readonly string[]): ClassificationReport {
    const k = this.classes;
    const support = this.counts.map((row) => row.reduce((n, c) => n + c, 0));
    const predicted = Array.from({ length: k }, (_, p) => this.counts.reduce((n, row) => n + row[p]!, 0));
    const samples = support.reduce((n, s) => n + s, 0);
    let correct = 0;
    const perClass: ClassMetrics[] = [];
    for (let c = 0; c < k; c++) {
      const tp = this.counts[c]![c]!;
      correct += tp;
      const precision = ratio(tp, predicted[c]!);
      const recall = ratio(tp, support[c]!);
      perClass.push({
        label: labels[c] ?? String(c),
        index: c,
        support: support[c]!,
        predicted: predicted[c]!,
        precision,
        recall,
        f1: f1Score(precision, recall),
      });
    }
    const present = perClass.filter((m) => m.support > 0 || m.predicted > 0);
    const mean = (pick: (m: ClassMetrics) => number) =>
      ratio(
        present.reduce((s, m) => s + pick(m), 0),
        present.length,
      );
    const byWeight = (pick: (m: ClassMetrics) => number) =>
      ratio(
        perClass.reduce((s, m) => s + m.support * pick(m), 0),
        samples,
      );
    return {
      samples,
      correct,
      accuracy: ratio(correct, samples),
      perClass,
      macro: { precision: mean((m) => m.precision), recall: mean((m) => m.recall), f1: mean((m) => m.f1), classes: present.length },
      weighted: { precision: byWeight((m) => m.precision), recall: byWeight((m) => m.recall), f1: byWeight((m) => m.f1) },
    };
  }
}

/** Index of the largest score; ties go to the lower index (as numpy's and tf's argmax). */
export function argmax(scores: ArrayLike<number>, offset = 0, length = scores.length - offset): number {
  let best = 0;
  for (let c = 1; c < length; c++) if (scores[offset + c]! > scores[offset + best]!) best = c;
  return best;
}

/**
 * Cross-entropy of rows of class scores against true classes. Both readings are accumulated,
 * because whether the model outputs probabilities is only known after every row has been seen:
 * if every row is a distribution the clipped log of the output is used, else log-softmax.
 */
export class LossAccumulator {
  private probabilitySum = 0;
  private softmaxSum = 0;
  private rows = 0;
  private allDistributions = true;

  add(scores: ArrayLike<number>, offset: number, classes: number, truth: number): void {
    let sum = 0;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      const v = scores[offset + c]!;
      if (!(v >= 0 && v <= 1)) this.allDistributions = false;
      sum += v;
      if (v > max) max = v;
    }
    // float32 softmax outputs sum to 1 within a few ulps; 1e-3 tolerates that and nothing else.
    if (Math.abs(sum - 1) > 1e-3) this.allDistributions = false;
    const p = Math.min(Math.max(scores[offset + truth]!, LOSS_EPSILON), 1 - LOSS_EPSILON);
    this.probabilitySum -= Math.log(p);
    let expSum = 0;
    for (let c = 0; c < classes; c++) expSum += Math.exp(scores[offset + c]! - max);
    const q = Math.min(Math.max(Math.exp(scores[offset + truth]! - max) / expSum, LOSS_EPSILON), 1 - LOSS_EPSILON);
    this.softmaxSum -= Math.log(q);
    this.rows += 1;
  }

  result(): { loss: number; probabilities: 'output' | 'softmax' } {
    return this.allDistributions
      ? { loss: ratio(this.probabilitySum, this.rows), probabilities: 'output' }
      : { loss: ratio(this.softmaxSum, this.rows), probabilities: 'softmax' };
  }
}

/** Nearest-rank percentile (the smallest value with at least q of the values at or below it). */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Milliseconds to microsecond precision, enough for latency figures and stable in JSON. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
