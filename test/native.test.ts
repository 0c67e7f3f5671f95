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
    expect(lines[0]).toMatch(
      /^preparing it in .*cache-wheel\/tfjs-node-4\.22\.0\+modelport-dtypes-\d+_tf-2\.21\.0_linux-x64_napi-8: once per machine/,
    );
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

  it("the binding is built with modelport's dtype patch: every numeric dtype goes in and comes back exactly", async () => {
    const { tf } = await loadRuntime();
    const entry = nativeEntry(PACKAGE_ROOT);
    expect(entry.manifest?.bindingPatch).toMatch(/^modelport-dtypes-\d+$/);
    expect(entry.key).toContain(`+${entry.manifest!.bindingPatch}_`);
    const binding = (tf.backend() as unknown as { binding: NativeBinding }).binding;
    const before = binding.getNumOfTensors();
    // TF_DataType numbers (tensorflow/c/tf_datatype.h) and the typed array each travels in.
    const cases: [number, ArrayBufferView & ArrayLike<number | bigint>][] = [
      [2, Float64Array.from([0.1, -1e300, 2 ** 60])], // TF_DOUBLE
      [4, Uint8Array.from([0, 255, 7])], // TF_UINT8
      [5, Int16Array.from([-32768, 1, 32767])], // TF_INT16
      [6, Int8Array.from([-128, 1, 127])], // TF_INT8
      [17, Uint16Array.from([0, 1, 65535])], // TF_UINT16
      [19, Uint16Array.from([0x3c00, 0x7bff, 0x8001])], // TF_HALF, as its bits
      [22, Uint32Array.from([0, 1, 4294967295])], // TF_UINT32
      [23, BigUint64Array.from([0n, 1n, 2n ** 64n - 1n])], // TF_UINT64
    ];
    for (const [dtype, values] of cases) {
      const id = binding.createTensor([3], dtype, values);
      try {
        expect(binding.tensorDataSync(id), `TF_DataType ${dtype}`).toEqual(values);
      } finally {
        binding.deleteTensor(id);
      }
    }
    // INT64 goes in as pairs of int32 words (as tfjs-node sends it) and comes back a BigInt64Array.
    const int64 = BigInt64Array.from([-(2n ** 63n), 2n ** 60n + 1n, 2n ** 63n - 1n]);
    const id = binding.createTensor([3], 9, new Int32Array(int64.buffer));
    expect(binding.tensorDataSync(id)).toEqual(int64);
    binding.deleteTensor(id);
    expect(binding.getNumOfTensors()).toBe(before);
  });
});

interface NativeBinding {
  createTensor(shape: number[], dtype: number, values: ArrayBufferView): number;
  tensorDataSync(id: number): unknown;
  deleteTensor(id: number): void;
  getNumOfTensors(): number;
}

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
