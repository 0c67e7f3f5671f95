/**
 * The SDK against what real servers answer, and every SDK failure a ModelportError (issue #19,
 * items 3 and 4).
 *
 * Health and model-ready probes run against a raw node:http stub that answers exactly as
 * Triton's HTTP frontend does (test/support/triton-stub.ts): 200 or 400 with an empty body,
 * `Content-Length: 0`, `Content-Type: text/plain`; a model that is not ready is 400 with
 * `{"error":"Model version not ready"}`; any method but GET is 405 `{"error":"Method Not Allowed"}`.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { importMsw } from '../mock-server/msw';
import {
  AuthenticationError,
  ConfigurationError,
  ConnectionError,
  InvalidInputError,
  Modelport,
  ModelportError,
  NotFoundError,
  TimeoutError,
  UnexpectedResponseError,
} from '../src/index';
import { errorReply, jsonReply, scriptedFetch } from './helpers/scripted-fetch';
import { startTritonStub, type TritonStub, type TritonState } from './support/triton-stub';

const BASE = 'http://models.test';

let stub: TritonStub;
let stubUrl: string;
/** What the Triton stub says, and what it was asked. */
let triton: TritonState;

beforeAll(async () => {
  stub = await startTritonStub();
  stubUrl = stub.url;
  triton = stub.state;
});

afterAll(() => stub.close());

afterEach(() => {
  triton.live = true;
  triton.ready = true;
  triton.requests.length = 0;
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
});

