/**
 * Crash safety of every kind of write: a server process (auth on) is SIGKILLed while writes to every
 * store race each other: version uploads and deletions, alias moves and model updates (registry),
 * API key creations and revocations from three writers at once (keys.json), dataset uploads and
 * deletions from two writers (datasets), pairs of evaluations created at once and followed
 * (evaluations), and a training job that registers its result as a version and moves an alias
 * (training). Even rounds kill at a random moment (0–2.5 s) once the quick writes of every store
 * have been acknowledged in the round; odd rounds kill up to 1.5 s after the training job reaches
 * its last epochs: in its last epoch, in the registration of its result, or after it (every fourth
 * round up to 1.5 s after the job's end, so that longer runs also keep acknowledged results). After each restart nothing acknowledged is
 * lost (every version, deletion, alias, description, key, revocation, dataset, dataset deletion,
 * evaluation and training job), a write that was in flight is either fully there or fully absent,
 * and nothing half-written is visible: every version loads and predicts, every alias points at a
 * version, keys work exactly as acknowledged, datasets are whole on disk, a job that ended keeps its
 * ending and results, a job that was running when its server died is `failed` with reason
 * `interrupted` (never shown running by a server that did not start it), and no version number is
 * handed out twice. Last, a training event log torn mid-append is cut back to its last whole event.
 *
 * Bounded: ROUNDS kills (default 3, each costing a server start of a few seconds); a longer run:
 *   CRASH_ROUNDS=20 CRASH_SEED=3 npx vitest run --config test/vitest.config.ts test/crash-writes.test.ts
 */
import { appendFile, mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APIError, type Evaluation, Modelport, type TrainingJob } from '../src/index';
import { KeyStore } from '../mock-server/auth/keys';
import { BUNDLED, tempDataDir } from './helpers/data-dir';
import { kill, startChildServer, type ChildServer } from './helpers/child-server';
import { mulberry32 } from '../mock-server/runtime/seeded-random';

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 3);
const SEED = Number(process.env.CRASH_SEED ?? 7);
const ADMIN_KEY = 'mp_admin_crash-writes-test-key-0123456789';
const IRIS_ROW = [5.1, 3.5, 1.4, 0.2];
const EPOCHS = 5;
const KEY_WRITERS = 3;
const DATASET_WRITERS = 2;
const DATASET_ROWS = 10;
const TERMINAL = ['succeeded', 'failed', 'cancelled'];
/** Temporaries of atomic writes and training output folders: what a kill leaves half-done. */
const TEMPORARY = /^\.(tmp|trash)-|\.out$/;

type WriteState = 'no' | 'in-flight' | 'yes';
interface SeenJob {
  lastSeen: string;
  reason?: string;
  /** Training: the version its result became. */
  resultVersion?: number;
  /** Evaluations: what a client saw of its results once it succeeded. */
  accuracies?: number[];
}

/** What the servers acknowledged (and what was in flight when they died). */
interface Ledger {
  versions: Set<number>;
  deleted: Set<number>;
  deleting?: number;
  /** The highest version number of `crashy` ever acknowledged or seen: every new upload must be above it. */
  highestVersion: number;
  alias: { acked?: number; inFlight?: number };
  description: { acked?: string; inFlight?: string };
  keys: Map<string, { secret: string; revoked: WriteState }>;
  keyInFlight: number;
  /** Uploaded datasets by name: samples, and whether a deletion was acknowledged or is in flight. */
  datasets: Map<string, { samples: number; created: Exclude<WriteState, 'no'>; deleted: WriteState }>;
  /** Every job a server acknowledged, with what a client last saw of it. */
  jobs: Map<string, SeenJob>;
  evaluations: Map<string, SeenJob>;
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

describe('API keys written by many requests at once', () => {
  it('keeps every acknowledged creation and revocation in keys.json (no older snapshot lands last)', async () => {
    // The race of issue #18 item 13 without a kill: each change wrote its own snapshot, and the
    // renames landed in any order. Waves of 60 creations and 30 revocations at once, then a fresh store.
    const dir = await mkdtemp(path.join(data.dir, 'keys-'));
    const store = await KeyStore.open(dir, ADMIN_KEY);
    const created: Awaited<ReturnType<KeyStore['create']>>[] = [];
    const revoked = new Set<string>();
    for (let wave = 0; wave < 8; wave++) {
      const revoking = created.filter((key) => !revoked.has(key.id)).slice(0, 30);
      const [made] = await Promise.all([
        Promise.all(Array.from({ length: 60 }, (_, i) => store.create({ name: `w${wave}-${i}`, scopes: ['inference'] }))),
        Promise.all(revoking.map((key) => store.revoke(key.id))),
      ]);
      created.push(...made);
      for (const key of revoking) revoked.add(key.id);
    }
    const reopened = await KeyStore.open(dir, ADMIN_KEY);
    const stored = new Map(reopened.list().map((key) => [key.id, key]));
    expect(
      created.filter((key) => !stored.has(key.id)).map((key) => key.name),
      'acknowledged keys missing from keys.json',
    ).toEqual([]);
    expect(
      [...revoked].filter((id) => !stored.get(id)?.revoked_at),
      'acknowledged revocations undone',
    ).toEqual([]);
    for (const key of created) expect(reopened.verify(key.secret)?.keyId ?? 'revoked').toBe(revoked.has(key.id) ? 'revoked' : key.id);
  });
});

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
        highestVersion: 0,
        alias: {},
        description: {},
        keys: new Map(),
        keyInFlight: 0,
        datasets: new Map(),
        jobs: new Map(),
        evaluations: new Map(),
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
        const delay = atTrainingEnd ? plan() * 1500 : plan() * 2500;
        // Every fourth round (from the fourth) waits for the job's end instead: its result, registered
        // as a version through the upload inspection, is then acknowledged and must survive the kills.
        const afterTraining = round % 4 === 3;
        let trainingEnding: () => void = () => undefined;
        const trainingEnds = new Promise<void>((resolve) => (trainingEnding = resolve));
        let trainingDone: () => void = () => undefined;
        const trainingEnded = new Promise<void>((resolve) => (trainingDone = resolve));

