// A user's vitest test with the msw handlers: no port, real model outputs.
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Modelport, NotFoundError } from 'modelport';
import { mswHandlers } from '@modelport/server/msw';

const baseUrl = 'http://models.test';
let handlers;
let server;

beforeAll(async () => {
  handlers = await mswHandlers({ baseUrl, auth: false });
  server = setupServer(...handlers);
  server.listen({ onUnhandledRequest: 'error' });
}, 240_000);

afterAll(async () => {
  server?.close();
  await handlers?.close();
});

it('predicts with the real iris model through msw', async () => {
  const client = new Modelport({ baseUrl });
  const prediction = await client.predict('iris', [
    [6.3, 3.3, 6.0, 2.5],
    [5.1, 3.5, 1.4, 0.2],
  ]);
  expect(prediction.labels).toEqual(['virginica', 'setosa']);
  expect((await client.server.metadata()).runtime.backend).toBe('tensorflow');
  await expect(client.predict('nope', [[1, 2, 3, 4]])).rejects.toBeInstanceOf(NotFoundError);
});
