/// <reference types="@modelport/server/vitest" />
// A user's vitest test against the global-setup server: inject('modelport') is typed.
import { expect, inject, it } from 'vitest';
import { Modelport } from 'modelport';

it('finds the server through inject() and the environment, and predicts', async () => {
  const { url, apiKey } = inject('modelport');
  expect(url).toBe(process.env.MODELPORT_URL);
  const client = new Modelport({ baseUrl: url, apiKey });
  const prediction = await client.predict('iris', [[6.3, 3.3, 6.0, 2.5]]);
  expect(prediction.labels).toEqual(['virginica']);
  expect((await new Modelport().server.metadata()).runtime.backend).toBe('tensorflow');
});
