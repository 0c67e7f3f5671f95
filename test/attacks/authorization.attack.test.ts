/**
 * Issue #18, items 2 and 3, as the attacker tried them against `modelport serve`: keys restricted
 * to iris reaching digits through request bodies, seeing other models in lists, moving an alias
 * without models:write, and a second admin replaying the first one's new key through a shared
 * Idempotency-Key. Each attack is refused (status, code, what was refused named) within its budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AttackServer, refusal, startAttackServer, underAttack } from './harness';

let server: AttackServer;
beforeAll(async () => {
  server = await startAttackServer();
});
afterAll(() => server?.stop());

const BUDGET = { maxLoopDelayMs: 1000, maxRssGrowthMb: 60 };

async function createKey(scopes: string[], models?: string[]): Promise<string> {
  const response = await post(server.adminKey, '/v1/api-keys', {
    name: `attacker-${scopes.join('-')}`,
    scopes,
    ...(models ? { models } : {}),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { secret: string }).secret;
}

function post(key: string, pathname: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return server.fetch(pathname, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function productionOfDigits(): Promise<unknown> {
  const aliases = (await (await server.fetch('/v1/models/digits/aliases')).json()) as { data: { name: string; targets: unknown }[] };
  return aliases.data.find((alias) => alias.name === 'production')?.targets;
}

const breakDigits = {
  model: 'digits',
  base_version: 1,
  dataset: 'mnist-train',
  epochs: 1,
  optimizer: { name: 'sgd', learning_rate: 5 },
  alias: 'production',
};

describe('authorization attacks', () => {
  it("a training key restricted to iris fine-tunes digits and moves its production alias: 403, digits' alias unchanged", async () => {
    const before = await productionOfDigits();
    const keys = [await createKey(['training'], ['iris']), await createKey(['training', 'models:write'], ['iris'])];
    const answers = await underAttack(server, BUDGET, async () =>
      Promise.all(keys.map(async (key) => refusal(await post(key, '/v1/training-jobs', breakDigits)))),
    );
    for (const answer of answers) {
      expect(answer).toMatchObject({ status: 403, code: 'model_forbidden' });
      expect(answer.message).toContain("model 'digits'");
      expect(answer.message).toContain('restricted to iris');
    }
    expect(await productionOfDigits()).toEqual(before);
    expect(((await (await server.fetch('/v1/training-jobs')).json()) as { data: unknown[] }).data).toEqual([]);
  });

  it("a training key without models:write moves iris's production alias through a job: 403 naming the scope", async () => {
    const training = await createKey(['training'], ['iris']);
    const answer = await underAttack(server, BUDGET, async () =>
      refusal(await post(training, '/v1/training-jobs', { ...breakDigits, model: 'iris', dataset: 'iris-train' })),
    );
    expect(answer).toMatchObject({ status: 403, code: 'forbidden' });
    expect(answer.message).toContain("scope 'models:write'");
    expect(answer.message).toContain("alias 'production'");
  });

  it('a models:write key restricted to iris creates other models and evaluates digits: 403 each', async () => {
    const writer = await createKey(['models:write'], ['iris']);
    const answers = await underAttack(server, BUDGET, async () => [
      await refusal(await post(writer, '/v1/models', { name: 'squatter', task: 'x' })),
      await refusal(await post(writer, '/v1/evaluations', { dataset: 'mnist-holdout', models: [{ model: 'digits' }] })),
    ]);
    expect(answers[0]).toMatchObject({ status: 403, code: 'model_forbidden' });
    expect(answers[0]!.message).toContain("'squatter'");
    expect(answers[1]).toMatchObject({ status: 403, code: 'model_forbidden' });
    expect(answers[1]!.message).toContain("'digits'");
    expect((await server.fetch('/v1/models/squatter')).status).toBe(404);
  });

  it('a models:read key restricted to iris reads the lists: only iris', async () => {
    const reader = await createKey(['models:read'], ['iris']);
    const read = (pathname: string, method = 'GET') =>
      server.fetch(pathname, { method, headers: { authorization: `Bearer ${reader}` } }).then((r) => r.text());
    const texts = await underAttack(server, BUDGET, async () => [
      await read('/v1/models'),
      await read('/v2/repository/index', 'POST'),
      await read('/v2/models/stats'),
      await read('/metrics'),
    ]);
    for (const text of texts) {
      expect(text).toContain('iris');
      expect(text).not.toContain('digits');
    }
  });

  it("a second admin sends the first one's Idempotency-Key to createApiKey: its own new key, not the first secret", async () => {
    const [first, second] = [await createKey(['admin']), await createKey(['admin'])];
    const body = { name: 'ci', scopes: ['inference'] };
    const secrets = await underAttack(server, BUDGET, async () => {
      const a = await post(first, '/v1/api-keys', body, { 'idempotency-key': 'shared' });
      const b = await post(second, '/v1/api-keys', body, { 'idempotency-key': 'shared' });
      expect([a.status, b.status]).toEqual([201, 201]);
      expect(b.headers.get('idempotent-replayed')).toBeNull();
      expect(b.headers.get('cache-control')).toBe('no-store');
      return [((await a.json()) as { secret: string }).secret, ((await b.json()) as { secret: string }).secret];
    });
    expect(secrets[1]).not.toBe(secrets[0]);
  });
});
