// Held-out evaluation shared by train.ts (which records the figures in config.json) and
// verify.ts (which checks saved models against them), so both compute exactly the same.
import type * as tfTypes from '../mock-server/runtime/tfjs';
import type { LabeledSet } from '../mock-server/datasets/labeled-set';
import { tf } from './tf';

export interface Evaluation {
  samples: number;
  correct: number;
  /** correct / samples. */
  accuracy: number;
  /** Mean categorical cross-entropy, probabilities clipped to [1e-7, 1 - 1e-7] as Keras does. */
  loss: number;
}

const EPSILON = 1e-7;

/** Runs `model` on all of `set` (reshaped to [n, ...sampleShape]) and scores the argmax. */
export function evaluateClassifier(model: tfTypes.LayersModel, set: LabeledSet, sampleShape: readonly number[]): Evaluation {
  const probs = tf.tidy(() => {
    const x = tf.tensor(set.x, [set.n, ...sampleShape], 'float32');
    return (model.predict(x, { batchSize: 256 }) as tfTypes.Tensor).dataSync() as Float32Array;
  });
  const classes = probs.length / set.n;

  let correct = 0;
  let lossSum = 0;
  for (let i = 0; i < set.n; i++) {
    const row = probs.subarray(i * classes, (i + 1) * classes);
    let best = 0;
    for (let c = 1; c < classes; c++) if ((row[c] as number) > (row[best] as number)) best = c;
    const truth = set.y[i] as number;
    if (best === truth) correct++;
    const p = Math.min(Math.max(row[truth] as number, EPSILON), 1 - EPSILON);
    lossSum -= Math.log(p);
  }
  return { samples: set.n, correct, accuracy: correct / set.n, loss: lossSum / set.n };
}

/** Rounds a metric for config.json (4 decimals). */
export function round4(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
