/**
 * `modelport conformance <url>` (issue #20, item 3), run as users run it (the real CLI, a child
 * process) against: modelport itself (every check passes), a stub answering as Triton does, a
 * `prism mock` of the official Open Inference Protocol spec (../shared/specs/open_inference_rest.yaml,
 * its `${X}` path templates rewritten to `{X}`, written to a temporary folder), and a broken server.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { freePort } from './support/free-port';
import { startTritonStub, type TritonStub } from './support/triton-stub';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'mock-server/bin/modelport.js');
const OFFICIAL_SPEC = path.resolve(ROOT, '../shared/specs/open_inference_rest.yaml');
const work = mkdtempSync(path.join(os.tmpdir(), 'modelport-conformance-'));

interface Row {
  id: string;
  outcome: 'pass' | 'fail' | 'not-offered';
  status?: number;
  request: string;
  evidence: string;
}
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `modelport conformance <url> ...args`, with no MODELPORT_* settings of the test run leaking in. */
function conformance(url: string, ...args: string[]): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('MODELPORT_')));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'conformance', url, ...args],
      { env: { ...env, TF_CPP_MIN_LOG_LEVEL: '3' } },
      (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    );
  });
}

async function conformanceJson(url: string, ...args: string[]) {
  const run = await conformance(url, '--json', ...args);
  const report = JSON.parse(run.stdout) as {
    model?: string;
    version?: string;
    results: Row[];
    counts: Record<string, number>;
    needsModel?: string;
  };
  const rows = Object.fromEntries(report.results.map((r) => [r.id, r]));
  return { ...run, report, rows };
}

const outcomes = (results: Row[]) => Object.fromEntries(results.map((r) => [r.id, r.outcome]));

/** `prism mock` of the official spec on 127.0.0.1, resolved once it answers. */
async function startPrism(): Promise<{ url: string; child: ChildProcess }> {
  const spec = path.join(work, 'open_inference_rest.yaml');
  writeFileSync(spec, readFileSync(OFFICIAL_SPEC, 'utf8').replace(/\$\{([A-Z_]+)\}/g, '{$1}'));
  const port = await freePort();
  const prism = path.join(ROOT, 'node_modules/.bin/prism');
  const child = spawn(prism, ['mock', '-h', '127.0.0.1', '-p', String(port), spec], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (chunk) => (log += chunk));
  child.stderr!.on('data', (chunk) => (log += chunk));
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    if (child.exitCode !== null) throw new Error(`prism exited with ${child.exitCode}: ${log}`);
    const answered = await fetch(`${url}/v2/health/live`).then(
      (r) => r.status,
      () => 0,
    );
    if (answered === 200) return { url, child };
  }
  child.kill();
  throw new Error(`prism did not answer within 30 s: ${log}`);
}

/** A server that gets a few answers wrong: infer without `outputs`, 500 on versioned infer, no repository index. */
function brokenHandler(req: IncomingMessage, res: ServerResponse): void {
  const send = (status: number, body?: unknown) => {
    res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  req.resume();
  req.on('end', () => {
    const url = req.url!;
    if (url.startsWith('/v2/health/') || url === '/v2/models/m/ready' || url === '/v2/models/m/versions/1/ready') send(200);
    else if (url === '/v2') send(200, { name: 'broken', version: '0', extensions: [] });
    else if (url === '/v2/models/m' || url === '/v2/models/m/versions/1')
      send(200, {
        name: 'm',
        versions: ['1'],
        platform: 'tensorflow_savedmodel',
        inputs: [{ name: 'x', datatype: 'INT64', shape: [-1, 2] }],
        outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }],
      });
    else if (url === '/v2/models/m/infer') send(200, { model_name: 'm', id: 'modelport-conformance' });
    else if (url === '/v2/models/m/versions/1/infer') send(500, { error: 'CUDA out of memory' });
    else send(404, { error: `no route ${url}` });
  });
}

let modelport: RunningMockServer;
let open: RunningMockServer;
let triton: TritonStub;
let prism: { url: string; child: ChildProcess };
let broken: Server;
let brokenUrl: string;

beforeAll(async () => {
  broken = createServer(brokenHandler);
  await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
  brokenUrl = `http://127.0.0.1:${(broken.address() as AddressInfo).port}`;
  [modelport, open, triton, prism] = await Promise.all([
    startMockServer({ dataDir: path.join(work, 'auth') }),
    startMockServer({ dataDir: path.join(work, 'open'), auth: false }),
    startTritonStub(),
    startPrism(),
  ]);
});

afterAll(async () => {
  prism?.child.kill();
  await Promise.all([modelport?.close(), open?.close(), triton?.close(), new Promise((resolve) => broken?.close(resolve))]);
  rmSync(work, { recursive: true, force: true });
});

