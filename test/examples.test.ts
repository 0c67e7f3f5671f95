/**
 * The scripts in examples/ run as a user runs them: `npx tsx examples/<name>.ts` against a server
 * started the way `npm start` starts it (`modelport serve`, here on a free port with a temporary
 * data directory), with MODELPORT_URL and MODELPORT_API_KEY in the environment. Each must exit 0
 * and print what it is for: the exact digits, the exact held-out accuracies, the traffic a promoted
 * or rolled-back alias sends. (examples/test-with-msw and examples/test-with-global-setup are test
 * suites themselves; `npm test` runs them, and examples/record-and-replay/replay.test.ts too; here its
 * record.ts records again against the server, and its browser/run.ts replays in Chromium.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interactionTensors, matchRequest, parseCassette } from '../src/cassette/index';

const root = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(os.tmpdir(), 'modelport-examples-'));
const apiKey = 'mp_examples_key';
let server: ChildProcess;
let url: string;
let listeningLine: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tsx examples/<script> ...args` from the repository root, as the examples' headers say. */
function runExample(script: string, args: string[] = [], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join('examples', script), ...args], {
      cwd: root,
      env: { ...process.env, MODELPORT_URL: url, MODELPORT_API_KEY: apiKey, TF_CPP_MIN_LOG_LEVEL: '3', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function expectSuccess(run: Run): void {
  if (run.code !== 0) throw new Error(`exited ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
}

beforeAll(async () => {
  // `npm start` is `modelport serve`; MODELPORT_API_KEY chooses the admin key, as the README says.
  server = spawn(
    process.execPath,
    [path.join(root, 'mock-server/bin/modelport.js'), 'serve', '--port', '0', '--data-dir', path.join(work, 'data')],
    {
      cwd: root,
      env: { ...process.env, MODELPORT_API_KEY: apiKey, TF_CPP_MIN_LOG_LEVEL: '3' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  listeningLine = await new Promise<string>((resolve, reject) => {
    server.stdout!.on('data', (chunk) => {
      output += chunk;
      const line = output.split('\n').find((l) => l.includes(' listening on '));
      if (line) resolve(line);
    });
    server.stderr!.on('data', (chunk) => (output += chunk));
    server.on('exit', (code) => reject(new Error(`modelport serve exited ${code}:\n${output}`)));
  });
  url = /listening on (\S+)/.exec(listeningLine)![1]!;
});

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
});

describe('examples/ against a running server', () => {
  it('the server says what the README says it says, on native TensorFlow', () => {
    expect(listeningLine).toMatch(
      /^modelport \d+\.\d+\.\d+ listening on http:\/\/127\.0\.0\.1:\d+ \(backend tensorflow, TensorFlow 2\.21\.0; models in .+\)$/,
    );
  });

  it('quickstart: reads eight handwritten digits, each one right', async () => {
    const run = await runExample('quickstart.ts');
    expectSuccess(run);
    expect(run.stdout).toContain('server runs on tensorflow (TensorFlow 2.21.0)');
    const rows = run.stdout
      .split('\n')
      .filter((l) => /^\s+\d\s+\d/.test(l))
      .map((l) => l.trim().split(/\s+/).slice(0, 2));
    expect(rows).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((d) => [String(d), String(d)]));
  });

  it('choose-a-model: the exact held-out accuracies, and the choices that do not depend on timing', async () => {
    const run = await runExample('choose-a-model.ts', [], { LATENCY_SAMPLES: '30' });
    expectSuccess(run);
    expect(run.stdout).toMatch(/^digits v1\s+98\.10 %/m);
    expect(run.stdout).toMatch(/^digits-mlp v1\s+94\.05 %/m);
    expect(run.stdout).toContain('the most accurate → digits v1');
    // digits-mlp (205 KB) is larger than digits (161 KB) and below 95 %: the CNN either way.
    expect(run.stdout).toContain('the smallest that is at least 95 % accurate → digits v1');
    expect(run.stdout).toMatch(/the fastest that is at least 90 % accurate → digits(-mlp)? v1/);
    expect(run.stdout).toContain('at least 99 % accurate (neither is) → nothing');
  });

  it('deploy-and-canary: uploads a version, splits traffic, promotes, rolls back, deletes', async () => {
    const run = await runExample('deploy-and-canary.ts');
    expectSuccess(run);
    expect(run.stdout).toContain('digits: versions [1], production → 1');
    expect(run.stdout).toMatch(/uploaded version 2 \(tfjs_layers, \d+ bytes, READY\)/);
    const canary = JSON.parse(/canary 90\/10, 200 requests: (\{.*\})/.exec(run.stdout)![1]!) as Record<string, number>;
    // Weighted 90/10: both versions answer (the chance that 200 draws miss v2 is 0.9^200 ≈ 7e-10),
    // and v1 answers most.
    expect(Object.keys(canary).sort()).toEqual(['1', '2']);
    expect(canary['1']! + canary['2']!).toBe(200);
    expect(canary['1']!).toBeGreaterThan(canary['2']!);
    expect(run.stdout).toContain('promoted 2, 50 requests: {"2":50}');
    expect(run.stdout).toContain('rolled back to 1, 50 requests: {"1":50}');
    expect(run.stdout).toContain('deleted version 2; versions now [1]');
  });

  it('train-and-evaluate: trains a version with progress, evaluates it next to digits, promotes it', async () => {
    const run = await runExample('train-and-evaluate.ts', ['2']);
    expectSuccess(run);
    expect(run.stdout).toMatch(/^ {2}epoch 1\/2: loss \d/m);
    expect(run.stdout).toMatch(/^ {2}epoch 2\/2: loss \d/m);
    expect(run.stdout).toContain('trained digits-small v1; staging → v1');
    expect(run.stdout).toMatch(/^digits v1\s+accuracy 98\.10 %/m);
    const accuracy = Number(/^digits-small v1\s+accuracy (\d+\.\d+) %/m.exec(run.stdout)![1]);
    // Two epochs of a 64-unit perceptron on 7,200 digits: about 93 %; far above chance (10 %).
    expect(accuracy).toBeGreaterThan(90);
    expect(run.stdout).toContain('production → v1');
  });

  it('explain-a-digit: explains a 7 and writes the picture', async () => {
    const out = path.join(work, 'explain.png');
    const run = await runExample('explain-a-digit.ts', ['7', out]);
    expectSuccess(run);
    const [, label, sum, difference] =
      /^predicted (\d) \(score [\d.]+\); attributions sum to (-?[\d.]+), score difference (-?[\d.]+)$/m.exec(run.stdout)!;
    expect(label).toBe('7');
    // Integrated gradients' completeness: the attributions add up to the score's rise from the baseline.
    expect(Math.abs(Number(sum) - Number(difference))).toBeLessThan(0.05 * Math.abs(Number(difference)));
    expect(existsSync(out)).toBe(true);
    const png = readFileSync(out);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([448, 224]); // width, height
  });
});

describe('examples/record-and-replay', () => {
  /** Runs record.ts into a new cassette; checks what it printed and that the committed cassette answers every request it recorded, with the same outputs. */
  async function recordAndCompare(name: string, flags: string[], startLine: string, endLine: string): Promise<void> {
    const cassettePath = path.join(work, name);
    const run = await runExample('record-and-replay/record.ts', [cassettePath, ...flags]);
    expectSuccess(run);
    expect(run.stdout).toContain(startLine.replace('<cassette>', cassettePath));
    for (let digit = 0; digit < 10; digit++) expect(run.stdout).toContain(`digit ${digit} read as ${digit} (confidence `);
    for (const species of ['setosa', 'versicolor', 'virginica']) expect(run.stdout).toContain(`flower ${species} named ${species}\n`);
    expect(run.stdout).toContain(endLine.replace('<cassette>', cassettePath));
    const text = readFileSync(cassettePath, 'utf8');
    expect(text).not.toContain(apiKey);

    const fresh = parseCassette(text);
    const committed = parseCassette(readFileSync(path.join(root, 'examples/record-and-replay/app.cassette.jsonl'), 'utf8'));
    const calls = (c: typeof fresh) => c.interactions.map(({ seq, request }) => `${seq} ${request.method} ${request.path}`);
    expect(calls(fresh)).toEqual(calls(committed));
    let largestDelta = 0;
    for (const interaction of fresh.interactions) {
      const { method, path: requestPath, query, headers, body } = interaction.request;
      const answer = matchRequest(committed, { method, path: requestPath, query, headers, body });
      expect([answer.outcome, answer.outcome === 'matched' && answer.interaction.seq]).toEqual(['matched', interaction.seq]);
      if (answer.outcome !== 'matched' || !requestPath.endsWith('/infer')) continue;
      const now = interactionTensors(interaction).outputs[0]!.data as Float32Array;
      const then = interactionTensors(answer.interaction).outputs[0]!.data as Float32Array;
      expect(now.indexOf(Math.max(...now))).toBe(then.indexOf(Math.max(...then)));
      for (let i = 0; i < now.length; i++) largestDelta = Math.max(largestDelta, Math.abs(now[i]! - then[i]!));
    }
    // Same models, same inputs: the same probabilities (to float32 noise, should TensorFlow run on another CPU).
    console.log(
      `record-and-replay ${flags.join(' ') || '(proxy)'}: a fresh recording against the committed cassette, max |Δ| of outputs ${largestDelta}`,
    );
    expect(largestDelta).toBeLessThan(1e-6);
  }

  it('the app, its vitest replay and its browser page import nothing but modelport, msw and vitest (no @modelport/server)', () => {
    const dir = path.join(root, 'examples/record-and-replay');
    const imports = ['app.ts', 'replay.test.ts', 'browser/page.ts'].flatMap((file) =>
      [...readFileSync(path.join(dir, file), 'utf8').matchAll(/^import\b[^;]*?from '([^']+)';/gm)].map((found) => found[1]!),
    );
    expect([...new Set(imports)].sort()).toEqual([
      '../app',
      './app',
      'modelport',
      'modelport/cassette',
      'modelport/replay',
      'msw/browser',
      'msw/node',
      'node:fs',
      'vitest',
    ]);
  });

  it('record.ts records the app through `modelport record`; the committed cassette answers each of its requests, with the same outputs', async () => {
    await recordAndCompare(
      'proxy.cassette.jsonl',
      [],
      `recording ${url} into <cassette>, proxy listening on http://127.0.0.1:`,
      'SIGTERM: recorded 16 interactions into <cassette>\n',
    );
  });

  it("record.ts --sdk records the same through recordCassette (modelport/record), the SDK client's fetch", async () => {
    await recordAndCompare(
      'sdk.cassette.jsonl',
      ['--sdk'],
      `recording ${url} into <cassette> with the SDK's fetch\n`,
      'recorded 16 interactions into <cassette>\n',
    );
  });

  it.skipIf(!existsSync('/usr/bin/chromium'))(
    'browser/run.ts: the app in Chromium, every call answered by the service worker',
    async () => {
      const run = await runExample('record-and-replay/browser/run.ts');
      expectSuccess(run);
      expect(run.stdout).toMatch(/the app calling http:\/\/models\.invalid through msw's service worker:\n/);
      const rows = run.stdout.split('\n').filter((line) => line.includes(' → '));
      expect(
        rows.map((row) =>
          row
            .replace(/\(confidence [\d.]+\)/, '')
            .trim()
            .split(/\s+/),
        ),
      ).toEqual([
        ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => ['digit', `${d}`, '→', `${d}`, 'matched', 'seq', `${d + 3}`]),
        ...['setosa', 'versicolor', 'virginica'].map((s, i) => ['flower', s, '→', s, 'matched', 'seq', `${i + 14}`]),
      ]);
    },
  );
});
