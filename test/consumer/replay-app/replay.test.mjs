// Replays the cassette with only modelport and msw: no model server runs at models.invalid.
import { readFileSync } from 'node:fs';
import { setupServer } from 'msw/node';
import { Modelport } from 'modelport';
import { replayHandlers } from 'modelport/replay';
import { afterAll, beforeAll, expect, it } from 'vitest';

const cassette = readFileSync('predictions.jsonl', 'utf8');
const expected = JSON.parse(readFileSync('expected.json', 'utf8'));
const mocks = setupServer(...replayHandlers(cassette));
const client = new Modelport({ baseUrl: 'http://models.invalid', maxRetries: 0 });

beforeAll(() => mocks.listen({ onUnhandledRequest: 'error' }));
afterAll(() => mocks.close());

it('replays every recorded prediction exactly, JSON and binary', async () => {
  for (const recorded of expected) {
    const prediction = await client.predict('iris', [recorded.row], { binary: recorded.binary });
    expect(prediction.labels).toEqual(recorded.labels);
    expect(Array.from(prediction.output.data)).toEqual(recorded.data);
  }
});

it('refuses an input that was never recorded, naming the closest recording', async () => {
  const error = await client.predict('iris', [[6.3, 3.3, 6.0, 3.5]]).catch((e) => e);
  expect(error.status).toBe(404);
  expect(error.message).toMatch(
    /seq \d+ \(model iris, POST \/v2\/models\/iris\/infer\): input 'features': 1 of 4 elements outside tolerance, max \|Δ\| 1 /,
  );
});
