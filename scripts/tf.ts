// The TensorFlow.js that the offline model scripts (train.ts, evaluate.ts, verify.ts) run on: the
// server's own runtime, forced to native TensorFlow, so the bundled models are trained and checked
// exactly where they are served.
import { loadRuntime, type TF } from '../mock-server/runtime/backend';
import { PACKAGE_ROOT } from '../mock-server/server/package-paths';
import { nativeEntry } from '../mock-server/runtime/native/prepare.mjs';

const runtime = await loadRuntime({ backend: 'tensorflow' });

export const tf: TF = runtime.tf;
/** The TensorFlow C library behind it (2.21.0, see DESIGN.md §6). */
export const tensorflowVersion = runtime.tensorflowVersion ?? 'unknown';
/** The vendored tfjs-node whose kernels and binding run it. */
export const tfjsNodeVersion = nativeEntry(PACKAGE_ROOT).manifest?.['tfjs-node'] ?? 'unknown';
