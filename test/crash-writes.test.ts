/**
 * Crash safety of every kind of write: a server process (auth on) is SIGKILLed while version
 * uploads and deletions, alias moves, model updates, API key creations and revocations, dataset
 * uploads and a training job (which registers its result as a version and moves an alias) are in
 * flight. Even rounds kill at a planned moment; odd rounds kill up to 1.5 s after the training job
 * reaches its last epochs: in its last epoch, in the registration of its result, or after it. After each restart nothing that was acknowledged is
 * lost, a write that was in flight is either fully there or fully absent, and nothing half-written
 * is visible: every version loads and predicts, every alias points at a version, keys work exactly
 * as acknowledged, datasets are whole, a job that succeeded has its version, and a job that was
 * running when its server died is `failed` with reason `interrupted` (never shown running by a server that did not start
 * it). Last, a training event log torn mid-append is cut back to its last whole event at start.
 *
 * Bounded: ROUNDS kills (default 3, each costing a server start of a few seconds); a longer run:
 *   CRASH_ROUNDS=20 CRASH_SEED=3 npx vitest run --config test/vitest.config.ts test/crash-writes.test.ts
 */
import { appendFile, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APIError, Modelport, type TrainingJob } from '../src/index';
import { BUNDLED, tempDataDir } from './helpers/data-dir';
import { kill, startChildServer, type ChildServer } from './helpers/child-server';
import { mulberry32 } from '../mock-server/runtime/seeded-random';

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 3);
const SEED = Number(process.env.CRASH_SEED ?? 7);
const ADMIN_KEY = 'mp_admin_crash-writes-test-key-0123456789';
const IRIS_ROW = [5.1, 3.5, 1.4, 0.2];
const EPOCHS = 5;
const TERMINAL = ['succeeded', 'failed', 'cancelled'];
/** Temporaries of atomic writes and training output folders: what a kill leaves half-done. */
const TEMPORARY = /^\.(tmp|trash)-|\.out$/;

/** What the servers acknowledged (and what was in flight when they died). */
interface Ledger {
  versions: Set<number>;
  deleted: Set<number>;
  deleting?: number;
  alias: { acked?: number; inFlight?: number };
  description: { acked?: string; inFlight?: string };
  keys: Map<string, { secret: string; revoked: 'no' | 'in-flight' | 'yes' }>;
  keyInFlight: number;
  datasets: Map<string, number>;
  /** Every job a server acknowledged, with the status a client last saw, and its version once it succeeded. */
  jobs: Map<string, { lastSeen: string; reason?: string; resultVersion?: number }>;
}

let data: Awaited<ReturnType<typeof tempDataDir>>;
let irisFiles: { name: string; data: Uint8Array }[];

beforeAll(async () => {
  data = await tempDataDir();
  irisFiles = await Promise.all(
    ['model.json', 'weights.bin'].map(async (name) => ({
      name,
      data: new Uint8Array(await readFile(path.join(BUNDLED, 'iris', '1', name))),
    })),
  );
});
afterAll(() => data?.remove());

