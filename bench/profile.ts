/**
 * Where the server's time goes: runs `modelport serve` under `node --cpu-prof`, drives OIP JSON
 * infer of one digit with autocannon, stops the server (the profile is written on exit) and
 * summarises the profile: self time by function, by file/package, and inclusive time of the
 * request path's main steps.
 *
 *   npx tsx bench/profile.ts                         JSON at concurrency 32, 3 s warm-up + 10 s
 *   npx tsx bench/profile.ts --connections 1 --binary --duration 5 --top 40
 *
 * The .cpuprofile stays in bench/profiles/ (git-ignored): open it in Chrome DevTools or speedscope.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cannon } from './lib/load';
import { INFER_PATH, payloads } from './lib/payloads';
import { startChild } from './lib/procs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROFILES = path.join(ROOT, 'bench/profiles');

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The request path's steps, matched by function name (and file where names are common). */
/** Steps count a sample when they are anywhere on its stack; `self` steps only when they are its top frame. */
const STEPS: [string, (f: CallFrame) => boolean, 'self'?][] = [
  [
    'http/node-adapter.ts serve (node req → web Request, handler, write back)',
    (f) => f.functionName === 'serve' && f.url.endsWith('mock-server/http/node-adapter.ts'),
  ],
  ['server/app.ts: the middleware list (request id → … → route handler)', (f) => f.url.endsWith('mock-server/middleware/compose.ts')],
  ['body.ts readBody (web-stream body read)', (f) => f.functionName === 'readBody'],
  ['body.ts parseJson (UTF-8 decode + JSON.parse)', (f) => f.functionName === 'parseJson'],
  ['ajv validators (params + body)', (f) => f.url.includes('/ajv/') || (f.functionName.startsWith('validate') && f.url === '')],
  ['tensors.ts decodeJsonInput', (f) => f.functionName === 'decodeJsonInput'],
  ['batcher / ServedVersion runBatch (whole model run)', (f) => f.functionName.endsWith('runBatch')],
  [
    '  tf.tensor (host array → TF tensor)',
    (f) => (f.functionName === 'tensor' || f.functionName === 'makeTensor') && f.url.includes('tfjs-core'),
  ],
  ['  tfjs-layers predict/execute (op-by-op graph walk)', (f) => f.url.includes('tfjs-layers') && /predict|execute/.test(f.functionName)],
  [
    '  tfjs-node native op calls (executeSingleOutput & co, self)',
    (f) => f.url.includes('tfjs-node') && /executeSingleOutput|executeMultipleOutputs/.test(f.functionName),
    'self',
  ],
  ['  dataSync (TF tensor → host array)', (f) => f.functionName.endsWith('dataSync') || f.functionName.endsWith('readSync')],
  ['tensors.ts encodeOutput', (f) => f.functionName === 'encodeOutput'],
  ['respond.ts json (JSON.stringify + new Response)', (f) => f.functionName === 'json' && f.url.endsWith('mock-server/respond.ts')],
  [
    'undici Request / Response / Headers, web streams',
    (f) =>
      f.url.includes('undici') ||
      f.url.includes('internal/webstreams') ||
      f.url.includes('js_transferable') ||
      f.url.includes('abort_controller'),
  ],
  ['garbage collector', (f) => f.functionName === '(garbage collector)'],
];

function short(url: string): string {
  if (!url) return '(native/V8)';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (u.startsWith(ROOT)) return path.relative(ROOT, u);
  if (u.startsWith('node:')) return u;
  return u;
}

/**
 * `window` (microseconds on CLOCK_MONOTONIC, as process.hrtime and V8's profiler both use on
 * Linux) keeps only the samples taken while the measured load ran: no start-up, no warm-up.
 */
