/**
 * Request limits (issue #18 items 9-12): bodies that stall are answered 408 and never hold a
 * model's admission slot; training jobs are estimated and refused over their budget, and the queue
 * is capped per key and in all; fault rules are checked (answers HTTP can carry, patterns that
 * cannot backtrack catastrophically); lists in request bodies have maxima; rate limits have ranges
 * and Retry-After is always a whole number of seconds, 1 or more.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter } from '../mock-server/auth/rate-limit';
import { listen, type Listening } from '../mock-server/http/node-adapter';
import { createModelServer, type ModelServer } from '../mock-server/server/create-server';
import { estimateArchitecture, layerCost } from '../mock-server/training/budget';

const IDLE_MS = 1000;
const TOTAL_MS = 2500;
const HEADERS_MS = 1000;
const IN_FLIGHT = 4;
const irisBody = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] });

let server: ModelServer;
let listening: Listening;
let url: URL;

beforeAll(async () => {
  server = await createModelServer({
    auth: true,
    mockControls: true,
    maxInFlightPerModel: IN_FLIGHT,
    headersTimeoutMs: HEADERS_MS,
    bodyIdleTimeoutMs: IDLE_MS,
    bodyTimeoutMs: TOTAL_MS,
    maxTrainingJobsPerKey: 3,
    maxTrainingJobs: 5,
    maxEvaluationsPerKey: 2,
    maxEvaluations: 3,
    maxTrainingMemoryBytes: 256 * 1024 * 1024,
  });
  listening = await listen(server.handler, { headersTimeoutMs: HEADERS_MS, bodyTimeoutMs: TOTAL_MS });
  url = new URL(listening.url);
});
afterAll(async () => {
  await listening?.close();
  await server?.close();
});

const call = (pathname: string, init: RequestInit & { key?: string } = {}) =>
  fetch(new URL(pathname, url), {
    ...init,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${init.key ?? server.adminKey}`, ...(init.headers ?? {}) },
  });

/** A raw connection that sends `head` (and whatever `then` writes) and collects everything the server answers until it closes. */
function rawRequest(
  head: string,
  then?: (socket: Socket) => void,
): { socket: Socket; answer: Promise<{ text: string; closedAfterMs: number }> } {
  const socket = connect(Number(url.port), url.hostname);
  const started = performance.now();
  const answer = new Promise<{ text: string; closedAfterMs: number }>((resolve) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ text, closedAfterMs: performance.now() - started }));
  });
  socket.write(head);
  then?.(socket);
  return { socket, answer };
}

function stalledInference(): ReturnType<typeof rawRequest> {
  return rawRequest(
    `POST /v2/models/iris/infer HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${server.adminKey}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{`,
  );
}

function errorOf(text: string): { status: number; body: { code: string; error: string; status: number } } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  return { status, body: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) };
}

