// Native TensorFlow for @modelport/server, prepared in modelport's own cache and loaded from there
// by absolute path: nothing is written into node_modules, and no @tensorflow/tfjs-node package is
// installed (its install script downloads libtensorflow from Google storage; DESIGN.md §6).
//
// A cache entry, <cache root>/<key>/, holds the TensorFlow C library taken from the
// `tensorflow-cpu` Python wheel (deps/lib, deps/include) and tfjs-node's binding compiled against
// it with the C++ compiler directly (tfjs_binding.node, rpath $ORIGIN/deps/lib, so the entry is
// relocatable), then ready.json. It is built in a staging folder beside it and renamed into place
// under a cross-process lock: when many processes find it missing at once (test workers, the
// server and its training worker), one builds and the others wait, then use it.
//
// Used by the server package's postinstall (postinstall.mjs) and by the backend loader at the
// first server start (runtime/backend.ts), so `npm install --ignore-scripts` works too. A plain
// .mjs because the postinstall runs before anything is built. Environment:
//   MODELPORT_NATIVE_CACHE=<dir>   cache root (default: ${XDG_CACHE_HOME:-~/.cache}/modelport/native)
//   MODELPORT_SKIP_NATIVE=1        never prepare (an entry already in the cache is still used)
//   MODELPORT_TF_WHEEL=<file>      use this tensorflow-cpu wheel instead of asking pip
//   MODELPORT_PYTHON=<exe>         python to run pip and read the wheel with (default: python3)
//   CXX=<exe>                      C++ compiler (default: c++)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export const TF_VERSION = '2.21.0';
/** The binding is compiled for N-API 8, which every Node >= 20 provides (N-API is ABI-stable). */
const NAPI_VERSION = 8;
/** Prepares native TensorFlow if needed and reports it; works whether or not install scripts ran. */
export const PREPARE_COMMAND = 'npx modelport doctor --no-server';

const READY = 'ready.json';
/** Headers the binding includes, and what they include in turn (all small). */
const HEADER_PREFIXES = [
  'tensorflow/include/tensorflow/c/',
  'tensorflow/include/tensorflow/core/platform/',
  'tensorflow/include/tsl/',
  'tensorflow/include/xla/tsl/c/',
];
const LIBRARIES = ['tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'];

/** Native TensorFlow cannot be prepared here: `reason` says why, `fix` what to do about it. */
export class NativeUnavailable extends Error {
  constructor(reason, fix) {
    super(reason);
    this.name = 'NativeUnavailable';
    this.fix = fix;
  }
}

function nativeCacheRoot(env = process.env) {
  return env.MODELPORT_NATIVE_CACHE || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'modelport', 'native');
}

/** Where this package's native TensorFlow lives in the cache, and whether it is there. */
export function nativeEntry(packageRoot, env = process.env) {
  const vendorDir = path.join(packageRoot, 'vendor');
  const cacheRoot = nativeCacheRoot(env);
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(vendorDir, 'manifest.json'), 'utf8'));
  } catch {
    return { vendorDir, cacheRoot, vendored: false, ready: false };
  }
  // The binding's source patch (vendor-tfjs-node.mjs BINDING_PATCH) is part of the key: a new patch rebuilds.
  const patch = manifest.bindingPatch ? `+${manifest.bindingPatch}` : '';
  const key = `tfjs-node-${manifest['tfjs-node']}${patch}_tf-${TF_VERSION}_${process.platform}-${process.arch}_napi-${NAPI_VERSION}`;
  const dir = path.join(cacheRoot, key);
  return { vendorDir, cacheRoot, vendored: true, manifest, key, dir, binding: path.join(dir, 'tfjs_binding.node'), ready: isReady(dir) };
}

/**
 * Makes sure the cache holds this package's native TensorFlow, building it if needed (20-60 s;
 * progress goes to `log`). Throws NativeUnavailable when it cannot be built here.
 */
export async function prepareNative({ packageRoot, log = () => {}, env = process.env }) {
  const entry = nativeEntry(packageRoot, env);
  if (entry.ready) return { ...entry, built: false };
  const tools = await checkPrerequisites(packageRoot, entry, env);
  const started = Date.now();
  const { built } = await ensureEntry(entry.dir, (staging) => buildNative(staging, { packageRoot, entry, tools, env, log }), {
    log,
    onBuild: () => log(`preparing it in ${entry.dir}: once per machine, 20-60 s`),
  });
  if (built) log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { ...entry, ready: true, built };
}

