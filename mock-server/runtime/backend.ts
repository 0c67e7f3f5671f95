/**
 * Chooses the TensorFlow.js backend once per process: native TensorFlow by default, then WASM,
 * then pure-JS cpu, each fallback announced once with the way back to native.
 * MODELPORT_BACKEND (or the `backend` option) forces one and fails loudly if it cannot load.
 *
 * Native TensorFlow is tfjs-node's JavaScript and binding, vendored into this package (vendor/)
 * and prepared in modelport's cache at the package's postinstall or, failing that, here at the
 * first start (runtime/native/prepare.mjs); no @tensorflow/tfjs-node package is involved.
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { components } from 'modelport';
import { PACKAGE_ROOT } from '../server/package-paths';
import { NativeUnavailable, PREPARE_COMMAND, loadNative, prepareNative } from './native/prepare.mjs';
import type * as tfTypes from './tfjs';
import { tensorflowLogLevel } from './log-level';

export type BackendName = components['schemas']['RuntimeInfo']['backend'];
export const BACKENDS: BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export type TF = typeof tfTypes;

export interface Runtime {
  tf: TF;
  backend: BackendName;
  /** The native TensorFlow library version (backend `tensorflow` only). */
  tensorflowVersion?: string;
  tfjsVersion: string;
  /** tfjs-node's extras (SavedModel loading, image decoding) when native. */
  node?: tfTypes.NodeExtras;
  /** Why native TensorFlow is not in use and what to run to get it (set on a fallback backend). */
  nativeUnavailable?: { reason: string; fix: string };
}

const VENDOR_DIR = path.join(PACKAGE_ROOT, 'vendor');

const require = createRequire(import.meta.url);
let loading: Promise<Runtime> | undefined;

/** The process-wide runtime. The first caller's choice wins; a conflicting forced choice is an error. */
export function loadRuntime(options: { backend?: BackendName; warn?: (message: string) => void } = {}): Promise<Runtime> {
  const forced = options.backend ?? parseBackend(process.env.MODELPORT_BACKEND);
  if (loading) {
    return loading.then((runtime) => {
      if (forced && forced !== runtime.backend) {
        throw new Error(`backend '${forced}' was requested but this process already runs on '${runtime.backend}'`);
      }
      return runtime;
    });
  }
  loading = chooseBackend(forced, options.warn ?? ((m) => console.warn(m)));
  loading.catch(() => (loading = undefined));
  return loading;
}

function parseBackend(value: string | undefined): BackendName | undefined {
  if (!value) return undefined;
  if (!BACKENDS.includes(value as BackendName)) {
    throw new Error(`MODELPORT_BACKEND='${value}' is not one of ${BACKENDS.join(', ')}`);
  }
  return value as BackendName;
}

/**
 * TensorFlow.js keeps its registered backends, kernels and tensors in the tfjs-core module: two
 * installed copies would split them (a model loaded through one could not run on a backend
 * registered with the other). Every package that imports tfjs-core must resolve the same one.
 */
export function assertOneTfjsCore(packageRoot: string): void {
  const fromServer = createRequire(path.join(packageRoot, 'package.json'));
  const importers: [string, string][] = [
    ['@modelport/server', path.join(packageRoot, 'package.json')],
    ['the vendored tfjs-node (vendor/)', path.join(packageRoot, 'vendor', 'tfjs-node.cjs')],
  ];
  for (const name of [
    '@tensorflow/tfjs-layers',
    '@tensorflow/tfjs-converter',
    '@tensorflow/tfjs-backend-cpu',
    '@tensorflow/tfjs-backend-wasm',
  ]) {
    try {
      importers.push([name, fromServer.resolve(`${name}/package.json`)]);
    } catch {
      // Not installed: its loader reports that when it is needed.
    }
  }
  const copies = new Map<string, string>();
  for (const [importer, from] of importers) {
    const core = realpathSync(path.dirname(createRequire(from).resolve('@tensorflow/tfjs-core/package.json')));
    const first = [...copies].find(([dir]) => dir !== core);
    if (first) {
      throw new Error(
        `two copies of @tensorflow/tfjs-core are installed: ${first[0]} (used by ${first[1]}) and ${core} (used by ${importer}). ` +
          "TensorFlow.js keeps backends and tensors per copy, so they must be one: run 'npm dedupe', and if an app depends on @tensorflow/tfjs-core itself, use the version @modelport/server uses",
      );
    }
    if (!copies.has(core)) copies.set(core, importer);
  }
}

