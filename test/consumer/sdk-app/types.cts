// Type-checked as CommonJS (node16 resolution): the require condition's .d.cts (a .d.ts here
// would be TS1479).
import { Modelport, NotFoundError } from 'modelport';

const client = new Modelport({ baseUrl: process.env.MODELPORT_URL, apiKey: process.env.MODELPORT_API_KEY });
export async function classify(values: number[][]): Promise<string[]> {
  const prediction = await client.predict('iris', values);
  return prediction.labels ?? [];
}
export function isMissing(error: unknown): boolean {
  return error instanceof NotFoundError && error.status === 404;
}
