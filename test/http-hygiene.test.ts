/**
 * Issue #18, items 3 and 4: Idempotency-Key answers belong to the caller that made them (another
 * key's same Idempotency-Key is a new request, never a replay of someone else's version or secret),
 * a multipart upload counts by its parts; API answers are never cached or sniffed; CORS never
 * echoes `Origin: null` nor any origin it was not given; the API reference never takes its server
 * address from the request's Host.
 */
import { request as httpRequest } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { BUNDLED } from './helpers/data-dir';

let server: RunningMockServer;

beforeAll(async () => {
  server = await startMockServer({});
});
afterAll(() => server?.close());

async function newKey(scopes: string[]): Promise<string> {
  const response = await post(server.adminKey, '/v1/api-keys', { name: `k-${scopes.join('-')}`, scopes });
  expect(response.status).toBe(201);
  return ((await response.json()) as { secret: string }).secret;
}

function post(key: string, pathname: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${pathname}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

async function irisForm(weights?: Uint8Array<ArrayBuffer>): Promise<FormData> {
  const form = new FormData();
  const dir = path.join(BUNDLED, 'iris', '1');
  form.append('files', new Blob([await readFile(path.join(dir, 'model.json'))]), 'model.json');
  form.append('files', new Blob([weights ?? (await readFile(path.join(dir, 'weights.bin')))]), 'weights.bin');
  return form;
}

function upload(key: string, form: FormData, idempotencyKey: string): Promise<Response> {
  return fetch(`${server.url}/v1/models/iris/versions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'idempotency-key': idempotencyKey },
    body: form,
  });
}

describe('Idempotency-Key is per caller', () => {
  it("createApiKey: a second admin with the same key gets its own new key, never the first one's secret", async () => {
    const [first, second] = [await newKey(['admin']), await newKey(['admin'])];
    const body = { name: 'ci', scopes: ['inference'] };
    const a = await post(first, '/v1/api-keys', body, { 'idempotency-key': 'same-key' });
    const b = await post(second, '/v1/api-keys', body, { 'idempotency-key': 'same-key' });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
    const [created, other] = [(await a.json()) as { id: string; secret: string }, (await b.json()) as { id: string; secret: string }];
    expect(other.secret).not.toBe(created.secret);
    expect(other.id).not.toBe(created.id);
    // The first caller's retry is still the first answer.
    const retry = await post(first, '/v1/api-keys', body, { 'idempotency-key': 'same-key' });
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.headers.get('cache-control')).toBe('no-store');
    expect(((await retry.json()) as { secret: string }).secret).toBe(created.secret);
  });

  it("uploadVersion: another key's upload with the same key is a new version; a multipart body counts by its parts", async () => {
    const [first, second] = [await newKey(['models:write']), await newKey(['models:write'])];
    const a = await upload(first, await irisForm(), 'upload-key');
    expect(a.status, await a.clone().text()).toBe(201);
    const b = await upload(second, await irisForm(), 'upload-key');
    expect(b.status, await b.clone().text()).toBe(201);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
    const [versionA, versionB] = [((await a.json()) as { version: number }).version, ((await b.json()) as { version: number }).version];
    expect(versionB).not.toBe(versionA);
    // The same files again (a new multipart boundary): the first answer.
    const retry = await upload(first, await irisForm(), 'upload-key');
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retry.json()) as { version: number }).version).toBe(versionA);
    // Other weights under the same key: refused, not replayed.
    const weights = new Uint8Array(await readFile(path.join(BUNDLED, 'iris', '1', 'weights.bin')));
    weights[0] = (weights[0]! + 1) % 256;
    const different = await upload(first, await irisForm(weights), 'upload-key');
    expect(different.status).toBe(422);
    expect(await different.json()).toMatchObject({ code: 'idempotency_key_reused' });
  });

  it('the query is part of the request: another dataset name under the same key is refused', async () => {
    const writer = await newKey(['models:write']);
    const send = (name: string) =>
      fetch(`${server.url}/v1/datasets?name=${name}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${writer}`, 'content-type': 'text/csv', 'idempotency-key': 'dataset-key' },
        body: '5.1,3.5,1.4,0.2,setosa\n',
      });
    expect((await send('first-set')).status).toBe(201);
    const other = await send('second-set');
    expect(other.status).toBe(422);
    expect(await other.json()).toMatchObject({ code: 'idempotency_key_reused' });
  });
});

describe('API answers are not cached or sniffed', () => {
  it('JSON answers, errors and the answer that carries a new secret', async () => {
    const answers = [
      await fetch(`${server.url}/v2/health/live`),
      await fetch(`${server.url}/v2/models/iris`, { headers: { authorization: `Bearer ${server.adminKey}` } }),
      await fetch(`${server.url}/v2/models/iris`),
      await fetch(`${server.url}/v1/nowhere`),
      await post(server.adminKey, '/v1/api-keys', { name: 'secret-bearer', scopes: ['inference'] }),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 401, 404, 201]);
    for (const answer of answers) {
      expect(answer.headers.get('cache-control'), answer.url).toBe('no-store');
      expect(answer.headers.get('x-content-type-options'), answer.url).toBe('nosniff');
    }
  });
});

describe('CORS', () => {
  const origin = async (url: string, value: string, method = 'GET') =>
    (
      await fetch(`${url}/v2/health/live`, {
        method,
        headers: { origin: value, ...(method === 'OPTIONS' ? { 'access-control-request-method': 'GET' } : {}) },
      })
    ).headers;

  it('with `*`: answers the literal `*`, never an echo, and nothing to Origin: null', async () => {
    const open = await startMockServer({ auth: false, cors: '*' });
    try {
      const headers = await origin(open.url, 'http://app.test');
      expect(headers.get('access-control-allow-origin')).toBe('*');
      expect(headers.get('access-control-allow-credentials')).toBeNull();
      for (const method of ['GET', 'OPTIONS'])
        expect((await origin(open.url, 'null', method)).get('access-control-allow-origin')).toBeNull();
    } finally {
      await open.close();
    }
  });

  it('with a list: a listed origin is named back, `null` never is, even when listed', async () => {
    const listed = await startMockServer({ auth: false, cors: ['http://app.test', 'null'] });
    try {
      const headers = await origin(listed.url, 'http://app.test');
      expect(headers.get('access-control-allow-origin')).toBe('http://app.test');
      expect(headers.get('vary')).toContain('Origin');
      expect((await origin(listed.url, 'null')).get('access-control-allow-origin')).toBeNull();
      expect((await origin(listed.url, 'http://evil.test')).get('access-control-allow-origin')).toBeNull();
    } finally {
      await listed.close();
    }
  });
});

describe('the API reference', () => {
  it('names this server as `/`, whatever Host the request carries', async () => {
    const { port } = new URL(server.url);
    const text = await new Promise<string>((resolve, reject) => {
      const request = httpRequest({ host: '127.0.0.1', port, path: '/docs/openapi.json', headers: { host: 'evil.example:666' } }, (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          data += chunk;
        });
        res.on('end', () => resolve(data));
      });
      request.on('error', reject);
      request.end();
    });
    expect(text).not.toContain('evil.example');
    expect((JSON.parse(text) as { servers: unknown }).servers).toEqual([{ url: '/', description: 'this server' }]);
  });
});