/** Cheap checks first, so a machine that cannot build finds out in milliseconds, not after the download. */
async function checkPrerequisites(packageRoot, entry, env) {
  if (env.MODELPORT_SKIP_NATIVE) {
    throw new NativeUnavailable('MODELPORT_SKIP_NATIVE is set', `unset MODELPORT_SKIP_NATIVE, then run: ${PREPARE_COMMAND}`);
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new NativeUnavailable(
      `it is built from source on Linux x64 only, and this is ${process.platform}/${process.arch}`,
      'none: wasm is the backend here',
    );
  }
  if (!entry.vendored) {
    throw new NativeUnavailable(
      `${entry.vendorDir} is missing (tfjs-node's bundle and binding sources)`,
      'in a clone of modelport: node mock-server/runtime/native/postinstall.mjs (npm install runs it); in an app: reinstall @modelport/server',
    );
  }
  const cxx = env.CXX || 'c++';
  const python = env.MODELPORT_PYTHON || 'python3';
  const wheel = env.MODELPORT_TF_WHEEL;
  const headers = nodeApiHeaders(packageRoot);
  const retry = `then run: ${PREPARE_COMMAND}`;
  if (!(await runs(cxx, ['--version']))) {
    throw new NativeUnavailable(
      `no C++ compiler (${cxx} is not on PATH)`,
      `install one (Debian/Ubuntu: apt-get install g++; or set CXX), ${retry}`,
    );
  }
  if (!headers)
    throw new NativeUnavailable('no Node-API headers (the node-api-headers package is missing)', `reinstall @modelport/server, ${retry}`);
  if (wheel && !fs.existsSync(wheel)) {
    throw new NativeUnavailable(
      `MODELPORT_TF_WHEEL=${wheel} does not exist`,
      `point it at a tensorflow-cpu ${TF_VERSION} wheel (or unset it to let pip download one), ${retry}`,
    );
  }
  if (!(await runs(python, wheel ? ['-c', 'import zipfile'] : ['-m', 'pip', '--version']))) {
    throw new NativeUnavailable(
      `${python}${wheel ? '' : ' with pip'} is not available${env.MODELPORT_PYTHON ? ' (MODELPORT_PYTHON)' : ''}`,
      `install python3 and pip (Debian/Ubuntu: apt-get install python3-pip) or set MODELPORT_PYTHON, ${retry}`,
    );
  }
  return { cxx, python, wheel, headers };
}

/** N-API headers: the node-api-headers package (a dependency), else the ones installed beside node. */
function nodeApiHeaders(packageRoot) {
  try {
    return createRequire(path.join(packageRoot, 'package.json'))('node-api-headers').include_dir;
  } catch {
    const beside = path.join(path.dirname(process.execPath), '..', 'include', 'node');
    return fs.existsSync(path.join(beside, 'node_api.h')) ? beside : undefined;
  }
}

