import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, Modelport, PermissionDeniedError, RateLimitError, ServiceUnavailableError, TimeoutError } from '../src/index';
import { createModelServer, startMockServer, type RunningMockServer } from '../mock-server/index';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';

const pixels = loadMnistSplit().test.x.subarray(0, 784);
let server: RunningMockServer;
let admin: Modelport;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'modelport-controls-'));
  server = await startMockServer({ dataDir });
  admin = new Modelport({ baseUrl: server.url, apiKey: server.adminKey });
});
afterAll(() => server?.close());

describe('the SDK against injected faults', () => {
  it('recovers from "the next 2 infer calls to digits return 503 with Retry-After: 1" within its retry budget', async () => {
    server.controls.clearRequests();
    const fault = await admin.transport.json<{ id: string }>({
      method: 'POST',
      path: '_mock/faults',
      json: { operation: 'modelInfer', model: 'digits', status: 503, headers: { 'Retry-After': '1' }, count: 2 },
    });
    const started = Date.now();
    const prediction = await admin.predict('digits', pixels, { maxRetries: 2 });
    expect(prediction.labels).toEqual([String(loadMnistSplit().test.y[0])]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900); // waited Retry-After twice
    const sent = server.controls.requests({ operation: 'modelInfer' });
    expect(sent.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(sent.map((r) => r.fault)).toEqual([fault.id, fault.id, undefined]);
    expect(new Set(sent.map((r) => r.request_id)).size).toBe(1); // one logical request, retried
    expect(server.controls.faults()).toEqual([]); // used up
  });

  it('gives up with ServiceUnavailableError when the budget is spent', async () => {
    server.controls.inject({ operation: 'modelInfer', status: 503, headers: { 'Retry-After': '0' }, count: 5 });
    const error = await admin.predict('digits', pixels, { maxRetries: 2 }).catch((e) => e);
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(error).toMatchObject({ status: 503, code: 'injected_fault' });
    expect(server.controls.faults()[0]).toMatchObject({ fired: 3, remaining: 2 });
    server.controls.clearFaults();
  });

  it('429 faults become RateLimitError with the retry time when retries are off', async () => {
    server.controls.inject({ operation: 'getModel', status: 429, headers: { 'Retry-After': '7' }, count: 1 });
    const error = await admin.models.get('iris', { maxRetries: 0 }).catch((e) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error.retryAfter).toBe(7);
  });

  it('latency faults trip the SDK timeout', async () => {
    server.controls.inject({ operation: 'getModel', latency_ms: 500, count: 1 });
    await expect(admin.models.get('iris', { timeout: 100, maxRetries: 0 })).rejects.toBeInstanceOf(TimeoutError);
  });

  it('the journal records what the app sent, filterable, without secrets', async () => {
    server.controls.clearRequests();
    await admin.inference.infer('iris', {
      id: 'journal-1',
      inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }],
    });
    await admin.models.get('digits');
    const journal = await admin.transport.json<{ data: any[] }>({ method: 'GET', path: '_mock/requests', query: { model: 'iris' } });
    expect(journal.data).toHaveLength(1);
    expect(journal.data[0]).toMatchObject({
      method: 'POST',
      path: '/v2/models/iris/infer',
      operation: 'modelInfer',
      model: 'iris',
      status: 200,
      key: 'admin',
      body: { id: 'journal-1' },
    });
    expect(journal.data[0].headers.authorization).toBeUndefined();
    expect(JSON.stringify(server.controls.requests())).not.toContain(server.adminKey);
  });
});

