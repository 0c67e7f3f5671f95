/**
 * The packages as a user gets them: `npm pack` both, install the tarballs into fresh apps with this
 * machine's npm and no allowScripts or .npmrc, and use them as the README says.
 *
 * - The tarballs: only what a user runs (no sources, no source maps, no offline scripts); every
 *   README link and package.json file reference resolves inside the package or is absolute.
 * - An SDK-only app: `modelport` + `ky` and nothing else, no install script, <= 1 MB; ESM import and
 *   CJS require (also without require(esm)) predict against a real server; tsc passes for .mts and
 *   .cts files under node16 and bundler with strict + exactOptionalPropertyTypes and no DOM lib;
 *   a browser bundle of a predict call <= 15 KB gzipped; the README's SDK snippets run.
 * - A replay app (record and replay, #21): `modelport` + msw + vitest, no server and no TensorFlow;
 *   modelport/record records a real server, a vitest test replays it with modelport/replay.
 * - A server app, twice, each with an empty native cache: once with install scripts, once with
 *   --ignore-scripts. No @tensorflow/tfjs-node in the tree and no install script but modelport's;
 *   `npx modelport serve` runs on native TensorFlow; a vitest test with the msw handlers and one
 *   with the global-setup server pass with real predictions; a Jest project with the global setup
 *   passes (first app).
 *
 * Not part of `npm test` (it builds, packs, installs from the registry and compiles native
 * TensorFlow twice: several minutes): `npm run test:consumer`, which .ci/run runs.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build, transform } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = fileURLToPath(new URL('.', import.meta.url));
const WORK = mkdtempSync(path.join(os.tmpdir(), 'modelport-consumer-'));
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const ROOT_PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const VERSIONS = { vitest: ROOT_PACKAGE.devDependencies.vitest, msw: ROOT_PACKAGE.devDependencies.msw, jest: '30.5.2' };
/** What the issue promises; the note reports the measured figures printed by these tests. */
const BUDGET = { sdkNodeModulesKiB: 1024, browserGzipBytes: 15 * 1024 };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The environment a user's shell would have: none of this run's vitest, npm or tsx variables. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(VITEST|npm_|NODE_OPTIONS$|TSX_|MODELPORT_|INIT_CWD$)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, TF_CPP_MIN_LOG_LEVEL: '2', ...extra };
}

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

async function ok(command: string, args: string[], options: Parameters<typeof run>[2]): Promise<Run> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} (in ${options.cwd}) exited ${result.code}:\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`,
    );
  }
  return result;
}

/** `modelport serve` of an app (or of this clone), until it prints its URL. */
function serve(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'listening on' within 10 min:\n${stdout}\n${stderr}`)), 600_000);
    const look = () => {
      const found = /listening on (http:\/\/\S+)/.exec(stdout + stderr)?.[1];
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    child.stdout.on('data', (chunk) => ((stdout += chunk), look()));
    child.stderr.on('data', (chunk) => ((stderr += chunk), look()));
    child.on('exit', (code) => reject(new Error(`server exited ${code} before listening:\n${stdout}\n${stderr}`)));
  });
  return {
    url,
    output: () => ({ stdout, stderr }),
    stop: () =>
      new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGTERM')))),
  };
}

