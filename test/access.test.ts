/**
 * Every operation in openapi.yaml, called with no key, a bad key, a revoked key and a key of
 * each scope: 401, 403 or success exactly as the spec declares. Then every model a request names
 * (path, query, body, the job a path names), one place at a time, with a key restricted to
 * another model: 403 `model_forbidden`; lists show only the key's models.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport } from '../src/index';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { MODEL_ACCESS, type ModelAccess, type OperationId } from '../mock-server/middleware/model-references';
import { namingModels, OPERATION_REQUESTS, type ModelPlace } from './helpers/operation-requests';

const spec = parse(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8'));
const SCOPES = ['inference', 'models:read', 'models:write', 'training', 'admin'] as const;

interface Op {
  id: string;
  template: string;
  scopes: string[];
  declared: string[];
}
const operations: Op[] = Object.entries<Record<string, any>>(spec.paths)
  .flatMap(([template, item]) =>
    ['get', 'post', 'put', 'patch', 'delete']
      .filter((m) => item[m])
      .map((m) => ({
        id: item[m].operationId as string,
        template,
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

// The model sweep: a key restricted to ALLOWED (and a job model of its own) names FOREIGN in one
// place at a time. It runs before the scope sweep (whose reset would wipe its keys); it changes
// only ALLOWED and the models it creates, which the scope sweep does not use.
const ALLOWED = 'digits-mlp';
const FOREIGN = 'iris';
const ALLOWED_JOB_MODEL = `sweep-allowed-${process.pid}`;
const FOREIGN_JOB_MODEL = `sweep-foreign-${process.pid}`;
const NON_ADMIN_SCOPES = SCOPES.filter((scope) => scope !== 'admin');

const accessOf = (op: Op): ModelAccess => MODEL_ACCESS[op.id as OperationId];
const placesOf = (op: Op): readonly ModelPlace[] => (accessOf(op).names ?? []) as readonly ModelPlace[];

describe('every model a request names', () => {
  const restricted: Record<'admin' | 'other', string> = { admin: '', other: '' };
  const jobs: Record<'allowed' | 'foreign', { training: string; evaluation: string }> = {
    allowed: { training: '', evaluation: '' },
    foreign: { training: '', evaluation: '' },
  };

  beforeAll(async () => {
    const admin = new Modelport({ baseUrl: server.url, apiKey: server.adminKey });
    const models = [ALLOWED, ALLOWED_JOB_MODEL];
    restricted.admin = (await admin.apiKeys.create({ name: 'restricted-admin', scopes: ['admin'], models })).secret;
    restricted.other = (await admin.apiKeys.create({ name: 'restricted', scopes: [...NON_ADMIN_SCOPES], models })).secret;
    const architecture = {
      input: { name: 'features', shape: [4] },
      layers: [{ type: 'dense' as const, units: 3, activation: 'softmax' as const }],
    };
    for (const [side, model] of [
      ['allowed', ALLOWED_JOB_MODEL],
      ['foreign', FOREIGN_JOB_MODEL],
    ] as const) {
      const job = await admin.trainingJobs.create({ model, dataset: 'iris-train', epochs: 1, optimizer: { name: 'sgd' }, architecture });
      jobs[side].training = job.id;
    }
    jobs.allowed.evaluation = (
      await admin.evaluations.create({ dataset: 'mnist-holdout', models: [{ model: ALLOWED }], latency_samples: 0 })
    ).id;
    jobs.foreign.evaluation = (
      await admin.evaluations.create({ dataset: 'iris-holdout', models: [{ model: FOREIGN }], latency_samples: 0 })
    ).id;
    // Usage by model has FOREIGN in it.
    await call('modelInfer', server.adminKey);
  });

  const keyFor = (op: Op) => (op.scopes.includes('admin') ? restricted.admin : restricted.other);
  const valueFor = (place: ModelPlace, side: 'allowed' | 'foreign') =>
    place.in === 'training-job'
      ? jobs[side].training
      : place.in === 'evaluation'
        ? jobs[side].evaluation
        : side === 'allowed'
          ? ALLOWED
          : FOREIGN;
  const send = async (op: Op, key: string, nameAt: (place: ModelPlace) => string, places = placesOf(op)) => {
    const request = namingModels(await OPERATION_REQUESTS[op.id]!(), op.template, places, nameAt);
    const response = await fetch(`${server.url}${request.path}`, {
      method: request.method,
      body: request.body,
      headers: { ...request.headers, authorization: `Bearer ${key}` },
    });
    return { response, text: response.status === 204 ? '' : await response.text() };
  };

  it('openapi.yaml names no model the table does not declare', () => {
    for (const op of operations) {
      const access = accessOf(op);
      expect(access, `${op.id} is missing from MODEL_ACCESS`).toBeDefined();
      if (access.everyModel) continue;
      const declared = placesOf(op);
      const operation =
        spec.paths[op.template][Object.keys(spec.paths[op.template]).find((m) => spec.paths[op.template][m]?.operationId === op.id)!];
      const parameters = [...(spec.paths[op.template].parameters ?? []), ...(operation.parameters ?? [])].map(deref);
      for (const parameter of parameters) {
        const kind = { model_name: 'path', model: 'query', job_id: 'training-job', evaluation_id: 'evaluation' }[parameter.name as string];
        if (kind && (parameter.in === 'path' || parameter.in === 'query')) {
          expect(declared, `${op.id}: ${parameter.in} parameter ${parameter.name}`).toContainEqual({ in: kind, name: parameter.name });
        }
      }
      const schema = operation.requestBody ? deref(operation.requestBody).content?.['application/json']?.schema : undefined;
      for (const pointer of modelFields(schema, '', new Set())) {
        const covered =
          declared.some((place) => place.in === 'body' && place.pointer.startsWith(pointer)) || access.grantsModels === pointer.slice(1);
        expect(covered, `${op.id}: the body names models at ${pointer}`).toBe(true);
      }
    }
  });

  const naming = operations.filter((op) => placesOf(op).length > 0);
  it.each(naming)('$id: each place naming another model is 403 model_forbidden', async (op) => {
    const places = placesOf(op);
    for (const foreign of places) {
      const { response, text } = await send(op, keyFor(op), (place) => valueFor(place, place === foreign ? 'foreign' : 'allowed'));
      expect(response.status, `${op.id} naming another model at ${JSON.stringify(foreign)}: ${text}`).toBe(403);
      expect(JSON.parse(text)).toMatchObject({ code: 'model_forbidden' });
      expect(JSON.parse(text).error).toContain(valueFor(foreign, 'foreign'));
    }
    const { response, text } = await send(op, keyFor(op), (place) => valueFor(place, 'allowed'));
    expect(response.status === 403 && JSON.parse(text).code === 'model_forbidden', `${op.id} naming only its models: ${text}`).toBe(false);
    expect(op.declared, `${op.id} returned undeclared ${response.status}: ${text}`).toContain(String(response.status));
  });

  const lists = operations.filter((op) => accessOf(op).lists);
  it.each(lists)('$id: shows only the key’s models', async (op) => {
    const foreignMarks = [`"${FOREIGN}"`, `"${FOREIGN_JOB_MODEL}"`];
    // As the sweep sends it: naming no model (a filter by model is a named model, above).
    const everything = await send(op, server.adminKey, (place) => valueFor(place, 'allowed'), []);
    expect(
      foreignMarks.some((mark) => everything.text.includes(mark)),
      `${op.id} as admin: ${everything.text.slice(0, 300)}`,
    ).toBe(true);
    const { response, text } = await send(op, keyFor(op), (place) => valueFor(place, 'allowed'), []);
    expect(response.status, text).toBe(200);
    for (const mark of foreignMarks) expect(text, `${op.id} shows ${mark} to a key restricted to ${ALLOWED}`).not.toContain(mark);
  });

  const everyModel = operations.filter((op) => accessOf(op).everyModel);
  it.each(everyModel)('$id: acts on every model, so a restricted key is refused', async (op) => {
    const { response, text } = await send(op, restricted.admin, () => '');
    expect(response.status, text).toBe(403);
    expect(JSON.parse(text)).toMatchObject({ code: 'model_forbidden' });
    expect(JSON.parse(text).error).toContain(op.id);
  });

  const aliasMoves = operations.filter((op) => accessOf(op).movesAlias);
  it.each(aliasMoves)('$id: moving an alias needs models:write', async (op) => {
    const where = accessOf(op).movesAlias!;
    if (op.scopes.includes('models:write')) return; // the operation's own scope already is models:write (the scope sweep)
    const admin = new Modelport({ baseUrl: server.url, apiKey: server.adminKey });
    const key = (await admin.apiKeys.create({ name: `no-write-${op.id}`, scopes: op.scopes as never })).secret;
    const request = namingModels(await OPERATION_REQUESTS[op.id]!(), op.template, [where as ModelPlace], () => 'staging');
    const response = await fetch(`${server.url}${request.path}`, {
      method: request.method,
      body: request.body,
      headers: { ...request.headers, authorization: `Bearer ${key}` },
    });
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(403);
    expect(body).toMatchObject({ code: 'forbidden' });
    expect(body.error).toContain("'models:write'");
    expect(body.error).toContain("alias 'staging'");
  });

  it('a restricted key gives new keys only its own models', async () => {
    const op = operations.find((o) => o.id === 'createApiKey')!;
    const withModels = async (models: string[] | undefined) => {
      const response = await fetch(`${server.url}/v1/api-keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${restricted.admin}` },
        body: JSON.stringify({ name: 'given', scopes: ['inference'], ...(models ? { models } : {}) }),
      });
      return { status: response.status, body: await response.json() };
    };
    expect(accessOf(op).grantsModels).toBe('models');
    expect(await withModels(undefined)).toMatchObject({ status: 403, body: { code: 'model_forbidden' } });
    expect(await withModels([ALLOWED, FOREIGN])).toMatchObject({ status: 403, body: { code: 'model_forbidden' } });
    expect((await withModels([ALLOWED])).status).toBe(201);
  });
});

function deref(node: any): any {
  if (!node?.$ref) return node;
  return deref(
    (node.$ref as string)
      .slice(2)
      .split('/')
      .reduce((at: any, key) => at?.[key], spec),
  );
}

/** JSON pointers (with `*` for array items) of every body property named `model` or `models`. */
function modelFields(node: any, at: string, seen: Set<unknown>): string[] {
  const schema = deref(node);
  if (!schema || typeof schema !== 'object' || seen.has(schema)) return [];
  seen.add(schema);
  const found: string[] = [];
  for (const part of [...(schema.allOf ?? []), ...(schema.oneOf ?? []), ...(schema.anyOf ?? [])])
    found.push(...modelFields(part, at, seen));
  if (schema.items) found.push(...modelFields(schema.items, `${at}/*`, seen));
  for (const [name, property] of Object.entries<any>(schema.properties ?? {})) {
    if (name === 'model' || name === 'models') found.push(`${at}/${name}`);
    found.push(...modelFields(property, `${at}/${name}`, seen));
  }
  seen.delete(schema);
  return found;
}

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
