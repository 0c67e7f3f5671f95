/**
 * `modelport/record` (issue #21, item 1): the SDK records through `recorder.fetch` against a real
 * server with auth on. The cassette must hold what the SDK was answered (decoded tensors equal,
 * exactly), never a secret, the model block of `modelport record`, no mutating /v1 call, and it
 * must answer its own requests when matched.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport, type Prediction } from 'modelport';
import { interactionTensors, matchRequest, parseCassette, type Cassette } from 'modelport/cassette';
import { CassetteExistsError, recordCassette } from 'modelport/record';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { loadIrisSplit } from '../mock-server/datasets/iris-split';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';

const work = mkdtempSync(path.join(os.tmpdir(), 'modelport-sdk-record-'));
let server: RunningMockServer;

beforeAll(async () => {
  server = await startMockServer({ dataDir: path.join(work, 'repo') });
});

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('recordCassette (modelport/record)', () => {
  it('records health, metadata, 10 JSON iris and 10 binary digits predictions: tensors exact, model blocks, no secret, no mutating call', async () => {
    const cassettePath = path.join(work, 'nested', 'sdk.jsonl');
    const recorder = await recordCassette(cassettePath);
    expect(recorder.path).toBe(cassettePath);
    const client = new Modelport({ baseUrl: server.url, apiKey: server.adminKey, maxRetries: 0, fetch: recorder.fetch });
    const iris = loadIrisSplit().test.x;
    const digits = loadMnistSplit().test.x;

    expect(await client.health.ready()).toEqual({ ready: true });
    const serverMetadata = await client.server.metadata();
    const digitsMetadata = await client.models.metadata('digits', { version: 1 });
    const irisModel = await client.models.get('iris');
    const irisPredictions: Prediction[] = [];
    for (let i = 0; i < 10; i++) irisPredictions.push(await client.predict('iris', iris.subarray(i * 4, i * 4 + 4)));
    const digitPredictions: Prediction[] = [];
    for (let i = 0; i < 10; i++) {
      digitPredictions.push(await client.predict('digits', digits.subarray(i * 784, i * 784 + 784), { binary: true, version: 1 }));
    }
    // Mutating /v1 calls pass through (they really happen) and are never written: the new key's secret included.
    const created = await client.apiKeys.create({ name: 'made-while-recording', scopes: ['inference'] });
    await client.apiKeys.revoke(created.id);
    expect(created.secret).toMatch(/^mp_/);
    await recorder.close();
    expect(recorder.count).toBe(26);
    expect(recorder.notRecorded).toEqual([]);

    const text = readFileSync(cassettePath, 'utf8');
    const cassette = parseCassette(text);
    expect(cassette.header).toEqual({
      cassette: 'modelport',
      version: 1,
      recorded_at: expect.any(String),
      upstream: server.url,
      server: serverMetadata,
    });
    const calls = cassette.interactions.map((i) => `${i.request.method} ${i.request.path}`);
    expect(calls.slice(0, 5)).toEqual([
      'GET /v2/health/ready',
      'GET /v2',
      'GET /v2/models/digits/versions/1',
      'GET /v1/models/iris',
      'GET /v2/models/iris',
    ]);
    expect(calls.filter((call) => call === 'POST /v2/models/iris/infer')).toHaveLength(10);
    expect(calls.filter((call) => call === 'POST /v2/models/digits/versions/1/infer')).toHaveLength(10);
    // predict reads a model's metadata once per client and version: digits@1 again (models.metadata is not its cache).
    expect(calls[15]).toBe('GET /v2/models/digits/versions/1');
    expect(calls.some((call) => call.includes('api-keys'))).toBe(false);
    expect(cassette.interactions.map((i) => i.seq)).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
    expect(cassette.interactions.every((i) => i.response.status === 200 && i.latency_ms > 0)).toBe(true);

    // The model block: name, version, and the server's metadata read once per (model, version) with the call's credentials.
    const irisMetadata = cassette.interactions[4]!.response.body;
    expect(irisMetadata).toMatchObject({ json: { name: 'iris' } });
    expect(cassette.interactions[2]!.model).toEqual({ name: 'digits', version: '1', metadata: digitsMetadata });
    expect(cassette.interactions.slice(0, 2).map((i) => i.model)).toEqual([null, null]);
    expect(cassette.interactions[3]!.model).toBeNull(); // a /v1 path names no OIP model
    expect(cassette.interactions[3]!.response.body).toEqual({ json: JSON.parse(JSON.stringify(irisModel, dropRequestId)) });

    // Every prediction decodes from the cassette exactly as the SDK decoded it live.
    const irisInfers = cassette.interactions.filter((i) => i.request.path === '/v2/models/iris/infer');
    const digitInfers = cassette.interactions.filter((i) => i.request.path === '/v2/models/digits/versions/1/infer');
    irisInfers.forEach((infer, i) => {
      expect(infer.model).toEqual({ name: 'iris', version: null, metadata: 'json' in irisMetadata! ? irisMetadata.json : null });
      expect(infer.request.body).toHaveProperty('json');
      const { inputs, outputs } = interactionTensors(infer);
      expect(inputs[0]!.data).toEqual(iris.subarray(i * 4, i * 4 + 4));
      expectSameOutputs(outputs, irisPredictions[i]!.outputs);
    });
    digitInfers.forEach((infer, i) => {
      expect(infer.model).toEqual({ name: 'digits', version: '1', metadata: digitsMetadata });
      expect(Object.keys(infer.request.body!)).toEqual(['base64']);
      expect(Object.keys(infer.response.body!)).toEqual(['base64']);
      expect(infer.request.headers['inference-header-content-length']).toMatch(/^\d+$/);
      expect(infer.response.headers['inference-header-content-length']).toMatch(/^\d+$/);
      const { inputs, outputs } = interactionTensors(infer);
      expect(inputs[0]!.data).toEqual(digits.subarray(i * 784, i * 784 + 784));
      expectSameOutputs(outputs, digitPredictions[i]!.outputs);
    });
    expect(new Set(digitPredictions.map((p) => p.labels![0])).size).toBeGreaterThan(3);

    // No secret: the admin key, the key minted while recording, and no credential header by name.
    expect(text).not.toContain(server.adminKey);
    expect(text).not.toContain(created.secret);
    expect(text).not.toMatch(/authorization|x-api-key|cookie/i);
    for (const interaction of cassette.interactions) {
      for (const name of Object.keys(interaction.request.headers))
        expect(['accept', 'content-type', 'inference-header-content-length']).toContain(name);
      for (const name of Object.keys(interaction.response.headers))
        expect(['content-type', 'inference-header-content-length']).toContain(name);
    }

    expectAnswersItself(cassette);
  });

  it('refuses an existing cassette unless overwrite, without touching it', async () => {
    const cassettePath = path.join(work, 'existing.jsonl');
    writeFileSync(cassettePath, 'kept\n');
    const refused = await recordCassette(cassettePath).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(CassetteExistsError);
    expect((refused as Error).message).toBe(`${cassettePath} exists: pass overwrite: true to record over it, or name another cassette`);
    expect(readFileSync(cassettePath, 'utf8')).toBe('kept\n');

    const recorder = await recordCassette(cassettePath, { overwrite: true, upstream: `${server.url}/` });
    const client = new Modelport({ baseUrl: server.url, apiKey: server.adminKey, fetch: recorder.fetch });
    expect(await client.models.ready('iris')).toEqual({ name: 'iris', ready: true });
    await recorder.close();
    const cassette = parseCassette(readFileSync(cassettePath, 'utf8'));
    expect(cassette.header.upstream).toBe(server.url);
    expect(cassette.interactions.map((i) => [i.request.path, i.response.status, i.model?.name])).toEqual([
      ['/v2/models/iris/ready', 200, 'iris'],
    ]);
  });

  it('takes a Request (as ky hands it for streamed bodies) or a URL and init; concurrent calls each get one line', async () => {
    const cassettePath = path.join(work, 'requests.jsonl');
    const recorder = await recordCassette(cassettePath);
    const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] });
    const headers = { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json', 'x-api-key': 'not-written' };
    const url = `${server.url}/v2/models/iris/infer?trace=1`;
    const asRequest = await recorder.fetch(new Request(url, { method: 'POST', body, headers }));
    const asInit = await recorder.fetch(new URL(url), { method: 'POST', body: new TextEncoder().encode(body), headers });
    const answers = [await asRequest.json(), await asInit.json()];
    expect(answers[0]).toEqual(answers[1]);
    const concurrent = await Promise.all(
      Array.from({ length: 6 }, () => recorder.fetch(`${server.url}/v2/models/iris/ready`, { headers })),
    );
    expect(concurrent.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200, 200]);
    await recorder.close();
    expect(recorder.count).toBe(8);

    const text = readFileSync(cassettePath, 'utf8');
    const cassette = parseCassette(text);
    const [first, second] = cassette.interactions;
    for (const infer of [first!, second!]) {
      expect(infer.request).toEqual({
        method: 'POST',
        path: '/v2/models/iris/infer',
        query: 'trace=1',
        headers: { 'content-type': 'application/json' },
        body: { json: JSON.parse(body) },
      });
      expect(infer.response).toMatchObject({ status: 200, body: { json: JSON.parse(JSON.stringify(answers[0])) } });
    }
    expect(cassette.interactions.map((i) => i.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(text).not.toContain('not-written');
    expect(text).not.toContain(server.adminKey);
  });

  it('calls to another upstream and calls after close pass through unrecorded; an empty cassette still has its header', async () => {
    const cassettePath = path.join(work, 'elsewhere.jsonl');
    const recorder = await recordCassette(cassettePath, { upstream: 'http://127.0.0.1:1/prefix' });
    const client = new Modelport({ baseUrl: server.url, apiKey: server.adminKey, fetch: recorder.fetch });
    expect(await client.health.live()).toEqual({ live: true });
    await recorder.close();
    expect(await client.health.ready()).toEqual({ ready: true });
    expect(recorder.count).toBe(0);
    expect(parseCassette(readFileSync(cassettePath, 'utf8'))).toEqual({
      header: { cassette: 'modelport', version: 1, recorded_at: expect.any(String), upstream: 'http://127.0.0.1:1/prefix', server: null },
      interactions: [],
    });
  });

  it('a recording process killed mid-run leaves whole lines only: every line written parses and decodes, at most the calls under way are lost', async () => {
    const cassettePath = path.join(work, 'killed.jsonl');
    const script = path.join(work, 'record-until-killed.mts');
    const source = (file: string) => JSON.stringify(new URL(file, import.meta.url).pathname);
    writeFileSync(
      script,
      `import { Modelport } from ${source('../src/index.ts')};
       import { recordCassette } from ${source('../src/record/index.ts')};
       const recorder = await recordCassette(${JSON.stringify(cassettePath)});
       const client = new Modelport({ baseUrl: ${JSON.stringify(server.url)}, apiKey: ${JSON.stringify(server.adminKey)}, fetch: recorder.fetch });
       for (let i = 0; ; i++) {
         await client.predict('iris', new Float32Array([5 + (i % 10) / 10, 3.5, 1.4, 0.2]));
         console.log('answered ' + (i + 1));
       }`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: new URL('..', import.meta.url).pathname, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const answered = await new Promise<number>((resolve, reject) => {
      child.stdout!.on('data', (chunk) => {
        stdout += chunk;
        const counts = [...stdout.matchAll(/answered (\d+)\n/g)];
        if (counts.length >= 30) child.kill('SIGKILL'), resolve(Number(counts.at(-1)![1]));
      });
      child.once('exit', (code) => reject(new Error(`the recording child exited (${code}) before it was killed: ${stderr}`)));
    });
    await new Promise((resolve) => (child.exitCode === null && child.signalCode === null ? child.once('exit', resolve) : resolve(null)));

    const text = readFileSync(cassettePath, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const cassette = parseCassette(text);
    expect(cassette.header.upstream).toBe(server.url);
    const infers = cassette.interactions.filter((i) => i.request.path === '/v2/models/iris/infer');
    // The SDK's metadata read, then one line per answered predict: a line is written once its answer is read,
    // so the kill can only lose what was under way (the call after the last printed, and that one's line if not yet written).
    expect(cassette.interactions[0]!.request.path).toBe('/v2/models/iris');
    expect(infers.length).toBeGreaterThanOrEqual(answered - 1);
    expect(cassette.interactions.map((i) => i.seq)).toEqual(cassette.interactions.map((_, i) => i + 1));
    infers.forEach((infer, i) => {
      expect(Array.from(interactionTensors(infer).inputs[0]!.data as Float32Array)).toEqual(
        Array.from(new Float32Array([5 + (i % 10) / 10, 3.5, 1.4, 0.2])),
      );
    });
    expect(text).not.toContain(server.adminKey);
  });

  it('a write that fails is reported by close(), naming the cassette; the caller still gets its answers', async () => {
    // /dev/full accepts the open and fails every write with ENOSPC, as a full disk does.
    if (!existsSync('/dev/full')) return;
    const recorder = await recordCassette('/dev/full', { overwrite: true });
    const client = new Modelport({ baseUrl: server.url, apiKey: server.adminKey, fetch: recorder.fetch });
    expect(await client.health.ready()).toEqual({ ready: true });
    const failure = await recorder.close().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/^cannot write the cassette \/dev\/full: ENOSPC/);
    expect(recorder.count).toBe(0);
  });
});

/** The SDK attaches `_request_id` to JSON answers; it is not part of the body. */
function dropRequestId(key: string, value: unknown): unknown {
  return key === '_request_id' ? undefined : value;
}

function expectSameOutputs(
  recorded: ReturnType<typeof interactionTensors>['outputs'],
  live: Record<string, { datatype: string; shape: number[]; data: unknown }>,
) {
  expect(recorded.map((tensor) => tensor.name).sort()).toEqual(Object.keys(live).sort());
  for (const tensor of recorded) {
    const answer = live[tensor.name]!;
    expect([tensor.datatype, tensor.shape]).toEqual([answer.datatype, answer.shape]);
    expect(tensor.data).toEqual(answer.data);
  }
}

/** Every recording, sent again as recorded, is matched by a recording of the same request. */
function expectAnswersItself(cassette: Cassette) {
  for (const interaction of cassette.interactions) {
    const result = matchRequest(cassette, interaction.request);
    expect(result.outcome, `${interaction.request.method} ${interaction.request.path}`).toBe('matched');
    if (result.outcome === 'matched') expect(result.interaction.request).toEqual(interaction.request);
  }
}
