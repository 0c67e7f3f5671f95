/**
 * `modelport cassette diff` and `diffCassette` (issue #21, item 3) through a real server: a cassette
 * recorded on `digits` by the real `modelport record` proxy (real MNIST digits, JSON and binary, single
 * rows and batches) is re-sent to `digits-mlp`, and the label flips it reports are exactly those the
 * test finds by calling both models itself on the recorded inputs.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport } from '../src/index';
import {
  crossedThresholds,
  diffCassette,
  interactionTensors,
  modelLabel,
  parseCassette,
  type Cassette,
  type DriftReport,
} from '../src/cassette/index';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { loadIrisSplit } from '../mock-server/datasets/iris-split';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { BUNDLED } from './helpers/data-dir';
import { freePort } from './support/free-port';
import { CLI, cleanEnv, startRecordingProxy } from './support/recording-proxy';

const work = mkdtempSync(path.join(os.tmpdir(), 'modelport-cassette-diff-'));
const cassetteFile = path.join(work, 'digits.jsonl');
const env = cleanEnv();
let server: RunningMockServer;
let client: Modelport;
let cassette: Cassette;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) =>
    execFile(process.execPath, [CLI, ...args], { env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    ),
  );
}

/** `cassette diff` of `file` against the test server, with the admin key. */
function diffAgainstServer(file: string, ...args: string[]): Promise<Run> {
  return cli('cassette', 'diff', file, '--against', server.url, '--api-key', server.adminKey, ...args);
}

/** `cassette diff` of the digits cassette against the server, with the admin key; `--json` output parsed. */
async function diffJson(...args: string[]): Promise<{ run: Run; report: DriftReport & { crossed: string[] } }> {
  const run = await diffAgainstServer(cassetteFile, '--json', ...args);
  return { run, report: JSON.parse(run.stdout) };
}

/** Records what `send` does through `modelport record` into `file`. */
async function recordCassette(file: string, send: (recording: Modelport) => Promise<void>): Promise<void> {
  const proxy = await startRecordingProxy(server.url, file, '--api-key', server.adminKey);
  try {
    await send(new Modelport({ baseUrl: proxy.url, maxRetries: 0 }));
    expect((await proxy.stop()).code).toBe(0);
  } finally {
    proxy.kill();
  }
}

/** What the CLI does when it refuses: exit 2, nothing on stdout, the message on stderr. */
const refusal = (stderr: string): Run => ({ code: 2, stdout: '', stderr });

/** The argmax over the last axis of each row (the first maximum wins). */
function argmaxRows(data: Float32Array, classes: number): number[] {
  return Array.from({ length: data.length / classes }, (_, row) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (data[row * classes + c]! > data[row * classes + best]!) best = c;
    return best;
  });
}

/** Everything of a report but the latencies measured now, which differ run to run. */
function withoutLatencyNow(report: DriftReport) {
  return report.models.map(({ latency_ms, ...model }) => ({ ...model, latency_recorded: latency_ms.recorded }));
}

const JSON_REQUESTS = 30;
const BINARY_BATCHES = 10;
const BATCH = 3;