        let stop = false;
        const inFlight = new Set<string>();
        /** Kinds of write acknowledged in this round: the planned kill waits for one of each. */
        const ackedThisRound = new Set<string>();
        /** A write that fails without an answer was cut by the kill; an error answer is a finding. */
        const failed = (kind: string, error: unknown) => {
          if (!stop && error instanceof APIError && error.status !== undefined && error.status >= 400)
            unexpected.push(`${kind}: ${error.message}`);
        };
        /** Runs one writer (`kind#n` when several write the same store) until the kill. */
        const loop = async (writer: string, write: (i: number) => Promise<void>) => {
          const kind = writer.split('#')[0]!;
          for (let i = 0; !stop; i++) {
            inFlight.add(writer);
            try {
              await write(i);
            } catch (error) {
              failed(kind, error);
              return; // this write stays "in flight"
            }
            inFlight.delete(writer);
            ackedThisRound.add(kind);
            count(kind);
          }
        };
        const writers = [
          loop('upload+delete', async (i) => {
            // Uploads, and beyond 4 versions deletes one no alias needs (keeps the model, and the start,
            // small): the oldest, or every third time the newest, whose number must not come back.
            const free = [...ledger.versions].sort((a, b) => a - b).filter((v) => v !== ledger.alias.acked && v !== ledger.alias.inFlight);
            const victim = i % 3 === 2 ? free.at(-1) : free[0];
            if (ledger.versions.size > 4 && victim !== undefined) {
              ledger.deleting = victim;
              await client.models.versions.delete('crashy', victim);
              ledger.versions.delete(victim);
              ledger.deleted.add(victim);
              ledger.deleting = undefined;
            } else {
              const { version } = await client.models.versions.upload('crashy', { files: irisFiles });
              // Never a number handed out before, deleted or not, whatever the kills did (#18 item 14).
              if (version <= ledger.highestVersion)
                unexpected.push(`upload: version ${version} again (highest so far ${ledger.highestVersion})`);
              ledger.highestVersion = Math.max(ledger.highestVersion, version);
              ledger.versions.add(version);
            }
          }),
          loop('alias+update', async (i) => {
            const versions = [...ledger.versions]
              .filter((v) => v !== ledger.deleting)
              .sort((a, b) => b - a)
              .slice(0, 2);
            if (versions.length) {
              ledger.alias.inFlight = versions[Math.floor(pick() * versions.length)]!;
              await client.models.aliases.set('crashy', 'production', ledger.alias.inFlight);
              ledger.alias = { acked: ledger.alias.inFlight };
            }
            ledger.description.inFlight = `round ${round} write ${i}`;
            await client.models.update('crashy', { description: ledger.description.inFlight });
            ledger.description = { acked: ledger.description.inFlight };
          }),
          // Several key writers at once: each creation and revocation rewrites keys.json.
          ...Array.from({ length: KEY_WRITERS }, (_, w) =>
            loop(`key#${w}`, async (i) => {
              const live = [...ledger.keys].filter(([, k]) => k.revoked === 'no');
              if (live.length > 3 && i % 2 === 1) {
                const [id, key] = live[Math.floor(pick() * live.length)]!;
                key.revoked = 'in-flight';
                await client.apiKeys.revoke(id);
                key.revoked = 'yes';
              } else {
                ledger.keyInFlight += 1;
                const created = await client.apiKeys.create({ name: `k-${round}-${w}-${i}`, scopes: ['inference'] });
                ledger.keyInFlight -= 1;
                ledger.keys.set(created.id, { secret: created.secret, revoked: 'no' });
              }
            }),
          ),
          // Dataset uploads and deletions from two writers at once.
          ...Array.from({ length: DATASET_WRITERS }, (_, w) =>
            loop(`dataset#${w}`, async (i) => {
              const own = [...ledger.datasets].filter(([name, d]) => name.endsWith(`-w${w}`) && d.created === 'yes' && d.deleted === 'no');
              if (own.length > 2 && i % 3 === 2) {
                const [name, dataset] = own[Math.floor(pick() * own.length)]!;
                dataset.deleted = 'in-flight';
                await client.datasets.delete(name);
                dataset.deleted = 'yes';
                return;
              }
              const name = `d-${round}-${i}-w${w}`;
              const rows = Array.from(
                { length: DATASET_ROWS },
                (_, r) => `${IRIS_ROW.map((v) => v + r / 10).join(',')},${['setosa', 'versicolor', 'virginica'][r % 3]}`,
              );
              const dataset = { samples: DATASET_ROWS, created: 'in-flight' as const, deleted: 'no' as const };
              ledger.datasets.set(name, dataset);
              await client.datasets.create({ name, csv: rows.join('\n'), task: 'tabular-classification' });
              ledger.datasets.set(name, { ...dataset, created: 'yes' });
            }),
          ),
          // Evaluations created two at a time, then followed to their end.
          loop('evaluation', async () => {
            const created = await Promise.all(
              [0, 1].map(() =>
                client.evaluations.create({ models: [{ model: 'iris', version: 1 }], dataset: 'iris-holdout', latency_samples: 3 }),
              ),
            );
            for (const evaluation of created) ledger.evaluations.set(evaluation.id, seenEvaluation(evaluation));
            for (const evaluation of created) {
              for (let now = evaluation; !stop; await new Promise((r) => setTimeout(r, 40))) {
                now = await client.evaluations.get(evaluation.id);
                ledger.evaluations.set(now.id, seenEvaluation(now));
                if (TERMINAL.includes(now.status)) break;
              }
            }
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
                  trainingDone();
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
            (afterTraining ? trainingEnded : trainingEnds).then(() => true),
            new Promise<false>((r) => setTimeout(() => r(false), afterTraining ? 60_000 : 30_000)),
          ]);
          await new Promise((r) => setTimeout(r, delay));
          what = `${reached ? '' : 'not '}at the training job's ${afterTraining ? 'end' : 'last epochs'} + ${Math.round(delay)} ms`;
        } else {
          // Once every store's quick writes have been acknowledged in this round (bounded), at a random
          // moment after. Uploads are waited for in the first round only, so that the run always holds an
          // acknowledged version: each is inspected in a child process (seconds on a busy machine), so in
          // the other rounds a kill often lands in one, racing the others' writes.
          const kinds = ['alias+update', 'key', 'dataset', 'evaluation', ...(round === 0 ? ['upload+delete'] : [])];
          for (const deadline = Date.now() + 30_000; kinds.some((k) => !ackedThisRound.has(k)) && Date.now() < deadline; )
            await new Promise((r) => setTimeout(r, 25));
          await new Promise((r) => setTimeout(r, delay));
          what = `${Math.round(delay)} ms after the quick writes of every store were acknowledged (${Math.round((Date.now() - startedAt) / 100) / 10} s into the round)`;
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

        expect(unexpected, 'error answers to writes, and version numbers handed out twice').toEqual([]);
        expect(ledger.versions.size).toBeGreaterThan(0);
        expect(ledger.keys.size).toBeGreaterThan(0);
        expect(ledger.datasets.size).toBeGreaterThan(0);
        expect(ledger.jobs.size).toBeGreaterThan(0);
        expect(ledger.evaluations.size).toBeGreaterThan(0);
        const results = [...ledger.jobs.values()].filter((j) => j.resultVersion !== undefined).length;
        const interrupted = [...ledger.jobs.values()].filter((j) => j.reason === 'interrupted').length;
        const evaluations = [...ledger.evaluations.values()];
        const keys = [...ledger.keys.values()];
        const datasets = [...ledger.datasets.values()].filter((d) => d.created === 'yes');
        const acknowledged = Object.values(writes).reduce((n, w) => n + w, 0);
        console.log(
          [
            `crash-writes (seed ${SEED}): ${ROUNDS} SIGKILLs:`,
            ...killPoints.map((p, i) => `  ${i + 1}. ${p}`),
            `  acknowledged writes: ${acknowledged} (${Object.entries(writes)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ')})`,
            `  kept after the kills: ${ledger.versions.size} versions (${ledger.deleted.size} deletions stay deleted, highest number ${ledger.highestVersion}, none handed out twice), ` +
              `${keys.length} keys (${keys.filter((k) => k.revoked === 'yes').length} revocations hold), ` +
              `${datasets.filter((d) => d.deleted !== 'yes').length} datasets (${datasets.filter((d) => d.deleted === 'yes').length} deletions stay deleted), ` +
              `${evaluations.length} evaluations (${evaluations.filter((e) => e.lastSeen === 'succeeded').length} succeeded with their results, ${evaluations.filter((e) => e.reason === 'interrupted').length} interrupted), ` +
              `${ledger.jobs.size} training jobs (${results} with their result version, ${interrupted} interrupted); lost: 0`,
            `  half-done writes left on disk by the kills: ${halfDone}, all swept at restart; torn event log cut back: yes`,
          ].join('\n'),
        );
      } finally {
        await kill(server, 'SIGTERM');
      }
    },
    60_000 + ROUNDS * 40_000,
  );
});