describe('SIGKILL during every kind of write', () => {
  it(
    `loses nothing acknowledged and shows nothing torn across ${ROUNDS} kills (seed ${SEED})`,
    async () => {
      // The kill plan comes from its own generator, so a seed always plans the same kills;
      // the writers' choices come from another (their order depends on timing).
      const plan = mulberry32(SEED);
      const pick = mulberry32(SEED + 1);
      const dataDir = path.join(data.dir, 'repo');
      const ledger: Ledger = {
        versions: new Set(),
        deleted: new Set(),
        alias: {},
        description: {},
        keys: new Map(),
        keyInFlight: 0,
        datasets: new Map(),
        jobs: new Map(),
      };
      const writes: Record<string, number> = {};
      const killPoints: string[] = [];
      const unexpected: string[] = [];
      let halfDone = 0;
      const count = (kind: string) => (writes[kind] = (writes[kind] ?? 0) + 1);

      for (let round = 0; round < ROUNDS; round++) {
        const startedAt = Date.now();
        const server = await startChildServer(dataDir, [], { adminKey: ADMIN_KEY });
        const client = new Modelport({ baseUrl: server.url, apiKey: ADMIN_KEY, maxRetries: 0, timeout: 30_000 });
        await checkConsistent(server, startedAt, client, dataDir, ledger);
        if (round === 0)
          await client.models.create({ name: 'crashy', task: 'tabular-classification', labels: ['setosa', 'versicolor', 'virginica'] });

        const atTrainingEnd = round % 2 === 1;
        const delay = atTrainingEnd ? plan() * 1500 : 200 + plan() * 1000;
        let trainingEnding: () => void = () => undefined;
        const trainingEnds = new Promise<void>((resolve) => (trainingEnding = resolve));

        let stop = false;
        const inFlight = new Set<string>();
        /** A write that fails without an answer was cut by the kill; an error answer is a finding. */
        const failed = (kind: string, error: unknown) => {
          if (!stop && error instanceof APIError && error.status !== undefined && error.status >= 400)
            unexpected.push(`${kind}: ${error.message}`);
        };
        const loop = async (kind: string, write: (i: number) => Promise<void>) => {
          for (let i = 0; !stop; i++) {
            inFlight.add(kind);
            try {
              await write(i);
            } catch (error) {
              failed(kind, error);
              return; // this write stays "in flight"
            }
            inFlight.delete(kind);
            count(kind);
          }
        };
        const writers = [
          loop('upload+delete', async () => {
            // Uploads, and beyond 4 versions deletes the oldest no alias needs (keeps the model, and the start, small).
            const acked = [...ledger.versions].sort((a, b) => a - b);
            const oldest = acked.find((v) => v !== ledger.alias.acked && v !== ledger.alias.inFlight);
            if (acked.length > 4 && oldest !== undefined) {
              ledger.deleting = oldest;
              await client.models.versions.delete('crashy', oldest);
              ledger.versions.delete(oldest);
              ledger.deleted.add(oldest);
              ledger.deleting = undefined;
            } else {
              ledger.versions.add((await client.models.versions.upload('crashy', { files: irisFiles })).version);
            }
          }),
          loop('alias+update', async (i) => {
            const versions = [...ledger.versions].sort((a, b) => b - a).slice(0, 2); // the newest: never being deleted
            if (versions.length) {
              ledger.alias.inFlight = versions[Math.floor(pick() * versions.length)]!;
              await client.models.aliases.set('crashy', 'production', ledger.alias.inFlight);
              ledger.alias = { acked: ledger.alias.inFlight };
            }
            ledger.description.inFlight = `round ${round} write ${i}`;
            await client.models.update('crashy', { description: ledger.description.inFlight });
            ledger.description = { acked: ledger.description.inFlight };
          }),
          loop('key', async (i) => {
            const live = [...ledger.keys].filter(([, k]) => k.revoked === 'no');
            if (live.length > 3 && i % 2 === 1) {
              const [id, key] = live[Math.floor(pick() * live.length)]!;
              key.revoked = 'in-flight';
              await client.apiKeys.revoke(id);
              key.revoked = 'yes';
            } else {
              ledger.keyInFlight += 1;
              const created = await client.apiKeys.create({ name: `k-${round}-${i}`, scopes: ['inference'] });
              ledger.keyInFlight -= 1;
              ledger.keys.set(created.id, { secret: created.secret, revoked: 'no' });
            }
          }),
          loop('dataset', async (i) => {
            const name = `d-${round}-${i}`;
            const rows = Array.from(
              { length: 10 },
              (_, r) => `${IRIS_ROW.map((v) => v + r / 10).join(',')},${['setosa', 'versicolor', 'virginica'][r % 3]}`,
            );
            await client.datasets.create({ name, csv: rows.join('\n'), task: 'tabular-classification' });
            ledger.datasets.set(name, 10);
          }),
          (async () => {
            // One training job per round; its end registers a version of 'trained' and moves an alias.
            inFlight.add('training');
            try {
              const job = await client.trainingJobs.create({
                model: 'trained',
                task: 'tabular-classification',
                labels: ['setosa', 'versicolor', 'virginica'],
                dataset: 'iris-train',
                architecture: {
                  input: { name: 'features', shape: [4] },
                  layers: [
                    { type: 'dense', units: 8, activation: 'relu' },
                    { type: 'dense', units: 3, activation: 'softmax' },
                  ],
                },
                epochs: EPOCHS,
                optimizer: { name: 'adam', learning_rate: 0.01 },
                alias: 'latest',
                seed: round,
              });
              ledger.jobs.set(job.id, { lastSeen: job.status });
              while (!stop) {
                const now = await client.trainingJobs.get(job.id);
                ledger.jobs.set(job.id, seenJob(now));
                // From the last epochs on, the worker finishes and the server registers the result.
                if ((now.progress?.epoch ?? 0) >= EPOCHS - 1 || TERMINAL.includes(now.status)) trainingEnding();
                if (TERMINAL.includes(now.status)) {
                  if (now.status === 'succeeded') count('training result');
                  inFlight.delete('training');
                  return;
                }
                await new Promise((r) => setTimeout(r, 40));
              }
            } catch (error) {
              failed('training', error);
            }
          })(),
        ];
        let what: string;
        if (atTrainingEnd) {
          // Bounded: a job that does not reach its last epochs in time is killed wherever it is.
          const reached = await Promise.race([
            trainingEnds.then(() => true),
            new Promise<false>((r) => setTimeout(() => r(false), 30_000)),
          ]);
          await new Promise((r) => setTimeout(r, delay));
          what = `${reached ? '' : 'not '}at the training job's last epochs + ${Math.round(delay)} ms`;
        } else {
          await new Promise((r) => setTimeout(r, delay));
          what = `${Math.round(delay)} ms`;
        }
        const caught = [...inFlight].sort();
        await kill(server);
        stop = true;
        await Promise.all(writers);
        const left = await temporaries(dataDir);
        halfDone += left.length;
        killPoints.push(`${what} (in flight: ${caught.join(', ') || 'nothing'}; half-done on disk: ${left.length})`);
      }

      // A kill in the middle of an append to a job's event log (of a job that has ended, so that
      // nothing is appended to it at start): the torn tail must be cut back to the last whole event.
      const ended =
        [...ledger.jobs].find(([, j]) => TERMINAL.includes(j.lastSeen) && j.reason !== 'interrupted') ??
        [...ledger.jobs].find(([, j]) => TERMINAL.includes(j.lastSeen));
      expect(ended, 'a job that ended before the last round').toBeDefined();
      const log = path.join(dataDir, 'training', `${ended![0]}.events.jsonl`);
      const whole = await readFile(log, 'utf8');
      await appendFile(log, '{"seq":99,"type":"epo');

      const startedAt = Date.now();
      const server = await startChildServer(dataDir, [], { adminKey: ADMIN_KEY });
      try {
        const client = new Modelport({ baseUrl: server.url, apiKey: ADMIN_KEY, maxRetries: 0, timeout: 30_000 });
        await checkConsistent(server, startedAt, client, dataDir, ledger);
        expect(await readFile(log, 'utf8'), 'the torn event log, cut back').toBe(whole);
        const events = [];
        for await (const event of client.trainingJobs.events(ended![0])) events.push(event.type);
        expect(events[0]).toBe('queued');
        expect(events.at(-1)).toBe((await client.trainingJobs.get(ended![0])).status);

        expect(unexpected, 'error answers to writes').toEqual([]);
        expect(ledger.versions.size).toBeGreaterThan(0);
        expect(ledger.keys.size).toBeGreaterThan(0);
        expect(ledger.datasets.size).toBeGreaterThan(0);
        expect(ledger.jobs.size).toBeGreaterThan(0);
        const results = [...ledger.jobs.values()].filter((j) => j.resultVersion !== undefined).length;
        const interrupted = [...ledger.jobs.values()].filter((j) => j.reason === 'interrupted').length;
        console.log(
          [
            `crash-writes (seed ${SEED}): ${ROUNDS} SIGKILLs:`,
            ...killPoints.map((p, i) => `  ${i + 1}. ${p}`),
            `  acknowledged writes: ${Object.entries(writes)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ')}`,
            `  kept after the kills: ${ledger.versions.size} versions (${ledger.deleted.size} deletions stay deleted), ${ledger.keys.size} keys, ${ledger.datasets.size} datasets, ${ledger.jobs.size} training jobs (${results} with their result version, ${interrupted} interrupted); lost: 0`,
            `  half-done writes left on disk by the kills: ${halfDone}, all swept at restart; torn event log cut back: yes`,
          ].join('\n'),
        );
      } finally {
        await kill(server, 'SIGTERM');
      }
    },
    60_000 + ROUNDS * 30_000,
  );
});