beforeAll(async () => {
  server = await startMockServer({ dataDir: path.join(work, 'repo') });
  client = new Modelport({ baseUrl: server.url, apiKey: server.adminKey, maxRetries: 0 });
  const digits = loadMnistSplit().test.x;
  const image = (i: number, rows = 1) => digits.subarray(i * 784, (i + rows) * 784);
  await recordCassette(cassetteFile, async (recording) => {
    for (let i = 0; i < JSON_REQUESTS; i++) await recording.predict('digits', image(i), { version: 1 });
    for (let b = 0; b < BINARY_BATCHES; b++) {
      await recording.predict('digits', image(JSON_REQUESTS + b * BATCH, BATCH), { version: 1, binary: true });
    }
  });
  cassette = parseCassette(readFileSync(cassetteFile, 'utf8'));
});

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('modelport cassette diff', () => {
  it('the cassette holds 60 real digits on digits@1: 30 JSON requests of one row, 10 binary requests of 3 rows', () => {
    const infers = cassette.interactions.filter((i) => i.request.path === '/v2/models/digits/versions/1/infer');
    expect(infers).toHaveLength(JSON_REQUESTS + BINARY_BATCHES);
    expect(infers.filter((i) => 'json' in i.request.body!)).toHaveLength(JSON_REQUESTS);
    expect(infers.filter((i) => i.request.headers['inference-header-content-length'])).toHaveLength(BINARY_BATCHES);
    const rows = infers.map((i) => interactionTensors(i).inputs[0]!.shape[0]);
    expect(rows.reduce((sum, n) => sum! + n!, 0)).toBe(JSON_REQUESTS + BINARY_BATCHES * BATCH);
  });

  it('against the same model and version: every request compared, zero flips, max |Δ| 0', async () => {
    const { run, report } = await diffJson();
    expect(run.code).toBe(0);
    expect(report.crossed).toEqual([]);
    expect(report.models).toHaveLength(1);
    const [model] = report.models;
    expect(model).toMatchObject({
      recorded: { name: 'digits', version: '1' },
      now: { name: 'digits', version: '1' },
      versions_now: ['1'],
      requests: 40,
      compared: 40,
      failed_now: [],
      not_compared: [],
      label_flips: 0,
    });
    expect(model!.outputs).toMatchObject([
      { name: 'probabilities', compared: 40, elements: 600, changed_elements: 0, max_abs_delta: 0, mean_abs_delta: 0, rows: 60, flips: [] },
    ]);
    expect(model!.latency_ms.recorded.p50).toBeGreaterThan(0);
    expect(model!.latency_ms.now.p95).toBeGreaterThanOrEqual(model!.latency_ms.now.p50!);
  });

  it('--model digits-mlp: exactly the label flips found by calling digits and digits-mlp on the recorded inputs', async () => {
    const expected: { seq: number; row: number; recorded: number; now: number }[] = [];
    let maxDelta = 0;
    for (const interaction of cassette.interactions.filter((i) => i.request.path.endsWith('/infer'))) {
      const input = interactionTensors(interaction).inputs[0]!;
      const shape = input.shape as [number, number, number, number];
      const digits = await client.inference.infer(
        'digits',
        { inputs: [{ name: 'image', datatype: 'FP32', shape, data: [...(input.data as Float32Array)] }] },
        { version: 1 },
      );
      const mlp = await client.inference.infer('digits-mlp', {
        inputs: [{ name: 'image', datatype: 'FP32', shape, data: [...(input.data as Float32Array)] }],
      });
      const before = Float32Array.from(digits.outputs[0]!.data as number[]);
      const after = Float32Array.from(mlp.outputs[0]!.data as number[]);
      before.forEach((p, i) => (maxDelta = Math.max(maxDelta, Math.abs(after[i]! - p))));
      const [a, b] = [argmaxRows(before, 10), argmaxRows(after, 10)];
      a.forEach((label, row) => label !== b[row] && expected.push({ seq: interaction.seq, row, recorded: label, now: b[row]! }));
    }
    expect(expected.length).toBeGreaterThan(0);

    const { run, report } = await diffJson('--model', 'digits-mlp');
    expect(run.code).toBe(0); // no threshold set, nothing failed
    const [model] = report.models;
    expect(model).toMatchObject({
      recorded: { name: 'digits', version: '1' },
      now: { name: 'digits-mlp', version: null },
      versions_now: ['1'],
    });
    expect(model!.compared).toBe(40);
    expect(model!.label_flips).toBe(expected.length);
    const [output] = model!.outputs;
    expect(output!.flips).toEqual(expected.map((f) => ({ ...f, recorded_label: String(f.recorded), now_label: String(f.now) })));
    expect(output!.max_abs_delta).toBe(maxDelta);
    expect(output!.rows).toBe(60);

    // The table names each flip the same way.
    const table = await diffAgainstServer(cassetteFile, '--model', 'digits-mlp', '--examples', '100');
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(
      `digits@1 → digits-mlp (answered by version 1)\n  40 requests: 40 compared, 0 failed now, 0 not compared; ${expected.length} label flip`,
    );
    for (const flip of expected) expect(table.stdout).toContain(`    seq ${flip.seq} row ${flip.row}: ${flip.recorded} → ${flip.now}\n`);

    // The SDK function returns the same numbers.
    const sdk = await diffCassette(readFileSync(cassetteFile, 'utf8'), {
      against: server.url,
      apiKey: server.adminKey,
      model: 'digits-mlp',
    });
    expect(withoutLatencyNow(sdk)).toEqual(withoutLatencyNow(report));
  });

  it('a new version (digits@2) and @alias: the alias resolved to its version through /v1; an unknown alias and a canary are refused', async () => {
    // digits-mlp's weights uploaded as version 2 of digits: a new version that changes some answers.
    const mlpDir = path.join(work, 'digits-mlp-artifacts');
    mkdirSync(mlpDir);
    for (const file of ['model.json', 'weights.bin']) copyFileSync(path.join(BUNDLED, 'digits-mlp', '1', file), path.join(mlpDir, file));
    expect(await client.models.versions.upload('digits', { directory: mlpDir })).toMatchObject({ version: 2, state: 'READY' });
    await client.models.aliases.set('digits', 'staging', 2);

    const mlp = await diffJson('--model', 'digits-mlp');
    const version2 = await diffJson('--model', 'digits@2');
    const staging = await diffJson('--model', 'digits@staging');
    expect([version2.run.code, staging.run.code]).toEqual([0, 0]);
    expect(version2.report.models[0]).toMatchObject({ now: { name: 'digits', version: '2' }, versions_now: ['2'] });
    expect(staging.report.models[0]).toMatchObject({ now: { name: 'digits', version: '2', alias: 'staging' }, versions_now: ['2'] });
    const mlpFlips = mlp.report.models[0]!.outputs[0]!.flips;
    expect(mlpFlips.length).toBeGreaterThan(0);
    expect(version2.report.models[0]!.outputs[0]!.flips).toEqual(mlpFlips);
    expect(staging.report.models[0]!.outputs[0]!.flips).toEqual(mlpFlips);
    expect(staging.report.models[0]!.outputs[0]!.max_abs_delta).toBe(mlp.report.models[0]!.outputs[0]!.max_abs_delta);
    const table = await diffAgainstServer(cassetteFile, '--model', 'digits@staging');
    expect(table.stdout).toContain('\ndigits@1 → digits@2 (@staging) (answered by version 2)\n');

    // production still points at version 1: nothing changes.
    const production = await diffJson('--model', '@production');
    expect(production.report.models[0]).toMatchObject({ now: { name: 'digits', version: '1', alias: 'production' }, label_flips: 0 });
    expect(production.report.models[0]!.outputs[0]!.max_abs_delta).toBe(0);

    await client.models.aliases.set('digits', 'canary', [
      { version: 1, weight: 90 },
      { version: 2, weight: 10 },
    ]);
    const canary = await diffAgainstServer(cassetteFile, '--model', 'digits@canary');
    expect(canary).toEqual(
      refusal(
        "modelport: alias 'canary' of 'digits' splits requests between version 1 (weight 90), version 2 (weight 10): a drift report compares one version; pass digits@<version>\n",
      ),
    );
    const unknown = await diffAgainstServer(cassetteFile, '--model', 'digits@nope');
    expect(unknown).toEqual(refusal("modelport: model 'digits' has no alias 'nope' (it has 'production', 'staging', 'canary')\n"));
    const noModel = await diffAgainstServer(cassetteFile, '--model', 'nothing@staging');
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toBe(
      `modelport: model 'nothing' is not on ${server.url} (GET /v1/models/nothing/aliases: 404 model 'nothing' not found)\n`,
    );
  });

  it('thresholds: exit 1 naming what was crossed; within them exit 0', async () => {
    const flips = (await diffJson('--model', 'digits-mlp')).report.models[0]!.label_flips;
    const over = await diffJson('--model', 'digits-mlp', '--max-flips', String(flips - 1), '--max-delta', '0.001');
    expect(over.run.code).toBe(1);
    expect(over.report.crossed[0]).toBe(`digits@1 → digits-mlp: ${flips} label flip(s), more than --max-flips ${flips - 1}`);
    expect(over.report.crossed[1]).toMatch(/^digits@1 → digits-mlp: output 'probabilities' max \|Δ\| 0\.\d+ is above --max-delta 0\.001$/);
    expect(over.run.stderr).toContain(`modelport cassette diff: threshold crossed: digits@1 → digits-mlp: ${flips} label flip(s)`);
    const within = await diffJson('--model', 'digits-mlp', '--max-flips', String(flips), '--max-delta', '1');
    expect([within.run.code, within.report.crossed]).toEqual([0, []]);

    // Requests that fail now cross --max-failures (default 0): iris takes 4 features, not an image.
    const iris = await diffJson('--model', 'iris');
    expect(iris.run.code).toBe(1);
    expect(iris.report.models[0]!.failed_now).toHaveLength(40);
    expect(iris.report.models[0]!.failed_now[0]).toMatchObject({ seq: expect.any(Number), status: 400 });
    expect(iris.report.crossed).toEqual(['digits@1 → iris: 40 request(s) failed now, more than --max-failures 0']);
    expect((await diffJson('--model', 'iris', '--max-failures', '40')).run.code).toBe(0);
    const irisTable = await diffAgainstServer(cassetteFile, '--model', 'iris');
    const [first, second] = iris.report.models[0]!.failed_now;
    expect(first!.error).toMatch(/image/);
    expect(irisTable.stdout).toContain(
      `\n  failed now: seq ${first!.seq}: 400 ${first!.error}\n  failed now: seq ${second!.seq}: 400 ${second!.error}\n`,
    );
    expect(irisTable.stdout).toContain('\n  ... 35 more failed now');
  });

  it('several models in one cassette: each reported on its own, a --model name needs --from, recorded failures and changed shapes are reported', async () => {
    const mixed = path.join(work, 'mixed.jsonl');
    const iris = loadIrisSplit().test.x;
    const digits = loadMnistSplit().test.x;
    await recordCassette(mixed, async (recording) => {
      for (let i = 0; i < 5; i++) await recording.predict('iris', iris.subarray(i * 4, i * 4 + 4));
      for (let i = 0; i < 3; i++) await recording.predict('digits', digits.subarray(i * 784, (i + 1) * 784), { version: 1, binary: true });
      const wrong = { inputs: [{ name: 'image', datatype: 'FP32' as const, shape: [1, 4], data: [1, 2, 3, 4] }] };
      await expect(recording.inference.infer('digits', wrong, { version: 1 })).rejects.toMatchObject({ status: 400 });
    });
    const text = readFileSync(mixed, 'utf8');
    const failedSeq = parseCassette(text).interactions.find((i) => i.response.status === 400)!.seq;

    const whole = await diffAgainstServer(mixed, '--json');
    expect(whole.code).toBe(0);
    const report: DriftReport = JSON.parse(whole.stdout);
    expect(report.models.map((m) => [modelLabel(m), m.requests, m.compared, m.label_flips, m.outputs.map((o) => o.max_abs_delta)])).toEqual(
      [
        ['iris', 5, 5, 0, [0]],
        ['digits@1', 4, 3, 0, [0]],
      ],
    );
    expect(report.models[1]!.not_compared).toEqual([{ seq: failedSeq, reason: 'the recorded answer was status 400' }]);

    const ambiguous = await diffAgainstServer(mixed, '--model', 'digits-mlp');
    expect(ambiguous).toEqual(
      refusal(
        "modelport: model 'digits-mlp' would receive the requests of every recorded model (iris: 5, digits@1: 4): pass from (--from), the recorded model whose requests to send\n",
      ),
    );
    const picked = await diffAgainstServer(mixed, '--json', '--from', 'digits', '--model', 'digits-mlp', '--concurrency', '3');
    const pickedReport: DriftReport = JSON.parse(picked.stdout);
    expect(pickedReport.models.map((m) => [modelLabel(m), m.compared])).toEqual([['digits@1 → digits-mlp', 3]]);
    // Answered three at a time, listed in seq order all the same.
    const sequential = await diffCassette(text, { against: server.url, apiKey: server.adminKey, from: 'digits', model: 'digits-mlp' });
    expect(withoutLatencyNow(pickedReport)).toEqual(withoutLatencyNow(sequential));

    // Requests that get no answer in time, or an error, now: each listed with its status and error.
    const digitsSeqs = parseCassette(text)
      .interactions.filter((i) => i.request.path === '/v2/models/digits/versions/1/infer' && i.response.status === 200)
      .map((i) => i.seq);
    server.controls.inject({ operation: 'modelVersionInfer', model: 'digits', latency_ms: 3000, count: 1 });
    const unavailable = server.controls.inject({ operation: 'modelVersionInfer', model: 'digits', status: 503, count: 1 });
    const faulty = await diffCassette(text, { against: server.url, apiKey: server.adminKey, from: 'digits', timeoutMs: 1000 });
    expect(faulty.models[0]).toMatchObject({ requests: 4, compared: 1, label_flips: 0 });
    expect(faulty.models[0]!.failed_now).toEqual([
      { seq: digitsSeqs[0], status: null, error: `${server.url} did not answer POST /v2/models/digits/versions/1/infer within 1000 ms` },
      { seq: digitsSeqs[1], status: 503, error: `injected fault ${unavailable.id}` },
    ]);
    expect(crossedThresholds(faulty)).toEqual(['digits@1: 2 request(s) failed now, more than --max-failures 0']);

    // The caller's signal stops it: the abort is thrown, not reported as failures.
    const stopped = diffCassette(text, { against: server.url, apiKey: server.adminKey, signal: AbortSignal.abort() });
    await expect(stopped).rejects.toMatchObject({ name: 'AbortError' });

    // A recorded answer of another shape (an iris answer paired with a digits request, as if digits had
    // answered three classes when recorded) is a reported difference, not a crash.
    const parsed = parseCassette(text);
    const irisAnswer = parsed.interactions.find((i) => i.request.path === '/v2/models/iris/infer')!.response;
    const digitsRequest = parsed.interactions.find((i) => i.request.path === '/v2/models/digits/versions/1/infer')!;
    const changed = await diffCassette(
      { ...parsed, interactions: [{ ...digitsRequest, response: irisAnswer }] },
      { against: server.url, apiKey: server.adminKey },
    );
    expect(changed.models[0]!.outputs).toEqual([
      {
        name: 'probabilities',
        compared: 0,
        elements: 0,
        changed_elements: 0,
        max_abs_delta: null,
        mean_abs_delta: null,
        rows: 0,
        label_flips: 0,
        flips: [],
        mismatches: [{ seq: digitsRequest.seq, recorded: 'FP32 [1,3]', now: 'FP32 [1,10]' }],
      },
    ]);
    expect(crossedThresholds(changed, { maxDelta: 1 })).toEqual([
      `digits@1: output 'probabilities' differs in datatype or shape in 1 request(s) (seq ${digitsRequest.seq}: FP32 [1,3] recorded, FP32 [1,10] now), beyond any --max-delta`,
    ]);
  });

  it('exit 2 for a bad cassette or flag, 3 when the server does not answer, 2 for an alias on a server without /v1', async () => {
    const broken = path.join(work, 'broken.jsonl');
    writeFileSync(broken, `${readFileSync(cassetteFile, 'utf8').split('\n')[0]}\n{"type":"interaction"}\n`);
    expect(await cli('cassette', 'diff', broken, '--against', server.url)).toEqual(
      refusal(`modelport: ${broken}: cassette line 2: seq must be an integer from 1\n`),
    );
    const missing = await cli('cassette', 'diff', path.join(work, 'none.jsonl'), '--against', server.url);
    expect(missing).toEqual(refusal(`modelport: cannot read the cassette ${path.join(work, 'none.jsonl')} (ENOENT)\n`));
    expect((await cli('cassette', 'diff', cassetteFile, '--against', server.url, '--max-flips', '-1')).stderr).toBe(
      "modelport: --max-flips must be a whole number, got '-1'\n",
    );

    const port = await freePort();
    const unreachable = await cli('cassette', 'diff', cassetteFile, '--against', `http://127.0.0.1:${port}`);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain(
      `modelport: http://127.0.0.1:${port} did not answer GET /v2/models/digits/versions/1: ECONNREFUSED\n`,
    );

    // A server with no /v1 (as Triton answers an unknown path): the alias cannot be resolved, and the message says what to pass.
    const noV1: Server = createServer((_request, response) =>
      response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"Not Found"}'),
    );
    await new Promise<void>((resolve) => noV1.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(noV1.address() as AddressInfo).port}`;
    const refused = await cli('cassette', 'diff', cassetteFile, '--against', url, '--model', 'digits@staging');
    await new Promise((resolve) => noV1.close(resolve));
    expect(refused).toEqual(
      refusal(
        `modelport: GET ${url}/v1/models/digits/aliases answered 400 Not Found: the server has no modelport /v1 alias API, so alias 'staging' cannot be resolved; name a version instead: digits@<version>\n`,
      ),
    );
  });
});
