import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport, NotFoundError } from '../src/index';
import { startMockServer, type RunningMockServer } from '../mock-server/index';

let server: RunningMockServer;
let client: Modelport;

beforeAll(async () => {
  server = await startMockServer({ auth: false });
  client = new Modelport({ baseUrl: server.url });
});
afterAll(() => server?.close());

describe('health and server metadata over real HTTP', () => {
  it('is live and ready', async () => {
    expect(await client.health.live()).toEqual({ live: true });
    expect(await client.health.ready()).toEqual({ ready: true });
  });

  it('reports the runtime: native TensorFlow 2.21 on machines that built it', async () => {
    const metadata = await client.server.metadata();
    expect(metadata).toMatchObject({ name: 'modelport', version: '0.1.0' });
    // Triton's extension names, for what is served (classification: an output's `parameters.classification`).
    expect(metadata.extensions).toEqual(['binary_tensor_data', 'classification', 'model_repository', 'statistics']);
    const expected = process.env.MODELPORT_BACKEND ?? 'tensorflow';
    expect(metadata.runtime.backend).toBe(expected);
    if (expected === 'tensorflow') expect(metadata.runtime.tensorflow_version).toBe('2.21.0');
  });

  it('answers every request with an x-request-id, echoing a sane one it was given', async () => {
    const echoed = await fetch(`${server.url}/v2/health/live`, { headers: { 'x-request-id': 'abc-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('abc-123');
    const replaced = await fetch(`${server.url}/v2/health/live`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('unknown routes are 404 and wrong methods 405, with the error body', async () => {
    const error = (await client.transport.json({ method: 'GET', path: 'v2/nowhere' }).catch((e) => e)) as NotFoundError;
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.code).toBe('route_not_found');
    expect(error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const wrongMethod = await fetch(`${server.url}/v2/health/live`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toMatchObject({
      code: 'method_not_allowed',
      status: 405,
      error: 'DELETE is not allowed on /v2/health/live',
    });
  });
});
