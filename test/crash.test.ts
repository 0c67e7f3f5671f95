/**
 * Crash safety of the registry: a server process is SIGKILLed while two concurrent uploads, alias
 * changes and deletions of the newest version are in flight; after a restart every version is
 * whole or absent, nothing acknowledged is lost, an acknowledged deletion stays done, no version
 * number is ever handed out twice (#18 item 14), and no temporary folder shows up as a version.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APIError, Modelport } from '../src/index';
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
  // Each round waits for an acknowledged upload, inspected in a child process: seconds each on a busy machine.
  it(
    `leaves every version whole or absent across ${ROUNDS} kills`,
    async () => {
      const repo = path.join(data.dir, 'repo');
      const files = await filesOf(path.join(BUNDLED, 'digits-mlp', '1'));
      delete files['version.json'];
      const upload = Object.entries(files).map(([name, bytes]) => ({ name, data: bytes }));
      const acknowledged = new Set<number>();
      const deleted = new Set<number>();
      /** Every number acknowledged or seen on disk, deleted or not: none may be handed out again. */
      const handedOut = new Set<number>();
      const state: Consistency = { acknowledged, deleted, handedOut, alias: {} };
      const unexpected: string[] = [];
      let killsDuringWrites = 0;
      let uploads = 0;
      let interrupted = 0;

      for (let round = 0; round < ROUNDS; round++) {
        const server = await startChildServer(repo);
        const client = new Modelport({ baseUrl: server.url, maxRetries: 0, timeout: 10_000 });

        // What the previous kill left must be consistent.
        await checkConsistent(client, repo, state);
        if (round === 0) await client.models.create({ name: 'crashy', task: 'image-classification', labels: [...'0123456789'] });

        let stop = false;
        const writers = ['upload', 'upload', 'alias', 'delete'].map(async (kind) => {
          while (!stop) {
            try {
              if (kind === 'upload') {
                const { version } = await client.models.versions.upload('crashy', { files: upload });
                if (handedOut.has(version)) unexpected.push(`version ${version} handed out again`);
                handedOut.add(version);
                acknowledged.add(version);
                uploads += 1;
              } else if (kind === 'alias') {
                const live = [...acknowledged].filter((v) => v !== state.deleting);
                if (!live.length) await new Promise((r) => setTimeout(r, 50));
                else {
                  state.alias.inFlight = live[Math.floor(Math.random() * live.length)]!;
                  await client.models.aliases.set('crashy', 'production', state.alias.inFlight);
                  state.alias = { acked: state.alias.inFlight };
                }
              } else {
                // The newest version no alias needs, once there are a few: its number must not come back.
                const newest = [...acknowledged].sort((a, b) => b - a).find((v) => v !== state.alias.acked && v !== state.alias.inFlight);
                if (acknowledged.size < 3 || newest === undefined) await new Promise((r) => setTimeout(r, 50));
                else {
                  state.deleting = newest;
                  await client.models.versions.delete('crashy', newest);
                  acknowledged.delete(newest);
                  deleted.add(newest);
                  state.deleting = undefined;
                }
              }
            } catch (error) {
              // The server died under us; an error answer is a finding.
              if (!stop && error instanceof APIError && error.status !== undefined) unexpected.push(`${kind}: ${error.message}`);
              return;
            }
          }
        });
        // Kill only once this round has something acknowledged (an upload takes seconds on a loaded
        // machine), then at a random moment among the writes that follow.
        const before = uploads;
        for (const deadline = Date.now() + 60_000; uploads === before && Date.now() < deadline; ) {
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
        await checkConsistent(client, repo, state);
        expect(unexpected, 'error answers, and version numbers handed out twice').toEqual([]);
        expect(acknowledged.size).toBeGreaterThan(0);
        expect(killsDuringWrites).toBe(ROUNDS);
        console.log(
          `crash test: ${ROUNDS} kills, ${uploads} uploads acknowledged, ${acknowledged.size} versions kept, ${deleted.size} deletions stay deleted, ` +
            `${handedOut.size} numbers handed out (highest ${Math.max(...handedOut)}), none twice, ${interrupted} half-written uploads left by kills and swept`,
        );
      } finally {
        await kill(server, 'SIGTERM');
      }
    },
    60_000 + ROUNDS * 30_000,
  );
});

interface Consistency {
  acknowledged: Set<number>;
  deleted: Set<number>;
  handedOut: Set<number>;
  deleting?: number;
  alias: { acked?: number; inFlight?: number };
}

async function checkConsistent(client: Modelport, repo: string, state: Consistency) {
  const { acknowledged, deleted, handedOut } = state;
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
  const numbers = versions.map((v) => v.version);
  // Nothing that was acknowledged with 201 is lost; no acknowledged deletion is undone.
  for (const version of acknowledged) if (version !== state.deleting) expect(numbers, 'acknowledged upload').toContain(version);
  for (const version of deleted) expect(numbers, 'acknowledged deletion').not.toContain(version);
  // A deletion cut by the kill happened entirely or not at all; uploads cut by it that landed took their number.
  if (state.deleting !== undefined && !numbers.includes(state.deleting)) {
    acknowledged.delete(state.deleting);
    deleted.add(state.deleting);
  }
  state.deleting = undefined;
  for (const version of numbers) {
    handedOut.add(version);
    acknowledged.add(version);
  }
  // Aliases only ever point at versions that exist.
  for (const targets of Object.values<{ version: number }[]>(config.aliases ?? {})) {
    for (const t of targets) expect(versions.map((v) => v.version)).toContain(t.version);
  }
}
