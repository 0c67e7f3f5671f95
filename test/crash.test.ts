/**
 * Crash safety of the registry: a server process is SIGKILLed while uploads and alias changes
 * are in flight; after a restart every version is whole or absent, nothing acknowledged is lost,
 * and no temporary folder shows up as a version.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport } from '../src/index';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { BUNDLED, tempDataDir } from './helpers/data-dir';
import { kill, startChildServer } from './helpers/child-server';
import { filesOf } from './helpers/archives';

// Each round costs a server start (seconds); test/crash-writes.test.ts kills during every other kind
// of write. A longer run: CRASH_ROUNDS=20 npx vitest run --config test/vitest.config.ts test/crash.test.ts
const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 4);
const pixels = loadMnistSplit().test.x.subarray(0, 784);
let data: Awaited<ReturnType<typeof tempDataDir>>;

beforeAll(async () => {
  data = await tempDataDir();
});
afterAll(() => data?.remove());

describe('SIGKILL during uploads and alias changes', () => {
  it(`leaves every version whole or absent across ${ROUNDS} kills`, async () => {
    const repo = path.join(data.dir, 'repo');
    const files = await filesOf(path.join(BUNDLED, 'digits-mlp', '1'));
    delete files['version.json'];
    const upload = Object.entries(files).map(([name, bytes]) => ({ name, data: bytes }));
    const acknowledged = new Set<number>();
    let killsDuringWrites = 0;
    let interrupted = 0;

    for (let round = 0; round < ROUNDS; round++) {
      const server = await startChildServer(repo);
      const client = new Modelport({ baseUrl: server.url, maxRetries: 0, timeout: 10_000 });

      // What the previous kill left must be consistent.
      await checkConsistent(client, repo, acknowledged);
      if (round === 0) await client.models.create({ name: 'crashy', task: 'image-classification', labels: [...'0123456789'] });

      let stop = false;
      const writers = [0, 1].map(async (w) => {
        while (!stop) {
          try {
            if (w === 0) acknowledged.add((await client.models.versions.upload('crashy', { files: upload })).version);
            else {
              const versions = (await client.models.get('crashy')).versions;
              if (versions.length)
                await client.models.aliases.set('crashy', 'production', versions[Math.floor(Math.random() * versions.length)]!);
            }
          } catch {
            return; // the server died under us
          }
        }
      });
      // Kill only once this round has something acknowledged (an upload takes seconds on a loaded
      // machine), then at a random moment among the writes that follow.
      const before = acknowledged.size;
      for (const deadline = Date.now() + 60_000; acknowledged.size === before && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 400));
      killsDuringWrites += 1;
      await kill(server);
      stop = true;
      await Promise.all(writers);
      // Half-written uploads the kill left behind (swept at the next start).
      const left = await readdir(path.join(repo, 'models', 'crashy')).catch(() => []);
      interrupted += left.filter((n) => n.startsWith('.tmp-')).length;
    }

    const server = await startChildServer(repo);
    try {
      const client = new Modelport({ baseUrl: server.url, maxRetries: 0 });
      await checkConsistent(client, repo, acknowledged);
      expect(acknowledged.size).toBeGreaterThan(0);
      expect(killsDuringWrites).toBe(ROUNDS);
      console.log(
        `crash test: ${ROUNDS} kills, ${acknowledged.size} versions acknowledged and kept, ${interrupted} half-written uploads left by kills and swept`,
      );
    } finally {
      await kill(server, 'SIGTERM');
    }
  });
});

async function checkConsistent(client: Modelport, repo: string, acknowledged: Set<number>) {
  const names = await readdir(path.join(repo, 'models'));
  // Temporaries from the kill were swept at start-up; only model folders remain.
  expect(names.filter((n) => n.startsWith('.'))).toEqual([]);
  if (!names.includes('crashy')) return;
  const entries = await readdir(path.join(repo, 'models', 'crashy'));
  expect(entries.filter((n) => !['config.json', 'last-version.json'].includes(n) && !/^\d+$/.test(n))).toEqual([]);
  const config = JSON.parse(await readFile(path.join(repo, 'models', 'crashy', 'config.json'), 'utf8'));
  const versions = await client.models.versions.list('crashy', { limit: 100 }).toArray();
  // Every version on disk is complete: listed, loaded and answering.
  expect(versions.map((v) => String(v.version)).sort()).toEqual(entries.filter((n) => /^\d+$/.test(n)).sort());
  for (const v of versions) {
    expect(v.state).toBe('READY');
    expect((await client.predict('crashy', pixels, { version: v.version })).output.shape).toEqual([1, 10]);
  }
  // Nothing that was acknowledged with 201 is lost.
  for (const version of acknowledged) expect(versions.map((v) => v.version)).toContain(version);
  // Aliases only ever point at versions that exist.
  for (const targets of Object.values<{ version: number }[]>(config.aliases ?? {})) {
    for (const t of targets) expect(versions.map((v) => v.version)).toContain(t.version);
  }
}
