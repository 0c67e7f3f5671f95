/**
 * The SDK as a package its users depend on: the environment variables it reads, its precise
 * public types (literal error statuses, documented error codes, training events narrowed by
 * `type`, classifications), that it type-checks without the DOM lib under strict +
 * exactOptionalPropertyTypes, that importing it runs nothing, and that its CommonJS build (the
 * package.json "tsup" config, built into a temporary folder) predicts on Node without
 * require(esm). The packed tarball itself is test/consumer's job.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import AjvModule from 'ajv/dist/2020.js';
import { build as esbuild } from 'esbuild';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { parse } from 'yaml';
import {
  APIError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  InternalServerError,
  Modelport,
  ModelportError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  ServiceUnavailableError,
  TimeoutError,
  type Classification,
  type ErrorCode,
  type Prediction,
  type TrainingEvent,
} from '../src/index';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { tempDataDir } from './helpers/data-dir';
import { errorReply, jsonReply, scriptedFetch } from './helpers/scripted-fetch';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// ajv is CommonJS: its default export is the class under bundlers, the module under Node's loader.
const Ajv = ((AjvModule as unknown as { default?: typeof AjvModule }).default ?? AjvModule) as typeof AjvModule;
const BASE = 'http://models.test';
const spec = parse(await readFile(path.join(ROOT, 'openapi.yaml'), 'utf8'));

afterEach(() => {
  vi.unstubAllEnvs();
});

/** Runs `run` (synchronously) as in a browser or an edge runtime: no `process` global. */
function withProcess<T>(replacement: unknown, run: () => T): T {
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'process')!;
  Object.defineProperty(globalThis, 'process', { value: replacement, configurable: true, writable: true });
  try {
    return run();
  } finally {
    Object.defineProperty(globalThis, 'process', descriptor);
  }
}

describe('MODELPORT_URL and MODELPORT_API_KEY', () => {
  it('are read in Node when the options do not say', async () => {
    vi.stubEnv('MODELPORT_URL', 'http://env.test/');
    vi.stubEnv('MODELPORT_API_KEY', 'env-key');
    const { fetch, calls } = scriptedFetch([jsonReply(200, { live: true })]);
    const client = new Modelport({ fetch });
    expect(client.baseUrl).toBe('http://env.test');
    await client.health.live();
    expect(calls[0]!.url).toBe('http://env.test/v2/health/live');
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer env-key');
  });

  it('lose to options that are given; undefined is the same as not given', async () => {
    vi.stubEnv('MODELPORT_URL', 'http://env.test');
    vi.stubEnv('MODELPORT_API_KEY', 'env-key');
    const { fetch, calls } = scriptedFetch([jsonReply(200, { live: true })]);
    await new Modelport({ baseUrl: BASE, apiKey: 'given', fetch }).health.live();
    expect(calls[0]!.url).toBe(`${BASE}/v2/health/live`);
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer given');

    await new Modelport({ baseUrl: undefined, apiKey: undefined, fetch }).health.live();
    expect(calls[1]!.url).toBe('http://env.test/v2/health/live');
    expect(calls[1]!.headers.get('authorization')).toBe('Bearer env-key');
  });

  it('apiKey: null sends no key even when MODELPORT_API_KEY is set; empty variables count as unset', async () => {
    vi.stubEnv('MODELPORT_API_KEY', 'env-key');
    vi.stubEnv('MODELPORT_URL', '  ');
    const { fetch, calls } = scriptedFetch([jsonReply(200, { live: true })]);
    const client = new Modelport({ apiKey: null, fetch });
    expect(client.baseUrl).toBe('http://127.0.0.1:8700');
    await client.health.live();
    expect(calls[0]!.headers.has('authorization')).toBe(false);
  });

  it('reach the upload path too (ky, imported on first use)', async () => {
    vi.stubEnv('MODELPORT_API_KEY', 'env-key');
    const { fetch, calls } = scriptedFetch([jsonReply(201, { model: 'm', version: 1 })]);
    const progress: number[] = [];
    const client = new Modelport({ baseUrl: BASE, fetch });
    await client.models.versions.upload(
      'm',
      { archive: new Uint8Array(64), format: 'zip' },
      { onProgress: (p) => progress.push(p.percent) },
    );
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer env-key');
    expect(calls[0]!.headers.get('idempotency-key')).toMatch(/./);
    expect(progress.at(-1)).toBe(1);
  });

  it('are not read where there is no process (browsers, edge runtimes), nor where reading throws (Deno without --allow-env)', () => {
    vi.stubEnv('MODELPORT_URL', 'http://env.test');
    vi.stubEnv('MODELPORT_API_KEY', 'env-key');
    const inBrowser = withProcess(undefined, () => new Modelport());
    expect(inBrowser.baseUrl).toBe('http://127.0.0.1:8700');
    const denied = {
      get env(): never {
        throw new Error('NotCapable: Requires env access to "MODELPORT_URL", run again with the --allow-env flag');
      },
    };
    expect(withProcess(denied, () => new Modelport()).baseUrl).toBe('http://127.0.0.1:8700');
  });

  it('an explicit idempotencyKey: undefined still gets a generated key (so the POST stays retryable)', async () => {
    const { fetch, calls } = scriptedFetch([errorReply(503, 'overloaded', { 'retry-after': '0' }), jsonReply(201, { name: 'm' })]);
    await new Modelport({ baseUrl: BASE, fetch }).models.create({ name: 'm', task: 'image-classification' }, { idempotencyKey: undefined });
    expect(calls).toHaveLength(2);
    expect(calls[0]!.headers.get('idempotency-key')).toMatch(/./);
    expect(calls[1]!.headers.get('idempotency-key')).toBe(calls[0]!.headers.get('idempotency-key'));
  });
});

