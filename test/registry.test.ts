import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError, ConflictError, Modelport, NotFoundError, type ModelVersion } from '../src/index';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { filesOf, tar, tarGz, zip } from './helpers/archives';
import { BUNDLED, tempDataDir } from './helpers/data-dir';

const SAVED_MODEL = new URL('./fixtures/savedmodel/tiny-classifier/', import.meta.url).pathname;
const mnist = loadMnistSplit().test;
let data: Awaited<ReturnType<typeof tempDataDir>>;
let server: RunningMockServer;
let client: Modelport;
let mlpDir: string;

const tfjsFiles = async (model: string) => {
  const files = await filesOf(path.join(BUNDLED, model, '1'));
  delete files['version.json'];
  return files;
};

beforeAll(async () => {
  data = await tempDataDir();
  server = await startMockServer({ auth: false, dataDir: path.join(data.dir, 'repo'), maxUploadBytes: 400_000 });
  client = new Modelport({ baseUrl: server.url, maxRetries: 0 });
  mlpDir = path.join(data.dir, 'digits-mlp-artifacts');
  await mkdir(mlpDir);
  for (const file of ['model.json', 'weights.bin']) await cp(path.join(BUNDLED, 'digits-mlp', '1', file), path.join(mlpDir, file));
});
afterAll(async () => {
  await server?.close();
  await data?.remove();
});

