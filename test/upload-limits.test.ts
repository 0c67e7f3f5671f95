/**
 * The upload pipeline's limits (issue #18 item 8): archives refused on what they declare before
 * anything inflates, inflation capped when a header lies, and the inspection child process held to
 * its timeout, memory and rlimits. Whatever is refused, the staging folder is gone afterwards.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { limitedCommand } from '../mock-server/serving/child-limits';
import { deflatedRepeats, deflatedZeros, NINE_BYTE_SAVED_MODEL, tarGzClaiming, tarGzOfEntries, zipOf } from './helpers/bombs';
import { BUNDLED, tempDataDir } from './helpers/data-dir';
import { filesOf, tarGz } from './helpers/archives';

const GiB = 1024 ** 3;
const SAVED_MODEL = new URL('./fixtures/savedmodel/tiny-classifier/', import.meta.url).pathname;

let data: Awaited<ReturnType<typeof tempDataDir>>;
let server: RunningMockServer;

beforeAll(async () => {
  data = await tempDataDir();
  server = await startMockServer({ auth: false, dataDir: path.join(data.dir, 'repo') });
  for (const name of ['victim', 'tiny']) await create(name);
});
afterAll(async () => {
  await server?.close();
  await data?.remove();
});

async function create(name: string, url = server.url): Promise<void> {
  const response = await fetch(`${url}/v1/models`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, task: 'tabular-classification' }),
  });
  expect(response.status).toBe(201);
}

async function upload(model: string, body: Uint8Array | FormData, contentType?: string, url = server.url) {
  const response = await fetch(`${url}/v1/models/${model}/versions`, {
    method: 'POST',
    ...(contentType ? { headers: { 'content-type': contentType } } : {}),
    body: body instanceof FormData ? body : new Blob([body as Uint8Array<ArrayBuffer>]),
  });
  const json = (await response.json()) as { code?: string; error?: string; version?: number };
  return { status: response.status, code: json.code, message: json.error ?? '', json };
}

function form(files: Record<string, Uint8Array>): FormData {
  const body = new FormData();
  for (const [name, bytes] of Object.entries(files)) body.append('files', new Blob([bytes as Uint8Array<ArrayBuffer>]), name);
  return body;
}

/** Nothing of a refused upload is left in the model's folder (no staging folder, no body file). */
async function expectNoLeftovers(model: string): Promise<void> {
  const entries = await readdir(path.join(data.dir, 'repo', 'models', model));
  expect(entries.filter((e) => e.startsWith('.tmp-'))).toEqual([]);
}