/** Everything acknowledged is there, in-flight writes are whole or absent, nothing torn is visible. */
async function checkConsistent(server: ChildServer, startedAt: number, client: Modelport, dataDir: string, ledger: Ledger): Promise<void> {
  // Jobs first, before this server's queues move on. A job can only be running in the server that
  // started it: one that was running when its server died is now failed, reason `interrupted`.
  const firstTraining = await client.trainingJobs.list({ limit: 100 }).toArray();
  const firstEvaluations = await client.evaluations.list({ limit: 100 }).toArray();
  for (const [kind, first, seen] of [
    ['training job', firstTraining, ledger.jobs],
    ['evaluation', firstEvaluations, ledger.evaluations],
  ] as const) {
    for (const job of first) {
      if (job.status === 'running')
        expect(
          Date.parse(job.started_at!),
          `${kind} ${job.id} shown running, started ${job.started_at}, before this server started`,
        ).toBeGreaterThanOrEqual(startedAt);
    }
    for (const [id, before] of seen) {
      const now = (first as (TrainingJob | Evaluation)[]).find((j) => j.id === id);
      expect(now, `acknowledged ${kind} ${id}`).toBeDefined();
      if (before.lastSeen === 'running')
        expect(TERMINAL, `${kind} ${id}, seen running before the kill, is now ${now!.status}`).toContain(now!.status);
      if (TERMINAL.includes(before.lastSeen)) expect(now!.status, `${kind} ${id} had ended`).toBe(before.lastSeen);
      if (before.resultVersion !== undefined) expect(now).toMatchObject({ status: 'succeeded', result_version: before.resultVersion });
      if (before.accuracies) expect(seenEvaluation(now as Evaluation).accuracies, `results of evaluation ${id}`).toEqual(before.accuracies);
    }
  }
  // Jobs that were queued at the kill now run here; let them end (and their output folders go)
  // before looking at the disk.
  let jobs = firstTraining;
  let evaluations = firstEvaluations;
  const busy = async () =>
    [...jobs, ...evaluations].some((j) => !TERMINAL.includes(j.status)) || (await temporaries(dataDir)).some((n) => n.endsWith('.out'));
  for (const deadline = Date.now() + 60_000; await busy(); ) {
    expect(
      Date.now(),
      `jobs still queued or running: ${[...jobs, ...evaluations].filter((j) => !TERMINAL.includes(j.status)).map((j) => `${j.id} ${j.status}`)}`,
    ).toBeLessThan(deadline);
    await new Promise((r) => setTimeout(r, 100));
    jobs = await client.trainingJobs.list({ limit: 100 }).toArray();
    evaluations = await client.evaluations.list({ limit: 100 }).toArray();
  }
  for (const job of jobs) ledger.jobs.set(job.id, seenJob(job));
  for (const evaluation of evaluations) {
    ledger.evaluations.set(evaluation.id, seenEvaluation(evaluation));
    // A succeeded evaluation has all its results, whole.
    if (evaluation.status === 'succeeded') expect(evaluation.results.map((r) => r.samples)).toEqual(evaluation.models.map(() => 30));
  }

  // Each store swept what the kill left half-done when it opened: the registry, keys and training
  // at start, datasets and evaluations (opened on first use) with the lists above.
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
      // An upload cut by the kill may have landed: its number is taken too.
      ledger.highestVersion = Math.max(ledger.highestVersion, ...numbers);
      const production = detail.aliases.production?.[0]?.version;
      if (ledger.alias.acked !== undefined) expect([ledger.alias.acked, ledger.alias.inFlight]).toContain(production);
      if (ledger.description.acked !== undefined)
        expect([ledger.description.acked, ledger.description.inFlight]).toContain(detail.description);
    }
  }
  if (ledger.jobs.size && [...ledger.jobs.values()].some((j) => j.resultVersion !== undefined)) expect(models).toContain('trained');

  // Keys: acknowledged ones work, acknowledged revocations hold, a revocation cut by the kill is
  // done or not, and nothing else appeared beyond creations cut by the kills.
  const listed = await client.apiKeys.list({ limit: 100 }).toArray();
  for (const [id, key] of ledger.keys) {
    const stored = listed.find((k) => k.id === id);
    expect(stored, `acknowledged key ${id}`).toBeDefined();
    if (key.revoked === 'in-flight') key.revoked = stored!.revoked_at ? 'yes' : 'no';
    if (key.revoked === 'yes') expect(stored!.revoked_at, `acknowledged revocation of key ${id}`).toBeTruthy();
    const status = (await fetch(`${server.url}/v2/models/crashy/ready`, { headers: { authorization: `Bearer ${key.secret}` } })).status;
    if (key.revoked === 'no') expect([401, 403], `key ${id} answered ${status}`).not.toContain(status);
    if (key.revoked === 'yes') expect(status, `revoked key ${id}`).toBe(401);
  }
  expect(listed.length - ledger.keys.size).toBeLessThanOrEqual(ledger.keyInFlight);

  // Datasets: every acknowledged upload is there, every acknowledged deletion holds, a write cut
  // by the kill is whole or absent, and every uploaded dataset is whole on disk.
  const datasets = await client.datasets.list({ limit: 100 }).toArray();
  const uploaded = datasets.filter((d) => d.source === 'upload');
  for (const [name, dataset] of ledger.datasets) {
    const listedNow = uploaded.find((d) => d.name === name);
    if (dataset.created === 'yes' && dataset.deleted === 'no') expect(listedNow?.samples, `dataset ${name}`).toBe(dataset.samples);
    if (dataset.deleted === 'yes') expect(listedNow, `acknowledged deletion of dataset ${name}`).toBeUndefined();
    // Writes the kill cut: settled by what the restart shows.
    if (dataset.created === 'in-flight') {
      if (listedNow) dataset.created = 'yes';
      else ledger.datasets.delete(name);
    }
    if (dataset.deleted === 'in-flight') dataset.deleted = listedNow ? 'no' : 'yes';
  }
  for (const d of uploaded) {
    expect(d.samples, `dataset ${d.name}`).toBe(DATASET_ROWS);
    const folder = path.join(dataDir, 'datasets', d.name);
    expect((await stat(path.join(folder, 'tensors.f32'))).size, `${d.name}/tensors.f32`).toBe(DATASET_ROWS * IRIS_ROW.length * 4);
    expect((await stat(path.join(folder, 'labels.i32'))).size, `${d.name}/labels.i32`).toBe(DATASET_ROWS * 4);
  }
  expect((await readdir(path.join(dataDir, 'datasets'))).sort(), 'dataset folders').toEqual(uploaded.map((d) => d.name).sort());
}

/** Temporaries of atomic writes, trash and training output folders anywhere in the data directory. */
async function temporaries(dataDir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dataDir, { recursive: true, withFileTypes: true })) {
    if (TEMPORARY.test(entry.name)) found.push(path.relative(dataDir, path.join(entry.parentPath, entry.name)));
  }
  return found;
}

/** What the ledger keeps of a training job as last seen: status, why it failed, and its result version. */
function seenJob(job: TrainingJob): SeenJob {
  return {
    lastSeen: job.status,
    ...(job.failure ? { reason: job.failure.reason } : {}),
    ...(job.status === 'succeeded' ? { resultVersion: job.result_version! } : {}),
  };
}

/** What the ledger keeps of an evaluation as last seen: status, why it failed, and its results once it succeeded. */
function seenEvaluation(evaluation: Evaluation): SeenJob {
  return {
    lastSeen: evaluation.status,
    ...(evaluation.failure ? { reason: evaluation.failure.reason } : {}),
    ...(evaluation.status === 'succeeded' ? { accuracies: evaluation.results.map((r) => r.accuracy) } : {}),
  };
}