describe('error classes', () => {
  it('each has its literal status in its type', () => {
    expectTypeOf<BadRequestError['status']>().toEqualTypeOf<400 | 413 | 415 | 422>();
    expectTypeOf<AuthenticationError['status']>().toEqualTypeOf<401>();
    expectTypeOf<PermissionDeniedError['status']>().toEqualTypeOf<403>();
    expectTypeOf<NotFoundError['status']>().toEqualTypeOf<404>();
    expectTypeOf<ConflictError['status']>().toEqualTypeOf<409>();
    expectTypeOf<RateLimitError['status']>().toEqualTypeOf<429>();
    expectTypeOf<ServiceUnavailableError['status']>().toEqualTypeOf<503>();
    expectTypeOf<InternalServerError['status']>().toEqualTypeOf<number>();
    expectTypeOf<ConnectionError['status']>().toEqualTypeOf<undefined>();
    expectTypeOf<TimeoutError['status']>().toEqualTypeOf<undefined>();
    expectTypeOf<APIError['status']>().toEqualTypeOf<number | undefined>();
    const error: unknown = new NotFoundError('x');
    if (error instanceof NotFoundError) expectTypeOf(error.status).toEqualTypeOf<404>();
    if (error instanceof APIError) expectTypeOf(error.status).toEqualTypeOf<number | undefined>();
  });

  it('each has that status at run time, from a response or made by hand', () => {
    const cases: [number, new (...args: never[]) => APIError][] = [
      [400, BadRequestError],
      [413, BadRequestError],
      [415, BadRequestError],
      [422, BadRequestError],
      [401, AuthenticationError],
      [403, PermissionDeniedError],
      [404, NotFoundError],
      [409, ConflictError],
      [429, RateLimitError],
      [503, ServiceUnavailableError],
      [500, InternalServerError],
      [502, InternalServerError],
      [405, APIError],
    ];
    for (const [status, ErrorClass] of cases) {
      const error = APIError.fromResponse(status, { error: 'no', code: 'model_not_found', status, request_id: 'r1' }, new Headers());
      expect(error, String(status)).toBeInstanceOf(ErrorClass);
      expect(error.constructor, String(status)).toBe(ErrorClass);
      expect(error.status).toBe(status);
      expect(error.code).toBe('model_not_found');
    }
    expect(new BadRequestError('x').status).toBe(400);
    expect(new BadRequestError('x', { status: 413 }).status).toBe(413);
    expect(new AuthenticationError('x').status).toBe(401);
    expect(new PermissionDeniedError('x').status).toBe(403);
    expect(new NotFoundError('x', { code: 'model_not_found' })).toMatchObject({ status: 404, code: 'model_not_found' });
    expect(new ConflictError('x').status).toBe(409);
    expect(new RateLimitError('x').status).toBe(429);
    expect(new ServiceUnavailableError('x').status).toBe(503);
    expect(new InternalServerError('x').status).toBe(500);
    expect(new ConnectionError('x', { cause: new TypeError('fetch failed') })).toMatchObject({ status: undefined, code: undefined });
    expect(new TimeoutError('x')).toMatchObject({ status: undefined, code: undefined });
  });

  it('code is a documented ErrorCode, or a string a newer server may send', () => {
    expectTypeOf<APIError['code']>().toEqualTypeOf<ErrorCode | (string & {}) | undefined>();
    expectTypeOf<'model_not_found'>().toExtend<ErrorCode>();
    expectTypeOf<'shape_mismatch'>().toExtend<ErrorCode>();
    expectTypeOf<'no_such_code'>().not.toExtend<ErrorCode>();
    expectTypeOf<ConnectionError['code']>().toEqualTypeOf<undefined>();
    const error = APIError.fromResponse(400, { error: 'x', code: 'from_a_newer_server', status: 400, request_id: 'r' }, new Headers());
    expect(error.code).toBe('from_a_newer_server');
  });
});

