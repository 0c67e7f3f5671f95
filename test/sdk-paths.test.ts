/**
 * Names in request paths: every model, alias, dataset, job and key id the SDK puts in a URL is
 * one percent-encoded segment (src/core/path.ts), whatever characters it holds, and the server
 * routes it as that one parameter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { path } from '../src/core/path';
import { BadRequestError, Modelport } from '../src/index';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { jsonReply, scriptedFetch } from './helpers/scripted-fetch';

/** A slash, a query, a fragment, a space, a percent sign and non-ASCII letters. */
const NAME = 'team/a?v=1#top 50% Müller-模型';

/** The URL's path segments after the base, decoded one by one. */
function segments(url: string): string[] {
  return new URL(url).pathname.split('/').slice(1).map(decodeURIComponent);
}

describe('path``', () => {
  it('encodes each interpolated value as one segment and leaves the literal text alone', () => {
    expect(path`v2/models/${NAME}/versions/${3}/infer`).toBe(`v2/models/${encodeURIComponent(NAME)}/versions/3/infer`);
    expect(path`v2/models/${NAME}/infer`.split('/')).toHaveLength(4);
    expect(path`v2/health/live`).toBe('v2/health/live');
  });
});

describe('every resource sends a name as one segment', () => {
  const calls: [string, (client: Modelport) => PromiseLike<unknown>, string[]][] = [
    ['models.get', (c) => c.models.get(NAME), ['v1', 'models', NAME]],
    ['models.delete', (c) => c.models.delete(NAME), ['v1', 'models', NAME]],
    [
      'models.metadata with a version alias',
      (c) => c.models.metadata(NAME, { version: 'canary/2' }),
      ['v2', 'models', NAME, 'versions', 'canary/2'],
    ],
    ['models.ready', (c) => c.models.ready(NAME), ['v2', 'models', NAME, 'ready']],
    ['models.aliases.set', (c) => c.models.aliases.set(NAME, 'prod #1', 2), ['v1', 'models', NAME, 'aliases', 'prod #1']],
    ['models.versions.get', (c) => c.models.versions.get(NAME, 4), ['v1', 'models', NAME, 'versions', '4']],
    ['models.versions.load', (c) => c.models.versions.load(NAME, 4), ['v1', 'models', NAME, 'versions', '4', 'load']],
    [
      'inference.infer',
      (c) => c.inference.infer(NAME, { inputs: [] }, { version: 'a b' }),
      ['v2', 'models', NAME, 'versions', 'a b', 'infer'],
    ],
    ['datasets.get', (c) => c.datasets.get(NAME), ['v1', 'datasets', NAME]],
    ['trainingJobs.cancel', (c) => c.trainingJobs.cancel(NAME), ['v1', 'training-jobs', NAME, 'cancel']],
    ['evaluations.get', (c) => c.evaluations.get(NAME), ['v1', 'evaluations', NAME]],
    ['evaluations.listForVersion', (c) => c.evaluations.listForVersion(NAME, 1), ['v1', 'models', NAME, 'versions', '1', 'evaluations']],
    ['apiKeys.revoke', (c) => c.apiKeys.revoke(NAME), ['v1', 'api-keys', NAME]],
  ];
  it.each(calls)('%s', async (_, call, expected) => {
    const { fetch, calls: sent } = scriptedFetch([jsonReply(200, { data: [], next_cursor: null })]);
    await call(new Modelport({ baseUrl: 'http://models.test', fetch }));
    expect(sent).toHaveLength(1);
    expect(segments(sent[0]!.url)).toEqual(expected);
    expect(new URL(sent[0]!.url).search).toBe('');
  });
});

describe('against a real server', () => {
  let server: RunningMockServer;
  beforeAll(async () => {
    server = await startMockServer({ auth: false });
  });
  afterAll(() => server?.close());

  it('routes the whole name as the model_name parameter', async () => {
    const client = new Modelport({ baseUrl: server.url });
    const error = await client.models.metadata(NAME).catch((e: unknown) => e);
    // The contract's name pattern refuses the name, and says so of that one parameter.
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).details).toEqual([expect.objectContaining({ path: 'path/model_name' })]);
    const seen = server.controls.requests().find((entry) => entry.request_id === (error as BadRequestError).requestId);
    expect(seen).toMatchObject({ operation: 'modelMetadata' });
    expect(segments(server.url + seen!.path)).toEqual(['v2', 'models', NAME]);
  });
});