describe('archives are refused on what they declare, before inflating', () => {
  it('a 3 MB tar.gz claiming 4 GB: 413 naming the gzip trailer and the limit', async () => {
    const bomb = tarGzClaiming(4e9, 3072);
    expect(bomb.byteLength).toBeLessThan(3.5e6);
    const started = performance.now();
    const answer = await upload('victim', bomb, 'application/gzip');
    expect(answer).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(answer.message).toContain('the gzip trailer declares 3,221,225,472 bytes');
    expect(answer.message).toContain('the limit is 2,147,483,648 bytes unpacked');
    expect(performance.now() - started).toBeLessThan(15_000); // nothing inflated (the old server took 12-46 s)
    await expectNoLeftovers('victim');
  });

  it('a tar.gz whose trailer lies but whose tar header claims 4 GB: refused on the header', async () => {
    const answer = await upload('victim', tarGzClaiming(4e9, 16, 1000), 'application/gzip');
    // The trailer claims 1,000 bytes, so the tar header is what refuses it, before its data inflates.
    expect(answer).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(answer.message).toContain("tar entry 'weights.bin' declares 4,000,000,000 bytes");
  });

  it('a zip of 10 × 1 GiB entries: 413 on its central directory, nothing inflated', async () => {
    const bomb = zipOf(Array.from({ length: 10 }, (_, i) => ({ name: `part${i}.bin`, deflated: deflatedZeros(1024) })));
    const answer = await upload('victim', bomb, 'application/zip');
    expect(answer).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(answer.message).toContain(
      "the zip's central directory (10 files, the largest 'part0.bin' of 1,073,741,824 bytes) declares 10,737,418,240 bytes",
    );
    expect(answer.message).toContain('the limit is 2,147,483,648 bytes unpacked');
    await expectNoLeftovers('victim');
  });

  it('a zip within the total but beyond 100:1 is refused on the ratio, naming --max-upload-expansion', async () => {
    const answer = await upload('victim', zipOf([{ name: 'weights.bin', deflated: deflatedZeros(256) }]), 'application/zip');
    expect(answer).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(answer.message).toMatch(/declares 268,435,456 bytes once unpacked; from [\d,]+ bytes received that is more than 100:1/);
    expect(answer.message).toContain('may expand at most 100:1 (--max-upload-expansion)');
  });

  it('a zip entry that inflates beyond the size it declares stops at the lie: 400 invalid_archive', async () => {
    const liar = zipOf([{ name: 'model.json', deflated: deflatedZeros(64), declaredSize: 1024 }]);
    const answer = await upload('victim', liar, 'application/zip');
    expect(answer).toMatchObject({ status: 400, code: 'invalid_archive' });
    expect(answer.message).toContain("entry 'model.json' inflates to more than the 1024 bytes its central directory declares");
    await expectNoLeftovers('victim');
  });

  it('a gzip bomb whose trailer declares 1,000 bytes is cut off at the ratio allowance while inflating', async () => {
    const bomb = tarGzOfEntries(1024, 1000); // 1 GiB of honest 1 MiB tar entries in ~1.1 MB
    const answer = await upload('victim', bomb, 'application/gzip');
    expect(answer).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(answer.message).toContain('may expand at most 100:1 (--max-upload-expansion)');
    expect(answer.json).toMatchObject({
      details: [{ path: '/', message: expect.stringContaining(`at most ${(100 * bomb.byteLength).toLocaleString('en-US')} allowed`) }],
    });
    await expectNoLeftovers('victim');
  });

  it('gzip inside gzip and links in a zip are refused', async () => {
    const doubly = await upload('victim', gzipSync(tarGz([{ path: 'model.json', data: new Uint8Array(10) }])), 'application/gzip');
    expect(doubly).toMatchObject({ status: 400, code: 'invalid_archive' });
    expect(doubly.message).toContain('the tar stream is itself gzip-compressed');
    // A Unix symlink entry (host 3, mode 0o120777): unpacked as a file by the old reader, refused now.
    const link = zipSync({
      'model.json': new Uint8Array(2),
      link: [new TextEncoder().encode('/etc/passwd'), { os: 3, attrs: 0o120777 << 16 }],
    });
    const linked = await upload('victim', link, 'application/zip');
    expect(linked).toMatchObject({ status: 400, code: 'unsafe_path' });
    expect(linked.message).toContain("archive entry 'link' is a SymbolicLink");
    await expectNoLeftovers('victim');
  });
});

describe('hostile models are inspected in the child process', () => {
  it('a 9-byte saved_model.pb is a 400 invalid_model, and the server answers meanwhile', async () => {
    const pending = upload('tiny', form({ 'saved_model.pb': NINE_BYTE_SAVED_MODEL }));
    const health = await fetch(`${server.url}/v2/health/live`);
    expect(health.status).toBe(200);
    const answer = await pending;
    expect(answer).toMatchObject({ status: 400, code: 'invalid_model' });
    expect(answer.message).toContain('saved_model.pb');
    await expectNoLeftovers('tiny');
  });

  it('a truncated saved_model.pb is a 400 invalid_model', async () => {
    const files = await filesOf(SAVED_MODEL);
    const pb = files['saved_model.pb']!;
    const answer = await upload('tiny', form({ ...files, 'saved_model.pb': pb.subarray(0, Math.floor(pb.byteLength / 2)) }));
    expect(answer).toMatchObject({ status: 400, code: 'invalid_model' });
  });

  it('a good SavedModel still uploads, as a .tar.gz, after all of the above', async () => {
    const files = await filesOf(SAVED_MODEL);
    const answer = await upload(
      'tiny',
      Buffer.from(tarGz(Object.entries(files).map(([p, d]) => ({ path: `export/${p}`, data: d })))),
      'application/gzip',
    );
    expect(answer.status).toBe(201);
    expect(answer.json).toMatchObject({ platform: 'tensorflow_savedmodel', state: 'READY' });
  });
});