describe('health and model-ready probes as Triton answers them (empty 200, 400 when not ready)', () => {
  it('an empty 200 is { live: true } / { ready: true }, over real HTTP', async () => {
    // The stub answers what the SDK reads: an empty text/plain body.
    const raw = await fetch(`${stubUrl}/v2/health/live`);
    expect([raw.status, raw.headers.get('content-type'), raw.headers.get('content-length'), await raw.text()]).toEqual([
      200,
      'text/plain',
      '0',
      '',
    ]);
    const client = new Modelport({ baseUrl: stubUrl });
    expect(await client.health.live()).toEqual({ live: true });
    expect(await client.health.ready()).toEqual({ ready: true });
    expect(await client.models.ready('densenet')).toEqual({ name: 'densenet', ready: true });
    expect(await client.models.ready('densenet', { version: 1 })).toEqual({ name: 'densenet', ready: true });
    expect(triton.requests).toEqual([
      { method: 'GET', url: '/v2/health/live' },
      { method: 'GET', url: '/v2/health/live' },
      { method: 'GET', url: '/v2/health/ready' },
      { method: 'GET', url: '/v2/models/densenet/ready' },
      { method: 'GET', url: '/v2/models/densenet/versions/1/ready' },
    ]);
  });

  it('the official OIP spec declares the three probes as a 200 without a body, as the stub answers', () => {
    const official = parse(readFileSync(new URL('./fixtures/oip/open_inference_rest.yaml', import.meta.url), 'utf8'));
    for (const probe of ['/v2/health/live', '/v2/health/ready', `/v2/models/\${MODEL_NAME}/versions/\${MODEL_VERSION}/ready`]) {
      expect(official.paths[probe].get.responses, probe).toEqual({ '200': { description: 'OK' } });
    }
  });

  it("Triton's 400 is { live: false } / { ready: false }, at once: no throw, no retry", async () => {
    triton.live = false;
    triton.ready = false;
    const client = new Modelport({ baseUrl: stubUrl, maxRetries: 2 });
    expect(await client.health.live()).toEqual({ live: false });
    expect(await client.health.ready()).toEqual({ ready: false });
    expect(await client.models.ready('densenet', { version: 2 })).toEqual({ name: 'densenet', ready: false });
    expect(await client.models.ready('resnet')).toEqual({ name: 'resnet', ready: false });
    expect(triton.requests.map((r) => r.url)).toEqual([
      '/v2/health/live',
      '/v2/health/ready',
      '/v2/models/densenet/versions/2/ready',
      '/v2/models/resnet/ready',
    ]);
  });

  it('a 503 (a server still loading) is not ready either, without retries', async () => {
    const { fetch, calls } = scriptedFetch([new Response(null, { status: 503, headers: { 'retry-after': '0' } })]);
    const client = new Modelport({ baseUrl: BASE, fetch, maxRetries: 2 });
    expect(await client.health.ready()).toEqual({ ready: false });
    expect(await client.health.live()).toEqual({ live: false });
    expect(await client.models.ready('m')).toEqual({ name: 'm', ready: false });
    expect(calls).toHaveLength(3);
  });

  it("modelport's own JSON answers still read as they are", async () => {
    const { fetch } = scriptedFetch([
      jsonReply(200, { live: true }, { 'x-request-id': 'r-1' }),
      errorReply(503, 'not_ready', { 'retry-after': '1' }),
      jsonReply(200, { name: 'iris', ready: false }),
      jsonReply(200, { name: 'digits', ready: true }),
    ]);
    const client = new Modelport({ baseUrl: BASE, fetch });
    const live = await client.health.live();
    expect(live).toEqual({ live: true });
    expect((live as unknown as { _request_id: string })._request_id).toBe('r-1');
    expect(await client.health.ready()).toEqual({ ready: false });
    // A registered model without versions: 200 with ready false is false, whatever the status says.
    expect(await client.models.ready('iris')).toEqual({ name: 'iris', ready: false });
    expect(await client.models.ready('digits')).toEqual({ name: 'digits', ready: true });
  });

  it('other failures still throw: 401, and 404 for an unknown model', async () => {
    const { fetch } = scriptedFetch([errorReply(401, 'unauthorized'), errorReply(404, 'model_not_found')]);
    const client = new Modelport({ baseUrl: BASE, fetch, maxRetries: 0 });
    await expect(client.health.ready()).rejects.toBeInstanceOf(AuthenticationError);
    await expect(client.models.ready('nope')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('baseUrl is checked by the constructor', () => {
  it.each([
    ['localhost:8080', "baseUrl 'localhost:8080' is not an http:// or https:// URL; give the scheme too, e.g. 'http://localhost:8080'"],
    ['example.com', "baseUrl 'example.com' is not an http:// or https:// URL; give the scheme too, e.g. 'http://example.com'"],
    ['', "baseUrl '' is not an http:// or https:// URL; give the scheme too, e.g. 'http://127.0.0.1:8700'"],
    ['ftp://x', "baseUrl 'ftp://x' is not an http:// or https:// URL; give the scheme too, e.g. 'http://127.0.0.1:8700'"],
  ])('%j is a ConfigurationError', (baseUrl, message) => {
    const error = (() => {
      try {
        new Modelport({ baseUrl });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toBeInstanceOf(ModelportError);
    expect((error as Error).message).toBe(message);
  });

  it('MODELPORT_URL too, named as the source', () => {
    vi.stubEnv('MODELPORT_URL', 'models.internal:8700');
    expect(() => new Modelport()).toThrow(
      new ConfigurationError(
        "MODELPORT_URL 'models.internal:8700' is not an http:// or https:// URL; give the scheme too, e.g. 'http://models.internal:8700'",
      ),
    );
  });

  it('a timeout timers cannot wait is refused by the call, before anything is sent', async () => {
    const { fetch, calls } = scriptedFetch([jsonReply(200, { live: true })]);
    const client = new Modelport({ baseUrl: BASE, fetch });
    for (const timeout of [0, -1, Number.NaN, 2 ** 31]) {
      const error = await client.health.live({ timeout }).catch((e) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.message).toBe(`timeout ${timeout} is not a number of milliseconds between 1 and 2147483647`);
    }
    expect(calls).toHaveLength(0);
  });

  it('http and https URLs pass, without their trailing slashes', () => {
    expect(new Modelport({ baseUrl: 'https://models.example.com/v/' }).baseUrl).toBe('https://models.example.com/v');
    expect(new Modelport({ baseUrl: 'http://[::1]:8700' }).baseUrl).toBe('http://[::1]:8700');
  });
});

const IRIS_METADATA = {
  name: 'iris',
  versions: ['1'],
  platform: 'tensorflowjs_layers',
  inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 4] }],
  outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
};

describe('predict input that cannot make the tensor is an InvalidInputError, before any infer request', () => {
  it('wrong-length data names the input, the element count from the shape, and the length given', async () => {
    const { fetch, calls } = scriptedFetch([jsonReply(200, IRIS_METADATA)]);
    const client = new Modelport({ baseUrl: BASE, fetch });
    const error = await client.predict('iris', { data: [5.1, 3.5, 1.4], shape: [1, 4] }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toBe("client.predict('iris'): input 'features': shape [1,4] needs 4 elements, got 3");
    expect(error.input).toBe('features');
    expect(error.cause).toBeInstanceOf(RangeError);
    expect(calls.map((c) => c.method)).toEqual(['GET']);
  });

  it('a flat array that fits no batch of the shape', async () => {
    const { fetch } = scriptedFetch([jsonReply(200, { ...IRIS_METADATA, labels: ['setosa', 'versicolor', 'virginica'] })]);
    const error = await new Modelport({ baseUrl: BASE, fetch }).classify('iris', new Float32Array(7)).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toBe("client.classify('iris'): input 'features': cannot fit 7 values to shape [-1,4]; pass { data, shape }");
  });

  it('a multi-input model called without input names', async () => {
    const metadata = { ...IRIS_METADATA, inputs: [IRIS_METADATA.inputs[0], { name: 'mask', datatype: 'FP32', shape: [-1, 4] }] };
    const { fetch } = scriptedFetch([jsonReply(200, metadata)]);
    const error = await new Modelport({ baseUrl: BASE, fetch }).predict('iris', [[1, 2, 3, 4]]).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toBe("client.predict('iris'): the model has 2 inputs (features, mask); pass them by name");
  });
});

describe('timeouts name the call and the limit, and are retried like connection errors', () => {
  /** A fetch that answers after `delays[n]` ms on its n-th call (the last delay repeats). */
  function slowFetch(delays: number[], reply: () => Response) {
    const calls: { method: string; url: string }[] = [];
    const fetch = (input: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((resolve, reject) => {
        const request = new Request(input, init);
        calls.push({ method: request.method, url: request.url });
        const signal = init?.signal ?? request.signal;
        const timer = setTimeout(() => resolve(reply()), delays[Math.min(calls.length - 1, delays.length - 1)]);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(signal.reason);
        });
      });
    return { fetch: fetch as typeof globalThis.fetch, calls };
  }

  it("predict's timeout names client.predict('iris') and the limit, not the metadata GET it happened in", async () => {
    const { fetch, calls } = slowFetch([5_000], () => jsonReply(200, IRIS_METADATA));
    const client = new Modelport({ baseUrl: BASE, fetch, timeout: 100, maxRetries: 0 });
    const error = await client.predict('iris', [[5.1, 3.5, 1.4, 0.2]]).catch((e) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toBe("client.predict('iris') timed out after 100 ms (timeout option)");
    expect(calls).toEqual([{ method: 'GET', url: `${BASE}/v2/models/iris` }]);
  });

  it('a timed-out attempt is retried per maxRetries, and the message counts the attempts', async () => {
    const { fetch, calls } = slowFetch([5_000], () => jsonReply(200, { name: 'x' }));
    const client = new Modelport({ baseUrl: BASE, fetch, timeout: 80, maxRetries: 1 });
    const error = await client.models.metadata('x').catch((e) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toBe(`GET ${BASE}/v2/models/x timed out after 80 ms (timeout option) on each of its 2 attempts (maxRetries: 1)`);
    expect(calls).toHaveLength(2);
  });

  it('a retry after a timeout can succeed', async () => {
    const { fetch, calls } = slowFetch([5_000, 0], () => jsonReply(200, { live: true }));
    const client = new Modelport({ baseUrl: BASE, fetch, timeout: 80, maxRetries: 2 });
    await expect(client.health.live()).resolves.toEqual({ live: true });
    expect(calls).toHaveLength(2);
  });

  it('a POST is retried after a timeout only when it carries an idempotency key', async () => {
    const plain = slowFetch([5_000], () => jsonReply(200, {}));
    const noKey = new Modelport({ baseUrl: BASE, fetch: plain.fetch, timeout: 80, maxRetries: 2 });
    await expect(noKey.transport.json({ method: 'POST', path: 'v1/things', json: {} })).rejects.toBeInstanceOf(TimeoutError);
    expect(plain.calls).toHaveLength(1);

    const keyed = slowFetch([5_000, 0], () => jsonReply(201, { id: 't1' }));
    const withKey = new Modelport({ baseUrl: BASE, fetch: keyed.fetch, timeout: 80, maxRetries: 2 });
    await expect(withKey.transport.json({ method: 'POST', path: 'v1/things', json: {}, idempotencyKey: 'k' })).resolves.toEqual({
      id: 't1',
    });
    expect(keyed.calls).toHaveLength(2);
  });

  it("the caller's own abort stays the signal's reason (an AbortError), as fetch does, and is not retried", async () => {
    const { fetch, calls } = slowFetch([5_000], () => jsonReply(200, { live: true }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const error = await new Modelport({ baseUrl: BASE, fetch, maxRetries: 2 }).health.live({ signal: controller.signal }).catch((e) => e);
    expect(error).toBeInstanceOf(DOMException);
    expect(error.name).toBe('AbortError');
    expect(calls).toHaveLength(1);
  });
});

describe('responses the SDK cannot read are UnexpectedResponseErrors', () => {
  it('an output datatype the SDK does not know names the output and the datatype', async () => {
    const response = { model_name: 'text', outputs: [{ name: 'tokens', datatype: 'string', shape: [1], data: ['a'] }] };
    const { fetch } = scriptedFetch([
      jsonReply(200, { ...IRIS_METADATA, name: 'text' }),
      jsonReply(200, response, { 'x-request-id': 'r-9' }),
    ]);
    const error = await new Modelport({ baseUrl: BASE, fetch }).predict('text', [[1, 2, 3, 4]]).catch((e) => e);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error.message).toBe(
      "client.predict('text'): the server's 200 response has output 'tokens' of datatype 'string', which this SDK does not know " +
        '(BOOL, UINT8, INT8, UINT16, INT16, FP16, UINT32, INT32, FP32, UINT64, INT64, FP64, BYTES)',
    );
    expect(error).toMatchObject({ status: 200, requestId: 'r-9' });
  });

  it('a 200 whose body is not JSON', async () => {
    const { fetch } = scriptedFetch([new Response('<html>portal login</html>', { status: 200, headers: { 'content-type': 'text/html' } })]);
    const error = await new Modelport({ baseUrl: BASE, fetch }).server.metadata().catch((e) => e);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error.status).toBe(200);
    expect(error.body).toBe('<html>portal login</html>');
    expect(error.message).toMatch(/^200 response from .* is not JSON \(.+\): <html>portal login<\/html>$/);
  });

  it('a binary response whose header length overruns the body', async () => {
    const { fetch } = scriptedFetch([
      new Response(new Uint8Array(10), { status: 200, headers: { 'inference-header-content-length': '64' } }),
    ]);
    const error = await new Modelport({ baseUrl: BASE, fetch }).inference
      .inferBinary('m', { inputs: [] }, { binaryInputs: [] })
      .catch((e) => e);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error.message).toBe(
      "client.inference.inferBinary('m'): the server's 200 response has a binary body whose JSON header cannot be read: " +
        'Inference-Header-Content-Length 64 does not fit a body of 10 bytes',
    );
  });

  it('an explanation without attributions', async () => {
    const { fetch } = scriptedFetch([jsonReply(200, { model_name: 'iris', target: 0 })]);
    const error = await new Modelport({ baseUrl: BASE, fetch }).models
      .explain('iris', { name: 'features', data: [1, 2, 3, 4], shape: [1, 4] })
      .catch((e) => e);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error.message).toBe("client.models.explain('iris'): the server's response has no `attributions`");
  });

  it('a body that breaks off after the headers is a ConnectionError', async () => {
    const broken = () =>
      new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"name":'));
            controller.error(new TypeError('terminated'));
          },
        }),
        { status: 200, headers: { 'content-type': 'application/json' } },
      );
    const { fetch } = scriptedFetch([broken]);
    const error = await new Modelport({ baseUrl: BASE, fetch }).server.metadata().catch((e) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toMatch(/^the 200 response from .* broke off: terminated$/);
  });

  it('a training event that is not JSON', async () => {
    const stream = () => new Response('id: 1\ndata: {not json\n\n', { status: 200, headers: { 'content-type': 'text/event-stream' } });
    const { fetch } = scriptedFetch([stream]);
    const events = new Modelport({ baseUrl: BASE, fetch }).trainingJobs.events('job-1', { maxRetries: 0 });
    const error = await events.next().catch((e) => e);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error.message).toMatch(/^training job job-1: an event is not JSON \(.+\)$/);
  });
});

describe('a failed fetch in a web page hints at CORS', () => {
  it('names the page origin and --cors when the server is on another origin', async () => {
    vi.stubGlobal('document', {});
    vi.stubGlobal('location', { origin: 'http://app.test:5173' });
    const { fetch } = scriptedFetch([new TypeError('Failed to fetch')]);
    const error = await new Modelport({ baseUrl: BASE, fetch, maxRetries: 0 }).health.live().catch((e) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toBe(
      `connection failed: GET ${BASE}/v2/health/live: Failed to fetch. This page (http://app.test:5173) calls another origin: ` +
        'either the server is down, or it does not allow this origin (CORS; start modelport with --cors http://app.test:5173, ' +
        'or allow the origin in your proxy); the browser console says which',
    );
  });

  it('says nothing of CORS on the same origin, or outside a page', async () => {
    vi.stubGlobal('document', {});
    vi.stubGlobal('location', { origin: BASE });
    const { fetch } = scriptedFetch([new TypeError('Failed to fetch')]);
    const samePage = await new Modelport({ baseUrl: BASE, fetch, maxRetries: 0 }).health.live().catch((e) => e);
    expect(samePage.message).toBe(`connection failed: GET ${BASE}/v2/health/live: Failed to fetch`);
    vi.unstubAllGlobals();
    const node = await new Modelport({ baseUrl: BASE, fetch, maxRetries: 0 }).health.live().catch((e) => e);
    expect(node.message).toBe(`connection failed: GET ${BASE}/v2/health/live: Failed to fetch`);
  });

  it('whatever a custom fetch throws is a ConnectionError', async () => {
    const { fetch } = scriptedFetch([new RangeError('proxy agent exploded')]);
    const error = await new Modelport({ baseUrl: BASE, fetch, maxRetries: 0 }).health.live().catch((e) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toBe(`connection failed: GET ${BASE}/v2/health/live: proxy agent exploded`);
  });
});

describe('mswHandlers without msw', () => {
  it('says to install it', async () => {
    const missing = () => import(/* @vite-ignore */ `${'msw-is-not-installed'}`);
    const error = await importMsw(missing).catch((e) => e);
    expect(error.message).toBe('mswHandlers needs msw 2, which is not installed here: npm install --save-dev msw');
    expect(error.cause.code).toMatch(/MODULE_NOT_FOUND/);
  });
});