function newApp(name: string, files: string[]): string {
  const dir = path.join(WORK, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name, version: '1.0.0', private: true }, null, 2)}\n`);
  for (const file of files) copyFileSync(path.join(FIXTURES, file), path.join(dir, path.basename(file)));
  return dir;
}

interface LockPackage {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  hasInstallScript?: boolean;
  dev?: boolean;
}

function lockPackages(app: string): Record<string, LockPackage> {
  const lock = JSON.parse(readFileSync(path.join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };
  return Object.fromEntries(Object.entries(lock.packages).filter(([key]) => key !== ''));
}

/** Every installed package that `from` needs at run time (dependencies and optional ones, transitively). */
function closure(packages: Record<string, LockPackage>, from: string): Set<string> {
  const seen = new Set<string>();
  const visit = (location: string) => {
    if (seen.has(location)) return;
    seen.add(location);
    const entry = packages[location]!;
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      // Node's lookup: nested node_modules first, then each parent's.
      for (let base = location; ; base = base.includes('/node_modules/') ? base.slice(0, base.lastIndexOf('/node_modules/')) : '') {
        const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
        if (packages[candidate]) {
          visit(candidate);
          break;
        }
        if (!base) break;
      }
    }
  };
  visit(from);
  return seen;
}

function apparentKiB(dir: string): number {
  let bytes = 0;
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const file = path.join(d, entry.name);
      if (entry.isDirectory()) walk(file);
      else bytes += statSync(file).size;
    }
  };
  walk(dir);
  return bytes / 1024;
}

/** Markdown links of a README that are not absolute URLs or in-page anchors. */
function relativeLinks(markdown: string): string[] {
  const links = [...markdown.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
  return links.filter((link) => !/^(https?:|mailto:|#)/.test(link));
}

/** Every file a package.json names: main, module, types, bin and each exports target. */
function manifestFiles(manifest: Record<string, unknown>): string[] {
  const files: string[] = [];
  const collect = (value: unknown) => {
    if (typeof value === 'string') files.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(collect);
  };
  for (const field of ['main', 'module', 'types', 'bin', 'exports']) collect(manifest[field]);
  return files.filter((file) => !file.endsWith('package.json'));
}

/** The README blocks marked `<!-- consumer: NAME -->` (among the comment lines right before the fence). */
function consumerBlocks(markdown: string, name: string): string[] {
  const pattern = new RegExp(`<!--\\s*consumer:\\s*${name}\\s*-->\\s*\\n(?:<!--.*-->\\s*\\n)*\`\`\`\\w*\\n([\\s\\S]*?)\\n\`\`\``, 'g');
  return [...markdown.matchAll(pattern)].map((m) => m[1]!);
}

const tarballs = { sdk: '', server: '' };
const figures: string[] = [];
let cloneServer: ReturnType<typeof serve> | undefined;

beforeAll(async () => {
  // npm pack runs each package's prepack, which builds it.
  const packed = async (args: string[]) => {
    // The prepack build prints to stdout too: the tarball is the one new file.
    const before = new Set(readdirSync(WORK));
    await ok('npm', ['pack', ...args, '--pack-destination', WORK], { cwd: ROOT });
    const created = readdirSync(WORK).filter((f) => f.endsWith('.tgz') && !before.has(f));
    expect(created).toHaveLength(1);
    return path.join(WORK, created[0]!);
  };
  tarballs.sdk = await packed([]);
  tarballs.server = await packed(['--workspace', '@modelport/server']);
  for (const [name, file] of Object.entries(tarballs)) {
    const dir = path.join(WORK, `unpacked-${name}`);
    mkdirSync(dir);
    await ok('tar', ['-xzf', file, '-C', dir], { cwd: WORK });
    figures.push(`${name} tarball: ${(statSync(file).size / 1024).toFixed(1)} KiB packed`);
  }
}, 900_000);

afterAll(async () => {
  await cloneServer?.stop();
  console.log(`\nconsumer figures:\n  ${figures.join('\n  ')}`);
  rmSync(WORK, { recursive: true, force: true });
});