describe('slow bodies and headers', () => {
  it('a body answered from its headers alone (401) is read to its end before the connection closes, so the client sees the 401', async () => {
    // 1 MiB in 16 writes, 20 ms apart: a server that closed at its answer would break the later writes.
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const writes: Promise<Error | undefined>[] = [];
    const { socket, answer } = rawRequest(
      `POST /v1/models/iris/versions HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/zip\r\ncontent-length: ${16 * chunk.byteLength}\r\n\r\n`,
    );
    for (let i = 0; i < 16; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      writes.push(new Promise((resolve) => socket.write(chunk, (error) => resolve(error ?? undefined))));
    }
    expect((await Promise.all(writes)).filter(Boolean)).toEqual([]);
    const { text } = await answer;
    expect(errorOf(text)).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    expect(text.toLowerCase()).toContain('connection: close');
  });

  it(`${IN_FLIGHT * 2} stalled bodies hold no admission slot: a normal inference gets 200, the stalled ones 408 after ${IDLE_MS} ms and are closed`, async () => {
    const stalled = Array.from({ length: IN_FLIGHT * 2 }, stalledInference);
    await new Promise((resolve) => setTimeout(resolve, 200)); // they are all being read
    expect(server.state.inFlight.get('iris') ?? 0).toBe(0);
    const normal = await call('/v2/models/iris/infer', { method: 'POST', body: irisBody });
    expect(normal.status).toBe(200);
    expect((await normal.json()).outputs[0].shape).toEqual([1, 3]);
    const answers = await Promise.all(stalled.map((s) => s.answer));
    for (const { text, closedAfterMs } of answers) {
      const { status, body } = errorOf(text);
      expect(status).toBe(408);
      expect(body).toMatchObject({ status: 408, code: 'request_timeout' });
      expect(body.error).toContain(`the limit is ${IDLE_MS} ms (--body-idle-timeout-ms)`);
      expect(text.toLowerCase()).toContain('connection: close');
      expect(closedAfterMs).toBeGreaterThanOrEqual(IDLE_MS - 50);
      expect(closedAfterMs).toBeLessThan(IDLE_MS + 2000);
    }
    expect(server.state.inFlight.get('iris') ?? 0).toBe(0);
    expect(server.state.bodyBytesInProgress).toBe(0);
  });

  it(`a body that trickles a byte every ${IDLE_MS / 2} ms gets 408 at the body deadline (${TOTAL_MS} ms)`, async () => {
    let timer: NodeJS.Timeout | undefined;
    const { answer } = rawRequest(
      `POST /v2/models/iris/infer HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${server.adminKey}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n`,
      (socket) => {
        timer = setInterval(() => socket.writable && socket.write(' '), IDLE_MS / 2);
      },
    );
    const { text, closedAfterMs } = await answer;
    clearInterval(timer);
    const { status, body } = errorOf(text);
    expect(status).toBe(408);
    expect(body.code).toBe('request_timeout');
    expect(body.error).toContain(`the limit is ${TOTAL_MS} ms (--body-timeout-ms)`);
    expect(closedAfterMs).toBeGreaterThanOrEqual(TOTAL_MS - 50);
  });

  it(`headers that never end are answered 408 by Node and the connection closed (headers timeout ${HEADERS_MS} ms)`, async () => {
    const { answer } = rawRequest(`GET /v2/health/ready HTTP/1.1\r\nhost: ${url.host}\r\nx-slow: `);
    const { text, closedAfterMs } = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(closedAfterMs).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(closedAfterMs).toBeLessThan(HEADERS_MS + 2000);
  });

  it('a request answered before its body is in (401 without a key) closes the connection at once, not after the body timeouts', async () => {
    const { answer } = rawRequest(
      `POST /v2/models/iris/infer HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{`,
    );
    const { text, closedAfterMs } = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(closedAfterMs).toBeLessThan(IDLE_MS);
  });

  it('the fetch path (a handler called with a Request whose body stalls) answers 408 too', async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{'));
      },
    });
    const response = await server.handler(
      new Request('http://local/v2/models/iris/infer', {
        method: 'POST',
        body: stream,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
        duplex: 'half',
      } as RequestInit),
    );
    expect(response.status).toBe(408);
    expect(await response.json()).toMatchObject({ code: 'request_timeout' });
    expect(response.headers.get('connection')).toBe('close');
  });

  it('bodies being received at once are bounded in bytes: past --max-body-bytes-in-progress, 503 before reading', async () => {
    const limited = await createModelServer({ auth: false, maxBodyBytesInProgress: 4096, bodyIdleTimeoutMs: IDLE_MS });
    const port = await listen(limited.handler);
    try {
      const target = new URL(port.url);
      const held = connect(Number(target.port), target.hostname);
      held.on('error', () => undefined);
      held.write(
        `POST /v2/models/iris/infer HTTP/1.1\r\nhost: ${target.host}\r\ncontent-type: application/json\r\ncontent-length: 4000\r\n\r\n{`,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      const refused = await fetch(`${port.url}/v2/models/iris/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(irisBody.length + 200) },
        body: irisBody + ' '.repeat(200),
      });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      const body = await refused.json();
      expect(body.code).toBe('overloaded');
      expect(body.error).toContain('(--max-body-bytes-in-progress)');
      // Without a Content-Length the body is counted as it arrives: refused once a chunk would pass the limit.
      const chunked = await fetch(`${port.url}/v2/models/iris/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(irisBody + ' '.repeat(200)));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect(chunked.status).toBe(503);
      expect((await chunked.json()).error).toMatch(
        /^the server is receiving 4,000 bytes of other request bodies; this one's [\d,]+ bytes would pass the limit of 4,096 bytes \(--max-body-bytes-in-progress\)/,
      );
      held.destroy();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await fetch(`${port.url}/v2/models/iris/infer`, { method: 'POST', body: irisBody })).status).toBe(200);
    } finally {
      await port.close();
      await limited.close();
    }
  });
  it('requests without a Content-Length (msw, a handler called in process) are counted by what arrives: 64 at once all pass', async () => {
    const answers = await Promise.all(
      Array.from({ length: 64 }, () =>
        server.handler(
          new Request('http://local/v2/models/iris/infer', {
            method: 'POST',
            body: irisBody,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
          }),
        ),
      ),
    );
    // Only the in-flight limit (4) sheds; none is refused for the bytes in progress.
    for (const answer of answers.filter((a) => a.status !== 200)) expect((await answer.json()).error).toContain('requests in flight');
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(IN_FLIGHT);
    expect(server.state.bodyBytesInProgress).toBe(0);
  });
});

