/**
 * The app's tests, with no model server and no TensorFlow: msw answers the app's calls from the
 * cassette that record.ts recorded against a real server. Only `modelport` (with its
 * `modelport/replay` and `modelport/cassette` subpaths) and `msw` are needed: `npm i -D modelport msw`.
 */
import { readFileSync } from 'node:fs';
import { interactionTensors, parseCassette } from 'modelport/cassette';
import { replayHandlers } from 'modelport/replay';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createModelApp } from './app';

interface Inputs {
  digits: { label: number; pixels: number[] }[];
  flowers: { species: string; measurements: number[] }[];
}

const cassetteText = readFileSync(new URL('./app.cassette.jsonl', import.meta.url), 'utf8');
const inputs = JSON.parse(readFileSync(new URL('./inputs.json', import.meta.url), 'utf8')) as Inputs;
// Any base URL: nothing listens there, msw answers.
const baseUrl = 'http://models.test';
const server = setupServer(...replayHandlers(cassetteText, { baseUrl }));

/** The app, with a fetch that keeps the replay headers of its last response (which recording answered, and how). */
function appWithReplayHeaders() {
  let last: Headers | undefined;
  const app = createModelApp({
    baseUrl,
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      last = response.headers;
      return response;
    },
  });
  return { app, replay: () => ({ how: last?.get('modelport-replay'), seq: Number(last?.get('modelport-replay-seq')) }) };
}

/** The first digit with its top-left pixel (0 in every MNIST digit) raised by 0.5: a request the cassette never saw. */
function changedDigit(): Float32Array {
  const pixels = Float32Array.from(inputs.digits[0]!.pixels);
  pixels[0]! += 0.5;
  return pixels;
}

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

describe('the app, replayed from a cassette of real predictions', () => {
  const cassette = parseCassette(cassetteText);
  const recordedDigits = cassette.interactions.filter((interaction) => interaction.request.path === '/v2/models/digits/infer');

  it('reads every recorded digit exactly as the real model did', async () => {
    const { app, replay } = appWithReplayHeaders();
    expect(await app.ready()).toBe(true);
    for (const [i, { label, pixels }] of inputs.digits.entries()) {
      const reading = await app.readDigit(new Float32Array(pixels));
      expect(reading.digit).toBe(label);
      // The probabilities the server answered at record time, to the last bit.
      expect(reading.probabilities).toEqual(interactionTensors(recordedDigits[i]!).outputs[0]!.data);
      expect(replay()).toEqual({ how: 'matched', seq: recordedDigits[i]!.seq });
    }
  });

  it('names the recorded flowers (JSON requests)', async () => {
    const app = createModelApp({ baseUrl });
    for (const { species, measurements } of inputs.flowers) expect(await app.nameFlower(measurements)).toBe(species);
  });

  it('still matches an input that differs by float noise (1e-7; tolerance rtol 1e-5, atol 1e-6)', async () => {
    const { app, replay } = appWithReplayHeaders();
    const noisy = new Float32Array(inputs.digits[3]!.pixels.map((value) => value + 1e-7));
    expect((await app.readDigit(noisy)).digit).toBe(3);
    expect(replay()).toEqual({ how: 'matched', seq: recordedDigits[3]!.seq });
  });

  it('fails a request the cassette never saw, naming the closest recording and how it differs', async () => {
    const app = createModelApp({ baseUrl });
    await expect(app.readDigit(changedDigit())).rejects.toThrow(
      `404 no recording matches POST /v2/models/digits/infer (rtol 0.00001, atol 0.000001); the closest is seq ${recordedDigits[0]!.seq} ` +
        `(model digits, POST /v2/models/digits/infer): input 'image': 1 of 784 elements outside tolerance, ` +
        'max |Δ| 0.5 at element 0 [0, 0, 0, 0] (recorded 0, received 0.5)',
    );
  });

  it("in mode 'nearest', answers with the closest recording and says so in a header", async () => {
    server.use(...replayHandlers(cassetteText, { baseUrl, mode: 'nearest' }));
    let nearest: string | null = null;
    const app = createModelApp({
      baseUrl,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        nearest = response.headers.get('modelport-replay-nearest');
        return response;
      },
    });
    const reading = await app.readDigit(changedDigit());
    expect(reading.digit).toBe(0);
    expect(reading.probabilities).toEqual(interactionTensors(recordedDigits[0]!).outputs[0]!.data);
    expect(nearest).toBe(
      `seq ${recordedDigits[0]!.seq} (model digits, POST /v2/models/digits/infer): input 'image': 1 of 784 elements outside tolerance, ` +
        'max |delta| 0.5 at element 0 [0, 0, 0, 0] (recorded 0, received 0.5)',
    );
  });
});
