#!/usr/bin/env node
// Builds @tensorflow/tfjs-node's native binding against the TensorFlow C library found in the
// `tensorflow-cpu` Python wheel, because tfjs-node's own install script downloads libtensorflow
// 2.9.1 from Google storage, which fails offline and behind many firewalls (DESIGN.md §6).
//
// Runs as the project's postinstall. It is idempotent, caches the extracted libraries and the
// built binding outside node_modules (keyed by every version the binary depends on), never fails
// the install, and prints exactly one line saying what it did.
//
// Environment:
//   MODELPORT_SKIP_NATIVE=1        do nothing (the server then runs on wasm or cpu)
//   MODELPORT_NATIVE_CACHE=<dir>   cache root (default: ${XDG_CACHE_HOME:-~/.cache}/modelport/native)
//   MODELPORT_TF_WHEEL=<file>      use this tensorflow-cpu wheel instead of asking pip
//   MODELPORT_PYTHON=<exe>         python to run pip with (default: python3)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const TF_VERSION = '2.21.0';
const TAG = '[modelport] native TensorFlow:';
const HOW_TO_RETRY = 'npm rebuild modelport || node mock-server/runtime/install-native.mjs';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const requireFromProject = createRequire(path.join(projectRoot, 'package.json'));

/** Headers the binding includes, and what they include in turn (all small). */
const HEADER_PREFIXES = [
  'tensorflow/include/tensorflow/c/',
  'tensorflow/include/tensorflow/core/platform/',
  'tensorflow/include/tsl/',
  'tensorflow/include/xla/tsl/c/',
];
const LIBRARIES = ['tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'];

function main() {
  if (process.env.MODELPORT_SKIP_NATIVE) return say('skipped (MODELPORT_SKIP_NATIVE is set); the server will use wasm.');
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return say(`no source build for ${process.platform}/${process.arch}; the server will use wasm.`);
  }
  let tfjsNodeDir;
  try {
    tfjsNodeDir = path.dirname(requireFromProject.resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    return say('@tensorflow/tfjs-node is not installed; nothing to build.');
  }
  const tfjsNodePkg = JSON.parse(fs.readFileSync(path.join(tfjsNodeDir, 'package.json'), 'utf8'));
  const napiBuild = Math.max(...tfjsNodePkg.binary.napi_versions.filter((v) => v <= Number(process.versions.napi)));
  const moduleDir = path.join(tfjsNodeDir, tfjsNodePkg.binary.module_path.replace('{napi_build_version}', String(napiBuild)));
  const key = `tfjs-node-${tfjsNodePkg.version}_tf-${TF_VERSION}_${process.platform}-${process.arch}_napi-${napiBuild}`;
  const cacheRoot = process.env.MODELPORT_NATIVE_CACHE
    ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'modelport', 'native');
  const cacheDir = path.join(cacheRoot, key);
  const started = Date.now();

  try {
    patchRemovedNodeUtil(tfjsNodeDir);
    let built = false;
    if (!fs.existsSync(path.join(cacheDir, 'tfjs_binding.node'))) {
      buildIntoCache({ cacheDir, tfjsNodeDir, moduleDir });
      built = true;
    }
    linkFromCache({ cacheDir, tfjsNodeDir, moduleDir });
    verifyLoads(tfjsNodeDir);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    say(built
      ? `built the binding against TensorFlow ${TF_VERSION} from the tensorflow-cpu wheel in ${seconds}s; cached in ${cacheDir}.`
      : `reused the cached binding for TensorFlow ${TF_VERSION} from ${cacheDir} (${seconds}s, no compile).`);
  } catch (error) {
    say(`not available (${String(error.message ?? error).split('\n')[0]}); the server will use wasm. To get native: ${HOW_TO_RETRY}`);
  }
}

