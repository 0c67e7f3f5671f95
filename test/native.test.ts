/**
 * Native TensorFlow from modelport's cache (mock-server/runtime/native/prepare.mjs): the lock that
 * lets one of many processes build a cache entry while the others wait, its takeover when the
 * builder died, a build that fails leaving nothing behind, the single-tfjs-core check, and the
 * runtime on the prepared entry. The cold build from the real wheel is the consumer test's.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../mock-server/server/package-paths';
import { assertOneTfjsCore, loadRuntime } from '../mock-server/runtime/backend';
import { ensureEntry, nativeEntry, prepareNative } from '../mock-server/runtime/native/prepare.mjs';

const PREPARE = path.join(PACKAGE_ROOT, 'runtime', 'native', 'prepare.mjs');
const work = mkdtempSync(path.join(os.tmpdir(), 'modelport-native-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let entries = 0;
const newEntry = () => path.join(work, `cache-${++entries}`, 'entry');
const leftovers = (dir: string) => readdirSync(path.dirname(dir)).filter((name) => name !== path.basename(dir));

/**
 * A process that calls ensureEntry(dir) with a fake build: it appends its pid to `log`, writes
 * `started` (when given), then takes `buildMs` (forever when negative). Prints the result as JSON.
 */
function preparer(dir: string, { log, started, buildMs }: { log: string; started?: string; buildMs: number }) {
  const script = `
    import fs from 'node:fs';
    import path from 'node:path';
    import { ensureEntry } from ${JSON.stringify(`file://${PREPARE}`)};
    const [dir, log, started, buildMs] = process.argv.slice(1);
    const result = await ensureEntry(dir, async (staging) => {
      fs.appendFileSync(log, process.pid + '\\n');
      if (started) fs.writeFileSync(started, staging);
      if (Number(buildMs) < 0) setInterval(() => {}, 1000);
      await new Promise((resolve) => Number(buildMs) >= 0 && setTimeout(resolve, Number(buildMs)));
      fs.writeFileSync(path.join(staging, 'payload'), 'built by ' + process.pid);
      return { by: process.pid };
    }, { pollMs: 50 });
    console.log(JSON.stringify(result));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir, log, started ?? '', String(buildMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; output: string }>((resolve) => child.on('exit', (code) => resolve({ code, output })));
  return { child, exited };
}

async function until(condition: () => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the cache entry lock', () => {
  it('lets exactly one of several processes that find the entry missing build it; the others wait and use it', async () => {
    const dir = newEntry();
    const log = path.join(work, 'builds-1.log');
    const runs = await Promise.all(Array.from({ length: 4 }, () => preparer(dir, { log, buildMs: 1500 }).exited));
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const results = runs.map((r) => JSON.parse(r.output.trim().split('\n').pop()!));
    expect(results.filter((r) => r.built)).toHaveLength(1);
    const builders = readFileSync(log, 'utf8').trim().split('\n');
    expect(builders).toHaveLength(1);
    expect(readFileSync(path.join(dir, 'payload'), 'utf8')).toBe(`built by ${builders[0]}`);
    expect(JSON.parse(readFileSync(path.join(dir, 'ready.json'), 'utf8')).by).toBe(Number(builders[0]));
    expect(leftovers(dir)).toEqual([]);
  });

  it('takes over the lock of a build whose process was killed, and removes what it left', async () => {
    const dir = newEntry();
    const log = path.join(work, 'builds-2.log');
    const started = path.join(work, 'started-2');
    const doomed = preparer(dir, { log, started, buildMs: -1 });
    await until(() => existsSync(started));
    const staging = readFileSync(started, 'utf8');
    expect(leftovers(dir).sort()).toEqual(['entry.lock', path.basename(staging)]);
    doomed.child.kill('SIGKILL');
    await doomed.exited;

    const lines: string[] = [];
    const began = Date.now();
    const result = await ensureEntry(dir, async (stage) => writeFileSync(path.join(stage, 'payload'), 'second') ?? {}, {
      log: (l) => lines.push(l),
      pollMs: 20,
    });
    expect(result).toEqual({ built: true });
    // A dead pid on this host is stale at once, not after the 60 s a silent lock needs.
    expect(Date.now() - began).toBeLessThan(5000);
    expect(lines).toEqual([`took over the lock of a build that stopped (pid ${doomed.child.pid})`]);
    expect(readFileSync(path.join(dir, 'payload'), 'utf8')).toBe('second');
    expect(leftovers(dir)).toEqual([]);
  });

  it('takes over a lock nobody has touched for staleMs (a holder on another host, or hung)', async () => {
    const dir = newEntry();
    mkdirSync(path.dirname(dir), { recursive: true });
    writeFileSync(`${dir}.lock`, JSON.stringify({ pid: 1, host: 'another-host', since: '2026-01-01T00:00:00Z' }));
    const tenMinutesAgo = new Date(Date.now() - 600_000);
    utimesSync(`${dir}.lock`, tenMinutesAgo, tenMinutesAgo);
    const lines: string[] = [];
    const result = await ensureEntry(dir, async () => ({}), { log: (l) => lines.push(l), staleMs: 60_000, pollMs: 20 });
    expect(result).toEqual({ built: true });
    expect(lines).toEqual(['took over the lock of a build that stopped (pid 1 on another-host)']);
    expect(existsSync(`${dir}.lock`)).toBe(false);
  });

  it('waits for a live holder and uses what it published, without building', async () => {
    const dir = newEntry();
    mkdirSync(path.dirname(dir), { recursive: true });
    writeFileSync(`${dir}.lock`, JSON.stringify({ pid: 1, host: 'another-host', since: new Date().toISOString() }));
    const publish = setTimeout(() => {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'ready.json'), '{}');
      rmSync(`${dir}.lock`);
    }, 400);
    const lines: string[] = [];
    let builds = 0;
    const result = await ensureEntry(dir, async () => ({ builds: ++builds }), { log: (l) => lines.push(l), pollMs: 20 });
    clearTimeout(publish);
    expect(result).toEqual({ built: false });
    expect(builds).toBe(0);
    expect(lines).toEqual(['another process (pid 1 on another-host) is preparing it; waiting']);
  });

  it('a build that fails leaves no entry, no lock and no staging folder', async () => {
    const dir = newEntry();
    await expect(
      ensureEntry(dir, async () => {
        throw new Error('compiler exploded');
      }),
    ).rejects.toThrow('compiler exploded');
    expect(existsSync(dir)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });
});

