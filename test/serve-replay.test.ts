/**
 * `modelport serve --replay <cassette>` (issue #21, item 2), run as users run it: the CLI in a child
 * process, over a cassette that `modelport record` recorded from a real server, which is closed
 * before the replay starts. Called with the SDK and with plain fetch (what a client in another
 * language sees). The child runs with a module hook that logs every module it resolves, so the test
 * can say what was loaded (no @tensorflow module, no server) besides what /proc/<pid>/maps holds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport, NotFoundError } from 'modelport';
import { bytesOfBody } from 'modelport/cassette';
import { CLI, cleanEnv, plain, recordReplayCassette, type ReplayRecording } from './helpers/replay-recording';

const work = mkdtempSync(path.join(os.tmpdir(), 'modelport-serve-replay-'));
const children = new Set<ChildProcess>();
let recording: ReplayRecording;
let replay: Replay;

/** Logs every module URL resolved (ESM, in the loader thread) and every CommonJS file required to $MODULE_LOG. */
const MODULE_LOG_HOOK = `
import Module, { register } from 'node:module';
import { appendFileSync } from 'node:fs';
const log = process.env.MODULE_LOG;
register('data:text/javascript,' + encodeURIComponent(\`
  import { appendFileSync } from 'node:fs';
  export async function resolve(specifier, context, next) {
    const resolved = await next(specifier, context);
    appendFileSync(\${JSON.stringify(log)}, resolved.url + '\\\\n');
    return resolved;
  }\`));
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (...args) {
  const file = resolveFilename.apply(this, args);
  appendFileSync(log, file + '\\n');
  return file;
};
`;

interface Replay {
  url: string;
  child: ChildProcess;
  moduleLog: string;
  stdout: () => string;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Runs `modelport <args>` with the module hook; `listening` waits for the URL it prints. */
function runCli(name: string, args: string[]): Omit<Replay, 'url'> {
  const hook = path.join(work, 'module-log-hook.mjs');
  writeFileSync(hook, MODULE_LOG_HOOK);
  const moduleLog = path.join(work, `${name}.modules.log`);
  const child = spawn(process.execPath, ['--import', hook, CLI, ...args], { env: { ...cleanEnv(), MODULE_LOG: moduleLog } });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, moduleLog, stdout: () => stdout, exited };
}

