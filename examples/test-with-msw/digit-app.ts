/**
 * A tiny "application" that depends on a hosted digits model. In production it talks to the
 * real service (modelport, KServe or Triton: the calls below are Open Inference Protocol);
 * in its tests it talks to modelport's server through msw, without a port.
 */
import { Modelport } from 'modelport';

export interface DigitAppOptions {
  baseUrl: string;
  apiKey?: string;
}

export function createDigitApp(options: DigitAppOptions) {
  const client = new Modelport({ ...options, maxRetries: 0 });
  return {
    /** The digit in a 28×28 image (pixels in [0, 1]), or 'unsure' when the model is not confident. */
    async readDigit(pixels: Float32Array): Promise<{ digit: number | 'unsure'; confidence: number }> {
      const prediction = await client.predict('digits', pixels);
      const best = prediction.classes![0]![0]!;
      return best.score < 0.6 ? { digit: 'unsure', confidence: best.score } : { digit: Number(best.label), confidence: best.score };
    },

    /** True when the model can take requests; false while it is loading or unloaded. */
    async modelAvailable(): Promise<boolean> {
      // A loading model's 503 (or Triton's 400) is { ready: false }, not an error.
      return (await client.models.ready('digits')).ready;
    },
  };
}