function buildIntoCache({ cacheDir, tfjsNodeDir, moduleDir }) {
  const staging = `${cacheDir}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(path.join(staging, 'deps', 'lib'), { recursive: true });
  try {
    const wheel = process.env.MODELPORT_TF_WHEEL ?? downloadWheel(staging);
    extractFromWheel(wheel, path.join(staging, 'deps'));
    const lib = path.join(staging, 'deps', 'lib');
    // The binding links -ltensorflow -ltensorflow_framework; the .so.2.9.1 name makes tfjs-node's
    // own install script believe its download already happened, should it ever run.
    fs.symlinkSync('libtensorflow_cc.so.2', path.join(lib, 'libtensorflow.so'));
    fs.symlinkSync('libtensorflow_cc.so.2', path.join(lib, 'libtensorflow.so.2'));
    fs.symlinkSync('libtensorflow_cc.so.2', path.join(lib, 'libtensorflow.so.2.9.1'));
    fs.symlinkSync('libtensorflow_framework.so.2', path.join(lib, 'libtensorflow_framework.so'));

    pointDepsAt(tfjsNodeDir, path.join(staging, 'deps'));
    const nodePreGyp = requireFromProject.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp', { paths: [tfjsNodeDir] });
    run(process.execPath, [nodePreGyp, 'install', '--build-from-source', ...nodeHeadersFlag()], { cwd: tfjsNodeDir });
    fs.copyFileSync(path.join(moduleDir, 'tfjs_binding.node'), path.join(staging, 'tfjs_binding.node'));
    fs.rmSync(path.join(staging, 'wheel'), { recursive: true, force: true });
    fs.rmSync(cacheDir, { recursive: true, force: true });
    fs.renameSync(staging, cacheDir);
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

/** Use the headers installed beside node (as Debian's nodejs does) rather than downloading them. */
function nodeHeadersFlag() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

function downloadWheel(staging) {
  const python = process.env.MODELPORT_PYTHON ?? 'python3';
  const dest = path.join(staging, 'wheel');
  run(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--retries', '0',
    '--dest', dest, `tensorflow-cpu==${TF_VERSION}`]);
  const wheel = fs.readdirSync(dest).find((f) => f.endsWith('.whl'));
  if (!wheel) throw new Error(`pip downloaded no tensorflow-cpu ${TF_VERSION} wheel`);
  return path.join(dest, wheel);
}

/** A wheel is a zip; python3 reads zips without extra tools, and the build needs python anyway. */
function extractFromWheel(wheel, depsDir) {
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
  run(process.env.MODELPORT_PYTHON ?? 'python3', ['-c', script, wheel, depsDir, LIBRARIES.join(','), HEADER_PREFIXES.join(',')]);
  for (const lib of LIBRARIES) {
    if (!fs.existsSync(path.join(depsDir, 'lib', path.basename(lib)))) throw new Error(`${lib} missing from the wheel`);
  }
}

/**
 * Node 23 removed util.isNullOrUndefined, which tfjs-node 4.22.0 (the latest release) still calls
 * in its kernels: every op then throws on Node 23+. The upstream fix (tensorflow/tfjs#8425) is
 * merged but unreleased (tensorflow/tfjs#8609); this applies the same change to the installed
 * dist files, idempotently, so the binding works on Node 20, 22 and 24 alike.
 */
function patchRemovedNodeUtil(tfjsNodeDir) {
  const replacements = [
    ['(0, util_1.isNullOrUndefined)(', '((value) => value == null)('],
    ['(0, util_1.isArray)(', 'Array.isArray('],
  ];
  const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    return entry.isDirectory() ? walk(file) : entry.name.endsWith('.js') ? [file] : [];
  });
  for (const file of walk(path.join(tfjsNodeDir, 'dist'))) {
    const source = fs.readFileSync(file, 'utf8');
    const patched = replacements.reduce((text, [from, to]) => text.split(from).join(to), source);
    if (patched === source) continue;
    fs.writeFileSync(`${file}.tmp-${process.pid}`, patched);
    fs.renameSync(`${file}.tmp-${process.pid}`, file);
  }
}

function linkFromCache({ cacheDir, tfjsNodeDir, moduleDir }) {
  pointDepsAt(tfjsNodeDir, path.join(cacheDir, 'deps'));
  fs.mkdirSync(moduleDir, { recursive: true });
  // Never rewrite the binding in place: running servers have it mapped, and overwriting its pages
  // crashes them (SIGSEGV inside CreateTensor/DeleteTensor). That happened whenever `npx modelport`
  // first ran in a checkout while a server was up: npx installs the package, which runs this script.
  // An identical binding is left alone; a different one replaces the file with one rename.
  const source = path.join(cacheDir, 'tfjs_binding.node');
  const target = path.join(moduleDir, 'tfjs_binding.node');
  if (fs.existsSync(target) && fs.readFileSync(target).equals(fs.readFileSync(source))) return;
  const staging = `${target}.tmp-${process.pid}`;
  fs.copyFileSync(source, staging);
  fs.renameSync(staging, target);
}

/** The binding's rpath is $ORIGIN/../../deps/lib, so deps may be a symlink into the cache. */
function pointDepsAt(tfjsNodeDir, depsDir) {
  const link = path.join(tfjsNodeDir, 'deps');
  let current;
  try {
    current = fs.readlinkSync(link);
  } catch {
    current = undefined;
  }
  if (current === depsDir) return;
  // Replaced in one rename, so a process loading TensorFlow meanwhile never sees it missing.
  const staging = `${link}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.symlinkSync(depsDir, staging, 'dir');
  if (current === undefined) fs.rmSync(link, { recursive: true, force: true }); // a real folder (tfjs-node's own download)
  fs.renameSync(staging, link);
}

function verifyLoads(tfjsNodeDir) {
  const probe = `const tf = require(${JSON.stringify(tfjsNodeDir)});
    if (tf.getBackend() !== 'tensorflow') throw new Error('backend is ' + tf.getBackend());
    const s = tf.tensor1d([1, 2, 3]).sum().dataSync()[0];
    if (s !== 6) throw new Error('sum gave ' + s);`;
  run(process.execPath, ['-e', probe], { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (result.error?.code === 'ENOENT') throw new Error(`${path.basename(command)} is not on PATH`);
  if (result.error) throw new Error(`${path.basename(command)}: ${result.error.message}`);
  if (result.status !== 0) {
    const output = `${result.stderr ?? ''}\n${result.stdout ?? ''}`.trim().split('\n');
    const reason = output.filter((l) => /error|Error|ERR/.test(l)).slice(-1)[0] ?? output.slice(-1)[0];
    throw new Error(`${path.basename(command)} ${args[0] === '-c' ? '' : args.slice(0, 2).join(' ')} failed: ${reason?.trim()}`);
  }
  return result.stdout;
}

function say(message) {
  console.log(`${TAG} ${message}`);
}

main();
