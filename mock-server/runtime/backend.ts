/**
 * Chooses the TensorFlow.js backend once per process: native TensorFlow (tfjs-node) by default,
 * then WASM, then pure-JS cpu, each fallback announced once with the way back to native.
 * MODELPORT_BACKEND (or the `backend` option) forces one and fails loudly if it cannot load.
 */
import { createRequire } from 'node:module';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: BackendName[] = ['tensorflow', 'wasm', 'cpu'];

type TF = typeof import('@tensorflow/tfjs');
type TFNode = typeof import('@tensorflow/tfjs-node');

export interface Runtime {
  tf: TF;
  backend: BackendName;
  /** The native TensorFlow library version (backend `tensorflow` only). */
  tensorflowVersion?: string;
  tfjsVersion: string;
  /** tfjs-node's extras (SavedModel loading, image decoding) when native. */
  node?: TFNode['node'];
}

export const NATIVE_FIX_COMMAND = 'npm rebuild modelport (or: node mock-server/runtime/install-native.mjs in a clone)';

const require = createRequire(import.meta.url);
let loading: Promise<Runtime> | undefined;
let loadedWith: BackendName | undefined;

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
  loading.then((r) => (loadedWith = r.backend), () => (loading = undefined));
  return loading;
}

export function currentBackend(): BackendName | undefined {
  return loadedWith;
}

function parseBackend(value: string | undefined): BackendName | undefined {
  if (!value) return undefined;
  if (!BACKENDS.includes(value as BackendName)) {
    throw new Error(`MODELPORT_BACKEND='${value}' is not one of ${BACKENDS.join(', ')}`);
  }
  return value as BackendName;
}

async function chooseBackend(forced: BackendName | undefined, warn: (message: string) => void): Promise<Runtime> {
  if (forced) {
    try {
      return await loaders[forced]();
    } catch (error) {
      const hint = forced === 'tensorflow' ? ` To build native TensorFlow: ${NATIVE_FIX_COMMAND}` : '';
      throw new Error(`backend '${forced}' was forced but could not load: ${firstLine(error)}.${hint}`);
    }
  }
  let nativeFailure: unknown;
  try {
    return await loaders.tensorflow();
  } catch (error) {
    nativeFailure = error;
  }
  try {
    const runtime = await loaders.wasm();
    warn(`[modelport] native TensorFlow is not available (${firstLine(nativeFailure)}); running on wasm, slower and without conv training kernels. To get native: ${NATIVE_FIX_COMMAND}`);
    return runtime;
  } catch (wasmFailure) {
    warn(`[modelport] neither native TensorFlow (${firstLine(nativeFailure)}) nor wasm (${firstLine(wasmFailure)}) could load; running on the pure-JS cpu backend, which is very slow. To get native: ${NATIVE_FIX_COMMAND}`);
    return loaders.cpu();
  }
}

const loaders: Record<BackendName, () => Promise<Runtime>> = {
  async tensorflow() {
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
    const tfnode = require('@tensorflow/tfjs-node') as TFNode;
    await tfnode.setBackend('tensorflow');
    const binding = (tfnode.backend() as unknown as { binding?: { TF_Version?: string } }).binding;
    return {
      tf: tfnode as unknown as TF,
      backend: 'tensorflow',
      tensorflowVersion: binding?.TF_Version,
      tfjsVersion: tfnode.version.tfjs ?? tfnode.version['tfjs-core'],
      node: tfnode.node,
    };
  },
  async wasm() {
    const tf = require('@tensorflow/tfjs') as TF;
    require('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
    return { tf, backend: 'wasm', tfjsVersion: tf.version.tfjs };
  },
  async cpu() {
    const tf = require('@tensorflow/tfjs') as TF;
    if (!(await tf.setBackend('cpu'))) throw new Error('tf.setBackend("cpu") returned false');
    return { tf, backend: 'cpu', tfjsVersion: tf.version.tfjs };
  },
};

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