describe('the tarballs', () => {
  for (const name of ['sdk', 'server'] as const) {
    it(`${name}: ships what a user runs, and nothing that points into the clone`, () => {
      const dir = path.join(WORK, `unpacked-${name}`, 'package');
      const files: string[] = [];
      const walk = (d: string) =>
        readdirSync(d, { withFileTypes: true }).forEach((e) =>
          e.isDirectory() ? walk(path.join(d, e.name)) : files.push(path.relative(dir, path.join(d, e.name))),
        );
      walk(dir);
      expect(files).toContain('LICENSE');
      expect(files).toContain('README.md');
      // No sources, maps or offline scripts: declarations only.
      expect(files.filter((f) => /\.map$/.test(f) || (/\.(ts|mts|cts)$/.test(f) && !/\.d\.(ts|mts|cts)$/.test(f)))).toEqual([]);
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      expect(manifest.scripts?.install ?? manifest.scripts?.preinstall).toBeUndefined();
      if (name === 'sdk') {
        expect(manifest.dependencies).toEqual({ ky: expect.any(String) });
        expect(manifest.scripts?.postinstall).toBeUndefined();
        expect(manifest.bin).toBeUndefined();
      } else {
        expect(manifest.dependencies.modelport).toBe(ROOT_PACKAGE.version);
        expect(Object.keys(manifest.dependencies).filter((d) => d === '@tensorflow/tfjs-node' || d === '@tensorflow/tfjs')).toEqual([]);
      }
      for (const file of manifestFiles(manifest)) expect(existsSync(path.join(dir, file)), `${name} package.json names ${file}`).toBe(true);
      const readme = readFileSync(path.join(dir, 'README.md'), 'utf8');
      for (const link of relativeLinks(readme))
        expect(existsSync(path.join(dir, link.split('#')[0]!)), `${name} README links to ${link}`).toBe(true);
      for (const file of files.filter((f) => f.endsWith('.js') || f.endsWith('.cjs'))) {
        expect(readFileSync(path.join(dir, file), 'utf8'), file).not.toMatch(/sourceMappingURL=/);
      }
    });
  }
});