describe('training budget and queue', () => {
  const base = { dataset: 'iris-train', optimizer: { name: 'sgd' }, task: 'classification' } as const;
  const create = (body: object, key?: string) => call('/v1/training-jobs', { method: 'POST', body: JSON.stringify(body), key });

  it('64 dense layers of 65,536 units (≈2.7e11 parameters) are refused with 413, naming the estimate and the limit', async () => {
    const layers = [
      ...Array.from({ length: 63 }, () => ({ type: 'dense', units: 65536, activation: 'relu' })),
      { type: 'dense', units: 3 },
    ];
    const response = await create({ ...base, model: 'huge', epochs: 1, architecture: { input: { name: 'x', shape: [4] }, layers } });
    expect(response.status).toBe(413);
    const body = await response.json();
    expect(body.code).toBe('training_too_large');
    const params = 4 * 65536 + 65536 + 62 * (65536 * 65536 + 65536) + 65536 * 3 + 3;
    expect(body.error).toBe(
      `the model would have ${params.toLocaleString('en-US')} parameters; the limit is 50,000,000 (--max-training-params)`,
    );
    expect(params).toBeGreaterThan(2.6e11);
  });

  it('an embedding of 2^31 × 65,536 is refused on its parameters', async () => {
    const response = await create({
      ...base,
      model: 'huge',
      epochs: 1,
      loss: 'mean_squared_error',
      architecture: {
        input: { name: 'x', shape: [4] },
        layers: [{ type: 'embedding', input_dim: 2 ** 31, output_dim: 65536 }, { type: 'flatten' }, { type: 'dense', units: 3 }],
      },
    });
    expect(response.status).toBe(413);
    const body = await response.json();
    expect(body.code).toBe('training_too_large');
    const params = 2 ** 31 * 65536 + 4 * 65536 * 3 + 3; // the embedding, then the dense layer on its flattened output
    expect(body.error).toBe(
      `the model would have ${params.toLocaleString('en-US')} parameters; the limit is 50,000,000 (--max-training-params)`,
    );
  });

  it('epochs over the cap, memory over the budget and work over the budget are refused, each naming its flag', async () => {
    const small = { input: { name: 'x', shape: [4] }, layers: [{ type: 'dense', units: 3, activation: 'softmax' }] };
    const epochs = await (await create({ ...base, model: 'm', epochs: 1000, architecture: small })).json();
    expect(epochs).toMatchObject({ status: 413, code: 'training_too_large' });
    expect(epochs.error).toBe('epochs 1,000 exceeds the limit of 200 (--max-training-epochs)');

    const wide = {
      input: { name: 'image', shape: [28, 28, 1] },
      layers: [{ type: 'flatten' }, { type: 'dense', units: 4096 }, { type: 'dense', units: 10 }],
    };
    const memory = await (
      await create({ ...base, dataset: 'mnist-train', model: 'm', epochs: 1, batch_size: 8000, architecture: wide })
    ).json();
    expect(memory).toMatchObject({ status: 413, code: 'training_too_large' });
    expect(memory.error).toMatch(/training would need about [\d,]+ MiB of memory .*; the limit is 256 MiB \(--max-training-memory-mb\)/);

    const work = await (await create({ ...base, dataset: 'mnist-train', model: 'm', epochs: 200, architecture: wide })).json();
    expect(work).toMatchObject({ status: 413, code: 'training_too_large' });
    expect(work.error).toMatch(/about 5\.\d\de\+12 multiply-adds .*; the limit is 1\.00e\+12 \(--max-training-work\)/);
  });

  it('the estimate counts what TF.js builds: dense, conv, pooling, embedding and LSTM parameters', () => {
    expect(layerCost({ type: 'dense', units: 10 }, [784])).toMatchObject({ params: 7850, output: [10] });
    expect(layerCost({ type: 'conv2d', filters: 8, kernel_size: 3 }, [28, 28, 1])).toMatchObject({ params: 80, output: [26, 26, 8] });
    expect(layerCost({ type: 'conv2d', filters: 8, kernel_size: 3, padding: 'same', strides: 2 }, [28, 28, 1])).toMatchObject({
      output: [14, 14, 8],
    });
    expect(layerCost({ type: 'maxPooling2d' }, [26, 26, 8])).toMatchObject({ params: 0, output: [13, 13, 8] });
    expect(layerCost({ type: 'embedding', input_dim: 100, output_dim: 8 }, [5])).toMatchObject({ params: 800, output: [5, 8] });
    expect(layerCost({ type: 'lstm', units: 16 }, [5, 8])).toMatchObject({ params: 4 * (16 * 24 + 16), output: [16] });
    expect(layerCost({ type: 'batchNormalization' }, [10])).toMatchObject({ params: 40 });
    expect(layerCost({ type: 'conv2d', filters: 8, kernel_size: 3 }, [10])).toBeUndefined(); // TF.js refuses it: nothing after it is built
    const estimate = estimateArchitecture(
      { model: 'm', dataset: 'mnist-train', epochs: 3, optimizer: { name: 'adam' } },
      {
        input: { name: 'image', shape: [28, 28, 1] },
        layers: [{ type: 'flatten' }, { type: 'dense', units: 32 }, { type: 'dense', units: 10 }],
      },
      { samples: 8000, features: 784 },
    );
    expect(estimate.params).toBe(784 * 32 + 32 + 32 * 10 + 10);
    expect(estimate.work).toBe((784 * 32 + 32 * 10) * 8000 * 3);
  });

  it('jobs queued or running are capped per key (3) and in all (5): 429 too_many_jobs with Retry-After, naming the cap', async () => {
    const keyOf = async (name: string) => {
      const response = await call('/v1/api-keys', { method: 'POST', body: JSON.stringify({ name, scopes: ['training'] }) });
      expect(response.status).toBe(201);
      return (await response.json()).secret as string;
    };
    const [first, second] = [await keyOf('trainer-1'), await keyOf('trainer-2')];
    // Jobs that take a while (the first one runs, the others wait), so none ends during the test.
    const slow = {
      model: 'queued',
      dataset: 'mnist-train',
      epochs: 100,
      optimizer: { name: 'sgd' },
      architecture: {
        input: { name: 'image', shape: [28, 28, 1] },
        layers: [{ type: 'flatten' }, { type: 'dense', units: 64 }, { type: 'dense', units: 10 }],
      },
    };
    try {
      const burst = await Promise.all(Array.from({ length: 10 }, () => create(slow, first)));
      expect(burst.map((r) => r.status).sort()).toEqual([202, 202, 202, ...Array(7).fill(429)]);
      for (const response of burst.filter((r) => r.status === 429)) {
        expect(response.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
        const body = await response.json();
        expect(body.code).toBe('too_many_jobs');
        expect(body.error).toContain(
          'this key has 3 training jobs queued or running; the limit is 3 per key (--max-training-jobs-per-key)',
        );
      }
      const more = await Promise.all(Array.from({ length: 3 }, () => create(slow, second)));
      expect(more.map((r) => r.status).sort()).toEqual([202, 202, 429]);
      const full = await more.find((r) => r.status === 429)!.json();
      expect(full.error).toContain('the server has 5 training jobs queued or running; the limit is 5 (--max-training-jobs)');
    } finally {
      await call('/_mock/reset', { method: 'POST' });
    }
  });
});

describe('evaluation queue', () => {
  it('evaluations queued or running are capped per key (2) and in all (3): 429 too_many_jobs with Retry-After, naming the cap', async () => {
    const keyOf = async (name: string) => {
      const response = await call('/v1/api-keys', { method: 'POST', body: JSON.stringify({ name, scopes: ['models:write'] }) });
      expect(response.status).toBe(201);
      return (await response.json()).secret as string;
    };
    const [first, second] = [await keyOf('evaluator-1'), await keyOf('evaluator-2')];
    // One sample per batch over 2,000 digits: the first job is still running when the last request arrives.
    const slow = JSON.stringify({ dataset: 'mnist-holdout', models: [{ model: 'digits' }], batch_size: 1 });
    const evaluate = (key: string) => call('/v1/evaluations', { method: 'POST', body: slow, key });
    try {
      const burst = await Promise.all(Array.from({ length: 5 }, () => evaluate(first)));
      expect(burst.map((r) => r.status).sort()).toEqual([202, 202, 429, 429, 429]);
      for (const response of burst.filter((r) => r.status === 429)) {
        expect(response.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
        const body = await response.json();
        expect(body.code).toBe('too_many_jobs');
        expect(body.error).toContain('this key has 2 evaluations queued or running; the limit is 2 per key (--max-evaluations-per-key)');
      }
      const more = await Promise.all(Array.from({ length: 2 }, () => evaluate(second)));
      expect(more.map((r) => r.status).sort()).toEqual([202, 429]);
      const full = await more.find((r) => r.status === 429)!.json();
      expect(full.error).toContain('the server has 3 evaluations queued or running; the limit is 3 (--max-evaluations)');
    } finally {
      await call('/_mock/reset', { method: 'POST' });
    }
  });
});

describe('fault rules', () => {
  const add = (fault: object) => call('/_mock/faults', { method: 'POST', body: JSON.stringify(fault) });

  it('a pattern with nested quantifiers, (a+)+$, is refused with 400 naming /path', async () => {
    const response = await add({ path: '(a+)+$', status: 500 });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.code).toBe('invalid_request');
    expect(body.details).toEqual([{ path: '/path', message: 'catastrophic backtracking' }]);
    expect(body.error).toContain('nested quantifiers');
    expect(() => server.state.testControls.inject({ path: '(x+x+)+y', status: 500 })).toThrow(/nested quantifiers/);
  });

  it('what safe-regex2 cannot see, (a|aa)+$, runs in linear time; back-references are refused', async () => {
    const response = await add({ path: '(a|aa)+$', status: 418 });
    expect(response.status).toBe(201);
    const started = performance.now();
    const probe = await call(`/v1/models/${'a'.repeat(40)}!`);
    // No match (the path ends in '!'), answered at once: V8's backtracking engine takes ~60 s on this path.
    expect(probe.status).toBe(400); // not a model name
    expect(performance.now() - started).toBeLessThan(5000);
    expect((await call(`/v1/models/${'a'.repeat(40)}`)).status).toBe(418); // the pattern does match what it should
    const backReference = await add({ path: '(a)\\1', status: 500 });
    expect(backReference.status).toBe(400);
    expect((await backReference.json()).details).toEqual([{ path: '/path', message: 'not matchable in linear time' }]);
    await call('/_mock/faults', { method: 'DELETE' });
  });

  it('header names must be tokens and values carry no CR, LF or NUL (over HTTP and in process)', async () => {
    const crlfValue = await add({ status: 500, headers: { 'x-a': 'b\r\nset-cookie: x=1' } });
    expect(crlfValue.status).toBe(400);
    expect((await crlfValue.json()).details[0].path).toMatch(/^\/headers/);
    const badName = await add({ status: 500, headers: { 'x a\r\n': 'b' } });
    expect(badName.status).toBe(400);
    expect(() => server.state.testControls.inject({ status: 500, headers: { 'x-a': 'b\nc' } })).toThrow(/CR, LF or NUL/);
    expect(() => server.state.testControls.inject({ status: 500, headers: { 'bad name': 'b' } })).toThrow(/not an HTTP token/);
  });

  it('1xx statuses are refused; 204 and 304 with a body are refused, without one they answer with no body', async () => {
    for (const status of [100, 101, 103]) {
      const response = await add({ status });
      expect(response.status).toBe(400);
      expect((await response.json()).details[0].path).toBe('/status');
      expect(() => server.state.testControls.inject({ status })).toThrow(/1xx status is an interim answer/);
    }
    const withBody = await add({ status: 204, body: { a: 1 } });
    expect(withBody.status).toBe(400);
    expect((await withBody.json()).details).toEqual([{ path: '/body', message: 'not allowed with status 204' }]);
    expect((await add({ operation: 'getModel', status: 204, count: 1 })).status).toBe(201);
    const answer = await call('/v1/models/iris');
    expect(answer.status).toBe(204);
    expect(answer.headers.get('content-length')).toBeNull();
    expect(await answer.text()).toBe('');
  });
});

describe('lists and ranges in request bodies', () => {
  it('labels: at most 25,000 of at most 256 characters (and 3 M labels are refused before anything is stored)', async () => {
    const tooMany = await call('/v1/models/iris', { method: 'PATCH', body: JSON.stringify({ labels: Array(25_001).fill('x') }) });
    expect(tooMany.status).toBe(400);
    const body = await tooMany.json();
    expect(body.code).toBe('invalid_request');
    expect(body.details).toContainEqual({ path: '/labels', message: 'must NOT have more than 25000 items' });
    // 3 M labels are 12 MB of JSON: the JSON body limit (413) meets them before the labels' maximum (400) can.
    const millions = await call('/v1/models/iris', { method: 'PATCH', body: JSON.stringify({ labels: Array(3_000_000).fill('x') }) });
    expect(await millions.json()).toMatchObject({ status: 413, code: 'payload_too_large' });
    const tooLong = await call('/v1/models/iris', { method: 'PATCH', body: JSON.stringify({ labels: ['x'.repeat(257)] }) });
    expect(tooLong.status).toBe(400);
    expect((await tooLong.json()).details[0].path).toBe('/labels/0');
    expect((await (await call('/v1/models/iris')).json()).labels).toHaveLength(3);
  });

  it("a key's models: at most 1,000", async () => {
    const models = Array.from({ length: 1001 }, (_, i) => `m${i}`);
    const response = await call('/v1/api-keys', { method: 'POST', body: JSON.stringify({ name: 'many', scopes: ['inference'], models }) });
    expect(response.status).toBe(400);
    expect((await response.json()).details).toContainEqual(expect.objectContaining({ path: '/models' }));
  });

  it.each([5e-324, 1e308, 0])('a rate limit of %s requests/s is refused (0.001 to 1,000,000)', async (rps) => {
    const response = await call('/v1/api-keys', {
      method: 'POST',
      body: JSON.stringify({ name: 'odd-rate', scopes: ['inference'], rate_limit: { requests_per_second: rps } }),
    });
    expect(response.status).toBe(400);
    expect((await response.json()).details).toContainEqual(expect.objectContaining({ path: '/rate_limit/requests_per_second' }));
  });

  it('Retry-After is a whole number of seconds, 1 or more, whatever the settings (an old keys file, a caller in process)', () => {
    const limiter = new RateLimiter();
    for (const config of [
      { requests_per_second: 5e-324 },
      { requests_per_second: 1e308, burst: 1 },
      { requests_per_second: Number.NaN },
      { requests_per_second: 2, burst: 1 },
    ]) {
      limiter.reset();
      let decision = limiter.take('k', config, 0);
      for (let i = 0; i < 3 && decision.allowed; i++) decision = limiter.take('k', config, 0);
      if (decision.allowed) continue; // 1e308/s refills at once
      expect(Number.isInteger(decision.resetSeconds)).toBe(true);
      expect(decision.resetSeconds).toBeGreaterThanOrEqual(1);
      expect(decision.resetSeconds).toBeLessThanOrEqual(1000);
    }
  });
});
