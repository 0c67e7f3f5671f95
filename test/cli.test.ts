import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cp, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { BUNDLED } from './helpers/data-dir';
import { tf, tfNode } from './helpers/tf';
import type * as tfTypes from '../mock-server/runtime/tfjs';

const CLI = new URL('../mock-server/bin/modelport.js', import.meta.url).pathname;
const work = mkdtempSync(path.join(os.tmpdir(), 'modelport-cli-'));
let server: RunningMockServer;

/** Runs the CLI against the test server; resolves with its exit code and output. */
function modelport(
  args: string[],
  options: { stdin?: string; url?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, '--url', options.url ?? server.url, ...args],
      {
        env: { ...process.env, MODELPORT_API_KEY: server.adminKey, TF_CPP_MIN_LOG_LEVEL: '3' },
      },
      (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    );
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
    else child.stdin!.end();
  });
}

beforeAll(async () => {
  server = await startMockServer({ dataDir: path.join(work, 'repo') });
});
afterAll(() => server?.close());

describe('the modelport CLI', () => {
  it('lists models as a table and as JSON', async () => {
    const human = await modelport(['models', 'ls']);
    expect(human.code).toBe(0);
    expect(human.stdout.split('\n')[0]).toMatch(/^NAME\s+TASK\s+STATUS\s+VERSIONS\s+PRODUCTION\s+TAGS$/);
    expect(human.stdout).toMatch(/^digits\s+image-classification\s+ready\s+1\s+1/m);
    const json = await modelport(['--json', 'models', 'ls']);
    expect(JSON.parse(json.stdout).map((m: { name: string }) => m.name)).toEqual(['digits', 'digits-mlp', 'iris']);
  });

  it('predicts a digit from a PNG file and iris from JSON on stdin', async () => {
    const mnist = loadMnistSplit().test;
    const png = await tfNode.encodePng(
      tf.tidy(() => tf.tensor(mnist.x.subarray(0, 784), [28, 28, 1]).mul(255).round().toInt()) as tfTypes.Tensor3D,
    );
    const file = path.join(work, 'digit.png');
    writeFileSync(file, png);
    const digit = await modelport(['--json', 'predict', 'digits', file]);
    expect(digit.code).toBe(0);
    expect(JSON.parse(digit.stdout).labels).toEqual([String(mnist.y[0])]);
    const iris = await modelport(['predict', 'iris', '--top-k', '2'], { stdin: '[[5.1, 3.5, 1.4, 0.2]]' });
    expect(iris.stdout).toMatch(/^0\s+setosa\s+(0\.9\d{3}|1\.0000)\s+(versicolor|virginica) 0\.\d{3}$/m);
  });

  it('creates a model, uploads a version, moves an alias, shows it, and deletes it', async () => {
    const folder = path.join(work, 'mlp');
    await mkdir(folder);
    for (const file of ['model.json', 'weights.bin']) await cp(path.join(BUNDLED, 'digits-mlp', '1', file), path.join(folder, file));
    expect(
      (await modelport(['models', 'create', 'cli-digits', '--task', 'image-classification', '--labels', '0,1,2,3,4,5,6,7,8,9'])).stdout,
    ).toBe('created model cli-digits\n');
    const upload = await modelport(['versions', 'upload', 'cli-digits', folder, '--metrics', '{"accuracy":0.94}']);
    expect(upload.stdout).toBe('cli-digits version 1: tfjs_layers, READY, 205417 bytes\n');
    await modelport(['versions', 'upload', 'cli-digits', folder]);
    expect((await modelport(['alias', 'set', 'cli-digits', 'production', '1:90,2:10'])).stdout).toBe(
      'cli-digits: production → 1 (90), 2 (10)\n',
    );
    const show = await modelport(['models', 'show', 'cli-digits']);
    expect(show.stdout).toContain('aliases: production → 1 (90), 2 (10)');
    // One graph call per batch on native TensorFlow; op by op on the other backends.
    const runs = (process.env.MODELPORT_BACKEND ?? 'tensorflow') === 'tensorflow' ? 'graph' : 'ops';
    expect(show.stdout).toMatch(new RegExp(`^1\\s+READY\\s+tfjs_layers\\s+${runs}\\s+201 KiB\\s+0\\.9400\\s+production`, 'm'));
    const inUse = await modelport(['versions', 'rm', 'cli-digits', '2']);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toContain("version 2 of 'cli-digits' is what alias 'production' points at");
    const listed = await modelport(['versions', 'ls', 'cli-digits']);
    expect(listed.stdout).toMatch(
      new RegExp(
        `^VERSION\\s+STATE\\s+PLATFORM\\s+RUNS\\s+SIZE\\s+ALIASES\\n1\\s+READY\\s+tfjs_layers\\s+${runs}\\s+205417\\s+production\\n2\\s+READY\\s+tfjs_layers\\s+${runs}\\s+205417\\s+production\\n$`,
      ),
    );
    expect((await modelport(['alias', 'rm', 'cli-digits', 'production'])).stdout).toBe('removed alias production of cli-digits\n');
    expect((await modelport(['versions', 'rm', 'cli-digits', '2'])).stdout).toBe('deleted cli-digits version 2\n');
    expect((await modelport(['models', 'rm', 'cli-digits'])).code).toBe(0);
  });

  it('creates, lists and revokes keys; the secret is printed once', async () => {
    const created = JSON.parse((await modelport(['--json', 'keys', 'create', 'ci', '--scopes', 'inference', '--models', 'iris'])).stdout);
    expect(created).toMatchObject({ name: 'ci', scopes: ['inference'], models: ['iris'] });
    const listed = await modelport(['keys', 'ls']);
    expect(listed.stdout).toContain(created.id);
    expect(listed.stdout).not.toContain(created.secret);
    expect((await modelport(['keys', 'revoke', created.id])).stdout).toBe(`revoked key ${created.id}\n`);
  });

  it('trains with a progress bar and a final table', async () => {
    const architecture = path.join(work, 'iris-net.json');
    writeFileSync(
      architecture,
      JSON.stringify({
        input: { name: 'features', shape: [4] },
        layers: [
          { type: 'dense', units: 8, activation: 'relu' },
          { type: 'dense', units: 3, activation: 'softmax' },
        ],
      }),
    );
    const run = await modelport([
      'train',
      'iris-cli',
      '--dataset',
      'iris-train',
      '--epochs',
      '5',
      '--batch-size',
      '16',
      '--learning-rate',
      '0.05',
      '--architecture',
      architecture,
      '--task',
      'tabular-classification',
      '--labels',
      'setosa,versicolor,virginica',
      '--alias',
      'production',
    ]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('epoch 5/5');
    expect(run.stdout).toMatch(/^EPOCH\s+LOSS\s+ACCURACY\s+VAL_LOSS\s+VAL_ACCURACY\s+SECONDS$/m);
    expect(run.stdout).toMatch(/job tj_\w+ succeeded: iris-cli version 1, production → 1$/m);
  });

  it('evaluates versions on a dataset; a dataset the model cannot take is refused with exit 1', async () => {
    const run = await modelport(['evaluate', 'iris-holdout', 'iris@1', '--latency-samples', '5', '--confusion']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('100%');
    expect(run.stdout).toMatch(/^MODEL\s+VERSION\s+SAMPLES\s+ACCURACY\s+LOSS\s+MACRO_F1\s+P50_MS\s+P95_MS\s+SIZE$/m);
    const json = await modelport(['--json', 'evaluate', 'iris-holdout', 'iris', '--latency-samples', '0']);
    const [result] = JSON.parse(json.stdout).results;
    expect(result).toMatchObject({ model: 'iris', version: 1, samples: 30 });
    expect(result.latency_ms.per_sample).toBeNull();
    // The human table shows the same figures as the JSON, rounded to 4 places.
    expect(run.stdout).toMatch(
      new RegExp(
        `^iris\\s+1\\s+30\\s+${result.accuracy.toFixed(4)}\\s+${result.loss.toFixed(4)}\\s+${result.macro.f1.toFixed(4)}\\s+\\d+\\.\\d\\d\\s+\\d+\\.\\d\\d\\s+\\d+ KiB$`,
        'm',
      ),
    );
    const total = (run.stdout.match(/^(setosa|versicolor|virginica)((\s+\d+){3})$/gm) ?? []).flatMap((row) =>
      row.split(/\s+/).slice(1).map(Number),
    );
    expect(total.reduce((a, b) => a + b, 0)).toBe(30);
    const wrong = await modelport(['evaluate', 'iris-holdout', 'digits']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(
      "digits version 1 takes samples of shape [28,28,1] (784 elements); dataset 'iris-holdout' records have 4",
    );
    expect((await modelport(['evaluate', 'iris-holdout', 'iris@'])).code).toBe(2);
  });

  it('selects a version under constraints; exit 5 when none is eligible, 2 without a signature', async () => {
    const chosen = await modelport([
      'select',
      'image-classification',
      '--input',
      'FP32:-1,28,28,1',
      '--min-accuracy',
      '0.95',
      '--latency-samples',
      '10',
    ]);
    expect(chosen.code).toBe(0);
    expect(chosen.stdout.split('\n')[0]).toBe('chosen: digits version 1');
    expect(chosen.stdout).toMatch(/^1\s+digits\s+1\s+0\.9810\s/m);
    expect(chosen.stdout).toMatch(/^-\s+digits-mlp\s+1\s+0\.9405\s.*\smin_accuracy$/m);
    const none = await modelport([
      '--json',
      'select',
      'image-classification',
      '--input',
      'FP32:-1,28,28,1',
      '--min-accuracy',
      '0.999',
      '--latency-samples',
      '10',
    ]);
    expect(none.code).toBe(5);
    const selection = JSON.parse(none.stdout);
    expect(selection.chosen).toBeNull();
    expect(selection.candidates.map((c: { excluded_by: string[] }) => c.excluded_by)).toEqual([['min_accuracy'], ['min_accuracy']]);
    // An example input gives the signature, and every eligible candidate runs it.
    const mnist = loadMnistSplit().test;
    const example = path.join(work, 'example.json');
    writeFileSync(example, JSON.stringify({ datatype: 'FP32', shape: [1, 28, 28, 1], data: Array.from(mnist.x.subarray(0, 784)) }));
    const byExample = JSON.parse(
      (await modelport(['--json', 'select', 'image-classification', '--example', example, '--latency-samples', '10'])).stdout,
    );
    expect(byExample.chosen).toEqual({ model: 'digits', version: 1 });
    expect(byExample.candidates[0].example_output.label).toBe(String(mnist.y[0]));
    const unsigned = await modelport(['select', 'image-classification']);
    expect(unsigned.code).toBe(2);
    expect(unsigned.stderr).toContain('give the input signature');
  });

  it('doctor reports native TensorFlow and the server', async () => {
    const doctor = await modelport(['--json', 'doctor']);
    const { checks } = JSON.parse(doctor.stdout);
    const expected = process.env.MODELPORT_BACKEND ?? 'tensorflow';
    expect(checks.find((c: { name: string }) => c.name === 'backend').detail).toMatch(new RegExp(`^${expected}`));
    expect(checks.find((c: { name: string }) => c.name === 'server')).toMatchObject({ ok: true });
    if (expected === 'tensorflow') {
      expect(doctor.code).toBe(0);
      // Native TensorFlow comes from modelport's cache, not from node_modules.
      expect(checks.find((c: { name: string }) => c.name === 'native')).toMatchObject({
        ok: true,
        detail: expect.stringMatching(/^prepared in \/.*\/tfjs-node-4\.22\.0\+modelport-dtypes-\d+_tf-2\.21\.0_linux-x64_napi-8$/),
      });
    }
  });

  it("each command's clearest failure says what is wrong, with the exit code it documents", async () => {
    const failures: [string[], number, string, string?][] = [
      [['models', 'create', 'digits', '--task', 'image-classification'], 1, "409 a model named 'digits' already exists"],
      [['versions', 'ls', 'nope'], 1, "404 model 'nope' not found"],
      [['versions', 'upload', 'digits', path.join(work, 'missing')], 2, `no such folder or archive: ${path.join(work, 'missing')}`],
      [['versions', 'upload', 'digits', path.join(BUNDLED, 'digits-mlp', '1'), '--metrics', '{accuracy'], 2, '--metrics is not JSON'],
      [['alias', 'set', 'digits', 'production', '9'], 1, "404 model 'digits' has no version 9"],
      [['alias', 'rm', 'digits', 'nope'], 1, "404 model 'digits' has no alias 'nope'"],
      [['predict', 'iris'], 2, 'the input is not JSON', 'setosa'],
      [['predict', 'iris'], 1, "400 input 'features': expected shape [-1,4], received [1,2]\n  /inputs/0/shape:", '[[1, 2]]'],
      [['predict', 'iris', path.join(work, 'missing.json')], 2, `cannot read the input ${path.join(work, 'missing.json')} (ENOENT)`],
      [['train', 'x', '--dataset', 'iris-train', '--epochs', '1'], 2, 'give --architecture (a new model) or --base-version (fine-tuning)'],
      [['keys', 'revoke', '0123456789ab'], 1, "404 no API key '0123456789ab'"],
      [['keys', 'revoke', 'key_nope'], 1, 'path/key_id: must match pattern'],
    ];
    for (const [args, code, message, stdin] of failures) {
      const run = await modelport(args, stdin === undefined ? {} : { stdin });
      expect({ args, code: run.code, stderr: run.stderr }).toMatchObject({ args, code, stderr: expect.stringContaining(message) });
    }
    const doctor = await modelport(['doctor'], { url: 'http://127.0.0.1:9' });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/^✗ server\s+http:\/\/127\.0\.0\.1:9.*\n\s+fix: start it with `modelport serve`, or pass --url$/m);
  });

  it('serve: ready on a free port, stops on SIGTERM; a busy port is refused with a clear message', async () => {
    const dataDir = path.join(work, 'serve');
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--no-auth'], {
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
    });
    let stdout = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk;
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+) \(backend/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stdout}`)));
    });
    expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);
    const busy = await modelport(['serve', '--port', new URL(url).port, '--data-dir', path.join(work, 'serve-2')]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain(
      `port ${new URL(url).port} on 127.0.0.1 is in use (another modelport serve?): pass --port, or --port 0 for a free one`,
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('exit codes: 1 for API errors, 2 for usage errors, 3 when the server is unreachable', async () => {
    const missing = await modelport(['models', 'show', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("modelport: 404 model 'nope' not found\n");
    expect((await modelport(['versions', 'rm', 'digits', 'one'])).code).toBe(2);
    expect((await modelport(['frobnicate'])).code).toBe(2);
    const down = await modelport(['models', 'ls'], { url: 'http://127.0.0.1:9' });
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('is the server running?');
  });
});