describe('an app that installs only the SDK', () => {
  let app = '';

  beforeAll(async () => {
    app = newApp('sdk-app', ['sdk-app/esm.mjs', 'sdk-app/cjs.cjs', 'sdk-app/types.mts', 'sdk-app/types.cts', 'sdk-app/browser.ts']);
    const install = await ok('npm', ['install', '--no-audit', '--no-fund', tarballs.sdk], { cwd: app });
    figures.push(`SDK app: npm install ${(install.ms / 1000).toFixed(1)} s`);
    cloneServer = serve(
      process.execPath,
      [path.join(ROOT, 'mock-server/bin/modelport.js'), 'serve', '--port', '0', '--no-auth', '--data-dir', path.join(WORK, 'clone-data')],
      { cwd: ROOT, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } },
    );
    await cloneServer.url;
  }, 600_000);

  it('has modelport and ky and nothing else: no install script, <= 1 MB', () => {
    const packages = lockPackages(app);
    expect(Object.keys(packages).sort()).toEqual(['node_modules/ky', 'node_modules/modelport']);
    expect(Object.values(packages).filter((p) => p.hasInstallScript)).toEqual([]);
    const kib = apparentKiB(path.join(app, 'node_modules'));
    figures.push(`SDK app: node_modules ${kib.toFixed(0)} KiB apparent, 2 packages`);
    expect(kib).toBeLessThanOrEqual(BUDGET.sdkNodeModulesKiB);
  });

  it('ESM import and CJS require both predict against a real server (CJS also without require(esm))', async () => {
    const env = userEnv({ MODELPORT_URL: await cloneServer!.url });
    const expected = { labels: ['virginica'], shape: [1, 3], notFound: true, status: 404 };
    for (const args of [['esm.mjs'], ['cjs.cjs'], ['--no-experimental-require-module', 'cjs.cjs']]) {
      const result = await ok(process.execPath, args, { cwd: app, env });
      expect(JSON.parse(result.stdout.trim().split('\n').pop()!), args.join(' ')).toEqual(expected);
    }
  });

  it('type-checks .mts and .cts files under node16 and bundler: strict, exactOptionalPropertyTypes, no DOM lib', async () => {
    const base = {
      target: 'ES2022',
      strict: true,
      exactOptionalPropertyTypes: true,
      noEmit: true,
      skipLibCheck: false,
      lib: ['ES2022'],
      types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    };
    const configs = {
      'tsconfig.node16.json': {
        compilerOptions: { ...base, module: 'node16', moduleResolution: 'node16' },
        files: ['types.mts', 'types.cts'],
      },
      'tsconfig.bundler.json': {
        compilerOptions: { ...base, module: 'esnext', moduleResolution: 'bundler' },
        files: ['types.mts', 'types.cts'],
      },
    };
    for (const [file, config] of Object.entries(configs)) {
      writeFileSync(path.join(app, file), JSON.stringify(config, null, 2));
      const result = await run(process.execPath, [TSC, '-p', file], { cwd: app });
      expect(`${result.stdout}${result.stderr}`, file).toBe('');
      expect(result.code, file).toBe(0);
    }
  });

  it('bundles a predict call for browsers in <= 15 KB gzipped', async () => {
    const result = await build({
      entryPoints: [path.join(app, 'browser.ts')],
      absWorkingDir: app,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      write: false,
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]!.contents;
    const gzipped = gzipSync(code).byteLength;
    figures.push(
      `browser bundle of a predict call: ${(code.byteLength / 1024).toFixed(1)} KiB minified, ${(gzipped / 1024).toFixed(1)} KiB gzipped`,
    );
    expect(gzipped).toBeLessThanOrEqual(BUDGET.browserGzipBytes);
  });

  it("runs the README's SDK snippets against the installed package", async () => {
    const snippets = consumerBlocks(readFileSync(path.join(WORK, 'unpacked-sdk', 'package', 'README.md'), 'utf8'), 'sdk');
    expect(snippets.length).toBeGreaterThan(0);
    const env = userEnv({ MODELPORT_URL: await cloneServer!.url, MODELPORT_API_KEY: 'unused-without-auth' });
    for (const [i, snippet] of snippets.entries()) {
      const file = `readme-${i}.mjs`;
      const js = await transform(snippet.replaceAll('http://127.0.0.1:8700', await cloneServer!.url), {
        loader: 'ts',
        format: 'esm',
        target: 'node20',
      });
      writeFileSync(path.join(app, file), js.code);
      writeFileSync(path.join(app, `readme-${i}.mts`), snippet);
      await ok(process.execPath, [file], { cwd: app, env });
    }
    const config = {
      compilerOptions: {
        target: 'ES2022',
        module: 'node16',
        moduleResolution: 'node16',
        strict: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        lib: ['ES2022'],
        types: ['node'],
        typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      },
      files: snippets.map((_, i) => `readme-${i}.mts`),
    };
    writeFileSync(path.join(app, 'tsconfig.readme.json'), JSON.stringify(config, null, 2));
    const checked = await run(process.execPath, [TSC, '-p', 'tsconfig.readme.json'], { cwd: app });
    expect(`${checked.stdout}${checked.stderr}`).toBe('');
  });
});

