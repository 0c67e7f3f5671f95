/**
 * Export (#20 item 1): `GET /v1/models/{model}/versions/{version}/export`, `client.models.export`
 * and `modelport export`, through a real server on native TensorFlow. Every bundled model in every
 * format, by the three routes, is the same repository: its exact files, configs that the official
 * protos (protoc) and KServe's CRD accept, aliases (every target exported; a canary as KServe's
 * stable and canary rollout), the refusals (400, 404, 422) and access (403), and no temporary folder
 * left behind, a cancelled download included.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, type ReadEntry } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BuildSlots } from '../mock-server/export/build-slots';
import { exportDirPrefix, repositoryArchive } from '../mock-server/export/repository-archive';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import type * as tfTypes from '../mock-server/runtime/tfjs';
import { type APIError, BadRequestError, Modelport, NotFoundError, PermissionDeniedError } from '../src/index';
import { BUNDLED } from './helpers/data-dir';
import { tf } from './helpers/tf';
import { itWithProtoc, protocAccepts, protocMissing, validateInferenceService } from './support/official-specs';

const CLI = new URL('../mock-server/bin/modelport.js', import.meta.url).pathname;
const work = mkdtempSync(path.join(os.tmpdir(), 'modelport-export-test-'));
/** The server's temporary folders go here (os.tmpdir() reads TMPDIR), so the test can see that none is left. */
const tmp = path.join(work, 'tmp');
const FORMATS = ['triton', 'tf-serving', 'kserve'] as const;
type Format = (typeof FORMATS)[number];
const MODELS = { digits: 10, 'digits-mlp': 10, iris: 3 } as const;
const BUCKET = 's3://models-bucket';
/** Above Linux's largest pid (2^22): no process has it. */
const DEAD_PID = 4_194_305;

let server: RunningMockServer;
let admin: Modelport;

beforeAll(async () => {
  await mkdir(tmp, { recursive: true });
  process.env.TMPDIR = tmp;
  // Left by servers killed mid-export: one of a process that is gone, one of a process that runs (this one's parent).
  await mkdir(path.join(tmp, `${exportDirPrefix(DEAD_PID)}x1/iris`), { recursive: true });
  await mkdir(path.join(tmp, `${exportDirPrefix(process.ppid)}x2`));
  server = await startMockServer({ dataDir: path.join(work, 'repo') });
  admin = new Modelport({ baseUrl: server.url, apiKey: server.adminKey });
  // iris versions 2 and 3 (the same weights): a canary alias of two targets and an alias of three.
  const files = await Promise.all(
    ['model.json', 'weights.bin'].map(async (name) => ({
      name,
      data: new Uint8Array(await readFile(path.join(BUNDLED, 'iris', '1', name))),
    })),
  );
  await admin.models.versions.upload('iris', { files });
  await admin.models.versions.upload('iris', { files });
  await admin.models.aliases.set('iris', 'canary', [
    { version: 1, weight: 75 },
    { version: 2, weight: 25 },
  ]);
  await admin.models.aliases.set('iris', 'wide', [
    { version: 1, weight: 50 },
    { version: 2, weight: 30 },
    { version: 3, weight: 20 },
  ]);
});
afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

interface Entry {
  path: string;
  type: string;
  text?: string;
}

/** The archive's entries in order; small files' text too. */
function entriesOf(archive: Uint8Array): Promise<Entry[]> {
  const entries: Entry[] = [];
  return new Promise((resolve, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const found: Entry = { path: entry.path, type: entry.type };
        entries.push(found);
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => {
          if (entry.type === 'File' && !entry.path.endsWith('.pb')) found.text = Buffer.concat(chunks).toString('utf8');
        });
      },
    });
    parser.on('error', reject);
    parser.on('end', () => resolve(entries));
    parser.end(Buffer.from(archive));
  });
}