/** Every error code the server's source can raise, found in its syntax (not by running it). */
async function codesTheServerRaises(): Promise<{ codes: Set<string>; sites: number }> {
  const files = await listTs(path.join(ROOT, 'mock-server'));
  const parsed = await Promise.all(
    files.map(async (file) => ts.createSourceFile(file, await readFile(file, 'utf8'), ts.ScriptTarget.Latest, true)),
  );
  const literals = (node: ts.Expression): string[] => {
    if (ts.isStringLiteralLike(node)) return [node.text];
    if (ts.isConditionalExpression(node)) return [...literals(node.whenTrue), ...literals(node.whenFalse)];
    if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isNonNullExpression(node)) return literals(node.expression);
    return [];
  };
  // The error factories of mock-server/http/errors.ts (`badRequest(message, details, code = 'invalid_request')`, ...):
  // where each takes its code, and the code it uses when given none.
  const factories = new Map<string, { index: number; fallback: string | undefined }>([['HttpError', { index: 1, fallback: undefined }]]);
  const errorsFile = parsed.find((f) => f.fileName === path.join(ROOT, 'mock-server', 'http', 'errors.ts'))!;
  errorsFile.forEachChild(function visit(node) {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer && ts.isArrowFunction(node.initializer)) {
      const index = node.initializer.parameters.findIndex((p) => p.name.getText() === 'code');
      if (index >= 0) {
        const initializer = node.initializer.parameters[index]!.initializer;
        factories.set(node.name.text, { index, fallback: initializer ? literals(initializer)[0] : undefined });
      }
    }
    node.forEachChild(visit);
  });
  expect([...factories.keys()].length, 'the error factories of mock-server/http/errors.ts').toBeGreaterThan(3);
  const codes = new Set<string>();
  let sites = 0;
  for (const file of parsed) {
    file.forEachChild(function visit(node) {
      if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
        const callee = node.expression;
        const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : '';
        const args = node.arguments ?? ts.factory.createNodeArray();
        const factory = factories.get(name);
        if (factory && !(file === errorsFile && name === 'HttpError')) {
          const arg = args[factory.index];
          const found = arg ? literals(arg) : factory.fallback ? [factory.fallback] : [];
          found.forEach((code) => codes.add(code));
          sites += found.length ? 1 : 0;
        }
        // Dataset problems: `problems.add('invalid_csv', path, message)`; the first one's code is the error's.
        if (name === 'add' && ts.isPropertyAccessExpression(callee) && /problems$/i.test(callee.expression.getText()) && args[0]) {
          literals(args[0]).forEach((code) => codes.add(code));
          sites += 1;
        }
      }
      node.forEachChild(visit);
    });
  }
  return { codes, sites };
}

async function listTs(dir: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .filter((file) => !file.split(path.sep).some((part) => part === 'node_modules' || part === 'dist'));
}

describe('ErrorCode (openapi.yaml)', () => {
  it('lists exactly the codes the server raises', async () => {
    const documented = spec.components.schemas.ErrorCode.enum as string[];
    const { codes, sites } = await codesTheServerRaises();
    expect(sites).toBeGreaterThan(100);
    expect(
      [...codes].filter((c) => !documented.includes(c)),
      'raised by mock-server/ but missing from ErrorCode',
    ).toEqual([]);
    expect(
      documented.filter((c) => !codes.has(c)),
      'in ErrorCode but raised nowhere in mock-server/',
    ).toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
    // Each documented code says its status and meaning in the API reference.
    expect(Object.keys(spec.components.schemas.ErrorCode['x-enumDescriptions']).sort()).toEqual([...documented].sort());
  });
});

