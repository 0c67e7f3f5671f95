/**
 * Tests that use the server started by the global setup (see vitest.config.ts beside this file):
 * real HTTP, real models, one server for every test file.
 */
import { describe, expect, inject, it } from 'vitest';
import { Modelport } from 'modelport';

const client = new Modelport({ baseUrl: process.env.MODELPORT_URL, apiKey: process.env.MODELPORT_API_KEY });

describe('an app against the global mock server', () => {
  it('finds the server through the environment and through inject()', async () => {
    expect(inject('modelport')).toEqual({ url: process.env.MODELPORT_URL, apiKey: process.env.MODELPORT_API_KEY });
    expect(await client.health.ready()).toEqual({ ready: true });
  });

  it('gets real predictions', async () => {
    const prediction = await client.predict('iris', [[6.3, 3.3, 6.0, 2.5]]);
    expect(prediction.labels).toEqual(['virginica']);
  });
});