const filesOf = (entries: Entry[]) => entries.filter((e) => e.type === 'File').map((e) => e.path);
const textOf = (entries: Entry[], file: string) => entries.find((e) => e.path === file)?.text ?? expect.fail(`no ${file} in the archive`);

/** A Triton repository's files under `prefix` (layers models convert to one saved_model.pb). */
function tritonFiles(model: string, versions: number[], prefix = ''): string[] {
  return [
    `${prefix}${model}/config.pbtxt`,
    `${prefix}${model}/labels.txt`,
    ...versions.map((n) => `${prefix}${model}/${n}/model.savedmodel/saved_model.pb`),
  ];
}

function expectedFiles(model: string, format: Format, versions: number[]): string[] {
  const files =
    format === 'triton'
      ? tritonFiles(model, versions)
      : format === 'tf-serving'
        ? [...versions.map((n) => `${model}/${n}/saved_model.pb`), 'models.config']
        : versions.length === 1
          ? [...tritonFiles(model, versions, 'repository/'), 'inferenceservice.yaml']
          : [
              ...tritonFiles(model, [versions[0]!], 'stable/'),
              ...tritonFiles(model, [versions[1]!], 'canary/'),
              `${model}-stable.yaml`,
              `${model}-canary.yaml`,
            ];
  return [...files, 'README.txt'].sort();
}

function exportUrl(model: string, version: string | number, query: Record<string, string>): string {
  return `${server.url}/v1/models/${model}/versions/${version}/export?${new URLSearchParams(query)}`;
}

async function apiExport(model: string, version: string | number, query: Record<string, string>, key = server.adminKey): Promise<Response> {
  return fetch(exportUrl(model, version, query), { headers: { authorization: `Bearer ${key}` } });
}

function formatQuery(model: string, format: Format): Record<string, string> {
  return format === 'kserve' ? { format, storage_uri: `${BUCKET}/${model}` } : { format };
}

/** Runs the CLI against the test server. */
function modelport(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, '--url', server.url, ...args],
      { env: { ...process.env, MODELPORT_API_KEY: server.adminKey, TF_CPP_MIN_LOG_LEVEL: '3' } },
      (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    ).stdin!.end();
  });
}

/** Every file under `dir`, as posix paths relative to it, sorted. */
async function filesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** The export's temporary folders still on disk, but the live parent's planted one. */
async function leftovers(): Promise<string[]> {
  return (await readdir(tmp)).filter((name) => name.startsWith('modelport-export-') && !name.startsWith(exportDirPrefix(process.ppid)));
}

const protocIt = itWithProtoc();