/** Everything acknowledged is there, in-flight writes are whole or absent, nothing torn is visible. */
async function checkConsistent(server: ChildServer, startedAt: number, client: Modelport, dataDir: string, ledger: Ledger): Promise<void> {
  // Training first, before this server's queue moves on. A job can only be running in the server
  // that started it: one that was running when its server died is now failed, reason `interrupted`.
  const first = await client.trainingJobs.list({ limit: 100 }).toArray();
  for (const job of first) {
    if (job.status === 'running')
      expect(
        Date.parse(job.started_at!),
        `job ${job.id} shown running, started ${job.started_at}, before this server started`,
      ).toBeGreaterThanOrEqual(startedAt);
  }
  for (const [id, seen] of ledger.jobs) {
    const now = first.find((j) => j.id === id);
    expect(now, `acknowledged job ${id}`).toBeDefined();
    if (seen.lastSeen === 'running')
      expect(TERMINAL, `job ${id}, seen running before the kill, is now ${now!.status}`).toContain(now!.status);
    if (TERMINAL.includes(seen.lastSeen)) expect(now!.status, `job ${id} had ended`).toBe(seen.lastSeen);
    if (seen.resultVersion !== undefined) expect(now).toMatchObject({ status: 'succeeded', result_version: seen.resultVersion });
  }
  // Jobs that were queued at the kill now run here; let them end (and their output folder go)
  // before looking at the disk.
  let jobs = first;
  const busy = async () => jobs.some((j) => !TERMINAL.includes(j.status)) || (await temporaries(dataDir)).some((n) => n.endsWith('.out'));
  for (const deadline = Date.now() + 60_000; await busy(); ) {
    expect(
      Date.now(),
      `jobs still queued or running: ${jobs.filter((j) => !TERMINAL.includes(j.status)).map((j) => `${j.id} ${j.status}`)}`,
    ).toBeLessThan(deadline);
    await new Promise((r) => setTimeout(r, 100));
    jobs = await client.trainingJobs.list({ limit: 100 }).toArray();
  }
  for (const job of jobs) ledger.jobs.set(job.id, seenJob(job));

  // Each store swept what the kill left half-done when it opened: the registry, keys and training
  // at start, datasets and evaluations (opened on first use) with this first request.
  await client.datasets.list({ limit: 1 }).toArray();
  expect(await temporaries(dataDir), 'temporaries left after the stores opened').toEqual([]);
  const modelsDir = path.join(dataDir, 'models');
  const models = await readdir(modelsDir);
  for (const model of ['crashy', 'trained']) {
    if (!models.includes(model)) continue;
    const entries = await readdir(path.join(modelsDir, model));
    expect(
      entries.filter((n) => !['config.json', 'last-version.json'].includes(n) && !/^\d+$/.test(n)),
      `leftovers in ${model}/`,
    ).toEqual([]);
    const detail = await client.models.get(model);
    const versions = await client.models.versions.list(model, { limit: 100 }).toArray();
    const numbers = versions.map((v) => v.version);
    expect(numbers.map(String).sort()).toEqual(entries.filter((n) => /^\d+$/.test(n)).sort());
    for (const v of versions) {
      expect(v.state, `${model} v${v.version}: ${v.reason}`).toBe('READY');
      expect(
        (await client.predict(model, { data: Float32Array.from(IRIS_ROW), shape: [1, 4] }, { version: v.version })).output.shape,
      ).toEqual([1, 3]);
    }
    for (const [alias, targets] of Object.entries(detail.aliases)) {
      for (const t of targets) expect(numbers, `${model} alias ${alias}`).toContain(t.version);
    }
    if (model === 'trained') {
      for (const job of jobs) if (job.status === 'succeeded') expect(numbers, `result of job ${job.id}`).toContain(job.result_version);
    }
    if (model === 'crashy') {
      for (const version of ledger.versions) if (version !== ledger.deleting) expect(numbers, 'acknowledged upload').toContain(version);
      for (const version of ledger.deleted) expect(numbers, 'acknowledged deletion').not.toContain(version);
      // A deletion cut by the kill happened entirely or not at all.
      if (ledger.deleting !== undefined && !numbers.includes(ledger.deleting)) {
        ledger.versions.delete(ledger.deleting);
        ledger.deleted.add(ledger.deleting);
      }
      ledger.deleting = undefined;
      const production = detail.aliases.production?.[0]?.version;
      if (ledger.alias.acked !== undefined) expect([ledger.alias.acked, ledger.alias.inFlight]).toContain(production);
      if (ledger.description.acked !== undefined)
        expect([ledger.description.acked, ledger.description.inFlight]).toContain(detail.description);
    }
  }
  if (ledger.jobs.size && [...ledger.jobs.values()].some((j) => j.resultVersion !== undefined)) expect(models).toContain('trained');
  // Keys: acknowledged ones work, acknowledged revocations hold, nothing else appeared.
  const listed = await client.apiKeys.list({ limit: 100 }).toArray();
  for (const [id, key] of ledger.keys) {
    expect(
      listed.map((k) => k.id),
      'acknowledged key',
    ).toContain(id);
    const status = (await fetch(`${server.url}/v2/models/crashy/ready`, { headers: { authorization: `Bearer ${key.secret}` } })).status;
    if (key.revoked === 'no') expect([401, 403], `key ${id} answered ${status}`).not.toContain(status);
    if (key.revoked === 'yes') expect(status, `revoked key ${id}`).toBe(401);
  }
  expect(listed.length - ledger.keys.size).toBeLessThanOrEqual(ledger.keyInFlight);
  // Datasets: every acknowledged upload is whole; any listed one reads back whole.
  const datasets = await client.datasets.list({ limit: 100 }).toArray();
  for (const [name, samples] of ledger.datasets) expect(datasets.find((d) => d.name === name)?.samples, `dataset ${name}`).toBe(samples);
  for (const d of datasets.filter((d) => d.source === 'upload')) expect(d.samples, `dataset ${d.name}`).toBe(10);
}

/** Temporaries of atomic writes, trash and training output folders anywhere in the data directory. */
async function temporaries(dataDir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dataDir, { recursive: true, withFileTypes: true })) {
    if (TEMPORARY.test(entry.name)) found.push(path.relative(dataDir, path.join(entry.parentPath, entry.name)));
  }
  return found;
}

/** What the ledger keeps of a job as last seen: status, why it failed, and its result version. */
function seenJob(job: TrainingJob): { lastSeen: string; reason?: string; resultVersion?: number } {
  return {
    lastSeen: job.status,
    ...(job.failure ? { reason: job.failure.reason } : {}),
    ...(job.status === 'succeeded' ? { resultVersion: job.result_version! } : {}),
  };
}
