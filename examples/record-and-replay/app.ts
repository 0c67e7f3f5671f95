/**
 * The "application" under test: it reads handwritten digits (the binary tensor transport) and
 * names iris flowers (JSON) with models hosted behind an Open Inference Protocol server. In
 * production that is modelport, KServe or Triton; in its tests it is a cassette replayed by msw.
 * It imports `modelport` only, so it runs in Node and, bundled, in a browser (browser/page.ts).
 */
import { Modelport } from 'modelport';

export interface ModelAppOptions {
  baseUrl: string;
  apiKey?: string;
  /** Another fetch (the tests pass one that keeps the replay headers). */
  fetch?: typeof fetch;
}

export interface DigitReading {
  digit: number;
  confidence: number;
  /** The model's ten probabilities, as it answered them. */
  probabilities: Float32Array;
}

export function createModelApp(options: ModelAppOptions) {
  const client = new Modelport({ ...options, maxRetries: 0 });
  return {
    /** True when the digits model can take requests. */
    async ready(): Promise<boolean> {
      return (await client.models.ready('digits')).ready;
    },

    /** The digit in a 28×28 image (pixels in [0, 1], row-major), sent as a binary tensor. */
    async readDigit(pixels: Float32Array): Promise<DigitReading> {
      const prediction = await client.predict('digits', pixels, { binary: true });
      const best = prediction.classes![0]![0]!;
      return { digit: Number(best.label), confidence: best.score, probabilities: prediction.output.data as Float32Array };
    },

    /** The species of an iris flower from its sepal and petal length and width (cm), sent as JSON. */
    async nameFlower(measurements: number[]): Promise<string> {
      return (await client.predict('iris', [measurements])).labels![0]!;
    },
  };
}