describe('every bundled model in every format', () => {
  const archives = new Map<string, Entry[]>();

  for (const model of Object.keys(MODELS) as (keyof typeof MODELS)[]) {
    for (const format of FORMATS) {
      it(`${model} → ${format}: the API, the SDK and the CLI give the same files`, async () => {
        const response = await apiExport(model, 1, formatQuery(model, format));
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe('application/gzip');
        expect(response.headers.get('content-disposition')).toBe(`attachment; filename="${model}-${format}.tar.gz"`);
        const bytes = new Uint8Array(await response.arrayBuffer());
        const entries = await entriesOf(bytes);
        expect(filesOf(entries)).toEqual(expectedFiles(model, format, [1]));
        archives.set(`${model} ${format}`, entries);

        // The SDK gets the same bytes: the archive has no times or owners but the version's.
        const viaSdk = await admin.models.export(model, 1, format === 'kserve' ? { format, storageUri: `${BUCKET}/${model}` } : { format });
        expect(viaSdk).toEqual(bytes);

        const out = path.join(work, 'cli', `${model}-${format}`);
        const cli = await modelport([
          '--json',
          'export',
          `${model}@1`,
          '--format',
          format,
          '--out',
          out,
          ...(format === 'kserve' ? ['--storage-uri', `${BUCKET}/${model}`] : []),
        ]);
        expect(cli.stderr).toBe('');
        expect(cli.code).toBe(0);
        const printed = JSON.parse(cli.stdout);
        expect(printed).toMatchObject({ model, version: '1', format, out });
        expect(printed.files.map((f: { path: string }) => f.path)).toEqual(expectedFiles(model, format, [1]));
        expect(await filesIn(out)).toEqual(expectedFiles(model, format, [1]));
        for (const file of ['README.txt', ...(format === 'tf-serving' ? [`${model}/1/saved_model.pb`] : [])]) {
          expect((await stat(path.join(out, file))).size).toBe(printed.files.find((f: { path: string }) => f.path === file).size);
        }
      });
    }
  }

  it('Triton: config.pbtxt names the model, its SavedModel platform, batching, version and labels file; labels.txt one label a line', () => {
    for (const [model, classes] of Object.entries(MODELS)) {
      const entries = archives.get(`${model} triton`)!;
      const config = textOf(entries, `${model}/config.pbtxt`);
      expect(config).toContain(`name: "${model}"`);
      expect(config).toContain('platform: "tensorflow_savedmodel"');
      expect(config).toContain('max_batch_size: 64');
      expect(config).toMatch(/version_policy \{\s*specific \{\s*versions: \[1\]\s*\}\s*\}/);
      expect(config).toContain('label_filename: "labels.txt"');
      expect(config).toContain('dynamic_batching {');
      const labels = textOf(entries, `${model}/labels.txt`);
      expect(labels.split('\n')).toHaveLength(classes + 1);
      expect(textOf(entries, 'README.txt')).toContain('tritonserver --model-repository=');
    }
    expect(textOf(archives.get('iris triton')!, 'iris/labels.txt')).toBe('setosa\nversicolor\nvirginica\n');
    // max_batch_size 64: the dims leave the batch dimension out (iris [-1, 4] → [4]; digits [-1, 28, 28, 1] → [28, 28, 1]).
    const dims = (model: string) =>
      [...textOf(archives.get(`${model} triton`)!, `${model}/config.pbtxt`).matchAll(/dims: (\[[\d, ]+\])/g)].map((m) => m[1]);
    expect(dims('iris')).toEqual(['[4]', '[3]']);
    expect(dims('digits')).toEqual(['[28, 28, 1]', '[10]']);
    expect(dims('digits-mlp')).toEqual(['[28, 28, 1]', '[10]']);
  });

  it("TF Serving: models.config's base path is /models/<model>, its version 1, the production alias a label", () => {
    for (const model of Object.keys(MODELS)) {
      const entries = archives.get(`${model} tf-serving`)!;
      const config = textOf(entries, 'models.config');
      expect(config).toContain(`name: "${model}"`);
      expect(config).toContain(`base_path: "/models/${model}"`);
      expect(config).toContain('model_platform: "tensorflow"');
      expect(config).toMatch(/version_labels \{\s*key: "production"\s*value: 1\s*\}/);
      expect(textOf(entries, 'README.txt')).toContain('--model_config_file=');
    }
  });

  it('KServe: inferenceservice.yaml serves the Triton repository from the storage URI over protocol v2', () => {
    for (const model of Object.keys(MODELS)) {
      const entries = archives.get(`${model} kserve`)!;
      const service = parse(textOf(entries, 'inferenceservice.yaml'));
      expect(service).toMatchObject({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name: model } });
      expect(service.spec.predictor.model).toMatchObject({
        protocolVersion: 'v2',
        storageUri: `${BUCKET}/${model}`,
        modelFormat: { name: 'tensorflow' },
      });
      expect(validateInferenceService(service)).toEqual([]);
      expect(textOf(entries, `repository/${model}/config.pbtxt`)).toBe(textOf(archives.get(`${model} triton`)!, `${model}/config.pbtxt`));
      const readme = textOf(entries, 'README.txt');
      expect(readme).toContain(`aws s3 cp --recursive repository ${BUCKET}/${model}\n  kubectl apply -f inferenceservice.yaml\n`);
    }
  });

  protocIt("protoc accepts every config.pbtxt and models.config with Triton's and TF Serving's official protos", () => {
    for (const model of Object.keys(MODELS)) {
      for (const [format, kind, file] of [
        ['triton', 'triton', `${model}/config.pbtxt`],
        ['kserve', 'triton', `repository/${model}/config.pbtxt`],
        ['tf-serving', 'tf-serving', 'models.config'],
      ] as const) {
        const verdict = protocAccepts(kind, textOf(archives.get(`${model} ${format}`)!, file));
        expect(verdict, `${model} ${format} ${file}: ${verdict.stderr}`).toMatchObject({ ok: true });
      }
    }
  });
});

