// Type-checked as an ES module (node16 and bundler resolution): the import condition's .d.ts.
import { Modelport, NotFoundError, type Prediction } from 'modelport';

const client = new Modelport({ baseUrl: process.env.MODELPORT_URL, apiKey: process.env.MODELPORT_API_KEY });
export async function classify(values: number[][]): Promise<string[]> {
  const prediction: Prediction = await client.predict('iris', values);
  return prediction.labels ?? [];
}
export function isMissing(error: unknown): boolean {
  return error instanceof NotFoundError && error.status === 404;
}
