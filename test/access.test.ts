/**
 * Every operation in openapi.yaml, called with no key, a bad key, a revoked key and a key of
 * each scope: 401, 403 or success exactly as the spec declares.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport } from '../src/index';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { OPERATION_REQUESTS } from './helpers/operation-requests';

const spec = parse(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8'));
const SCOPES = ['inference', 'models:read', 'models:write', 'training', 'admin'] as const;

interface Op {
  id: string;
  scopes: string[];
  declared: string[];
}
const operations: Op[] = Object.values<Record<string, any>>(spec.paths)
  .flatMap((item) =>
    ['get', 'post', 'put', 'patch', 'delete']
      .filter((m) => item[m])
      .map((m) => ({
        id: item[m].operationId as string,
        scopes: (item[m].security ?? spec.security ?? []).flatMap((r: Record<string, string[]>) => Object.values(r).flat()),
        declared: Object.keys(item[m].responses),
      })),
  )
  // Reset wipes the keys this sweep uses, so it goes last.
  .sort((a, b) => Number(a.id === 'resetMock') - Number(b.id === 'resetMock'));

let server: RunningMockServer;
const keys: Record<string, string> = {};

beforeAll(async () => {
  server = await startMockServer({});
  const admin = new Modelport({ baseUrl: server.url, apiKey: server.adminKey });
  for (const scope of SCOPES) keys[scope] = (await admin.apiKeys.create({ name: scope, scopes: [scope] })).secret;
  const revoked = await admin.apiKeys.create({ name: 'revoked', scopes: ['admin'] });
  await admin.apiKeys.revoke(revoked.id);
  keys.revoked = revoked.secret;
});
afterAll(() => server?.close());

async function call(id: string, key: string | undefined): Promise<Response> {
  const request = await OPERATION_REQUESTS[id]!();
  return fetch(`${server.url}${request.path}`, {
    method: request.method,
    body: request.body,
    headers: { ...request.headers, ...(key ? { authorization: `Bearer ${key}` } : {}) },
  });
}

describe('every operation declares its security', () => {
  it('has a request in the sweep and declares 401/403 when it needs a key', () => {
    for (const op of operations) {
      expect(OPERATION_REQUESTS[op.id], `no sweep request for ${op.id}`).toBeDefined();
      const operation = Object.values<Record<string, any>>(spec.paths)
        .flatMap((item) => Object.values(item))
        .find((o) => o?.operationId === op.id);
      expect(operation.security, `${op.id} declares no security`).toBeDefined();
      if (op.scopes.length) expect(op.declared, op.id).toEqual(expect.arrayContaining(['401', '403']));
    }
  });
});

describe.each(operations)('$id', (op) => {
  const expectStatus = async (response: Response, allowed: boolean) => {
    const body = response.status === 204 ? undefined : await response.text();
    if (allowed) {
      expect([401, 403], `${op.id}: ${response.status} ${body}`).not.toContain(response.status);
      expect(op.declared, `${op.id} returned undeclared ${response.status}: ${body}`).toContain(String(response.status));
    } else {
      expect(response.status, `${op.id}: ${body}`).toBe(403);
      expect(JSON.parse(body!)).toMatchObject({ status: 403, code: 'forbidden' });
    }
  };

  it('without a key, with a bad key and with a revoked key', async () => {
    for (const key of [undefined, 'mp_000000000000_notarealsecretnotarealsecret', keys.revoked]) {
      const response = await call(op.id, key);
      if (op.scopes.length === 0) {
        expect(op.declared).toContain(String(response.status));
        expect(response.status).toBeLessThan(400);
      } else {
        expect(response.status, `${op.id} with ${key ? 'a bad key' : 'no key'}`).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer');
        expect(await response.json()).toMatchObject({ status: 401, code: 'unauthorized' });
      }
    }
  });

  it.each(SCOPES)('with a %s key', async (scope) => {
    const allowed = op.scopes.length === 0 || scope === 'admin' || op.scopes.includes(scope);
    await expectStatus(await call(op.id, keys[scope]), allowed);
  });
});