describe('a model trained by a training job', () => {
  it('exports to all three formats; without batching its dims keep the batch dimension; a bare name is its newest version', async () => {
    const job = await admin.trainingJobs.create({
      model: 'trained-iris',
      task: 'classification',
      labels: ['setosa', 'versicolor', 'virginica'],
      dataset: 'iris-train',
      architecture: {
        input: { name: 'features', shape: [4] },
        layers: [
          { type: 'dense', units: 8, activation: 'relu' },
          { type: 'dense', units: 3, activation: 'softmax' },
        ],
      },
      epochs: 1,
      optimizer: { name: 'adam' },
      seed: 1,
    });
    expect((await job.wait()).status).toBe('succeeded');
    // A classifier with labels: labels.txt is exported.
    expect((await admin.models.get('trained-iris')).labels).toEqual(['setosa', 'versicolor', 'virginica']);
    for (const format of FORMATS) {
      const response = await apiExport('trained-iris', 1, formatQuery('trained-iris', format));
      expect(response.status).toBe(200);
      const entries = await entriesOf(new Uint8Array(await response.arrayBuffer()));
      const expected = expectedFiles('trained-iris', format, [1]);
      expect(filesOf(entries)).toEqual(expected);
      if (format === 'kserve') expect(validateInferenceService(parse(textOf(entries, 'inferenceservice.yaml')))).toEqual([]);
      const [kind, file] =
        format === 'tf-serving'
          ? (['tf-serving', 'models.config'] as const)
          : (['triton', expected.find((f) => f.endsWith('config.pbtxt'))!] as const);
      const config = textOf(entries, file);
      if (!protocMissing()) expect(protocAccepts(kind, config)).toMatchObject({ ok: true });
      if (kind === 'triton') {
        expect(config).toContain('max_batch_size: 0');
        expect([...config.matchAll(/dims: (\[[-\d, ]+\])/g)].map((m) => m[1])).toEqual(['[-1, 4]', '[-1, 3]']);
      }
    }
    const out = path.join(work, 'cli', 'trained');
    const cli = await modelport(['--json', 'export', 'trained-iris', '--format', 'triton', '--out', out]);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ model: 'trained-iris', version: '1' });
  });
});

describe('an uploaded SavedModel', () => {
  it('is copied file for file, its variables too; a model without labels has no labels.txt', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/savedmodel/tiny-classifier/', import.meta.url));
    await admin.models.create({ name: 'tiny', task: 'tabular-classification' });
    await admin.models.versions.upload('tiny', { directory: fixture });
    const savedModel = ['fingerprint.pb', 'saved_model.pb', 'variables/variables.data-00000-of-00001', 'variables/variables.index'];
    const out = path.join(work, 'cli', 'tiny');
    const cli = await modelport(['export', 'tiny@1', '--format', 'triton', '--out', out]);
    expect(cli.code).toBe(0);
    expect(await filesIn(out)).toEqual(
      ['README.txt', ...savedModel.map((f) => `tiny/1/model.savedmodel/${f}`), 'tiny/config.pbtxt'].sort(),
    );
    for (const file of savedModel) {
      expect(await readFile(path.join(out, 'tiny/1/model.savedmodel', file))).toEqual(await readFile(path.join(fixture, file)));
    }
    const config = await readFile(path.join(out, 'tiny/config.pbtxt'), 'utf8');
    expect(config).toContain('name: "features"');
    expect(config).toContain('name: "scores"');
    expect(config).not.toContain('label_filename');
    const tfServing = await entriesOf(await admin.models.export('tiny', 1, { format: 'tf-serving' }));
    expect(filesOf(tfServing)).toEqual(['README.txt', 'models.config', ...savedModel.map((f) => `tiny/1/${f}`)].sort());
  });
});

