/**
 * A key's model restriction holds for every model a request names (path, query, body, the job a
 * path names), lists and indexes show only the key's models, and moving an alias needs
 * `models:write` (issue #18, item 2). The sweep over every operation is in access.test.ts; these
 * are the scenarios, each with its exact answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockServer, type RunningMockServer } from '../mock-server/index';

let server: RunningMockServer;

beforeAll(async () => {
  server = await startMockServer({});
});
afterAll(() => server?.close());

async function call(key: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function newKey(scopes: string[], models?: string[], key = server.adminKey): Promise<string> {
  const response = await call(key, 'POST', '/v1/api-keys', { name: `k-${scopes.join('-')}`, scopes, ...(models ? { models } : {}) });
  expect(response.status, await response.clone().text()).toBe(201);
  return ((await response.json()) as { secret: string }).secret;
}

async function expectRefused(response: Response, code: 'model_forbidden' | 'forbidden', ...named: string[]): Promise<void> {
  const body = (await response.json()) as { status: number; code: string; error: string };
  expect(response.status, body.error).toBe(403);
  expect(body).toMatchObject({ status: 403, code });
  for (const text of named) expect(body.error).toContain(text);
}

const fineTune = (model: string, extra: object = {}) => ({
  model,
  base_version: 1,
  dataset: model === 'iris' ? 'iris-train' : 'mnist-train',
  epochs: 1,
  optimizer: { name: 'sgd', learning_rate: 5 },
  ...extra,
});

async function productionOf(model: string): Promise<unknown> {
  const response = await call(server.adminKey, 'GET', `/v1/models/${model}/aliases`);
  return ((await response.json()) as { data: { name: string; targets: unknown }[] }).data.find((a) => a.name === 'production')?.targets;
}

describe('a model named in a body', () => {
  it('a training key restricted to iris cannot fine-tune digits nor move its production alias', async () => {
    const before = await productionOf('digits');
    const training = await newKey(['training', 'models:write'], ['iris']);
    await expectRefused(
      await call(training, 'POST', '/v1/training-jobs', fineTune('digits', { alias: 'production' })),
      'model_forbidden',
      "'digits'",
      'body at /model',
      'restricted to iris',
    );
    expect(await productionOf('digits')).toEqual(before);
    expect((await (await call(server.adminKey, 'GET', '/v1/training-jobs')).json()) as { data: unknown[] }).toMatchObject({ data: [] });
  });

  it("a training job's alias needs models:write on the model", async () => {
    const training = await newKey(['training'], ['iris']);
    await expectRefused(
      await call(training, 'POST', '/v1/training-jobs', fineTune('iris', { alias: 'production' })),
      'forbidden',
      "scope 'models:write'",
      "alias 'production'",
      "model 'iris'",
      "createTrainingJob's alias",
    );
    // With models:write on iris the same job is accepted (cancelled at once: only the check matters here).
    const writer = await newKey(['training', 'models:write'], ['iris']);
    const accepted = await call(writer, 'POST', '/v1/training-jobs', fineTune('iris', { alias: 'staging' }));
    expect(accepted.status, await accepted.clone().text()).toBe(202);
    const job = (await accepted.json()) as { id: string };
    expect((await call(writer, 'POST', `/v1/training-jobs/${job.id}/cancel`)).status).toBe(200);
  });

  it('a models:write key restricted to iris creates no other model and evaluates no other model', async () => {
    const writer = await newKey(['models:write'], ['iris']);
    await expectRefused(
      await call(writer, 'POST', '/v1/models', { name: 'elsewhere', task: 'x' }),
      'model_forbidden',
      "'elsewhere'",
      'body at /name',
    );
    expect((await call(server.adminKey, 'GET', '/v1/models/elsewhere')).status).toBe(404);
    // iris itself passes the check (and is then a conflict: it exists).
    expect((await call(writer, 'POST', '/v1/models', { name: 'iris', task: 'x' })).status).toBe(409);
    await expectRefused(
      await call(writer, 'POST', '/v1/evaluations', { dataset: 'iris-holdout', models: [{ model: 'iris' }, { model: 'digits' }] }),
      'model_forbidden',
      "'digits'",
      'body at /models/1/model',
    );
  });

  it('a path model outside the list is refused before its body is read, whether it exists or not', async () => {
    const inference = await newKey(['inference'], ['iris']);
    for (const model of ['digits', 'no-such-model']) {
      await expectRefused(
        await call(inference, 'POST', `/v2/models/${model}/infer`, { inputs: [] }),
        'model_forbidden',
        `'${model}'`,
        'path',
      );
    }
  });
});

describe('lists and indexes show only the key’s models', () => {
  let reader: string;
  beforeAll(async () => {
    reader = await newKey(['models:read'], ['iris']);
  });

  it('GET /v1/models, /v2/repository/index, /v2/models/stats and /metrics', async () => {
    const models = (await (await call(reader, 'GET', '/v1/models')).json()) as { data: { name: string }[] };
    expect(models.data.map((m) => m.name)).toEqual(['iris']);
    const index = (await (await call(reader, 'POST', '/v2/repository/index')).json()) as { name: string }[];
    expect(new Set(index.map((e) => e.name))).toEqual(new Set(['iris']));
    const stats = (await (await call(reader, 'GET', '/v2/models/stats')).json()) as { model_stats: { name: string }[] };
    expect(new Set(stats.model_stats.map((s) => s.name))).toEqual(new Set(['iris']));
    const metrics = await (await call(reader, 'GET', '/metrics')).text();
    expect(metrics).toContain('model="iris"');
    expect(metrics).not.toContain('model="digits');
    // The admin still sees everything.
    expect(await (await call(server.adminKey, 'GET', '/metrics')).text()).toContain('model="digits"');
  });

  it('selection candidates', async () => {
    const selection = await call(reader, 'POST', '/v1/models:select', {
      task: 'image-classification',
      inputs: [{ datatype: 'FP32', shape: [-1, 28, 28, 1] }],
      latency_samples: 10,
    });
    expect(selection.status).toBe(200);
    expect(await selection.json()).toMatchObject({ chosen: null, candidates: [] });
  });

  it('training jobs and evaluations of other models: filtered from lists, 403 by id', async () => {
    const created = await call(server.adminKey, 'POST', '/v1/training-jobs', {
      model: 'scratch-elsewhere',
      dataset: 'iris-train',
      epochs: 1,
      optimizer: { name: 'sgd' },
      architecture: { input: { name: 'features', shape: [4] }, layers: [{ type: 'dense', units: 3, activation: 'softmax' }] },
    });
    expect(created.status).toBe(202);
    const job = (await created.json()) as { id: string };
    const training = await newKey(['training'], ['iris']);
    const jobs = ((await (await call(training, 'GET', '/v1/training-jobs')).json()) as { data: { id: string; model: string }[] }).data;
    expect(jobs.map((j) => j.id)).not.toContain(job.id);
    expect(jobs.every((j) => j.model === 'iris')).toBe(true);
    for (const [method, path] of [
      ['GET', `/v1/training-jobs/${job.id}`],
      ['POST', `/v1/training-jobs/${job.id}/cancel`],
      ['GET', `/v1/training-jobs/${job.id}/events`],
    ] as const) {
      await expectRefused(await call(training, method, path), 'model_forbidden', `training job '${job.id}'`);
    }
    await call(server.adminKey, 'POST', `/v1/training-jobs/${job.id}/cancel`);

    const evaluation = (await (
      await call(server.adminKey, 'POST', '/v1/evaluations', {
        dataset: 'mnist-holdout',
        models: [{ model: 'digits' }],
        latency_samples: 0,
      })
    ).json()) as { id: string };
    const list = (await (await call(reader, 'GET', '/v1/evaluations')).json()) as { data: { id: string }[] };
    expect(list.data.map((e) => e.id)).not.toContain(evaluation.id);
    await expectRefused(await call(reader, 'GET', `/v1/evaluations/${evaluation.id}`), 'model_forbidden', `evaluation '${evaluation.id}'`);
    await expectRefused(await call(reader, 'GET', '/v1/evaluations?model=digits'), 'model_forbidden', "query parameter 'model'");
    expect((await call(reader, 'GET', '/v1/evaluations?model=iris')).status).toBe(200);
  });
});

describe('a restricted admin key', () => {
  it('gives new keys only its own models, and cannot act on every model', async () => {
    const admin = await newKey(['admin'], ['iris']);
    await expectRefused(
      await call(admin, 'POST', '/v1/api-keys', { name: 'wider', scopes: ['inference'] }),
      'model_forbidden',
      "give 'models'",
    );
    await expectRefused(
      await call(admin, 'POST', '/v1/api-keys', { name: 'other', scopes: ['inference'], models: ['iris', 'digits'] }),
      'model_forbidden',
      "'digits'",
      'new key at /models/1',
    );
    expect((await newKey(['inference'], ['iris'], admin)).startsWith('mp_')).toBe(true);
    await expectRefused(await call(admin, 'POST', '/_mock/reset'), 'model_forbidden', 'resetMock acts on every model');
    const usage = (await (await call(admin, 'GET', '/v1/usage')).json()) as { by_model: { model: string }[] };
    expect(usage.by_model.every((row) => row.model === 'iris')).toBe(true);
    const everything = (await (await call(server.adminKey, 'GET', '/v1/usage')).json()) as { by_model: { model: string }[] };
    expect(everything.by_model.map((row) => row.model)).toContain('digits');
  });
});
