/**
 * Attacks on the request limits (issue #18 items 9-12), each against `modelport serve` in a child
 * process, each held to a budget the server measures inside itself: slow bodies, training jobs
 * of any size and in any number, fault rules that backtrack or split headers, unbounded lists and
 * rate limits that make Retry-After infinite.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AttackServer, refusal, startAttackServer, underAttack } from './harness';

const IN_FLIGHT = 8;
const IDLE_MS = 2000;
const irisBody = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] });

let server: AttackServer;
beforeAll(async () => {
  server = await startAttackServer({ args: ['--max-in-flight', String(IN_FLIGHT), '--body-idle-timeout-ms', String(IDLE_MS)] });
});
afterAll(() => server?.stop());

const json = (pathname: string, method: string, body: unknown, key?: string) =>
  server.fetch(pathname, {
    method,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** Headers and `{`, then nothing: the slow-body attack of the issue. */
function stalledBody(): Promise<string> {
  const url = new URL(server.url);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
    socket.write(
      `POST /v2/models/iris/infer HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${server.adminKey}\r\ncontent-type: application/json\r\ncontent-length: 4096\r\n\r\n{`,
    );
  });
}

describe('request limits under attack', () => {
  it(`${IN_FLIGHT} stalled bodies (the in-flight limit) do not block a normal inference; they get 408 after ${IDLE_MS} ms`, async () => {
    const { normal, stalled } = await underAttack(server, { maxLoopDelayMs: 1000, maxRssGrowthMb: 50 }, async () => {
      const held = Array.from({ length: IN_FLIGHT }, stalledBody);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const response = await json('/v2/models/iris/infer', 'POST', irisBody);
      const normal = { status: response.status, shape: (await response.json()).outputs?.[0]?.shape };
      return { normal, stalled: await Promise.all(held) };
    });
    expect(normal).toEqual({ status: 200, shape: [1, 3] });
    for (const text of stalled) {
      expect(text).toMatch(/^HTTP\/1\.1 408 /);
      const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
      expect(body).toMatchObject({ status: 408, code: 'request_timeout' });
      expect(body.error).toContain(`the limit is ${IDLE_MS} ms (--body-idle-timeout-ms)`);
    }
  });

  it('training architectures of 2.7e11 and 1.4e14 parameters, and 1,000 epochs, are refused before queueing (413)', async () => {
    const trainer = await server.key(['training']);
    const base = { model: 'huge', dataset: 'iris-train', optimizer: { name: 'sgd' }, loss: 'mean_squared_error' };
    const answers = await underAttack(server, { maxLoopDelayMs: 1000, maxRssGrowthMb: 50 }, async () => {
      const dense = Array.from({ length: 64 }, () => ({ type: 'dense', units: 65536 }));
      const embedding = [{ type: 'embedding', input_dim: 2 ** 31, output_dim: 65536 }, { type: 'flatten' }, { type: 'dense', units: 3 }];
      const small = [{ type: 'dense', units: 3 }];
      const architecture = (layers: object[]) => ({ input: { name: 'x', shape: [4] }, layers });
      return Promise.all(
        [
          { ...base, epochs: 1, architecture: architecture(dense) },
          { ...base, epochs: 1, architecture: architecture(embedding) },
          { ...base, epochs: 1000, architecture: architecture(small) },
        ].map(async (job) => refusal(await json('/v1/training-jobs', 'POST', job, trainer))),
      );
    });
    for (const answer of answers) expect(answer).toMatchObject({ status: 413, code: 'training_too_large' });
    const denseParams = 4 * 65536 + 65536 + 63 * (65536 * 65536 + 65536); // ≈ 2.7e11
    const embeddingParams = 2 ** 31 * 65536 + 4 * 65536 * 3 + 3; // ≈ 1.4e14
    expect(answers[0]!.message).toBe(
      `the model would have ${denseParams.toLocaleString('en-US')} parameters; the limit is 50,000,000 (--max-training-params)`,
    );
    expect(answers[1]!.message).toBe(
      `the model would have ${embeddingParams.toLocaleString('en-US')} parameters; the limit is 50,000,000 (--max-training-params)`,
    );
    expect(answers[2]!.message).toBe('epochs 1,000 exceeds the limit of 200 (--max-training-epochs)');
    const jobs = await (await server.fetch('/v1/training-jobs')).json();
    expect(jobs.data).toEqual([]);
  });

  it('300 training jobs sent at once: 8 are queued (the per-key cap), 292 get 429 too_many_jobs with Retry-After', async () => {
    const trainer = await server.key(['training']);
    const job = {
      model: 'flood',
      dataset: 'mnist-train',
      epochs: 100,
      optimizer: { name: 'sgd' },
      architecture: {
        input: { name: 'image', shape: [28, 28, 1] },
        layers: [{ type: 'flatten' }, { type: 'dense', units: 64 }, { type: 'dense', units: 10 }],
      },
    };
    // The first use of the bundled MNIST split loads it (~1-2 s on the main thread, once per process):
    // done before the attack, by a job refused after its dataset was looked up.
    expect((await json('/v1/training-jobs', 'POST', { ...job, epochs: 1000 }, trainer)).status).toBe(413);
    try {
      const answers = await underAttack(server, { maxLoopDelayMs: 1000, maxRssGrowthMb: 50 }, () =>
        Promise.all(
          Array.from({ length: 300 }, async () => {
            const response = await json('/v1/training-jobs', 'POST', job, trainer);
            return { retryAfter: response.headers.get('retry-after'), ...(await refusal(response)) };
          }),
        ),
      );
      expect(answers.filter((a) => a.status === 202)).toHaveLength(8);
      const refused = answers.filter((a) => a.status !== 202);
      expect(refused).toHaveLength(292);
      for (const answer of refused) {
        expect(answer).toMatchObject({ status: 429, code: 'too_many_jobs' });
        expect(answer.retryAfter).toMatch(/^[1-9]\d*$/);
        expect(answer.message).toContain(
          'this key has 8 training jobs queued or running; the limit is 8 per key (--max-training-jobs-per-key)',
        );
      }
    } finally {
      expect((await server.fetch('/_mock/reset', { method: 'POST' })).status).toBe(204);
    }
  });

  it('fault rules: (a+)+$ is refused; (a|aa)+$ runs in linear time on a 2,000-character path; CRLF headers and 1xx are refused', async () => {
    const result = await underAttack(server, { maxLoopDelayMs: 1000, maxRssGrowthMb: 50 }, async () => {
      const nested = await refusal(await json('/_mock/faults', 'POST', { path: '(a+)+$', status: 500 }));
      const overlap = await json('/_mock/faults', 'POST', { path: '(a|aa)+$', status: 500 });
      const probe = await server.fetch(`/v1/models/${'a'.repeat(2000)}!`); // ~minutes of backtracking on a plain RegExp
      const crlf = await refusal(await json('/_mock/faults', 'POST', { status: 500, headers: { 'x-a': 'b\r\nset-cookie: a=1' } }));
      const interim = await refusal(await json('/_mock/faults', 'POST', { status: 101 }));
      return { nested, overlap: overlap.status, probe: probe.status, crlf, interim };
    });
    expect(result.nested).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(result.nested.body.details).toEqual([{ path: '/path', message: 'catastrophic backtracking' }]);
    expect(result.overlap).toBe(201);
    expect(result.probe).toBe(400); // no fault fired (the path ends in '!'); not a model name
    expect(result.crlf).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(result.crlf.body.details[0].path).toMatch(/^\/headers/);
    expect(result.interim).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(result.interim.body.details[0].path).toBe('/status');
    await server.fetch('/_mock/faults', { method: 'DELETE' });
  });

  it('3 M labels are refused before anything is stored, and so are 25,001 (the maximum is 25,000)', async () => {
    const { huge, over } = await underAttack(server, { maxLoopDelayMs: 1000, maxRssGrowthMb: 50 }, async () => {
      const huge = await refusal(await json('/v1/models/iris', 'PATCH', `{"labels":[${'"x",'.repeat(2_999_999)}"x"]}`));
      const over = await refusal(await json('/v1/models/iris', 'PATCH', { labels: Array(25_001).fill('x') }));
      return { huge, over };
    });
    // 3 M labels are 12 MB of JSON: the JSON body limit (413, --max-json-body-bytes) meets them before the labels' maximum (400) can.
    expect(huge).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(over).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(over.body.details).toContainEqual({ path: '/labels', message: 'must NOT have more than 25000 items' });
    const iris = await (await server.fetch('/v1/models/iris')).json();
    expect(iris.labels).toHaveLength(3);
  });

  it('rate limits of 5e-324 and 1e308 requests/s are refused (0.001 to 1,000,000)', async () => {
    const answers = await underAttack(server, { maxLoopDelayMs: 1000, maxRssGrowthMb: 50 }, () =>
      Promise.all(
        [5e-324, 1e308].map(async (rps) =>
          refusal(await json('/v1/api-keys', 'POST', { name: 'odd', scopes: ['inference'], rate_limit: { requests_per_second: rps } })),
        ),
      ),
    );
    for (const answer of answers) {
      expect(answer).toMatchObject({ status: 400, code: 'invalid_request' });
      expect(answer.body.details).toContainEqual(expect.objectContaining({ path: '/rate_limit/requests_per_second' }));
    }
  });
});