export function summarise(full: CpuProfile, top = 30, window?: { from: number; to: number }): string {
  let profile = full;
  let scope = 'whole process (start-up included)';
  if (window) {
    const samples: number[] = [];
    const timeDeltas: number[] = [];
    let t = full.startTime;
    full.samples.forEach((id, i) => {
      t += full.timeDeltas[i] ?? 0;
      if (t >= window.from && t <= window.to) {
        samples.push(id);
        timeDeltas.push(full.timeDeltas[i] ?? 0);
      }
    });
    if (samples.length) {
      profile = { ...full, samples, timeDeltas };
      scope = `the measured window only (${((window.to - window.from) / 1e6).toFixed(1)} s)`;
    } else {
      scope = 'whole process (the measured window matched no samples: clocks differ?)';
    }
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, v]) => a + v, 0);
  const busy = total - idle;

  const fnKey = (f: CallFrame) => `${f.functionName || '(anonymous)'}\u0000${short(f.url)}:${f.lineNumber + 1}`;
  const selfByFn = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    selfByFn.set(fnKey(f), (selfByFn.get(fnKey(f)) ?? 0) + us);
    const file = f.url ? short(f.url) : f.functionName.startsWith('(') ? f.functionName : '(native/V8 builtins)';
    selfByFile.set(file, (selfByFile.get(file) ?? 0) + us);
  }

  // Inclusive time of each step: every sample counts once per step found on its stack.
  const inclusive = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const f = byId.get(n)!.callFrame;
      for (const [name, match] of STEPS) if (!seen.has(name) && match(f)) seen.add(name);
    }
    const top = byId.get(id)!.callFrame;
    for (const [name, match, self] of STEPS) {
      if (self) seen.delete(name);
      if (self && match(top)) seen.add(name);
    }
    for (const name of seen) inclusive.set(name, (inclusive.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });

  const pct = (us: number, of: number) => `${((us / of) * 100).toFixed(1).padStart(5)} %`;
  const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  const lines: string[] = [];
  lines.push(
    `profile of ${scope}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${pct(busy, total).trim()} of the main thread), ${(idle / 1e6).toFixed(1)} s idle`,
  );
  lines.push('', `top ${top} functions by self time (% of busy time):`);
  for (const [key, us] of [...selfByFn].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    const [name, where] = key.split('\u0000');
    if (name === '(idle)') continue;
    lines.push(`  ${pct(us, busy)} ${ms(us)}  ${name}  ${where}`);
  }
  lines.push('', 'self time by file / package (% of busy time):');
  for (const [file, us] of [...selfByFile].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    if (file === '(idle)') continue;
    lines.push(`  ${pct(us, busy)} ${ms(us)}  ${file}`);
  }
  lines.push('', 'inclusive time of the request path steps (% of busy time; steps nest):');
  for (const [name] of STEPS) {
    const us = inclusive.get(name) ?? 0;
    lines.push(`  ${pct(us, busy)} ${ms(us)}  ${name}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '32' },
      warmup: { type: 'string', default: '3' },
      duration: { type: 'string', default: '10' },
      binary: { type: 'boolean', default: false },
      top: { type: 'string', default: '30' },
      file: { type: 'string' },
    },
  });
  if (values.file) {
    console.log(summarise(JSON.parse(await readFile(values.file, 'utf8')) as CpuProfile, Number(values.top)));
    return;
  }
  await mkdir(PROFILES, { recursive: true });
  const before = new Set(await readdir(PROFILES));
  // As bench/run.ts runs it: auth on, a fresh data directory with the bundled models.
  const apiKey = `mp_admin_bench${randomBytes(16).toString('hex')}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'modelport-profile-'));
  const child = await startChild(
    'modelport serve --cpu-prof',
    process.execPath,
    [
      '--cpu-prof',
      '--cpu-prof-dir',
      PROFILES,
      path.join(ROOT, 'mock-server/bin/modelport.js'),
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
    ],
    {
      env: { MODELPORT_API_KEY: apiKey },
      readyPattern: /listening on (http:\/\/[^\s;,)]+)/,
    },
  );
  const p = payloads();
  const auth = { authorization: `Bearer ${apiKey}` };
  const target = values.binary
    ? { url: child.ready + INFER_PATH, headers: { ...p.binaryHeaders, ...auth }, body: p.binary }
    : { url: child.ready + INFER_PATH, headers: { ...p.jsonHeaders, ...auth }, body: p.json };
  const connections = Number(values.connections);
  console.error(
    `[profile] ${values.binary ? 'binary' : 'JSON'} infer at concurrency ${connections}: ${values.warmup} s warm-up + ${values.duration} s`,
  );
  await cannon(target, connections, { warmup: 0, duration: Number(values.warmup) });
  const from = Number(process.hrtime.bigint() / 1000n);
  const result = await cannon(target, connections, { warmup: 0, duration: Number(values.duration) });
  const to = Number(process.hrtime.bigint() / 1000n);
  console.error(
    `[profile] ${result.rps.toFixed(0)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, ${result.errors} errors (under the profiler)`,
  );
  child.proc.kill('SIGINT');
  await new Promise((resolve) => child.proc.once('exit', resolve));
  await rm(dataDir, { recursive: true, force: true });
  const written = (await readdir(PROFILES)).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
  if (!written.length) throw new Error('no .cpuprofile was written');
  // One profile per thread (tsx's module loader runs in a worker): CPU.<date>.<time>.<pid>.<thread id>.<seq>; the main thread is 0.
  const main =
    written.find((f) => f.split('.')[4] === '0') ??
    (await Promise.all(written.map(async (f) => ({ f, size: (await stat(path.join(PROFILES, f))).size })))).sort(
      (a, b) => b.size - a.size,
    )[0]!.f;
  const file = path.join(PROFILES, main);
  console.log(`${path.relative(ROOT, file)} (the whole process; summarised below for the measured window)\n`);
  console.log(summarise(JSON.parse(await readFile(file, 'utf8')) as CpuProfile, Number(values.top), { from, to }));
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`[profile] failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
    process.exit(1);
  },
);