describe('models', () => {
  it('create, get, update, list with filters and pages, delete', async () => {
    const created = await client.models.create({
      name: 'reviews',
      task: 'text-classification',
      description: 'sentiment',
      labels: ['neg', 'pos'],
      tags: ['nlp'],
    });
    expect(created).toMatchObject({
      name: 'reviews',
      task: 'text-classification',
      status: 'empty',
      versions: [],
      aliases: {},
      labels: ['neg', 'pos'],
      tags: ['nlp'],
    });
    expect(await client.models.get('reviews')).toEqual(created);
    const updated = await client.models.update('reviews', { tags: ['nlp', 'english'], description: 'sentiment of reviews' });
    expect(updated).toMatchObject({ tags: ['nlp', 'english'], description: 'sentiment of reviews', task: 'text-classification' });

    const images = await client.models.list({ task: 'image-classification' });
    expect(images.data.map((m) => m.name)).toEqual(['digits', 'digits-mlp']);
    expect((await client.models.list({ tag: 'english' })).data.map((m) => m.name)).toEqual(['reviews']);
    expect((await client.models.list({ status: 'empty' })).data.map((m) => m.name)).toEqual(['reviews']);
    const firstPage = await client.models.list({ limit: 2 });
    expect(firstPage.data.map((m) => m.name)).toEqual(['digits', 'digits-mlp']);
    expect(firstPage.next_cursor).toEqual(expect.any(String));
    const all = await client.models.list({ limit: 2 }).toArray();
    expect(all.map((m) => m.name)).toEqual(['digits', 'digits-mlp', 'iris', 'reviews']);

    await client.models.delete('reviews');
    await expect(client.models.get('reviews')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('duplicate names are 409; a retried create with the same idempotency key is answered once', async () => {
    await expect(client.models.create({ name: 'digits', task: 'x' })).rejects.toMatchObject({ status: 409, code: 'model_exists' });
    const first = await client.models.create({ name: 'once', task: 'x' }, { idempotencyKey: 'create-once' });
    const again = await client.transport.send({
      method: 'POST',
      path: 'v1/models',
      json: { name: 'once', task: 'x' },
      idempotencyKey: 'create-once',
    });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(first);
    await expect(
      client.transport.json({ method: 'POST', path: 'v1/models', json: { name: 'other', task: 'x' }, idempotencyKey: 'create-once' }),
    ).rejects.toMatchObject({ status: 422, code: 'idempotency_key_reused' });
  });

  it('bad bodies are 400 with details', async () => {
    const error = await client.models.create({ name: '../etc', task: '' } as never).catch((e) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.details.map((d: { path: string }) => d.path).sort()).toEqual(['/name', '/task']);
  });
});

describe('versions', () => {
  let uploaded: ModelVersion;

  it('uploads a TF.js model from a directory, with progress, and serves it at once', async () => {
    const progress: number[] = [];
    uploaded = await client.models.versions.upload(
      'digits',
      { directory: mlpDir },
      { metadata: { metrics: { accuracy: 0.9405 } }, onProgress: (p) => progress.push(p.percent) },
    );
    expect(uploaded).toMatchObject({
      model: 'digits',
      version: 2,
      platform: 'tfjs_layers',
      state: 'READY',
      aliases: [],
      metrics: { accuracy: 0.9405 },
      inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 28, 28, 1] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }],
    });
    expect(uploaded.size_bytes).toBe(205_417);
    expect(progress.at(-1)).toBe(1);
    const prediction = await client.predict('digits', mnist.x.subarray(0, 784), { version: 2 });
    expect(prediction.version).toBe('2');
    expect((await client.models.versions.list('digits')).data.map((v) => v.version)).toEqual([1, 2]);
    // `production` still points at 1, so unversioned traffic has not moved.
    expect((await client.predict('digits', mnist.x.subarray(0, 784))).version).toBe('1');
  });

  it('uploads a SavedModel as .tar.gz and as .zip, and records its signature', async () => {
    await client.models.create({ name: 'tiny', task: 'tabular-classification' });
    const files = await filesOf(SAVED_MODEL);
    const fromTar = await client.models.versions.upload('tiny', {
      archive: tarGz(Object.entries(files).map(([p, d]) => ({ path: `export/${p}`, data: d }))),
      format: 'tar.gz',
    });
    expect(fromTar).toMatchObject({
      version: 1,
      platform: 'tensorflow_savedmodel',
      signature: 'serving_default',
      state: 'READY',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 8] }],
      outputs: [{ name: 'scores', datatype: 'FP32', shape: [-1, 4] }],
    });
    const fromZip = await client.models.versions.upload('tiny', { archive: zip(files), format: 'zip' });
    expect(fromZip.version).toBe(2);
    const prediction = await client.predict('tiny', [[0, 0, 0, 0, 0, 0, 0, 0]], { version: 2 });
    expect(prediction.output.shape).toEqual([1, 4]);
    expect((await client.models.get('tiny')).inputs).toEqual(fromTar.inputs);
  });

  it.each([
    [
      'a path escaping the folder (zip)',
      () => ({
        archive: zip({ 'model.json': new Uint8Array(2), '../escaped.txt': new TextEncoder().encode('x') }),
        format: 'zip' as const,
      }),
      'unsafe_path',
    ],
    [
      'an absolute path (tar)',
      () => ({ archive: tar([{ path: '/tmp/abs.txt', data: new Uint8Array(1) }]), format: 'tar' as const }),
      'unsafe_path',
    ],
    [
      'a symlink (tar)',
      () => ({ archive: tar([{ path: 'link', type: 'SymbolicLink', linkpath: '/etc/passwd' }]), format: 'tar' as const }),
      'unsafe_path',
    ],
    ['not an archive at all', () => ({ archive: new TextEncoder().encode('hello'), format: 'zip' as const }), 'invalid_archive'],
    ['neither model.json nor saved_model.pb', () => ({ files: [{ name: 'readme.txt', data: new Uint8Array(3) }] }), 'invalid_archive'],
  ])('rejects %s with 400 and writes nothing', async (_, source, code) => {
    const before = await readdir(path.join(data.dir, 'repo', 'models', 'digits'));
    const error = await client.models.versions.upload('digits', source()).catch((e) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.code).toBe(code);
    expect(await readdir(path.join(data.dir, 'repo', 'models', 'digits'))).toEqual(before);
    expect(existsSync(path.join(data.dir, 'repo', 'models', 'escaped.txt'))).toBe(false);
    expect(existsSync(path.join(data.dir, 'repo', 'escaped.txt'))).toBe(false);
  });

  it('rejects a manifest that does not match its shards, naming what is missing', async () => {
    const files = await tfjsFiles('digits-mlp');
    const missing = await client.models.versions
      .upload('digits', { files: [{ name: 'model.json', data: files['model.json']! }] })
      .catch((e) => e);
    expect(missing).toMatchObject({
      status: 400,
      code: 'manifest_mismatch',
      details: [{ path: '/files/weights.bin', message: 'named by the manifest, not uploaded' }],
    });
    const truncated = await client.models.versions
      .upload('digits', {
        files: [
          { name: 'model.json', data: files['model.json']! },
          { name: 'weights.bin', data: files['weights.bin']!.subarray(0, 1000) },
        ],
      })
      .catch((e) => e);
    expect(truncated).toMatchObject({ status: 400, code: 'manifest_mismatch' });
    expect(truncated.message).toContain('the weight shards hold 1000 bytes but the manifest declares 203560');
  });

  it("rejects a model whose signature does not match the model's", async () => {
    const files = await tfjsFiles('iris');
    const error = await client.models.versions
      .upload('digits', { files: Object.entries(files).map(([name, d]) => ({ name, data: d })) })
      .catch((e) => e);
    expect(error).toMatchObject({ status: 400, code: 'signature_mismatch' });
    expect(error.message).toContain("inputs 0 ('image'): model has shape [-1,4], the model config declares [-1,28,28,1]");
  });

  it('rejects an upload over the size limit with 413', async () => {
    const files = await tfjsFiles('digits');
    const big = new Uint8Array(450_000);
    const error = await client.models.versions
      .upload('digits', {
        files: [
          { name: 'model.json', data: files['model.json']! },
          { name: 'weights.bin', data: big },
        ],
      })
      .catch((e) => e);
    expect(error).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it('unknown model, version and alias are 404', async () => {
    await expect(client.models.versions.get('nope', 1)).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    await expect(client.models.versions.get('digits', 99)).rejects.toMatchObject({ status: 404, code: 'version_not_found' });
    await expect(client.models.aliases.delete('digits', 'nightly')).rejects.toMatchObject({ status: 404, code: 'alias_not_found' });
    await expect(client.models.aliases.set('digits', 'staging', 42)).rejects.toMatchObject({ status: 404, code: 'version_not_found' });
    await expect(client.models.versions.upload('nope', { directory: mlpDir })).rejects.toMatchObject({ status: 404 });
  });

  it('unload and load through /v1 share state with the OIP repository extension', async () => {
    expect(await client.models.versions.unload('digits', 2)).toMatchObject({ state: 'UNAVAILABLE', reason: 'unloaded' });
    const index = await (await fetch(`${server.url}/v2/repository/index`, { method: 'POST' })).json();
    expect(index).toContainEqual({ name: 'digits', version: '2', state: 'UNAVAILABLE', reason: 'unloaded' });
    await expect(client.predict('digits', mnist.x.subarray(0, 784), { version: 2 })).rejects.toMatchObject({ status: 503 });
    await fetch(`${server.url}/v2/repository/models/digits/load`, {
      method: 'POST',
      body: JSON.stringify({ parameters: { version: '2' } }),
    });
    expect((await client.models.versions.get('digits', 2)).state).toBe('READY');
  });
});