describe('preparing native TensorFlow', () => {
  it('a wheel without the TensorFlow C library fails fast with the reason and the fix, leaving the cache clean', async () => {
    const cache = path.join(work, 'cache-wheel');
    const wheel = path.join(work, 'tensorflow_cpu-2.21.0-fake.whl');
    writeFileSync(wheel, zipSync({ 'tensorflow/__init__.py': new TextEncoder().encode('') }));
    const env = { ...process.env, MODELPORT_NATIVE_CACHE: cache, MODELPORT_TF_WHEEL: wheel, MODELPORT_SKIP_NATIVE: '' };
    const lines: string[] = [];
    const failure = await prepareNative({ packageRoot: PACKAGE_ROOT, env, log: (l) => lines.push(l) }).catch(
      (error: Error & { fix?: string }) => error,
    );
    expect(failure).toMatchObject({
      name: 'NativeUnavailable',
      message: 'tensorflow/libtensorflow_cc.so.2 is missing from tensorflow_cpu-2.21.0-fake.whl',
      fix: 'use a tensorflow-cpu 2.21.0 wheel for Linux x64, then run: npx modelport doctor --no-server',
    });
    expect(lines[0]).toMatch(/^preparing it in .*cache-wheel\/tfjs-node-4\.22\.0_tf-2\.21\.0_linux-x64_napi-8: once per machine/);
    expect(lines).not.toContain('downloading the tensorflow-cpu 2.21.0 wheel with pip');
    expect(readdirSync(cache)).toEqual([]);
  });

  it('the server runtime is native TensorFlow from the prepared cache entry', async () => {
    const runtime = await loadRuntime();
    expect(runtime.backend).toBe('tensorflow');
    expect(runtime.tensorflowVersion).toBe('2.21.0');
    expect(runtime.nativeUnavailable).toBeUndefined();
    const entry = nativeEntry(PACKAGE_ROOT);
    expect(entry.ready).toBe(true);
    expect(JSON.parse(readFileSync(path.join(entry.dir!, 'ready.json'), 'utf8'))).toMatchObject({
      tfjsNode: '4.22.0',
      tensorflow: '2.21.0',
      napi: 8,
    });
    const { tf } = runtime;
    expect(
      Array.from(
        tf
          .matMul(
            tf.tensor2d([
              [1, 2],
              [3, 4],
            ]),
            tf.tensor2d([[1], [1]]),
          )
          .dataSync(),
      ),
    ).toEqual([3, 7]);
    const png = await runtime.node!.encodePng(tf.zeros([2, 3, 1], 'int32') as never);
    expect(runtime.node!.decodeImage(png, 1).shape).toEqual([2, 3, 1]);
    // Nothing of it comes from node_modules: the binding is loaded from the cache by absolute path.
    expect(
      Object.keys(createRequire(import.meta.url).cache).filter((file) => file.includes('tfjs-node') && file.includes('node_modules')),
    ).toEqual([]);
  });
});

describe('one @tensorflow/tfjs-core', () => {
  const fakePackage = (dir: string, name: string) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '4.22.0', main: 'index.js' }));
  };

  it('holds for this checkout', () => {
    expect(() => assertOneTfjsCore(PACKAGE_ROOT)).not.toThrow();
  });

  it('fails start-up naming both copies when a package resolves another one', () => {
    const root = path.join(work, 'two-cores');
    fakePackage(root, '@modelport/server');
    for (const name of ['tfjs-core', 'tfjs-converter', 'tfjs-backend-cpu', 'tfjs-backend-wasm']) {
      fakePackage(path.join(root, 'node_modules', '@tensorflow', name), `@tensorflow/${name}`);
    }
    const layers = path.join(root, 'node_modules', '@tensorflow', 'tfjs-layers');
    fakePackage(layers, '@tensorflow/tfjs-layers');
    fakePackage(path.join(layers, 'node_modules', '@tensorflow', 'tfjs-core'), '@tensorflow/tfjs-core');
    expect(() => assertOneTfjsCore(root)).toThrow(
      `two copies of @tensorflow/tfjs-core are installed: ${path.join(root, 'node_modules', '@tensorflow', 'tfjs-core')} (used by @modelport/server) ` +
        `and ${path.join(layers, 'node_modules', '@tensorflow', 'tfjs-core')} (used by @tensorflow/tfjs-layers)`,
    );
  });
});
