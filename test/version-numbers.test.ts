/**
 * Version numbers are never reused (issue #18 item 14): a client pinned to `<model>/<n>` must never
 * get other weights because n was deleted and handed out again. The next version is one more than
 * the highest the model ever had, after deletions, across restarts (also when every version was
 * deleted), for uploads and training results alike; concurrent uploads get distinct numbers. The
 * test controls' reset puts back the bundled models and starts their numbering afresh (documented).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport } from '../src/index';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { BUNDLED, tempDataDir } from './helpers/data-dir';

const LABELS = ['setosa', 'versicolor', 'virginica'];
let data: Awaited<ReturnType<typeof tempDataDir>>;
let irisFiles: { name: string; data: Uint8Array }[];
let server: RunningMockServer | undefined;

const repo = () => path.join(data.dir, 'repo');
async function start(): Promise<Modelport> {
  server = await startMockServer({ auth: false, dataDir: repo() });
  return new Modelport({ baseUrl: server.url, maxRetries: 0 });
}
async function restart(): Promise<Modelport> {
  await server?.close();
  return start();
}
const upload = async (client: Modelport, model: string) => (await client.models.versions.upload(model, { files: irisFiles })).version;
const numbers = async (client: Modelport, model: string) => (await client.models.versions.list(model).toArray()).map((v) => v.version);
const lastVersionFile = async (model: string) =>
  JSON.parse(await readFile(path.join(repo(), 'models', model, 'last-version.json'), 'utf8'));

beforeAll(async () => {
  data = await tempDataDir();
  irisFiles = await Promise.all(
    ['model.json', 'weights.bin'].map(async (name) => ({
      name,
      data: new Uint8Array(await readFile(path.join(BUNDLED, 'iris', '1', name))),
    })),
  );
});
afterAll(async () => {
  await server?.close();
  await data?.remove();
});

describe('version numbers are never reused', () => {
  it('after deleting the newest version, after deleting every version, and across restarts', { timeout: 120_000 }, async () => {
    let client = await start();
    await client.models.create({ name: 'pinned', task: 'tabular-classification', labels: LABELS });
    expect([await upload(client, 'pinned'), await upload(client, 'pinned')]).toEqual([1, 2]);
    await client.models.versions.delete('pinned', 2);
    expect(await upload(client, 'pinned'), 'v2 was deleted: the next is 3, not 2 again').toBe(3);
    await expect(client.models.versions.get('pinned', 2)).rejects.toMatchObject({ status: 404, code: 'version_not_found' });

    for (const v of [1, 3]) await client.models.versions.delete('pinned', v);
    expect(await numbers(client, 'pinned')).toEqual([]);
    expect(await lastVersionFile('pinned')).toEqual({ last_version: 3 });
    client = await restart();
    expect(await numbers(client, 'pinned')).toEqual([]);
    expect(await upload(client, 'pinned'), 'every version deleted, then a restart: the next is still 4').toBe(4);
    expect(await numbers(client, 'pinned')).toEqual([4]);
  });

  // Each upload is inspected in a child process (seconds on a busy machine): few uploads, time to spare.
  it('gives concurrent uploads distinct, consecutive numbers', { timeout: 120_000 }, async () => {
    const client = server ? new Modelport({ baseUrl: server.url, maxRetries: 0 }) : await start();
    await client.models.create({ name: 'racing', task: 'tabular-classification', labels: LABELS });
    const versions = await Promise.all(Array.from({ length: 3 }, () => upload(client, 'racing')));
    expect([...versions].sort((a, b) => a - b)).toEqual([1, 2, 3]);
    expect(await numbers(client, 'racing')).toEqual([1, 2, 3]);
  });

  it('counts a training result like an upload, and a model with versions from before the mark by its highest folder', {
    timeout: 120_000,
  }, async () => {
    const client = server ? new Modelport({ baseUrl: server.url, maxRetries: 0 }) : await start();
    // iris is bundled with version 1 and no last-version.json: the folders stand in for it.
    expect(await upload(client, 'iris')).toBe(2);
    await client.models.versions.delete('iris', 2);
    const job = await client.trainingJobs.create({
      model: 'iris',
      dataset: 'iris-train',
      architecture: { input: { name: 'features', shape: [4] }, layers: [{ type: 'dense', units: 3, activation: 'softmax' }] },
      epochs: 1,
      optimizer: { name: 'adam', learning_rate: 0.01 },
    });
    let done = await client.trainingJobs.get(job.id);
    for (const deadline = Date.now() + 50_000; !['succeeded', 'failed', 'cancelled'].includes(done.status) && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 100));
      done = await client.trainingJobs.get(job.id);
    }
    expect(done).toMatchObject({ status: 'succeeded', result_version: 3 });
    expect(await lastVersionFile('iris')).toEqual({ last_version: 3 });
  });

  it('starts afresh after the test controls reset (it puts back the bundled models)', async () => {
    const client = server ? new Modelport({ baseUrl: server.url, maxRetries: 0 }) : await start();
    expect((await fetch(`${server!.url}/_mock/reset`, { method: 'POST' })).status).toBe(204);
    await expect(client.models.get('pinned')).rejects.toMatchObject({ status: 404 });
    expect(await numbers(client, 'iris')).toEqual([1]);
    expect(await upload(client, 'iris')).toBe(2);
  });
});