describe('aliases and traffic', () => {
  it('moving production moves unversioned traffic; deleting an aliased version is 409', async () => {
    await client.models.aliases.set('digits', 'production', 2);
    expect((await client.predict('digits', mnist.x.subarray(0, 784))).version).toBe('2');
    expect((await client.models.versions.get('digits', 2)).aliases).toEqual(['production']);
    const error = await client.models.versions.delete('digits', 2).catch((e) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.code).toBe('version_in_use');
    expect(error.message).toBe("409 version 2 of 'digits' is what alias 'production' points at; move the alias first");
    await client.models.aliases.set('digits', 'production', 1); // roll back
    expect((await client.predict('digits', mnist.x.subarray(0, 784))).version).toBe('1');
  });

  it('a 90/10 canary splits 1,000 requests within statistical tolerance', async () => {
    await client.models.aliases.set('digits', 'production', [
      { version: 1, weight: 90 },
      { version: 2, weight: 10 },
    ]);
    const pixels = mnist.x.subarray(0, 784);
    let toCanary = 0;
    for (let start = 0; start < 1000; start += 50) {
      const versions = await Promise.all(Array.from({ length: 50 }, async () => (await client.predict('digits', pixels)).version));
      toCanary += versions.filter((v) => v === '2').length;
    }
    // Binomial(1000, 0.1): mean 100, sd 9.5; ±5 sd is far beyond chance.
    expect(toCanary).toBeGreaterThan(52);
    expect(toCanary).toBeLessThan(148);
    expect((await client.models.aliases.list('digits')).data).toContainEqual({
      model: 'digits',
      name: 'production',
      targets: [
        { version: 1, weight: 90 },
        { version: 2, weight: 10 },
      ],
    });
    await client.models.aliases.set('digits', 'production', 1);
  });

  it('a named alias works as a version in /v2 paths', async () => {
    await client.models.aliases.set('digits', 'staging', 2);
    expect((await client.predict('digits', mnist.x.subarray(0, 784), { version: 'staging' })).version).toBe('2');
    await client.models.aliases.delete('digits', 'staging');
    await client.models.versions.delete('digits', 2);
    expect((await client.models.get('digits')).versions).toEqual([1]);
  });
});

describe('durability', () => {
  it('models, versions, aliases and metrics survive a restart on the same data directory', async () => {
    const dir = path.join(data.dir, 'restart');
    const first = await startMockServer({ auth: false, dataDir: dir });
    const a = new Modelport({ baseUrl: first.url });
    await a.models.create({
      name: 'kept',
      task: 'image-classification',
      labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      tags: ['t'],
    });
    await a.models.versions.upload('kept', { directory: mlpDir }, { metadata: { metrics: { accuracy: 0.94 } } });
    await a.models.versions.upload('kept', { directory: mlpDir });
    await a.models.aliases.set('kept', 'production', [
      { version: 1, weight: 3 },
      { version: 2, weight: 1 },
    ]);
    const before = { model: await a.models.get('kept'), versions: (await a.models.versions.list('kept')).data };
    await first.close();

    const second = await startMockServer({ auth: false, dataDir: dir });
    const b = new Modelport({ baseUrl: second.url });
    try {
      expect(await b.models.get('kept')).toEqual(before.model);
      expect((await b.models.versions.list('kept')).data).toEqual(before.versions);
      expect((await b.models.versions.get('kept', 1)).metrics).toEqual({ accuracy: 0.94 });
      expect((await b.predict('kept', mnist.x.subarray(0, 784))).labels).toEqual([String(mnist.y[0])]);
    } finally {
      await second.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