async function buildNative(staging, { packageRoot, entry, tools, env, log }) {
  const deps = path.join(staging, 'deps');
  let wheel = tools.wheel;
  if (!wheel) {
    log(`downloading the tensorflow-cpu ${TF_VERSION} wheel with pip`);
    wheel = await downloadWheel(tools.python, path.join(staging, 'wheel'));
  }
  log('extracting the TensorFlow C library from the wheel');
  await extractFromWheel(tools.python, wheel, deps);
  fs.rmSync(path.join(staging, 'wheel'), { recursive: true, force: true });
  log(`compiling tfjs-node ${entry.manifest['tfjs-node']}'s binding`);
  await compileBinding(staging, path.join(entry.vendorDir, 'tfjs-node-binding'), tools);
  // A child process, so that a binding that crashes on load cannot take this process with it.
  await run(process.execPath, ['--input-type=module', '-e', verifyScript(packageRoot, path.join(staging, 'tfjs_binding.node'))], {
    step: 'loading the built binding',
    env: { ...env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  return { tfjsNode: entry.manifest['tfjs-node'], tensorflow: TF_VERSION, napi: NAPI_VERSION };
}

async function downloadWheel(python, dest) {
  await run(
    python,
    [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--only-binary=:all:',
      '--retries',
      '0',
      '--disable-pip-version-check',
      '--dest',
      dest,
      `tensorflow-cpu==${TF_VERSION}`,
    ],
    {
      step: `pip download tensorflow-cpu==${TF_VERSION}`,
      fix: `make \`${python} -m pip download tensorflow-cpu==${TF_VERSION}\` work (a pip index or mirror), or set MODELPORT_TF_WHEEL to that wheel, then run: ${PREPARE_COMMAND}`,
    },
  );
  const wheel = fs.readdirSync(dest).find((f) => f.endsWith('.whl'));
  if (!wheel)
    throw new NativeUnavailable(
      `pip downloaded no tensorflow-cpu ${TF_VERSION} wheel`,
      `set MODELPORT_TF_WHEEL to one, then run: ${PREPARE_COMMAND}`,
    );
  return path.join(dest, wheel);
}

/** A wheel is a zip; python reads zips without extra tools, and pip needs python anyway. */
async function extractFromWheel(python, wheel, depsDir) {
  const script = `
import sys, zipfile, os, shutil
wheel, deps, libs, prefixes = sys.argv[1], sys.argv[2], sys.argv[3].split(','), sys.argv[4].split(',')
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if name in libs:
            target = os.path.join(deps, 'lib', os.path.basename(name))
        elif any(name.startswith(p) for p in prefixes) and not name.endswith('/'):
            target = os.path.join(deps, 'include', name[len('tensorflow/include/'):])
        else:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
`;
  await run(python, ['-c', script, wheel, depsDir, LIBRARIES.join(','), HEADER_PREFIXES.join(',')], {
    step: `reading ${path.basename(wheel)}`,
    fix: `check that ${wheel} is a tensorflow-cpu ${TF_VERSION} wheel for Linux x64, then run: ${PREPARE_COMMAND}`,
  });
  for (const lib of LIBRARIES) {
    if (!fs.existsSync(path.join(depsDir, 'lib', path.basename(lib)))) {
      throw new NativeUnavailable(
        `${lib} is missing from ${path.basename(wheel)}`,
        `use a tensorflow-cpu ${TF_VERSION} wheel for Linux x64, then run: ${PREPARE_COMMAND}`,
      );
    }
  }
}

/**
 * What node-gyp would do with tfjs-node's binding.gyp and Node's common.gypi on Linux, without
 * node-gyp (which downloads Node's headers): the two sources compiled in parallel, linked against
 * the wheel's libraries by file name (no libtensorflow.so symlinks needed), rpath into the entry.
 */
async function compileBinding(staging, sources, { cxx, headers }) {
  const objects = path.join(staging, 'obj');
  fs.mkdirSync(objects);
  const flags = [
    '-O3',
    '-fPIC',
    '-pthread',
    '-std=gnu++17',
    '-fno-rtti',
    '-fno-exceptions',
    '-fno-omit-frame-pointer',
    `-DNAPI_VERSION=${NAPI_VERSION}`,
    '-DBUILDING_NODE_EXTENSION',
    '-DNODE_GYP_MODULE_NAME=tfjs_binding',
    '-D_FILE_OFFSET_BITS=64',
    '-I',
    headers,
    '-I',
    path.join(staging, 'deps', 'include'),
    '-I',
    sources,
  ];
  const fix = `install g++ 8 or newer with its C++ standard library headers (Debian/Ubuntu: apt-get install g++), then run: ${PREPARE_COMMAND}`;
  const units = fs.readdirSync(sources).filter((f) => f.endsWith('.cc'));
  await Promise.all(
    units.map((unit) =>
      run(cxx, [...flags, '-c', path.join(sources, unit), '-o', path.join(objects, `${unit}.o`)], { step: `compiling ${unit}`, fix }),
    ),
  );
  await run(
    cxx,
    [
      '-shared',
      '-pthread',
      '-o',
      path.join(staging, 'tfjs_binding.node'),
      ...units.map((u) => path.join(objects, `${u}.o`)),
      '-L',
      path.join(staging, 'deps', 'lib'),
      '-l:libtensorflow_cc.so.2',
      '-l:libtensorflow_framework.so.2',
      '-Wl,-rpath,$ORIGIN/deps/lib',
      '-Wl,-soname,tfjs_binding.node',
    ],
    { step: 'linking tfjs_binding.node', fix },
  );
  fs.rmSync(objects, { recursive: true });
}

function verifyScript(packageRoot, binding) {
  const self = pathToFileURL(path.join(packageRoot, 'runtime', 'native', 'prepare.mjs')).href;
  return `import { loadNative } from ${JSON.stringify(self)};
const { tf } = loadNative(${JSON.stringify(path.join(packageRoot, 'vendor'))}, ${JSON.stringify(binding)});
if (tf.getBackend() !== 'tensorflow') throw new Error('the backend is ' + tf.getBackend());
const sum = tf.tensor1d([1, 2, 3]).sum().dataSync()[0];
if (sum !== 6) throw new Error('1 + 2 + 3 gave ' + sum);`;
}

/**
 * Loads the vendored tfjs-node with the binding at `binding` (an absolute path into the cache),
 * registering the `tensorflow` backend with the one tfjs-core that vendor/tfjs.cjs uses.
 */
export function loadNative(vendorDir, binding) {
  const require = createRequire(path.join(vendorDir, 'manifest.json'));
  const manifest = require('./manifest.json');
  const key = Symbol.for(manifest.bindingSymbol);
  globalThis[key] = require(binding);
  try {
    const tf = require('./tfjs.cjs');
    const tfjsNode = require('./tfjs-node.cjs');
    return { tf, node: tfjsNode.node, tensorflowVersion: globalThis[key].TF_Version };
  } finally {
    delete globalThis[key];
  }
}

function isReady(dir) {
  return fs.existsSync(path.join(dir, READY));
}

/**
 * Makes `dir` a complete cache entry: returns at once if it is one; otherwise `build(staging)`
 * fills a staging folder that is then renamed to `dir`, by exactly one process at a time. The
 * lock is `${dir}.lock`, created exclusively; its holder touches it every `heartbeatMs`. A lock
 * whose holder is gone (a dead pid on this host) or that has not been touched for `staleMs` (a
 * holder on another host, or one that hangs) is taken over, so a killed build blocks nobody.
 */
export async function ensureEntry(
  dir,
  build,
  { log = () => {}, onBuild = () => {}, staleMs = 60_000, heartbeatMs = 5_000, pollMs = 250, maxWaitMs = 20 * 60_000 } = {},
) {
  if (isReady(dir)) return { built: false };
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const started = Date.now();
  let announced = false;
  for (;;) {
    const held = tryLock(lock);
    if (held) {
      try {
        if (isReady(dir)) return { built: false };
        sweepLeftovers(dir);
        onBuild();
        const heartbeat = setInterval(() => touchLock(lock, held), heartbeatMs);
        heartbeat.unref();
        try {
          await buildInto(dir, build);
        } finally {
          clearInterval(heartbeat);
        }
        return { built: true };
      } finally {
        unlock(lock, held);
      }
    }
    if (isReady(dir)) return { built: false };
    const holder = readLock(lock);
    if (holder && isStale(holder, staleMs)) {
      if (takeOver(lock, holder)) log(`took over the lock of a build that stopped (${describe(holder)})`);
      continue;
    }
    if (holder && !announced) {
      log(`another process (${describe(holder)}) is preparing it; waiting`);
      announced = true;
    }
    if (Date.now() - started > maxWaitMs) {
      throw new NativeUnavailable(
        `gave up after waiting ${Math.round(maxWaitMs / 1000)} s for ${holder ? describe(holder) : 'another process'} to prepare it`,
        `if no build is running, delete ${lock}, then run: ${PREPARE_COMMAND}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

async function buildInto(dir, build) {
  const staging = `${dir}.tmp-${os.hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  fs.mkdirSync(staging);
  try {
    const info = await build(staging);
    fs.writeFileSync(path.join(staging, READY), `${JSON.stringify({ ...info, preparedAt: new Date().toISOString() }, null, 2)}\n`);
    try {
      fs.renameSync(staging, dir);
    } catch (error) {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      // An incomplete entry (an older layout without ready.json): move it aside, then replace it.
      // Processes that mapped its libraries keep them; unlinked files live on while mapped.
      const old = `${dir}.old-${os.hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
      fs.renameSync(dir, old);
      fs.renameSync(staging, dir);
      fs.rmSync(old, { recursive: true, force: true });
    }
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

/** Staging and replaced folders (hundreds of MB each) that a killed build on this host left behind. */
function sweepLeftovers(dir) {
  const prefix = `${path.basename(dir)}.`;
  const host = os.hostname();
  for (const name of fs.readdirSync(path.dirname(dir))) {
    const match = /^(?:tmp|old)-(.+)-(\d+)-[0-9a-f]{8}$/.exec(name.slice(prefix.length));
    if (!name.startsWith(prefix) || !match || match[1] !== host || isAlive(Number(match[2]))) continue;
    fs.rmSync(path.join(path.dirname(dir), name), { recursive: true, force: true });
  }
}

/** The lock's content says who holds it; its inode tells one lock file from the next. */
function tryLock(lock) {
  const holder = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
  let fd;
  try {
    fd = fs.openSync(lock, 'wx');
  } catch (error) {
    if (error.code === 'EEXIST') return undefined;
    throw error;
  }
  try {
    fs.writeSync(fd, JSON.stringify(holder));
    return { ...holder, ino: fs.fstatSync(fd).ino };
  } finally {
    fs.closeSync(fd);
  }
}

function readLock(lock) {
  try {
    const stat = fs.statSync(lock);
    let holder = {};
    try {
      holder = JSON.parse(fs.readFileSync(lock, 'utf8'));
    } catch {
      // Created but not yet written, or its writer was killed in between: judged by its age alone.
    }
    return { ...holder, ino: stat.ino, mtimeMs: stat.mtimeMs };
  } catch (error) {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  }
}

function isStale(holder, staleMs) {
  if (holder.host === os.hostname() && Number.isInteger(holder.pid) && !isAlive(holder.pid)) return true;
  return Date.now() - holder.mtimeMs > staleMs;
}

/** Moves the lock aside only if it is still the one judged stale (another waiter may have replaced it). */
function takeOver(lock, holder) {
  const aside = `${lock}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(lock, aside);
  } catch (error) {
    if (error.code === 'ENOENT') return false;
    throw error;
  }
  if (fs.statSync(aside).ino !== holder.ino) {
    // A fresh lock, taken between our look and our move: give it back to its holder.
    try {
      fs.linkSync(aside, lock);
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    fs.rmSync(aside, { force: true });
    return false;
  }
  fs.rmSync(aside, { force: true });
  return true;
}

function touchLock(lock, held) {
  try {
    if (fs.statSync(lock).ino !== held.ino) return;
    const now = new Date();
    fs.utimesSync(lock, now, now);
  } catch {
    // Gone: taken over. The build goes on; its result is renamed into place all the same.
  }
}

function unlock(lock, held) {
  try {
    if (fs.statSync(lock).ino === held.ino) fs.rmSync(lock, { force: true });
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function describe(holder) {
  return holder.pid ? `pid ${holder.pid}${holder.host && holder.host !== os.hostname() ? ` on ${holder.host}` : ''}` : 'an unknown process';
}

async function runs(command, args) {
  try {
    await run(command, args, { step: command });
    return true;
  } catch {
    return false;
  }
}

/** Runs a command without blocking the event loop (the lock's heartbeat must keep ticking). */
function run(command, args, { step, fix = `then run: ${PREPARE_COMMAND}`, ...options }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let output = '';
    child.stdout.on('data', (chunk) => (output = (output + chunk).slice(-64 * 1024)));
    child.stderr.on('data', (chunk) => (output = (output + chunk).slice(-64 * 1024)));
    child.on('error', (error) => {
      reject(new NativeUnavailable(error.code === 'ENOENT' ? `${command} is not on PATH` : `${step}: ${error.message}`, fix));
    });
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(output);
      const lines = output.trim().split('\n');
      const reason = lines.filter((l) => /error|Error|ERR/.test(l)).slice(-1)[0] ?? lines.slice(-1)[0] ?? '';
      reject(new NativeUnavailable(`${step} failed (${signal ?? `exit ${code}`}): ${reason.trim()}`, fix));
    });
  });
}