describe('the inspection process is held to its limits', () => {
  it('over --upload-inspection-timeout it is killed: 400 invalid_model naming the limit', async () => {
    const tight = await startMockServer({ auth: false, dataDir: path.join(data.dir, 'tight-time'), uploadInspectionTimeoutMs: 300 });
    try {
      await create('m', tight.url);
      const answer = await upload('m', form(await irisFiles()), undefined, tight.url);
      expect(answer).toMatchObject({ status: 400, code: 'invalid_model' });
      expect(answer.message).toContain('inspecting the upload took longer than 0.3 s (--upload-inspection-timeout)');
      expect((await readdir(path.join(data.dir, 'tight-time', 'models', 'm'))).filter((e) => e.startsWith('.tmp-'))).toEqual([]);
    } finally {
      await tight.close();
    }
  });

  it('a model whose test-load takes longer than --max-model-load-seconds is refused: serving would stall the event loop as long', async () => {
    // 1 ms: every real load takes longer, so the check is exercised without a slow model.
    const tight = await startMockServer({ auth: false, dataDir: path.join(data.dir, 'tight-load'), maxModelLoadMs: 1 });
    try {
      await create('m', tight.url);
      const answer = await upload('m', form(await irisFiles()), undefined, tight.url);
      expect(answer).toMatchObject({ status: 400, code: 'invalid_model' });
      expect(answer.message).toMatch(
        /^loading the model took \d+\.\d s; the server loads models on its event loop, so it accepts models that load within 0\.0 s \(--max-model-load-seconds\)$/,
      );
      expect((await (await fetch(`${tight.url}/v1/models/m/versions`)).json()).data).toEqual([]);
    } finally {
      await tight.close();
    }
  });

  it('over --upload-inspection-memory it is killed: 413 naming the limit', async () => {
    // 600 MiB of zero weights in a 600 KB zip: the ratio is allowed here, the memory is not (TensorFlow
    // alone takes ~450 MB; reading the weights goes past 800).
    const tight = await startMockServer({
      auth: false,
      dataDir: path.join(data.dir, 'tight-memory'),
      uploadInspectionMemoryMb: 800,
      maxUploadExpansion: 100_000,
    });
    try {
      await create('m', tight.url);
      const weights = 600 * 1024 * 1024;
      const modelJson = JSON.stringify({
        format: 'layers-model',
        modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [] } },
        weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'w', shape: [weights / 4], dtype: 'float32' }] }],
      });
      const answer = await upload(
        'm',
        zipOf([
          { name: 'model.json', deflated: deflatedRepeats(Buffer.from(modelJson), 1) },
          { name: 'weights.bin', deflated: deflatedZeros(600) },
        ]),
        'application/zip',
        tight.url,
      );
      expect(answer).toMatchObject({ status: 413, code: 'payload_too_large' });
      expect(answer.message).toContain('inspecting the upload needed more than 800 MB of memory (--upload-inspection-memory)');
    } finally {
      await tight.close();
    }
  });

  it('rlimits: CPU time, file size, open files and no core dumps, set by prlimit or else sh', () => {
    const limits = { cpuSeconds: 65, fileBytes: 2 * GiB, openFiles: 512 };
    const argv = [process.execPath, '-e', 'process.stdout.write(require("fs").readFileSync("/proc/self/limits", "utf8"))'];
    const viaPrlimit = limitedCommand(argv, limits);
    const viaSh = limitedCommand(argv, limits, (name) => (name === 'sh' ? '/bin/sh' : undefined));
    const none = limitedCommand(argv, limits, () => undefined);
    expect([viaPrlimit.enforcedBy, viaSh.enforcedBy, none.enforcedBy]).toEqual([hasPrlimit() ? 'prlimit' : 'sh', 'sh', 'none']);
    for (const command of [viaPrlimit, viaSh]) {
      const table = execFileSync(command.command, command.args, { encoding: 'utf8' });
      expect(limitOf(table, 'Max cpu time')).toBe('65');
      expect(limitOf(table, 'Max file size')).toBe(String(2 * GiB));
      expect(limitOf(table, 'Max open files')).toBe('512');
      expect(limitOf(table, 'Max core file size')).toBe('0');
    }
  });
});

function limitOf(table: string, name: string): string | undefined {
  return table
    .split('\n')
    .find((line) => line.startsWith(name))
    ?.slice(26)
    .trim()
    .split(/\s+/)[0];
}

function hasPrlimit(): boolean {
  return spawnSync('prlimit', ['--version']).status === 0;
}

async function irisFiles(): Promise<Record<string, Uint8Array>> {
  const files = await filesOf(path.join(BUNDLED, 'iris', '1'));
  delete files['version.json'];
  return files;
}