describe('aliases', () => {
  /** The configs of the alias exports, for protoc: [kind, label, text]. */
  const configs: ['triton' | 'tf-serving', string, string][] = [];

  it('an alias exports every version it points at; a version number only that version', async () => {
    const triton = await entriesOf(await admin.models.export('iris', 'canary', { format: 'triton' }));
    expect(filesOf(triton)).toEqual(expectedFiles('iris', 'triton', [1, 2]));
    configs.push(['triton', 'iris@canary triton', textOf(triton, 'iris/config.pbtxt')]);
    expect(textOf(triton, 'iris/config.pbtxt')).toMatch(/specific \{\s*versions: \[1, 2\]\s*\}/);

    const tfServing = await entriesOf(await admin.models.export('iris', 'canary', { format: 'tf-serving' }));
    expect(filesOf(tfServing)).toEqual(expectedFiles('iris', 'tf-serving', [1, 2]));
    configs.push(['tf-serving', 'iris@canary tf-serving', textOf(tfServing, 'models.config')]);
    // Every alias whose version is exported is a label, and a TF Serving label is one version: a
    // canary's label is its largest share (canary: 1 at 75; wide: 1 at 50).
    const labels = [...textOf(tfServing, 'models.config').matchAll(/key: "(\w+)"\s*value: (\d+)/g)].map((m) => `${m[1]}=${m[2]}`);
    expect(labels).toEqual(['canary=1', 'production=1', 'wide=1']);

    const two = await entriesOf(await admin.models.export('iris', '2', { format: 'triton' }));
    expect(filesOf(two)).toEqual(expectedFiles('iris', 'triton', [2]));
  });

  it("a canary (two targets) is KServe's rollout: the stable repository and manifest, then the canary's with its share", async () => {
    const archive = await admin.models.export('iris', 'canary', { format: 'kserve', storageUri: 'gs://bucket/iris/' });
    const entries = await entriesOf(archive);
    expect(filesOf(entries)).toEqual(expectedFiles('iris', 'kserve', [1, 2]));
    for (const side of ['stable', 'canary'])
      configs.push(['triton', `iris@canary kserve ${side}`, textOf(entries, `${side}/iris/config.pbtxt`)]);
    expect(textOf(entries, 'stable/iris/config.pbtxt')).toMatch(/specific \{\s*versions: \[1\]\s*\}/);
    expect(textOf(entries, 'canary/iris/config.pbtxt')).toMatch(/specific \{\s*versions: \[2\]\s*\}/);
    const stable = parse(textOf(entries, 'iris-stable.yaml'));
    const canary = parse(textOf(entries, 'iris-canary.yaml'));
    // The storage URI's trailing slash is not doubled.
    expect(stable.spec.predictor.model.storageUri).toBe('gs://bucket/iris/stable');
    expect(stable.spec.predictor.canaryTrafficPercent).toBe(undefined);
    expect(canary.spec.predictor.model.storageUri).toBe('gs://bucket/iris/canary');
    expect(canary.spec.predictor.canaryTrafficPercent).toBe(25);
    expect(canary.metadata.name).toBe(stable.metadata.name);
    for (const manifest of [stable, canary]) expect(validateInferenceService(manifest)).toEqual([]);
    const readme = textOf(entries, 'README.txt');
    expect(readme).toContain('gsutil -m cp -r stable/* gs://bucket/iris/stable/\n  gsutil -m cp -r canary/* gs://bucket/iris/canary/\n');
    expect(readme.indexOf('kubectl apply -f iris-stable.yaml')).toBeLessThan(readme.indexOf('kubectl apply -f iris-canary.yaml'));
  });

  it('an alias of three targets is no KServe rollout (422); Triton and TF Serving take all three', async () => {
    const response = await apiExport('iris', 'wide', { format: 'kserve', storage_uri: `${BUCKET}/iris` });
    expect(response.status).toBe(422);
    const body = await response.json();
    expect(body.code).toBe('not_exportable');
    expect(body.error).toContain("'iris@wide' has 3 targets");
    const triton = await entriesOf(await admin.models.export('iris', 'wide', { format: 'triton' }));
    expect(filesOf(triton)).toEqual(expectedFiles('iris', 'triton', [1, 2, 3]));
    configs.push(['triton', 'iris@wide triton', textOf(triton, 'iris/config.pbtxt')]);
  });

  protocIt("protoc accepts the alias exports' configs (several versions, version labels, each side of a canary)", () => {
    expect(configs.map(([, label]) => label)).toEqual([
      'iris@canary triton',
      'iris@canary tf-serving',
      'iris@canary kserve stable',
      'iris@canary kserve canary',
      'iris@wide triton',
    ]);
    for (const [kind, label, text] of configs) {
      const verdict = protocAccepts(kind, text);
      expect(verdict, `${label}: ${verdict.stderr}`).toMatchObject({ ok: true });
    }
  });

  it('the CLI exports model@alias, and a bare model as its production alias', async () => {
    const out = path.join(work, 'cli', 'iris-canary');
    const canary = await modelport(['export', 'iris@canary', '--format', 'kserve', '--storage-uri', 'gs://bucket/iris', '--out', out]);
    expect(canary.code).toBe(0);
    expect(canary.stderr).toBe('exporting iris@canary for kserve…\n');
    expect(canary.stdout).toMatch(/^FILE\s+SIZE$/m);
    expect(canary.stdout).toMatch(/^canary\/iris\/2\/model\.savedmodel\/saved_model\.pb\s+\d+ KiB$/m);
    expect(canary.stdout).toMatch(/^canary\/iris\/labels\.txt\s+28 B$/m);
    expect(canary.stdout).toContain(`iris@canary exported for kserve to ${out} (${expectedFiles('iris', 'kserve', [1, 2]).length} files)`);
    expect(await filesIn(out)).toEqual(expectedFiles('iris', 'kserve', [1, 2]));

    const bare = await modelport(['--json', 'export', 'iris', '--format', 'tf-serving', '--out', path.join(work, 'cli', 'iris-bare')]);
    expect(bare.code).toBe(0);
    expect(JSON.parse(bare.stdout)).toMatchObject({ model: 'iris', version: 'production' });
    expect(await filesIn(path.join(work, 'cli', 'iris-bare'))).toEqual(expectedFiles('iris', 'tf-serving', [1]));
  });
});