async function serveReplay(name: string, ...args: string[]): Promise<Replay> {
  const run = runCli(name, ['serve', '--replay', recording.file, '--port', '0', ...args]);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 30 s: ${run.stdout()}`)), 30_000);
    run.child.stdout!.on('data', () => {
      const found = /listening on (http:\/\/127\.0\.0\.1:\d+) /.exec(run.stdout());
      if (found) resolve(found[1]!), clearTimeout(timer);
    });
    void run.exited.then(({ code, stderr }) => reject(new Error(`serve --replay exited with ${code}: ${stderr}`)));
  });
  return { ...run, url };
}

beforeAll(async () => {
  recording = await recordReplayCassette(work);
  replay = await serveReplay('strict');
}, 120_000);

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

describe('modelport serve --replay', () => {
  it('prints its URL and how many interactions it replays, and loads neither TensorFlow nor the server', () => {
    const calls = recording.cassette.interactions.map((i) => `${i.request.method} ${i.request.path} ${i.response.status}`);
    // The SDK reads a model's metadata once, before its first prediction.
    expect(calls).toEqual([
      'GET /v2/health/ready 503',
      'GET /v2/health/ready 200',
      'GET /v2/health/live 200',
      'GET /v2 200',
      'GET /v2/models/iris 200',
      'GET /v2/models/digits 200',
      'GET /v1/models 200',
      'GET /v2/models/iris 200',
      ...Array(10).fill('POST /v2/models/iris/infer 200'),
      'GET /v2/models/digits 200',
      ...Array(10).fill('POST /v2/models/digits/infer 200'),
    ]);
    expect(replay.stdout()).toBe(
      `modelport 0.1.0 listening on ${replay.url} (replaying 29 interactions from ${recording.file}; mode strict, rtol 0.00001, atol 0.000001; no TensorFlow)\n`,
    );
    expect(readFileSync(`/proc/${replay.child.pid}/maps`, 'utf8')).not.toMatch(/tensorflow|tfjs/i);
    const modules = readFileSync(replay.moduleLog, 'utf8').trim().split('\n');
    // The hook saw the replay's own modules, so it would have seen TensorFlow's.
    expect(modules.some((url) => url.endsWith('/mock-server/cli/replay/replay-server.ts'))).toBe(true);
    expect(modules.some((url) => url.endsWith('/src/cassette/replayer.ts'))).toBe(true);
    expect(modules.filter((url) => /@tensorflow|tfjs/i.test(url))).toEqual([]);
    expect(modules.filter((url) => /\/mock-server\/(server\/(?!package-paths)|serving|http|routes|middleware)\//.test(url))).toEqual([]);
  });

  it('answers the SDK: iris and digits predictions, JSON and binary, decode as they did from the real server; 1e-7 moves still match', async () => {
    const client = new Modelport({ baseUrl: replay.url, maxRetries: 0 });
    for (const recorded of recording.predictions) {
      const prediction = await client.predict(recorded.model, recorded.input, { binary: recorded.binary });
      expect(plain(prediction.output)).toEqual(recorded.output);
      const moved = await client.predict(
        recorded.model,
        recorded.input.map((value) => value + 1e-7),
        { binary: recorded.binary },
      );
      expect(plain(moved.output)).toEqual(recorded.output);
    }
    expect(await client.server.metadata()).toEqual(recording.serverMetadata);
    expect(await client.models.metadata('digits')).toEqual(recording.digitsMetadata);
    expect(await client.health.live()).toEqual(recording.live);
  });

  it('answers plain fetch with the recorded bytes (binary too) and the replay headers', async () => {
    for (const interaction of recording.cassette.interactions.filter((i) => i.request.path.endsWith('/infer'))) {
      const response = await fetch(`${replay.url}${interaction.request.path}`, {
        method: 'POST',
        headers: interaction.request.headers,
        body: bytesOfBody(interaction.request.body) as Uint8Array<ArrayBuffer>,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('modelport-replay')).toBe('matched');
      expect(response.headers.get('modelport-replay-seq')).toBe(String(interaction.seq));
      expect(response.headers.get('content-type')).toBe(interaction.response.headers['content-type']);
      expect(response.headers.get('inference-header-content-length')).toBe(
        interaction.response.headers['inference-header-content-length'] ?? null,
      );
      const recorded = recording.predictions.find((p) => p.seq === interaction.seq)!;
      expect(Buffer.from(await response.arrayBuffer()).equals(Buffer.from(recorded.responseBytes))).toBe(true);
    }
    const head = await fetch(`${replay.url}/v2`, { method: 'HEAD' });
    expect(head.status).toBe(404); // HEAD /v2 was never recorded (GET was)
    expect(head.headers.get('modelport-replay')).toBe('unmatched');
  });

  it('strict: one digits pixel changed by 0.5 is 404 naming the closest recording; nearest mode answers it and says so', async () => {
    const recorded = recording.predictions.find((p) => p.model === 'digits' && p.binary)!;
    const changed = recorded.input.slice();
    changed[300] = changed[300]! + 0.5;
    const strict = new Modelport({ baseUrl: replay.url, maxRetries: 0 });
    const error = (await strict.predict('digits', changed, { binary: true }).catch((caught: Error) => caught)) as NotFoundError;
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.status).toBe(404);
    expect(error.message).toBe(
      `404 no recording matches POST /v2/models/digits/infer (rtol 0.00001, atol 0.000001); the closest is seq ${recorded.seq} ` +
        `(model digits, POST /v2/models/digits/infer): input 'image': 1 of 784 elements outside tolerance, max |Δ| 0.5 at element 300 [0, 10, 20, 0] (recorded 0, received 0.5)`,
    );

    const nearest = await serveReplay('nearest', '--replay-mode', 'nearest', '--atol', '0.001');
    expect(nearest.stdout()).toContain('; mode nearest, rtol 0.00001, atol 0.001; no TensorFlow)');
    let headers: Headers | undefined;
    const client = new Modelport({
      baseUrl: nearest.url,
      maxRetries: 0,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        headers = response.headers;
        return response;
      },
    });
    expect(plain((await client.predict('digits', changed, { binary: true })).output)).toEqual(recorded.output);
    expect(headers!.get('modelport-replay')).toBe('nearest');
    expect(headers!.get('modelport-replay-seq')).toBe(String(recorded.seq));
    expect(headers!.get('modelport-replay-nearest')).toBe(
      `seq ${recorded.seq} (model digits, POST /v2/models/digits/infer): input 'image': 1 of 784 elements outside tolerance, max |delta| 0.5 at element 300 [0, 10, 20, 0] (recorded 0, received 0.5)`,
    );
    nearest.child.kill('SIGINT');
    expect(await nearest.exited).toMatchObject({ code: 0, stderr: '' });
  });

  it('refuses a chunked body with 413 once it passes 64 MiB, and goes on answering', async () => {
    const answer = await new Promise<{ status: number; body: string; sentMiB: number }>((resolve, reject) => {
      const outgoing = request(`${replay.url}/v2/models/digits/infer`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      const mebibyte = Buffer.alloc(1024 * 1024, 0x20);
      let sentMiB = 0;
      outgoing.on('response', (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, body, sentMiB }));
      });
      outgoing.on('error', reject);
      const send = (): void => {
        while (sentMiB < 128) {
          sentMiB++;
          if (!outgoing.write(mebibyte)) return void outgoing.once('drain', send);
        }
        outgoing.end();
      };
      send();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({ error: 'request body is over the 64 MiB limit of modelport serve --replay' });
    expect(answer.sentMiB).toBeLessThan(128);
    expect((await fetch(`${replay.url}/v2`)).status).toBe(200);
  });

  it('refuses a body declared over 64 MiB with 413 before reading it', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const outgoing = request(`${replay.url}/v2/models/digits/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(64 * 1024 * 1024 + 1) },
      });
      outgoing.on('response', (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => {
          resolve({ status: response.statusCode!, body });
          outgoing.destroy();
        });
      });
      outgoing.on('error', reject);
      outgoing.flushHeaders();
    });
    expect(answer).toEqual({
      status: 413,
      body: JSON.stringify({ error: 'request body of 67108865 bytes is over the 64 MiB limit of modelport serve --replay' }),
    });
  });

  it('stops on SIGTERM with exit code 0', async () => {
    const stopping = await serveReplay('stop');
    stopping.child.kill('SIGTERM');
    const { code, stdout, stderr } = await stopping.exited;
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toContain(`SIGTERM: stopped replaying ${recording.file}\n`);
    await expect(fetch(`${stopping.url}/v2`)).rejects.toThrow();
  });

  it('exits 2 naming the file for a missing cassette, the line for a malformed one, and a flag a replay does not take', async () => {
    const missing = path.join(work, 'missing.jsonl');
    const absent = await runCli('missing', ['serve', '--replay', missing, '--port', '0']).exited;
    expect([absent.code, absent.stdout, absent.stderr]).toEqual([2, '', `modelport: cannot read the cassette ${missing}: no such file\n`]);

    const malformed = path.join(work, 'malformed.jsonl');
    writeFileSync(malformed, `${recording.text.split('\n').slice(0, 2).join('\n')}\n{"type":"interaction","seq":\n`);
    const bad = await runCli('malformed', ['serve', '--replay', malformed, '--port', '0']).exited;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(new RegExp(`^modelport: ${malformed} is not a modelport cassette: cassette line 3: not valid JSON \\(`));

    const extra = await runCli('extra', ['serve', '--replay', recording.file, '--data-dir', work]).exited;
    expect([extra.code, extra.stderr]).toEqual([
      2,
      'modelport: --data-dir cannot go with --replay: a replay answers from the cassette only (flags: --port, --host, --replay-mode, --rtol, --atol)\n',
    ]);
    const rtolAlone = await runCli('rtol', ['serve', '--rtol', '0.1', '--port', '0']).exited;
    expect([rtolAlone.code, rtolAlone.stderr]).toEqual([2, 'modelport: --rtol goes with --replay <cassette>\n']);
    const badTolerance = await runCli('atol', ['serve', '--replay', recording.file, '--atol', '-1']).exited;
    expect([badTolerance.code, badTolerance.stderr]).toEqual([2, "modelport: --atol must be a number from 0, got '-1'\n"]);
  });
});