const EVERY_CHECK = [
  'health.live',
  'health.ready',
  'server.metadata',
  'extension.model_repository',
  'model.metadata',
  'model.version.metadata',
  'model.ready',
  'model.version.ready',
  'infer',
  'infer.version',
  'extension.binary_tensor_data',
  'extension.classification',
  'extension.statistics',
  'error.unknown_model',
  'error.bad_input',
];

describe('against modelport', () => {
  it('every check passes with auth on and --api-key; the table names the model it chose from the index', async () => {
    const run = await conformance(modelport.url, '--api-key', modelport.adminKey);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(`Open Inference Protocol conformance of ${modelport.url}`);
    expect(lines[1]).toBe('model digits version 1 (the first READY model of the repository index; version from the repository index)');
    expect(lines[3]).toMatch(/^CHECK\s+RESULT\s+STATUS\s+REQUEST\s+EVIDENCE$/);
    expect(run.stdout).toMatch(/^health\.live\s+pass\s+200\s+GET \/v2\/health\/live\s+200 \{"live":true\}$/m);
    expect(run.stdout).toMatch(
      /^error\.unknown_model\s+pass\s+404\s+GET \/v2\/models\/modelport-conformance-no-such-model\s+404 \{"error":/m,
    );
    expect(run.stdout).toContain('\n15 pass, 0 fail, 0 not offered');
  });

  it('--json: one row per check, all pass, on a server without auth and for the model named by --model', async () => {
    const { code, report, rows } = await conformanceJson(open.url, '--model', 'iris');
    expect(code).toBe(0);
    expect(report.model).toBe('iris');
    expect(report.version).toBe('1');
    expect(report.results.map((r) => r.id)).toEqual(EVERY_CHECK);
    expect(new Set(report.results.map((r) => r.outcome))).toEqual(new Set(['pass']));
    expect(report.counts).toEqual({ pass: 15, fail: 0, 'not-offered': 0 });
    expect(rows['infer.version']).toMatchObject({ status: 200, request: 'POST /v2/models/iris/versions/1/infer' });
    expect(rows['infer.version']!.evidence).toBe('outputs probabilities FP32 [1,3]; id returned');
    expect(rows['extension.classification']!.evidence).toMatch(/^probabilities: \["[\d.e-]+:\d:(setosa|versicolor|virginica)","/);
    expect(rows['error.bad_input']).toMatchObject({ outcome: 'pass', status: 400 });
    expect(rows['error.bad_input']!.evidence).toContain("input 'features'");
  });

  it('without the key the index is a 401 failure with its body as evidence, and no model can be chosen', async () => {
    const { code, rows, report } = await conformanceJson(modelport.url);
    expect(code).toBe(1);
    expect(rows['health.ready']!.outcome).toBe('pass');
    expect(rows['extension.model_repository']).toMatchObject({ outcome: 'fail', status: 401 });
    expect(rows['extension.model_repository']!.evidence).toMatch(/^401 \{"error":"an API key is required/);
    expect(report.needsModel).toBe(
      'the repository index (POST /v2/repository/index) gave no list to choose a model from: pass --model <name>',
    );
  });
});

describe('against a stub that answers as Triton does', () => {
  it('passes, and says where Triton differs from modelport: empty 200 probes, a platform outside the spec list', async () => {
    const { code, report, rows } = await conformanceJson(triton.url);
    expect(code).toBe(0);
    // bert, first in the index, is UNAVAILABLE: the first READY model is densenet.
    expect([report.model, report.version]).toEqual(['densenet', '1']);
    expect(outcomes(report.results)).toEqual(Object.fromEntries(EVERY_CHECK.map((id) => [id, 'pass'])));
    for (const probe of ['health.live', 'health.ready', 'model.ready', 'model.version.ready'])
      expect(rows[probe]!.evidence).toMatch(/^200, empty body: /);
    expect(rows['health.live']!.evidence).toBe(
      "200, empty body: as the spec's open_inference_rest.yaml (200 OK, no body) and Triton answer; the SDK reads it as { live: true }",
    );
    expect(rows['server.metadata']!.evidence).toBe(
      'triton 2.59.0; extensions checked below: classification, model_repository, binary_tensor_data, statistics; not checked here: ' +
        'sequence, model_repository(unload_dependents), schedule_policy, model_configuration, system_shared_memory, cuda_shared_memory, parameters, trace, logging',
    );
    expect(rows['model.metadata']!.evidence).toBe(
      "platform onnxruntime_onnx (not in the spec's list, which it calls information only); versions [1]; inputs data_0 FP32 [-1,4]; outputs fc6_1 FP32 [-1,3]",
    );
    expect(rows['extension.binary_tensor_data']!.evidence).toMatch(/^header \d+ bytes \+ 12 bytes of fc6_1 FP32 \[1,3\]$/);
    expect(rows['extension.classification']!.evidence).toBe('fc6_1: ["0.700000:1","0.200000:2"]');
    expect(rows['error.unknown_model']).toMatchObject({ status: 404 });
    expect(rows['error.bad_input']!.evidence).toMatch(/^400 \{"error":"\[request id: <id_unknown>\] unexpected shape for input 'data_0'/);
  });

  it('a model Triton says is not ready (400) fails its ready rows, with what the SDK makes of it', async () => {
    triton.state.readyModels.clear();
    try {
      const { code, rows } = await conformanceJson(triton.url, '--model', 'densenet');
      expect(code).toBe(1);
      expect(rows['model.ready']).toMatchObject({ outcome: 'fail', status: 400 });
      expect(rows['model.ready']!.evidence).toBe(
        '400 {"error":"Model version not ready"}: not ready; the SDK reads it as { ready: false }',
      );
      expect(rows['model.version.ready']!.outcome).toBe('fail');
      expect(rows.infer!.outcome).toBe('pass');
    } finally {
      for (const key of ['densenet', 'densenet/1']) triton.state.readyModels.add(key);
    }
  });
});

describe('against a prism mock of the official OIP spec', () => {
  it('an honest table: the paths the yaml leaves out fail, its example bodies fail the text, unannounced extensions are not offered', async () => {
    const { code, report, rows } = await conformanceJson(prism.url, '--model', 'm', '--model-version', '1');
    expect(code).toBe(1);
    expect(outcomes(report.results)).toEqual({
      'health.live': 'pass',
      'health.ready': 'pass',
      'server.metadata': 'fail',
      'extension.model_repository': 'not-offered',
      'model.metadata': 'fail',
      'model.version.metadata': 'fail',
      'model.ready': 'fail',
      'model.version.ready': 'pass',
      infer: 'fail',
      'infer.version': 'fail',
      'extension.binary_tensor_data': 'not-offered',
      'extension.classification': 'not-offered',
      'extension.statistics': 'not-offered',
      'error.unknown_model': 'fail',
      'error.bad_input': 'fail',
    });
    // The yaml declares `/v2/`, the text's table `v2` (what the SDK calls).
    expect(rows['server.metadata']!.evidence).toMatch(/^404 .*; GET \/v2\/ \(the yaml's path\) answers 200 \{"name":"string"/);
    expect(rows['model.metadata']).toMatchObject({ status: 404 });
    expect(rows['model.version.metadata']!.evidence).toMatch(
      /^name is "string", not 'm'; inputs\[0\] 'string': datatype "string" is not a datatype of the spec; outputs\[0\] 'string': datatype/,
    );
    expect(rows['infer.version']!.evidence).toMatch(
      /^model_name is "string", not 'm'; model_version is "string", not '1' as asked; id is "string"/,
    );
    expect(rows['extension.binary_tensor_data']!.evidence).toMatch(/^not announced in \/v2 extensions; tried: /);
    expect(rows['error.bad_input']!.evidence).toMatch(/^200 for input data that does not fit its shape, not an error status 4xx/);
    expect(rows['error.unknown_model']!.evidence).toMatch(
      /^404 but the body is not a JSON object with `error`|^404 but error is undefined/,
    );
  });
});

describe('against a broken server', () => {
  it('the failing checks fail with the offending part of the body, and the exit code says so', async () => {
    const run = await conformance(brokenUrl, '--model', 'm');
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /^infer\s+FAIL\s+200\s+POST \/v2\/models\/m\/infer\s+outputs is undefined, not an array: \{"model_name":"m","id":"modelport-conformance"\}$/m,
    );
    expect(run.stdout).toMatch(
      /^infer\.version\s+FAIL\s+500\s+POST \/v2\/models\/m\/versions\/1\/infer\s+500 \{"error":"CUDA out of memory"\}$/m,
    );
    expect(run.stdout).toMatch(/^extension\.model_repository\s+not offered\s+404\s/m);
  });

  it('without --model and without a repository index it asks for --model (exit 2)', async () => {
    const { code, report } = await conformanceJson(brokenUrl);
    expect(code).toBe(2);
    expect(report.results.map((r) => r.id)).toEqual(['health.live', 'health.ready', 'server.metadata', 'extension.model_repository']);
    expect(report.needsModel).toContain('pass --model <name>');
  });

  it('a server that does not answer is exit 3, with the request and the reason', async () => {
    const run = await conformance(`http://127.0.0.1:${await freePort()}`);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^modelport conformance: GET \/v2\/health\/live: ECONNREFUSED/);
  });
});