async function chooseBackend(forced: BackendName | undefined, warn: (message: string) => void): Promise<Runtime> {
  assertOneTfjsCore(PACKAGE_ROOT);
  if (forced) {
    try {
      return await loaders[forced]();
    } catch (error) {
      const hint = forced === 'tensorflow' ? ` To get native TensorFlow: ${fixFor(error)}` : '';
      throw new Error(`backend '${forced}' was forced but could not load: ${firstLine(error)}.${hint}`);
    }
  }
  let nativeUnavailable: Runtime['nativeUnavailable'];
  try {
    return await loaders.tensorflow();
  } catch (error) {
    nativeUnavailable = { reason: firstLine(error), fix: fixFor(error) };
  }
  try {
    const runtime = await loaders.wasm();
    warn(
      `[modelport] native TensorFlow is not available (${nativeUnavailable.reason}); running on wasm, slower and without SavedModels, image decoding or conv training kernels. To get native: ${nativeUnavailable.fix}`,
    );
    return { ...runtime, nativeUnavailable };
  } catch (wasmFailure) {
    warn(
      `[modelport] neither native TensorFlow (${nativeUnavailable.reason}) nor wasm (${firstLine(wasmFailure)}) could load; running on the pure-JS cpu backend, which is very slow. To get native: ${nativeUnavailable.fix}`,
    );
    return { ...(await loaders.cpu()), nativeUnavailable };
  }
}

const loaders: Record<BackendName, () => Promise<Runtime>> = {
  async tensorflow() {
    // Read by TensorFlow when its library loads: set before the binding is required, and inherited
    // by the upload inspection and training processes.
    process.env.TF_CPP_MIN_LOG_LEVEL = tensorflowLogLevel();
    const entry = await prepareNative({
      packageRoot: PACKAGE_ROOT,
      log: (line) => console.error(`[modelport] native TensorFlow: ${line}`),
    });
    let native;
    try {
      native = loadNative(entry.vendorDir, entry.binding);
    } catch (error) {
      throw new NativeUnavailable(
        `the binding prepared in ${entry.dir} does not load: ${firstLine(error)}`,
        `delete ${entry.dir}, then run: ${PREPARE_COMMAND}`,
      );
    }
    if (!(await native.tf.setBackend('tensorflow'))) throw new Error('tf.setBackend("tensorflow") returned false');
    return {
      tf: native.tf,
      backend: 'tensorflow',
      tensorflowVersion: native.tensorflowVersion,
      tfjsVersion: native.tf.version.tfjs,
      node: native.node,
    };
  },
  async wasm() {
    const tf = requireTfjs();
    require('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
    return { tf, backend: 'wasm', tfjsVersion: tf.version.tfjs };
  },
  async cpu() {
    const tf = requireTfjs();
    if (!(await tf.setBackend('cpu'))) throw new Error('tf.setBackend("cpu") returned false');
    return { tf, backend: 'cpu', tfjsVersion: tf.version.tfjs };
  },
};

/** The TensorFlow.js API (runtime/tfjs.ts, built into vendor/tfjs.cjs). */
function requireTfjs(): TF {
  try {
    return require(path.join(VENDOR_DIR, 'tfjs.cjs')) as TF;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    throw new Error(
      `${VENDOR_DIR} is missing: in a clone of modelport run 'node mock-server/runtime/native/postinstall.mjs' (npm install runs it); in an app, reinstall @modelport/server`,
    );
  }
}

function fixFor(error: unknown): string {
  return (error as { fix?: string }).fix ?? `run: ${PREPARE_COMMAND}`;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