describe('keys', () => {
  it('are stored hashed, scoped, restricted to models, and revoked at once', async () => {
    const created = await admin.apiKeys.create({ name: 'ci', scopes: ['inference'], models: ['iris'] });
    expect(created.secret).toMatch(/^mp_[0-9a-f]{12}_/);
    // The secret part is base64url, which may itself contain '_': everything after the key id.
    expect(readFileSync(path.join(dataDir, 'keys.json'), 'utf8')).not.toContain(created.secret.split('_').slice(2).join('_'));
    const ci = new Modelport({ baseUrl: server.url, apiKey: created.secret, maxRetries: 0 });
    expect((await ci.predict('iris', [[5.1, 3.5, 1.4, 0.2]])).labels).toEqual(['setosa']);
    await expect(ci.predict('digits', pixels)).rejects.toMatchObject({ status: 403, code: 'model_forbidden' });
    await expect(ci.models.list()).rejects.toBeInstanceOf(PermissionDeniedError);
    const listed = (await admin.apiKeys.list()).data.find((k) => k.id === created.id)!;
    expect(listed).toEqual({
      id: created.id,
      name: 'ci',
      prefix: created.prefix,
      scopes: ['inference'],
      models: ['iris'],
      created_at: created.created_at,
    });
    await admin.apiKeys.revoke(created.id);
    const error = await ci.predict('iris', [[5.1, 3.5, 1.4, 0.2]]).catch((e) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.message).not.toContain(created.secret);
  });

  it('rate limits per key with 429, Retry-After and RateLimit-* headers', async () => {
    const limited = await admin.apiKeys.create({
      name: 'slow',
      scopes: ['models:read'],
      rate_limit: { requests_per_second: 0.5, burst: 2 },
    });
    const headers = { authorization: `Bearer ${limited.secret}` };
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 3; i++) {
      last = await fetch(`${server.url}/v1/models/iris`, { headers });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(last!.headers.get('retry-after')).toBe('2');
    expect(last!.headers.get('ratelimit-limit')).toBe('2');
    expect(last!.headers.get('ratelimit-remaining')).toBe('0');
    const error = await new Modelport({ baseUrl: server.url, apiKey: limited.secret, maxRetries: 0 }).models.get('iris').catch((e) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error.retryAfter).toBe(2);
  });

  it('usage counts requests, errors and compute per key and model', async () => {
    const key = await admin.apiKeys.create({ name: 'metered', scopes: ['inference'] });
    const metered = new Modelport({ baseUrl: server.url, apiKey: key.secret, maxRetries: 0 });
    for (let i = 0; i < 3; i++)
      await metered.inference.infer('iris', { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
    await metered.inference
      .infer('iris', { inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] })
      .catch(() => undefined);
    const usage = await admin.apiKeys.usage();
    const row = usage.by_key.find((r) => r.key === key.id)!;
    expect(row).toMatchObject({ requests: 4, errors: 1 });
    expect(row.compute_ms).toBeGreaterThan(0);
    expect(usage.by_model.find((r) => r.model === 'iris')!.requests).toBeGreaterThanOrEqual(4);
  });
});

describe('limits, CORS, reset, HTTPS', () => {
  it('bounds in-flight requests per model with 503 + Retry-After', async () => {
    const model = await createModelServer({ auth: false, maxInFlightPerModel: 1 });
    try {
      const body = JSON.stringify({ inputs: [{ name: 'image', shape: [1, 28, 28, 1], datatype: 'FP32', data: Array.from(pixels) }] });
      const responses = await Promise.all(
        Array.from({ length: 10 }, () => model.handler(new Request('http://x/v2/models/digits/infer', { method: 'POST', body }))),
      );
      const statuses = responses.map((r) => r.status);
      expect(statuses).toContain(200);
      expect(statuses).toContain(503);
      expect(responses.find((r) => r.status === 503)!.headers.get('retry-after')).toBe('1');
    } finally {
      await model.close();
    }
  });

  it('CORS is off by default and answers allowed origins', async () => {
    const closed = await fetch(`${server.url}/v2/health/live`, { headers: { origin: 'http://app.test' } });
    expect(closed.headers.get('access-control-allow-origin')).toBeNull();
    const open = await startMockServer({ auth: false, cors: ['http://app.test'] });
    try {
      const preflight = await fetch(`${open.url}/v2/models/iris/infer`, {
        method: 'OPTIONS',
        headers: {
          origin: 'http://app.test',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('http://app.test');
      expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
      const get = await fetch(`${open.url}/v2/health/live`, { headers: { origin: 'http://app.test' } });
      expect(get.headers.get('access-control-expose-headers')).toContain('x-request-id');
      const other = await fetch(`${open.url}/v2/health/live`, { headers: { origin: 'http://evil.test' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await open.close();
    }
  });

  it('mock controls are off unless asked for', async () => {
    const plain = await createModelServer({ auth: false });
    try {
      expect((await plain.handler(new Request('http://x/_mock/reset', { method: 'POST' }))).status).toBe(404);
    } finally {
      await plain.close();
    }
  });

  it('reset brings back the bundled state', async () => {
    await admin.models.create({ name: 'temporary', task: 'x' });
    server.controls.inject({ operation: 'getModel', status: 500 });
    await admin.transport.send({ method: 'POST', path: '_mock/reset' });
    expect((await admin.models.list()).data.map((m) => m.name)).toEqual(['digits', 'digits-mlp', 'iris']);
    expect(server.controls.faults()).toEqual([]);
    expect((await admin.apiKeys.list()).data).toEqual([]);
  });

  it('serves HTTPS with a given certificate', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelport-tls-'));
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const secure = await startMockServer({ auth: false, tls: { cert: readFileSync(cert), key: readFileSync(key) } });
    try {
      expect(secure.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const body = await new Promise<string>((resolve, reject) => {
        httpsRequest(`${secure.url}/v2/health/ready`, { ca: readFileSync(cert) }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
      expect(JSON.parse(body)).toEqual({ ready: true });
      await expect(fetch(`${secure.url}/v2/health/ready`)).rejects.toThrow(); // self-signed: refused without the CA
    } finally {
      await secure.close();
    }
  });
});