describe('refusals', () => {
  it('404: an unknown model, version or alias', async () => {
    for (const [model, version, code, message] of [
      ['ghost', '1', 'model_not_found', "model 'ghost' not found"],
      ['iris', '9', 'version_not_found', "model 'iris' has no version or alias '9'"],
      ['iris', 'nightly', 'version_not_found', "model 'iris' has no version or alias 'nightly'"],
    ]) {
      const response = await apiExport(model!, version!, { format: 'triton' });
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ code, error: message });
    }
    await expect(admin.models.export('iris', 'nightly', { format: 'triton' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('400: no or an unknown format; kserve without a storage URI; a storage URI for another format or not a URI', async () => {
    const cases: [Record<string, string>, string][] = [
      [{}, 'format'],
      [{ format: 'onnx' }, 'format'],
      [{ format: 'kserve' }, 'storage_uri'],
      [{ format: 'triton', storage_uri: `${BUCKET}/iris` }, 'storage_uri'],
      [{ format: 'kserve', storage_uri: 'bucket/iris' }, 'storage_uri'],
    ];
    for (const [query, field] of cases) {
      const response = await apiExport('iris', 1, query);
      expect(response.status, JSON.stringify(query)).toBe(400);
      const body = await response.json();
      expect(body.code).toBe('invalid_request');
      expect(body.details.map((d: { path: string }) => d.path).join(' '), JSON.stringify(query)).toContain(field);
    }
    const kserve = await (await apiExport('iris', 1, { format: 'kserve' })).json();
    expect(kserve.error).toBe(
      'format kserve needs storage_uri: where the repository will be copied for KServe (e.g. s3://bucket/models/iris)',
    );
    const triton = await (await apiExport('iris', 1, { format: 'triton', storage_uri: `${BUCKET}/iris` })).json();
    expect(triton.error).toBe('storage_uri is for format kserve only; format triton has no storage location');
  });

  it('422 not_exportable: a layer with no SavedModel translation, named; the CLI exits 1 with the message', async () => {
    const input = tf.input({ shape: [5, 2], name: 'sequence' });
    const output = tf.layers
      .dense({ units: 2 })
      .apply(tf.layers.gru({ units: 3, name: 'gru_layer' }).apply(input)) as tfTypes.SymbolicTensor;
    const dir = path.join(work, 'gru');
    await tf.model({ inputs: input, outputs: output }).save(`file://${dir}`);
    await admin.models.create({ name: 'gru-model', task: 'regression' });
    await admin.models.versions.upload('gru-model', { directory: dir });

    const response = await apiExport('gru-model', 1, { format: 'triton' });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({
      code: 'not_exportable',
      error: "gru-model version 1 cannot be exported: layer 'gru_layer' (GRU) has no graph translation",
    });
    const refusal = await admin.models.export('gru-model', 1, { format: 'tf-serving' }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(BadRequestError);
    expect(refusal).toMatchObject({ status: 422, code: 'not_exportable' });

    const out = path.join(work, 'cli', 'gru');
    const cli = await modelport(['export', 'gru-model@1', '--format', 'triton', '--out', out]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain("modelport: 422 gru-model version 1 cannot be exported: layer 'gru_layer' (GRU) has no graph translation");
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it('the CLI: usage errors exit 2 before anything is asked; a folder that is not empty needs --force', async () => {
    const out = path.join(work, 'cli', 'busy');
    await mkdir(out, { recursive: true });
    await writeFile(path.join(out, 'keep.txt'), 'mine');
    const busy = await modelport(['export', 'iris@1', '--format', 'triton', '--out', out]);
    expect(busy).toMatchObject({ code: 2, stdout: '' });
    expect(busy.stderr).toBe(`modelport: ${out} is not empty (1 entries); give an empty folder, or --force\n`);
    const forced = await modelport(['export', 'iris@1', '--format', 'triton', '--out', out, '--force']);
    expect(forced.code).toBe(0);
    expect(await filesIn(out)).toEqual([...expectedFiles('iris', 'triton', [1]), 'keep.txt'].sort());

    const noUri = await modelport(['export', 'iris', '--format', 'kserve', '--out', path.join(work, 'cli', 'no-uri')]);
    expect(noUri).toMatchObject({ code: 2, stderr: 'modelport: --format kserve needs --storage-uri\n' });
    const badFormat = await modelport(['export', 'iris', '--format', 'onnx', '--out', path.join(work, 'cli', 'onnx')]);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain("argument 'onnx' is invalid. Allowed choices are triton, tf-serving, kserve.");
    const unknown = await modelport(['export', 'iris@nightly', '--format', 'triton', '--out', path.join(work, 'cli', 'nightly')]);
    expect(unknown).toMatchObject({
      code: 1,
      stderr: "exporting iris@nightly for triton…\nmodelport: 404 model 'iris' has no version or alias 'nightly'\n",
    });
  });
});

describe('access', () => {
  it('needs models:read (403 forbidden), and a key restricted to other models is 403 model_forbidden', async () => {
    const inference = await admin.apiKeys.create({ name: 'export-inference', scopes: ['inference'] });
    const forbidden = await apiExport('iris', 1, { format: 'triton' }, inference.secret);
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json()).code).toBe('forbidden');

    const digitsOnly = await admin.apiKeys.create({ name: 'export-digits', scopes: ['models:read'], models: ['digits'] });
    const other = await apiExport('iris', 1, { format: 'triton' }, digitsOnly.secret);
    expect(other.status).toBe(403);
    expect((await other.json()).code).toBe('model_forbidden');
    expect((await apiExport('digits', 1, { format: 'triton' }, digitsOnly.secret)).status).toBe(200);
    const client = new Modelport({ baseUrl: server.url, apiKey: digitsOnly.secret });
    const refusal = await client.models.export('iris', 1, { format: 'triton' }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(PermissionDeniedError);
    expect((refusal as APIError).code).toBe('model_forbidden');
  });
});

describe('the archive', () => {
  it('holds plain files only: a file added twice, or two names of one file, become two files (tar would write a link entry)', async () => {
    const dir = path.join(work, 'linked');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'weights.bin'), 'weights');
    await link(path.join(dir, 'weights.bin'), path.join(dir, 'same-weights.bin'));
    const stream = await repositoryArchive(async (writer) => {
      await writer.add({ path: 'a/weights.bin', source: path.join(dir, 'weights.bin') });
      await writer.add({ path: 'b/weights.bin', source: path.join(dir, 'weights.bin') });
      await writer.add({ path: 'c/weights.bin', source: path.join(dir, 'same-weights.bin') });
      await writer.add({ path: 'README.txt', data: 'hello' });
    }, new Date('2026-01-02T03:04:05Z'));
    const entries = await entriesOf(new Uint8Array(await new Response(stream).arrayBuffer()));
    expect(entries.map((e) => `${e.type} ${e.path} ${e.text ?? ''}`)).toEqual([
      'File README.txt hello',
      'Directory a/ ',
      'File a/weights.bin weights',
      'Directory b/ ',
      'File b/weights.bin weights',
      'Directory c/ ',
      'File c/weights.bin weights',
    ]);
    await expect(repositoryArchive((writer) => writer.add({ path: '../escape', data: 'x' }), new Date())).rejects.toThrow(
      "repository path '../escape' is not a plain relative path",
    );
  });
});

describe('exports built at once', () => {
  it('at most the limit build at once, the next in arrival order; a failed build frees its slot', async () => {
    const slots = new BuildSlots(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const build = (i: number, fail = false) =>
      slots.run(async () => {
        started.push(i);
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 20));
        running--;
        if (fail) throw new Error(`build ${i} failed`);
        return i;
      });
    const results = await Promise.allSettled([build(0), build(1, true), build(2), build(3), build(4)]);
    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([0, 'build 1 failed', 2, 3, 4]);
    expect(await slots.run(async () => 'free')).toBe('free');
  });
});

describe('temporary folders', () => {
  it("none is left: after the exports, the refusals, a download abandoned after its first chunk, and a dead server's (a live one's stays)", async () => {
    const response = await apiExport('digits-mlp', 1, { format: 'triton' });
    const reader = response.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel();
    // The server learns of the closed connection a moment later.
    for (let i = 0; i < 50 && (await leftovers()).length; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await leftovers()).toEqual([]);
    expect(await readdir(tmp)).toContain(`${exportDirPrefix(process.ppid)}x2`);
  });
});