describe('an app that records with the SDK and replays with only modelport and msw', () => {
  let app = '';

  beforeAll(async () => {
    app = newApp('replay-app', [
      'replay-app/record.mjs',
      'replay-app/replay.test.mjs',
      'replay-app/vitest.config.mjs',
      'replay-app/cassette.cjs',
    ]);
    const install = await ok(
      'npm',
      ['install', '--no-audit', '--no-fund', tarballs.sdk, `msw@${VERSIONS.msw}`, `vitest@${VERSIONS.vitest}`],
      {
        cwd: app,
      },
    );
    figures.push(`replay app: npm install ${(install.ms / 1000).toFixed(1)} s (modelport, msw, vitest)`);
  }, 600_000);

  it('has no server and no TensorFlow in its tree', () => {
    const packages = Object.keys(lockPackages(app));
    expect(packages).toContain('node_modules/msw');
    expect(packages.filter((p) => /@tensorflow|@modelport/.test(p))).toEqual([]);
  });

  it('records with modelport/record against a real server, then replays in vitest with no server', async () => {
    const recorded = await ok(process.execPath, ['record.mjs'], { cwd: app, env: userEnv({ MODELPORT_URL: await cloneServer!.url }) });
    // GET /v2 is read for the header; per call: iris metadata once, then 6 infers.
    expect(JSON.parse(recorded.stdout.trim().split('\n').pop()!).recorded).toBeGreaterThanOrEqual(7);
    const cassette = readFileSync(path.join(app, 'predictions.jsonl'), 'utf8');
    expect(cassette.split('\n')[0]).toMatch(/^\{"cassette":"modelport","version":1,/);
    const replayed = await run('npx', ['--no-install', 'vitest', 'run', '--config', 'vitest.config.mjs'], { cwd: app });
    expect(replayed.code, `${replayed.stdout}${replayed.stderr}`).toBe(0);
    expect(stripVTControlCharacters(replayed.stdout)).toMatch(/Tests\s+2 passed/);
    const required = await ok(process.execPath, ['cassette.cjs'], { cwd: app });
    expect(JSON.parse(required.stdout.trim())).toEqual({ interactions: expect.any(Number), outcome: 'matched', seq: true });
  });
});

for (const mode of ['install scripts', '--ignore-scripts'] as const) {
  describe(`an app that adds the server for its tests (${mode}, empty native cache)`, () => {
    const ignoreScripts = mode === '--ignore-scripts';
    const withJest = !ignoreScripts;
    let app = '';
    let nativeCache = '';
    let install: Run;

    beforeAll(async () => {
      app = newApp(`server-app-${ignoreScripts ? 'ignore-scripts' : 'scripts'}`, [
        'server-app/msw.test.mjs',
        'server-app/vitest.msw.config.mjs',
        'server-app/global.test.ts',
        'server-app/vitest.global.config.mjs',
        'server-app/tsconfig.json',
        'server-app/jest.config.cjs',
        'server-app/predict.jest.cjs',
      ]);
      nativeCache = path.join(WORK, `native-cache-${ignoreScripts ? 'ignore-scripts' : 'scripts'}`);
      const packages = [
        tarballs.sdk,
        tarballs.server,
        `vitest@${VERSIONS.vitest}`,
        `msw@${VERSIONS.msw}`,
        ...(withJest ? [`jest@${VERSIONS.jest}`] : []),
      ];
      install = await ok(
        'npm',
        ['install', '--no-audit', '--no-fund', '--foreground-scripts', ...(ignoreScripts ? ['--ignore-scripts'] : []), ...packages],
        {
          cwd: app,
          env: userEnv({ MODELPORT_NATIVE_CACHE: nativeCache }),
          timeoutMs: 900_000,
        },
      );
      figures.push(`server app (${mode}): npm install ${(install.ms / 1000).toFixed(1)} s (with vitest, msw${withJest ? ', jest' : ''})`);
    }, 900_000);

    it("installs with no @tensorflow/tfjs-node and no install script but modelport's", () => {
      const packages = lockPackages(app);
      expect(Object.keys(packages).filter((p) => p.includes('@tensorflow/tfjs-node'))).toEqual([]);
      const server = closure(packages, 'node_modules/@modelport/server');
      const scripted = [...server].filter((p) => packages[p]!.hasInstallScript);
      expect(scripted).toEqual(['node_modules/@modelport/server']);
      const tfCore = Object.keys(packages).filter((p) => p.endsWith('node_modules/@tensorflow/tfjs-core'));
      expect(tfCore).toEqual(['node_modules/@tensorflow/tfjs-core']);
      const kib = apparentKiB(path.join(app, 'node_modules'));
      figures.push(
        `server app (${mode}): ${server.size} packages in the server's tree, ${Object.keys(packages).length} in node_modules (${(kib / 1024).toFixed(0)} MiB with vitest, msw${withJest ? ', jest' : ''})`,
      );
      if (ignoreScripts) expect(existsSync(nativeCache) ? readdirSync(nativeCache).filter((f) => !f.startsWith('.')) : []).toEqual([]);
      else expect(`${install.stdout}${install.stderr}`).toMatch(/native TensorFlow/);
    });

    it('npx modelport serve runs on native TensorFlow', async () => {
      const server = serve(
        'npx',
        ['--no-install', 'modelport', 'serve', '--port', '0', '--no-auth', '--data-dir', path.join(app, 'data')],
        {
          cwd: app,
          env: userEnv({ MODELPORT_NATIVE_CACHE: nativeCache }),
        },
      );
      const started = Date.now();
      try {
        const url = await server.url;
        figures.push(`server app (${mode}): first 'npx modelport serve' listening after ${((Date.now() - started) / 1000).toFixed(1)} s`);
        const metadata = (await (await fetch(`${url}/v2`)).json()) as { runtime: { backend: string; tensorflow_version?: string } };
        expect(metadata.runtime.backend).toBe('tensorflow');
        const infer = await fetch(`${url}/v2/models/iris/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [6.3, 3.3, 6.0, 2.5] }],
            outputs: [{ name: 'probabilities', parameters: { classification: 1 } }],
          }),
        });
        expect(infer.status).toBe(200);
        // The first start after --ignore-scripts prepares native TensorFlow and says so as it goes.
        if (ignoreScripts) expect(server.output().stderr).toMatch(/native TensorFlow/);
      } finally {
        await server.stop();
      }
    });

    it('a vitest test with the msw handlers passes with real predictions', async () => {
      const result = await run('npx', ['--no-install', 'vitest', 'run', '--config', 'vitest.msw.config.mjs'], {
        cwd: app,
        env: userEnv({ MODELPORT_NATIVE_CACHE: nativeCache }),
      });
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
      expect(result.stdout).toMatch(/1 passed/);
    });

    it('a vitest test with the global-setup server passes, and inject() is typed', async () => {
      const checked = await run(process.execPath, [TSC, '-p', 'tsconfig.json', '--typeRoots', path.join(ROOT, 'node_modules', '@types')], {
        cwd: app,
      });
      expect(`${checked.stdout}${checked.stderr}`).toBe('');
      const result = await run('npx', ['--no-install', 'vitest', 'run', '--config', 'vitest.global.config.mjs'], {
        cwd: app,
        env: userEnv({ MODELPORT_NATIVE_CACHE: nativeCache }),
      });
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
      expect(result.stdout).toMatch(/1 passed/);
    });

    if (!ignoreScripts) {
      it("runs the README's global-setup config and test as a project of the app", async () => {
        // The manual is the SDK package's README (the registry's page for modelport).
        const readme = readFileSync(path.join(WORK, 'unpacked-sdk', 'package', 'README.md'), 'utf8');
        const [config] = consumerBlocks(readme, 'server-vitest-config');
        const [test] = consumerBlocks(readme, 'server-vitest-test');
        expect(config && test, 'README blocks marked consumer: server-vitest-config / server-vitest-test').toBeTruthy();
        const project = path.join(app, 'readme');
        mkdirSync(project, { recursive: true });
        writeFileSync(path.join(project, 'vitest.config.ts'), config!);
        writeFileSync(path.join(project, 'flower.test.ts'), test!);
        const tsconfig = {
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            exactOptionalPropertyTypes: true,
            noEmit: true,
            skipLibCheck: false,
            types: ['node'],
            typeRoots: [path.join(ROOT, 'node_modules', '@types')],
          },
          files: ['flower.test.ts'],
        };
        writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
        const checked = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: project });
        expect(`${checked.stdout}${checked.stderr}`).toBe('');
        const result = await run('npx', ['--no-install', 'vitest', 'run', '--root', project], {
          cwd: app,
          env: userEnv({ MODELPORT_NATIVE_CACHE: nativeCache }),
        });
        expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
        expect(result.stdout).toMatch(/1 passed/);
      });
    }

    // Jest once (the app with install scripts): its own install is the slowest part of this test.
    if (withJest)
      it('a Jest project with the global setup passes', async () => {
        const result = await run('npx', ['--no-install', 'jest', '--config', 'jest.config.cjs'], {
          cwd: app,
          env: userEnv({ MODELPORT_NATIVE_CACHE: nativeCache }),
        });
        expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
        expect(result.stderr).toMatch(/Tests:\s+1 passed/);
      });
  });
}