describe('against a real server', () => {
  let server: RunningMockServer;
  let client: Modelport;
  let dataDir: Awaited<ReturnType<typeof tempDataDir>>;

  beforeAll(async () => {
    dataDir = await tempDataDir();
    server = await startMockServer({ auth: false, dataDir: dataDir.dir });
    client = new Modelport({ baseUrl: server.url, maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await dataDir?.remove();
  });

  it('TrainingEvent narrows by type, and every event a job streams matches its schema', async () => {
    const events: TrainingEvent[] = [];
    const job = await client.trainingJobs.create({
      model: 'sdk-types-iris',
      task: 'tabular-classification',
      labels: ['setosa', 'versicolor', 'virginica'],
      dataset: 'iris-train',
      architecture: { input: { name: 'features', shape: [4] }, layers: [{ type: 'dense', units: 3, activation: 'softmax' }] },
      epochs: 2,
      optimizer: { name: 'sgd' },
      seed: 1,
    });
    const summary: string[] = [];
    for await (const event of job.events()) {
      events.push(event);
      // What a user writes: no `!`, no casts.
      if (event.type === 'epoch') {
        expectTypeOf(event.epoch).toEqualTypeOf<number>();
        expectTypeOf(event.eta_seconds).toEqualTypeOf<number>();
        summary.push(`epoch ${event.epoch}/${event.epochs} in ${typeof event.seconds}`);
      } else if (event.type === 'succeeded') {
        expectTypeOf(event.version).toEqualTypeOf<number>();
        summary.push(`succeeded v${event.version}`);
      } else if (event.type === 'failed') {
        expectTypeOf(event.error).toEqualTypeOf<string>();
      } else {
        summary.push(event.type);
      }
    }
    expect(summary).toEqual(['queued', 'started', 'epoch 1/2 in number', 'epoch 2/2 in number', 'succeeded v1']);

    const ajv = new Ajv({ strict: false, validateFormats: false });
    ajv.addSchema(spec, 'openapi');
    const validate = ajv.compile({ $ref: 'openapi#/components/schemas/TrainingEvent' });
    for (const event of events) expect(validate(event) ? [] : validate.errors, JSON.stringify(event)).toEqual([]);
    // The schema tells the types apart: an epoch event without its figures is not one.
    expect(validate({ seq: 3, type: 'epoch', at: new Date().toISOString(), epoch: 1 })).toBe(false);
    expect(validate({ seq: 9, type: 'failed', at: new Date().toISOString() })).toBe(false);
  }, 120_000);

  it('classify promises labels and classes; predict keeps them optional', async () => {
    const flower = [[6.3, 3.3, 6.0, 2.5]];
    const classified = await client.classify('iris', flower, { topK: 2 });
    expectTypeOf(classified).toEqualTypeOf<Classification>();
    expectTypeOf(classified.labels).toEqualTypeOf<string[]>();
    expect(classified.labels).toEqual(['virginica']);
    expect(classified.classes[0]!.map((c) => c.label)).toEqual(['virginica', 'versicolor']);
    const predicted = await client.predict('iris', flower);
    expectTypeOf(predicted).toEqualTypeOf<Prediction>();
    expectTypeOf(predicted.labels).toEqualTypeOf<string[] | undefined>();
    expect(predicted.labels).toEqual(classified.labels);
  });

  it('classify refuses a model whose metadata has no labels, before running it', async () => {
    const metadata = {
      name: 'regressor',
      platform: 'tfjs_layers',
      versions: ['1'],
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
    };
    const { fetch, calls } = scriptedFetch([jsonReply(200, metadata)]);
    const error = await new Modelport({ baseUrl: BASE, fetch }).classify('regressor', [[1, 2]]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelportError);
    expect(String(error)).toMatch(/'regressor' is not a classifier: its metadata has no labels/);
    expect(calls.map((c) => c.url)).toEqual([`${BASE}/v2/models/regressor`]);
  });

  it('the CommonJS build (package.json "tsup", built to a temporary folder) predicts on Node without require(esm)', async () => {
    const { build } = await import('tsup');
    const manifest = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
    const cjs = (manifest.tsup as import('tsup').Options[]).find((config) => [config.format].flat().includes('cjs'))!;
    const outDir = await mkdtemp(path.join(os.tmpdir(), 'modelport-cjs-'));
    try {
      await build({
        ...cjs,
        entry: { index: path.join(ROOT, 'src/index.ts') },
        outDir,
        dts: false,
        clean: false,
        silent: true,
        config: false,
      });
      const script = path.join(outDir, 'predict.cjs');
      await writeFile(
        script,
        `
        const { Modelport, NotFoundError } = require('./index.cjs');
        (async () => {
          const client = new Modelport(); // MODELPORT_URL
          const prediction = await client.predict('iris', [[6.3, 3.3, 6.0, 2.5]]);
          const missing = await client.predict('no-such-model', [[1, 2, 3, 4]]).catch((e) => e);
          console.log(JSON.stringify({ labels: prediction.labels, notFound: missing instanceof NotFoundError, status: missing.status, code: missing.code }));
        })().catch((error) => { console.error(error); process.exit(1); });
      `,
      );
      const source = await readFile(path.join(outDir, 'index.cjs'), 'utf8');
      expect(source).not.toMatch(/require\(["']ky["']\)/); // ky is bundled in: a CJS require of ESM-only ky is what needs require(esm)
      const { stdout } = await promisify(execFile)(process.execPath, ['--no-experimental-require-module', script], {
        env: { ...process.env, MODELPORT_URL: server.url, MODELPORT_API_KEY: '' },
      });
      expect(JSON.parse(stdout.trim())).toEqual({ labels: ['virginica'], notFound: true, status: 404, code: 'model_not_found' });
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the package', () => {
  it('importing it runs nothing (sideEffects: false holds: every module-level statement is pure)', async () => {
    // Every SDK module is treated as having side effects, so that only esbuild's own analysis
    // of each statement decides what must stay: nothing may.
    const result = await esbuild({
      stdin: { contents: `import ${JSON.stringify(path.join(ROOT, 'src/index.ts'))};`, resolveDir: ROOT, loader: 'ts' },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'neutral',
      external: ['ky'],
      logLevel: 'silent',
      plugins: [
        {
          name: 'assume-side-effects',
          setup(build) {
            build.onResolve({ filter: /^[./]/ }, async (args) => {
              if (args.pluginData) return undefined;
              const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: true });
              return { ...resolved, sideEffects: true };
            });
          },
        },
      ],
    });
    expect(result.outputFiles[0]!.text).toBe('');
  });

  it('type-checks in an app without the DOM lib, with strict and exactOptionalPropertyTypes', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'modelport-types-'));
    try {
      const app = path.join(dir, 'app.ts');
      await writeFile(
        app,
        `
        import Modelport, { NotFoundError, type Classification, type Prediction, type RequestBody } from ${JSON.stringify(path.join(ROOT, 'src/index.ts'))};
        // README-style options straight from the environment (string | undefined under exactOptionalPropertyTypes).
        const client = new Modelport({ baseUrl: process.env.MODELPORT_URL, apiKey: process.env.MODELPORT_API_KEY, timeout: undefined, headers: { 'x-tenant': process.env.TENANT } });
        export async function run(signal?: AbortSignal): Promise<string[]> {
          const prediction: Prediction = await client.predict('iris', [[6.3, 3.3, 6.0, 2.5]], { version: process.env.IRIS_VERSION, signal, topK: undefined });
          const classified: Classification = await client.classify('iris', new Float32Array(4), { binary: true });
          await client.models.list({ task: process.env.TASK, limit: undefined }).toArray();
          const body: RequestBody = new Uint8Array(4);
          await client.transport.send({ method: 'POST', path: 'v2/models/iris/infer', body, headers: { 'content-type': 'application/octet-stream' } });
          return [...(prediction.labels ?? []), ...classified.labels];
        }
        export const isMissing = (error: unknown) => error instanceof NotFoundError && error.status === 404;
      `,
      );
      const program = ts.createProgram([app], {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        lib: ['lib.es2022.d.ts'],
        types: ['node'],
        typeRoots: [path.join(ROOT, 'node_modules', '@types')],
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        noEmit: true,
        allowImportingTsExtensions: true,
      });
      const diagnostics = ts
        .getPreEmitDiagnostics(program)
        .map((d) => ts.formatDiagnostic(d, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' }));
      expect(diagnostics).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
