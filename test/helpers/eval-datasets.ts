/**
 * Hand-made datasets whose metrics are known in advance: samples are picked by what the real
 * iris model predicts for them, then labelled so that the confusion matrix is one we chose.
 */
import type { Modelport } from '../../src/index';
import { loadIrisSplit } from '../../mock-server/datasets/iris-split';

export const IRIS_LABELS = ['setosa', 'versicolor', 'virginica'];

export interface PredictedSample {
  features: number[];
  /** The model's probabilities for this sample. */
  probabilities: number[];
  predicted: number;
}

/** The held-out iris flowers grouped by the class the served iris model predicts, confident ones only. */
export async function irisByPrediction(client: Modelport): Promise<PredictedSample[][]> {
  const { x, n } = loadIrisSplit().test;
  const rows = Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * 4, i * 4 + 4)));
  const prediction = await client.predict('iris', rows);
  const probs = prediction.output.data as Float32Array;
  const groups: PredictedSample[][] = [[], [], []];
  rows.forEach((features, i) => {
    const probabilities = Array.from(probs.subarray(i * 3, i * 3 + 3));
    const predicted = probabilities.indexOf(Math.max(...probabilities));
    // Confident predictions only, so a different batch composition cannot flip the argmax.
    if (probabilities[predicted]! > 0.9) groups[predicted]!.push({ features, probabilities, predicted });
  });
  return groups;
}

/**
 * Records realising a confusion matrix: `matrix[t][p]` samples the model predicts as p,
 * labelled t. Returns the records and each one's probabilities (for the expected loss).
 */
export function realise(
  groups: PredictedSample[][],
  matrix: number[][],
): { records: { tensor: number[]; label: string }[]; samples: { sample: PredictedSample; truth: number }[] } {
  const used = groups.map(() => 0);
  const samples: { sample: PredictedSample; truth: number }[] = [];
  matrix.forEach((row, truth) =>
    row.forEach((count, predicted) => {
      for (let k = 0; k < count; k++) {
        const sample = groups[predicted]![used[predicted]!++];
        if (!sample) throw new Error(`not enough held-out flowers predicted as ${IRIS_LABELS[predicted]}`);
        samples.push({ sample, truth });
      }
    }),
  );
  return { records: samples.map(({ sample, truth }) => ({ tensor: sample.features, label: IRIS_LABELS[truth]! })), samples };
}

/** Mean categorical cross-entropy (natural log, clipped at 1e-7), computed independently of the server. */
export function expectedLoss(samples: { sample: PredictedSample; truth: number }[]): number {
  const total = samples.reduce(
    (sum, { sample, truth }) => sum - Math.log(Math.min(Math.max(sample.probabilities[truth]!, 1e-7), 1 - 1e-7)),
    0,
  );
  return total / samples.length;
}
